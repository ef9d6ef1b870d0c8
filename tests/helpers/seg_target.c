/*
 * seg_target: a process that does what reads its own segment back, while
 * another rewrites it (tests/preload/seg_rewrite.test.sh, helper
 * seg_rewrite): in each round it allocates and checks blocks of many
 * sizes, runs threads that do the same (new thread rows), loads and
 * unloads a library (the module table; with sampling on, JMALLOC_CONF
 * prof_sample, its sites and their table), and forks, with fork() and
 * with the system call (a child publishes its own segment from a copy of
 * its parent's), each child doing the same and a thread of its own.
 *
 *   seg_target GO LIB ROUNDS   prints "ready PID VICTIM", waits for the
 *                              file GO, then prints what it did; exits 0
 *                              if every check held
 *
 * VICTIM is the address of a static buffer of its own that no malloc may
 * return: seg_rewrite sets the thread caches' rows' list heads there (a
 * writer of the segment that the allocator trusted chose what malloc
 * returned: that buffer, which the program then wrote).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned char victim[1 << 16] __attribute__((aligned(4096)));

static int in_victim(const void *p)
{
	return (const unsigned char *)p >= victim && (const unsigned char *)p < victim + sizeof(victim);
}

static int work(unsigned seed)
{
	enum { N = 300 };
	static __thread unsigned char *blocks[N];
	int bad = 0;
	for (int i = 0; i < N; i++) {
		size_t size = 1 + (size_t)((seed * 2654435761u + (unsigned)i * 40503u) % (i % 10 == 0 ? 70000 : 2000));
		blocks[i] = malloc(size);
		if (blocks[i] == NULL)
			return 1;
		if (in_victim(blocks[i])) {
			fprintf(stderr, "malloc(%zu) returned %p, in the buffer at %p\n", size,
			    (void *)blocks[i], (void *)victim);
			return 1000;
		}
		memset(blocks[i], (int)(i & 0xff), size < 64 ? size : 64);
		blocks[i][size - 1] = (unsigned char)i;
	}
	for (int i = 0; i < N; i++) {
		size_t size = 1 + (size_t)((seed * 2654435761u + (unsigned)i * 40503u) % (i % 10 == 0 ? 70000 : 2000));
		if (blocks[i][0] != (unsigned char)(size == 1 ? i : i & 0xff) || blocks[i][size - 1] != (unsigned char)i)
			bad++;
		free(blocks[i]);
	}
	return bad;
}

static void *thread_main(void *arg)
{
	return (void *)(intptr_t)work((unsigned)(uintptr_t)arg);
}

static int threads(unsigned seed, int n)
{
	pthread_t t[8];
	int bad = 0;
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, thread_main, (void *)(uintptr_t)(seed + (unsigned)i)) != 0)
			return 1;
	for (int i = 0; i < n; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (int)(intptr_t)r;
	}
	return bad;
}

static int child(unsigned seed)
{
	int bad = work(seed) + threads(seed, 2) + work(seed + 1);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: seg_target GO LIB ROUNDS\n");
		return 2;
	}
	int rounds = atoi(argv[3]);
	int bad = work(1);
	printf("ready %d %p\n", (int)getpid(), (void *)victim);
	fflush(stdout);
	while (access(argv[1], F_OK) != 0)
		usleep(10000);
	int nthreads = 0, nforks = 0, nloads = 0;
	for (int r = 0; r < rounds; r++) {
		bad += work((unsigned)r);
		bad += threads((unsigned)r * 8, 4);
		nthreads += 4;
		void *lib = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
		int (*f)(int) = lib ? (int (*)(int))dlsym(lib, "seg_target_lib") : NULL;
		if (f == NULL || f(r) != r * 3 + 1) {
			fprintf(stderr, "round %d: %s\n", r, lib ? "wrong answer" : dlerror());
			bad++;
		}
		bad += work((unsigned)r + 1000);   /* sampled in the library's presence */
		if (lib)
			dlclose(lib);
		nloads++;
		fflush(stdout);
		pid_t c = r % 2 ? (pid_t)syscall(SYS_fork) : fork();
		if (c == 0)
			_exit(child((unsigned)r));
		int status = 0;
		if (c < 0 || waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "round %d: child %d status %#x\n", r, (int)c, status);
			bad++;
		}
		nforks++;
	}
	printf("done rounds=%d threads=%d loads=%d forks=%d bad=%d\n", rounds, nthreads, nloads, nforks, bad);
	return bad ? 1 : 0;
}
