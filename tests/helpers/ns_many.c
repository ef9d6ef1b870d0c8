/*
 * ns_many: setns from many threads, as stress-ng's pthread stressor does
 * (each of up to 100 threads joins its own UTS namespace, setns(fd, 0)).
 *
 *   ns_many uts      the purger running, setns(uts, 0) and setns(uts,
 *                    CLONE_NEWUTS): a UTS namespace does not need the
 *                    process alone, and the purger must still be the
 *                    same thread after both (it was ended for a setns
 *                    with nstype 0 whatever the namespace: each such call
 *                    waited for the purger to die and a free started it
 *                    again).
 *   ns_many storm    8 threads, each 30 times: setns into the mount
 *                    namespace (which does end the purger; the call itself
 *                    fails, the process has threads) and 8 MiB freed (which
 *                    starts it again). Afterwards at most one purger may
 *                    be left (two stoppers at once: the second waited 5 s
 *                    for a thread the first had already ended, then marked
 *                    as absent the purger a free had started meanwhile, so
 *                    that the next free started another beside it).
 *
 * Prints "ok" and exits 0, or what went wrong and 1. Under glibc's malloc
 * there is no purger: both pass.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The purger threads' ids (up to `max`); returns how many. */
static int purgers(int *tids, int max)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[64], comm[32] = "";
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(comm, sizeof comm, f) && strncmp(comm, "jmalloc-purge", 13) == 0) {
			if (n < max)
				tids[n] = atoi(e->d_name);
			n++;
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

static void free_dirty(void)
{
	void *v[80];
	for (int i = 0; i < 80; i++) {
		v[i] = malloc(100 << 10);
		if (v[i] == NULL)
			abort();
		memset(v[i], 1, 100 << 10);
	}
	for (int i = 0; i < 80; i++)
		free(v[i]);
}

/* Waits up to 5 s until the count of purgers satisfies lo <= n <= hi. */
static int wait_purgers(int lo, int hi, int *tids, int max)
{
	struct timespec ms = {0, 1000000};
	int n = purgers(tids, max);
	for (int i = 0; i < 5000 && (n < lo || n > hi); i++) {
		nanosleep(&ms, NULL);
		n = purgers(tids, max);
	}
	return n;
}

static int uts(int with_purger)
{
	int before[4], after[4];
	free_dirty();
	int n = wait_purgers(with_purger, with_purger, before, 4);
	if (n != with_purger) {
		printf("%d purgers after the frees, %d expected\n", n, with_purger);
		return 1;
	}
	int fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, 0) != 0 || setns(fd, CLONE_NEWUTS) != 0) {
		printf("setns into its own UTS namespace: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	n = purgers(after, 4);
	if (n != with_purger || (n == 1 && after[0] != before[0])) {
		printf("after setns(uts): %d purgers (thread %d), before: %d (thread %d)\n",
		    n, n ? after[0] : 0, with_purger, with_purger ? before[0] : 0);
		return 1;
	}
	return 0;
}

static int mnt_fd;

static void *storm_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < 30; i++) {
		(void)setns(mnt_fd, CLONE_NEWNS);   /* EINVAL: the process has threads */
		free_dirty();
	}
	return NULL;
}

static int storm(void)
{
	pthread_t t[8];
	int tids[16];
	mnt_fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (mnt_fd < 0) {
		printf("open /proc/self/ns/mnt: %s\n", strerror(errno));
		return 1;
	}
	for (int i = 0; i < 8; i++)
		if (pthread_create(&t[i], NULL, storm_thread, NULL) != 0) {
			puts("pthread_create failed");
			return 1;
		}
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	free_dirty();
	int n = wait_purgers(0, 1, tids, 16);
	if (n > 1) {
		printf("%d purger threads after setns from 8 threads at once\n", n);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int with_purger = argc > 2 && strcmp(argv[2], "purger") == 0;
	int rc;
	if (strcmp(mode, "uts") == 0)
		rc = uts(with_purger);
	else if (strcmp(mode, "storm") == 0)
		rc = storm();
	else {
		fprintf(stderr, "usage: ns_many uts [purger] | storm\n");
		return 2;
	}
	if (rc == 0)
		puts("ok");
	return rc;
}
