/*
 * The thread cache's allocation streams (tcache.c, stream_grow), in a
 * process of its own (test build: jm_ names only): its main thread is the
 * only thread and its caches have not grown, whatever the other unit
 * tests did to theirs. A class allocated with no free of it between fills
 * doubles its capacity at each fill, up to 32 KiB of regions, and each
 * fill takes half of it; one free of the class between two fills, or a
 * second thread alive, and the capacity stays. A teardown (more regions
 * of a class freed without an allocation than its list could ever hold)
 * in random order takes the list down to JM_TCACHE_DRAIN_REGS; one in
 * order, or a batch that fits, keeps it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"
#include "jmalloc.h"

enum { N = 2000 };

/* Allocates N - 1 regions of class b after v[0] (its first, which boots
 * the cache if needed), the list emptied first; after each fill, frees
 * one region of the class when free_between. Returns the capacity after
 * the first fill in the loop, and in *last after the last one; asserts
 * that each fill took half the capacity and that it at most doubled. */
static uint32_t stream(unsigned b, void **v, bool free_between, uint32_t *last, unsigned *fills)
{
	const struct jm_bin_info *bi = &jm__bin_info[b];
	v[0] = jm_malloc(bi->size);
	struct jmstat_tcache_bin *tb = &jm__tls_tbins[b];
	assert_int_equal(tb->ncached_max, bi->tcache_max);   /* premise: not grown before */
	jm__tcache_flush_some(tb, b, 0);
	uint32_t max = tb->ncached_max, first = 0;
	*fills = 0;
	for (unsigned i = 1; i < N; i++) {
		bool empty = jm__tb_ncached(tb) == 0;
		v[i] = jm_malloc(bi->size);
		if (!empty)
			continue;
		assert_true(tb->ncached_max == max || tb->ncached_max == 2 * max);
		max = tb->ncached_max;
		assert_int_equal(jm__tb_ncached(tb) + 1, max / 2);
		if ((*fills)++ == 0)
			first = max;
		if (free_between)
			jm_free(jm_malloc(bi->size));
	}
	*last = max;
	return first;
}

static void free_all(void **v)
{
	for (unsigned i = 0; i < N; i++)
		jm_free(v[i]);
}

/* 80 B: from 64 regions (5 KiB) to 256 (20 KiB), not 512 (40 KiB). */
static void test_stream_grows(void **state)
{
	(void)state;
	void **v = calloc(N, sizeof(void *));
	jm_free(jm_malloc(1));
	assert_int_equal(jm__arena_live_threads(), 1);   /* premise */
	unsigned b = jm__size2bin(80), fills;
	uint32_t last;
	stream(b, v, false, &last, &fills);
	assert_int_equal(jm__bin_info[b].tcache_max, 64);
	assert_int_equal(last, 256);
	assert_true(fills >= 4);
	free_all(v);
	assert_int_equal(jm__heap_validate(), 0);
	free(v);
}

/* 112 B (64 regions, 7 KiB; a stream's would grow to 256): a free of the
 * class after each fill, and the capacity stays what the first fill
 * left. */
static void test_free_between_keeps(void **state)
{
	(void)state;
	void **v = calloc(N, sizeof(void *));
	unsigned b = jm__size2bin(112), fills;
	assert_true(4 * jm__bin_info[b].tcache_max * jm__bin_info[b].size <= 32 * 1024);
	uint32_t last, first = stream(b, v, true, &last, &fills);
	assert_true(fills >= 4);
	assert_int_equal(last, first);
	free_all(v);
	assert_int_equal(jm__heap_validate(), 0);
	free(v);
}

/* A teardown: 20000 regions of `size` allocated (a stream: the list
 * grows to 2048), then freed, in random order if `shuffled`, else in the
 * order of allocation. Returns the largest capacity the list had while
 * they were freed; *tbp is the list. */
