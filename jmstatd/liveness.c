/*
 * liveness.c: whether a segment's writer is alive.
 *
 * A segment names its writer (pid, pid namespace, start time, uid); the
 * tick keeps a process only while that writer runs. Known writers are
 * checked through a pidfd, new ones and every JMD_RECHECK_MS through /proc
 * (common/segread_proc.c), a writer in another pid namespace by its host pid
 * (census.c). Also the fd budget the pidfds may take, and the uid of a
 * writer in a user namespace (a rootless container), which writes its uid
 * as it sees it there.
 */
#include "jmstatd.h"
#include "sample.h"

#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ------------------------------------------------------------ pidfds */

/* A live process's writer is checked through /proc once (its start time
 * and uid, jm_seg_check_process), and then through a pidfd: an fd that is
 * the process itself, readable once it has exited, and that never stands
 * for another process that took the pid after. So the tick checks it with
 * one poll() instead of reading two /proc files (which cost more than
 * reading the segment), and pid reuse stays exact. /proc is read again
 * every JMD_RECHECK_MS (a process may change its real uid). Without a
 * pidfd (an old kernel, a seccomp filter, the fd budget spent), the writer
 * is checked through /proc every tick as before. */

static int pidfd_get(struct jmd *d, pid_t pid)
{
#ifdef SYS_pidfd_open
	if (d->npidfds >= d->max_pidfds)
		return -1;
	/* A pidfd saves more than a segment file kept open: one gives way. */
	for (struct jmd_proc *p = d->live; p && d->npidfds + d->nsegfds >= d->max_pidfds; p = p->next)
		jmd_segfd_put(d, p);
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);   /* close-on-exec */
	if (fd >= 0)
		d->npidfds++;
	return fd;
#else
	return -1;
#endif
}

void jmd_pidfd_put(struct jmd *d, int fd)
{
	if (fd < 0)
		return;
	close(fd);
	d->npidfds--;
}

static bool pidfd_exited(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN);
}

/* The pidfds of the known writers are watched in one epoll (jmd.pidfd_ep):
 * the tick asks it once a slice which exited (sample.c), where a
 * poll() of each pidfd was 10% of the daemon's time at 1,000 idle
 * processes. Each is reported once (EPOLLONESHOT), as its pid and fd, and
 * taken out before it is closed. A pidfd the epoll refuses is polled as
 * before. */
void jmd_pidfd_watch(struct jmd *d, struct jmd_proc *p)
{
	p->pidfd_watched = false;
	p->exited = false;
	if (d->pidfd_ep < 0 || p->pidfd < 0)
		return;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT,
	                          .data.u64 = (uint64_t)(uint32_t)p->pid << 32 | (uint32_t)p->pidfd };
	p->pidfd_watched = epoll_ctl(d->pidfd_ep, EPOLL_CTL_ADD, p->pidfd, &ev) == 0;
}

void jmd_proc_pidfd_put(struct jmd *d, struct jmd_proc *p)
{
	if (p->pidfd >= 0 && p->pidfd_watched)
		epoll_ctl(d->pidfd_ep, EPOLL_CTL_DEL, p->pidfd, NULL);
	p->pidfd_watched = false;
	jmd_pidfd_put(d, p->pidfd);
	p->pidfd = -1;
}

/* Is seg, read from the file st, the one p was sampled from? */
bool jmd_same_writer(const struct jmd_proc *p, const struct jm_seg *seg, const struct stat *st)
{
	/* Same inode is not enough: a file system other than tmpfs gives a
	 * new file the inode of one just removed (an exec replaces the
	 * file), so the creation time in its header is compared too. */
	return p->start_ticks == seg->hdr.start_time && p->created_ns == seg->hdr.update_ns &&
	       p->dev == st->st_dev &&
	       p->ino == st->st_ino && p->nbins == seg->hdr.nbins &&
	       p->narenas == seg->hdr.narenas && p->uid == seg->hdr.uid;
}

