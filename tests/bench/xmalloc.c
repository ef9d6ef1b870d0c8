/*
 * xmalloc: producer/consumer (after xmalloc-test by Lever and Boreham, as
 * in mimalloc-bench): every object is freed by a thread other than the one
 * that allocated it.
 *
 * THREADS threads (at least 2) stand in a ring. Each allocates batches of
 * small objects (8..128 bytes), hands every batch to the next thread's
 * inbox and frees whatever batches arrive in its own inbox. An inbox that
 * holds too many batches makes its producer drain its own inbox and wait,
 * which bounds the memory in flight.
 */
#include <sched.h>
#include <stdatomic.h>
#include "bench_main.h"

#define BATCH      100
#define MAX_QUEUED 64
#define MIN_SIZE   8
#define MAX_SIZE   128

struct batch {
	struct batch *next;
	int producer;
	long seq;
	void *obj[BATCH];
	unsigned short size[BATCH];
};

struct inbox {
	pthread_mutex_t lock;
	struct batch *head;
	int queued;
	char pad[64];
};

struct worker {
	int id;
	long batches;       /* to produce */
	long consumed;      /* objects freed */
	uint64_t rng;
};

static int nthreads;
static struct inbox *inboxes;
static atomic_int producing;

static uint64_t obj_tag(int producer, long seq, int i)
{
	return ((uint64_t)producer << 48) ^ ((uint64_t)seq << 8) ^ (uint64_t)i;
}

/* Frees every batch in inbox `id`; returns how many there were. */
static int drain(struct worker *w)
{
	struct inbox *in = &inboxes[w->id];
	pthread_mutex_lock(&in->lock);
	struct batch *b = in->head;
	in->head = NULL;
	int n = in->queued;
	in->queued = 0;
	pthread_mutex_unlock(&in->lock);
	while (b != NULL) {
		struct batch *next = b->next;
		for (int i = 0; i < BATCH; i++) {
			tag_check(b->obj[i], b->size[i], obj_tag(b->producer, b->seq, i));
			free(b->obj[i]);
		}
		w->consumed += BATCH;
		free(b);
		b = next;
	}
	return n;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct inbox *out = &inboxes[(w->id + 1) % nthreads];
	for (long s = 0; s < w->batches; s++) {
		struct batch *b = xmalloc(sizeof *b);
		b->producer = w->id;
		b->seq = s;
		for (int i = 0; i < BATCH; i++) {
			size_t size = rng_range(&w->rng, MIN_SIZE, MAX_SIZE);
			b->size[i] = (unsigned short)size;
			b->obj[i] = xmalloc(size);
			tag_fill(b->obj[i], size, obj_tag(w->id, s, i));
		}
		for (;;) {
			pthread_mutex_lock(&out->lock);
			int full = out->queued >= MAX_QUEUED;
			if (!full) {
				b->next = out->head;
				out->head = b;
				out->queued++;
			}
			pthread_mutex_unlock(&out->lock);
			if (!full)
				break;
			if (drain(w) == 0)
				sched_yield();
		}
		if ((s & 3) == 0)
			drain(w);
	}
	atomic_fetch_sub(&producing, 1);
	while (atomic_load(&producing) > 0) {
		if (drain(w) == 0)
			sched_yield();
	}
	drain(w);
	return NULL;
}

static int bench_main(int threads, double scale)
{
	if (threads < 2)
		threads = 2;
	nthreads = threads;
	long batches = scaled(60000, scale, 10);

	inboxes = xmalloc(sizeof *inboxes * (size_t)threads);
	struct worker *w = xmalloc(sizeof *w * (size_t)threads);
	for (int t = 0; t < threads; t++) {
		pthread_mutex_init(&inboxes[t].lock, NULL);
		inboxes[t].head = NULL;
		inboxes[t].queued = 0;
		w[t] = (struct worker){ .id = t, .batches = batches, .rng = rng_seed((uint64_t)t) };
	}
	atomic_store(&producing, threads);
	run_threads(threads, work, w, sizeof *w);
	long consumed = 0;
	for (int t = 0; t < threads; t++)
		consumed += w[t].consumed;
	BENCH_CHECK(consumed == (long)threads * batches * BATCH,
		    "freed %ld objects, allocated %ld", consumed, (long)threads * batches * BATCH);
	free(inboxes);
	free(w);
	printf("xmalloc: ok, %ld objects per thread passed on\n", batches * BATCH);
	return 0;
}
