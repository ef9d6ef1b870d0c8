/*
 * dirs.c: the stats directories besides the first one (discover.c owns
 * that one, its watch and its reopening): the other --stats-dir given, and
 * the stats directory as each container sees it.
 *
 * A container has its own mount namespace and, most often, its own
 * /dev/shm: a tmpfs the host's /dev/shm never shows. Its processes'
 * segments are reached through /proc/PID/root/<stats dir> of any process
 * of that namespace. So at every rescan (JMD_RESCAN_TICKS) one walk of
 * /proc reads each process's /proc/PID/ns/mnt link (one readlink); a
 * namespace not seen before has its stats directory opened through that
 * first process (its representative), and a namespace known already costs
 * nothing more. A directory is known by its device and inode, so one that
 * several namespaces reach (a shared hostPath volume, a container without
 * a private /dev/shm, our own) is read once. Such a namespace is looked at
 * again, at each walk for RECHECK_EARLY walks after it was found and every
 * RECHECK_EVERY walks after that: a runtime makes the namespace first and
 * mounts its /dev/shm after, and a walk in between saw the host's, after
 * which the container's own directory was never read. The kernel gives a
 * new namespace the inode number of one gone before (the lowest free), so
 * a container made between two walks, just after another ended, was
 * taken for the one gone, whose directory then stood for its own: a
 * namespace whose representative (the process it was opened through) is
 * no longer in it is opened again, as a new one, through a process that
 * is. Each new directory is
 * watched with inotify (the watch holds the directory itself, not the
 * representative) and read at once; every rescan reads it again, the
 * safety net as for the first directory. When no process is left in the
 * namespaces that reached a directory, the directory is dropped with its
 * entries: their writers are gone with the namespace.
 *
 * A container owns its file system: its stats directory, or a directory on
 * the way, may be a symlink meant to lead the daemon elsewhere on the
 * host. So the path is resolved inside the container's root (openat2 with
 * RESOLVE_IN_ROOT: "/" and ".." stop at its root; where the kernel lacks
 * openat2, a directory reached through any symlink is refused), and the
 * watch is put on the directory opened (/proc/self/fd/N), not on a path.
 *
 * Anyone may make containers: a user namespace, a mount namespace and a
 * tmpfs on its stats directory take an unprivileged user one command and
 * a sleeping process. Each such directory costs the daemon an fd and an
 * inotify watch (of root's, shared with every other root service), and
 * thousands of them spent the daemon's fds: it could accept no client and
 * open no segment. So the directories of namespaces that a non-root user
 * owns (the uid that made the user namespace owning the mount namespace:
 * a runtime run by root, Docker's or the kubelet's, owns its containers
 * even with user namespaces) are read for JMD_UID_DIRS namespaces of that
 * user at most; the others are tried again at each walk, in case some of
 * the first are gone by then, with one log line every DIRS_LOG_MS.
 *
 * Entries (discover.c) carry their directory; a segment is then read,
 * checked and removed exactly as one of the first directory, and one more
 * check (jmd_dir_may_hold): a container's own directory holds only the
 * segments of processes whose mount namespace reaches it. A segment names
 * its writer by pid namespace, pid and start time, which another
 * container of the same uid (root's, without user namespaces: Docker's
 * default) may guess: its forged file claimed the other container's
 * process, whose own segment the daemon then removed as the older one. Reading
 * other namespaces' /proc/PID/root needs root (CAP_SYS_PTRACE and
 * CAP_DAC_READ_SEARCH); a daemon that is not root reads what it may.
 */
#include "jmstatd.h"

#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DIRS_LOG_MS 10000u
#define RECHECK_EARLY 6u     /* walks: a minute at the default interval */
#define RECHECK_EVERY 32u
#define OPENS_MAX     16u    /* container directories being opened at once (threads) */
#define OPENS_ROOT    4u     /* ... of those, kept for namespaces root owns */
#define OPENS_USER    4u     /* ... of those, of one user's namespaces */
#define OPEN_SLOW_MS  2000u  /* an open that takes longer is logged, once */

/* A mount namespace seen at the latest walk. */
struct jmd_mntns {
	uint64_t ino;            /* its inode */
	struct jmd_dir *dir;     /* the directory it reaches, if not the first */
	uint32_t seen_walk;      /* the latest walk that found a process in it */
	uint32_t first_walk;     /* the walk that found it */
	pid_t rep;               /* its representative: the process it was opened through */
	uint32_t rep_walk;       /* the latest walk that found rep in it */
	pid_t first_pid;         /* the first of its processes rooted at its root
	                            (ns_rooted) the latest walk found */
	uint32_t rooted_walk;    /* the latest walk that found one */
	bool want_open;          /* the latest walk is to open it (retry, recheck) */
	bool retry;              /* its directory was not opened: try again */
	bool recheck;            /* it reached a directory read already: look again */
	bool opening;            /* a thread opens its directory (struct open_job) */
	bool hostpid_done;       /* hostpid_key known (a process of ours found in it) */
	uint64_t hostpid_key;    /* cgroup_key of a process of our pid namespace in it,
	                            where that names a container: a --pid=host
	                            container's namespace; else 0 */
	uint32_t sub_top;        /* where hostpid_key is 0: the pid namespace of
	                            root's just below ours that a process of it
	                            runs in (sub_look), else 0 */
	uint32_t root_walk;      /* the latest walk that met a process of real uid 0
	                            in it, where that decides whose its directory
	                            is (root_look) */
	bool private_ns;         /* one of the host's private namespaces (root's,
	                            keyed by no container): whose it is follows
	                            who runs there (root_look) */
};

/* Whether the walk looks again at whose namespace m is (root_look): at
 * each of the first RECHECK_EARLY walks after it was found, then every
 * RECHECK_EVERY walks. */
static bool recheck_due(const struct jmd *d, const struct jmd_mntns *m)
{
	uint32_t age = d->ns_walk - m->first_walk;
	return age <= RECHECK_EARLY || age % RECHECK_EVERY == 0;
}

/*
 * A container's directory is opened off the loop. Its path is the
 * container's to choose, and what is mounted on it: a user who mounts
 * with fusermount (allow_other, where /etc/fuse.conf has user_allow_other)
 * a FUSE file system whose server does not answer, then binds it on
 * /dev/shm in a user and mount namespace of their own, had the daemon's
 * open of /proc/PID/root/dev/shm wait for that server, in D state, deaf to
 * every client, for as long as the server liked. So a thread opens the
 * directory, asks its file system (fstatfs) and refuses one that a server
 * answers for (FUSE, network file systems: every later readdir, open and
 * stat would ask it too); the loop takes the result when it comes
 * (uv_async) and goes on as before. The namespaces a walk finds wait in
 * a queue, opened OPENS_MAX at a time (OPENS_ROOT kept for root's
 * namespaces, Docker's or the kubelet's; OPENS_USER of one user's), the
 * next started as each ends. A thread that hangs is left to hang: its
 * namespace is not opened again while it does, it is logged once after
 * OPEN_SLOW_MS, and its user's next namespaces wait while it hangs: a user
 * who hangs theirs delays only their own containers. The jobs are the
 * loop's to free, once done; one left hanging at exit goes with the
 * process.
 */
