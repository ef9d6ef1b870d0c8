/*
 * The background purger's wake (bg.c), in its own small program: the
 * other unit tests run without the purger (test build: jm_ names only).
 *
 * The purger looks at every arena, and, finding nothing dirty, sleeps
 * without a timeout until a free makes pages dirty where there were none
 * (jm__bg_dirtied). A free that lands between its look and its sleep
 * found it not asleep, and its kick was dropped: the purger slept for
 * ever, and an idle process kept what it freed (docs/purging.md, "The
 * background purger"). Here the purger is held right after a look that
 * found nothing dirty (jm__test_bg_looked), the main thread frees a
 * region into its clean arena, then the purger goes on: those pages must
 * be purged within 2 x decay_ms (the documented bound), checked with a
 * generous margin (20 x). On the old code they are never purged.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "jmalloc.h"

#define DECAY_MS 200

static void validate(void)
{
	assert_int_equal(jm__heap_validate(), 0);
}

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hook_cond = PTHREAD_COND_INITIALIZER;
/* 0: pass; 1: hold the next look that found nothing dirty once the 8 MiB
 * freed below have been freed and purged (the purger's first look may
 * come before that free lands); 2: held; 3: released. */
static int phase;
static bool big_freed;

static void looked(bool dirty)
{
	pthread_mutex_lock(&hook_lock);
	if (phase == 1 && !dirty && big_freed && jm__bg_dirty_now() == 0) {
		phase = 2;
		pthread_cond_broadcast(&hook_cond);
		while (phase != 3)
			pthread_cond_wait(&hook_cond, &hook_lock);
	}
	pthread_mutex_unlock(&hook_lock);
}

/* The purger, as it starts: not scheduled for 50 ms (a loaded machine),
 * so that its starter's wait for its name (10 ms at a time) runs out. */
static void naming_late(void)
{
	usleep(50 * 1000);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_dirtied_between_look_and_sleep(void **state)
{
	(void)state;
	__atomic_store_n(&jm__test_bg_looked, looked, __ATOMIC_RELEASE);
	/* A large region to free at the moment (256 KiB: a run of the
	 * arena's, no thread cache here), and 8 MiB whose free starts the
	 * purger (4 MiB dirty at once). */
	char *q = jm_malloc(256 << 10);
	assert_non_null(q);
	memset(q, 1, 256 << 10);
	char *big = jm_malloc(8 << 20);
	assert_non_null(big);
	memset(big, 1, 8 << 20);
	pthread_mutex_lock(&hook_lock);
	phase = 1;
	pthread_mutex_unlock(&hook_lock);
	/* The free that starts the purger leaves errno as it was, however
	 * long the purger takes to name itself: it returned ETIMEDOUT
	 * (api_malloc's test_free_null, under load). */
	jm__test_bg_naming = naming_late;
	errno = 1234;
	jm_free(big);
	assert_int_equal(errno, 1234);
	jm__test_bg_naming = NULL;
	pthread_mutex_lock(&hook_lock);
	big_freed = true;
	pthread_mutex_unlock(&hook_lock);
	assert_true(jm__bg_running());
	/* The purger gives the 8 MiB back within decay_ms; its next look
	 * finds nothing dirty and is held. */
	uint64_t until = now_ms() + 20 * DECAY_MS;
	pthread_mutex_lock(&hook_lock);
	while (phase != 2 && now_ms() < until) {
		pthread_mutex_unlock(&hook_lock);
		usleep(5000);
		pthread_mutex_lock(&hook_lock);
	}
	int held = phase;
	pthread_mutex_unlock(&hook_lock);
	assert_int_equal(held, 2);
	/* Between that look and its sleep: the arena goes from clean to
	 * dirty. */
	assert_int_equal(jm__bg_dirty_now(), 0);
	jm_free(q);
	uint64_t freed = jm__bg_dirty_now();
	assert_true(freed >= (256 << 10));
	pthread_mutex_lock(&hook_lock);
	phase = 3;
	pthread_cond_broadcast(&hook_cond);
	pthread_mutex_unlock(&hook_lock);
	until = now_ms() + 20 * DECAY_MS;
	while (jm__bg_dirty_now() != 0 && now_ms() < until)
		usleep(10000);
	uint64_t left = jm__bg_dirty_now();
	__atomic_store_n(&jm__test_bg_looked, NULL, __ATOMIC_RELEASE);
	if (left != 0)
		fail_msg("%llu of %llu bytes freed into a clean arena between the purger's look "
		    "and its sleep still dirty after 20 x decay_ms (%d ms)",
		    (unsigned long long)left, (unsigned long long)freed, 20 * DECAY_MS);
	validate();
}

int main(void)
{
	/* No thread cache: the free reaches its arena at once. */
	setenv("JMALLOC_CONF", "prof_sample:0,background_thread:1,tcache:0,decay_ms:200", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dirtied_between_look_and_sleep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
