/*
 * last_thread: a program whose main thread ends by pthread_exit, which
 * ends the process when its last thread ends (as the process ends with
 * glibc's malloc). The allocator's background purger is a thread of the
 * process: it must not keep it alive once the program's threads are gone.
 *   last_thread main-first    main exits first, then the worker frees
 *                             enough to start the purger, and returns
 *   last_thread worker-first  the worker frees (purger started) and
 *                             returns, then main exits
 * Exits 3 if the purger was never seen running (the test would prove
 * nothing); else the process ends when its last thread does (status 0).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int main_first;

/* Whether a thread of this process is named jmalloc-purge (bg.c). */
static int purger_seen(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int seen = 0;
	while (d && (e = readdir(d)) != NULL) {
		char path[64], comm[32] = "";
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f) && strncmp(comm, "jmalloc-purge", 13) == 0)
			seen = 1;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return seen;
}

static void *worker(void *arg)
{
	(void)arg;
	if (main_first)
		usleep(100 * 1000);   /* main's pthread_exit goes first */
	/* 64 MiB freed: more than enough dirty to start the purger. */
	for (int r = 0; r < 4; r++) {
		void *p[16];
		for (int i = 0; i < 16; i++) {
			p[i] = malloc(1 << 20);
			memset(p[i], 1, 1 << 20);
		}
		for (int i = 0; i < 16; i++)
			free(p[i]);
	}
	for (int i = 0; i < 200 && !purger_seen(); i++)
		usleep(10 * 1000);
	if (!purger_seen()) {
		fprintf(stderr, "the purger never started\n");
		exit(3);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	main_first = strcmp(argv[1], "main-first") == 0;
	pthread_t t;
	if (pthread_create(&t, NULL, worker, NULL) != 0)
		return 2;
	if (!main_first)
		pthread_join(t, NULL);
	else
		pthread_detach(t);
	pthread_exit(NULL);
}