struct open_job {
	uint64_t ino;            /* the namespace */
	uint32_t owner;          /* who owns it (mntns_owner) */
	bool foreign;            /* ... a user namespace other than ours */
	uint32_t who;            /* ... as a principal (jmd_principal) */
	uint64_t container;      /* root's: top_pidns of its representative */
	uint64_t cgroup;         /* root's: cgroup_key of its representative */
	uint32_t rep_uid;        /* root's: its representative's real uid (rep_uid) */
	char pid[16];            /* its representative */
	int procfd;              /* /proc/PID of it (proc_open_in), opened as its
	                            thread starts (not one an fd while queued:
	                            a user queues thousands); the thread's to close */
	char root[64];           /* "/proc/PID/root", for gdb and the reader */
	char *stats_dir;         /* the path inside it (a copy) */
	uint64_t started_ms;     /* uv_now() when its thread started */
	bool running;            /* its thread started (else queued) */
	bool slow_logged;
	/* Set by the thread, under jobs_lock: */
	bool done;
	int fd;                  /* the directory, O_RDONLY|O_DIRECTORY; -1: none */
	int err;                 /* why none: an errno; EXDEV: refused for its file system */
	long f_type;             /* its file system (statfs), once known */
	struct open_job *next;
};

static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct open_job *jobs;    /* the loop's list; done set under jobs_lock */
static struct open_job **jobs_end; /* its last next pointer; NULL: to be found again
                                      (a job was taken out) */
static uv_async_t jobs_async;
static bool jobs_async_open;
static uint64_t pidns_self;      /* the inode of our own pid namespace */

static void on_event(struct jmd_watch *w, const char *filename, int events, int status)
{
	struct jmd *d = w->data;
	struct jmd_dir *dir = (struct jmd_dir *)w;
	if (status < 0) {
		jmd_log("watching %s failed (%s); relying on rescans every %u intervals", dir->path,
		        uv_strerror(status), JMD_RESCAN_TICKS);
		return;
	}
	if (!filename) {
		d->watch_overflows++;
		d->rescan_pending = true;
		return;
	}
	struct jmstat_name id;
	if (jmstat_name_parse(filename, &id) == 0)
		jmd_discover_event(d, dir, filename, events);
}

static void scan_dir(struct jmd *d, struct jmd_dir *dir)
{
	int fd = openat(dir->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dp) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *de;
	jmd_leftovers_begin(dir);
	while ((de = readdir(dp)) != NULL) {
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (!strncmp(de->d_name, JMD_ASIDE_PREFIX, strlen(JMD_ASIDE_PREFIX))) {
			if (!dir->leftovers_done)
				jmd_discover_leftover(d, dir, de->d_name);
		} else
			jmd_discover_found(d, dir, de->d_name, false);
	}
	closedir(dp);
	dir->leftovers_done = true;   /* another daemon's: at the first scan only */
}

/* The directory with this identity, if we read it already: the first
 * (*first set) or one of the list. */
static struct jmd_dir *dir_known(struct jmd *d, const struct stat *st, bool *first)
{
	struct stat held;
	*first = d->dirfd >= 0 && fstat(d->dirfd, &held) == 0 && held.st_dev == st->st_dev &&
	         held.st_ino == st->st_ino;
	if (*first)
		return NULL;
	for (struct jmd_dir *dir = d->dirs; dir; dir = dir->next)
		if (dir->dev == st->st_dev && dir->ino == st->st_ino)
			return dir;
	return NULL;
}

/* The lines about directories of containers that users other than root
 * made: a user can make and end 64 such containers a walk (a user
 * namespace and a tmpfs each), one line each at every rescan. */
static struct jmd_log_budget users_dirs_log = { .about = "other users' containers" };

#define DIR_STOPPING "jmstatd is stopping"

/* Reads the directory at path (fd open on it) from now on, watched. */
static struct jmd_dir *dir_add(struct jmd *d, int fd, const struct stat *st, const char *path,
                               const char *shown, uint64_t mntns, uint32_t owner, uint64_t container,
                               uint64_t user)
{
	struct jmd_dir *dir = calloc(1, sizeof(*dir));
	if (!dir || !(dir->path = strdup(shown))) {
		free(dir);
		close(fd);
		return NULL;
	}
	dir->fd = fd;
	dir->dev = st->st_dev;
	dir->ino = st->st_ino;
	dir->mntns = mntns;
	dir->owner = owner;
	dir->container = container;
	dir->user = user;
	/* A user's mount namespace holds what they bind there: any
	 * directory they can look up, another user's or root's they cannot
	 * write among them, where the daemon (CAP_FOWNER) removed the files
	 * of dead writers and those that are no segment (eighteenth pass,
	 * tests/containers/bind_dir.test.sh). Files are removed only in a
	 * directory of the user's own (theirs or a subordinate uid's), all
	 * of whose files they may remove themselves. */
	dir->keep_files = owner != 0 && jmd_principal(d, (uint32_t)st->st_uid) != jmd_principal(d, owner);
	dir->seen_walk = d->ns_walk;
	dir->watching = jmd_watch_start(d->loop, &dir->watch, path, on_event, d) == 0;
	dir->next = d->dirs;
	d->dirs = dir;
	d->ndirs++;
	if (owner == 0 && !user)
		jmd_log("reading %s too", dir->path);
	else if (owner == 0)
		jmd_log_within(&users_dirs_log, "reading %s too (uid %u's service or sandbox)", dir->path,
		               (unsigned)user);
	else
		jmd_log_within(&users_dirs_log, "reading %s too (uid %u's)", dir->path, (unsigned)owner);
	scan_dir(d, dir);
	return dir;
}

static void dir_free(struct jmd_dir *dir)
{
	free(dir->path);
	free(dir);
}

/* Drops a directory and its entries (their processes leave the live view). */
static void dir_drop(struct jmd *d, struct jmd_dir *dir, const char *why)
{
	struct jmd_entry *next;
	for (struct jmd_entry *e = d->entries; e; e = next) {
		next = e->next;
		if (e->dir != dir)
			continue;
		if (e->proc)
			jmd_proc_retire(d, e->proc, why);
		jmd_entry_remove(d, e);
	}
	for (struct jmd_dir **pp = &d->dirs; *pp; pp = &(*pp)->next) {
		if (*pp == dir) {
			*pp = dir->next;
			break;
		}
	}
	d->ndirs--;
	jmd_asides_forget(d, dir);
	/* A container's directory dropped is said as its read was (dir_add):
	 * else a log showed a namespace read past the bound of 64 after the
	 * bound's line, where one of the 64 had gone meanwhile and the next
	 * took its place (twenty-first pass, tests/containers/
	 * dir_drop_log.test.sh). Not at a stop: every one at once. */
	if (dir->mntns == 0 || !strcmp(why, DIR_STOPPING))
		jmd_debug("no longer reading %s: %s", dir->path, why);
	else if (dir->owner == 0 && !dir->user)
		jmd_log("no longer reading %s: %s", dir->path, why);
	else if (dir->owner == 0)
		jmd_log_within(&users_dirs_log, "no longer reading %s (uid %u's service or sandbox): %s",
		               dir->path, (unsigned)dir->user, why);
	else
		jmd_log_within(&users_dirs_log, "no longer reading %s (uid %u's): %s", dir->path,
		               (unsigned)dir->owner, why);
	close(dir->fd);
	jmd_watch_stop(&dir->watch);
	dir_free(dir);
}

