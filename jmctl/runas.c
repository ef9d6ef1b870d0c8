/*
 * runas.c: root's work on another user's files, done as that user.
 *
 * Root's jmctl symbolizes another user's process (sites, alerts, top's
 * sites panel, --pprof) from that user's files, by the paths of
 * /proc/PID/maps: files that user chooses, and may make blocking (a FIFO)
 * or point anywhere root could read. So the work runs in a child that has
 * become the process's owner (jm_process_owner: no group, setresgid,
 * setresuid, no_new_privs), and comes back on a pipe; a child that takes
 * more than JM_RUN_AS_MS is killed (a mapped file deleted and a FIFO made
 * at "PATH (deleted)", or a debuglink naming one, blocks an open for
 * ever).
 *
 * A user with many processes, each with such a file, made every one cost
 * those 10 s: root's `jmctl alerts` waited 10 s per alert of theirs, top's
 * sites panel 10 s per process shown. So a uid whose child was killed is
 * not tried again by this jmctl (its frames stay addresses at once), and
 * all the children of one command (or of one load of top's sites panel)
 * share JM_RUN_AS_BUDGET_MS: a user with many uids (a rootless container's
 * subordinate uids) cannot make it longer either.
 *
 * The child is a fork of root's jmctl, and what it parses (ELF, DWARF,
 * compressed sections, by libdwfl) is the user's: whatever a flaw there
 * gives the user is to give no more than the user has. So before fn it
 * leaves root's session (setsid: no controlling terminal, so no TIOCSTI
 * into root's shell, no SIGHUP or job control of root's terminal), takes
 * /dev/null for 0, 1 and 2 (no escape sequences to root's screen), closes
 * every descriptor but its pipe and the one it is given (root's connection
 * to the daemon, made as root, answers for every user), and makes itself
 * not dumpable whatever fs.suid_dumpable says (its memory is a copy of
 * root's jmctl's: other users' replies). Before, it kept them all
 * (tests/cli/symbolize_sandbox.test.sh).
 */
