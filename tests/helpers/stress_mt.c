/*
 * stress_mt: a multi-threaded stress test of whatever malloc is in use
 * (run under LD_PRELOAD=libjmalloc.so by tests/preload/stress.test.sh).
 *
 * T worker slots (default 8) run at once. Each worker allocates objects of
 * small, large and huge sizes through malloc, calloc, realloc and the
 * aligned entry points, fills each with a pattern that depends on a seed,
 * keeps some, passes some to other slots' mailboxes (where another thread
 * checks and frees them), swaps some into a global pool (where they outlive
 * the thread that made them), and reallocs some. A worker ends after its
 * share of operations and hands its objects on; the main thread joins it
 * and starts a new worker in the slot, so threads are created and destroyed
 * while their objects live on. Every object's pattern is checked before it
 * is freed; a mismatch aborts with the object's address. The run is bounded
 * by a fixed number of operations, and prints what it did.
 *
 * Usage: stress_mt [-t THREADS] [-w WORKERS] [-n OPS_PER_WORKER] [-s SEED]
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xorshift.h"

#define MAX_THREADS 64
#define LOCAL_SLOTS 256
#define MAILBOX_CAP 1024
#define POOL_SIZE 4096
#define POOL_LOCKS 64

/* An object in flight: the memory and what is needed to check it. */
struct obj {
	unsigned char *ptr;
	size_t size;            /* bytes filled with the pattern */
	uint64_t seed;
};

struct mailbox {
	pthread_mutex_t lock;
	size_t head, count;
	struct obj items[MAILBOX_CAP];
};

struct worker {
	pthread_t thread;
	int slot;
	uint64_t rng;
	long ops;
	/* Counters, added to the totals when the worker ends. */
	long allocs, frees, remote_frees, sent, pooled, reallocs, bytes;
};

static int nthreads = 8;
static int nworkers = 48;
static long ops_per_worker = 20000;

static struct mailbox mailboxes[MAX_THREADS];
static struct obj pool[POOL_SIZE];
static pthread_mutex_t pool_locks[POOL_LOCKS];
static atomic_long total_allocs, total_frees, total_remote_frees, total_sent,
	total_pooled, total_reallocs, total_bytes, total_ops;
static atomic_uint_fast64_t seed_counter;

static inline uint64_t pattern_word(uint64_t seed, size_t i)
{
	uint64_t x = seed ^ (i * 0x9E3779B97F4A7C15ull);
	x ^= x >> 31;
	return x * 0xBF58476D1CE4E5B9ull;
}

/* Byte i of the pattern: byte i % 8 of word i / 8 (as stored on a
 * little-endian machine), so that any prefix can be checked. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the pattern assumes little-endian");
static inline unsigned char pattern_byte(uint64_t seed, size_t i)
{
	return (unsigned char)(pattern_word(seed, i / 8) >> (8 * (i % 8)));
}

static void fill(struct obj *o)
{
	size_t words = o->size / 8;
	uint64_t *w = (uint64_t *)o->ptr;
	for (size_t i = 0; i < words; i++)
		w[i] = pattern_word(o->seed, i);
	for (size_t i = words * 8; i < o->size; i++)
		o->ptr[i] = pattern_byte(o->seed, i);
}

static void corrupt(const struct obj *o, size_t at, const char *when)
{
	fprintf(stderr, "stress_mt: object %p (size %zu, seed %#" PRIx64 ") corrupted at byte %zu (%s)\n",
	        (void *)o->ptr, o->size, o->seed, at, when);
	abort();
}

/* Checks the first n bytes of o. */
static void check_prefix(const struct obj *o, size_t n, const char *when)
{
	size_t words = n / 8;
	const uint64_t *w = (const uint64_t *)o->ptr;
	for (size_t i = 0; i < words; i++)
		if (w[i] != pattern_word(o->seed, i))
			corrupt(o, i * 8, when);
	for (size_t i = words * 8; i < n; i++)
		if (o->ptr[i] != pattern_byte(o->seed, i))
			corrupt(o, i, when);
}

static void check_and_free(struct worker *w, struct obj *o, int remote)
{
	if (!o->ptr)
		return;
	check_prefix(o, o->size, "before free");
	free(o->ptr);
	o->ptr = NULL;
	w->frees++;
	if (remote)
		w->remote_frees++;
}

/* Small sizes most of the time, large ones sometimes, huge ones rarely. */
static size_t pick_size(uint64_t *rng)
{
	uint64_t r = rnd(rng);
	unsigned k = (unsigned)(r % 10000);
	r >>= 16;
	if (k < 7500)
		return r % 513;                       /* small, including 0 */
	if (k < 9400)
		return 513 + r % (16384 - 512);       /* small up to 14336, first large */
	if (k < 9960)
		return 16385 + r % (256 << 10);       /* large */
	if (k < 9995)
		return (256 << 10) + r % ((2 << 20) - (256 << 10) + 4096); /* large to past the chunk */
	return (2 << 20) + r % (4 << 20);         /* huge */
}

