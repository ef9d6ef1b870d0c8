/*
 * mstress: a mixed stress test (after mimalloc's test/test-stress.c, as
 * "mstress" in mimalloc-bench). In each of several rounds, THREADS fresh
 * threads allocate objects of mostly small sizes, with one in 100 a
 * thousand times larger (up to 64 KiB) and one in 10000 ten thousand times
 * (up to 640 KiB); they keep some for
 * the whole round, free others at random and exchange others through a
 * shared transfer array, so that objects of every size cross threads and
 * outlive the thread that allocated them.
 *
 * Each object is an array of words: word 0 holds its length and every word
 * holds (address ^ length), checked before it is freed.
 */
#include <stdatomic.h>
#include "bench_main.h"

#define TRANSFERS 1000

static _Atomic(uintptr_t *) transfer[TRANSFERS];

struct worker {
	long steps;
	uint64_t rng;
};

static uintptr_t *alloc_items(size_t items, uint64_t *rng)
{
	uint64_t r = rng_next(rng);
	if (r % 10000 == 0)
		items *= 10000;          /* up to 640 KiB */
	else if (r % 100 == 0)
		items *= 1000;           /* up to 64 KiB */
	if (items == 0)
		items = 1;
	uintptr_t *p = xmalloc(items * sizeof(uintptr_t));
	uintptr_t cookie = (uintptr_t)p ^ items;
	p[0] = items;
	for (size_t i = 1; i < items; i++)
		p[i] = cookie;
	return p;
}

static void free_items(uintptr_t *p)
{
	if (p == NULL)
		return;
	size_t items = p[0];
	if (items == 0 || items > 8 * 10000)
		bench_fail("object %p: length word overwritten (%zu)", (void *)p, items);
	uintptr_t cookie = (uintptr_t)p ^ items;
	for (size_t i = 1; i < items; i++) {
		if (p[i] != cookie)
			bench_fail("object %p of %zu words: word %zu overwritten", (void *)p, items, i);
	}
	free(p);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	size_t cap = 1024, n = 0, rcap = 64, nretain = 0;
	uintptr_t **data = xmalloc(cap * sizeof *data);
	uintptr_t **retained = xmalloc(rcap * sizeof *retained);
	for (long s = 0; s < w->steps; s++) {
		uint64_t r = rng_next(&w->rng);
		size_t items = 1 + (r >> 16) % 8;
		if (r % 100 < 2) {
			if (nretain == rcap) {
				rcap *= 2;
				retained = realloc(retained, rcap * sizeof *retained);
				BENCH_CHECK(retained != NULL, "realloc failed");
			}
			retained[nretain++] = alloc_items(items, &w->rng);
		} else if (r % 100 < 50) {
			if (n == cap) {
				data = realloc(data, 2 * cap * sizeof *data);
				BENCH_CHECK(data != NULL, "realloc failed");
				cap *= 2;
			}
			data[n++] = alloc_items(items, &w->rng);
		} else if (r % 100 < 85 && n > 0) {
			size_t i = (r >> 24) % n;
			free_items(data[i]);
			data[i] = data[--n];
		} else if (n > 0) {
			/* Swap one of ours for whatever another thread left. */
			size_t i = (r >> 24) % n;
			size_t t = (r >> 40) % TRANSFERS;
			data[i] = atomic_exchange(&transfer[t], data[i]);
			if (data[i] == NULL)
				data[i] = data[--n];
		}
	}
	for (size_t i = 0; i < n; i++)
		free_items(data[i]);
	for (size_t i = 0; i < nretain; i++)
		free_items(retained[i]);
	free(data);
	free(retained);
	return NULL;
}

static int bench_main(int threads, double scale)
{
	long rounds = scaled(10, scale > 1 ? scale : 1, 1);
	long steps = scaled(200000, scale < 1 ? scale : 1, 1000);
	struct worker *w = xmalloc(sizeof *w * (size_t)threads);
	for (long r = 0; r < rounds; r++) {
		for (int t = 0; t < threads; t++)
			w[t] = (struct worker){ .steps = steps, .rng = rng_seed((uint64_t)(r * 100 + t)) };
		run_threads(threads, work, w, sizeof *w);
	}
	for (int t = 0; t < TRANSFERS; t++)
		free_items(atomic_exchange(&transfer[t], NULL));
	free(w);
	printf("mstress: ok, %ld rounds of %ld steps per thread\n", rounds, steps);
	return 0;
}
