/*
 * The class tables (sizeclass.c) against a thread's first malloc while
 * another thread initialises the allocator (test build: jm_ names only;
 * its own program, the allocator unused before it starts). malloc's fast
 * path looks the size's class up before it knows the allocator is
 * initialised (a thread without a cache then takes the slow path, which
 * waits for it); the tables' plain stores and loads were a data race,
 * undefined, which ThreadSanitizer reported. Here thread B's first
 * mallocs follow the main thread's initialisation with no ordering
 * between them (B waits on a relaxed flag, which orders nothing for
 * TSan): built with -fsanitize=thread, the old tables' loads were
 * reported at every run (3 of 3: malloc_body's read of
 * jm__size2tbin_direct, jm__sizeclass_init's write); now they are relaxed
 * atomics (none in 3 runs).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <sched.h>

#include "internal.h"
#include "jmalloc.h"

static int go;

static void *first_mallocs(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&go, __ATOMIC_RELAXED))
		sched_yield();
	static const size_t sizes[] = { 1, 48, 1000, 2000, 30000 };
	bool ok = true;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *p = jm_malloc(sizes[i]);
		ok = ok && p != NULL && jm_malloc_usable_size(p) >= sizes[i];
		jm_free(p);
	}
	return ok ? (void *)1 : NULL;
}

static void classes_at_first_malloc(void **state)
{
	(void)state;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, first_mallocs, NULL), 0);
	void *p = jm_malloc(16);         /* the initialisation */
	assert_non_null(p);
	__atomic_store_n(&go, 1, __ATOMIC_RELAXED);
	void *ok;
	assert_int_equal(pthread_join(t, &ok), 0);
	assert_non_null(ok);
	jm_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(classes_at_first_malloc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