/* d->mntns indexed by inode (open addressing; a slot holds an index + 1,
 * 0 is empty), and the array's room. A walk looks up the namespace of
 * every process of the host: through the whole array, a user's thousands
 * of namespaces (a process each in one of its own) made every walk
 * quadratic, and the array grew by one element at a time. Rebuilt when
 * the array is compacted or outgrows half the index; without one (no
 * memory), the array is searched. */
static uint32_t *ns_index;
static size_t ns_index_cap;      /* a power of two, or 0 */
static size_t mntns_room;        /* elements d->mntns has room for */

static size_t ns_slot(uint64_t ino)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 24) & (ns_index_cap - 1);
}

static void ns_index_add(uint64_t ino, size_t i)
{
	size_t s = ns_slot(ino);
	while (ns_index[s] != 0)
		s = (s + 1) & (ns_index_cap - 1);
	ns_index[s] = (uint32_t)(i + 1);
}

static void ns_index_build(struct jmd *d)
{
	size_t cap = 64;
	while (cap < 2 * d->nmntns + 2)
		cap *= 2;
	if (cap != ns_index_cap) {
		free(ns_index);
		ns_index_cap = 0;
		if (!(ns_index = calloc(cap, sizeof(*ns_index))))
			return;
		ns_index_cap = cap;
	} else {
		memset(ns_index, 0, cap * sizeof(*ns_index));
	}
	for (size_t i = 0; i < d->nmntns; i++)
		ns_index_add(d->mntns[i].ino, i);
}

static struct jmd_mntns *mntns_find(struct jmd *d, uint64_t ino)
{
	if (!ns_index) {
		for (size_t i = 0; i < d->nmntns; i++)
			if (d->mntns[i].ino == ino)
				return &d->mntns[i];
		return NULL;
	}
	for (size_t s = ns_slot(ino); ns_index[s] != 0; s = (s + 1) & (ns_index_cap - 1))
		if (d->mntns[ns_index[s] - 1].ino == ino)
			return &d->mntns[ns_index[s] - 1];
	return NULL;
}

/* A new namespace, last in d->mntns, or NULL (no memory). */
static struct jmd_mntns *mntns_add(struct jmd *d, uint64_t ino)
{
	if (d->nmntns == mntns_room) {
		size_t room = mntns_room ? 2 * mntns_room : 64;
		struct jmd_mntns *nm = realloc(d->mntns, room * sizeof(*nm));
		if (!nm)
			return NULL;
		d->mntns = nm;
		mntns_room = room;
	}
	struct jmd_mntns *m = &d->mntns[d->nmntns++];
	*m = (struct jmd_mntns){ .ino = ino };
	if (2 * d->nmntns + 2 > ns_index_cap)
		ns_index_build(d);
	else if (ns_index)
		ns_index_add(ino, d->nmntns - 1);
	return m;
}

int jmd_dir_may_hold(struct jmd *d, const struct jmd_dir *dir, pid_t host)
{
	if (!dir || dir->mntns == 0)
		return 1;        /* ours, or another --stats-dir: shared by design */
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)host);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	unsigned long long ino;
	if (n <= 0)
		return -1;
	link[n] = '\0';
	if (sscanf(link, "mnt:[%llu]", &ino) != 1)
		return -1;
	const struct jmd_mntns *m = mntns_find(d, ino);
	if (!m || ((m->retry || m->opening) && !m->dir))
		return -1;       /* not walked yet, or its directory not opened yet */
	return m->dir == dir ? 1 : 0;
}

/* The stats directory inside the root directory rootfd, resolved as the
 * container would (RESOLVE_IN_ROOT), or -1. */