static uint32_t teardown(size_t size, bool shuffled, struct jmstat_tcache_bin **tbp)
{
	enum { M = 20000 };
	void **v = calloc(M, sizeof(void *));
	struct jmstat_tcache_bin *tb = &jm__tls_tbins[jm__size2bin(size)];
	for (unsigned i = 0; i < M; i++)
		v[i] = jm_malloc(size);
	uint64_t x = 12345;
	for (unsigned i = M - 1; shuffled && i > 0; i--) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		unsigned j = (unsigned)((x >> 33) % (i + 1));
		void *t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
	uint32_t most = 0;
	for (unsigned i = 0; i < M; i++) {
		jm_free(v[i]);
		if (tb->ncached_max > most)
			most = tb->ncached_max;
	}
	free(v);
	*tbp = tb;
	return most;
}

/* A teardown of 16 B at random (tcache.c, jm__tcache_free_full): the
 * list grows to its hard maximum at the first full list, and once the
 * thread freed more than that without allocating, it keeps
 * JM_TCACHE_DRAIN_REGS: a flush walks the list through regions freed
 * long before (4096 at random: every line and TLB entry evicted). */
static void test_teardown_drains(void **state)
{
	(void)state;
	struct jmstat_tcache_bin *tb;
	uint32_t most = teardown(16, true, &tb);
	assert_int_equal(most, jm__bin_info[jm__size2bin(16)].tcache_hard_max);
	assert_int_equal(tb->ncached_max, JM_TCACHE_DRAIN_REGS);
	assert_true(jm__tb_ncached(tb) <= JM_TCACHE_DRAIN_REGS);
	assert_int_equal(jm__heap_validate(), 0);
}

/* The same teardown in the order of allocation (32 B): the regions a
 * flush takes are neighbours, many to a run, and the list keeps its
 * capacity. */
static void test_teardown_in_order_keeps(void **state)
{
	(void)state;
	struct jmstat_tcache_bin *tb;
	uint32_t most = teardown(32, false, &tb);
	assert_true(most > JM_TCACHE_DRAIN_REGS);
	assert_int_equal(tb->ncached_max, most);
	assert_int_equal(jm__heap_validate(), 0);
}

/* Batches of 3000 regions of 48 B allocated and freed, 8 times: fewer
 * than the list's hard maximum (4096), so that its capacity grows to
 * hold a batch, and is not taken down as a teardown's is. */
static void test_batch_keeps(void **state)
{
	(void)state;
	enum { B = 3000 };
	void **v = calloc(B, sizeof(void *));
	unsigned b = jm__size2bin(48);
	assert_true(jm__bin_info[b].tcache_hard_max > B);   /* premise */
	struct jmstat_tcache_bin *tb = &jm__tls_tbins[b];
	for (unsigned r = 0; r < 8; r++) {
		for (unsigned i = 0; i < B; i++)
			v[i] = jm_malloc(48);
		for (unsigned i = 0; i < B; i++)
			jm_free(v[i]);
	}
	assert_true(tb->ncached_max >= B);
	assert_int_equal(jm__heap_validate(), 0);
	free(v);
}

/* 96 B with a second thread alive (waiting on a pipe): the capacity
 * stays at 64. */
static void *wait_on(void *arg)
{
	char c;
	jm_free(jm_malloc(1));   /* a thread of the allocator's */
	(void)!read(*(int *)arg, &c, 1);
	return NULL;
}

static void test_other_thread_keeps(void **state)
{
	(void)state;
	int fd[2];
	assert_int_equal(pipe(fd), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, wait_on, &fd[0]), 0);
	while (jm__arena_live_threads() < 2)
		usleep(1000);
	void **v = calloc(N, sizeof(void *));
	unsigned b = jm__size2bin(96), fills;
	uint32_t last, first = stream(b, v, false, &last, &fills);
	assert_true(fills >= 4);
	assert_int_equal(first, jm__bin_info[b].tcache_max);
	assert_int_equal(last, first);
	assert_int_equal(write(fd[1], "x", 1), 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	free_all(v);
	assert_int_equal(jm__heap_validate(), 0);
	free(v);
	close(fd[0]);
	close(fd[1]);
}

int main(void)
{
	setenv("JMALLOC_CONF", "prof_sample:0,background_thread:0", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_grows),
		cmocka_unit_test(test_free_between_keeps),
		cmocka_unit_test(test_teardown_drains),
		cmocka_unit_test(test_teardown_in_order_keeps),
		cmocka_unit_test(test_batch_keeps),
		cmocka_unit_test(test_other_thread_keeps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
