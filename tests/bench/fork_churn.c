/*
 * fork-churn: a program that forks many short children, as shells, make,
 * prefork servers and programs that spawn helpers do. Each thread keeps
 * 512 objects of 16..4096 bytes (about 1 MiB; with 8 MiB the kernel's copy
 * of the heap was the cost, the same under every allocator) and replaces
 * 2 of them between forks; each child checks one of its parent's objects,
 * allocates and frees a few of its own and exits with _exit, its parent
 * waiting for it. What it measures is the allocator's share of a fork: its
 * fork handlers (locks taken before, released or re-initialised after, in
 * the parent and the child), the pages they write (each one copied, in the
 * parent and in the child, since the fork shared it), and the child's
 * first allocations. jmtime counts the children's page faults with the
 * parent's. Found with stress-ng --fork and a program forking 3000
 * children: 2.5 x glibc's page faults, 1.2-1.5 x its CPU time. Each
 * thread forks 4000 x SCALE / THREADS times.
 */
#include "bench_main.h"

#include <sys/wait.h>

#define OBJECTS 512

struct worker {
	long forks;
	uint64_t rng;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned char **obj = xmalloc(OBJECTS * sizeof *obj);
	size_t *size = xmalloc(OBJECTS * sizeof *size);
	for (int i = 0; i < OBJECTS; i++) {
		size[i] = rng_range(&w->rng, 16, 4096);
		obj[i] = xmalloc(size[i]);
		memset(obj[i], 0, size[i]);
		tag_fill(obj[i], size[i], (uint64_t)i * 2654435761u + size[i]);
	}
	for (long f = 0; f < w->forks; f++) {
		for (int k = 0; k < 2; k++) {
			int i = (int)(rng_next(&w->rng) % OBJECTS);
			tag_check(obj[i], size[i], (uint64_t)i * 2654435761u + size[i]);
			free(obj[i]);
			size[i] = rng_range(&w->rng, 16, 4096);
			obj[i] = xmalloc(size[i]);
			tag_fill(obj[i], size[i], (uint64_t)i * 2654435761u + size[i]);
		}
		int probe = (int)(rng_next(&w->rng) % OBJECTS);
		pid_t pid = fork();
		BENCH_CHECK(pid >= 0, "fork failed");
		if (pid == 0) {
			tag_check(obj[probe], size[probe], (uint64_t)probe * 2654435761u + size[probe]);
			void *mine[16];
			for (int k = 0; k < 16; k++) {
				mine[k] = xmalloc(32 + (size_t)k * 96);
				memset(mine[k], k, 32 + (size_t)k * 96);
			}
			for (int k = 0; k < 16; k++)
				free(mine[k]);
			_exit(0);
		}
		int status;
		BENCH_CHECK(waitpid(pid, &status, 0) == pid, "waitpid failed");
		BENCH_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			    "child %ld ended with status %#x", f, status);
	}
	for (int i = 0; i < OBJECTS; i++) {
		tag_check(obj[i], size[i], (uint64_t)i * 2654435761u + size[i]);
		free(obj[i]);
	}
	free(obj);
	free(size);
	return NULL;
}

static int bench_main(int threads, double scale)
{
	struct worker *w = xmalloc(sizeof *w * (size_t)threads);
	for (int t = 0; t < threads; t++) {
		w[t].forks = scaled(4000, scale, 4) / threads;
		w[t].rng = rng_seed((uint64_t)t + 60);
	}
	run_threads(threads, work, w, sizeof *w);
	free(w);
	printf("fork-churn: ok, %d threads\n", threads);
	return 0;
}
