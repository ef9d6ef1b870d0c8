/*
 * sh6bench and sh8bench: batches of blocks of steadily varying sizes,
 * freed in a different order than allocated (after MicroQuill's SmartHeap
 * benchmarks, as in mimalloc-bench).
 *
 * Each thread repeatedly allocates a batch of 2000 blocks whose sizes walk
 * through 1..1000 bytes, then frees them: first every other block from the
 * end, then the rest from the start. sh8bench (built with -DSH8) first
 * hands half of each batch to the next thread, which frees it, so that a
 * quarter of all frees cross threads.
 */
#include "bench_main.h"

#define BATCH    2000
#define MAX_SIZE 1000
#define HANDOFF_SLOTS 8

struct handoff {
	pthread_mutex_t lock;
	int n;
	void **batches[HANDOFF_SLOTS];
};

struct worker {
	int id;
	long iterations;
};

static int nthreads;
static struct handoff *handoffs;

static void check_free(void *p, size_t i)
{
	BENCH_CHECK(*(unsigned char *)p == (unsigned char)i, "block %p overwritten", p);
	free(p);
}

#ifdef SH8
/* Frees what the previous thread handed over. */
static void take(int id)
{
	struct handoff *h = &handoffs[id];
	void **got[HANDOFF_SLOTS];
	pthread_mutex_lock(&h->lock);
	int n = h->n;
	memcpy(got, h->batches, sizeof got[0] * (size_t)n);
	h->n = 0;
	pthread_mutex_unlock(&h->lock);
	for (int k = 0; k < n; k++) {
		for (size_t i = 0; i < BATCH / 2; i++)
			check_free(got[k][i], i * 2 + 1);
		free(got[k]);
	}
}

static void give(int id, void **half)
{
	struct handoff *h = &handoffs[(id + 1) % nthreads];
	pthread_mutex_lock(&h->lock);
	int full = h->n == HANDOFF_SLOTS;
	if (!full)
		h->batches[h->n++] = half;
	pthread_mutex_unlock(&h->lock);
	if (full) {
		/* The next thread lags (or has finished): free the half here
		 * rather than wait for it. */
		for (size_t i = 0; i < BATCH / 2; i++)
			check_free(half[i], i * 2 + 1);
		free(half);
	}
}
#endif

static void *work(void *arg)
{
	struct worker *w = arg;
	void **blocks = xmalloc(sizeof *blocks * BATCH);
	size_t size = 1;
	for (long it = 0; it < w->iterations; it++) {
		for (size_t i = 0; i < BATCH; i++) {
			blocks[i] = xmalloc(size);
			memset(blocks[i], (unsigned char)i, size < 16 ? size : 16);
			size = size * 7 % MAX_SIZE + 1;
		}
#ifdef SH8
		/* The odd blocks go to the next thread. */
		void **half = xmalloc(sizeof *half * (BATCH / 2));
		for (size_t i = 0; i < BATCH / 2; i++)
			half[i] = blocks[i * 2 + 1];
		give(w->id, half);
		for (size_t i = 0; i < BATCH; i += 2)
			check_free(blocks[i], i);
		take(w->id);
#else
		for (size_t i = BATCH - 1; i < BATCH; i -= 2)
			check_free(blocks[i], i);
		for (size_t i = 0; i < BATCH; i += 2)
			check_free(blocks[i], i);
#endif
	}
	free(blocks);
	return NULL;
}

static int bench_main(int threads, double scale)
{
	nthreads = threads;
	#ifdef SH8
	long iterations = scaled(2000, scale, 2);
#else
	long iterations = scaled(6000, scale, 2);
#endif
	handoffs = xmalloc(sizeof *handoffs * (size_t)threads);
	struct worker *w = xmalloc(sizeof *w * (size_t)threads);
	for (int t = 0; t < threads; t++) {
		pthread_mutex_init(&handoffs[t].lock, NULL);
		handoffs[t].n = 0;
		w[t] = (struct worker){ .id = t, .iterations = iterations };
	}
	run_threads(threads, work, w, sizeof *w);
#ifdef SH8
	for (int t = 0; t < threads; t++)
		take(t);
#endif
	free(handoffs);
	free(w);
	printf("%s: ok, %ld batches of %d blocks per thread\n", bench_name, iterations, BATCH);
	return 0;
}
