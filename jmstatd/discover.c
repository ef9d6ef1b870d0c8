/*
 * discover.c: which segment files exist in the stats directory.
 *
 * The table holds one jmd_entry per file with a segment's name (jmstat.h:
 * jmalloc.<pid>.stats, or with the writer's pid namespace and start time
 * for a process in a container), hashed by the name (the buckets doubled
 * whenever the entries outnumber them: anyone can make files by the
 * hundred thousand, and each rescan looks every name up). Files are found two ways: an inotify watch on the directory
 * (uv_fs_event), which sees a new file at once and reads it straight away,
 * and a full rescan every JMD_RESCAN_TICKS ticks (and after the watch lost
 * events), the safety net for anything the watch missed. Any other name in
 * the directory is ignored. A new file is usually still being built when
 * the watch reports it (the writer fills it through a mapping, which the
 * watch does not see): such a file is read again every JMD_RETRY_MS for a
 * grace time (jmd_entry_new), so that a new process shows up within a few
 * tens of ms rather than at the next tick. An entry leaves the table when its file is
 * gone, or when sample.c finds its writer dead; then, and only then, the
 * file itself is removed (jmd_entry_unlink_stale), if it still is the very
 * file that was read (same device and inode) and a regular file.
 *
 * Each file is charged to its owner's user (jmd_file_charge) when it is
 * found, and one user's files are tracked up to --user-processes +
 * JMD_UID_FILES_EXTRA: a live process has one file, and the rest is room
 * for files being built or left by an exec. Anyone can make empty files
 * under segment names by the hundred thousand, and name them after a
 * live process of theirs (with a tag: jmalloc.PID.PIDNS.START.TAG.stats),
 * which keeps them from being removed as a dead process's: each cost an
 * entry (252 B) and a read at every rescan, and the directory's inodes
 * were their only bound (100,000 of nobody's: the daemon 3.0 -> 27.4 MB,
 * 25% of a CPU at a 200 ms interval). Past the bound a name costs an
 * fstatat at each rescan and nothing kept; one log line says so when a
 * user first reaches it (one every 10 s in all), and
 * jmd_files_untracked counts the names left out at the latest rescan.
 *
 * The directory itself may go: removed (a tmpfs unmounted, a cleanup
 * script) and made again, or replaced by another. The fd and the watch
 * would then hold the old one forever, blind to the segments written into
 * the new one by path. So the directory's identity (device and inode at
 * opt.stats_dir against the fd's) is checked at every rescan and whenever
 * the watch reports a name that is not a segment's (the directory's own
 * removal or move comes that way); a directory that is gone is looked for
 * again every tick, and once back it is opened and watched afresh, with
 * one log line each way.
 */
#include "jmstatd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JMD_RETRY_MS 20

static size_t bucket_in(const struct jmd_dir *dir, const char *name, size_t nbuckets)
{
	uint32_t h = 2166136261u ^ (uint32_t)((uintptr_t)dir >> 4);   /* FNV-1a */
	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h % nbuckets;
}

static size_t bucket_of(const struct jmd *d, const struct jmd_dir *dir, const char *name)
{
	return bucket_in(dir, name, d->nbuckets);
}

/* Doubles the buckets (or makes the first): false if out of memory. */
static bool buckets_grow(struct jmd *d)
{
	size_t n = d->nbuckets ? d->nbuckets * 2 : JMD_NBUCKETS;
	struct jmd_entry **b = calloc(n, sizeof(*b));
	if (!b)
		return d->buckets != NULL;      /* longer chains, still right */
	for (struct jmd_entry *e = d->entries; e; e = e->next) {
		size_t i = bucket_in(e->dir, e->name, n);
		e->hnext = b[i];
		b[i] = e;
	}
	free(d->buckets);
	d->buckets = b;
	d->nbuckets = n;
	return true;
}

