/*
 * The module table's main program in a process whose main thread ended
 * (pthread_exit, its other threads running): /proc/self is the main
 * thread's entry, and its exe link cannot be read once that thread has
 * gone, so a table first built then (a server whose main thread ends
 * after starting its workers, sampling later) left the main program out
 * (no path: not listed): pprof could not name its functions. Read
 * through /proc/thread-self (modules.c). In a forked child of this
 * program, before anything of the allocator ran: the table not built yet.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "jmalloc.h"
#include "leader_gone.h"
#include "jmstat.h"

static int out[2];

static void *after_main(void *arg)
{
	(void)arg;
	/* The main thread gone: its /proc entry a zombie's. */
	leader_gone_wait();
	char exe[JMSTAT_MODULE_PATH] = "";
	ssize_t k = readlink("/proc/thread-self/exe", exe, sizeof(exe) - 1);
	exe[k > 0 ? k : 0] = '\0';
	jm_free(jm_malloc(1));   /* the segment, with its module table */
	jm__modules_refresh();
	int found = 0;
	for (uint32_t i = 0; jm__seg != NULL && i < jm__seg->nmodules; i++) {
		const struct jmstat_module *m = (const struct jmstat_module *)
		    (jm__stats_at(jm__segp.module_off) + (size_t)i * sizeof(*m));
		found |= exe[0] != '\0' && strcmp(m->path, exe) == 0;
	}
	char c = found ? 'y' : 'n';
	ssize_t w = write(out[1], &c, 1);
	_exit(w == 1 ? 0 : 1);
}

static void test_main_program_listed_after_main_thread(void **state)
{
	(void)state;
#if defined(__SANITIZE_THREAD__)
	skip();   /* no thread started in a forked child under TSan */
#endif
	assert_int_equal(pipe(out), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(out[0]);
		pthread_t t;
		if (pthread_create(&t, NULL, after_main, NULL) != 0)
			_exit(2);
		pthread_exit(NULL);
	}
	close(out[1]);
	char c = 0;
	ssize_t n;
	while ((n = read(out[0], &c, 1)) < 0 && errno == EINTR)
		;
	close(out[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(n, 1);
	print_message("main thread gone: the main program %s in the module table\n",
	              c == 'y' ? "listed" : "NOT listed");
	assert_int_equal(c, 'y');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_main_program_listed_after_main_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
