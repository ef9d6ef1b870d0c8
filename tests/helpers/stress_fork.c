/*
 * stress_fork: fork from a multi-threaded process while other threads
 * allocate (run under LD_PRELOAD=libjmalloc.so by tests/preload/fork.test.sh).
 *
 * Threads (three by default) allocate, fill, check and free continuously (small, large
 * and sometimes huge blocks, through malloc, calloc, realloc and
 * posix_memalign) while the main thread forks repeatedly. Each child checks
 * and frees blocks that the parent's main thread made before the fork,
 * allocates and frees a range of sizes, creates a thread that does the
 * same, sometimes forks a grandchild that does it too, and exits 0 (through
 * exit(), so the allocator's exit path runs too). A child that deadlocks is
 * killed by its alarm. The parent checks every child's status and fails on
 * the first that did not exit 0.
 *
 * Usage: stress_fork [-f FORKS] [-t THREADS] [-p PARALLEL]
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
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

#define FORKRUN_PROG "stress_fork"
#include "forkrun.h"
#include "xorshift.h"

#define MAX_THREADS 32
#define RING 128
#define PARENT_OBJS 256

struct obj {
	unsigned char *ptr;
	size_t size;
	unsigned char tag;
};

static atomic_int stop;
static atomic_long thread_ops;

static void fill(struct obj *o)
{
	memset(o->ptr, o->tag, o->size);
	if (o->size >= 8)
		memcpy(o->ptr, &o->size, sizeof(o->size));
}

static void check(const struct obj *o)
{
	size_t start = 0;
	if (o->size >= 8) {
		size_t s;
		memcpy(&s, o->ptr, sizeof(s));
		if (s != o->size)
			die("size stamp corrupted", s, o->size);
		start = 8;
	}
	uint64_t word;
	memset(&word, o->tag, sizeof(word));
	size_t i = start;
	for (; i + 8 <= o->size; i += 8) {
		uint64_t v;
		memcpy(&v, o->ptr + i, 8);
		if (v != word)
			break;
	}
	for (; i < o->size; i++)
		if (o->ptr[i] != o->tag)
			die("block corrupted at byte, size", i, o->size);
}

static size_t pick_size(uint64_t *rng)
{
	return pick_size4(rng, 1024, 30000, 1 << 20, 2 << 20);
}

static void alloc_obj(struct obj *o, uint64_t *rng)
{
	o->size = pick_size(rng);
	o->tag = (unsigned char)(rnd(rng) | 1);
	unsigned how = (unsigned)(rnd(rng) % 10);
	if (how < 6) {
		o->ptr = malloc(o->size);
	} else if (how < 8) {
		o->ptr = calloc(1, o->size);
		if (o->ptr)
			for (size_t i = 0; i < o->size; i++)
				if (o->ptr[i])
					die("calloc block not zeroed, size", i, o->size);
	} else {
		void *p = NULL;
		if (posix_memalign(&p, (size_t)64 << (rnd(rng) % 6), o->size) != 0)
			p = NULL;
		o->ptr = p;
	}
	if (!o->ptr)
		die("allocation failed, size", o->size, 0);
	fill(o);
}

static void free_obj(struct obj *o)
{
	if (!o->ptr)
		return;
	check(o);
	free(o->ptr);
	o->ptr = NULL;
}

static void *alloc_loop(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 12345;
	struct obj ring[RING];
	memset(ring, 0, sizeof(ring));
	long ops = 0;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct obj *o = &ring[rnd(&rng) % RING];
		if (o->ptr && rnd(&rng) % 4 == 0) {
			check(o);
			size_t size = pick_size(&rng);
			unsigned char *q = realloc(o->ptr, size ? size : 1);
			if (!q)
				die("realloc failed, size", size, 0);
			o->ptr = q;
			o->size = size ? size : 1;
			fill(o);
		} else {
			free_obj(o);
			alloc_obj(o, &rng);
		}
		/* Leave some of the CPU to the children. */
		if (++ops % 64 == 0)
			nanosleep(&(struct timespec){ .tv_nsec = 20000 }, NULL);
	}
	for (int i = 0; i < RING; i++)
		free_obj(&ring[i]);
	atomic_fetch_add(&thread_ops, ops);
	return NULL;
}

/* What every child (and its thread, and grandchild) does: a range of sizes
 * through every entry point, each block checked. */
