/*
 * thread-churn: short-lived threads, as servers that start a thread per
 * request or per task and thread pools that shrink and grow create and
 * end them. Each of THREADS creators starts one thread at a time and joins
 * it, 20000 x SCALE threads in all. A thread allocates 256 objects of
 * 8..1024 bytes (about log uniform: 4 in 7 under 128), writes their
 * ends, frees 7 in 8 of them in random order and hands the other 32 back
 * to its creator, then exits; the creator checks and frees those after the
 * join. What it measures is the allocator's share of a thread's life: its
 * first allocation in a new thread (thread cache and row set-up, the
 * choice of an arena), the exit (the cache flushed and released), and the
 * creator's frees of another thread's objects. Found when larson's 60
 * thread exits a run took 125 us each in jmalloc (docs/measurements.md, "thread-churn").
 */
#include "bench_main.h"

#define OBJECTS 256
#define HANDED 32   /* of the OBJECTS, handed back to the creator */

struct child {
	uint64_t rng;
	uint64_t tag;
	void *handed[HANDED];
	size_t size[HANDED];
	uint64_t tags[HANDED];
};

struct creator {
	long threads;
	uint64_t rng;
	unsigned long long handed_bytes;
};

static size_t pick_size(uint64_t *rng)
{
	/* An octave [2^k, 2^(k+1)], k uniform in 3..9, then a size uniform in
	 * it: 8..1024 bytes, about log uniform. */
	unsigned shift = (unsigned)rng_range(rng, 3, 9);
	size_t lo = (size_t)1 << shift;
	return rng_range(rng, lo, 2 * lo);
}

static void *child(void *arg)
{
	struct child *c = arg;
	unsigned char *p[OBJECTS];
	size_t size[OBJECTS];
	uint16_t order[OBJECTS];
	for (int i = 0; i < OBJECTS; i++) {
		size[i] = pick_size(&c->rng);
		p[i] = xmalloc(size[i]);
		tag_fill(p[i], size[i], c->tag + (uint64_t)i);
		order[i] = (uint16_t)i;
	}
	for (int i = OBJECTS - 1; i > 0; i--) {  /* Fisher-Yates */
		int j = (int)(rng_next(&c->rng) % (uint64_t)(i + 1));
		uint16_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (int k = 0; k < OBJECTS; k++) {
		int i = order[k];
		if (k < HANDED) {
			c->handed[k] = p[i];
			c->size[k] = size[i];
			c->tags[k] = c->tag + (uint64_t)i;
			continue;
		}
		tag_check(p[i], size[i], c->tag + (uint64_t)i);
		free(p[i]);
	}
	return NULL;
}

static void *create(void *arg)
{
	struct creator *w = arg;
	struct child c;
	for (long t = 0; t < w->threads; t++) {
		pthread_t tid;
		c.rng = rng_next(&w->rng) | 1;
		c.tag = (uint64_t)t << 16;
		if (pthread_create(&tid, NULL, child, &c) != 0)
			bench_fail("pthread_create failed");
		pthread_join(tid, NULL);
		for (int i = 0; i < HANDED; i++) {
			tag_check(c.handed[i], c.size[i], c.tags[i]);
			w->handed_bytes += c.size[i];
			free(c.handed[i]);
		}
	}
	return NULL;
}

static int bench_main(int threads, double scale)
{
	long total = scaled(20000, scale, 2 * threads);
	struct creator *w = xmalloc(sizeof *w * (size_t)threads);
	for (int t = 0; t < threads; t++)
		w[t] = (struct creator){ .threads = total / threads, .rng = rng_seed((uint64_t)t + 29) };
	run_threads(threads, create, w, sizeof *w);
	unsigned long long bytes = 0;
	for (int t = 0; t < threads; t++)
		bytes += w[t].handed_bytes;
	free(w);
	printf("thread-churn: ok, %ld threads, %d objects each, %llu bytes handed back\n",
	       total / threads * threads, OBJECTS, bytes);
	return 0;
}
