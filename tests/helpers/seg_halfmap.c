/*
 * A forked child whose publication fails halfway: the stats segment is
 * mapped in two pieces around the thread caches' private table
 * (liballoc/stats.c, seg_map_file), and a seccomp filter in the child
 * refuses the second, a shared mapping of the file at an offset other than
 * 0 (ENOMEM, as a process at vm.max_map_count gets). The child then runs
 * without stats; its segment must be its own private memory again, not
 * the first piece's shared mapping of its (unlinked) file: a child it
 * forks would inherit that mapping and count its allocations in its
 * parent's rows. Here the grandchild allocates 12.8 MB and the child's
 * mallinfo2 must not see them.
 *
 * Prints "in use: B before, A after" and exits 0 when A is B, 3 when the
 * grandchild's bytes showed in the child, 77 when seccomp is refused.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void deny_shared_offset_maps(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 5),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3])),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MAP_SHARED, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[5])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOMEM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		perror("seccomp");
		_exit(77);
	}
}

static void *volatile keep;

int main(void)
{
	free(malloc(64));
	pid_t c = fork();
	if (c < 0)
		return 1;
	if (c == 0) {
		deny_shared_offset_maps();
		keep = malloc(100000);          /* the slow path: the child publishes */
		int go[2], done[2];
		if (pipe(go) != 0 || pipe(done) != 0)
			_exit(1);
		size_t before = mallinfo2().uordblks;
		pid_t g = fork();
		if (g < 0)
			_exit(1);
		if (g == 0) {
			static void *v[64];
			for (int i = 0; i < 64; i++)
				v[i] = malloc(200000);
			char b = 1;
			if (write(go[1], &b, 1) != 1 || read(done[0], &b, 1) != 1)
				_exit(1);
			_exit(v[63] == NULL);
		}
		char b = 0;
		if (read(go[0], &b, 1) != 1)
			_exit(1);
		size_t after = mallinfo2().uordblks;
		if (write(done[1], &b, 1) != 1)
			_exit(1);
		int gst;
		waitpid(g, &gst, 0);
		printf("in use: %zu before, %zu after\n", before, after);
		fflush(stdout);
		free(keep);
		_exit(!WIFEXITED(gst) || WEXITSTATUS(gst) != 0 ? 1 : after != before ? 3 : 0);
	}
	int st;
	if (waitpid(c, &st, 0) != c)
		return 1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}