static void exercise(uint64_t seed)
{
	uint64_t rng = seed | 1;
	struct obj objs[64];
	int n = 0;
	for (size_t size = 1; size < (3 << 20); size = size * 2 + (size_t)(rnd(&rng) % 64)) {
		struct obj *o = &objs[n++];
		alloc_obj(o, &rng);
		free_obj(o);
		o->size = size;
		o->tag = (unsigned char)(size | 1);
		o->ptr = malloc(size);
		if (!o->ptr)
			die("malloc failed in child, size", size, 0);
		fill(o);
	}
	for (int i = 0; i < n; i++) {
		check(&objs[i]);
		unsigned char *q = realloc(objs[i].ptr, objs[i].size / 2 + 1);
		if (!q)
			die("realloc failed in child, size", objs[i].size, 0);
		objs[i].ptr = q;
		objs[i].size = objs[i].size / 2 + 1;
		fill(&objs[i]);
	}
	for (int i = n - 1; i >= 0; i--)
		free_obj(&objs[i]);
	for (int i = 0; i < 50; i++) {
		struct obj o;
		alloc_obj(&o, &rng);
		free_obj(&o);
	}
}

static void *child_thread(void *arg)
{
	exercise((uint64_t)(uintptr_t)arg);
	return NULL;
}

static void child_main(int index, void *arg)
{
	struct obj *parent_objs = arg;
	alarm(30);
	/* The parent's main thread made these before the fork. */
	for (int i = 0; i < PARENT_OBJS; i += 2)
		free_obj(&parent_objs[i]);
	exercise((uint64_t)index * 77 + 5);
	pthread_t t;
	if (pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)(index + 1000)) != 0)
		die("pthread_create failed in child", (size_t)index, 0);
	pthread_join(t, NULL);
	if (index % 10 == 0) {
		pid_t g = fork();
		if (g < 0)
			die("fork in child failed", (size_t)errno, 0);
		if (g == 0) {
			exercise((uint64_t)index + 99);
			exit(0);
		}
		int st;
		if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("grandchild failed, status", (size_t)st, 0);
	}
	for (int i = 1; i < PARENT_OBJS; i += 2)
		free_obj(&parent_objs[i]);
	exit(0);
}

/* The parent changes its blocks between forks. */
static uint64_t parent_rng = 987654321;
static void change_objs(void *arg)
{
	struct obj *parent_objs = arg;
	for (int k = 0; k < 8; k++) {
		struct obj *o = &parent_objs[rnd(&parent_rng) % PARENT_OBJS];
		free_obj(o);
		alloc_obj(o, &parent_rng);
	}
}

int main(int argc, char **argv)
{
	int nforks = 200, nthreads = 3, parallel = 2, c;
	while ((c = getopt(argc, argv, "f:t:p:")) != -1) {
		switch (c) {
		case 'f': nforks = atoi(optarg); break;
		case 't': nthreads = atoi(optarg); break;
		case 'p': parallel = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: stress_fork [-f FORKS] [-t THREADS] [-p PARALLEL]\n");
			return 2;
		}
	}
	if (nforks < 1 || nthreads < 1 || nthreads > MAX_THREADS || parallel < 1 || parallel > 64) {
		fprintf(stderr, "stress_fork: bad arguments\n");
		return 2;
	}
	printf("stress_fork: allocator %s\n", dlsym(RTLD_DEFAULT, "jm_malloc") ? "jmalloc" : "other");
	fflush(stdout);

	pthread_t threads[MAX_THREADS];
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&threads[i], NULL, alloc_loop, (void *)(uintptr_t)(i + 1)) != 0) {
			perror("stress_fork: pthread_create");
			return 1;
		}

	static struct obj parent_objs[PARENT_OBJS];
	for (int i = 0; i < PARENT_OBJS; i++)
		alloc_obj(&parent_objs[i], &parent_rng);

	int failed = forkrun(nforks, parallel, child_main, change_objs, parent_objs) != 0;

	atomic_store(&stop, 1);
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	for (int i = 0; i < PARENT_OBJS; i++)
		free_obj(&parent_objs[i]);
	if (failed) {
		fprintf(stderr, "stress_fork: FAILED\n");
		return 1;
	}
	printf("stress_fork: %d forks (%d with a grandchild) while %d threads allocated "
	       "(%ld operations); every child exited 0\n",
	       nforks, (nforks + 9) / 10, nthreads, atomic_load(&thread_ops));
	printf("stress_fork: OK\n");
	return 0;
}
