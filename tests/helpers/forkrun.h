/*
 * forkrun.h: what the fork stress programs share (tests/helpers/
 * stress_fork.c, stress_forkfree.c): their fatal message, and the loop
 * that forks their children and judges how each ended.
 *
 *   FORKRUN_PROG          the program's name, for its messages (define it
 *                         before including this)
 *   die(WHAT, A, B)         "PROG[PID]: WHAT (A, B)" through write(2)
 *                         (a child must not use stdio), then abort()
 *   forkrun(N, PAR, CHILD, BETWEEN, ARG)   forks N children, PAR at a
 *                         time, each running CHILD(i, ARG) (which must
 *                         exit, not return); BETWEEN(ARG), if not NULL,
 *                         runs in the parent after each fork; the children
 *                         are reaped PAR at a time, and one killed (its
 *                         alarm: a deadlock, or the allocator's abort) or
 *                         exiting non-zero is reported and stops the
 *                         forking. Returns 0 when every child exited 0.
 */
#ifndef JM_TEST_FORKRUN_H
#define JM_TEST_FORKRUN_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FORKRUN_PROG
#error "define FORKRUN_PROG (the program's name) before including forkrun.h"
#endif

static void die(const char *what, size_t a, size_t b)
{
	char buf[200];
	int n = snprintf(buf, sizeof(buf), FORKRUN_PROG "[%d]: %s (%zu, %zu)\n", (int)getpid(),
	                 what, a, b);
	if (n > 0)
		(void)!write(2, buf, (size_t)n);
	abort();
}

static int forkrun_reap(pid_t pid, int index)
{
	int st;
	if (waitpid(pid, &st, 0) != pid) {
		perror(FORKRUN_PROG ": waitpid");
		return -1;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFSIGNALED(st))
		fprintf(stderr, FORKRUN_PROG ": child %d (pid %d) killed by signal %d%s\n", index,
		        (int)pid, WTERMSIG(st), WTERMSIG(st) == SIGALRM ? " (deadlocked?)" : "");
	else
		fprintf(stderr, FORKRUN_PROG ": child %d (pid %d) exited %d\n", index, (int)pid,
		        WEXITSTATUS(st));
	return -1;
}

static int forkrun(int nforks, int parallel, void (*child)(int index, void *arg),
                   void (*between)(void *arg), void *arg)
{
	pid_t pids[64];
	int idx[64], running = 0, failed = 0;

	if (parallel > 64)
		parallel = 64;
	for (int i = 0; i < nforks && !failed; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror(FORKRUN_PROG ": fork");
			failed = 1;
			break;
		}
		if (pid == 0) {
			child(i, arg);
			_exit(99);   /* CHILD returned */
		}
		pids[running] = pid;
		idx[running++] = i;
		if (between)
			between(arg);
		if (running == parallel) {
			for (int k = 0; k < running; k++)
				if (forkrun_reap(pids[k], idx[k]) != 0)
					failed = 1;
			running = 0;
		}
	}
	for (int k = 0; k < running; k++)
		if (forkrun_reap(pids[k], idx[k]) != 0)
			failed = 1;
	return failed ? -1 : 0;
}

#endif
