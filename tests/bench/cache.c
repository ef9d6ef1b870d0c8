/*
 * cache-thrash and cache-scratch: false sharing (after Berger et al.,
 * Hoard, as in mimalloc-bench: objects of 1 byte, 1000 iterations).
 *
 * cache-thrash (active false sharing): each thread repeatedly allocates a
 * tiny object, writes it many times and frees it; an allocator that hands
 * two threads objects in the same cache line makes those writes bounce the
 * line between the cores.
 * cache-scratch (passive false sharing), built with -DCACHE_SCRATCH: the
 * main thread first allocates one tiny object per thread, back to back, and
 * each thread starts by freeing the one it was given; an allocator that
 * reuses such a freed object for the thread's own allocations has the
 * threads writing to one cache line.
 */
#include "bench_main.h"

#define OBJ_SIZE 1

struct worker {
	void *given;      /* cache-scratch: freed first */
	long iterations;
	long writes;      /* per iteration */
};

static void *work(void *arg)
{
	struct worker *w = arg;
	if (w->given != NULL)
		free(w->given);
	for (long i = 0; i < w->iterations; i++) {
		volatile unsigned char *p = xmalloc(OBJ_SIZE);
		*p = 0;
		for (long k = 0; k < w->writes; k++)
			*p = (unsigned char)(*p + 1);
		if (*p != (unsigned char)w->writes)
			bench_fail("object %p holds %u after %ld increments", (void *)p, *p, w->writes);
		free((void *)p);
	}
	return NULL;
}

static int bench_main(int threads, double scale)
{
	long iterations = scaled(1000, scale > 1 ? scale : 1, 1);
	long writes = scaled(200000, scale < 1 ? scale : 1, 100);

	struct worker *w = xmalloc(sizeof *w * (size_t)threads);
	for (int t = 0; t < threads; t++) {
		w[t].iterations = iterations;
		w[t].writes = writes;
#ifdef CACHE_SCRATCH
		w[t].given = xmalloc(OBJ_SIZE);
#else
		w[t].given = NULL;
#endif
	}
	run_threads(threads, work, w, sizeof *w);
	free(w);
	printf("%s: ok, %ld iterations of %ld writes per thread\n", bench_name, iterations, writes);
	return 0;
}
