/*
 * stress_forkfree: a forked child's threads free the parent's small
 * blocks by the thousand (run under LD_PRELOAD=libjmalloc.so by
 * tests/preload/fork_free_stress.test.sh), the way that gathers such
 * frees in per-thread buffers (liballoc/tcache.c, "inherited frees,
 * batched"): the forking thread's cache set aside, threads made in the
 * child whose caches are set aside in their turn, buffers pending when a
 * thread exits, a grandchild forked while the child's other threads hold
 * buffers, threads made in the grandchild.
 *
 * The parent's threads each allocate a share of the blocks (small sizes,
 * every block filled with a tag of its own), then keep allocating and
 * freeing others while the main thread forks. Each child frees every
 * block the parent made (each checked before its free), split between its
 * main thread and threads it makes (some of them exit with a batch
 * pending, others are made after), while each thread allocates, fills,
 * checks and frees blocks of its own: a region handed out twice, or one
 * freed to its run while a buffer holds it, shows as a block whose tag
 * changed under its owner, or as the allocator's double-free report
 * (SIGABRT). Every few children fork a grandchild halfway, which frees
 * the main thread's blocks not freed yet, with threads of its own. A
 * child or grandchild that does not exit 0 fails the run.
 *
 * Usage: stress_forkfree [-f FORKS] [-t PARENT_THREADS] [-n BLOCKS] [-p PARALLEL]
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FORKRUN_PROG "stress_forkfree"
#include "forkrun.h"
#include "xorshift.h"

#define MAX_THREADS 16
#define MAX_BLOCKS 200000
#define OWN 64          /* a thread's own live blocks */
#define CHILD_THREADS 4 /* threads a child makes for the parent's blocks */

struct blk {
	unsigned char *p;
	uint32_t size;
	uint32_t tag;
};

static struct blk blocks[MAX_BLOCKS];
static int nblocks = 24000, nparent = 3;
static atomic_int stop;
static pthread_barrier_t made;

static void fill(struct blk *b)
{
	uint32_t t = b->tag;
	size_t i = 0;
	for (; i + 4 <= b->size; i += 4)
		memcpy(b->p + i, &t, 4);
	for (; i < b->size; i++)
		b->p[i] = (unsigned char)t;
}

static void check(const struct blk *b)
{
	uint32_t t = b->tag;
	size_t i = 0;
	for (; i + 4 <= b->size; i += 4) {
		uint32_t v;
		memcpy(&v, b->p + i, 4);
		if (v != t)
			die("block changed under its owner: byte, size", i, b->size);
	}
	for (; i < b->size; i++)
		if (b->p[i] != (unsigned char)t)
			die("block changed under its owner: byte, size", i, b->size);
}

static void make(struct blk *b, uint64_t *rng, uint32_t tag)
{
	b->size = (uint32_t)(8 + rnd(rng) % 1016);
	if (rnd(rng) % 16 == 0)
		b->size = (uint32_t)(1024 + rnd(rng) % 7000);
	b->tag = tag;
	b->p = rnd(rng) % 8 == 0 ? calloc(1, b->size) : malloc(b->size);
	if (b->p == NULL)
		die("allocation failed, size", b->size, 0);
	fill(b);
}

static void drop(struct blk *b)
{
	if (b->p == NULL)
		return;
	check(b);
	free(b->p);
	b->p = NULL;
}

/* A thread's own blocks: one made and one dropped every `every` calls. */
struct own {
	struct blk b[OWN];
	uint64_t rng;
	uint32_t tag;
	unsigned calls;
};

static void own_step(struct own *o)
{
	struct blk *b = &o->b[rnd(&o->rng) % OWN];
	drop(b);
	make(b, &o->rng, ++o->tag);
}

static void own_end(struct own *o)
{
	for (int i = 0; i < OWN; i++)
		drop(&o->b[i]);
}

static void own_init(struct own *o, uint64_t seed)
{
	memset(o, 0, sizeof(*o));
	o->rng = seed * 0x9E3779B97F4A7C15ull | 1;
	o->tag = (uint32_t)(seed << 20);
}

/* The parent's threads: their share of the blocks, then churn. */
static void *parent_thread(void *arg)
{
	int k = (int)(uintptr_t)arg;
	uint64_t rng = (uint64_t)(k + 1) * 7919 | 1;
	for (int i = k; i < nblocks; i += nparent + 1)
		make(&blocks[i], &rng, (uint32_t)i * 2654435761u);
	pthread_barrier_wait(&made);
	struct own o;
	own_init(&o, (uint64_t)k + 100);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		own_step(&o);
		if (++o.calls % 256 == 0)
			nanosleep(&(struct timespec){ .tv_nsec = 50000 }, NULL);
	}
	own_end(&o);
	return NULL;
}

/* A thread's work in a child: the blocks of its list, each checked and
 * freed, its own made and dropped between. */
struct job {
	const int *l;
	int n;
	uint64_t seed;
};

static void do_job(const struct job *j)
{
	struct own o;
	own_init(&o, j->seed);
	for (int i = 0; i < j->n; i++) {
		drop(&blocks[j->l[i]]);
		if (i % 4 == 3)
			own_step(&o);
	}
	own_end(&o);
}

static void *job_thread(void *arg)
{
	do_job(arg);
	return NULL;
}

static void start_jobs(pthread_t *t, struct job *j, int n)
{
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, job_thread, &j[i]) != 0)
			die("pthread_create failed", (size_t)i, 0);
}

