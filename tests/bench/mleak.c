/*
 * mleak: slow growth (after mimalloc-bench's mleak10 and mleak100): a
 * program that churns small objects and leaks a few of them. Each thread
 * replaces objects in a working set of 4096 slots; one object in LEAK_ONE_IN
 * replaced is never freed (kept on a list only to check it at the end), so
 * the heap grows slowly with long-lived objects scattered among the
 * short-lived ones, which is what fragments a heap over time.
 */
#include "bench_main.h"

#define SLOTS       4096
#define LEAK_ONE_IN 100

struct leak {
	struct leak *next;
	size_t size;
};

struct worker {
	long ops;
	long leaked;
	uint64_t rng;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	void **slot = xmalloc(sizeof *slot * SLOTS);
	size_t *size = xmalloc(sizeof *size * SLOTS);
	struct leak *leaks = NULL;
	for (int i = 0; i < SLOTS; i++) {
		size[i] = sizeof(struct leak);
		slot[i] = xmalloc(size[i]);
		tag_fill(slot[i], size[i], size[i]);
	}
	for (long op = 0; op < w->ops; op++) {
		uint64_t r = rng_next(&w->rng);
		unsigned i = (unsigned)(r % SLOTS);
		if ((r >> 32) % LEAK_ONE_IN == 0) {
			struct leak *l = slot[i];
			l->next = leaks;
			l->size = size[i];
			leaks = l;
			w->leaked++;
		} else {
			tag_check(slot[i], size[i], size[i]);
			free(slot[i]);
		}
		size[i] = sizeof(struct leak) + (size_t)((r >> 16) % 500);
		slot[i] = xmalloc(size[i]);
		tag_fill(slot[i], size[i], size[i]);
	}
	long seen = 0;
	for (struct leak *l = leaks; l != NULL; l = l->next) {
		BENCH_CHECK(l->size >= sizeof(struct leak) && l->size < 600, "leaked object %p overwritten", (void *)l);
		seen++;
	}
	BENCH_CHECK(seen == w->leaked, "leak list has %ld objects, expected %ld", seen, w->leaked);
	for (int i = 0; i < SLOTS; i++)
		free(slot[i]);
	free(slot);
	free(size);
	return NULL;
}

static int bench_main(int threads, double scale)
{
	long ops = scaled(10000000, scale, 1000);
	struct worker *w = xmalloc(sizeof *w * (size_t)threads);
	for (int t = 0; t < threads; t++)
		w[t] = (struct worker){ .ops = ops, .rng = rng_seed((uint64_t)t + 3) };
	run_threads(threads, work, w, sizeof *w);
	long leaked = 0;
	for (int t = 0; t < threads; t++)
		leaked += w[t].leaked;
	free(w);
	printf("mleak: ok, %ld ops per thread\n", ops);
	(void)leaked;
	return 0;
}
