/*
 * sample.c: reading segments and turning counters into figures.
 *
 * Each tick reads every known segment once through the shared reader
 * (common/segread.c), which returns a validated copy or an error. A good
 * copy whose writer is alive (same pid, same start time, same uid) updates
 * that process's jmd_proc: its bins summed over arenas, its arenas, its
 * totals and, against the sample before, its rates. The tick then appends
 * one history sample per process, per uid and for the host.
 *
 * A file that does not read is skipped with one log line per file (not one
 * per interval); a live process whose file stops reading is dropped from the
 * live view. A writer that died (pid gone, or the pid now belongs to a
 * process with another start time) has its process retired to the dead
 * list and its file removed. Dead processes keep their history for
 * JMD_DEAD_KEEP_MS (at most JMD_DEAD_MAX of them).
 *
 * The parts it calls: figures.c (the processes, live and dead, and their
 * figures), liveness.c (whether a segment's writer is alive) and
 * history.c (the rings the tick appends to); sample.h is what they share.
 * sample.c, discover.c and dirs.c call each other, and that is inherent:
 * the tick drives the rescans, which find files that are read at once.
 */
#include "jmstatd.h"
#include "sample.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double unix_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
}

/* Seconds since boot (CLOCK_BOOTTIME, ms precision): the clock durations
 * are measured on. A step of the wall clock does not move it, and seconds
 * since boot are what a process's start (in /proc ticks) is counted in. */
static double boot_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
}

/* Lines about bad segments share one budget (jmd_log_within). The rule
 * of one line per file does not hold against a file that its owner keeps
 * replacing, or flips between good and bad: without the budget, one such
 * file wrote a hundred lines a second (and under journald's rate limit
 * would push the daemon's other lines out). */
void jmd_log_bad(const char *fmt, ...)
{
	static struct jmd_log_budget bad = { .about = "bad segments" };
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	jmd_log_within(&bad, "%s", msg);
}

/* Why a file that does not read as a segment should go, or NULL. Anyone
 * can create a file with the name a future process of another user will
 * take (squatting): that process then publishes under another name
 * (liballoc/stats.c), and this removes the squatter's file once the
 * writer its name claims is gone, or is a process of another uid than
 * the file's owner. A file its own writer's uid left stays while that
 * writer lives: it is that user's own business. */
static const char *bad_file_orphan(struct jmd *d, const struct jmd_entry *e,
                                   const struct stat *st)
{
	pid_t host;
	uint64_t pidns = e->id.pidns ? e->id.pidns : JMSTAT_PIDNS_INIT;
	int rc = jmd_census_host_pid(d, pidns, (pid_t)e->id.pid, e->id.start, &host);
	if (rc == 0)
		rc = jm_seg_check_pid(host, e->id.pidns ? &e->id.start : NULL, (uint32_t)st->st_uid);
	switch (rc) {
	case JM_SEG_EDEAD:
	case JM_SEG_EREUSED:
		return "not a segment, and the process its name claims is gone";
	case JM_SEG_EOWNER:
		return "not a segment, and the process its name claims is another user's";
	default:
		return NULL;
	}
}

/* A file that does not read: one log line per file (per incarnation of
 * it), and only once a new file has had time to be built. */
static void entry_bad(struct jmd *d, struct jmd_entry *e, int err, int err_no,
                      const struct stat *st, bool not_segment)
{
	d->seg_read_errors++;
	if (e->proc) {
		char why[160];
		snprintf(why, sizeof(why), "its segment no longer reads (%s)", jm_seg_strerror(err));
		jmd_log_bad("process %d (%s) dropped: %s", (int)e->proc->pid, e->proc->exe, why);
		jmd_proc_retire(d, e->proc, why);
	}
	dev_t dev = st ? st->st_dev : 0;
	ino_t ino = st ? st->st_ino : 0;
	const char *orphan;
	if (not_segment && st && S_ISREG(st->st_mode) && err != JM_SEG_EIO && !jmd_entry_new(d, e) &&
	    (orphan = bad_file_orphan(d, e, st)) != NULL) {
		/* Under the bad-segment budget: anyone can make such files. */
		if (jmd_entry_unlink(d, e, dev, ino) == 0)
			jmd_log_bad("removed %s/%s: %s", jmd_entry_dir(d, e), e->name, orphan);
		jmd_entry_remove(d, e);
		return;
	}
	if (e->logged && e->logged_dev == dev && e->logged_ino == ino)
		return;
	if ((err == JM_SEG_EBUSY || err == JM_SEG_ETRUNC || err == JM_SEG_EMAGIC) &&
	    jmd_entry_new(d, e)) {
		jmd_discover_retry_soon(d);
		return;     /* most likely still being built */
	}
	e->logged = true;
	d->seg_rejected++;
	e->logged_dev = dev;
	e->logged_ino = ino;
	if (err == JM_SEG_EIO)
		jmd_log_bad("skipping %s/%s: %s: %s", jmd_entry_dir(d, e), e->name, jm_seg_strerror(err),
		        strerror(err_no));
	else
		jmd_log_bad("skipping %s/%s: %s", jmd_entry_dir(d, e), e->name, jm_seg_strerror(err));
}

