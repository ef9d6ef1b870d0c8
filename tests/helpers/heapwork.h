/*
 * heapwork.h: what the programs that watch a heap being given back share
 * (tests/helpers/purge_probe, tests/bench/idle_return): the process's RSS
 * read without the allocator, and a heap made in parts by two threads and
 * then mostly freed by two threads.
 *
 *   rss_kib()             the resident set size, KiB (/proc/self/statm:
 *                         open, read, close, no stdio)
 *   struct blocks         the blocks a part holds: v[0..n)
 *   free_most(blocks)     a thread: frees every block of a struct blocks
 *                         but one in 20, clearing their slots
 *   two_threads(fn, a, b) fn(a) and fn(b) in two threads; waits for both
 */
#ifndef JM_TEST_HEAPWORK_H
#define JM_TEST_HEAPWORK_H

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline long rss_kib(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY);
	long rss = 0;
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			char *sp = strchr(buf, ' ');
			if (sp)
				rss = strtol(sp + 1, NULL, 10);
		}
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

struct blocks {
	void **v;
	size_t n;
};

static inline void *free_most(void *arg)
{
	struct blocks *b = arg;
	for (size_t i = 0; i < b->n; i++)
		if (i % 20 != 0) {
			free(b->v[i]);
			b->v[i] = NULL;
		}
	return NULL;
}

static inline void two_threads(void *(*fn)(void *), void *a, void *b)
{
	pthread_t t[2];
	pthread_create(&t[0], NULL, fn, a);
	pthread_create(&t[1], NULL, fn, b);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
}

#endif
