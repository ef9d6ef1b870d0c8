/*
 * fork_pidns: a process that moves its children into a new pid namespace
 * (unshare(CLONE_NEWPID), as container runtimes and `unshare --pid --fork`
 * do) and then forks: the child, pid 1 of the new namespace, allocates
 * (its first slow path publishes its segment), prints
 * "child PIDNS-INODE" and ends by the exit_group system call (neither its
 * destructors nor the allocator's _exit run: its file stays). A forked
 * child takes its namespaces from its parent's segment unless the parent
 * changed them through unshare or setns (stats.c): its file must be named
 * for its own pid namespace. Needs CAP_SYS_ADMIN (root).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	free(malloc(100));   /* the parent's segment, its namespaces read */
	if (unshare(CLONE_NEWPID) != 0) {
		printf("no unshare: %s\n", strerror(errno));
		return 0;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		void *big = malloc(200000);
		memset(big, 1, 200000);
		struct stat st;
		if (stat("/proc/self/ns/pid", &st) != 0)
			_exit(3);
		printf("child %d %llu\n", (int)getpid(), (unsigned long long)st.st_ino);
		fflush(stdout);
		free(big);
		syscall(SYS_exit_group, 0);
	}
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 1;
	return WEXITSTATUS(status);
}
