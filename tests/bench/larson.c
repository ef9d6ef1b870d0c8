/*
 * larson: a server whose objects are allocated by one thread and freed by
 * another (after Larson and Krishnan, "Memory allocation for long-running
 * server applications", as in mimalloc-bench: sizes 8..1000, 5000 slots per
 * thread).
 *
 * Each of THREADS threads owns an array of slots. In every round a fresh
 * set of threads is started and thread i works on the array that thread
 * i-1 filled in the previous round, so most frees are of objects another
 * (now finished) thread allocated. Each operation frees a random slot and
 * refills it with a random size.
 */
#include "bench_main.h"

#define SLOTS     5000
#define MIN_SIZE  8
#define MAX_SIZE  1000

struct slot {
	void *ptr;
	size_t size;
	uint64_t tag;
};

struct worker {
	struct slot *slots;  /* the array this thread works on in this round */
	long ops;
	uint64_t rng;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	for (long i = 0; i < w->ops; i++) {
		struct slot *s = &w->slots[rng_next(&w->rng) % SLOTS];
		tag_check(s->ptr, s->size, s->tag);
		free(s->ptr);
		s->size = rng_range(&w->rng, MIN_SIZE, MAX_SIZE);
		s->tag = rng_next(&w->rng);
		s->ptr = xmalloc(s->size);
		tag_fill(s->ptr, s->size, s->tag);
	}
	return NULL;
}

static int bench_main(int threads, double scale)
{
	long rounds = scaled(30, scale > 1 ? scale : 1, 1);
	long ops = scaled(200000, scale < 1 ? scale : 1, 100);

	struct slot **arrays = xmalloc(sizeof *arrays * (size_t)threads);
	uint64_t rng = rng_seed(1);
	for (int t = 0; t < threads; t++) {
		arrays[t] = xmalloc(sizeof(struct slot) * SLOTS);
		for (int i = 0; i < SLOTS; i++) {
			struct slot *s = &arrays[t][i];
			s->size = rng_range(&rng, MIN_SIZE, MAX_SIZE);
			s->tag = rng_next(&rng);
			s->ptr = xmalloc(s->size);
			tag_fill(s->ptr, s->size, s->tag);
		}
	}
	struct worker *w = xmalloc(sizeof *w * (size_t)threads);
	for (long r = 0; r < rounds; r++) {
		for (int t = 0; t < threads; t++) {
			w[t].slots = arrays[(t + r) % threads];
			w[t].ops = ops;
			w[t].rng = rng_seed((uint64_t)(r * 1000 + t));
		}
		run_threads(threads, work, w, sizeof *w);
	}
	for (int t = 0; t < threads; t++) {
		for (int i = 0; i < SLOTS; i++) {
			tag_check(arrays[t][i].ptr, arrays[t][i].size, arrays[t][i].tag);
			free(arrays[t][i].ptr);
		}
		free(arrays[t]);
	}
	free(arrays);
	free(w);
	printf("larson: ok, %ld rounds of %ld ops per thread\n", rounds, ops);
	return 0;
}
