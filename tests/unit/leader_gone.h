/*
 * leader_gone.h: for a test whose forked child's main thread ends
 * (pthread_exit) while another thread runs on: leader_gone_wait, called
 * from that other thread, returns once /proc/self/stat shows the main
 * thread a zombie (10 s at most: then the caller goes on, and its check
 * may pass on code that still reads /proc/self, never fail on code that
 * does not). tests/unit/test_alloc_purge.c, test_alloc_modexe.c.
 */
#ifndef JM_TEST_LEADER_GONE_H
#define JM_TEST_LEADER_GONE_H

#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline void leader_gone_wait(void)
{
	struct timespec ts = { 0, 1000000 };
	char st[4096];
	for (int i = 0; i < 10000; i++) {
		int sfd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
		ssize_t n = sfd >= 0 ? read(sfd, st, sizeof(st) - 1) : -1;
		if (sfd >= 0)
			close(sfd);
		const char *rp = n > 0 ? (st[n] = 0, strrchr(st, ')')) : NULL;
		if (rp != NULL && rp[1] == ' ' && rp[2] == 'Z')
			return;
		nanosleep(&ts, NULL);
	}
}

#endif