static void join_jobs(pthread_t *t, int n)
{
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

static int lists[2][CHILD_THREADS][MAX_BLOCKS / 2];
static int mainlist[MAX_BLOCKS], gclist[3][MAX_BLOCKS];

/* The grandchild: the main thread's blocks not freed yet (those the
 * child's other threads held in their buffers were freed before the
 * fork), by itself and two threads of its own. */
static void grandchild(const int *l, int n, uint64_t seed)
{
	struct job j[3];
	for (int k = 0; k < 3; k++)
		j[k] = (struct job){ gclist[k], 0, seed + (uint64_t)k };
	for (int i = 0; i < n; i++)
		gclist[i % 3][j[i % 3].n++] = l[i];
	pthread_t t[2];
	start_jobs(t, &j[1], 2);
	do_job(&j[0]);
	join_jobs(t, 2);
	struct own o;
	own_init(&o, seed + 9);
	for (int i = 0; i < 5000; i++)
		own_step(&o);
	own_end(&o);
	malloc_trim(0);
	exit(0);
}

static void child_main(int index, void *arg)
{
	(void)arg;
	alarm(120);
	int stride = nparent + 1, nmain = 0;
	int nl[2][CHILD_THREADS];
	memset(nl, 0, sizeof(nl));
	/* Block i: the main thread's when it is the forking thread's
	 * (i % stride == nparent) or its row's i / stride % 3 is 0; else a
	 * thread's of wave row % 3 - 1. */
	for (int i = 0; i < nblocks; i++) {
		int k = i % stride, row = i / stride;
		if (k == nparent || row % 3 == 0) {
			mainlist[nmain++] = i;
		} else {
			int w = row % 3 - 1, th = (k + row) % CHILD_THREADS;
			lists[w][th][nl[w][th]++] = i;
		}
	}
	struct job j[2][CHILD_THREADS];
	for (int w = 0; w < 2; w++)
		for (int i = 0; i < CHILD_THREADS; i++)
			j[w][i] = (struct job){ lists[w][i], nl[w][i],
			                        (uint64_t)index * 131 + (uint64_t)(w * 16 + i) };
	pthread_t t[2][CHILD_THREADS];
	/* Wave 1 frees while the main thread does (and may fork). */
	start_jobs(t[0], j[0], CHILD_THREADS);
	int half = nmain / 2;
	struct job m1 = { mainlist, half, (uint64_t)index * 7 + 1 };
	do_job(&m1);
	if (index % 3 == 0) {
		pid_t g = fork();
		if (g < 0)
			die("fork in child failed", (size_t)errno, 0);
		if (g == 0)
			grandchild(mainlist + half, nmain - half, (uint64_t)index * 11 + 3);
		int st;
		if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("grandchild failed, status", (size_t)st, 0);
	}
	struct job m2 = { mainlist + half, nmain - half, (uint64_t)index * 7 + 2 };
	do_job(&m2);
	join_jobs(t[0], CHILD_THREADS);
	/* Wave 2: threads made after the first ones exited. */
	start_jobs(t[1], j[1], CHILD_THREADS);
	struct own o;
	own_init(&o, (uint64_t)index * 7 + 5);
	for (int i = 0; i < 3000; i++)
		own_step(&o);
	join_jobs(t[1], CHILD_THREADS);
	own_end(&o);
	malloc_trim(0);
	exit(0);
}

int main(int argc, char **argv)
{
	int nforks = 30, parallel = 2, c;
	while ((c = getopt(argc, argv, "f:t:n:p:")) != -1) {
		switch (c) {
		case 'f': nforks = atoi(optarg); break;
		case 't': nparent = atoi(optarg); break;
		case 'n': nblocks = atoi(optarg); break;
		case 'p': parallel = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: stress_forkfree [-f FORKS] [-t THREADS] [-n BLOCKS] [-p PARALLEL]\n");
			return 2;
		}
	}
	if (nforks < 1 || nparent < 1 || nparent > MAX_THREADS || nblocks < 100 ||
	    nblocks > MAX_BLOCKS || parallel < 1 || parallel > 64) {
		fprintf(stderr, "stress_forkfree: bad arguments\n");
		return 2;
	}
	printf("stress_forkfree: allocator %s\n", dlsym(RTLD_DEFAULT, "jm_malloc") ? "jmalloc" : "other");
	fflush(stdout);
	pthread_barrier_init(&made, NULL, (unsigned)nparent + 1);
	pthread_t threads[MAX_THREADS];
	for (int i = 0; i < nparent; i++)
		if (pthread_create(&threads[i], NULL, parent_thread, (void *)(uintptr_t)i) != 0) {
			perror("stress_forkfree: pthread_create");
			return 1;
		}
	uint64_t rng = 987654321;
	for (int i = nparent; i < nblocks; i += nparent + 1)
		make(&blocks[i], &rng, (uint32_t)i * 2654435761u);
	pthread_barrier_wait(&made);
	int failed = forkrun(nforks, parallel, child_main, NULL, NULL) != 0;
	atomic_store(&stop, 1);
	for (int i = 0; i < nparent; i++)
		pthread_join(threads[i], NULL);
	for (int i = 0; i < nblocks; i++)
		drop(&blocks[i]);
	if (failed) {
		fprintf(stderr, "stress_forkfree: FAILED\n");
		return 1;
	}
	printf("stress_forkfree: %d forks (%d with a grandchild), %d blocks each freed by the child's threads\n",
	       nforks, (nforks + 2) / 3, nblocks);
	printf("stress_forkfree: OK\n");
	return 0;
}