static int open_in_root(int rootfd, const char *dir, int flags)
{
	while (*dir == '/')
		dir++;
	if (!*dir)
		dir = ".";
#ifdef SYS_openat2
	struct open_how how = { .flags = (uint64_t)flags | O_DIRECTORY | O_CLOEXEC,
	                        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, rootfd, dir, &how, sizeof(how));
	if (fd >= 0 || errno != ENOSYS)
		return fd;
#endif
	/* No openat2: each component opened without following a symlink. */
	char part[256];
	int cur = dup(rootfd);
	while (cur >= 0 && *dir) {
		size_t n = strcspn(dir, "/");
		if (n == 0 || n >= sizeof(part)) {
			dir += n ? n : 1;
			continue;
		}
		memcpy(part, dir, n);
		part[n] = '\0';
		dir += n;
		while (*dir == '/')
			dir++;
		int next = strcmp(part, "..") == 0 ? -1
		           : openat(cur, part, flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(cur);
		cur = next;
	}
	return cur;
}

/* The inode of the namespace that the link name ("ns/mnt", "ns/pid") of
 * the process whose /proc directory procfd is names; 0 if it cannot tell
 * (the process gone: a /proc/PID opened before answers for that process
 * only, never for another given its pid since). */
static uint64_t ns_ino_at(int procfd, const char *name)
{
	char link[64];
	ssize_t n = readlinkat(procfd, name, link, sizeof(link) - 1);
	if (n <= 0)
		return 0;
	link[n] = '\0';
	const char *b = strchr(link, '[');
	return b ? strtoull(b + 1, NULL, 10) : 0;
}

/*
 * /proc/PID of a process the walk found in mount namespace ino, opened
 * (O_PATH) and checked to be in it still; -1 if it is not. Everything the
 * daemon reads of the namespace's representative (its owner, its pid
 * namespace, its cgroup, its root) is read through it. Read by pid
 * before, from the walk to the thread's open of /proc/PID/root: had the
 * process ended meanwhile and its pid gone to nobody's process in a user
 * and mount namespace of nobody's with a tmpfs on the stats directory,
 * nobody's directory was read as the root container's (owned by root,
 * keyed by the container), and kept as it once nobody's namespace was
 * found reaching it (seventeenth pass, docs/security.md;
 * tests/containers/dir_reuse.test.sh).
 */
static int proc_open_in(const char *pid, uint64_t ino)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%s", pid);
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && ns_ino_at(fd, "ns/mnt") != ino) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The uid that owns the mount namespace of the process (its /proc
 * directory procfd): the one that made its owning user namespace (0 for
 * the host's). Where the kernel cannot tell, the process's owner, as
 * /proc shows it. */
static uint32_t mntns_owner(int procfd, bool *foreign)
{
	uid_t uid = 0;
	int fd = openat(procfd, "ns/mnt", O_RDONLY | O_CLOEXEC);
	int userns = fd >= 0 ? ioctl(fd, NS_GET_USERNS) : -1;
	bool known = userns >= 0 && ioctl(userns, NS_GET_OWNER_UID, &uid) == 0;
	struct stat ns, self;
	*foreign = userns < 0 || fstat(userns, &ns) != 0 || stat("/proc/self/ns/user", &self) != 0 ||
	           ns.st_ino != self.st_ino || ns.st_dev != self.st_dev;
	if (userns >= 0)
		close(userns);
	if (fd >= 0)
		close(fd);
	struct stat st;
	if (!known)
		uid = fstatat(procfd, "", &st, AT_EMPTY_PATH) == 0 ? st.st_uid : 0;
	return (uint32_t)uid;
}

/* The start of the file `name` in the /proc directory procfd, one read,
 * NUL-terminated in buf (empty if it cannot be read). */
static void proc_read(int procfd, const char *name, char *buf, size_t size)
{
	int fd = openat(procfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, size - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
}

/* The real uid of the process whose /proc directory procfd is (its
 * status: a process that made itself not dumpable shows its /proc as
 * root's), 0 if it cannot tell. */
static uint32_t rep_uid(int procfd)
{
	char buf[4096];
	proc_read(procfd, "status", buf, sizeof(buf));
	const char *u = strstr(buf, "\nUid:");
	return u ? (uint32_t)strtoul(u + 5, NULL, 10) : 0;
}

/* Whether the process whose /proc directory procfd is runs with a real
 * uid of 0 (its status says so: not a user's process that made itself
 * not dumpable, whose /proc shows as root's). */
static bool real_root(int procfd)
{
	char buf[4096];
	proc_read(procfd, "status", buf, sizeof(buf));
	const char *u = strstr(buf, "\nUid:");
	char *end;
	return u && strtoul(u + 5, &end, 10) == 0 && end != u + 5;
}

/* The pid namespace just below ours that process pid runs in, or in a
 * namespace nested in it: a container's own, whatever namespaces its root
 * made since (its processes cannot leave that tree); 0 for ours, or where
 * the kernel cannot tell. Root's containers without a user namespace are
 * charged by it, not by their mount namespace (jmd_file_charge): root
 * there with CAP_SYS_ADMIN made mount namespaces, each a /dev/shm of its
 * own, each a directory with bounds of its own, as many as it liked
 * (fourteenth pass, docs/security.md; tests/containers/ns_multiply.test.sh). */
static uint64_t top_pidns(int procfd)
{
	uint32_t own, top, owner;
	/* Only a pid namespace root owns: a user's process in a namespace
	 * of root's (a service's, a set-uid sandbox's) that made a user and
	 * pid namespace of its own (unshare --user --pid --fork, no new
	 * mount namespace) and came first in the walk keyed that mount
	 * namespace by the user's pid namespace: a container of root's with
	 * bounds of its own (64 directories, 2,048 files, its processes),
	 * one more for each such namespace, every uid's files in it the
	 * container's, the user's own among them (twentieth pass,
	 * tests/containers/private_ns_dirs.test.sh). As sub_look. */
	return jmd_pidns_walk(openat(procfd, "ns/pid", O_RDONLY | O_CLOEXEC), &own, &top, &owner) == 1 &&
	       owner == 0 ? top : 0;
}

/* Root's namespace reached through a process of our own pid namespace
 * (a container run with the host's, --pid=host or hostPID, or a mount
 * namespace the host's root made): its key is the container its cgroup
 * names, the first run of 64 hex digits in its path as we see it (the
 * runtime's docker-ID.scope, cri-containerd-ID.scope, kubepods/.../ID),
 * which root there cannot leave for a cgroup of its own making where it
 * has a cgroup namespace (only the cgroups below its own are in it, and
 * their names come after its id); else one key for all such namespaces
 * of ours. Keyed by its mount namespace before, root there with
 * CAP_SYS_ADMIN made one after another, each a directory with bounds and
 * an _other on /metrics of its own (fifteenth pass, docs/security.md;
 * tests/containers/hostpid_ns.test.sh). JMD_CHARGE_CGROUP above the
 * inode's bits tells it from a pid namespace's (jmd_dir.container). */
static uint64_t cgroup_key(int procfd)
{
	char buf[4096];
	proc_read(procfd, "cgroup", buf, sizeof(buf));
	/* The cgroup2 line ("0::/PATH"), else the first v1 hierarchy's
	 * ("N:CONTROLLERS:/PATH"). */
	char *line = strstr(buf, "0::/");
	line = line && (line == buf || line[-1] == '\n') ? line : buf;
	line[strcspn(line, "\n")] = '\0';
	char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c2)
		return JMD_CHARGE_CGROUP;
	*c2 = '\0';
	const char *ctl = c1 + 1 == c2 ? NULL : c1 + 1, *path = c2 + 1;
	size_t len = strlen(path);
	uint32_t h = 2166136261u;
	for (size_t i = 0; i + 64 <= len; i++) {
		size_t k = 0;
		while (k < 64 && ((path[i + k] >= '0' && path[i + k] <= '9') ||
		                  (path[i + k] >= 'a' && path[i + k] <= 'f')))
			k++;
		bool before = i == 0 || !isxdigit((unsigned char)path[i - 1]);
		if (k != 64 || !before || isxdigit((unsigned char)path[i + 64]))
			continue;
		/* Only a cgroup directory root made names a container, as
		 * for the container label (labels.c): a user may name cgroups
		 * of theirs as they like where systemd delegates them
		 * (user@UID.service, a unit's Delegate=), and a process of
		 * theirs in a mount namespace root made (a service's
		 * PrivateDevices=, a set-uid sandbox's) moved into
		 * docker-<root's container's id>.scope of theirs had that
		 * namespace's directory keyed as root's container, its files
		 * counted against the container's bounds (seventeenth pass,
		 * tests/containers/hostpid_forged.test.sh). */
		if (!jmd_cgroup_root_made(ctl, path, len, i)) {
			i += 63;
			continue;
		}
		for (k = 0; k < 64; k++)
			h = (h ^ (unsigned char)path[i + k]) * 16777619u;
		return JMD_CHARGE_CGROUP | (h ? h : 1);
	}
	return JMD_CHARGE_CGROUP;    /* no container named: ours, all in one */
}

/* Whether key (cgroup_key, naming a container) is a --pid=host
 * container's: a walk found a process of our pid namespace in one of its
 * mount namespaces (walk_namespaces). A pid namespace root there makes
 * (CAP_SYS_ADMIN) runs just below ours and was keyed as a container of
 * its own, each with a tmpfs on /dev/shm and bounds of its own (files
 * tracked, reads, live processes, alert commands, exe names): its
 * namespaces' directories are keyed by that container now, whatever
 * the order the walk found them in (opened() asks once the walk is
 * over; sixteenth pass, tests/containers/hostpid_socket.test.sh). */
static bool hostpid_known(const struct jmd *d, uint64_t key)
{
	if (!(key & JMD_CHARGE_CGROUP) || key == JMD_CHARGE_CGROUP)
		return false;
	for (size_t i = 0; i < d->nmntns; i++)
		if (d->mntns[i].hostpid_key == key)
			return true;
	return false;
}

/* The key of root's namespace of container (open_job.container) for
 * the bound on directories: principal.c's dir_key. */
static uint64_t root_dir_key(uint64_t container, uint64_t mntns)
{
	if (container & JMD_CHARGE_CGROUP)
		return JMD_CHARGE_CONTAINER | JMD_CHARGE_CGROUP | (uint32_t)container;
	if (container)
		return JMD_CHARGE_CONTAINER | JMD_CHARGE_PIDNS | (uint32_t)container;
	return JMD_CHARGE_CONTAINER | (uint32_t)mntns;
}

/* The key of a directory's bound (owner_may_add): the user's (user,
 * else the owner's principal), or root's container's. */
static uint64_t dirs_key(struct jmd *d, uint32_t owner, uint64_t mntns, uint64_t container,
                         uint64_t user)
{
	if (user)
		return user;
	return owner == 0 ? root_dir_key(container, mntns) : jmd_principal(d, owner);
}

/* Whether owner may have one more container's directory read: a user
 * other than root JMD_UID_DIRS; root's namespaces as many for each of
 * its containers (root_dir_key), which had none: root of a container
 * with CAP_SYS_ADMIN made mount namespaces with a /dev/shm each without
 * end, each a directory the daemon opened in a thread, held (an fd, an
 * inotify watch, its entries) and read, the files of them all counted
 * against one bound since the fourteenth pass but the directories not
 * (fifteenth pass, tests/containers/hostpid_ns.test.sh). */
static bool owner_may_add(struct jmd *d, uint32_t owner, uint64_t mntns, uint64_t container,
                          uint64_t user)
{
	uint64_t key = dirs_key(d, owner, mntns, container, user);
	unsigned n = 0;
	for (const struct jmd_dir *dir = d->dirs; dir; dir = dir->next)
		if (dir->mntns != 0 && dirs_key(d, dir->owner, dir->mntns, dir->container, dir->user) == key)
			n++;
	if (n < JMD_UID_DIRS)
		return true;
	static uint64_t last_ms;
	static unsigned long left_out;
	uint64_t now = uv_hrtime() / 1000000u;
	if (last_ms && now - last_ms < DIRS_LOG_MS) {
		left_out++;
		return false;
	}
	char k[40];
	jmd_key_text(k, sizeof(k), key);
	jmd_log("%s%s owns %u containers whose stats directories are read, its limit: %s in "
	        "mnt:[%llu] is not read (%lu lines like this left out before)",
	        owner == 0 && !user ? "the container in " : "", k, n,
	        d->opt.stats_dir, (unsigned long long)mntns, left_out);
	last_ms = now;
	left_out = 0;
	return false;
}

/* File systems a server answers for, in user space or over a network:
 * each operation on them may wait as long as that server likes. And an
 * overlay mounted in a user namespace (its mount namespace's, not ours:
 * foreign): its layers are its mounter's to choose, a FUSE mount of
 * theirs among them, which the overlay reaches with its mounter's
 * credentials (FUSE keeps the daemon itself out, not them): its statfs
 * says overlay, and the loop's readdir of it asked the user's server,
 * the whole daemon hung in it (eighteenth pass,
 * tests/containers/overlay_fuse.test.sh). One mounted by root outside
 * any user namespace (a runtime's image) is read. */
static bool served_fs(long type, bool foreign)
{
	if (foreign && (unsigned long)type == OVERLAYFS_SUPER_MAGIC)
		return true;
	switch ((unsigned long)type) {
	case FUSE_SUPER_MAGIC:
	case NFS_SUPER_MAGIC:
	case SMB_SUPER_MAGIC:
	case CIFS_SUPER_MAGIC:
	case SMB2_SUPER_MAGIC:
	case V9FS_MAGIC:
	case CEPH_SUPER_MAGIC:
	case AFS_SUPER_MAGIC:
	case AFS_FS_MAGIC:
	case CODA_SUPER_MAGIC:
		return true;
	}
	return false;
}

static const char *fs_name(long type)
{
	switch ((unsigned long)type) {
	case FUSE_SUPER_MAGIC: return "FUSE";
	case NFS_SUPER_MAGIC:  return "NFS";
	case V9FS_MAGIC:       return "9p";
	case CEPH_SUPER_MAGIC: return "Ceph";
	case OVERLAYFS_SUPER_MAGIC: return "an overlay made in a user namespace (its layers its maker's)";
	default:               return "a network file system";
	}
}

/* Whether the link name (PID/root under dirfd, or /proc/self/fd/N)
 * reads "/": the root directory of the process's mount namespace (the
 * kernel shows another namespace's paths from its own root), not a
 * directory it chrooted into. Anyone in a mount namespace root made
 * may chroot without a mount namespace of their own (unshare
 * CLONE_NEWUSER gives CAP_SYS_CHROOT there): nobody's process, the
 * namespace's first, had its own directory read as the namespace's,
 * root's processes there never shown (eighteenth pass,
 * tests/containers/chroot_rep.test.sh). */
static bool link_is_root(int dirfd, const char *name)
{
	char link[8];
	ssize_t n = readlinkat(dirfd, name, link, sizeof(link));
	return n == 1 && link[0] == '/';
}

static bool fd_is_ns_root(int fd)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return link_is_root(AT_FDCWD, path);
}

