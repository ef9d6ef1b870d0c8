/*
 * rptest: a realistic size distribution with random lifetimes and some
 * cross-thread frees (after rpmalloc's benchmark, "rptest" in
 * mimalloc-bench).
 *
 * Each thread keeps 8192 slots; most operations replace one of the first
 * 512 (short-lived objects), the others any slot (long-lived ones). Sizes:
 * half 16..64 bytes, a quarter 64..256, then 256..1K, 1K..4K and a 2% tail
 * to 16 KiB. Every 256 operations a thread hands 16 of its objects to the
 * next thread, which frees them.
 */
#include "bench_main.h"

#define SLOTS      8192
#define HOT_SLOTS  512
#define HANDOFF    16
#define INBOX_CAP  4096

struct obj {
	void *ptr;
	size_t size;
	uint64_t tag;
};

struct inbox {
	pthread_mutex_t lock;
	int n;
	struct obj objs[INBOX_CAP];
};

struct worker {
	int id;
	long ops;
	uint64_t rng;
	struct obj slots[SLOTS];
};

static int nthreads;
static struct inbox *inboxes;

static size_t obj_size(uint64_t *rng)
{
	uint64_t r = rng_next(rng);
	unsigned p = (unsigned)(r % 100);
	r >>= 8;
	if (p < 50) return 16 + r % 49;
	if (p < 75) return 64 + r % 193;
	if (p < 90) return 256 + r % 769;
	if (p < 98) return 1024 + r % 3073;
	return 4096 + r % 12289;
}

static void obj_new(struct obj *o, uint64_t *rng)
{
	o->size = obj_size(rng);
	o->tag = rng_next(rng);
	o->ptr = xmalloc(o->size);
	tag_fill(o->ptr, o->size, o->tag);
}

static void obj_free(struct obj *o)
{
	if (o->ptr == NULL)
		return;
	tag_check(o->ptr, o->size, o->tag);
	free(o->ptr);
	o->ptr = NULL;
}

static void drain(int id)
{
	struct inbox *in = &inboxes[id];
	struct obj local[INBOX_CAP];
	pthread_mutex_lock(&in->lock);
	int n = in->n;
	memcpy(local, in->objs, sizeof local[0] * (size_t)n);
	in->n = 0;
	pthread_mutex_unlock(&in->lock);
	for (int i = 0; i < n; i++)
		obj_free(&local[i]);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct inbox *out = &inboxes[(w->id + 1) % nthreads];
	for (long i = 0; i < w->ops; i++) {
		uint64_t r = rng_next(&w->rng);
		unsigned s = (r & 3) ? (unsigned)((r >> 8) % HOT_SLOTS) : (unsigned)((r >> 8) % SLOTS);
		obj_free(&w->slots[s]);
		obj_new(&w->slots[s], &w->rng);
		if ((i & 255) == 255) {
			pthread_mutex_lock(&out->lock);
			for (int k = 0; k < HANDOFF && out->n < INBOX_CAP; k++) {
				unsigned j = (unsigned)(rng_next(&w->rng) % SLOTS);
				if (w->slots[j].ptr != NULL) {
					out->objs[out->n++] = w->slots[j];
					w->slots[j].ptr = NULL;
				}
			}
			pthread_mutex_unlock(&out->lock);
			drain(w->id);
		}
	}
	return NULL;
}

static int bench_main(int threads, double scale)
{
	nthreads = threads;
	long ops = scaled(6000000, scale, 1000);
	inboxes = xmalloc(sizeof *inboxes * (size_t)threads);
	struct worker *w = xmalloc(sizeof *w * (size_t)threads);
	for (int t = 0; t < threads; t++) {
		pthread_mutex_init(&inboxes[t].lock, NULL);
		inboxes[t].n = 0;
		w[t].id = t;
		w[t].ops = ops;
		w[t].rng = rng_seed((uint64_t)t + 11);
		for (int s = 0; s < SLOTS; s++)
			w[t].slots[s].ptr = NULL;
	}
	run_threads(threads, work, w, sizeof *w);
	for (int t = 0; t < threads; t++) {
		drain(t);
		for (int s = 0; s < SLOTS; s++)
			obj_free(&w[t].slots[s]);
	}
	free(inboxes);
	free(w);
	printf("rptest: ok, %ld operations per thread\n", ops);
	return 0;
}
