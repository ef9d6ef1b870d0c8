/*
 * stats_full: a program for tests/preload/stats_full.test.sh, run under
 * LD_PRELOAD with JMALLOC_STATS_DIR on a small tmpfs.
 *
 *   stats_full   allocates (its segment is published), fills the stats
 *                directory's file system with a file of its own until it
 *                is full, then starts 6 threads one after another, each
 *                allocating and freeing (each makes an arena: its bin rows
 *                have no room in the full file system), and forks a child
 *                that allocates (its publication fails), reads mallinfo2
 *                (every arena's counters); says "ok N" with
 *                N the bytes the filler took, exit status 0
 *
 * A segment's file holds memory only for what the process uses: the bin
 * rows of an arena are backed when the arena is made. Where they cannot
 * be, the arena counts in rows of its own; written through the mapping
 * of a full file system, they were a SIGBUS.
 */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_barrier_t hold;

static void *worker(void *arg)
{
	(void)arg;
	void *p[64];
	for (int i = 0; i < 64; i++) {
		p[i] = malloc(16 + (size_t)i * 64);
		memset(p[i], i, 16 + (size_t)i * 64);
	}
	for (int i = 0; i < 64; i++)
		free(p[i]);
	pthread_barrier_wait(&hold);   /* alive until all have their arena */
	return NULL;
}

int main(void)
{
	const char *dir = getenv("JMALLOC_STATS_DIR");
	if (dir == NULL)
		return 2;
	free(malloc(100));
	char path[512];
	snprintf(path, sizeof(path), "%s/filler", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return 3;
	static char block[4096];
	long filled = 0;
	ssize_t w;
	while ((w = write(fd, block, sizeof(block))) > 0)
		filled += w;
	close(fd);
	enum { THREADS = 6 };
	pthread_t t[THREADS];
	pthread_barrier_init(&hold, NULL, THREADS + 1);
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0)
			return 4;
	pthread_barrier_wait(&hold);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	/* Reads every arena's counters: those made, through their rows. */
	struct mallinfo2 mi = mallinfo2();
	if (mi.uordblks == 0)
		return 6;
	pid_t pid = fork();
	if (pid == 0) {
		void *p = malloc(5000);
		memset(p, 1, 5000);
		free(p);
		_exit(0);
	}
	int st = -1;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 5;
	unlink(path);
	printf("ok %ld\n", filled);
	return 0;
}
