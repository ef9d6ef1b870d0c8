/*
 * fork-exec: the commonest fork, one whose child allocates nothing and
 * execs or _exits at once (shells, make, servers spawning helpers). THREADS
 * threads each keep 256 objects of 16..4096 bytes (some 0.5 MiB a thread,
 * an arena and a thread cache each) and stay alive, idle, while the main
 * thread forks 1500 x SCALE children that call _exit(0) at once, waiting
 * for each, and replaces one of its own 256 objects between forks. No
 * child allocates: what it measures is what the allocator adds to a bare
 * fork, its fork handlers in parent and child (the locks taken and
 * released, the pages they write, copied in the parent or the child
 * since the fork shared them), what its mappings add to the kernel's copy
 * of the process, and the child's _exit. jmtime counts the children's
 * page faults with the parent's. A bare program keeping 256 objects and
 * forking 2000 such children took 1.3 x glibc's CPU under jmalloc
 * (docs/measurements.md, "fork-exec").
 */
#include "bench_main.h"

#include <pthread.h>
#include <sys/wait.h>

#define OBJECTS 256

static pthread_barrier_t built, done;

struct heap {
	unsigned char *obj[OBJECTS];
	size_t size[OBJECTS];
	uint64_t rng;
};

static void heap_make(struct heap *h)
{
	for (int i = 0; i < OBJECTS; i++) {
		h->size[i] = rng_range(&h->rng, 16, 4096);
		h->obj[i] = xmalloc(h->size[i]);
		tag_fill(h->obj[i], h->size[i], (uint64_t)i * 2654435761u + h->size[i]);
	}
}

static void heap_free(struct heap *h)
{
	for (int i = 0; i < OBJECTS; i++) {
		tag_check(h->obj[i], h->size[i], (uint64_t)i * 2654435761u + h->size[i]);
		free(h->obj[i]);
	}
}

static void *idle_worker(void *arg)
{
	struct heap *h = arg;
	heap_make(h);
	pthread_barrier_wait(&built);
	pthread_barrier_wait(&done);    /* alive, idle, through the forks */
	heap_free(h);
	return NULL;
}

static int bench_main(int threads, double scale)
{
	int workers = threads > 1 ? threads - 1 : 0;
	struct heap *h = xmalloc(sizeof *h * (size_t)(workers + 1));
	pthread_t *tid = xmalloc(sizeof *tid * (size_t)(workers + 1));
	BENCH_CHECK(pthread_barrier_init(&built, NULL, (unsigned)workers + 1) == 0 &&
		    pthread_barrier_init(&done, NULL, (unsigned)workers + 1) == 0, "barrier");
	for (int t = 0; t <= workers; t++)
		h[t].rng = rng_seed((uint64_t)t + 90);
	for (int t = 1; t <= workers; t++)
		BENCH_CHECK(pthread_create(&tid[t], NULL, idle_worker, &h[t]) == 0, "pthread_create");
	heap_make(&h[0]);
	pthread_barrier_wait(&built);

	long forks = scaled(1500, scale, 4);
	for (long f = 0; f < forks; f++) {
		pid_t pid = fork();
		BENCH_CHECK(pid >= 0, "fork failed");
		if (pid == 0)
			_exit(0);
		int status;
		BENCH_CHECK(waitpid(pid, &status, 0) == pid, "waitpid failed");
		BENCH_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			    "child %ld ended with status %#x", f, status);
		int i = (int)(f % OBJECTS);
		struct heap *m = &h[0];
		tag_check(m->obj[i], m->size[i], (uint64_t)i * 2654435761u + m->size[i]);
		free(m->obj[i]);
		m->size[i] = rng_range(&m->rng, 16, 4096);
		m->obj[i] = xmalloc(m->size[i]);
		tag_fill(m->obj[i], m->size[i], (uint64_t)i * 2654435761u + m->size[i]);
	}

	pthread_barrier_wait(&done);
	for (int t = 1; t <= workers; t++)
		pthread_join(tid[t], NULL);
	heap_free(&h[0]);
	free(h);
	free(tid);
	printf("fork-exec: ok, %d threads\n", threads);
	return 0;
}
