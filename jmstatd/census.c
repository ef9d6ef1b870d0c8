/*
 * census.c: the host's processes by pid namespace, so that a writer in a
 * container is known by its host pid.
 *
 * A segment names its writer as the writer sees itself: its pid in its own
 * pid namespace, the inode of that namespace and its start time (jmstat.h).
 * For a writer of our own namespace (or one that could not tell its
 * namespace) that pid is ours. For any other, the census maps the triple
 * (pidns, ns pid, start time) to a pid in our namespace: one walk of /proc
 * reads each process's /proc/PID/ns/pid link (one readlink), and for the
 * processes of the namespace asked about, the last field of NSpid in
 * /proc/PID/status (its pid in its innermost namespace, read once per
 * process and kept); the caller then checks the start time through
 * /proc/HOSTPID/stat and holds a pidfd of the host pid, so the census is
 * asked only once per writer.
 *
 * When the census does not hold the writer, it is gone only if the census
 * is sure to have seen it: the walk began after the writer started (else
 * the walk is done again, now), no link failed to read (a daemon that is
 * not root cannot read other users' links), and its namespace is one we
 * see: pid namespaces nest, so if any process of that namespace is in our
 * /proc, all of them are, and if we are in the host's (initial) namespace
 * we see every process. Otherwise the answer is "cannot tell" and the
 * segment stays: it is never removed because a container's pid is absent
 * from our /proc, or belongs there to another process.
 *
 * A walk costs a readlink per process of the host, and the start time
 * that decides whether one is due comes from the file: anyone can name a
 * file with a start time to come (a pid namespace that does not exist, a
 * start after every walk). Each such file made the daemon walk /proc
 * again, up to 2048 files a tick for one user (the read budget): a few
 * million readlinks a tick on a busy host. So walks are at least
 * JMD_CENSUS_GAP_MS apart; a writer that a walk this recent could not
 * know is "cannot tell" for now, and read again at the next tick (or,
 * new, by discover.c's retries), when the next walk is due.
 *
 * A walk's answer is only as fresh as the walk: the kernel gives a new
 * pid namespace the inode number of one gone before (the lowest free),
 * so a container started after another ended is often pid 1 of a
 * namespace with the same inode as the first one's pid 1 in the census.
 * That match named a dead host pid, and the new container's segment was
 * removed as its writer's, gone. So a match is believed only once /proc
 * says that host pid is still (namespace, pid) now; one that is not is
 * as no match, and an NSpid that could not be read (fds spent, not the
 * process gone) is "cannot tell", not a process that is not there.
 */
#include "jmstatd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct jmd_census_proc {
	uint64_t pidns;          /* inode of its pid namespace */
	pid_t pid;               /* in our namespace */
	pid_t nspid;             /* in its innermost namespace; 0: not read yet,
	                            -1: gone (or not the process it was) */
};

struct jmd_census {
	struct jmd_census_proc *procs;   /* the processes not of our namespace */
	size_t n;
	uint64_t walk_ticks;             /* CLOCK_BOOTTIME when the walk began, clock ticks */
	bool incomplete;                 /* some link could not be read */
};

static uint64_t boot_ticks(const struct jmd *d)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * (uint64_t)d->clk_tck +
	       (uint64_t)ts.tv_nsec * (uint64_t)d->clk_tck / 1000000000u;
}

/* The inode in a namespace link's text "pid:[4026531836]", or 0. */
static uint64_t ns_link_inode(const char *text)
{
	const char *p = strchr(text, '[');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

static void census_free(struct jmd_census *c)
{
	if (c) {
		free(c->procs);
		free(c);
	}
}

static int nspid_levels(pid_t pid);

static struct jmd_census *census_walk(struct jmd *d)
{
	struct jmd_census *c = calloc(1, sizeof(*c));
	DIR *dir = c ? opendir("/proc") : NULL;
	if (!dir) {
		census_free(c);
		return NULL;
	}
	c->walk_ticks = boot_ticks(d);
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		char path[300], link[64];
		snprintf(path, sizeof(path), "%s/ns/pid", de->d_name);
		ssize_t n = readlinkat(dirfd(dir), path, link, sizeof(link) - 1);
		if (n < 0) {
			/* Gone, or a zombie; or a link we may not read (init
			 * may deny even root): a process whose NSpid has one
			 * level is in our own namespace, else we cannot tell. */
			if (errno != ENOENT && errno != ESRCH &&
			    nspid_levels((pid_t)atoi(de->d_name)) != 1)
				c->incomplete = true;
			continue;
		}
		link[n] = '\0';
		uint64_t ino = ns_link_inode(link);
		if (ino == 0 || ino == d->pidns_self)
			continue;
		if (c->n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct jmd_census_proc *np = realloc(c->procs, ncap * sizeof(*np));
			if (!np) {
				c->incomplete = true;
				break;
			}
			c->procs = np;
			cap = ncap;
		}
		c->procs[c->n++] = (struct jmd_census_proc){ ino, (pid_t)atoi(de->d_name), 0 };
	}
	closedir(dir);
	return c;
}