/* Reads per uid per tick. One user's files, however many and however
 * large, get JMD_UID_FILES_TICK reads and JMD_UID_BYTES_TICK bytes a
 * tick; past either, checked after each file, its other files wait for
 * the next tick (they go first then: jmd_tick_end), so that every user's
 * processes are sampled each interval whatever one user does. Root's
 * files are not counted. Uids share slots when more than a few read at
 * once (stricter, never looser). A file's owner is known from its last
 * open, and the budget checked before the next: a file put off costs no
 * system call (50,000 empty files of one user's took 40% of a CPU in
 * opens and fstats alone, most of them of files put off). */
#define BUDGET_SLOTS 64u
#define BUDGET_PROBE 8u
#define BUDGET_LOG_MS 10000u
struct jmd_uid_budget {
	uint64_t key;            /* jmd_file_charge: a uid's principal, or a container's directory */
	uint32_t tick;           /* the tick the counts are of; another: empty */
	uint32_t files;          /* files read */
	bool logged;             /* its spending was logged this tick */
	uint64_t bytes;          /* bytes read (jm_seg_bytes_read) */
};

/* Whose budget a file of uid in e's directory spends: jmd_file_charge's
 * (a user's subordinate uids share their user's; root's files in a
 * container's directory, Docker's default, one budget per directory). */
static struct jmd_uid_budget *budget_of(struct jmd *d, const struct jmd_entry *e, uid_t uid)
{
	if (!d->budgets)
		return NULL;
	uint64_t key = jmd_file_charge(d, e->dir, uid);
	if (key == JMD_CHARGE_NONE)
		return NULL;
	uint32_t first = (uint32_t)((key ^ (key >> 32)) * 2654435761u) % BUDGET_SLOTS;
	for (uint32_t i = 0; i < BUDGET_PROBE; i++) {
		struct jmd_uid_budget *b = &d->budgets[(first + i) % BUDGET_SLOTS];
		if (b->tick == d->tick && b->key == key)
			return b;
		if (b->tick != d->tick) {
			memset(b, 0, sizeof(*b));
			b->key = key;
			b->tick = d->tick;
			return b;
		}
	}
	return &d->budgets[first];
}

static bool budget_spent(struct jmd *d, struct jmd_uid_budget *b)
{
	if (!b || (b->files < JMD_UID_FILES_TICK && b->bytes < JMD_UID_BYTES_TICK))
		return false;
	/* Once a tick per uid at most, and one line every BUDGET_LOG_MS in
	 * all: its own budget, not the bad segments' (which the same files
	 * may have spent). */
	static uint64_t last_ns;
	static unsigned long left_out;
	if (!b->logged) {
		b->logged = true;
		uint64_t now = mono_ns();
		if (last_ns && now - last_ns < BUDGET_LOG_MS * 1000000ull) {
			left_out++;
		} else {
			char who[80], k[40];
			jmd_key_text(k, sizeof(k), b->key);
			if (b->key & JMD_CHARGE_CONTAINER)
				snprintf(who, sizeof(who), "the container's files in %s", k);
			else
				snprintf(who, sizeof(who), "%s", k);
			jmd_log("%s: %u segment files (%.1f MiB) read this tick, its budget: the "
			        "others wait for the next tick (%lu lines like this left out before)",
			        who, b->files, b->bytes / 1048576.0, left_out);
			left_out = 0;
			last_ns = now;
		}
	}
	return true;
}

/* A live writer's rows can stay mid-update through every retry of one
 * read: its thread preempted inside an update on a loaded host, or rows
 * that change faster than they are copied. That says nothing about the
 * process: its last sample stands, and it is dropped only when its rows
 * have not read for JMD_BUSY_GRACE_MS in a row (a file whose seqs stay
 * odd for ever is the hostile case). */
