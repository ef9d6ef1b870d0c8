/*
 * realloc-grow: buffers grown by realloc a step at a time, as string
 * builders, log writers and growing arrays in C do. Each thread keeps 8
 * buffers at once, each growing to its own final size (log uniform, 1 KiB
 * to 16 MiB) by appends of 16..4096 bytes taken in turn, so that no buffer
 * can simply grow into free pages behind it (its neighbour was allocated
 * there). A finished buffer is shrunk to its length (realloc), checked and
 * freed, and a new one starts in its place. Stresses realloc's in-place
 * growth and its moves across the small, large and huge sizes.
 */
#include "bench_main.h"

#define BUFS 8

struct builder {
	unsigned char *p;
	size_t len, want;
	uint64_t tag;
};

struct worker {
	long bytes;          /* bytes to append in all */
	uint64_t rng;
};

static size_t final_size(uint64_t *rng)
{
	/* 2^10 .. 2^24, log uniform. */
	unsigned lg = (unsigned)rng_range(rng, 10, 23);
	return ((size_t)1 << lg) + rng_range(rng, 0, ((size_t)1 << lg) - 1);
}

static void start(struct builder *b, uint64_t *rng, uint64_t tag)
{
	b->p = NULL;
	b->len = 0;
	b->want = final_size(rng);
	b->tag = tag;
}

static void finish(struct builder *b)
{
	unsigned char *q = realloc(b->p, b->len);
	BENCH_CHECK(q != NULL, "realloc(%zu) to shrink returned NULL", b->len);
	for (size_t k = 0; k < b->len; k += 4096)
		BENCH_CHECK(q[k] == (unsigned char)(b->tag + k / 4096),
			    "buffer %p: byte %zu lost in a move", (void *)q, k);
	BENCH_CHECK(q[b->len - 1] == (unsigned char)b->tag, "buffer %p: last byte lost", (void *)q);
	free(q);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct builder b[BUFS];
	uint64_t tag = 0;
	for (int i = 0; i < BUFS; i++)
		start(&b[i], &w->rng, ++tag);
	long left = w->bytes;
	for (int i = 0; left > 0; i = (i + 1) % BUFS) {
		struct builder *x = &b[i];
		size_t add = rng_range(&w->rng, 16, 4096);
		size_t n = x->len + add;
		unsigned char *q = realloc(x->p, n);
		BENCH_CHECK(q != NULL, "realloc(%zu) returned NULL", n);
		memset(q + x->len, (unsigned char)x->tag, add);
		/* One byte per page says which page it is: a move that lost or
		 * shuffled pages is caught when the buffer is finished. */
		for (size_t k = (x->len + 4095) & ~(size_t)4095; k < n; k += 4096)
			q[k] = (unsigned char)(x->tag + k / 4096);
		x->p = q;
		x->len = n;
		left -= (long)add;
		if (x->len >= x->want) {
			finish(x);
			start(x, &w->rng, ++tag);
		}
	}
	for (int i = 0; i < BUFS; i++)
		if (b[i].p)
			finish(&b[i]);
	return NULL;
}

static int bench_main(int threads, double scale)
{
	struct worker *w = xmalloc(sizeof *w * (size_t)threads);
	for (int t = 0; t < threads; t++) {
		w[t].bytes = scaled(6e8, scale, 1 << 20) / threads;
		w[t].rng = rng_seed((uint64_t)t);
	}
	run_threads(threads, work, w, sizeof *w);
	free(w);
	printf("realloc-grow: ok, %d threads\n", threads);
	return 0;
}
