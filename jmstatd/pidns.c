/*
 * pidns.c: where a process or a socket client runs among the pid
 * namespaces: its own, and the one just below ours it runs in or under
 * (a container's, whatever namespaces its root made since), walked up
 * with NS_GET_PARENT. A process's are read when it is tracked
 * (figures.c), a client's at its connection (server.c): a client in a pid
 * namespace below ours sees only that namespace's processes
 * (jmd_visible), and a root-owned container's clients share its bounds
 * (fifteenth pass, docs/security.md). dirs.c keys root's containers'
 * directories by the same walk.
 */
#include "jmstatd.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t ours_pidns(void)
{
	static uint64_t ours;
	struct stat st;
	if (!ours && stat("/proc/self/ns/pid", &st) == 0)
		ours = st.st_ino;
	return ours;
}

/* Up from the pid namespace of fd (closed here) to ours, at most the
 * kernel's 32 levels: 1 with *own (its inode) and *top (the one just
 * below ours) for one below ours, 0 for ours, -1 where there is no way
 * up to ours (NS_GET_PARENT refuses to leave the tree of the caller's
 * namespace) or the kernel cannot tell. */
int jmd_pidns_walk(int fd, uint32_t *own, uint32_t *top, uint32_t *top_owner)
{
	uint64_t ours = ours_pidns();
	struct stat st;
	int rc = -1, prev = -1, err_no = fd < 0 ? errno : EIO;
	*own = *top = 0;
	if (top_owner)
		*top_owner = 0;
	if (fd >= 0 && ours && fstat(fd, &st) == 0) {
		uint32_t self = (uint32_t)st.st_ino, key = self;
		if (st.st_ino == ours)
			rc = 0;
		for (int level = 0; rc < 0 && level < 40; level++) {
			int parent = ioctl(fd, NS_GET_PARENT);
			if (parent < 0)
				err_no = errno;      /* EPERM: no way up; EMFILE */
			if (prev >= 0)
				close(prev);
			prev = fd;           /* kept: the top's owner is asked of it */
			fd = parent;
			if (fd < 0 || fstat(fd, &st) != 0)
				break;
			if (st.st_ino == ours) {
				*own = self;
				*top = key;
				rc = 1;
				if (top_owner) {
					/* The uid that made the user namespace owning it
					 * (0: root's, or no user namespace). */
					uid_t uid = 0;
					int userns = ioctl(prev, NS_GET_USERNS);
					if (userns < 0 || ioctl(userns, NS_GET_OWNER_UID, &uid) != 0)
						rc = -1;     /* cannot tell whose */
					if (userns >= 0)
						close(userns);
					*top_owner = (uint32_t)uid;
				}
			}
			key = (uint32_t)st.st_ino;
		}
	}
	if (prev >= 0)
		close(prev);
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		errno = err_no;
	return rc;
}

int jmd_pidns_of(pid_t host, uint32_t *own, uint32_t *top)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)host);
	int rc = jmd_pidns_walk(open(path, O_RDONLY | O_CLOEXEC), own, top, NULL);
	if (rc != 1) {
		int err_no = errno;
		*own = *top = 0;
		errno = err_no;
	}
	return rc;
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef PIDFD_GET_PID_NAMESPACE
#define PIDFD_GET_PID_NAMESPACE _IO(0xFF, 5)
#endif

/* A client's pid namespace (jmstatd.h). Its pidfd (Linux 6.5) names the
 * very process that connected, and PIDFD_GET_PID_NAMESPACE (6.11) opens
 * its namespace with no /proc by pid between; where the kernel has the
 * first only, /proc/PID/ns/pid is opened and the pidfd asked whether
 * the process still runs after (else the pid may be another's by then);
 * where it has neither, /proc by pid (a peer that exits and whose pid is
 * taken by another process of ours before it is accepted can pass for
 * that process). */