struct jmd_entry *jmd_entry_find(struct jmd *d, const struct jmd_dir *dir, const char *name)
{
	if (!d->buckets)
		return NULL;
	for (struct jmd_entry *e = d->buckets[bucket_of(d, dir, name)]; e; e = e->hnext)
		if (e->dir == dir && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

const char *jmd_entry_dir(const struct jmd *d, const struct jmd_entry *e)
{
	return e->dir ? e->dir->path : d->opt.stats_dir;
}

/* ------------------------------------------------------------ files per user */

struct jmd_file_count {
	uint64_t key;            /* jmd_file_charge */
	uint32_t files;          /* entries charged to it */
	uint32_t over;           /* names left out at the rescan over_gen */
	uint32_t over_gen;
	uint32_t over_last;      /* ... at the latest rescan done (a rescan in
	                            progress counts in slices) */
	bool logged;             /* its bound was logged since it was last under it */
	struct jmd_file_count *next;
};

static struct jmd_file_count **count_slot(const struct jmd *d, uint64_t key)
{
	struct jmd_file_count *const *pp = &d->file_counts[(key ^ (key >> 32)) % JMD_NBUCKETS];
	while (*pp && (*pp)->key != key)
		pp = &(*pp)->next;
	return (struct jmd_file_count **)pp;
}

static uint32_t files_bound(const struct jmd *d)
{
	return d->opt.uid_procs + JMD_UID_FILES_EXTRA;
}

static void count_release(struct jmd *d, uint64_t key)
{
	if (key == JMD_CHARGE_NONE)
		return;
	struct jmd_file_count **pp = count_slot(d, key);
	if (*pp && --(*pp)->files == 0) {
		struct jmd_file_count *c = *pp;
		*pp = c->next;
		free(c);
	}
}

uint64_t jmd_files_untracked(const struct jmd *d, uint32_t user)
{
	uint64_t n = 0;
	if (user != JMD_UID_ALL) {
		const struct jmd_file_count *c = *count_slot(d, user);
		return c ? c->over_last : 0;
	}
	for (size_t i = 0; i < JMD_NBUCKETS; i++)
		for (const struct jmd_file_count *c = d->file_counts[i]; c; c = c->next)
			n += c->over_last;
	return n;
}

void jmd_file_counts_free(struct jmd *d)
{
	for (size_t i = 0; i < JMD_NBUCKETS; i++) {
		while (d->file_counts[i]) {
			struct jmd_file_count *c = d->file_counts[i];
			d->file_counts[i] = c->next;
			free(c);
		}
	}
}

/* A name of c's past its bound: not tracked. Counted when a rescan
 * found it; one line when its user first reaches the bound. */
static void files_left_out(struct jmd *d, struct jmd_file_count *c, const struct jmd_dir *dir,
                           bool scanning)
{
	if (scanning) {
		if (c->over_gen != d->scan_gen)
			c->over = 0;
		c->over_gen = d->scan_gen;
		c->over++;
	}
	if (c->logged)
		return;
	c->logged = true;
	static uint64_t last_ns;
	static unsigned long left_out;
	uint64_t now = uv_hrtime();
	if (last_ns && now - last_ns < 10000000000ull) {
		left_out++;
		return;
	}
	last_ns = now;
	char who[80], k[40];
	jmd_key_text(k, sizeof(k), c->key);
	if (c->key & JMD_CHARGE_CONTAINER)
		snprintf(who, sizeof(who), "the container's files in %s", k);
	else
		snprintf(who, sizeof(who), "%s", k);
	jmd_log("%s: %u files under segment names tracked, its bound (--user-processes + %u): "
	        "its next ones (in %s and elsewhere) are neither read nor shown until some go "
	        "(%lu lines like this left out before)", who, c->files, JMD_UID_FILES_EXTRA,
	        dir ? dir->path : d->opt.stats_dir, left_out);
	left_out = 0;
}

/* At the end of a rescan: what it left out is the count shown, and a
 * user it found under its bound is logged again when it next reaches it. */
static void files_rescanned(struct jmd *d)
{
	for (size_t i = 0; i < JMD_NBUCKETS; i++)
		for (struct jmd_file_count *c = d->file_counts[i]; c; c = c->next) {
			c->over_last = c->over_gen == d->scan_gen ? c->over : 0;
			if (c->over_gen != d->scan_gen)
				c->logged = false;
		}
}

/* The key a new name of dir is charged to, or false when its user has
 * its bound of files tracked already (or it is gone). */
static bool files_charge(struct jmd *d, struct jmd_dir *dir, const char *name, bool scanning,
                         uint64_t *key)
{
	struct stat st;
	*key = JMD_CHARGE_NONE;
	if (jmd_name_stat(dir ? dir->fd : d->dirfd, name, &st) != 0)
		return errno != ENOENT && errno != EXDEV;   /* gone, or a mount point: nothing to track */
	*key = jmd_file_charge(d, dir, st.st_uid);
	if (*key == JMD_CHARGE_NONE)
		return true;
	struct jmd_file_count **pp = count_slot(d, *key);
	if (*pp && (*pp)->files >= files_bound(d)) {
		files_left_out(d, *pp, dir, scanning);
		return false;
	}
	if (!*pp) {
		*pp = calloc(1, sizeof(**pp));
		if (!*pp) {
			*key = JMD_CHARGE_NONE;
			return true;
		}
		(*pp)->key = *key;
	}
	(*pp)->files++;
	return true;
}

static struct jmd_entry *entry_add(struct jmd *d, struct jmd_dir *dir, const char *name,
                                   const struct jmstat_name *id, uint64_t charged)
{
	struct jmd_entry *e = NULL;
	if ((d->buckets && d->nentries < d->nbuckets) || buckets_grow(d))
		e = calloc(1, sizeof(*e));
	if (!e) {
		jmd_log("out of memory tracking %s", name);
		count_release(d, charged);
		return NULL;
	}
	e->id = *id;
	e->dir = dir;
	e->charged = charged;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->found_ns = uv_hrtime();
	e->seen_scan = d->scan_gen;
	size_t b = bucket_of(d, dir, e->name);
	e->hnext = d->buckets[b];
	d->buckets[b] = e;
	e->next = d->entries;
	if (d->entries)
		d->entries->prev = e;
	d->entries = e;
	d->nentries++;
	return e;
}

/* Drops the entry (not its process: the caller retires that first). */
void jmd_entry_remove(struct jmd *d, struct jmd_entry *e)
{
	if (d->tick_next == e)
		d->tick_next = e->next;       /* a tick in slices goes on after it */
	if (e->proc && e->proc->entry == e)
		e->proc->entry = NULL;
	struct jmd_entry **pp = &d->buckets[bucket_of(d, e->dir, e->name)];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		d->entries = e->next;
	if (e->next)
		e->next->prev = e->prev;
	d->nentries--;
	count_release(d, e->charged);
	free(e);
}

void jmd_entry_to_front(struct jmd *d, struct jmd_entry *e)
{
	if (d->entries == e)
		return;
	if (d->tick_next == e)
		d->tick_next = e->next;
	e->prev->next = e->next;      /* not the head: it has a prev */
	if (e->next)
		e->next->prev = e->prev;
	e->prev = NULL;
	e->next = d->entries;
	d->entries->prev = e;
	d->entries = e;
}

void jmd_entries_free(struct jmd *d)
{
	while (d->entries)
		jmd_entry_remove(d, d->entries);
	jmd_file_counts_free(d);
	free(d->buckets);
	d->buckets = NULL;
	d->nbuckets = 0;
}

/*
 * The files this daemon moved aside and could not put back (the name
 * taken, then free, at each of JMD_PUTBACK_TRIES tries: each failure
 * needs a change of the name timed to the system call), kept here and
 * tried again at every rescan until the name is free. Only these, and at
 * a directory's first scan another daemon's (jmd_discover_leftover):
 * every name with the prefix was looked at by every rescan, and anyone
 * can make them, outside every bound of files; 20,000 of nobody's naming
 * dead pids whose names were taken cost the daemon a kill and a rename
 * each per rescan, 101 ticks of CPU in 20 s at a rescan a second against
 * 13 with as many junk names (nineteenth pass, docs/security.md;
 * tests/daemon/aside_bound.test.sh). A file is kept by its owner's key
 * (jmd_file_charge), JMD_ASIDE_KEPT of one key's: past that it stays
 * aside until the daemon starts again, said in the log.
 */
struct jmd_aside {
	struct jmd_dir *dir;     /* NULL: the first */
	uint64_t key;
	char aside[NAME_MAX + 1];
	char name[JMSTAT_NAME_MAX];
	struct jmd_aside *next;
};

static bool aside_keep(struct jmd *d, struct jmd_dir *dir, const char *aside, const char *name,
                       uint32_t uid)
{
	uint64_t key = jmd_file_charge(d, dir, uid);
	size_t all = 0, mine = 0;
	for (const struct jmd_aside *a = d->asides; a; a = a->next) {
		all++;
		mine += a->key == key;
	}
	if (all >= JMD_ASIDE_KEPT_ALL || mine >= JMD_ASIDE_KEPT)
		return false;
	struct jmd_aside *a = calloc(1, sizeof(*a));
	if (!a)
		return false;
	a->dir = dir;
	a->key = key;
	snprintf(a->aside, sizeof(a->aside), "%s", aside);
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->next = d->asides;
	d->asides = a;
	return true;
}

/* A directory dropped (or the first one replaced: dir NULL): what was
 * left aside there is not ours to track any longer. */
void jmd_asides_forget(struct jmd *d, const struct jmd_dir *dir)
{
	for (struct jmd_aside **pp = &d->asides; *pp;) {
		struct jmd_aside *a = *pp;
		if (a->dir != dir) {
			pp = &a->next;
			continue;
		}
		*pp = a->next;
		free(a);
	}
}

/* At every rescan: each file left aside back under its name, if free;
 * forgotten once it is, or once it is gone. */
void jmd_asides_retry(struct jmd *d)
{
	for (struct jmd_aside **pp = &d->asides; *pp;) {
		struct jmd_aside *a = *pp;
		int dfd = a->dir ? a->dir->fd : d->dirfd;
		int rc = renameat2(dfd, a->aside, dfd, a->name, RENAME_NOREPLACE);
		if (rc != 0 && errno == EEXIST) {
			pp = &a->next;
			continue;
		}
		const char *dir = a->dir ? a->dir->path : d->opt.stats_dir;
		if (rc == 0)
			jmd_log("put %s/%s back: its name was free again", dir, a->name);
		else
			jmd_log("cannot put %s/%s back from %s: %s", dir, a->name, a->aside,
			        strerror(errno));
		*pp = a->next;
		if (rc == 0)
			jmd_discover_found(d, a->dir, a->name, false);
		free(a);
	}
}

/* Removes the file of a writer known to be dead, if the name still points
 * to the same regular file that was read: 0, or a negative errno (-ESTALE:
 * it was replaced).
 *
 * Not by name after a check of the name: in the sticky /dev/shm the
 * checked file's owner may remove it between the check and the unlink,
 * and anyone may then make a file under the freed name, which the unlink
 * removed instead (another user's, root's: a segment its process made
 * then, its process no longer seen). The name is first moved to a name
 * of the daemon's own (RENAME_NOREPLACE), the file there checked, and
 * removed only if it is the one read; another is put back under its
 * name. What stands under the daemon's name between that check and the
 * unlink is the checked file, or one its owner's removal let someone put
 * there by that name alone, which no process of theirs uses. */
int jmd_entry_unlink(struct jmd *d, struct jmd_entry *e, dev_t dev, ino_t ino)
{
	if (e->dir && e->dir->keep_files)
		return -EPERM;      /* another user's directory (dir_add) */
	int dfd = jmd_entry_dirfd(d, e);
	struct stat st;
	if (jmd_name_stat(dfd, e->name, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_dev != dev || st.st_ino != ino)
		return -ESTALE;
	/* The aside name carries the name (jmd_discover_leftover): a daemon
	 * stopped between the moves (killed, a crash) left the file there
	 * forever, a live process's segment among them (one put back), and
	 * its next start puts it back. A name too long for that gets the
	 * short one. */
	static unsigned long seq;
	char aside[NAME_MAX + 1];
	++seq;
	int n = snprintf(aside, sizeof(aside), JMD_ASIDE_PREFIX "%d.%lu.%s", (int)getpid(), seq, e->name);
	if (n < 0 || (size_t)n >= sizeof(aside))
		snprintf(aside, sizeof(aside), JMD_ASIDE_PREFIX "%d.%lu", (int)getpid(), seq);
	if (renameat2(dfd, e->name, dfd, aside, RENAME_NOREPLACE) != 0) {
		if (errno != EINVAL && errno != ENOSYS)
			return -errno;
		/* A file system without RENAME_NOREPLACE: by name, as checked. */
		return unlinkat(dfd, e->name, 0) == 0 ? 0 : -errno;
	}
	bool have = jmd_name_stat(dfd, aside, &st) == 0;
	if (have && S_ISREG(st.st_mode) && st.st_dev == dev && st.st_ino == ino)
		return unlinkat(dfd, aside, 0) == 0 ? 0 : -errno;
	/* Another file took the name after the check: back under it (swapped
	 * with a third made there since, if any, left under the daemon's).
	 * Tried again while the name comes and goes between the two: a file
	 * made there before the first and removed before the second (anyone
	 * may, in the sticky /dev/shm) failed both, and the live process's
	 * segment stayed under the daemon's name, the process never shown
	 * again (eighteenth pass, tests/daemon/unlink_aside.test.sh). Each
	 * try fails only if the name changed since the last: JMD_PUTBACK_TRIES
	 * changes timed to the system call are not to be had; what is left
	 * so goes back at the next rescan (jmd_discover_leftover). */
	int err = 0;
	for (int i = 0; i < JMD_PUTBACK_TRIES; i++) {
		if (renameat2(dfd, aside, dfd, e->name, RENAME_NOREPLACE) == 0)
			return -ESTALE;
		if ((err = errno) != EEXIST)
			break;
		if (renameat2(dfd, aside, dfd, e->name, RENAME_EXCHANGE) == 0)
			return -ESTALE;
		if ((err = errno) != ENOENT)
			break;
	}
	if (have && aside_keep(d, e->dir, aside, e->name, st.st_uid))
		jmd_log("cannot put %s/%s back after its removal was refused (left as %s until a "
		        "rescan finds the name free): %s", jmd_entry_dir(d, e), e->name, aside,
		        strerror(err));
	else
		jmd_log("cannot put %s/%s back after its removal was refused (left as %s until "
		        "jmstatd starts again%s): %s", jmd_entry_dir(d, e), e->name, aside,
		        have ? ": it keeps as many of its owner's already" : "", strerror(err));
	return -ESTALE;
}

/* A name under which jmd_entry_unlink moved a file aside (JMD_ASIDE_PREFIX
 * PID.SEQ.NAME), met by a directory's first scan since this daemon
 * started: left by a daemon (PID) that stopped before it removed the
 * file or put it back. The file goes back under its name if that is free
 * (RENAME_NOREPLACE), and is judged there as any other; one under a name
 * taken since is left (logged at debug: it may be the live file the
 * daemon was to put back). Anyone can make such a name, but moving their
 * own file under a name of their choice is what they could do
 * themselves. Not at later scans: what this daemon leaves aside it keeps
 * (jmd_asides_retry), and the names anyone makes cost a kill and a
 * rename each at every rescan (nineteenth pass). */
/* The aside names looked at by a first scan, per owner: JMD_ASIDE_KEPT
 * of one owner's (jmd_file_charge) get the kill and the rename, the rest
 * cost what a junk name does (a stat). A daemon that stops between its
 * moves leaves one file; its next start finds those it could not put
 * back too (JMD_ASIDE_KEPT of an owner's at most). One table for the
 * first directory (its rescan runs in slices), one for the others
 * (scan_dir reads one whole). */
#define LEFT_OWNERS 64
struct left_seen {
	unsigned n;
	struct { uint64_t key; unsigned n; } v[LEFT_OWNERS];
};
static struct left_seen left_first, left_other;

void jmd_leftovers_begin(const struct jmd_dir *dir)
{
	(dir ? &left_other : &left_first)->n = 0;
}

static bool leftover_within(const struct jmd_dir *dir, uint64_t key)
{
	struct left_seen *t = dir ? &left_other : &left_first;
	for (unsigned i = 0; i < t->n; i++)
		if (t->v[i].key == key)
			return t->v[i].n++ < JMD_ASIDE_KEPT;
	if (t->n == LEFT_OWNERS)
		return false;
	t->v[t->n].key = key;
	t->v[t->n++].n = 1;
	return true;
}

void jmd_discover_leftover(struct jmd *d, struct jmd_dir *dir, const char *name)
{
	const char *p = name + strlen(JMD_ASIDE_PREFIX);
	char *end;
	long pid = strtol(p, &end, 10);
	if (end == p || *end != '.' || pid <= 0 || pid > INT32_MAX)
		return;
	p = end + 1;
	(void)strtoul(p, &end, 10);
	if (end == p || *end != '.')
		return;
	const char *orig = end + 1;
	if (dir && dir->keep_files)
		return;             /* another user's directory: not ours to change */
	struct jmstat_name id;
	if (jmstat_name_parse(orig, &id) != 0)
		return;
	int dfd = dir ? dir->fd : d->dirfd;
	struct stat st;
	if (jmd_name_stat(dfd, name, &st) != 0 || !S_ISREG(st.st_mode) ||
	    !leftover_within(dir, jmd_file_charge(d, dir, st.st_uid)))
		return;
	/* Another daemon still running may be between its moves. One of
	 * our pid is a daemon's before us (a restart in a container, pid 1
	 * again), or one of our own, which jmd_asides_retry tries. */
	if (pid != getpid() && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
		return;
	if (pid == getpid())
		for (const struct jmd_aside *a = d->asides; a; a = a->next)
			if (a->dir == dir && strcmp(a->aside, name) == 0)
				return;
	if (renameat2(dfd, name, dfd, orig, RENAME_NOREPLACE) != 0) {
		jmd_debug("left %s: cannot put it back under %s: %s", name, orig, strerror(errno));
		return;
	}
	jmd_log("put %s/%s back: jmstatd %ld stopped while removing it",
	        dir ? dir->path : d->opt.stats_dir, orig, pid);
	jmd_discover_found(d, dir, orig, false);
}

/* The files (device, inode) whose removal failed lately. A dead
 * writer's file that cannot be removed (a read-only stats directory: a
 * --stats-dir outside the unit's ReadWritePaths=, a read-only volume) is
 * found again at every rescan, read, found dead, and its removal fails
 * again: one line per file and rescan, for ever (a thousand such files, a
 * hundred lines a second). Each is now logged once while it stays in this
 * ring; the first lines share the bad segments' budget. */
#define UNREMOVABLE_RING 1024
static struct { dev_t dev; ino_t ino; } unremovable[UNREMOVABLE_RING];
static size_t unremovable_next;

static bool unremovable_seen(dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < UNREMOVABLE_RING; i++)
		if (unremovable[i].ino == ino && unremovable[i].dev == dev && ino != 0)
			return true;
	unremovable[unremovable_next].dev = dev;
	unremovable[unremovable_next].ino = ino;
	unremovable_next = (unremovable_next + 1) % UNREMOVABLE_RING;
	return false;
}

/* The lines about files removed that are not root's in a stats directory
 * of the host: anyone can put back a copy of their dead process's segment
 * as fast as the daemon removes it (a rename a time; 730 lines a second
 * from one python loop of nobody's), each read at once (inotify) and
 * removed with a line. Root's are logged each (a service killed). */
static struct jmd_log_budget removed_log = { .about = "removed files of other users" };

void jmd_entry_unlink_stale(struct jmd *d, struct jmd_entry *e, dev_t dev, ino_t ino,
                            const char *why)
{
	int rc = jmd_entry_unlink(d, e, dev, ino);
	if (rc == -EPERM && e->dir && e->dir->keep_files) {
		if (!e->dir->keep_logged)
			jmd_log_bad("not removing %s/%s (%s), nor any other file there: the directory "
			            "is not uid %u's, whose namespace reached it", jmd_entry_dir(d, e),
			            e->name, why, (unsigned)e->dir->owner);
		e->dir->keep_logged = true;
	} else if (rc == -ESTALE)
		jmd_debug("%s was replaced; not removed", e->name);
	else if (rc < 0 && rc != -ENOENT && unremovable_seen(dev, ino))
		jmd_debug("cannot remove %s/%s (%s): %s", jmd_entry_dir(d, e), e->name, why,
		          strerror(-rc));
	else if (rc < 0 && rc != -ENOENT)
		jmd_log_bad("cannot remove %s/%s (%s): %s (logged once for this file)",
		            jmd_entry_dir(d, e), e->name, why, strerror(-rc));
	else if (rc == 0 && e->owner_known && e->owner == 0 && (!e->dir || e->dir->mntns == 0))
		jmd_log("removed %s/%s: %s", jmd_entry_dir(d, e), e->name, why);
	else if (rc == 0)
		jmd_log_within(&removed_log, "removed %s/%s: %s", jmd_entry_dir(d, e), e->name, why);
}

/* A file the watch or a scan found: track it; read it now if asked. */
void jmd_discover_found(struct jmd *d, struct jmd_dir *dir, const char *name, bool read_now)
{
	struct jmstat_name id;
	if (jmstat_name_parse(name, &id) != 0)
		return;
	struct jmd_entry *e = jmd_entry_find(d, dir, name);
	if (e) {
		e->seen_scan = d->scan_gen;
		return;
	}
	uint64_t charged;
	if (!files_charge(d, dir, name, !read_now, &charged))
		return;
	e = entry_add(d, dir, name, &id, charged);
	if (!e)
		return;
	jmd_debug("found %s", name);
	if (read_now)
		jmd_sample_entry(d, e);
}

static int watch_start(struct jmd *d);
static void on_dir_event(struct jmd_watch *w, const char *filename, int events, int status);

/* Is dirfd still the directory at opt.stats_dir? */
static bool dir_same(const struct jmd *d)
{
	struct stat now, held;
	return d->dirfd >= 0 && stat(d->opt.stats_dir, &now) == 0 && S_ISDIR(now.st_mode) &&
	       fstat(d->dirfd, &held) == 0 && now.st_dev == held.st_dev &&
	       now.st_ino == held.st_ino;
}

/* The directory was removed or replaced: take the one at opt.stats_dir
 * now, or, while there is none, keep the old fd (a removed directory
 * reads empty, so its entries go) and look again at the next tick. */
static void dir_reopen(struct jmd *d)
{
	int fd = open(d->opt.stats_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (!d->dir_gone)
			jmd_log("the stats directory %s is gone (%s): looking for it every tick",
			        d->opt.stats_dir, strerror(errno));
		d->dir_gone = true;
		d->rescan_pending = true;
		return;
	}
	jmd_log("the stats directory %s %s: watching the new one", d->opt.stats_dir,
	        d->dir_gone ? "is back" : "was replaced");
	jmd_asides_forget(d, NULL);   /* the old one's */
	d->leftovers_done = false;
	d->dir_gone = false;
	if (d->dirfd >= 0)
		close(d->dirfd);
	d->dirfd = fd;
	if (!d->watching) {
		watch_start(d);
		return;
	}
	int rc = jmd_watch_retarget(&d->dir_watch, d->opt.stats_dir);
	if (rc != 0) {
		jmd_watch_stop(&d->dir_watch);
		d->watching = false;
		jmd_log("cannot watch %s (%s); relying on rescans every %u intervals",
		        d->opt.stats_dir, uv_strerror(rc), JMD_RESCAN_TICKS);
	}
}

/* A rescan reads the directory in slices (jmd_discover_rescan_step),
 * the loop serving clients between them as it does between the tick's
 * sampling slices: a directory of 100,000 names took 344 ms of a rescan
 * (706 ms with the fstatat of each name past its user's bound), during
 * which no request was answered. */
bool jmd_discover_rescan_begin(struct jmd *d)
{
	d->rescan_pending = false;
	if (!dir_same(d))
		dir_reopen(d);
	int fd = openat(d->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (!d->scan_failed_logged)
			jmd_log("cannot scan %s: %s", d->opt.stats_dir, strerror(errno));
		d->scan_failed_logged = true;
		if (fd >= 0)
			close(fd);
		return false;
	}
	if (d->scan_failed_logged)
		jmd_log("%s can be scanned again", d->opt.stats_dir);
	d->scan_failed_logged = false;
	d->scan_gen++;
	d->scan_dir = dir;
	jmd_leftovers_begin(NULL);
	d->scanned_tick = d->tick;
	return true;
}

bool jmd_discover_rescan_step(struct jmd *d, uint64_t budget_ns)
{
	uint64_t t0 = uv_hrtime();
	unsigned n = 0;
	struct dirent *de;
	if (!d->scan_dir)
		return false;
	while ((de = readdir(d->scan_dir)) != NULL) {
		if (de->d_type == DT_REG || de->d_type == DT_UNKNOWN) {
			/* A file kept open is read at this tick only if the
			 * name still stands for it (sample.c). */
			if (!strncmp(de->d_name, JMD_ASIDE_PREFIX, strlen(JMD_ASIDE_PREFIX))) {
				if (!d->leftovers_done)
					jmd_discover_leftover(d, NULL, de->d_name);
				continue;
			}
			struct jmd_entry *e = jmd_entry_find(d, NULL, de->d_name);
			if (e && e->proc && e->proc->segfd >= 0 && e->proc->ino != de->d_ino)
				jmd_segfd_put(d, e->proc);
			jmd_discover_found(d, NULL, de->d_name, false);
		}
		if (++n % 256 == 0 && uv_hrtime() - t0 >= budget_ns)
			return true;
	}
	return false;
}

void jmd_discover_rescan_end(struct jmd *d)
{
	if (!d->scan_dir)
		return;
	closedir(d->scan_dir);
	d->scan_dir = NULL;
	d->leftovers_done = true;
	jmd_dirs_scan(d);        /* the other directories, in the same scan */
	jmd_asides_retry(d);

	files_rescanned(d);

	/* Entries the scan did not see: their files are gone. */
	struct jmd_entry *next;
	for (struct jmd_entry *e = d->entries; e; e = next) {
		next = e->next;
		if (e->seen_scan == d->scan_gen)
			continue;
		if (e->proc)
			jmd_proc_retire(d, e->proc, "its segment was removed");
		jmd_entry_remove(d, e);
	}
}

void jmd_discover_rescan(struct jmd *d)
{
	if (!jmd_discover_rescan_begin(d))
		return;
	while (jmd_discover_rescan_step(d, UINT64_MAX))
		;
	jmd_discover_rescan_end(d);
}

static void on_dir_event(struct jmd_watch *w, const char *filename, int events, int status)
{
	struct jmd *d = w->data;
	if (status < 0) {
		jmd_log("watching %s failed (%s); relying on rescans every %u intervals",
		        d->opt.stats_dir, uv_strerror(status), JMD_RESCAN_TICKS);
		d->rescan_pending = true;
		return;
	}
	if (!filename) {
		/* The kernel's queue overflowed: names were lost (watch.c). */
		d->watch_overflows++;
		d->rescan_pending = true;
		return;
	}
	struct jmstat_name id;
	if (jmstat_name_parse(filename, &id) != 0) {
		/* Another file, or the directory itself removed or moved. */
		if (!dir_same(d))
			d->rescan_pending = true;
		return;
	}
	jmd_discover_event(d, NULL, filename, events);
}

/* The watch of dir (NULL: the first) reported a segment's name. */
void jmd_discover_event(struct jmd *d, struct jmd_dir *dir, const char *filename, int events)
{
	struct jmd_entry *e = jmd_entry_find(d, dir, filename);
	if (!e) {
		jmd_discover_found(d, dir, filename, true);
		return;
	}
	/* Look at it now, so that a removed segment, or a new one replacing
	 * an old one, is seen at once; and its file kept open is not read
	 * again for the name (a hard link of it may hold it linked). */
	if (e->proc)
		jmd_segfd_put(d, e->proc);
	struct stat st = { 0 };
	if (jmd_name_stat(jmd_entry_dirfd(d, e), filename, &st) != 0 && errno == ENOENT) {
		if (e->proc)
			jmd_proc_retire(d, e->proc, "its segment was removed");
		jmd_entry_remove(d, e);
	} else if (!e->proc || ((events & UV_RENAME) && e->proc->ino != st.st_ino)) {
		jmd_sample_entry(d, e);
	}
}

bool jmd_entry_new(const struct jmd *d, const struct jmd_entry *e)
{
	uint64_t grace_ms = d->opt.interval_ms * 2 > 1000 ? d->opt.interval_ms * 2 : 1000;
	return uv_hrtime() - e->found_ns < grace_ms * 1000000u;
}

bool jmd_entry_watched(const struct jmd *d, const struct jmd_entry *e)
{
	if (e->dir)
		return e->dir->watching && jmd_watch_active(&e->dir->watch);
	return d->watching && jmd_watch_active(&d->dir_watch) && !d->dir_gone;
}

static void on_retry(uv_timer_t *t)
{
	struct jmd *d = t->data;
	struct jmd_entry *next;
	bool again = false;
	/* And a new process whose cgroup and pid namespace were not read for
	 * want of a descriptor (jmd_proc.where_unread): read with its segment
	 * (sample.c), not only at the next tick. */
	for (struct jmd_entry *e = d->entries; e; e = next) {
		next = e->next;
		if ((e->proc && !e->proc->where_unread) || e->ignored || !jmd_entry_new(d, e))
			continue;
		jmd_sample_entry(d, e);   /* may remove e, never another entry */
	}
	for (struct jmd_entry *e = d->entries; e; e = e->next)
		if ((!e->proc || e->proc->where_unread) && !e->ignored && jmd_entry_new(d, e))
			again = true;
	if (again)
		jmd_discover_retry_soon(d);
}

void jmd_discover_retry_soon(struct jmd *d)
{
	if (d->retry_open && !uv_is_active((uv_handle_t *)&d->retry_timer))
		uv_timer_start(&d->retry_timer, on_retry, JMD_RETRY_MS, 0);
}

int jmd_discover_start(struct jmd *d)
{
	d->dirfd = open(d->opt.stats_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->dirfd < 0) {
		int err = -errno;
		jmd_log("cannot open the stats directory %s: %s", d->opt.stats_dir, strerror(errno));
		return err;
	}
	uv_timer_init(d->loop, &d->retry_timer);
	d->retry_timer.data = d;
	d->retry_open = true;
	watch_start(d);
	jmd_dirs_start(d);
	return 0;
}

static int watch_start(struct jmd *d)
{
	int rc = jmd_watch_start(d->loop, &d->dir_watch, d->opt.stats_dir, on_dir_event, d);
	d->watching = rc == 0;
	if (rc != 0)
		jmd_log("cannot watch %s (%s); relying on rescans every %u intervals",
		        d->opt.stats_dir, uv_strerror(rc), JMD_RESCAN_TICKS);
	return rc;
}

void jmd_discover_stop(struct jmd *d)
{
	if (d->scan_dir) {
		closedir(d->scan_dir);
		d->scan_dir = NULL;
	}
	jmd_dirs_stop(d);
	jmd_asides_forget(d, NULL);
	if (d->retry_open) {
		uv_close((uv_handle_t *)&d->retry_timer, NULL);
		d->retry_open = false;
	}
	if (d->watching) {
		jmd_watch_stop(&d->dir_watch);
		d->watching = false;
	}
	jmd_watch_shutdown();
	if (d->dirfd >= 0) {
		close(d->dirfd);
		d->dirfd = -1;
	}
}