/* The thread: opens the directory (O_PATH, no file system's open), asks
 * its file system, opens it for reading only if no server answers for it;
 * through the representative's /proc directory, which must still be in
 * the namespace once the directory is open (a process gone answers
 * ESRCH; one that entered another namespace since is refused too). */
static void *open_thread(void *arg)
{
	struct open_job *j = arg;
	int fd = -1, err = 0;
	long type = 0;
	int rootfd = openat(j->procfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	/* The root opened is the namespace's own, whatever the process did
	 * since the walk chose it (a chroot between the two). */
	if (rootfd >= 0 && !fd_is_ns_root(rootfd)) {
		close(rootfd);
		rootfd = -1;
		errno = ESRCH;
	}
	int pfd = rootfd >= 0 ? open_in_root(rootfd, j->stats_dir, O_PATH) : -1;
	if (pfd < 0)
		err = errno;
	if (rootfd >= 0)
		close(rootfd);
	struct statfs sf;
	if (pfd >= 0 && fstatfs(pfd, &sf) != 0)
		err = errno;
	else if (pfd >= 0 && served_fs((type = (long)sf.f_type), j->foreign))
		err = EXDEV;
	else if (pfd >= 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", pfd);
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			err = errno;
	}
	if (pfd >= 0)
		close(pfd);
	if (fd >= 0 && ns_ino_at(j->procfd, "ns/mnt") != j->ino) {
		close(fd);
		fd = -1;
		err = ESRCH;
	}
	close(j->procfd);
	pthread_mutex_lock(&jobs_lock);
	j->procfd = -1;
	j->fd = fd;
	j->err = err;
	j->f_type = type;
	j->done = true;
	/* Under the lock: the loop closes the handle under it too. */
	if (jobs_async_open)
		uv_async_send(&jobs_async);
	pthread_mutex_unlock(&jobs_lock);
	return NULL;
}

/* The threads running now, summed once for a pass over the queue: at most
 * OPENS_MAX (may_start starts no more). may_start() counted them over the
 * whole queue for each queued job: a user's 3,000 namespaces (a process
 * each in a user and mount namespace of its own, no tmpfs needed) made
 * each pass 9 million steps, one at each thread's end; the daemon took
 * 22% of a CPU and root's `version` waited up to 1.4 s. */
struct running {
	unsigned all, root, n;
	struct { uint32_t who; uint64_t started_ms; } v[OPENS_MAX];
};

static void running_add(struct running *r, const struct open_job *o)
{
	r->all++;
	r->root += o->who == 0;
	if (r->n < OPENS_MAX) {
		r->v[r->n].who = o->who;
		r->v[r->n].started_ms = o->started_ms;
		r->n++;
	}
}

/* Whether job j's thread may start now: within OPENS_MAX (OPENS_ROOT of
 * them kept for root's namespaces), OPENS_USER of its user's, and none of
 * that user's hanging. */
static bool may_start(const struct running *r, uint64_t now, const struct open_job *j)
{
	if (r->all >= OPENS_MAX)
		return false;
	if (j->who == 0)
		return true;
	unsigned mine = 0;
	for (unsigned i = 0; i < r->n; i++) {
		if (r->v[i].who != j->who)
			continue;
		mine++;
		if (now - r->v[i].started_ms >= OPEN_SLOW_MS)
			return false;
	}
	return mine < OPENS_USER && r->all - r->root < OPENS_MAX - OPENS_ROOT;
}

/* Starts the queued jobs that may start, oldest first. A job whose
 * namespace is gone is dropped. */
static void jobs_pump(struct jmd *d)
{
	struct running r = { 0 };
	uint64_t now = uv_now(d->loop);
	/* done is the threads', read under their lock (unlocked, a data race
	 * ThreadSanitizer reported in every container test). */
	pthread_mutex_lock(&jobs_lock);
	for (const struct open_job *o = jobs; o; o = o->next)
		if (o->running && !o->done)
			running_add(&r, o);
	pthread_mutex_unlock(&jobs_lock);
	struct open_job **pp = &jobs;
	while (*pp) {
		struct open_job *j = *pp;
		if (j->running || !may_start(&r, now, j)) {
			pp = &j->next;
			continue;
		}
		struct jmd_mntns *m = mntns_find(d, j->ino);
		pthread_attr_t attr;
		pthread_t t;
		int rc = -1;
		/* Its representative, still in the namespace (not another
		 * process given its pid since it was queued). */
		j->procfd = m ? proc_open_in(j->pid, j->ino) : -1;
		if (j->procfd >= 0) {
			j->running = true;
			j->started_ms = uv_now(d->loop);
			pthread_attr_init(&attr);
			pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
			pthread_attr_setstacksize(&attr, 64u << 10);
			rc = pthread_create(&t, &attr, open_thread, j);
			pthread_attr_destroy(&attr);
		}
		if (rc == 0) {
			running_add(&r, j);
			pp = &j->next;
			continue;
		}
		if (m) {                 /* no thread: tried again at the next walk */
			m->opening = false;
			m->retry = true;
		}
		*pp = j->next;
		jobs_end = NULL;
		if (j->procfd >= 0)
			close(j->procfd);
		free(j->stats_dir);
		free(j);
	}
}

/* The namespace's stats directory, through its process pid: queued for a
 * thread to open, taken by opened() once it is. */
static void mntns_open(struct jmd *d, struct jmd_mntns *m, const char *pid)
{
	if (m->opening)
		return;
	m->recheck = false;
	int procfd = proc_open_in(pid, m->ino);
	struct open_job *j = procfd >= 0 && jobs_async_open ? calloc(1, sizeof(*j)) : NULL;
	if (j && !(j->stats_dir = strdup(d->opt.stats_dir))) {
		free(j);
		j = NULL;
	}
	if (!j) {
		/* Its process gone, or no longer in it: at the next walk,
		 * through a process found in it then. */
		if (procfd >= 0)
			close(procfd);
		m->retry = true;
		return;
	}
	m->rep = (pid_t)atoi(pid);
	m->rep_walk = d->ns_walk;
	uint32_t owner = mntns_owner(procfd, &j->foreign);
	j->ino = m->ino;
	j->owner = owner;
	j->who = owner == 0 ? 0 : jmd_principal(d, owner);
	j->container = owner == 0 ? top_pidns(procfd) : 0;
	j->cgroup = owner == 0 ? cgroup_key(procfd) : 0;
	j->rep_uid = owner == 0 ? rep_uid(procfd) : 0;
	if (owner == 0 && j->container == 0)
		j->container = j->cgroup;
	j->fd = -1;
	j->procfd = -1;
	close(procfd);
	snprintf(j->pid, sizeof(j->pid), "%s", pid);
	snprintf(j->root, sizeof(j->root), "/proc/%s/root", pid);
	/* Queued last; the end kept, not looked for again at each of the
	 * thousands a walk may queue. */
	if (!jobs_end)
		for (jobs_end = &jobs; *jobs_end;)
			jobs_end = &(*jobs_end)->next;
	*jobs_end = j;
	jobs_end = &j->next;
	m->retry = false;
	m->opening = true;
}

/* A thread's directory, back on the loop. */
static void opened(struct jmd *d, struct open_job *j)
{
	char path[64], shown[4200];
	struct jmd_mntns *m = mntns_find(d, j->ino);
	int fd = j->fd;
	if (m)
		m->opening = false;
	if (!m) {                    /* its namespace is gone meanwhile */
		if (fd >= 0)
			close(fd);
		return;
	}
	if (fd < 0 && j->err == EXDEV) {
		/* A server answers for it: not read; looked at again now and
		 * then (its tmpfs may be mounted later, as any other's). */
		jmd_log_bad("%s in mnt:[%llu] (uid %u) is not read: it is on %s (0x%lx), "
		                "which a server of its own may answer for", d->opt.stats_dir,
		                (unsigned long long)j->ino, (unsigned)j->owner, fs_name(j->f_type),
		                (unsigned long)j->f_type);
		m->recheck = true;
		return;
	}
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		/* Its process gone meanwhile, or no such directory (yet):
		 * tried again at the next walk (one open per walk). */
		if (fd >= 0)
			close(fd);
		m->retry = true;
		return;
	}
	bool first;
	struct jmd_dir *dir = dir_known(d, &st, &first);
	if (j->owner == 0 && !(j->container & JMD_CHARGE_CGROUP) && hostpid_known(d, j->cgroup))
		j->container = j->cgroup;   /* a --pid=host container's pid namespace */
	else if (j->owner == 0 && j->container == JMD_CHARGE_CGROUP && m->sub_top)
		j->container = m->sub_top;  /* a container whose runtime's process is ours (sub_look) */
	/* One of the host's private namespaces reached through a user's
	 * process (a service run as nobody, a set-uid sandbox's): its
	 * directory counts against that user's bound of directories, not
	 * the one all such namespaces share, which a user with a set-uid
	 * sandbox (bwrap's, without a pid namespace) filled with 64, and
	 * root's services' in the others were not read (nineteenth pass,
	 * tests/containers/private_ns_dirs.test.sh). */
	m->private_ns = j->owner == 0 && j->container == JMD_CHARGE_CGROUP;
	uint64_t user = m->private_ns && j->rep_uid && m->root_walk != d->ns_walk
	                ? jmd_principal(d, j->rep_uid) : 0;
	/* A directory a user's namespace reached first (anything they bind
	 * there: a host directory that root's containers share among them),
	 * reached by a namespace of root's too, is that container's: its
	 * files no longer kept for the user's not owning it (dir_add), nor
	 * root's processes there counted in the user's namespace. The
	 * user's namespaces find it again at the next walk. */
	if (dir && dir->owner != 0 && j->owner == 0 && owner_may_add(d, 0, m->ino, j->container, user)) {
		for (size_t i = 0; i < d->nmntns; i++)
			if (d->mntns[i].dir == dir) {
				d->mntns[i].dir = NULL;
				d->mntns[i].retry = true;
			}
		dir_drop(d, dir, "a container of root's reaches it too");
		dir = NULL;
	}
	if (first || dir) {
		close(fd);
		m->dir = dir;
		m->recheck = true;   /* its own may be mounted later */
		return;
	}
	if (!owner_may_add(d, j->owner, m->ino, j->container, user)) {
		close(fd);
		m->retry = true;     /* once some of its others are gone */
		return;
	}
	snprintf(shown, sizeof(shown), "%s in mnt:[%llu]", d->opt.stats_dir,
	         (unsigned long long)m->ino);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	m->dir = dir_add(d, fd, &st, path, shown, m->ino, j->owner, j->container, user);
}