int jmd_peer_pidns(int sock, pid_t pid, uint32_t *own, uint32_t *top, uint32_t *owner)
{
	*own = *top = *owner = 0;
	if (pid <= 0)
		return 0;        /* outside our tree: SO_PEERCRED gives no pid */
	int pidfd = -1;
	socklen_t len = sizeof(pidfd);
	if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) != 0) {
		/* Only a kernel without it (before 6.5) goes on by pid: one
		 * whose peer has exited says EINVAL or ESRCH, and its pid may
		 * be another process's by now. */
		if (errno != ENOPROTOOPT)
			return -1;
		pidfd = -1;
	}
	int nsfd = -1;
	if (pidfd >= 0) {
		nsfd = ioctl(pidfd, PIDFD_GET_PID_NAMESPACE, 0);
		if (nsfd < 0 && errno == ESRCH) {
			close(pidfd);
			return -1;
		}
	}
	if (nsfd < 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
		nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0 && (errno == EACCES || errno == EPERM)) {
			/* Not ours to look at: a process that holds more than
			 * we do (root's, to a daemon that is not root or has no
			 * CAP_SYS_PTRACE), which no container's root without it
			 * is: taken as ours, as every client was before. */
			if (pidfd >= 0)
				close(pidfd);
			return 0;
		}
		if (pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) != 0) {
			if (nsfd >= 0)
				close(nsfd);
			nsfd = -1;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	if (nsfd < 0)
		return -1;
	/* Its pid is in our namespace, so a way up to ours there is: none
	 * found is a failure (no fd left), not a peer outside. */
	return jmd_pidns_walk(nsfd, own, top, owner) < 0 ? -1 : 0;
}


/* Whether process pid holds CAP_SYS_PTRACE, effective, in our user
 * namespace (CapEff of /proc/PID/status is of its own). */
static bool may_ptrace(pid_t pid)
{
	char path[64], buf[4096];
	struct stat mine, its;
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	if (stat("/proc/self/ns/user", &mine) != 0 || stat(path, &its) != 0 ||
	    mine.st_ino != its.st_ino || mine.st_dev != its.st_dev)
		return false;
	if (jmd_proc_file(pid, "status", buf, sizeof(buf)) < 0)
		return false;
	const char *eff = strstr(buf, "\nCapEff:");
	if (!eff)
		return false;
	uint64_t caps = strtoull(eff + 9, NULL, 16);
	return (caps >> 19) & 1;                 /* CAP_SYS_PTRACE */
}

/* A --pid=host container (hostPID) runs in our pid namespace, its root
 * uid 0 here: the fifteenth pass gave its clients the host's view, root's
 * connections and no budget (docs/security.md, sixteenth pass;
 * tests/containers/hostpid_socket.test.sh). Its cgroup names it, as
 * labels.c reads a process's: a cgroup directory root made (the
 * runtime's), which root there cannot leave where it has a cgroup
 * namespace. */
int jmd_peer_container(int sock, pid_t pid, char container[65], bool *ptracer)
{
	static char ours[65];
	static bool ours_read;
	container[0] = '\0';
	*ptracer = false;
	if (pid <= 0)
		return 0;
	/* A read that failed for want of a descriptor is no answer: ours
	 * taken as none for good, or the client's, put it in no container
	 * (the host's view to a client of a hostPID container). */
	if (!ours_read) {
		struct jmd_labels l;
		int r = jmd_labels_read(getpid(), &l);
		if (r < 0 && jmd_no_fds(-r)) {
			errno = -r;
			return -1;
		}
		memcpy(ours, l.container, sizeof(ours));
		ours_read = true;
	}
	int pidfd = -1;
	socklen_t len = sizeof(pidfd);
	if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) != 0) {
		if (errno != ENOPROTOOPT)
			return -1;
		pidfd = -1;         /* a kernel before 6.5: by pid alone */
	}
	struct jmd_labels l;
	int r = jmd_labels_read(pid, &l);
	if (r < 0 && jmd_no_fds(-r)) {
		if (pidfd >= 0)
			close(pidfd);
		errno = -r;
		return -1;
	}
	bool ptrace = l.container[0] && may_ptrace(pid);
	if (pidfd >= 0) {
		bool gone = syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) != 0 && errno == ESRCH;
		close(pidfd);
		if (gone)
			return -1;      /* the pid may be another's by now */
	}
	if (l.container[0] && strcmp(l.container, ours) != 0) {
		memcpy(container, l.container, 65);
		*ptracer = ptrace;
	}
	return 0;
}