/* Is host still the writer of seg that jmd_check_writer found there (pidfd
 * the pidfd it opened, or -1)? Then what was read of /proc/HOST by name
 * since (its cgroup and start, jmd_proc_new) was the writer's: a pid is
 * not given to another process while its holder lives, and an exited
 * writer's pidfd says so. */
bool jmd_writer_still(const struct jm_seg *seg, pid_t host, int pidfd)
{
	if (pidfd >= 0)
		return !pidfd_exited(pidfd);
	return jm_seg_check_process_as(seg, host) == 0;
}

/* The owner of /proc/PID, which the kernel gives as the process's
 * effective uid and gid (however dumpable): false if it cannot tell. */
static bool proc_owner(pid_t pid, struct stat *st)
{
	char path[32];
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return stat(path, st) == 0;
}

/* Has known writer p, of a uid other than root, its credentials as at
 * its last full check? Its file is its user's, who may write it: were it
 * to exec a set-uid or set-gid program (which publishes nothing), the file
 * would stand for a privileged process, its figures the user's to choose,
 * until the next full check (JMD_RECHECK_MS: a minute); root's alert
 * command given its pid and the name the user wrote (thirteenth pass,
 * docs/security.md). The exec sets the effective ids, which /proc/PID's
 * owner shows: one stat every JMD_CRED_MS (each tick at 1 s), and the full
 * check at once on a change (or when the process is gone). Root's writers
 * are not checked for their uids (a root process that drops them stays
 * root's: segread_proc.c). */
static bool creds_unchanged(const struct jmd_proc *p)
{
	if (p->uid == 0)
		return true;
	struct stat st;
	if (!proc_owner(p->pid, &st))
		return errno != ENOENT && errno != ESRCH;
	return st.st_uid == p->uid && st.st_gid == p->cred_gid;
}

/* Is the writer of seg alive and the process it claims to be? As
 * jm_seg_check_process(), for the writer's host pid (census.c maps a
 * writer of another pid namespace to it). p: the live process of its
 * entry, or NULL. Sets *host to the writer's host pid, and *pidfd_out to a
 * new pidfd of the writer for the caller to keep in its process, or -1. */
int jmd_check_writer(struct jmd *d, const struct jmd_proc *p, const struct jm_seg *seg,
                     const struct stat *st, pid_t *host, int *pidfd_out, uint32_t *cred_gid)
{
	bool known = p && p->pidfd >= 0 && jmd_same_writer(p, seg, st);
	*pidfd_out = -1;
	uint32_t every = d->opt.interval_ms < JMD_RECHECK_MS ? JMD_RECHECK_MS / d->opt.interval_ms : 1;
	if (known) {
		*host = p->pid;
		*cred_gid = p->cred_gid;
		uint32_t cred_every = d->opt.interval_ms < JMD_CRED_MS ? JMD_CRED_MS / d->opt.interval_ms : 1;
		bool cred_due = (d->tick + (uint32_t)p->pid) % cred_every == 0;
		if ((d->tick + (uint32_t)p->pid) % every != 0 && (!cred_due || creds_unchanged(p)))
			return (p->pidfd_watched ? p->exited : pidfd_exited(p->pidfd)) ? JM_SEG_EDEAD : 0;
	} else {
		int rc = jmd_census_host_pid(d, seg->hdr.pidns, (pid_t)seg->hdr.pid,
		                             seg->hdr.start_time, host);
		if (rc != 0)
			return rc;
	}
	/* Opened before /proc is read: if the process it stands for is still
	 * running after, it is the one /proc described. */
	int fd = known ? p->pidfd : pidfd_get(d, *host);
	/* Its owner before its full check: a change after the check is seen
	 * at the next tick (creds_unchanged). */
	struct stat owner;
	if (proc_owner(*host, &owner))
		*cred_gid = (uint32_t)owner.st_gid;
	int rc = jm_seg_check_process_as(seg, *host);
	if (rc == 0 && fd >= 0 && pidfd_exited(fd))
		rc = JM_SEG_EDEAD;
	if (!known) {
		if (rc == 0)
			*pidfd_out = fd;
		else
			jmd_pidfd_put(d, fd);
	}
	return rc;
}