static bool busy_tolerated(struct jmd_entry *e)
{
	uint64_t now = mono_ns();
	if (!e->busy_since_ns)
		e->busy_since_ns = now;
	return now - e->busy_since_ns < (uint64_t)JMD_BUSY_GRACE_MS * 1000000u;
}

/* Puts the entry off to the next tick when its owner's budget is spent. */
static bool entry_put_off(struct jmd *d, struct jmd_entry *e, uid_t owner)
{
	if (!budget_spent(d, budget_of(d, e, owner)))
		return false;
	if (!e->deferred)
		d->seg_deferred++;
	e->deferred = true;
	return true;
}

/* A live writer's segment of a user that has --user-processes live
 * processes tracked already (its subordinate uids' included): not
 * tracked. Each tracked process costs the daemon about 33 KB once its
 * history is full, and a user can forge segments, or run tiny processes,
 * by the thousand; the ones tracked first stay, the newer wait for a
 * slot (tick_skips: read again at each rescan, and at once when the user
 * has a slot free). One line when a file is first left untracked, under
 * the same budget as the reads': one every BUDGET_LOG_MS in all. */
static void entry_untracked(struct jmd *d, struct jmd_entry *e, pid_t host,
                            const struct jm_seg *seg, uint32_t uid)
{
	if (e->untracked)
		return;
	e->untracked = true;
	d->procs_untracked++;
	static uint64_t last_ns;
	static unsigned long left_out;
	uint64_t now = mono_ns();
	if (last_ns && now - last_ns < BUDGET_LOG_MS * 1000000ull) {
		left_out++;
		return;
	}
	uint64_t key = jmd_file_charge(d, e->dir, uid);
	char exe[JMSTAT_EXE_LEN];
	size_t i;
	for (i = 0; i < sizeof(exe) - 1 && seg->hdr.exe[i]; i++) {
		unsigned char ch = (unsigned char)seg->hdr.exe[i];
		exe[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	exe[i] = '\0';
	char whose[80] = "";
	char k[40];
	if (key & JMD_CHARGE_CONTAINER)
		snprintf(whose, sizeof(whose), " (counted as the container's in %s)",
		         jmd_key_text(k, sizeof(k), key));
	else if (key != uid)
		snprintf(whose, sizeof(whose), " (counted as uid %u's)", (unsigned)key);
	jmd_log("uid %u%s: %u live processes tracked, its --user-processes bound: process %d "
	        "(%s) not tracked, nor its next ones until some exit (%lu lines like this left "
	        "out before)", (unsigned)uid, whose, jmd_user_live(d, key), (int)host, exe,
	        left_out);
	left_out = 0;
	last_ns = now;
}

/* The file of a known writer kept open (jmd_segfd_keep), if it may be
 * read for the entry's name: not where no watch tells of a change, nor at a
 * rescan tick unless the rescan found the name's inode the same (the first
 * directory's: discover.c). Else it is closed, and the name opened. Fills
 * *st with its fstat when opened: any change to it since (a chmod, a chown,
 * a removal, a truncate or a write through the name) was an event of the
 * watch, which closed it. The reader takes its size from it, without an
 * fstat of its own (at 10,000 segments, 18% of the daemon's CPU was that
 * fstat: perf, docs/daemon.md); at a rescan tick it is taken again, so
 * that a change the watch cannot tell (a truncate through a hard link in
 * another directory) is seen within a rescan's 10 intervals. */
static int kept_fd(struct jmd *d, struct jmd_entry *e, struct stat *st)
{
	struct jmd_proc *p = e->proc;
	if (!p || p->segfd < 0)
		return -1;
	bool named = !d->rescan_tick || (!e->dir && d->scanned_tick == d->tick);
	if (named && jmd_entry_watched(d, e) && (!d->rescan_tick || fstat(p->segfd, &p->seg_st) == 0)) {
		*st = p->seg_st;
		return p->segfd;
	}
	jmd_segfd_put(d, p);
	return -1;
}

static struct jmd_proc *sample_fd(struct jmd *d, struct jmd_entry *e, int fd,
                                  const struct stat *stp);

void jmd_sample_entry(struct jmd *d, struct jmd_entry *e)
{
	struct stat st;
	if (e->owner_known && entry_put_off(d, e, e->owner))
		return;
	int fd = kept_fd(d, e, &st);
	if (fd >= 0) {
		sample_fd(d, e, fd, &st);
		return;
	}
	d->seg_opens++;
	fd = jmd_entry_open(d, e);
	if (fd < 0) {
		int err_no = errno;
		if (err_no == ENOENT) {
			if (e->proc)
				jmd_proc_retire(d, e->proc, "its segment was removed");
			jmd_entry_remove(d, e);
			return;
		}
		if (jmd_no_fds(err_no)) {
			/* Nothing wrong with the file: its process keeps its
			 * last sample, it is read again next tick. (It was
			 * "skipping" the file with a line for each, and a
			 * process known dropped, its alerts resolved.) */
			d->seg_read_errors++;
			jmd_log_no_fds(err_no, "%s/%s not read; read again at the next tick",
			               jmd_entry_dir(d, e), e->name);
			if (jmd_entry_new(d, e))
				jmd_discover_retry_soon(d);   /* a new process: in 20 ms */
			return;
		}
		if (err_no == EACCES && geteuid() != 0) {
			if (!e->ignored)
				jmd_debug("ignoring %s: not readable by this user", e->name);
			e->ignored = true;
			return;
		}
		entry_bad(d, e, err_no == ELOOP ? JM_SEG_ENOTREG : JM_SEG_EIO, err_no, NULL, true);
		return;
	}
	if (fstat(fd, &st) != 0) {
		int err_no = errno;
		close(fd);
		entry_bad(d, e, JM_SEG_EIO, err_no, NULL, true);
		return;
	}
	/* Kept open for the next tick if it gave the process its sample. */
	struct jmd_proc *p = sample_fd(d, e, fd, &st);
	if (!(p && p->dev == st.st_dev && p->ino == st.st_ino && p->entry &&
	      jmd_entry_watched(d, p->entry) && jmd_segfd_keep(d, p, fd, &st)))
		close(fd);
}

/* Reads e's file, open as fd (the caller's, or its process's kept open:
 * not closed here), whose fstat is *stp. The process it gave a sample, or
 * NULL. */
static struct jmd_proc *sample_fd(struct jmd *d, struct jmd_entry *e, int fd,
                                  const struct stat *stp)
{
	struct jm_seg seg;
	struct stat st = *stp;
	e->owner = st.st_uid;
	e->owner_known = true;
	if (entry_put_off(d, e, st.st_uid))
		return NULL;
	struct jmd_uid_budget *budget = budget_of(d, e, st.st_uid);
	e->deferred = false;
	uint64_t bytes_before = jm_seg_bytes_read();
	/* The rows of a file read before are not read again while unchanged;
	 * sites.c reads the sites. */
	struct jmd_proc *known = e->proc && e->proc->dev == st.st_dev && e->proc->ino == st.st_ino
	                         ? e->proc : NULL;
	const unsigned flags = JM_SEG_NO_SITES | JM_SEG_ANY_OWNER;
	uint32_t ns_uid = 0;
	/* A generation of layout 4 is the writer's word: trusted for a
	 * process whose figures stand still, JMD_GEN_TRUST reads in a row at
	 * most; else the rows are read and their seqs compared (the writer's
	 * word too: every JMD_ROWS_COPY reads they are copied anyway). */
	uint64_t since = 0;
	if (known && known->copy_skips < JMD_ROWS_COPY) {
		since = known->rows_seqs;
		if ((known->rows_gen & JM_SEG_GEN_TAG) && known->still && known->gen_skips < JMD_GEN_TRUST)
			since = known->rows_gen;
	}
	int rc = jm_seg_read_fd_stat(fd, flags, since, &st, &seg);
	if (rc == 0 && (rc = jmd_writer_uid(d, known, &seg, &st, &ns_uid)) != 0)
		jm_seg_free(&seg);
	if (rc == 0 && seg.rows_unchanged && !jmd_same_writer(known, &seg, &st)) {
		/* Its header no longer matches what its rows were summed for. */
		jm_seg_free(&seg);
		rc = jm_seg_read_fd_stat(fd, flags, 0, &st, &seg);
		if (rc == 0 && (rc = jmd_writer_uid(d, NULL, &seg, &st, &ns_uid)) != 0)
			jm_seg_free(&seg);
	}
	int err_no = errno;
	if (budget) {
		budget->files++;
		budget->bytes += jm_seg_bytes_read() - bytes_before;
	}
	if (rc == 0 && !jm_seg_name_matches(&e->id, &seg.hdr)) {
		jm_seg_free(&seg);
		rc = JM_SEG_ENAME;
	}
	if (rc == JM_SEG_EBUSY && known && busy_tolerated(e)) {
		d->seg_read_errors++;
		return NULL;     /* a busy writer: its last sample stands for now */
	}
	if (rc != 0) {
		entry_bad(d, e, rc, err_no, &st, true);
		return NULL;
	}
	e->busy_since_ns = 0;

	int pidfd;
	pid_t host = 0;
	uint32_t cred_gid = 0;
	rc = jmd_check_writer(d, e->proc, &seg, &st, &host, &pidfd, &cred_gid);
	if (rc == JM_SEG_EDEAD || rc == JM_SEG_EREUSED) {
		const char *why = rc == JM_SEG_EDEAD ? "its process is gone"
		                                     : "its pid now belongs to another process";
		if (e->proc)
			jmd_proc_retire(d, e->proc, why);
		jmd_entry_unlink_stale(d, e, st.st_dev, st.st_ino, why);
		jm_seg_free(&seg);
		jmd_entry_remove(d, e);
		return NULL;
	}
	if (rc == JM_SEG_EIO) {
		/* /proc could not tell, or the writer is in a pid namespace we
		 * cannot see: nothing is known; keep what we have. */
		jmd_debug("%s: cannot check its process: %s", e->name, strerror(errno));
		jm_seg_free(&seg);
		return NULL;
	}
	if (rc != 0) {
		jm_seg_free(&seg);
		entry_bad(d, e, rc, 0, &st, false);
		return NULL;
	}

	struct jmd_proc *p = e->proc;
	if (p && !jmd_same_writer(p, &seg, &st)) {
		jmd_proc_retire(d, p, "a new segment replaced its own");
		p = NULL;
	}
	bool fresh = !p;
	if (!p) {
		/* A container's directory holds its own processes' segments
		 * only (dirs.c): not another container's, guessed. */
		int may = jmd_dir_may_hold(d, e->dir, host);
		/* That read /proc/PID/ns/mnt by pid: had the writer ended
		 * since its check, its pid could be a process's of the
		 * directory's namespace by then, its dead writer's segment
		 * taken for a tick. Believed only if the writer still runs
		 * after the read (its pidfd: not even a zombie, so the pid
		 * was still its own); else nothing is known this tick, and
		 * the next finds it gone. */
		if (may >= 0 && e->dir && e->dir->mntns && !jmd_writer_still(&seg, host, pidfd))
			may = -1;
		if (may <= 0) {
			jmd_pidfd_put(d, pidfd);
			jm_seg_free(&seg);
			if (may == 0)
				entry_bad(d, e, JM_SEG_EPLACE, 0, &st, false);
			return NULL;
		}
		/* Another file may already stand for this process: one it
		 * made before an exec, in a directory the new program no
		 * longer sees (a container's /dev/shm mounted after its first
		 * process started). The file made last is the live one; the
		 * other is its old program's, left behind: removed. */
		struct jmd_proc *old = jmd_proc_find(d, host, 0);
		const char *why = "its process made a newer segment (it exec'd)";
		/* Unless it is the very file read under another name: a hard
		 * link, which anyone may make of another user's file where
		 * the kernel's protected_hardlinks is off, under any name
		 * the header matches (the namespaced one, or a tagged one of
		 * their choice). It was taken for a newer segment: the
		 * process's own name was removed and the process retired
		 * (its history cut, a dead process of its user's kept in
		 * its stead), once for each link. The name read first stays
		 * the process's; the other is skipped, logged once. */
		if (old && old->dev == st.st_dev && old->ino == st.st_ino) {
			jmd_pidfd_put(d, pidfd);
			jm_seg_free(&seg);
			if (!(e->logged && e->logged_dev == st.st_dev && e->logged_ino == st.st_ino)) {
				e->logged = true;
				e->logged_dev = st.st_dev;
				e->logged_ino = st.st_ino;
				d->seg_rejected++;
				jmd_log_bad("skipping %s/%s: another name (a hard link) of %s/%s, "
				            "process %d's", jmd_entry_dir(d, e), e->name,
				            old->entry ? jmd_entry_dir(d, old->entry) : "?",
				            old->entry ? old->entry->name : "?", (int)host);
			}
			return NULL;
		}
		if (old && old->start_ticks == seg.hdr.start_time && old->created_ns > seg.hdr.update_ns) {
			jmd_entry_unlink_stale(d, e, st.st_dev, st.st_ino, why);
			jmd_pidfd_put(d, pidfd);
			jm_seg_free(&seg);
			jmd_entry_remove(d, e);
			return NULL;
		}
		if (old) {
			struct jmd_entry *oe = old->entry;
			dev_t odev = old->dev;
			ino_t oino = old->ino;
			bool stale = old->start_ticks == seg.hdr.start_time;
			jmd_proc_retire(d, old, "a new segment replaced its own");
			if (oe && stale)    /* its entry goes when it reads it gone */
				jmd_entry_unlink_stale(d, oe, odev, oino, why);
		}
		if (jmd_user_full(d, e->dir, st.st_uid)) {
			entry_untracked(d, e, host, &seg, st.st_uid);
			jmd_pidfd_put(d, pidfd);
			jm_seg_free(&seg);
			return NULL;
		}
		p = jmd_proc_new(d, &seg, &st, host);
		if (!p) {
			jmd_log("out of memory tracking process %d", (int)host);
			jmd_pidfd_put(d, pidfd);
			jm_seg_free(&seg);
			return NULL;
		}
		if (p->where_unread)
			jmd_discover_retry_soon(d);   /* its cgroup and pid namespace */
		/* Its cgroup, pid namespace and start were read from /proc by pid: had it
		 * ended since its check, the pid could be another's by then
		 * (root's container's process's, whose labels and start the
		 * user's dead process would keep in ps, /metrics, its alerts
		 * and history). Kept only if it still runs after the reads. */
		if (!jmd_writer_still(&seg, host, pidfd)) {
			memset(&p->labels, 0, sizeof(p->labels));
			p->ns_own = p->ns_top = 0;
			p->start_time = d->boot_time + (double)seg.hdr.start_time / (double)d->clk_tck;
			jmd_debug("process %d ended while read: its cgroup, pid namespace and start not taken", (int)host);
		}
		e->proc = p;
		p->entry = e;
		jmd_proc_charge_live(d, p);
		p->who = jmd_proc_charge(d, p);
		p->scope = jmd_proc_scope(p);
		if (e->untracked)
			jmd_debug("process %d (%s) tracked: its user has a slot free", (int)host, p->exe);
		e->untracked = false;
	}
	if (pidfd >= 0) {
		p->pidfd = pidfd;      /* -1 before: jmd_check_writer opens none otherwise */
		jmd_pidfd_watch(d, p);
	}
	if (p->where_unread && !fresh)
		jmd_proc_where_again(d, p, &seg, host);
	p->ns_uid = ns_uid;
	p->cred_gid = cred_gid;
	if (e->logged)
		jmd_debug("%s reads again", e->name);
	e->logged = false;
	jmd_proc_update(d, p, &seg, mono_ns());
	jm_seg_free(&seg);
	return p;
}

/* ------------------------------------------------------------ the tick */

/* The writers whose pidfd (in jmd.pidfd_ep: liveness.c) said they exited
 * since the last ask: marked, to leave at their read (jmd_check_writer). */
static void pidfds_collect(struct jmd *d)
{
	struct epoll_event ev[64];
	int n;
	if (d->pidfd_ep < 0)
		return;
	do {
		n = epoll_wait(d->pidfd_ep, ev, 64, 0);
		for (int i = 0; i < n; i++) {
			pid_t pid = (pid_t)(ev[i].data.u64 >> 32);
			int fd = (int)(uint32_t)ev[i].data.u64;
			struct jmd_proc *p = jmd_proc_find(d, pid, 0);
			if (p && p->pidfd == fd && p->pidfd_watched)
				p->exited = true;
		}
	} while (n == 64);
}


/* Dead processes are kept newest first, JMD_DEAD_UID of each user (a
 * user's subordinate uids count as it; root's processes in a container's
 * own directory as that container: jmd_proc_charge, whose 150 short
 * processes took root's host service's place before,
 * tests/stress/deadkeep_container.test.sh) and JMD_DEAD_MAX in all, that
 * shared fairly (jmd_tally_level): one user's churn of short-lived
 * processes (1,100 of them) took every place within seconds, and root's
 * service that had just died lost its history, what an operator looks
 * at after a crash; then eight users' churn together still did. */
static void dead_expire(struct jmd *d)
{
	static struct jmd_tally count, keep;
	size_t kept = 0;
	struct jmd_proc *next;
	if (!d->dead)
		return;
	memset(&count, 0, sizeof(count));
	for (struct jmd_proc *p = d->dead; p; p = next) {
		next = p->next;
		if ((d->mono - p->dead_mono) * 1000.0 > JMD_DEAD_KEEP_MS) {
			jmd_list_unlink(&d->dead, p);
			d->ndead--;
			jmd_proc_free(p);
			continue;
		}
		uint32_t *n = jmd_tally(&count, p->who);
		if (n)
			++*n;
	}
	uint32_t level = jmd_tally_level(&count, JMD_DEAD_UID, JMD_DEAD_MAX);
	memset(&keep, 0, sizeof(keep));
	for (struct jmd_proc *p = d->dead; p; p = next) {
		next = p->next;
		uint32_t *n = jmd_tally(&keep, p->who);
		if (!n || ++*n > level || ++kept > JMD_DEAD_MAX) {
			jmd_list_unlink(&d->dead, p);
			d->ndead--;
			jmd_proc_free(p);
		}
	}
}

/* A tick in slices: the loop serves clients between them, so that a
 * request waits for one slice at most, not for a sampling pass of
 * thousands of segments. Meanwhile what was sampled this tick and what was
 * not yet are side by side; the ps reply kept from the tick before stays
 * in use until the end (jmd.view_gen moves then), and so does the time
 * replies carry (jmd.now): the tick's time is taken when its sampling
 * begins, its rescan done (tick_stamp: every figure it reads is read after
 * it), and is the replies' and the history's from its end on. Set at the
 * tick's start, it was on replies built during the tick, with the figures
 * of the tick before (tests/daemon/tick_time.test.sh). The entry the pass goes on with is jmd.tick_next, which
 * jmd_entry_remove() moves on when it goes; entries found meanwhile are
 * added before it (they were read when found). */
static void tick_stamp(struct jmd *d)
{
	d->tick_stamp_ns = uv_hrtime();
	d->tick_stamp = unix_now_ms();
	d->tick_mono_stamp = boot_now_ms();
	if (d->tick_stamp < d->now)           /* the clock was set back */
		d->tick_stamp = d->now + 0.001;
	d->tick_stamped = true;
}

void jmd_tick_begin(struct jmd *d)
{
	d->tick_t0 = uv_hrtime();
	d->tick++;
	d->tick_stamped = false;

	d->in_tick = true;
	d->rescan_tick = d->tick % JMD_RESCAN_TICKS == 1 || d->rescan_pending;
	/* A rescan goes first, in slices (jmd_tick_slice); the entries are
	 * sampled once it is done. */
	if (d->rescan_tick && jmd_discover_rescan_begin(d)) {
		d->tick_next = NULL;
	} else {
		d->tick_next = d->entries;
		tick_stamp(d);
	}
}

/* A file that did not read as a segment, logged already, is read again
 * when its directory's watch reports a change to it (discover.c) and at
 * each rescan (is its claimed writer gone?), not at every tick: anyone can
 * make such files by the thousand, and each read costs an open, fstats and
 * the /proc reads of its writer's check (50,000 empty files of one user's
 * took 40% of a CPU, their owner's read budget spent every tick). */
static bool tick_skips(const struct jmd *d, const struct jmd_entry *e)
{
	if (e->untracked && !e->proc && !e->logged && !d->rescan_tick && e->owner_known &&
	    jmd_user_full(d, e->dir, e->owner))
		return true;     /* entry_untracked(): it waits for a slot */
	return e->ignored || (e->logged && !e->proc && !d->rescan_tick && jmd_entry_watched(d, e));
}

bool jmd_tick_slice(struct jmd *d, uint64_t budget_ns)
{
	uint64_t t0 = uv_hrtime();
	unsigned n = 0;
	struct jmd_entry *e;
	if (d->scan_dir) {
		if (jmd_discover_rescan_step(d, budget_ns))
			return true;
		jmd_discover_rescan_end(d);
		d->tick_next = d->entries;
	}
	if (!d->tick_stamped)
		tick_stamp(d);
	pidfds_collect(d);
	while ((e = d->tick_next) != NULL) {
		d->tick_next = e->next;
		if (!tick_skips(d, e))
			jmd_sample_entry(d, e);
		if (++n % 16 == 0 && uv_hrtime() - t0 >= budget_ns)
			break;
	}
	return d->tick_next != NULL;
}

#define LATE_CLEAR_TICKS (2 * JMD_RESCAN_TICKS)

void jmd_tick_end(struct jmd *d)
{
	d->in_tick = false;
	if (!d->tick_stamped)
		tick_stamp(d);
	d->now = d->tick_stamp;
	d->mono = d->tick_mono_stamp;
	d->tick_done = d->tick;
	d->tick_time[d->tick % d->hist_max] = d->now;
	d->tick_mono[d->tick % d->hist_max] = d->mono;
	d->view_gen++;
	/* Files put off for their owner's budget are read first next tick. */
	struct jmd_entry *next;
	for (struct jmd_entry *e = d->entries; e; e = next) {
		next = e->next;
		if (e->deferred)
			jmd_entry_to_front(d, e);
	}

	jmd_history_push(d);
	for (struct jmd_proc *p = d->live; p; p = p->next)
		jmd_alerts_evaluate(d, p);
	jmd_alerts_tick_done(d);
	jmd_metrics_tick(d);
	dead_expire(d);

	/* Late, and back within the interval, each said once: back only
	 * after LATE_CLEAR_TICKS ticks in a row well within it. A rescan
	 * (one tick in JMD_RESCAN_TICKS) reads the whole directory, and a
	 * user's junk files there made each one late and the next not: two
	 * lines a rescan for as long as the files stayed. */
	d->tick_ms = (double)(uv_hrtime() - d->tick_t0) / 1e6;
	if (d->tick_ms > d->opt.interval_ms) {
		d->ticks_within = 0;
		if (!d->late)
			jmd_log("sampling %zu segment%s took %.0f ms, more than the %u ms interval: "
			        "the interval is stretched", d->nentries, d->nentries == 1 ? "" : "s",
			        d->tick_ms, d->opt.interval_ms);
		d->late = true;
	} else if (d->late && d->tick_ms < 0.8 * d->opt.interval_ms &&
	           ++d->ticks_within >= LATE_CLEAR_TICKS) {
		jmd_log("sampling takes %.0f ms again, within the %u ms interval (%u intervals in a row)",
		        d->tick_ms, d->opt.interval_ms, LATE_CLEAR_TICKS);
		d->late = false;
	}
}

void jmd_tick(struct jmd *d)
{
	jmd_tick_begin(d);
	while (jmd_tick_slice(d, UINT64_MAX))
		;
	jmd_tick_end(d);
}

/* ------------------------------------------------------------ setup */

static double read_boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	double bt = 0.0;
	if (!f)
		return bt;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;
		if (sscanf(line, "btime %llu", &v) == 1) {
			bt = (double)v;
			break;
		}
	}
	fclose(f);
	return bt;
}

