/*
 * seg_idle: a program for the stats-segment tests, run under LD_PRELOAD.
 *
 *   seg_idle cache SIZE N    a second thread allocates N regions of SIZE,
 *                            frees them all (they stay in its cache), says
 *                            "ready PID TID" and sleeps, idle, until killed
 *   seg_idle fork            forks; the child allocates (its first slow
 *                            path publishes its segment), says "child PID",
 *                            and sleeps; the parent sleeps too
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static size_t size, count;

static void *worker(void *arg)
{
	(void)arg;
	void **p = calloc(count, sizeof(void *));
	for (size_t i = 0; i < count; i++) {
		p[i] = malloc(size);
		memset(p[i], 1, size);
	}
	for (size_t i = 0; i < count; i++)
		free(p[i]);
	free(p);
	printf("ready %d %ld\n", getpid(), (long)syscall(SYS_gettid));
	fflush(stdout);
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "cache")) {
		size = strtoul(argv[2], NULL, 10);
		count = strtoul(argv[3], NULL, 10);
		pthread_t t;
		pthread_create(&t, NULL, worker, NULL);
		pthread_join(t, NULL);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "fork")) {
		free(malloc(100));
		pid_t c = fork();
		if (c == 0) {
			void *q = malloc(100000);
			memset(q, 1, 100000);
			printf("child %d\n", getpid());
			fflush(stdout);
			for (;;)
				pause();
		}
		for (;;)
			pause();
	}
	return 2;
}
