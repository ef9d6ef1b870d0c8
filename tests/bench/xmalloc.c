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
 *
 * A thread that has to wait sleeps on a condition variable, and is woken
 * by the thread it waits for only when there is room or a half-full
 * inbox to drain. It used to spin on sched_yield() and on both inboxes'
 * mutexes instead: the thread it waited for then found those mutexes
 * held, slept in the kernel on them, fell further behind and kept the
 * spinner spinning. Runs settled either in that state or in one where
 * the two threads took turns on one CPU, 64 batches at a time, and the
 * wall time of one allocator moved 3-5 x from run to run (0.15-0.70 s
 * under jmalloc, 0.15-0.55 under tcmalloc in one quiet run): it timed
 * the scheduler, alike for every allocator (futex calls 800-1500 a run
 * in the slow state, under 10 in the other; sched_yield 25k-230k against
 * the 1,880 of turn-taking).
 */
#include <stdatomic.h>
#include <stdbool.h>
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
	pthread_cond_t room;      /* signalled when drained: its producer waits */
	pthread_cond_t work;      /* half full, or production over: its owner waits */
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
	if (n)
		pthread_cond_signal(&in->room);
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

/* Puts b into the inbox `out`. While it is full, frees the batches of the
 * thread's own inbox, and sleeps when there are none until out's owner
 * drains it. A thread sleeps only with its own inbox just emptied, so
 * the threads of the ring never all sleep: the one that went to sleep
 * last had emptied its predecessor's outbox, which woke it. */
static void send(struct worker *w, struct inbox *out, struct batch *b)
{
	pthread_mutex_lock(&out->lock);
	while (out->queued >= MAX_QUEUED) {
		pthread_mutex_unlock(&out->lock);
		int got = drain(w);
		pthread_mutex_lock(&out->lock);
		if (got == 0 && out->queued >= MAX_QUEUED)
			pthread_cond_wait(&out->room, &out->lock);
	}
	b->next = out->head;
	out->head = b;
	if (++out->queued == MAX_QUEUED / 2)
		pthread_cond_signal(&out->work);
	pthread_mutex_unlock(&out->lock);
}

/* Once the thread has produced its share: frees what arrives, woken
 * when its inbox is half full, until every thread has produced its
 * share (the last one to finish wakes them all). */
static void finish(struct worker *w)
{
	struct inbox *in = &inboxes[w->id];
	if (atomic_fetch_sub(&producing, 1) == 1) {
		for (int t = 0; t < nthreads; t++) {
			pthread_mutex_lock(&inboxes[t].lock);
			pthread_cond_broadcast(&inboxes[t].work);
			pthread_mutex_unlock(&inboxes[t].lock);
		}
	}
	for (;;) {
		drain(w);
		pthread_mutex_lock(&in->lock);
		while (in->queued < MAX_QUEUED / 2 && atomic_load(&producing) > 0)
			pthread_cond_wait(&in->work, &in->lock);
		bool over = atomic_load(&producing) == 0;
		pthread_mutex_unlock(&in->lock);
		if (over)
			break;
	}
	drain(w);
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
		send(w, out, b);
		if ((s & 3) == 0)
			drain(w);
	}
	finish(w);
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
		pthread_cond_init(&inboxes[t].room, NULL);
		pthread_cond_init(&inboxes[t].work, NULL);
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
	for (int t = 0; t < threads; t++) {
		pthread_cond_destroy(&inboxes[t].room);
		pthread_cond_destroy(&inboxes[t].work);
		pthread_mutex_destroy(&inboxes[t].lock);
	}
	free(inboxes);
	free(w);
	printf("xmalloc: ok, %ld objects per thread passed on\n", batches * BATCH);
	return 0;
}
