/*
 * purge_patterns.c: four workloads, written for this project, where an
 * allocator that gives memory back too eagerly pays for it in page faults
 * (docs/purging.md). Built four times by run.sh, one per PATTERN:
 *
 *   purge-mixed    (PATTERN 1) sizes 16 B..1 MiB, power law (the log of the
 *                  size uniform in [4, 20] cubed: mostly small, some large),
 *                  short-lived (a slot of 1024 replaced each step) and
 *                  long-lived (a slot of 256 replaced every 16th step), on
 *                  THREADS threads; every page of an object is written
 *   purge-xthread  (PATTERN 2) producer/consumer: THREADS/2 pairs (at least
 *                  one); the producer allocates 16..512 B objects and hands
 *                  them through a ring to the consumer, which checks and
 *                  frees them: every small object is freed by another thread
 *   purge-liveset  (PATTERN 3) a live set of 20 blocks of 64 KiB..16 MiB (log
 *                  uniform), replaced one at a time, every page touched
 *   purge-rounds   (PATTERN 4) 4 rounds of: 1M x 64 B, free 90% of them at
 *                  random, 200k x 512 B, free all
 *
 * Usage: NAME [THREADS [SCALE]] (bench.h). Prints one line that does not
 * depend on the allocator.
 */
#include "bench.h"

#include <sched.h>
#include <stdatomic.h>

#ifndef PATTERN
#define PATTERN 1
#endif

static double g_scale;

/* Writes every page of an object. */
__attribute__((unused)) static void touch(char *p, size_t size, unsigned char v)
{
	for (size_t off = 0; off < size; off += 4096)
		p[off] = (char)v;
}

#if PATTERN == 1
#define SHORT_SLOTS 1024
#define LONG_SLOTS 256

static size_t power_size(uint64_t *rng)
{
	double u = (double)(rng_next(rng) >> 11) / (double)(1ULL << 53);
	unsigned lg = 4 + (unsigned)(16.0 * u * u * u);  /* 4..20 */
	size_t lo = (size_t)1 << lg;
	size_t s = lo + (size_t)(rng_next(rng) % lo);
	return s > (1u << 20) ? (1u << 20) : s;
}

struct slot { char *p; size_t size; uint64_t tag; };

static void replace(struct slot *s, uint64_t *rng, uint64_t tag)
{
	if (s->p) {
		tag_check(s->p, s->size, s->tag);
		free(s->p);
	}
	s->size = power_size(rng);
	s->p = xmalloc(s->size);
	touch(s->p, s->size, (unsigned char)tag);
	s->tag = tag;
	tag_fill(s->p, s->size, tag);
}

static void *worker(void *arg)
{
	int id = *(int *)arg;
	uint64_t rng = rng_seed((uint64_t)id + 100);
	struct slot *sh = calloc(SHORT_SLOTS, sizeof(*sh));
	struct slot *lo = calloc(LONG_SLOTS, sizeof(*lo));
	long steps = scaled(400000, g_scale, 2000);
	for (long i = 0; i < steps; i++) {
		replace(&sh[rng_next(&rng) % SHORT_SLOTS], &rng, (uint64_t)i * 2 + 1);
		if (i % 16 == 0)
			replace(&lo[rng_next(&rng) % LONG_SLOTS], &rng, (uint64_t)i * 2 + 2);
	}
	for (int i = 0; i < SHORT_SLOTS; i++)
		if (sh[i].p) { tag_check(sh[i].p, sh[i].size, sh[i].tag); free(sh[i].p); }
	for (int i = 0; i < LONG_SLOTS; i++)
		if (lo[i].p) { tag_check(lo[i].p, lo[i].size, lo[i].tag); free(lo[i].p); }
	free(sh);
	free(lo);
	return NULL;
}

