/*
 * teardown: a big heap of tiny objects taken down in random order, as a
 * program frees a hash table, a tree or a parsed document of short
 * strings and small nodes. Per thread, each round allocates 1M objects
 * of 1..16 bytes (uniform), all live at once, then frees them in a
 * random order (a shuffled array of the pointers); 2 rounds. Every
 * region a flush returns is in another run than the one before it, so
 * what the allocator keeps per region (its page's record, its run's
 * bitmap, the region's own link) is a cache miss each time
 * (docs/programs.md, "Probes outside make bench": 1.9 x mimalloc's CPU
 * time in session 10's probe).
 */
#include "bench_main.h"

struct worker {
	long objs;
	long rounds;
	uint64_t rng;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned char **obj = xmalloc(sizeof *obj * (size_t)w->objs);
	unsigned char *size = xmalloc((size_t)w->objs);
	uint32_t *order = xmalloc(sizeof *order * (size_t)w->objs);
	for (long r = 0; r < w->rounds; r++) {
		for (long i = 0; i < w->objs; i++) {
			size[i] = (unsigned char)rng_range(&w->rng, 1, 16);
			obj[i] = xmalloc(size[i]);
			tag_fill(obj[i], size[i], (uint64_t)i);
			order[i] = (uint32_t)i;
		}
		for (long i = w->objs - 1; i > 0; i--) {  /* Fisher-Yates */
			long j = (long)(rng_next(&w->rng) % (uint64_t)(i + 1));
			uint32_t t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		for (long k = 0; k < w->objs; k++) {
			uint32_t i = order[k];
			tag_check(obj[i], size[i], i);
			free(obj[i]);
		}
	}
	free(obj);
	free(size);
	free(order);
	return NULL;
}

static int bench_main(int threads, double scale)
{
	long objs = scaled(1000000, scale, 1000);
	struct worker *w = xmalloc(sizeof *w * (size_t)threads);
	for (int t = 0; t < threads; t++)
		w[t] = (struct worker){ .objs = objs, .rounds = 2, .rng = rng_seed((uint64_t)t + 11) };
	run_threads(threads, work, w, sizeof *w);
	free(w);
	printf("teardown: ok, %ld objects a round per thread\n", objs);
	return 0;
}
