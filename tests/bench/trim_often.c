/*
 * trim-often: a program that hands memory back with malloc_trim(0) after
 * every bit of work, as programs tuned for glibc's malloc do (servers
 * after each request, language runtimes after a collection, stress-ng's
 * malloc stressor about every 30 operations). Under an allocator that
 * honours the call, each one costs what a purge of everything dirty
 * costs, and the next request faults those pages in again; the anchors
 * that do not define malloc_trim (jemalloc, tcmalloc, mimalloc) leave
 * glibc's to trim its own empty heap.
 *
 * Each thread keeps 512 slots; a request is 48 operations on random
 * slots: an empty slot gets malloc or calloc of 16 bytes to 32 KiB (log
 * uniform), its pages touched; a full one is checked and either freed or
 * reallocated to a new size. After each request the thread calls
 * malloc_trim(0); 50000 x SCALE requests in all (glibc's trim walks its
 * whole heap: 14 s there, against 0.1 s for mimalloc, which does not
 * define it). Found by running stress-ng --malloc under every
 * allocator (2.1 x the best anchor's CPU time, 3.2 x its page faults).
 */
#include "bench_main.h"

#include <malloc.h>

#define SLOTS 512
#define OPS_PER_REQUEST 48

struct slot {
	unsigned char *p;
	size_t size;
	uint64_t tag;
};

struct worker {
	long requests;
	uint64_t rng;
	long trimmed;        /* how many calls returned 1 (not printed) */
};

static size_t pick_size(uint64_t *rng)
{
	unsigned lg = (unsigned)rng_range(rng, 4, 14);
	return ((size_t)1 << lg) + rng_range(rng, 0, ((size_t)1 << lg) - 1);
}

static void touch(struct slot *s)
{
	for (size_t k = 4096; k < s->size; k += 4096)
		s->p[k] = (unsigned char)s->tag;
	tag_fill(s->p, s->size, s->tag);
}

static void check(const struct slot *s)
{
	tag_check(s->p, s->size, s->tag);
	for (size_t k = 4096; k + 1 < s->size; k += 4096)
		BENCH_CHECK(s->p[k] == (unsigned char)s->tag, "object %p: byte %zu lost", (void *)s->p, k);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct slot *slots = calloc(SLOTS, sizeof *slots);
	BENCH_CHECK(slots != NULL, "calloc of the slots returned NULL");
	uint64_t tag = 0;
	for (long r = 0; r < w->requests; r++) {
		for (int op = 0; op < OPS_PER_REQUEST; op++) {
			struct slot *s = &slots[rng_next(&w->rng) % SLOTS];
			uint64_t choice = rng_next(&w->rng);
			if (s->p == NULL) {
				s->size = pick_size(&w->rng);
				s->tag = ++tag;
				if (choice & 1) {
					s->p = calloc(1, s->size);
					BENCH_CHECK(s->p != NULL, "calloc(%zu) returned NULL", s->size);
					for (size_t k = 0; k < s->size; k += 4096)
						BENCH_CHECK(s->p[k] == 0, "calloc(%zu): byte %zu not 0", s->size, k);
				} else {
					s->p = xmalloc(s->size);
				}
				touch(s);
			} else if (choice & 2) {
				check(s);
				free(s->p);
				s->p = NULL;
			} else {
				check(s);
				size_t n = pick_size(&w->rng);
				unsigned char *q = realloc(s->p, n);
				BENCH_CHECK(q != NULL, "realloc(%zu) returned NULL", n);
				s->p = q;
				s->size = n;
				s->tag = ++tag;
				touch(s);
			}
		}
		w->trimmed += malloc_trim(0);
	}
	for (int i = 0; i < SLOTS; i++)
		if (slots[i].p) {
			check(&slots[i]);
			free(slots[i].p);
		}
	free(slots);
	return NULL;
}

static int bench_main(int threads, double scale)
{
	struct worker *w = xmalloc(sizeof *w * (size_t)threads);
	for (int t = 0; t < threads; t++) {
		w[t].requests = scaled(50000, scale, 20) / threads;
		w[t].rng = rng_seed((uint64_t)t + 40);
		w[t].trimmed = 0;
	}
	/*
	 * The first call to glibc's malloc_trim initialises glibc's malloc;
	 * under an allocator that does not define malloc_trim, two threads
	 * making that first call at once race in glibc's initialisation and
	 * crash now and then (tcmalloc: SIGSEGV in about 1 run in 100). One
	 * call here, before the threads, makes that the program's own.
	 */
	malloc_trim(0);
	run_threads(threads, work, w, sizeof *w);
	free(w);
	printf("trim-often: ok, %d threads\n", threads);
	return 0;
}
