/*
 * ns_alone: unshare(CLONE_NEWUSER) and setns into a mount namespace after
 * the program has freed enough to start the allocator's background purger
 * (a thread: the kernel refuses both to a process of more than one thread,
 * EINVAL). With argument "setns" (as root), first a setns into its own
 * mount namespace. Each call must succeed; after each, frees start the
 * purger again (two threads). Under glibc's malloc there is never a second
 * thread, and the calls succeed as well. Prints "ok" and exits 0, or a line
 * saying what failed and 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int threads(void)
{
	char buf[1024];
	int fd = open("/proc/self/stat", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	const char *p = strrchr(buf, ')');
	int field = 2, count = -1;
	for (; p && *p; p++)
		if (*p == ' ' && ++field == 20) {
			count = atoi(p + 1);
			break;
		}
	return count;
}

/* Frees 8 MiB of large regions (dirty pages: the purger's start), then
 * waits up to 5 s for `want` threads; returns the count seen. */
static int dirty_and_wait(int want)
{
	static void *v[80];
	for (int i = 0; i < 80; i++) {
		v[i] = malloc(100 << 10);
		memset(v[i], 1, 100 << 10);
	}
	for (int i = 0; i < 80; i++)
		free(v[i]);
	struct timespec ms = {0, 1000000};
	int n = threads();
	for (int i = 0; i < 5000 && n != want; i++) {
		nanosleep(&ms, NULL);
		n = threads();
	}
	return n;
}

int main(int argc, char **argv)
{
	int with_purger = argc > 2 && strcmp(argv[2], "purger") == 0;
	int want = with_purger ? 2 : 1;
	int n = dirty_and_wait(want);
	if (n != want) {
		printf("%d threads after the frees, %d expected\n", n, want);
		return 1;
	}
	if (argc > 1 && strcmp(argv[1], "setns") == 0) {
		int fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNS) != 0) {
			printf("setns(CLONE_NEWNS) with %d threads: %s\n", n, strerror(errno));
			return 1;
		}
		close(fd);
		if ((n = dirty_and_wait(want)) != want) {
			printf("%d threads after setns and frees, %d expected\n", n, want);
			return 1;
		}
	}
	if (unshare(CLONE_NEWUSER) != 0) {
		printf("unshare(CLONE_NEWUSER) with %d threads: %s\n", n, strerror(errno));
		return 1;
	}
	if ((n = dirty_and_wait(want)) != want) {
		printf("%d threads after unshare and frees, %d expected\n", n, want);
		return 1;
	}
	puts("ok");
	return 0;
}