static void on_jobs(uv_async_t *h)
{
	struct jmd *d = h->data;
	/* The jobs done, taken out under one lock (not one per job queued:
	 * thousands may wait), in order. */
	struct open_job *done = NULL, **tail = &done;
	pthread_mutex_lock(&jobs_lock);
	for (struct open_job **pp = &jobs; *pp;) {
		struct open_job *j = *pp;
		if (!j->done) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		jobs_end = NULL;
		j->next = NULL;
		*tail = j;
		tail = &j->next;
	}
	pthread_mutex_unlock(&jobs_lock);
	while (done) {
		struct open_job *j = done;
		done = j->next;
		opened(d, j);
		free(j->stats_dir);
		free(j);
	}
	jobs_pump(d);
}

/* Logs, once each, the threads that have not opened theirs in OPEN_SLOW_MS
 * (other users' within a budget). Not a job still queued: it has no
 * thread, and was logged as one (its start time 0): a user's 3,000
 * namespaces waiting their turn wrote 1,477 lines. */
static void jobs_check_slow(struct jmd *d)
{
	uint64_t now = uv_now(d->loop);
	for (struct open_job *j = jobs; j; j = j->next) {
		pthread_mutex_lock(&jobs_lock);
		bool done = j->done;
		pthread_mutex_unlock(&jobs_lock);
		if (done || !j->running || j->slow_logged || now - j->started_ms < OPEN_SLOW_MS)
			continue;
		j->slow_logged = true;
		char msg[512];
		snprintf(msg, sizeof(msg), "%s in mnt:[%llu] (uid %u) has not opened in %u ms (a file "
		         "system whose server does not answer?): not read while it hangs%s",
		         d->opt.stats_dir, (unsigned long long)j->ino, (unsigned)j->owner, OPEN_SLOW_MS,
		         j->who ? "; its owner's other new containers wait" : "");
		if (j->who == 0)
			jmd_log("%s", msg);
		else
			jmd_log_within(&users_dirs_log, "%s", msg);
	}
}

