/*
 * Unit tests of frees from another thread than the allocating one (test
 * build: jm_ names only, internals reachable): each live thread has an
 * arena of its own, a region of another arena is not handed out again by
 * the thread that freed it (passive false sharing: cache-scratch) but goes
 * back to its arena's stash in a batch, which the arena's next cache fill
 * takes whole; the counts stay exact. Each test ends with the heap
 * validator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "jmalloc.h"

static struct jm_arena *arena_of(const void *p)
{
	return ((struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK))->arena;
}

/* ------------------------------------------------- an arena per thread */

static pthread_barrier_t both_chose;
static void *choose(void *arg)
{
	jm_free(jm_malloc(16));
	*(struct jm_arena **)arg = jm__thread_arena();
	pthread_barrier_wait(&both_chose);
	return NULL;
}

/* Two live threads and the main one have three arenas (there are at least
 * 4: 4 per CPU); with the arena picked by a hash of the thread id, two of
 * them often shared one. */
static void test_arena_per_thread(void **state)
{
	(void)state;
	struct jm_arena *main_arena = jm__thread_arena(), *got[2];
	pthread_t t[2];
	assert_true(jm__narenas >= 3);
	assert_int_equal(pthread_barrier_init(&both_chose, NULL, 2), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, choose, &got[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&both_chose);
	assert_ptr_not_equal(got[0], got[1]);
	assert_ptr_not_equal(got[0], main_arena);
	assert_ptr_not_equal(got[1], main_arena);
	assert_int_equal(jm__heap_validate(), 0);
}

/* ---------------------------------------- no foreign region handed out */

struct scratch {
	void *given;
	void *got;
	struct jm_arena *arena;
};
static void *free_given_then_malloc(void *arg)
{
	struct scratch *s = arg;
	jm_free(s->given);
	s->got = jm_malloc(1);
	s->arena = jm__thread_arena();
	jm_free(s->got);
	return NULL;
}

/* cache-scratch: the main thread's region freed by a thread that then
 * allocates the same size; the thread used to get that region back from
 * its cache (LIFO), and write next to the main thread's regions. */
static void test_foreign_not_handed_out(void **state)
{
	(void)state;
	struct scratch s = { .given = jm_malloc(1) };
	void *neighbour = jm_malloc(1);
	assert_non_null(s.given);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, free_given_then_malloc, &s), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_ptr_not_equal(s.arena, jm__thread_arena());  /* premise */
	assert_ptr_not_equal(s.got, s.given);
	assert_ptr_equal(arena_of(s.got), s.arena);
	jm_free(neighbour);
	assert_int_equal(jm__heap_validate(), 0);
}

/* ------------------------------------------- batches back to the stash */

struct sendback {
	void **p;
	unsigned n;
	uint32_t nstash_after;    /* the home bin's batches after the frees */
	uint64_t curregs_after;
	struct jm_bin *bin;
	void *got;                /* adopt: what the thread's malloc gave */
	size_t size;
};
static void *free_all(void *arg)
{
	struct sendback *s = arg;
	jm_free(jm_malloc(16));   /* a cache */
	for (unsigned i = 0; i < s->n; i++)
		jm_free(s->p[i]);
	s->nstash_after = s->bin->nstash;
	s->curregs_after = s->bin->stats->curregs;
	if (s->size) {
		s->got = jm_malloc(s->size);
		jm_free(s->got);
	}
	return NULL;
}

/* A full batch of one class freed by another thread goes to its bin's
 * stash whole: the bin counts the regions free at once (allocated stays
 * exact), the validator finds them, and the home thread's next fill of
 * that class takes the batch. */
static void test_batch_to_stash(void **state)
{
	(void)state;
	unsigned b = jm__size2bin(64);
	unsigned n = jm__bin_info[b].tcache_max;
	struct jm_arena *home = jm__thread_arena();
	struct sendback s = { .p = malloc(n * sizeof(void *)), .n = n, .bin = &home->bins[b] };
	for (unsigned i = 0; i < n; i++)
		assert_non_null(s.p[i] = jm_malloc(64));
	jm__tcache_flush_all_current();
	uint32_t nstash = s.bin->nstash;
	uint64_t curregs = s.bin->stats->curregs;
	assert_true(nstash < JM_BIN_STASH);   /* premise: room */
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, free_all, &s), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(s.nstash_after, nstash + 1);
	assert_int_equal(s.curregs_after, curregs - n);
	assert_int_equal(jm__heap_validate(), 0);
	/* The next fill of this thread's empty list takes the last batch. */
	void *q = jm_malloc(64);
	assert_int_equal(s.bin->nstash, nstash);
	bool found = false;
	for (unsigned i = 0; i < n; i++)
		found |= s.p[i] == q;
	assert_true(found);
	jm_free(q);
	jm__tcache_flush_all_current();
	free(s.p);
	assert_int_equal(jm__heap_validate(), 0);
}

/* Fewer than a batch but a quarter of one freed by a thread of another
 * arena: that thread's empty list of the class takes them over (its
 * working set now), and none went to the stash. */
static void test_adopt(void **state)
{
	(void)state;
	unsigned b = jm__size2bin(96);
	unsigned n = jm__bin_info[b].tcache_max / 2;
	struct jm_arena *home = jm__thread_arena();
	struct sendback s = { .p = malloc(n * sizeof(void *)), .n = n, .bin = &home->bins[b],
	                      .size = 96 };
	for (unsigned i = 0; i < n; i++)
		assert_non_null(s.p[i] = jm_malloc(96));
	uint32_t nstash = s.bin->nstash;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, free_all, &s), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(s.nstash_after, nstash);
	bool found = false;
	for (unsigned i = 0; i < n; i++)
		found |= s.p[i] == s.got;
	assert_true(found);
	free(s.p);
	assert_int_equal(jm__heap_validate(), 0);
}

int main(void)
{
	setenv("JMALLOC_CONF", "prof_sample:0,background_thread:0", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena_per_thread),
		cmocka_unit_test(test_foreign_not_handed_out),
		cmocka_unit_test(test_batch_to_stash),
		cmocka_unit_test(test_adopt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