static int nspid_fields(pid_t pid, long *last);

/* How many pid namespaces, from ours down, pid is in (NSpid's fields). */
static int nspid_levels(pid_t pid)
{
	long last;
	return nspid_fields(pid, &last);
}

/* The last field of NSpid in /proc/PID/status; 0 if the process is gone
 * (or shows none), -1 if it could not be read. */
static pid_t read_nspid(pid_t pid)
{
	long last = -1;
	errno = 0;
	int n = nspid_fields(pid, &last);
	if (n > 0 && last > 0)
		return (pid_t)last;
	return n < 0 && errno != 0 && errno != ENOENT && errno != ESRCH ? -1 : 0;
}

/* Whether host pid is still the process (pidns, nspid) the census took it
 * for: 1 yes, 0 no (gone, or another process now), -1 cannot tell. */
static int census_still(pid_t host, uint64_t pidns, pid_t nspid)
{
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)host);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return errno == ENOENT || errno == ESRCH ? 0 : -1;
	link[n] = '\0';
	if (ns_link_inode(link) != pidns)
		return 0;
	pid_t now = read_nspid(host);
	return now < 0 ? -1 : now == nspid;
}

ssize_t jmd_proc_file(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* The fields of NSpid in /proc/PID/status (0: none, -1: unreadable),
 * the last in *last. */
static int nspid_fields(pid_t pid, long *last)
{
	char buf[4096];
	if (jmd_proc_file(pid, "status", buf, sizeof(buf)) < 0)
		return -1;
	const char *line = strstr(buf, "\nNSpid:");
	if (!line)
		return -1;
	line += 7;
	const char *end = strchr(line, '\n');
	int fields = 0;
	for (char *p = (char *)line; *p && (!end || p < end);) {
		char *next;
		long v = strtol(p, &next, 10);
		if (next == p)
			break;
		*last = v;
		fields++;
		p = next;
	}
	return fields;
}

/* 1 found (and still that process), 0 not in this census, -1 cannot tell
 * (an NSpid of that namespace's, or the match, could not be read). Sets
 * *seen if a process of pidns is in it. */
static int census_find(struct jmd_census *c, uint64_t pidns, pid_t nspid, pid_t *host,
                       bool *seen)
{
	bool unknown = false;
	*seen = false;
	for (size_t i = 0; i < c->n; i++) {
		struct jmd_census_proc *cp = &c->procs[i];
		if (cp->pidns != pidns)
			continue;
		*seen = true;
		if (cp->nspid == 0) {
			pid_t v = read_nspid(cp->pid);
			if (v < 0) {             /* not kept: read again next time */
				unknown = true;
				continue;
			}
			cp->nspid = v > 0 ? v : -1;
		}
		if (cp->nspid != nspid)
			continue;
		int still = census_still(cp->pid, pidns, nspid);
		if (still > 0) {
			*host = cp->pid;
			return 1;
		}
		if (still < 0)
			unknown = true;
		else
			cp->nspid = -1;          /* gone, or another process now */
	}
	return unknown ? -1 : 0;
}

int jmd_census_host_pid(struct jmd *d, uint64_t pidns, pid_t nspid, uint64_t start,
                        pid_t *host)
{
	if (pidns == 0 || pidns == d->pidns_self) {
		*host = nspid;
		return 0;
	}
	bool seen = false;
	int found = d->census ? census_find(d->census, pidns, nspid, host, &seen) : 0;
	if (found > 0)
		return 0;
	/* A walk that began before the writer started cannot know it. */
	if (!d->census || d->census->walk_ticks <= start + 1) {
		uint64_t now = uv_hrtime();
		if (d->census && now - d->census_walk_ns < (uint64_t)JMD_CENSUS_GAP_MS * 1000000u)
			return JM_SEG_EIO;      /* the next walk is not due yet */
		d->census_walk_ns = now;
		struct jmd_census *c = census_walk(d);
		if (!c)
			return JM_SEG_EIO;
		census_free(d->census);
		d->census = c;
		jmd_debug("census: %zu processes in other pid namespaces", c->n);
		found = census_find(c, pidns, nspid, host, &seen);
		if (found > 0)
			return 0;
	}
	if (found < 0 || d->census->incomplete)
		return JM_SEG_EIO;
	if (seen || d->pidns_self == JMSTAT_PIDNS_INIT)
		return JM_SEG_EDEAD;
	return JM_SEG_EIO;
}

int jmd_census_init(struct jmd *d)
{
	struct stat st;
	d->pidns_self = stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
	return 0;
}

void jmd_census_fini(struct jmd *d)
{
	census_free(d->census);
	d->census = NULL;
}
