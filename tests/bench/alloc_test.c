/*
 * alloc-test: random allocation and deallocation with a working set that
 * grows and shrinks (after the ithare.com alloc-test, alloc-testN in
 * mimalloc-bench). Each thread keeps up to 32768 live blocks; at every
 * step it allocates (more often while the set is small) or frees a random
 * block. Sizes follow a skewed distribution, mostly under 128 bytes with a
 * tail to 8 KiB; every block is touched at both ends.
 */
#include "bench_main.h"

#define MAX_LIVE 32768

struct worker {
	long steps;
	uint64_t rng;
};

struct block {
	void *ptr;
	size_t size;
};

static size_t block_size(uint64_t *rng)
{
	uint64_t r = rng_next(rng);
	switch (r & 7) {
	case 0: case 1: case 2: case 3: return 8 + (r >> 8) % 56;
	case 4: case 5: return 64 + (r >> 8) % 192;
	case 6: return 256 + (r >> 8) % 768;
	default: return 1024 + (r >> 8) % 7168;
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct block *live = xmalloc(sizeof *live * MAX_LIVE);
	long n = 0;
	for (long s = 0; s < w->steps; s++) {
		uint64_t r = rng_next(&w->rng);
		/* Allocation probability falls from 3/4 (empty) to 1/4 (full). */
		int alloc = n == 0 || (n < MAX_LIVE && (r % (2 * MAX_LIVE)) > (uint64_t)(n + MAX_LIVE / 2));
		if (alloc) {
			size_t size = block_size(&w->rng);
			void *p = xmalloc(size);
			tag_fill(p, size, (uint64_t)size * 31);
			live[n++] = (struct block){ p, size };
		} else {
			long i = (long)((r >> 20) % (uint64_t)n);
			tag_check(live[i].ptr, live[i].size, (uint64_t)live[i].size * 31);
			free(live[i].ptr);
			live[i] = live[--n];
		}
	}
	while (n > 0) {
		n--;
		tag_check(live[n].ptr, live[n].size, (uint64_t)live[n].size * 31);
		free(live[n].ptr);
	}
	free(live);
	return NULL;
}

static int bench_main(int threads, double scale)
{
	long steps = scaled(7000000, scale, 1000);
	struct worker *w = xmalloc(sizeof *w * (size_t)threads);
	for (int t = 0; t < threads; t++)
		w[t] = (struct worker){ .steps = steps, .rng = rng_seed((uint64_t)t + 7) };
	run_threads(threads, work, w, sizeof *w);
	free(w);
	printf("alloc-test: ok, %ld steps per thread\n", steps);
	return 0;
}
