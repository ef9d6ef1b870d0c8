/*
 * malloc-large: MiB-size blocks (after mimalloc-bench's malloc-large: 20
 * live buffers of 5 to 25 MiB, replaced at random). Each new buffer has one
 * byte written in every page, as a program that uses its buffer would, so
 * that the cost of fresh pages from the kernel (and so the allocator's
 * policy for keeping, purging and reusing large blocks) shows in the time
 * and in the peak RSS.
 */
#include "bench_main.h"

#define BUFFERS  20
#define MIN_SIZE (5u << 20)
#define MAX_SIZE (25u << 20)
#define PAGE     4096

static int bench_main(int threads, double scale)
{
	(void)threads;          /* one thread, whatever THREADS says */
	long iterations = scaled(400, scale, 3);
	unsigned char *buf[BUFFERS] = { 0 };
	size_t size[BUFFERS] = { 0 };
	uint64_t rng = rng_seed(5);

	for (long i = 0; i < iterations; i++) {
		unsigned k = (unsigned)(rng_next(&rng) % BUFFERS);
		if (buf[k] != NULL) {
			BENCH_CHECK(buf[k][0] == (unsigned char)k && buf[k][size[k] - 1] == (unsigned char)size[k],
				    "buffer %p of %zu bytes overwritten", (void *)buf[k], size[k]);
			free(buf[k]);
		}
		size[k] = rng_range(&rng, MIN_SIZE, MAX_SIZE);
		buf[k] = xmalloc(size[k]);
		for (size_t off = 0; off < size[k]; off += PAGE)
			buf[k][off] = (unsigned char)off;
		buf[k][0] = (unsigned char)k;
		buf[k][size[k] - 1] = (unsigned char)size[k];
	}
	for (unsigned k = 0; k < BUFFERS; k++)
		free(buf[k]);
	printf("malloc-large: ok, %ld buffers\n", iterations);
	return 0;
}
