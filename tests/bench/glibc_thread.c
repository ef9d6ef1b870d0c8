/*
 * glibc-thread: multi-threaded random malloc/free (after glibc's
 * benchtests/bench-malloc-thread.c): each thread keeps a working set of
 * blocks and, at every step, frees a random one and allocates a block of a
 * random size between 4 and 32768 bytes drawn with a density proportional
 * to 1/size (log-uniform), so small blocks dominate.
 */
#include "bench_main.h"

#define WORKING_SET 1024

struct worker {
	long steps;
	uint64_t rng;
};

static size_t block_size(uint64_t *rng)
{
	uint64_t r = rng_next(rng);
	unsigned k = 2 + (unsigned)(r % 13);             /* 4 .. 16384 */
	return ((size_t)1 << k) + (size_t)((r >> 8) % ((size_t)1 << k));
}

static void *work(void *arg)
{
	struct worker *w = arg;
	void *blocks[WORKING_SET];
	size_t sizes[WORKING_SET];
	for (int i = 0; i < WORKING_SET; i++) {
		sizes[i] = block_size(&w->rng);
		blocks[i] = xmalloc(sizes[i]);
		tag_fill(blocks[i], sizes[i], (uint64_t)i);
	}
	for (long s = 0; s < w->steps; s++) {
		unsigned i = (unsigned)(rng_next(&w->rng) % WORKING_SET);
		tag_check(blocks[i], sizes[i], i);
		free(blocks[i]);
		sizes[i] = block_size(&w->rng);
		blocks[i] = xmalloc(sizes[i]);
		tag_fill(blocks[i], sizes[i], i);
	}
	for (int i = 0; i < WORKING_SET; i++) {
		tag_check(blocks[i], sizes[i], (uint64_t)i);
		free(blocks[i]);
	}
	return NULL;
}

static int bench_main(int threads, double scale)
{
	long steps = scaled(6000000, scale, 1000);
	struct worker *w = xmalloc(sizeof *w * (size_t)threads);
	for (int t = 0; t < threads; t++)
		w[t] = (struct worker){ .steps = steps, .rng = rng_seed((uint64_t)t) };
	run_threads(threads, work, w, sizeof *w);
	free(w);
	printf("glibc-thread: ok, %ld steps per thread\n", steps);
	return 0;
}
