/*
 * glibc-simple: single-thread malloc/free of small blocks (after glibc's
 * benchtests/bench-malloc-simple.c): for each block size of 16, 64, 256
 * and 1024 bytes and each batch of 25, 100, 400 and 1600 blocks, allocate
 * the batch and free it in the same order, many times over.
 */
#include "bench_main.h"

static int bench_main(int threads, double scale)
{
	(void)threads;          /* one thread, whatever THREADS says */
	static const size_t sizes[] = { 16, 64, 256, 1024 };
	static const int counts[] = { 25, 100, 400, 1600 };
	long pairs = scaled(1500000, scale, 1600);   /* per size and batch */
	void **a = xmalloc(sizeof *a * 1600);
	unsigned long sum = 0;

	for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		for (unsigned c = 0; c < sizeof counts / sizeof counts[0]; c++) {
			int n = counts[c];
			long reps = pairs / n;
			for (long r = 0; r < reps; r++) {
				for (int i = 0; i < n; i++) {
					a[i] = xmalloc(sizes[s]);
					*(int *)a[i] = i;
				}
				for (int i = 0; i < n; i++) {
					BENCH_CHECK(*(int *)a[i] == i, "block %p overwritten", a[i]);
					sum += (unsigned)*(int *)a[i];
					free(a[i]);
				}
			}
		}
	}
	free(a);
	printf("glibc-simple: ok, %lu\n", sum);
	return 0;
}