/* ------------------------------------------------------------ segment files */

/* A known writer's segment file stays open from one tick to the next
 * (sample.c): its read is then the reader's preads alone, where opening its
 * name cost an openat2, an fstat, an open of /proc/self/fd/N and two
 * closes (about 30% of the daemon's time at 1,000 idle processes), and an
 * fstat of the file kept open 12% more. What its name stands for is
 * watched meanwhile: any event of its directory about the name (removed,
 * replaced, chmod, chown) closes it (discover.c), and so does a rescan
 * that finds the name another inode, or does not find it. The fds share the pidfds' budget, half of it at most, and
 * give way to a pidfd (pidfd_get). */
bool jmd_segfd_keep(struct jmd *d, struct jmd_proc *p, int fd, const struct stat *st)
{
	if (p->segfd >= 0 || p->pidfd < 0 || d->nsegfds >= d->max_pidfds / 2 ||
	    d->npidfds + d->nsegfds >= d->max_pidfds)
		return false;
	p->segfd = fd;
	p->seg_st = *st;
	d->nsegfds++;
	return true;
}

void jmd_segfd_put(struct jmd *d, struct jmd_proc *p)
{
	if (p->segfd < 0)
		return;
	close(p->segfd);
	p->segfd = -1;
	d->nsegfds--;
}

/* ------------------------------------------------------------ user namespaces */

/* What uid, inside the user namespace of process pid, is as we see it:
 * its /proc/PID/uid_map ("INSIDE OUTSIDE COUNT" lines, OUTSIDE in our
 * namespace's terms), or -1 if it maps to nothing. */
static int64_t uid_outside(pid_t pid, uint32_t uid)
{
	char buf[4096];
	if (jmd_proc_file(pid, "uid_map", buf, sizeof(buf)) < 0)
		return -1;
	for (char *line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		unsigned long long in, out, count;
		if (sscanf(line, "%llu %llu %llu", &in, &out, &count) == 3 && uid >= in &&
		    uid - in < count)
			return (int64_t)(out + (uid - in));
	}
	return -1;
}

int jmd_writer_uid(struct jmd *d, const struct jmd_proc *known, struct jm_seg *seg,
                   const struct stat *st, uint32_t *ns_uid)
{
	*ns_uid = seg->hdr.uid;
	if (seg->hdr.uid == st->st_uid)
		return 0;
	if (known && known->ns_uid == seg->hdr.uid && known->uid == st->st_uid) {
		seg->hdr.uid = known->uid;      /* the same file and writer: mapped before */
		return 0;
	}
	pid_t host;
	uint64_t pidns = seg->hdr.pidns ? seg->hdr.pidns : JMSTAT_PIDNS_INIT;
	if (jmd_census_host_pid(d, pidns, (pid_t)seg->hdr.pid, seg->hdr.start_time, &host) != 0 ||
	    uid_outside(host, seg->hdr.uid) != (int64_t)st->st_uid)
		return JM_SEG_EOWNER;
	seg->hdr.uid = (uint32_t)st->st_uid;
	return 0;
}

/* ------------------------------------------------------------ fd budget */

/* The soft limit on fds raised to the hard one (one pidfd per process);
 * the pidfds may take all but a reserve for clients, segments and the
 * rest. */
void jmd_pidfd_budget(struct jmd *d)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1u << 20) ? (1u << 20)
		                                                                     : rl.rlim_max;
		if (want > rl.rlim_cur) {
			struct rlimit up = { want, rl.rlim_max };
			if (setrlimit(RLIMIT_NOFILE, &up) == 0)
				rl.rlim_cur = want;
		}
	}
	size_t cur = rl.rlim_cur == RLIM_INFINITY ? (1u << 20) : (size_t)rl.rlim_cur;
	d->max_pidfds = cur > 2048 ? cur - 1024 : cur / 2;
}