int jmd_sample_init(struct jmd *d)
{
	d->pidfd_ep = epoll_create1(EPOLL_CLOEXEC);
	d->clk_tck = sysconf(_SC_CLK_TCK);
	if (d->clk_tck <= 0)
		d->clk_tck = 100;
	d->boot_time = read_boot_time();
	jmd_census_init(d);
	jmd_pidfd_budget(d);
	d->hist_max = (d->opt.history_ms + d->opt.interval_ms - 1) / d->opt.interval_ms + 1;
	d->tick_time = calloc(d->hist_max, sizeof(*d->tick_time));
	d->tick_mono = calloc(d->hist_max, sizeof(*d->tick_mono));
	d->budgets = calloc(BUDGET_SLOTS, sizeof(*d->budgets));
	if (!d->tick_time || !d->tick_mono || !d->budgets)
		return -ENOMEM;
	d->now = unix_now_ms();
	d->mono = boot_now_ms();
	return 0;
}

void jmd_sample_fini(struct jmd *d)
{
	free(d->budgets);
	d->budgets = NULL;
	while (d->live) {
		struct jmd_proc *p = d->live;
		jmd_list_unlink(&d->live, p);
		jmd_proc_free(p);
	}
	d->nlive = 0;
	memset(d->proc_buckets, 0, sizeof(d->proc_buckets));
	jmd_user_counts_free(d);
	while (d->dead) {
		struct jmd_proc *p = d->dead;
		jmd_list_unlink(&d->dead, p);
		jmd_proc_free(p);
	}
	d->ndead = 0;
	memset(d->uid_buckets, 0, sizeof(d->uid_buckets));
	while (d->uids) {
		struct jmd_uidhist *u = d->uids;
		d->uids = u->next;
		free(u->ring.e);
		free(u);
	}
	free(d->tick_time);
	d->tick_time = NULL;
	free(d->tick_mono);
	d->tick_mono = NULL;
	jmd_census_fini(d);
	if (d->pidfd_ep >= 0)
		close(d->pidfd_ep);
	d->pidfd_ep = -1;
}