/* Process name (under procdir) of namespace m, met by the walk, where
 * m's first process met runs in our pid namespace and its cgroup names no
 * container (hostpid_done, no hostpid_key): m is keyed as the one key of
 * the host's private namespaces (cgroup_key), whose users' files count as
 * theirs (principal.c, dir_every_uid), unless a process of it runs in a
 * pid namespace of root's below ours: a container made as `unshare
 * --pid --fork` makes one, its first process (the runtime's) left in our
 * pid namespace and in the container's mount namespace; m is then keyed
 * by that pid namespace, as a container all of whose processes run in it
 * is (opened). A readlink for each process of such a namespace in a
 * walk that opens its directory (most are a service's few processes,
 * which never have one), until one is found: each walk, a user's 3,000
 * processes in a service's namespace took the daemon 20% more CPU. */
static void sub_look(struct jmd_mntns *m, int procdir, const char *name)
{
	if (!m->hostpid_done || m->hostpid_key || m->sub_top || !pidns_self ||
	    (!m->want_open && !m->opening))
		return;
	char path[300], link[64];
	snprintf(path, sizeof(path), "%s/ns/pid", name);
	ssize_t n = readlinkat(procdir, path, link, sizeof(link) - 1);
	if (n <= 0)
		return;
	link[n] = '\0';
	const char *b = strchr(link, '[');
	if (!b || strtoull(b + 1, NULL, 10) == pidns_self)
		return;
	int pfd = proc_open_in(name, m->ino);
	if (pfd < 0)
		return;
	uint32_t own, top, owner;
	if (jmd_pidns_walk(openat(pfd, "ns/pid", O_RDONLY | O_CLOEXEC), &own, &top, &owner) == 1 &&
	    owner == 0 && top && ns_ino_at(pfd, "ns/mnt") == m->ino)
		m->sub_top = top;
	close(pfd);
}

/* Process name (under procdir) of namespace m, met by the walk, where
 * m is one of the host's private namespaces (no container's key) whose
 * directory is to be opened, or counts against a user's bound: whether
 * it runs as root (root_walk). Such a namespace's directory counted
 * against the bound of the user whose process was its representative
 * (the first the walk met: the lowest pid), whoever else ran there: a
 * root service that runs a worker as nobody (pids wrap: the worker's may
 * be the lower), or a user's login in a service's namespace, had root's
 * directory counted as nobody's, and not read at all while nobody's 64
 * were taken (twentieth pass, tests/containers/private_ns_dirs.test.sh).
 * A namespace where a process of real uid 0 runs is root's, its
 * directory counted against the bound the host's private namespaces
 * share; one counted as a user's is looked at again on the schedule of
 * rechecks (a stat of each process until one of root's is met) and
 * moved to that bound when root runs there. A user cannot make a process
 * of real uid 0; a set-uid program's real uid is its caller's. */
static void root_look(struct jmd *d, struct jmd_mntns *m, int procdir, const char *name)
{
	if (m->hostpid_key || m->sub_top || m->root_walk == d->ns_walk)
		return;
	if (!m->want_open && !m->opening && !(m->dir && (m->dir->user || m->private_ns) && recheck_due(d, m)))
		return;
	struct stat st;
	if (fstatat(procdir, name, &st, 0) != 0 || st.st_uid != 0)
		return;   /* a user's (or gone); not dumpable shows as root's: asked below */
	int pfd = proc_open_in(name, m->ino);
	if (pfd < 0)
		return;
	if (real_root(pfd))
		m->root_walk = d->ns_walk;
	close(pfd);
}

/* The user (jmd_principal) of m's representative, read now (its real
 * uid: a service's process may have dropped root's since it was met), 0
 * for root or if it cannot tell. */
static uint64_t rep_user_now(struct jmd *d, const struct jmd_mntns *m)
{
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)m->rep);
	int pfd = m->rep > 0 ? proc_open_in(pid, m->ino) : -1;
	if (pfd < 0)
		return 0;
	uint32_t uid = rep_uid(pfd);
	close(pfd);
	return uid ? jmd_principal(d, uid) : 0;
}

/* Process name (its /proc directory's, under procdir) of namespace m, met
 * by the walk: its representative if it is the first whose root is the
 * namespace's (link_is_root), the directory opened through it if the walk
 * is to. A process chrooted is passed over: a readlink each until one at
 * the root is met (most often the first). */
static void walk_rooted(struct jmd *d, struct jmd_mntns *m, int procdir, const char *name)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/root", name);
	if (!link_is_root(procdir, path))
		return;
	m->rooted_walk = d->ns_walk;
	m->first_pid = (pid_t)atoi(name);
	if (m->want_open)
		mntns_open(d, m, name);
	m->want_open = false;
}