static int new_obj(struct worker *w, struct obj *o)
{
	size_t size = pick_size(&w->rng);
	unsigned how = (unsigned)(rnd(&w->rng) % 100);
	void *p = NULL;
	if (how < 80) {
		p = malloc(size);
	} else if (how < 90) {
		p = calloc(1, size);
		if (p) {
			for (size_t i = 0; i < size; i++)
				if (((unsigned char *)p)[i] != 0) {
					fprintf(stderr, "stress_mt: calloc(1, %zu) = %p not zeroed at %zu\n",
					        size, p, i);
					abort();
				}
		}
	} else if (how < 95) {
		size_t align = (size_t)16 << (rnd(&w->rng) % 9);
		if (posix_memalign(&p, align, size) != 0)
			p = NULL;
		else if ((uintptr_t)p % align) {
			fprintf(stderr, "stress_mt: posix_memalign(%zu) = %p misaligned\n", align, p);
			abort();
		}
	} else {
		size_t align = (size_t)64 << (rnd(&w->rng) % 8);
		p = aligned_alloc(align, size);
		if (p && (uintptr_t)p % align) {
			fprintf(stderr, "stress_mt: aligned_alloc(%zu) = %p misaligned\n", align, p);
			abort();
		}
	}
	if (!p) {
		fprintf(stderr, "stress_mt: allocation of %zu bytes failed: %s\n", size, strerror(errno));
		abort();
	}
	if (malloc_usable_size(p) < size) {
		fprintf(stderr, "stress_mt: usable size of %p is %zu < %zu\n", p,
		        malloc_usable_size(p), size);
		abort();
	}
	o->ptr = p;
	o->size = size;
	o->seed = atomic_fetch_add(&seed_counter, 1) * 0x2545F4914F6CDD1Dull + 1;
	fill(o);
	w->allocs++;
	w->bytes += (long)size;
	return 0;
}

/* Gives o to another slot's mailbox; false if that mailbox is full. */
static int send_obj(struct worker *w, struct obj *o)
{
	int to = (int)(rnd(&w->rng) % (uint64_t)nthreads);
	if (to == w->slot)
		to = (to + 1) % nthreads;
	struct mailbox *mb = &mailboxes[to];
	pthread_mutex_lock(&mb->lock);
	int ok = mb->count < MAILBOX_CAP;
	if (ok) {
		mb->items[(mb->head + mb->count) % MAILBOX_CAP] = *o;
		mb->count++;
	}
	pthread_mutex_unlock(&mb->lock);
	if (ok) {
		o->ptr = NULL;
		w->sent++;
	}
	return ok;
}

/* Checks and frees what other threads sent to this slot (at most max). */
static void drain_mailbox(struct worker *w, int slot, size_t max)
{
	struct mailbox *mb = &mailboxes[slot];
	struct obj batch[64];
	while (max > 0) {
		size_t n = 0;
		pthread_mutex_lock(&mb->lock);
		while (n < 64 && n < max && mb->count > 0) {
			batch[n++] = mb->items[mb->head];
			mb->head = (mb->head + 1) % MAILBOX_CAP;
			mb->count--;
		}
		pthread_mutex_unlock(&mb->lock);
		if (n == 0)
			return;
		for (size_t i = 0; i < n; i++)
			check_and_free(w, &batch[i], 1);
		max -= n;
	}
}

/* Swaps o with a random pool entry; the displaced object is checked and
 * freed (it was most likely made by another, maybe dead, thread). */
static void pool_swap(struct worker *w, struct obj *o)
{
	size_t i = (size_t)(rnd(&w->rng) % POOL_SIZE);
	pthread_mutex_t *l = &pool_locks[i % POOL_LOCKS];
	pthread_mutex_lock(l);
	struct obj old = pool[i];
	pool[i] = *o;
	pthread_mutex_unlock(l);
	o->ptr = NULL;
	w->pooled++;
	check_and_free(w, &old, 1);
}

