/*
 * The background purger's deferred first start (bg.c, docs/purging.md):
 * due once the arenas hold 4 MiB dirty, the region being freed counted,
 * or decay_ms after the first look (10 minutes here: never within this
 * test). Before session 38 every free that made pages dirty asked the
 * next free to look (every arena's dirty bytes, the clock, two fences):
 * 16 threads freeing buffers paid 9-12% of their CPU for it (the probe
 * bufworkers). Now a look is asked for once the bytes counted since the
 * last one could make the start due, at most 1 MiB on (START_LOOK_MAX).
 * In its own program: the other unit tests run without the purger.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "jmalloc.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

/* A region of 256 KiB freed and taken again 100 times (the arena's dirty
 * bytes never above 256 KiB): 25 MiB counted, a look at most every 1 MiB
 * of it (and the first). Before: a look at every free after the first
 * (100). The purger does not start: 4 MiB are never dirty at once. */
static void test_looks_counted(void **state)
{
	(void)state;
	char *q = jm_malloc(256 * KIB);
	assert_non_null(q);
	memset(q, 1, 256 * KIB);
	jm_free(q);   /* the first look */
	unsigned long looks = atomic_load(&jm__bg_looks);
	for (int i = 0; i < 100; i++) {
		q = jm_malloc(256 * KIB);
		assert_non_null(q);
		q[0] = 1;
		jm_free(q);
	}
	unsigned long n = atomic_load(&jm__bg_looks) - looks;
	assert_true(jm__bg_dirty_now() < 4 * MIB);
	assert_false(jm__bg_running());
	if (n > 100 * 256 / 1024 + 1)
		fail_msg("%lu looks at the arenas for 100 frees of 256 KiB (at most %u)", n,
		    100 * 256 / 1024 + 1);
	assert_true(n >= 1);
	assert_int_equal(jm__heap_validate(), 0);
}

/* The start at the free that brings the arenas to 4 MiB dirty, the region
 * it frees counted, however far the counted bytes are from the next look:
 * 3 MiB of large regions freed, then a huge region of 2 MiB. */
static void test_start_at_the_free(void **state)
{
	(void)state;
	enum { N = 12 };
	char *r[N];
	for (int i = 0; i < N; i++) {
		r[i] = jm_malloc(256 * KIB);
		assert_non_null(r[i]);
		memset(r[i], 2, 256 * KIB);
	}
	char *big = jm_malloc(2 * MIB);
	assert_non_null(big);
	memset(big, 3, 2 * MIB);
	for (int i = 0; i < N; i++)
		jm_free(r[i]);
	uint64_t dirty = jm__bg_dirty_now();
	assert_true(dirty >= 3 * MIB);
	assert_true(dirty < 4 * MIB);
	assert_false(jm__bg_running());
	jm_free(big);
	assert_true(jm__bg_running());
	assert_int_equal(jm__heap_validate(), 0);
}

int main(void)
{
	/* No thread cache: the frees reach their arena at once. */
	setenv("JMALLOC_CONF", "prof_sample:0,background_thread:1,tcache:0,decay_ms:600000", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_looks_counted),
		cmocka_unit_test(test_start_at_the_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
