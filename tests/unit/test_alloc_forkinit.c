/*
 * A fork racing the allocator's very first initialisation (test build: jm_
 * names only). Its own program: the allocator must not have been used
 * before the test starts. Thread B makes the process's first allocation
 * and, inside the initialisation (jm__test_init_hook), waits for the main
 * thread to fork (at most 1 s); the child then allocates. A child forked
 * in the midst of the initialisation inherited its lock held by a thread
 * it does not have, and its first malloc waited for ever: now the fork
 * waits for the initialisation to end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "jmalloc.h"

static atomic_int in_init, about_to_fork, forked;

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void init_hook(void)
{
	atomic_store(&in_init, 1);
	for (int i = 0; i < 10000 && !atomic_load(&about_to_fork); i++)
		nap_ms(1);
	/* The fork happens now, or waits for this initialisation. */
	for (int i = 0; i < 1000 && !atomic_load(&forked); i++)
		nap_ms(1);
}

static void *first_malloc(void *arg)
{
	(void)arg;
	void *p = jm_malloc(64);
	jm_free(p);
	return NULL;
}

static void test_fork_during_first_init(void **state)
{
	(void)state;
	assert_int_equal(atomic_load(&jm__initialized), 0);
	jm__test_init_hook = init_hook;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, first_malloc, NULL), 0);
	while (!atomic_load(&in_init))
		nap_ms(1);
	atomic_store(&about_to_fork, 1);
	pid_t pid = fork();
	if (pid == 0) {
		void *p = jm_malloc(100);
		jm_free(p);
		_exit(p != NULL ? 0 : 1);
	}
	atomic_store(&forked, 1);
	assert_true(pid > 0);
	int st = 0, done = 0;
	for (int i = 0; i < 10000 && !(done = waitpid(pid, &st, WNOHANG) == pid); i++)
		nap_ms(1);
	if (!done) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	pthread_join(t, NULL);
	jm__test_init_hook = NULL;
	assert_true(done);   /* else the child hung in its first malloc */
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(jm__heap_validate(), 0);
}

int main(void)
{
	setenv("JMALLOC_CONF", "background_thread:0", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fork_during_first_init),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
