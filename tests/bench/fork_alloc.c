/*
 * fork_alloc: what a forked child's allocations cost after it dropped
 * some of its parent's blocks (docs/allocator.md, "A forked child's
 * allocations", session 28): a prefork worker that frees inherited
 * caches, then allocates much and frees little.
 *
 *   cc -O2 -g -o /tmp/fork_alloc tests/bench/fork_alloc.c
 *   LD_PRELOAD=LIB valgrind --tool=callgrind --trace-children=yes \
 *       --toggle-collect=phase /tmp/fork_alloc [DROP [ALLOCS]]
 *
 * The parent allocates and writes 40000 blocks of 16..255 B and forks one
 * child, which frees the first DROP of them (default 20000; 0: none),
 * then in phase() allocates ALLOCS blocks (default 200000) of 16..255 B,
 * writes 16 bytes of each and frees every other one. phase()'s
 * instructions (callgrind's total with --toggle-collect=phase, the
 * child's file) are the allocator's cost of the child's work; its time
 * per allocation is printed on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INH 40000

static void *inh[INH];

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

__attribute__((noinline)) void phase(long allocs, unsigned s, void **keep);
__attribute__((noinline)) void phase(long allocs, unsigned s, void **keep)
{
	for (long i = 0; i < allocs; i++) {
		s = s * 1103515245 + 12345;
		size_t sz = 16 + (s >> 16) % 240;
		void *p = malloc(sz);
		memset(p, 2, 16);
		if (i % 2)
			free(p);
		else
			keep[i] = p;
	}
}

int main(int argc, char **argv)
{
	int drop = argc > 1 ? atoi(argv[1]) : 20000;
	long allocs = argc > 2 ? atol(argv[2]) : 200000;
	if (drop < 0 || drop > INH || allocs < 1) {
		fprintf(stderr, "usage: fork_alloc [DROP (0..%d) [ALLOCS]]\n", INH);
		return 2;
	}
	unsigned s = 1;
	for (int i = 0; i < INH; i++) {
		s = s * 1103515245 + 12345;
		size_t sz = 16 + (s >> 16) % 240;
		inh[i] = malloc(sz);
		memset(inh[i], 1, sz);
	}
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < drop; i++)
			free(inh[i]);
		void **keep = malloc(sizeof(void *) * (size_t)allocs);
		double t0 = now();
		phase(allocs, s, keep);
		fprintf(stderr, "child: %.1f ns an allocation\n", (now() - t0) * 1e9 / (double)allocs);
		_exit(0);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 1;
	return 0;
}