#include "jmctl.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int jm_proc_dir(long pid)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/%ld", pid);
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int jm_process_owner(int procfd, uid_t *uid, gid_t *gid, bool *not_root)
{
	char buf[4096];
	unsigned long u[4], g[4];
	ssize_t n;
	int fd;

	if (procfd < 0)
		return -1;
	fd = openat(procfd, "status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	const char *ul = strstr(buf, "\nUid:"), *gl = strstr(buf, "\nGid:");
	if (!ul || !gl || sscanf(ul + 5, "%lu %lu %lu %lu", &u[0], &u[1], &u[2], &u[3]) != 4 ||
	    sscanf(gl + 5, "%lu %lu %lu %lu", &g[0], &g[1], &g[2], &g[3]) != 4)
		return -1;
	*uid = (uid_t)u[0];
	*gid = (gid_t)g[0];
	*not_root = u[0] || u[1] || u[2] || u[3];
	return 0;
}


/* The uids whose child was killed (the first RUN_AS_SLOW of them; past
 * those the budget bounds the rest), and the end of the budget. */
#define RUN_AS_SLOW 64
static uid_t slow_uids[RUN_AS_SLOW];
static size_t nslow;
static struct timespec budget_end;
static bool budget_set;

static long ms_until(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (end->tv_sec - now.tv_sec) * 1000 + (end->tv_nsec - now.tv_nsec) / 1000000;
}

void jm_run_as_budget(long ms)
{
	clock_gettime(CLOCK_MONOTONIC, &budget_end);
	budget_end.tv_sec += ms / 1000;
	budget_end.tv_nsec += (ms % 1000) * 1000000;
	if (budget_end.tv_nsec >= 1000000000) {
		budget_end.tv_sec++;
		budget_end.tv_nsec -= 1000000000;
	}
	budget_set = true;
}

const char *jm_run_as_why(int err)
{
	switch (err) {
	case -ETIMEDOUT:
		return "took more than 10 s (one of its files does not read: a FIFO?): stopped";
	case -EAGAIN:
		return "not tried: it took more than 10 s before (one of its files does not read)";
	case -ETIME:
		return "not tried: symbolizing other users' processes has taken the 20 s it may already";
	default:
		return "failed";
	}
}

/* Closes every descriptor from lo up to hi (inclusive); close_range, else
 * one by one up to the soft limit. */
static void close_from(unsigned lo, unsigned hi)
{
	if (lo > hi)
		return;
#ifdef SYS_close_range
	if (syscall(SYS_close_range, lo, hi, 0) == 0)
		return;
#endif
	long max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (unsigned long fd = lo; fd <= hi && fd < (unsigned long)max; fd++)
		close((int)fd);
}

/* The child's setup before fn (see the top of this file): its own session,
 * /dev/null for 0, 1 and 2, no descriptor but *pipe_fd (moved past 2 if
 * it was one of them) and keep (-1: none), not dumpable. 0, or -1. */
static int child_confine(int *pipe_fd, int keep)
{
	int nul, keep_a = *pipe_fd, keep_b = keep;

	if (setsid() < 0)
		return -1;
	if (keep_a < 3 && (keep_a = *pipe_fd = fcntl(keep_a, F_DUPFD_CLOEXEC, 3)) < 0)
		return -1;
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul < 0)
		return -1;
	for (int fd = 0; fd < 3; fd++)
		if (fd != nul && fd != keep && dup2(nul, fd) != fd)
			return -1;
	if (keep_a > keep_b) {
		int t = keep_a;
		keep_a = keep_b;
		keep_b = t;
	}
	unsigned next = 3;
	if (keep_a >= 3) {
		close_from(next, (unsigned)keep_a - 1);
		next = (unsigned)keep_a + 1;
	}
	if (keep_b >= 3) {
		close_from(next, (unsigned)keep_b - 1);
		next = (unsigned)keep_b + 1;
	}
	close_from(next, ~0U);
	return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int jm_run_as(uid_t uid, gid_t gid, int keep_fd, int (*fn)(void *arg, char **buf, size_t *len), void *arg,
              char **out, size_t *out_len)
{
	return jm_run_as_root_first(uid, gid, keep_fd, NULL, fn, arg, out, out_len);
}

int jm_run_as_root_first(uid_t uid, gid_t gid, int keep_fd, void (*root_fn)(void *arg),
                         int (*fn)(void *arg, char **buf, size_t *len), void *arg, char **out,
                         size_t *out_len)
{
	int fds[2];
	pid_t child;
	struct timespec t0, now;

	*out = NULL;
	*out_len = 0;
	for (size_t i = 0; i < nslow; i++)
		if (slow_uids[i] == uid)
			return -EAGAIN;
	if (!budget_set)
		jm_run_as_budget(JM_RUN_AS_BUDGET_MS);
	long limit = ms_until(&budget_end);
	if (limit <= 0)
		return -ETIME;
	if (limit > JM_RUN_AS_MS)
		limit = JM_RUN_AS_MS;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -errno;
	fflush(NULL);
	pid_t parent = getpid();
	child = fork();
	if (child < 0) {
		int err = -errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (child == 0) {
		char *text = NULL;
		size_t len = 0, off = 0;
		close(fds[0]);
		/* Confined first, then the user: from setresuid on, where
		 * fs.suid_dumpable is 1 and ptrace is not restricted, a process
		 * of the user's may attach to the child (the uid change sets
		 * dumpable to suid_dumpable), and it is to find no descriptor
		 * of root's there. Not dumpable again after the change. */
		if (child_confine(&fds[1], keep_fd) != 0)
			_exit(2);
		if (root_fn != NULL)
			root_fn(arg);
		if (setgroups(0, NULL) != 0 ||
		    setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0 ||
		    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    geteuid() != uid || uid == 0)
			_exit(2);
		/* Out of jmctl's session, nothing that ends jmctl (an
		 * operator's timeout, SIGKILL) reaches the child, and jmctl's
		 * own kill after its time never comes: it died with jmctl
		 * only if it was not blocked (on a FIFO of the user's, for
		 * ever). The death signal is set after the uid change, which
		 * clears it; a parent gone before it was set is seen by
		 * getppid (tests/cli/symbolize_orphan.test.sh). */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != parent)
			_exit(2);
		if (fn(arg, &text, &len) != 0)
			_exit(4);
		while (off < len) {
			ssize_t w = write(fds[1], text + off, len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				_exit(3);
			off += (size_t)w;
		}
		_exit(0);
	}
	close(fds[1]);
	size_t len = 0, cap = 0;
	char *buf = NULL;
	int err = 0;
	for (;;) {
		if (cap - len < 65536) {
			char *nb = cap < (64u << 20) ? realloc(buf, cap ? cap * 2 : 131072) : NULL;
			if (!nb) {
				err = -ENOMEM;
				kill(child, SIGKILL);
				break;
			}
			buf = nb;
			cap = cap ? cap * 2 : 131072;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = limit - ((now.tv_sec - t0.tv_sec) * 1000 +
		                         (now.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		int ready = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0) {
			err = ready == 0 ? (limit < JM_RUN_AS_MS ? -ETIME : -ETIMEDOUT) : -errno;
			if (ready == 0 && nslow < RUN_AS_SLOW)
				slow_uids[nslow++] = uid;
			kill(child, SIGKILL);
			break;
		}
		ssize_t n = read(fds[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fds[0]);
	int status = 0;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (err == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		err = -EPERM;
	if (err != 0) {
		free(buf);
		return err;
	}
	*out = buf;
	*out_len = len;
	return 0;
}
