/*
 * procself.h: what a test program reads of itself from /proc without the
 * allocator (open, read, close: no stdio), shared by tests/helpers and the
 * benchmark workloads.
 *
 *   rss_kib()   the resident set size, KiB (/proc/self/statm)
 */
#ifndef JM_TEST_PROCSELF_H
#define JM_TEST_PROCSELF_H

#include <fcntl.h>
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

#endif
