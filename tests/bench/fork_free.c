/*
 * fork_free: what a forked child's frees of its parent's blocks cost in
 * page faults (docs/programs.md, "Programs and servers, session 25"; in
 * make bench as fork-free, `fork-free THREADS 0 SCALE`, since session 26).
 *
 *   cc -O2 -pthread -o /tmp/fork_free tests/bench/fork_free.c
 *   LD_PRELOAD=LIB /tmp/fork_free [THREADS [MIX [SCALE]]]
 *
 * THREADS threads (default 8; 0: the main thread alone, the same work)
 * each allocate 80000 blocks (times SCALE, default 1, at most 1; make
 * check's smoke run gives 0.01) of 24..223 B and write them whole; they are
 * joined, and 4 children are forked one after the other. Each child frees
 * every other block of the parent's (320000 frees), with MIX 1 also
 * allocating and writing a block of 40..139 B after each free (a garbage
 * collector's sweep beside a mutator), then allocates 50000 more (times
 * SCALE), and prints the minor faults of its free phase and of its last
 * allocations on stderr (stdout, which make bench compares across
 * allocators, says only what each child did).
 * A page the fork shares is copied at the child's first write to it: an
 * allocator whose free writes into the freed block (a link, a header)
 * copies every page that holds a freed block.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXT 8
#define N 80000

static void *blk[MAXT][N];
static int n = N;          /* blocks a thread, N x SCALE */

static void *fill(void *arg)
{
	long t = (long)arg;
	unsigned s = (unsigned)t * 7 + 1;
	for (int i = 0; i < n; i++) {
		s = s * 1103515245 + 12345;
		size_t sz = 24 + (s >> 16) % 200;
		blk[t][i] = malloc(sz);
		memset(blk[t][i], 1, sz);
	}
	return NULL;
}

static long faults(void)
{
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	return r.ru_minflt;
}

static void child(int mix)
{
	static void *fresh[MAXT * N / 2];
	size_t k = 0;
	long f0 = faults();
	for (int t = 0; t < MAXT; t++)
		for (int i = 0; i < n; i += 2) {
			free(blk[t][i]);
			if (mix) {
				fresh[k] = malloc(40 + k % 100);
				memset(fresh[k], 3, 40);
				k++;
			}
		}
	long f1 = faults();
	int after = (int)(50000LL * n / N);
	for (int i = 0; i < after; i++) {
		void *p = malloc(40 + i % 100);
		memset(p, 2, 40);
	}
	long f2 = faults();
	fprintf(stderr, "child: free phase %ld faults, allocations after %ld\n", f1 - f0, f2 - f1);
	printf("child: freed %d of its parent's blocks, allocated %d\n", MAXT * ((n + 1) / 2), after);
	fflush(stdout);
	_exit(0);
}

int main(int argc, char **argv)
{
	int nthreads = argc > 1 ? atoi(argv[1]) : MAXT;
	int mix = argc > 2 ? atoi(argv[2]) : 0;
	double scale = argc > 3 ? atof(argv[3]) : 1;
	if (nthreads < 0 || nthreads > MAXT || !(scale > 0)) {
		fprintf(stderr, "usage: fork_free [THREADS (0..%d) [MIX [SCALE]]]\n", MAXT);
		return 2;
	}
	n = scale < 1 ? (int)(N * scale) : N;   /* N at most: the arrays' size */
	if (n < 2)
		n = 2;
	if (nthreads > 0) {
		pthread_t th[MAXT];
		for (long t = 0; t < nthreads; t++)
			pthread_create(&th[t], NULL, fill, (void *)t);
		for (int t = 0; t < nthreads; t++)
			pthread_join(th[t], NULL);
		/* Fewer threads than MAXT: the rest filled by the main thread. */
		for (long t = nthreads; t < MAXT; t++)
			fill((void *)t);
	} else {
		for (long t = 0; t < MAXT; t++)
			fill((void *)t);
	}
	for (int c = 0; c < 4; c++) {
		pid_t p = fork();
		if (p < 0) {
			perror("fork");
			return 1;
		}
		if (p == 0)
			child(mix);
		int st;
		if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return 1;
	}
	return 0;
}