int main(int argc, char **argv)
{
	int threads;
	bench_args(argc, argv, &threads, &g_scale);
	pthread_t t[64];
	int ids[64];
	if (threads > 64)
		threads = 64;
	for (int i = 0; i < threads; i++) {
		ids[i] = i;
		pthread_create(&t[i], NULL, worker, &ids[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	printf("%s: ok\n", bench_name);
	return 0;
}

#elif PATTERN == 2
#define RING 4096

struct pair {
	_Atomic uint64_t head, tail;   /* produced, consumed */
	void *ring[RING];
	long n;
	uint64_t sum;
};

static size_t obj_size(uint64_t i) { return 16 + (size_t)((i * 2654435761u) % 497); }

static void *producer(void *arg)
{
	struct pair *p = arg;
	for (long i = 0; i < p->n; i++) {
		size_t sz = obj_size((uint64_t)i);
		void *o = xmalloc(sz);
		tag_fill(o, sz, (uint64_t)i);
		uint64_t h = atomic_load_explicit(&p->head, memory_order_relaxed);
		while (h - atomic_load_explicit(&p->tail, memory_order_acquire) >= RING)
			sched_yield();
		p->ring[h % RING] = o;
		atomic_store_explicit(&p->head, h + 1, memory_order_release);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct pair *p = arg;
	for (long i = 0; i < p->n; i++) {
		uint64_t t = atomic_load_explicit(&p->tail, memory_order_relaxed);
		while (atomic_load_explicit(&p->head, memory_order_acquire) == t)
			sched_yield();
		void *o = p->ring[t % RING];
		atomic_store_explicit(&p->tail, t + 1, memory_order_release);
		tag_check(o, obj_size((uint64_t)i), (uint64_t)i);
		p->sum += obj_size((uint64_t)i);
		free(o);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int threads;
	bench_args(argc, argv, &threads, &g_scale);
	int npairs = threads / 2 < 1 ? 1 : threads / 2;
	if (npairs > 32)
		npairs = 32;
	struct pair *pairs = calloc((size_t)npairs, sizeof(*pairs));
	pthread_t t[64];
	for (int i = 0; i < npairs; i++) {
		pairs[i].n = scaled(2000000.0 / npairs, g_scale, 1000);
		pthread_create(&t[2 * i], NULL, producer, &pairs[i]);
		pthread_create(&t[2 * i + 1], NULL, consumer, &pairs[i]);
	}
	uint64_t sum = 0;
	for (int i = 0; i < npairs; i++) {
		pthread_join(t[2 * i], NULL);
		pthread_join(t[2 * i + 1], NULL);
		sum += pairs[i].sum;
	}
	free(pairs);
	printf("%s: ok %llu bytes passed\n", bench_name, (unsigned long long)sum);
	return 0;
}

#elif PATTERN == 3
int main(int argc, char **argv)
{
	int threads;
	bench_args(argc, argv, &threads, &g_scale);
	uint64_t rng = rng_seed(3);
	enum { LIVE = 20 };
	char *p[LIVE] = { 0 };
	size_t sz[LIVE] = { 0 };
	long steps = scaled(600, g_scale, 40);
	uint64_t total = 0;
	for (long i = 0; i < steps + LIVE; i++) {
		int k = (int)(i % LIVE);
		if (p[k]) {
			tag_check(p[k], sz[k], (uint64_t)k);
			free(p[k]);
		}
		if (i >= steps) {
			p[k] = NULL;
			continue;
		}
		unsigned lg = 16 + (unsigned)(rng_next(&rng) % 8);   /* 64 KiB..16 MiB */
		sz[k] = ((size_t)1 << lg) + (size_t)(rng_next(&rng) % ((size_t)1 << lg));
		p[k] = xmalloc(sz[k]);
		touch(p[k], sz[k], (unsigned char)i);
		tag_fill(p[k], sz[k], (uint64_t)k);
		total += sz[k] >> 10;
	}
	printf("%s: ok %llu KiB replaced\n", bench_name, (unsigned long long)total);
	return 0;
}

#elif PATTERN == 4
int main(int argc, char **argv)
{
	int threads;
	bench_args(argc, argv, &threads, &g_scale);
	uint64_t rng = rng_seed(4);
	long rounds = 4;
	long nsmall = scaled(1000000, g_scale, 1000);
	long nmid = nsmall / 5;
	void **a = xmalloc((size_t)nsmall * sizeof(void *));
	void **b = xmalloc((size_t)nmid * sizeof(void *));
	long kept_total = 0;
	for (long r = 0; r < rounds; r++) {
		for (long i = 0; i < nsmall; i++) {
			a[i] = xmalloc(64);
			tag_fill(a[i], 64, (uint64_t)i);
		}
		long kept = 0;
		for (long i = 0; i < nsmall; i++) {
			if (rng_next(&rng) % 10 != 0) {
				tag_check(a[i], 64, (uint64_t)i);
				free(a[i]);
				a[i] = NULL;
			} else {
				kept++;
			}
		}
		for (long i = 0; i < nmid; i++) {
			b[i] = xmalloc(512);
			tag_fill(b[i], 512, (uint64_t)i);
		}
		for (long i = 0; i < nmid; i++) {
			tag_check(b[i], 512, (uint64_t)i);
			free(b[i]);
		}
		for (long i = 0; i < nsmall; i++)
			if (a[i]) {
				tag_check(a[i], 64, (uint64_t)i);
				free(a[i]);
			}
		kept_total += kept;
	}
	free(a);
	free(b);
	printf("%s: ok %ld rounds, %ld kept\n", bench_name, rounds, kept_total);
	return 0;
}
#endif
