/*
 * trim-requests: a server's threads that each call malloc_trim(0) after
 * every request, when there is next to nothing to give back. Each
 * request allocates 24 objects of 32 B..2 KiB (log uniform), writes and
 * reads them, and frees them (a request's buffers, parsed fields,
 * strings); its thread keeps 64 longer-lived objects, one of which it
 * replaces every request (a connection's, a cache's). Then
 * malloc_trim(0). 200000 x SCALE requests in all over 4 x THREADS
 * threads: more threads than cores, as a server's pool has, so that a
 * trim that takes every arena's lock in turn finds some held by a thread
 * the kernel stopped.
 *
 * What it measures is the call itself, made when nothing is dirty: what
 * an allocator does to tell that, and whether the threads' calls wait for
 * each other (a lock per arena, or one global). glibc's malloc_trim locks
 * and walks every arena; jemalloc, mimalloc and tcmalloc do not define it
 * (their programs reach glibc's, which trims glibc's own empty heap).
 */
#include "bench_main.h"

#include <malloc.h>

#define PER_REQUEST 24
#define KEPT 64

struct worker {
	long requests;
	uint64_t rng;
	uint64_t sum;
};

static size_t pick_size(uint64_t *rng)
{
	unsigned lg = (unsigned)rng_range(rng, 5, 10);
	return ((size_t)1 << lg) + rng_range(rng, 0, ((size_t)1 << lg) - 1);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned char *kept[KEPT];
	size_t kept_size[KEPT];
	for (int i = 0; i < KEPT; i++) {
		kept_size[i] = pick_size(&w->rng);
		kept[i] = xmalloc(kept_size[i]);
		tag_fill(kept[i], kept_size[i], (uint64_t)i);
	}
	unsigned char *obj[PER_REQUEST];
	size_t size[PER_REQUEST];
	for (long r = 0; r < w->requests; r++) {
		for (int i = 0; i < PER_REQUEST; i++) {
			size[i] = pick_size(&w->rng);
			obj[i] = xmalloc(size[i]);
			tag_fill(obj[i], size[i], (uint64_t)r * PER_REQUEST + (uint64_t)i);
		}
		for (int i = 0; i < PER_REQUEST; i++) {
			tag_check(obj[i], size[i], (uint64_t)r * PER_REQUEST + (uint64_t)i);
			w->sum += obj[i][size[i] - 1];
			free(obj[i]);
		}
		int k = (int)(r % KEPT);
		tag_check(kept[k], kept_size[k], (uint64_t)(r >= KEPT ? r - KEPT + 1000000 : (long)k));
		free(kept[k]);
		kept_size[k] = pick_size(&w->rng);
		kept[k] = xmalloc(kept_size[k]);
		tag_fill(kept[k], kept_size[k], (uint64_t)r + 1000000);
		malloc_trim(0);
	}
	for (int i = 0; i < KEPT; i++)
		free(kept[i]);
	return NULL;
}

static int bench_main(int threads, double scale)
{
	threads *= 4;
	struct worker *w = xmalloc(sizeof *w * (size_t)threads);
	for (int t = 0; t < threads; t++) {
		w[t].requests = scaled(200000, scale, 200) / threads;
		w[t].rng = rng_seed((uint64_t)t + 70);
		w[t].sum = 0;
	}
	/* glibc's malloc initialised by the program's first call, not by two
	 * threads' at once (trim_often.c). */
	malloc_trim(0);
	run_threads(threads, work, w, sizeof *w);
	free(w);
	printf("trim-requests: ok, %d threads\n", threads);
	return 0;
}