static void realloc_obj(struct worker *w, struct obj *o)
{
	size_t size = pick_size(&w->rng);
	if (rnd(&w->rng) % 2)   /* often a nearby size, across a class boundary */
		size = o->size + (o->size / 4) + 1 - (size_t)(rnd(&w->rng) % (o->size / 2 + 2));
	check_prefix(o, o->size, "before realloc");
	unsigned char *q = realloc(o->ptr, size);
	if (!q) {
		if (size == 0)   /* realloc(p, 0) freed p (glibc semantics) */
			goto freed;
		fprintf(stderr, "stress_mt: realloc to %zu failed: %s\n", size, strerror(errno));
		abort();
	}
	struct obj moved = { q, size < o->size ? size : o->size, o->seed };
	check_prefix(&moved, moved.size, "after realloc");
	o->ptr = q;
	o->size = size;
	o->seed = atomic_fetch_add(&seed_counter, 1) * 0x2545F4914F6CDD1Dull + 1;
	fill(o);
	w->reallocs++;
	return;
freed:
	o->ptr = NULL;
	w->frees++;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct obj local[LOCAL_SLOTS];
	memset(local, 0, sizeof(local));
	for (long op = 0; op < w->ops; op++) {
		struct obj *o = &local[rnd(&w->rng) % LOCAL_SLOTS];
		unsigned what = (unsigned)(rnd(&w->rng) % 100);
		if (what < 45) {
			if (o->ptr && !send_obj(w, o))
				check_and_free(w, o, 0);
			new_obj(w, o);
		} else if (what < 60) {
			if (o->ptr && !send_obj(w, o))
				check_and_free(w, o, 0);
		} else if (what < 70) {
			check_and_free(w, o, 0);
		} else if (what < 80) {
			drain_mailbox(w, w->slot, 32);
		} else if (what < 88) {
			if (o->ptr)
				pool_swap(w, o);
		} else if (o->ptr) {
			realloc_obj(w, o);
		}
	}
	/* The thread ends; its objects live on in other mailboxes and in the
	 * pool, or are freed if there is no room. */
	for (int i = 0; i < LOCAL_SLOTS; i++) {
		if (!local[i].ptr)
			continue;
		if (i % 2 == 0)
			pool_swap(w, &local[i]);
		else if (!send_obj(w, &local[i]))
			check_and_free(w, &local[i], 0);
	}
	atomic_fetch_add(&total_allocs, w->allocs);
	atomic_fetch_add(&total_frees, w->frees);
	atomic_fetch_add(&total_remote_frees, w->remote_frees);
	atomic_fetch_add(&total_sent, w->sent);
	atomic_fetch_add(&total_pooled, w->pooled);
	atomic_fetch_add(&total_reallocs, w->reallocs);
	atomic_fetch_add(&total_bytes, w->bytes);
	atomic_fetch_add(&total_ops, w->ops);
	return NULL;
}

static void start_worker(struct worker *w, int slot, int index, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->slot = slot;
	w->rng = seed * 0x9E3779B97F4A7C15ull + (uint64_t)index * 7919 + 1;
	/* Unequal lifetimes, so that workers end at different times. */
	w->ops = ops_per_worker / 2 + (long)((uint64_t)index * 2654435761u % (uint64_t)ops_per_worker);
	int rc = pthread_create(&w->thread, NULL, worker_main, w);
	if (rc != 0) {
		fprintf(stderr, "stress_mt: pthread_create: %s\n", strerror(rc));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	uint64_t seed = 42;
	int c;
	while ((c = getopt(argc, argv, "t:w:n:s:")) != -1) {
		switch (c) {
		case 't': nthreads = atoi(optarg); break;
		case 'w': nworkers = atoi(optarg); break;
		case 'n': ops_per_worker = atol(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: stress_mt [-t THREADS] [-w WORKERS] [-n OPS] [-s SEED]\n");
			return 2;
		}
	}
	if (nthreads < 2 || nthreads > MAX_THREADS || nworkers < nthreads || ops_per_worker < 1) {
		fprintf(stderr, "stress_mt: need 2 <= THREADS <= %d, WORKERS >= THREADS, OPS >= 1\n",
		        MAX_THREADS);
		return 2;
	}
	printf("stress_mt: allocator %s\n", dlsym(RTLD_DEFAULT, "jm_malloc") ? "jmalloc" : "other");
	for (int i = 0; i < MAX_THREADS; i++)
		pthread_mutex_init(&mailboxes[i].lock, NULL);
	for (int i = 0; i < POOL_LOCKS; i++)
		pthread_mutex_init(&pool_locks[i], NULL);

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	static struct worker workers[MAX_THREADS];
	int started = 0;
	for (int s = 0; s < nthreads; s++, started++)
		start_worker(&workers[s], s, started, seed);
	/* Replace workers as they end, in slot order, until all have run. */
	for (int s = 0; started < nworkers; s = (s + 1) % nthreads, started++) {
		pthread_join(workers[s].thread, NULL);
		start_worker(&workers[s], s, started, seed);
	}
	for (int s = 0; s < nthreads; s++)
		pthread_join(workers[s].thread, NULL);

	/* What is left: check and free it all from the main thread. */
	struct worker rest;
	memset(&rest, 0, sizeof(rest));
	for (int s = 0; s < nthreads; s++)
		drain_mailbox(&rest, s, SIZE_MAX);
	for (int i = 0; i < POOL_SIZE; i++)
		check_and_free(&rest, &pool[i], 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	long frees = atomic_load(&total_frees) + rest.frees;
	long allocs = atomic_load(&total_allocs);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("stress_mt: %d threads at once, %d workers, %ld operations in %.2fs\n",
	       nthreads, nworkers, atomic_load(&total_ops), secs);
	printf("stress_mt: %ld allocations (%ld MiB), %ld reallocs, %ld frees, %ld freed by another thread, "
	       "%ld passed between threads, %ld through the pool\n",
	       allocs, atomic_load(&total_bytes) >> 20, atomic_load(&total_reallocs), frees,
	       atomic_load(&total_remote_frees) + rest.remote_frees, atomic_load(&total_sent),
	       atomic_load(&total_pooled));
	if (allocs != frees) {
		fprintf(stderr, "stress_mt: %ld allocations but %ld frees: objects lost\n", allocs, frees);
		return 1;
	}
	printf("stress_mt: OK\n");
	return 0;
}
