/*
 * errno across allocations that succeed: malloc, calloc, realloc and free
 * leave it as they found it, also on the allocator's slow paths that make
 * system calls of their own (the process's first allocation, which
 * initialises and publishes the stats segment and may reap stale ones; a
 * forked child's first slow path, which publishes its own). Programs
 * rely on it: getpwnam and readdir say "not found" or "end" by NULL with
 * errno as the caller set it.
 *   errno_keep first   the process's first allocations
 *   errno_keep child   a forked child's first allocations, once as on this
 *                      kernel and once with MADV_POPULATE_* refused
 *                      as a kernel before 5.14 does (EINVAL, by seccomp)
 * Prints "ok" or what changed errno, and exits 1 then.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MARK 4242

/* Allocations of every kind (small, large, huge), each checked. */
static int allocate_some(const char *who)
{
	static const size_t sizes[] = { 16, 100, 3000, 40000, 300000, 5u << 20 };
	void *p[sizeof(sizes) / sizeof(sizes[0])];
	errno = MARK;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		p[i] = i % 2 ? calloc(1, sizes[i]) : malloc(sizes[i]);
		if (p[i] == NULL || errno != MARK) {
			printf("%s: allocation of %zu bytes left errno %d (%s)\n", who, sizes[i], errno,
			    strerror(errno));
			return 1;
		}
	}
	p[0] = realloc(p[0], 64 << 10);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		free(p[i]);
	if (errno != MARK) {
		printf("%s: realloc or free left errno %d (%s)\n", who, errno, strerror(errno));
		return 1;
	}
	return 0;
}

/* madvise(..., MADV_POPULATE_READ or _WRITE) fails with EINVAL, as before
 * Linux 5.14. */
static int old_kernel(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_madvise, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 22 /* MADV_POPULATE_READ */, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 23 /* MADV_POPULATE_WRITE */, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	if (strcmp(argv[1], "first") == 0) {
		if (allocate_some("first allocations"))
			return 1;
		puts("ok");
		return 0;
	}
	if (strcmp(argv[1], "child") != 0)
		return 2;
	void *volatile keep = malloc(100);
	for (int old = 0; old < 2; old++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0)
			return 2;
		if (pid == 0) {
			if (old && old_kernel() != 0) {
				perror("seccomp");
				_exit(2);
			}
			int bad = allocate_some(old ? "child, before Linux 5.14" : "child");
			fflush(stdout);
			_exit(bad);
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return 1;
	}
	free(keep);
	puts("ok");
	return 0;
}