/* One walk of /proc: every mount namespace, its directory opened once. */
static void walk_namespaces(struct jmd *d)
{
	jobs_check_slow(d);
	DIR *proc = opendir("/proc");
	if (!proc)
		return;
	d->ns_walk++;
	struct dirent *de;
	while ((de = readdir(proc)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		char path[300], link[64];
		snprintf(path, sizeof(path), "%s/ns/mnt", de->d_name);
		ssize_t n = readlinkat(dirfd(proc), path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		const char *b = strchr(link, '[');
		uint64_t ino = b ? strtoull(b + 1, NULL, 10) : 0;
		if (ino == 0 || ino == d->mntns_self)
			continue;
		pid_t pid = (pid_t)atoi(de->d_name);
		struct jmd_mntns *m = mntns_find(d, ino);
		if (m && m->rep == pid)
			m->rep_walk = d->ns_walk;
		if (m && m->seen_walk == d->ns_walk) {
			/* Seen: a representative still looked for (the first
			 * ones chrooted), else nothing more. */
			sub_look(m, dirfd(proc), de->d_name);
			root_look(d, m, dirfd(proc), de->d_name);
			if (m->rooted_walk != d->ns_walk)
				walk_rooted(d, m, dirfd(proc), de->d_name);
			continue;
		}
		if (!m) {
			if (!(m = mntns_add(d, ino)))
				break;
			m->first_walk = d->ns_walk;
			m->retry = true;
		}
		m->seen_walk = d->ns_walk;
		if (!m->hostpid_done) {
			/* A process of our pid namespace in a mount namespace
			 * of its own: a --pid=host container's, where its
			 * cgroup names one (or a host service's, which names
			 * none). A readlink a walk for each process of the
			 * other namespaces until one is found. */
			snprintf(path, sizeof(path), "%s/ns/pid", de->d_name);
			n = readlinkat(dirfd(proc), path, link, sizeof(link) - 1);
			if (n > 0) {
				link[n] = '\0';
				b = strchr(link, '[');
				int pfd = b && pidns_self && strtoull(b + 1, NULL, 10) == pidns_self
				          ? proc_open_in(de->d_name, ino) : -1;
				/* Its cgroup through its /proc, checked to be
				 * of our pid namespace still (not another's
				 * process given its pid since). */
				if (pfd >= 0 && ns_ino_at(pfd, "ns/pid") == pidns_self) {
					uint64_t key = cgroup_key(pfd);
					if (ns_ino_at(pfd, "ns/mnt") == ino) {
						m->hostpid_key = key != JMD_CHARGE_CGROUP ? key : 0;
						m->hostpid_done = true;
					}
				}
				if (pfd >= 0)
					close(pfd);
			}
		}
		m->want_open = m->retry || (m->recheck && recheck_due(d, m));
		sub_look(m, dirfd(proc), de->d_name);
		root_look(d, m, dirfd(proc), de->d_name);
		if (m->dir)
			m->dir->seen_walk = d->ns_walk;
		walk_rooted(d, m, dirfd(proc), de->d_name);
	}
	closedir(proc);

	/* Namespaces gone; directories no namespace reaches any longer. A
	 * namespace whose representative is no longer in it may be another
	 * with the gone one's inode (the kernel reuses them, lowest first):
	 * opened again, as a new one, through a process of it now. */
	size_t kept = 0;
	for (size_t i = 0; i < d->nmntns; i++) {
		struct jmd_mntns *m = &d->mntns[i];
		uint64_t user;
		if (m->seen_walk != d->ns_walk)
			continue;
		if (m->rep != 0 && m->rep_walk != d->ns_walk && !m->opening) {
			char pid[16];
			snprintf(pid, sizeof(pid), "%d", (int)m->first_pid);
			m->first_walk = d->ns_walk;
			if (m->rooted_walk == d->ns_walk)
				mntns_open(d, m, pid);
			else
				m->retry = true;   /* no process of it at its root yet */
		}
		if (m->dir && m->dir->user && m->root_walk == d->ns_walk && !m->sub_top &&
		    owner_may_add(d, 0, m->ino, m->dir->container, 0)) {
			/* Root runs there now (root_look): root's. */
			jmd_log("%s is read as root's (a process of root's runs there), not uid %u's",
			        m->dir->path, (unsigned)m->dir->user);
			m->dir->user = 0;
		} else if (m->dir && !m->dir->user && m->private_ns && m->dir->owner == 0 &&
		           m->dir->mntns == m->ino && m->dir->container == JMD_CHARGE_CGROUP &&
		           !m->sub_top && !m->hostpid_key && !m->opening && m->rep_walk == d->ns_walk &&
		           m->root_walk != d->ns_walk && recheck_due(d, m) &&
		           (user = rep_user_now(d, m)) != 0) {
			/* Root's, and no process of root's there now (root_look
			 * looked at each of them): the user's whose process
			 * represents it, as a namespace opened now would be. A
			 * service's worker left running as nobody kept its
			 * directory counted against the bound the host's
			 * private namespaces share for as long as it ran (also
			 * its representative, root's until it setuid). Past
			 * that user's bound, not read, as if opened now. */
			if (owner_may_add(d, 0, m->ino, m->dir->container, user)) {
				jmd_log("%s is read as uid %u's (no process of root's runs there now), "
				        "not root's", m->dir->path, (unsigned)user);
				m->dir->user = user;
			} else {
				struct jmd_dir *gone = m->dir;
				for (size_t k = 0; k < d->nmntns; k++)
					if (d->mntns[k].dir == gone) {
						d->mntns[k].dir = NULL;
						d->mntns[k].retry = true;
					}
				dir_drop(d, gone, "no process of root's runs there now, and its user's "
				         "bound of directories is full");
			}
		}
		d->mntns[kept++] = *m;
	}
	d->nmntns = kept;
	ns_index_build(d);
	jobs_pump(d);
	struct jmd_dir *next;
	for (struct jmd_dir *dir = d->dirs; dir; dir = next) {
		next = dir->next;
		if (dir->mntns != 0 && dir->seen_walk != d->ns_walk)
			dir_drop(d, dir, "its container is gone");
	}
}

void jmd_dirs_scan(struct jmd *d)
{
	if (!d->opt.no_containers && d->loop)
		walk_namespaces(d);
	for (struct jmd_dir *dir = d->dirs; dir; dir = dir->next)
		scan_dir(d, dir);
}

void jmd_dirs_start(struct jmd *d)
{
	struct stat st;
	d->mntns_self = stat("/proc/self/ns/mnt", &st) == 0 ? (uint64_t)st.st_ino : 0;
	pidns_self = stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
	if (d->loop && !jobs_async_open && uv_async_init(d->loop, &jobs_async, on_jobs) == 0) {
		jobs_async.data = d;
		jobs_async_open = true;
		uv_unref((uv_handle_t *)&jobs_async);
	}
	for (unsigned i = 0; i < d->opt.nextra_dirs; i++) {
		const char *path = d->opt.extra_dirs[i];
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) != 0) {
			jmd_log("cannot open the stats directory %s: %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			continue;
		}
		bool first;
		if (dir_known(d, &st, &first) || first) {
			close(fd);
			continue;
		}
		dir_add(d, fd, &st, path, path, 0, 0, 0, 0);
	}
}

void jmd_dirs_stop(struct jmd *d)
{
	while (d->dirs)
		dir_drop(d, d->dirs, DIR_STOPPING);
	/* The jobs done are freed; one still hanging keeps its own, and goes
	 * with the process. */
	if (jobs_async_open) {
		pthread_mutex_lock(&jobs_lock);
		for (struct open_job **pp = &jobs; *pp;) {
			struct open_job *j = *pp;
			if (j->running && !j->done) {
				pp = &j->next;
				continue;
			}
			*pp = j->next;       /* queued, or done: no thread holds it */
			jobs_end = NULL;
			if (j->fd >= 0)
				close(j->fd);
			free(j->stats_dir);
			free(j);
		}
		jobs_async_open = false;
		uv_close((uv_handle_t *)&jobs_async, NULL);
		pthread_mutex_unlock(&jobs_lock);
	}
	free(d->mntns);
	d->mntns = NULL;
	d->nmntns = 0;
	mntns_room = 0;
	free(ns_index);
	ns_index = NULL;
	ns_index_cap = 0;
}
