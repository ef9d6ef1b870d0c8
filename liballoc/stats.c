/* Over 600 lines: its rows, the file's creation and reaping, and fork share the segment's statics. */
/*
 * stats.c: the writer of the stats segment (layout in include/jmstat.h).
 *
 * At initialisation the segment is created in $JMALLOC_STATS_DIR (default
 * /dev/shm) under the name jmstat.h describes: jmalloc.<pid>.stats in the
 * host's pid namespace, jmalloc.<pid>.<pidns>.<start>.stats in any other
 * (a container: its pid alone would collide with another container's in a
 * shared directory), and with a random tag added when that name is taken
 * by another user's file. It is created exclusively,
 * never through a symlink, mode 0600, its blocks allocated at once with
 * fallocate (a full tmpfs then fails here, with a warning, instead of
 * killing the process with SIGBUS later), mapped shared. The arena, bin and
 * thread-cache structures keep their counters directly in their rows, so
 * publishing costs nothing beyond the counting itself. When stats are off,
 * or the file cannot be created, the same layout lives in private anonymous
 * memory and nothing is published (a file that found no room is tried
 * again, in a process of one thread: jm__stats_retry).
 *
 * Thread rows: a bitmap of the rows handed out; a thread beyond the last
 * row gets a private row (its cache is then invisible to readers until it
 * exits, when its counts are merged into the bins). Every row, in the
 * segment or not, has the private words of its cache JM_TB_PRIVATE bytes
 * after it (seg_at, private_table).
 *
 * fork: the child must not write its parent's segment; see below.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <linux/capability.h>
#ifdef JM_TEST
#include <sys/resource.h>
#endif
#include <sys/syscall.h>
#include <sys/uio.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

struct jmstat_header *jm__seg;
struct jm_seg_geom jm__segp;
static size_t seg_size;
static bool seg_published;
static char seg_path[256];                   /* the directory, '/', the name */
static size_t seg_dir_len;                    /* of the directory and its '/' */
static jm_lock_t rows_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t rows_taken[JM_MAX_THREAD_ROWS / 64];
static struct jmstat_thread *private_rows;   /* free private rows */
static char *snapshot;                        /* what a forked child gets, from
                                                 * the first fork on */
static bool snap_free;                        /* its place (snap_home) is
                                                 * mapped, ours and unused */
static bool seg_shmem;                        /* the file is on tmpfs */
static dev_t seg_dev;                         /* the published file, to */
static ino_t seg_ino;                         /* reopen it safely */
/* The rows of a section (thread, site, module) backed in the file so far;
 * under the section's lock (back_rows). */
struct backing {
	uint64_t backed;         /* rows from the first on backed by memory */
	uint64_t grown;          /* of them, those this process backed itself
	                            (a forked child's inherited rows are not) */
};
static struct backing thread_backing, site_backing, module_backing;
static unsigned bins_backed;                  /* arenas whose bin rows are */
bool jm__stats_pending;
static uint64_t fork_boot_ns[2];              /* the boot clock before a clone
                                               * (parent) and after (child) */
static unsigned long fork_clk_tck;            /* AT_CLKTCK, read by the parent
                                               * (a child's getauxval read the
                                               * auxiliary vector's page, a fault) */
static uint64_t *fork_verdict;                /* shared with the children: the
                                               * boot clock read before a clone
                                               * that ended in the same tick */

/* Where the calling thread's errno is, from the address of the allocator's
 * own thread-local block: both are in the static TLS block, at offsets
 * from the thread pointer that are the same in every thread, and their
 * difference is taken once at initialisation. A forked child's
 * publication saves and restores errno through it: __errno_location's
 * page of libc's text was a page fault in every child that nothing else
 * it ran took (tests/unit/test_alloc.c, test_errno_at). */
static ptrdiff_t errno_tls_off;
JM_FORK_TEXT int *jm__stats_errno_at(void);
JM_FORK_TEXT int *jm__stats_errno_at(void) { return (int *)((char *)&jm__tls + errno_tls_off); }
#define errno_at jm__stats_errno_at

static size_t align64(size_t x) { return (x + 63) & ~(size_t)63; }
/* The thread, site and module tables start on a page of their own: their
 * first rows are what a process writes (the main thread's, its first
 * sites, its modules), and each page they straddle is one more page fault
 * and 4 KiB more of its RSS (the main thread's row and the next one share
 * a page, the first modules' rows fit one). */
static size_t align_page(size_t x) { return (x + JM_PAGE_MASK) & ~JM_PAGE_MASK; }

/* The largest file the allocator writes (every arena, every thread and
 * site row, each section 64-aligned, three page-aligned) fits what
 * readers accept. */
#define SEG_THREAD_STRIDE JM_THREAD_STRIDE
#define SEG_SITE_STRIDE   JMSTAT_STRIDE(sizeof(struct jmstat_site), JM_NBINS + 1, sizeof(uint64_t))
_Static_assert(2 * 64 + 4 * JM_PAGE + sizeof(struct jmstat_header) +
               JM_NBINS * sizeof(struct jmstat_class) +
               (uint64_t)JM_MAX_ARENAS * sizeof(struct jmstat_arena) +
               (uint64_t)JM_MAX_ARENAS * JM_NBINS * sizeof(struct jmstat_bin) +
               (uint64_t)JM_MAX_THREAD_ROWS * SEG_THREAD_STRIDE +
               (uint64_t)JM_MAX_SITES * SEG_SITE_STRIDE <= JMSTAT_MAX_SIZE,
               "the largest segment the allocator writes is one a reader accepts");
_Static_assert(sizeof(struct jmstat_header) <= JMSTAT_MAX_HEADER, "a header readers accept");
/* The 8 bytes after a thread row's cache rows are the list head of
 * JM_TBIN_EMPTY's row, always 0 (internal.h): inside the stride. */
_Static_assert(SEG_THREAD_STRIDE >= sizeof(struct jmstat_thread) +
               JM_NBINS * sizeof(struct jmstat_tcache_bin) + sizeof(uint64_t),
               "room for the always empty row's list head");

/*
 * The private words of the thread caches (types.h, struct jm_tbin_private:
 * their lists' heads and capacities) are JM_TB_PRIVATE bytes after their
 * rows, the size of the thread table: a table of private anonymous memory
 * mapped right after the segment's thread table. The file is mapped in two
 * pieces, the second (its site and module tables) below the first, and the
 * fork snapshot's place after the private table, so that the mapping is,
 * in order:
 *
 *   the file's [split, seg_size)   sites, modules
 *   the file's [0, split)          header, classes, arenas, bins, threads
 *                                  (jm__seg, the header, is its start)
 *   private, JM_TB_PRIVATE bytes   the threads' private words
 *   private, seg_size bytes        the fork snapshot's place (snap_at)
 *
 * split being the end of the thread table (seg_split). Every row's place
 * goes through seg_at, which knows it; the file itself is as readers know
 * it. The private table is inherited by a forked child (copy on write:
 * the forking thread's lists are the child's), the file's pieces are not
 * (MADV_DONTFORK, below). The private table and the snapshot are one
 * private mapping, with the metadata mapped just before the segment when
 * the kernel put it next to it (the allocator's first base block): a fork
 * copies each private mapping with pages at some 3.5 us (its page tables
 * and anon_vma, and the child's teardown of them: docs/measurements.md),
 * and the private table between the file's pieces, the snapshot mapped
 * apart and the metadata were three of them. A segment in private memory
 * (stats:0, or no file) has the same shape, all of it one mapping.
 */
static uint64_t seg_split(void)
{
	return jm__segp.thread_off + (uint64_t)jm__segp.nthreads_max * jm__segp.thread_stride;
}

static char *seg_at(uint64_t off)
{
	return (char *)jm__seg + off - (off >= seg_split() ? seg_size : 0);
}

/* The start of the segment's place: its second piece's. */
static char *seg_base(void)
{
	return seg_at(seg_split());
}

/* The snapshot's place: after the private table. */
static char *snap_home(void)
{
	return (char *)jm__seg + seg_split() + JM_TB_PRIVATE;
}

/* Where the snapshot holds [off, ...) of the segment: its pieces in the
 * order of their places, so that the child moves it to the segment's place
 * in one mremap. */
static char *snap_at(uint64_t off)
{
	return snapshot + (seg_at(off) - seg_base());
}

char *jm__stats_at(uint64_t off) { return seg_at(off); }

/* Every row's place from jm__segp, never from the file's header: any
 * process of the owner's uid may rewrite the header (setting thread_off
 * made a process write at an address of the writer's choosing). */
struct jmstat_arena *jm__stats_arena_row(unsigned index)
{
	return (struct jmstat_arena *)(seg_at(jm__segp.arena_off) +
	    (size_t)index * sizeof(struct jmstat_arena));
}

struct jmstat_bin *jm__stats_bin_row(unsigned arena, unsigned bin)
{
	return (struct jmstat_bin *)(seg_at(jm__segp.bin_off) +
	    ((size_t)arena * JM_NBINS + bin) * sizeof(struct jmstat_bin));
}

size_t jm__stats_thread_row_size(void) { return jm__segp.thread_stride; }

static struct jmstat_thread *thread_row(unsigned i)
{
	return (struct jmstat_thread *)(seg_at(jm__segp.thread_off) +
	    (size_t)i * jm__segp.thread_stride);
}

static bool row_in_segment(const struct jmstat_thread *row)
{
	return (const char *)row >= seg_at(jm__segp.thread_off) &&
	    (const char *)row < seg_at(jm__segp.thread_off) +
	    (size_t)jm__segp.nthreads_max * jm__segp.thread_stride;
}

#ifdef JM_TEST
extern uint64_t jm__stats_test_back_max;
uint64_t jm__stats_test_back_max;            /* bytes a step may back; 0: any */
#endif

/* Backs [off, off + len) of the published file with memory (fallocate),
 * so that writing through the mapping can never SIGBUS. The file is
 * reopened by name and checked to be the same one; no descriptor is kept
 * open, since a program may close or reuse descriptors it does not know.
 * Where it cannot be reopened, the pages are backed through the mapping
 * (MADV_POPULATE_WRITE: it fails where a write would SIGBUS): a server
 * that starts as root and then takes another uid (nginx's and memcached's
 * workers, as nobody) can no longer open its own file, mode 0600 and
 * root's; every row past the first step was private then, its threads and
 * its sampled sites left out of the segment (a new site's sample was
 * dropped), and each of them tried the open again: 550 failed opens in
 * nginx's four workers for 22,000 requests (tests/preload/setuid_rows.test.sh).
 * errno is kept: a free() may come here. */
static bool seg_back_file(uint64_t off, uint64_t len)
{
	if (!seg_published)
		return true;
	uint64_t start = off & ~(uint64_t)JM_PAGE_MASK;
	uint64_t end = (off + len + JM_PAGE_MASK) & ~(uint64_t)JM_PAGE_MASK;
	if (end > seg_size)
		end = seg_size;
#ifdef JM_TEST
	if (jm__stats_test_back_max != 0 && end - start > jm__stats_test_back_max)
		return false;   /* a file system with no room for more */
#endif
	int fd = open(seg_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)   /* ours, but no longer open to this uid; gone: no rows */
		return (errno == EACCES || errno == EPERM) &&
		    madvise(seg_at(start), end - start, MADV_POPULATE_WRITE) == 0;
	struct stat st;
	bool ok = fstat(fd, &st) == 0 && st.st_dev == seg_dev && st.st_ino == seg_ino &&
	    fallocate(fd, 0, (off_t)start, (off_t)(end - start)) == 0;
	close(fd);
	return ok;
}

static bool seg_back(uint64_t off, uint64_t len)
{
	int saved = errno;
	bool ok = seg_back_file(off, len);
	errno = saved;
	return ok;
}

#ifdef JM_TEST
extern unsigned jm__stats_test_site_steps;
unsigned jm__stats_test_site_steps;          /* site rows' backing steps */
#endif

/* Backs a section's rows [b->backed, want) (want <= max), in whole pages:
 * the rows the last page holds are counted backed too. */
static bool back_to(struct backing *b, uint64_t want, uint64_t max, uint64_t off, uint64_t stride)
{
	uint64_t from = off + b->backed * stride;
	uint64_t end = (off + want * stride + JM_PAGE_MASK) & ~(uint64_t)JM_PAGE_MASK;
	if (end > off + max * stride)
		end = off + max * stride;
	if (!seg_back(from, end - from))
		return false;
	uint64_t now = (end - off) / stride;
	b->grown += now - b->backed;
	b->backed = now;
	return true;
}

/*
 * Rows of a section are backed in steps, each at least eight rows and at
 * least half of what this process backed itself: `rows` wanted, *b the
 * backing so far. Each step reopens the file (seg_back: open, fstat,
 * fallocate, close); at eight rows a step, cc1plus (g++ -O2 on a large
 * unit, some 590 sites) took 74 steps, one per 8 new sites, and now it
 * takes 10: O(log n), for at most a third of the rows backed unused. A
 * process with few rows backs no more than it did (2 pages for its first
 * 14 sites, 3 up to 21), and a forked child's steps start small again: a
 * child that inherits a large table and adds a site backs 8 rows, not
 * half its parent's. Where the file system has no room for a large step,
 * the least one is tried. Under rows_lock, prof_lock or modules.c's
 * mod_lock (one lock per section); false if the rows cannot be backed.
 */
static bool back_rows(struct backing *b, uint64_t rows, uint64_t max, uint64_t off, uint64_t stride)
{
	if (rows <= b->backed)
		return true;
	uint64_t least = (rows + 7) & ~(uint64_t)7;
	if (least > max)
		least = max;
	uint64_t want = b->backed + b->grown / 2;
	if (want > max)
		want = max;
	if (want > least && back_to(b, want, max, off, stride))
		return true;
	return back_to(b, least, max, off, stride);
}

static bool back_thread_rows(uint64_t rows)
{
	return back_rows(&thread_backing, rows, jm__segp.nthreads_max, jm__segp.thread_off,
	    jm__segp.thread_stride);
}

#ifdef JM_TEST
uint64_t jm__stats_test_site_rows(void);
uint64_t jm__stats_test_site_rows(void) { return site_backing.backed; }
#endif

bool jm__stats_reserve_sites(uint32_t rows)
{
#ifdef JM_TEST
	if (rows > site_backing.backed && seg_published)
		jm__stats_test_site_steps++;
#endif
	return back_rows(&site_backing, rows, jm__segp.nsites_max, jm__segp.site_off,
	    jm__segp.site_stride);
}

/* Under modules.c's mod_lock. */
bool jm__stats_reserve_modules(uint32_t rows)
{
	return back_rows(&module_backing, rows, jm__segp.nmodules_max, jm__segp.module_off,
	    jm__segp.module_size);
}

/*
 * The bin rows of arena `index`, backed in the file before the arena is
 * made (from arena.c, outside its lock: prefork takes rows_lock first):
 * an arena a process never makes takes no memory of the file (7 unused
 * arenas' rows were 5 pages of every process's file, and of every forked
 * child's, allocated and freed again). NULL where the file system has no
 * room: the arena then counts in rows of its own, unpublished.
 */
struct jmstat_bin *jm__stats_arena_bins(unsigned index)
{
	uint64_t per = (uint64_t)JM_NBINS * sizeof(struct jmstat_bin);
	bool ok = true;
	pthread_mutex_lock(&rows_lock);
	if (index >= bins_backed) {
		ok = seg_back(jm__segp.bin_off + bins_backed * per, (index + 1 - bins_backed) * per);
		if (ok)
			bins_backed = index + 1;
	}
	pthread_mutex_unlock(&rows_lock);
	if (ok)
		return jm__stats_bin_row(index, 0);
	struct jmstat_bin *rows = jm__base_alloc(per);
	if (rows != NULL)
		memset(rows, 0, per);
	return rows;
}

/* A table of private rows, for the threads beyond the segment's rows (or
 * when the file has no room for more): a thread table and its private
 * words after it, as in the segment (seg_at), mapped when the last one is
 * taken; its rows linked into a list through the word after each row's
 * header (the rows and their private words are set when a thread takes
 * one: jm__tcache_boot). NULL without memory. Under rows_lock. */
static struct jmstat_thread *private_table(void)
{
	char *t = jm__os_map(2 * JM_TB_PRIVATE);
	if (t == NULL)
		return NULL;
	struct jmstat_thread *list = NULL;
	for (unsigned i = JM_MAX_THREAD_ROWS; i-- > 0;) {
		struct jmstat_thread *row = (struct jmstat_thread *)(t + (size_t)i * JM_THREAD_STRIDE);
		*(struct jmstat_thread **)(row + 1) = list;
		list = row;
	}
	return list;
}

struct jmstat_thread *jm__stats_thread_row_get(void)
{
	struct jmstat_thread *row = NULL;
	pthread_mutex_lock(&rows_lock);
	for (unsigned w = 0; w < jm__segp.nthreads_max / 64 && row == NULL; w++) {
		if (~rows_taken[w] == 0)
			continue;
		unsigned bit = (unsigned)__builtin_ctzll(~rows_taken[w]);
		unsigned i = w * 64 + bit;
		if (!back_thread_rows(i + 1))
			break; /* no memory for the file: a private row */
		rows_taken[w] |= 1ULL << bit;
		row = thread_row(i);
		if (i >= jm__segp.nthreads_hw) {
			jm__segp.nthreads_hw = i + 1;
			__atomic_store_n(&jm__seg->nthreads_hw, i + 1, __ATOMIC_RELEASE);
		}
	}
	if (row == NULL && private_rows == NULL)
		private_rows = private_table();
	if (row == NULL && private_rows) {
		row = private_rows;
		private_rows = *(struct jmstat_thread **)(row + 1);
	}
	pthread_mutex_unlock(&rows_lock);
	return row;
}

void jm__stats_thread_row_put(struct jmstat_thread *row)
{
	__atomic_store_n(&row->in_use, 0, __ATOMIC_RELEASE);
	pthread_mutex_lock(&rows_lock);
	if (row_in_segment(row)) {
		size_t i = (size_t)((char *)row - seg_at(jm__segp.thread_off)) / jm__segp.thread_stride;
		rows_taken[i / 64] &= ~(1ULL << (i % 64));
	} else {
		*(struct jmstat_thread **)(row + 1) = private_rows;
		private_rows = row;
	}
	pthread_mutex_unlock(&rows_lock);
}

/* ------------------------------------------------------------ creation */

static const char *stats_dir(void)
{
	const char *dir = getauxval(AT_SECURE) ? NULL : getenv("JMALLOC_STATS_DIR");
	return dir && *dir ? dir : "/dev/shm";
}

static const char *errno_name(int e)
{
	switch (e) {
	case EACCES: return "permission denied";
	case EEXIST: return "file exists";
	case ELOOP: return "is a symlink";
	case ENOENT: return "no such directory";
	case ENOSPC: return "no space left";
	case EROFS: return "read-only file system";
	case ENOTDIR: return "not a directory";
	case EPERM: return "operation not permitted";
	case ENAMETOOLONG: return "name too long";
	case ENOMEM: return "out of memory";
	case EMFILE: return "too many open files";
	case EXDEV: return "a mount point on the path";
	default: return "error";
	}
}

/* The line of a process that runs without stats for want of its file,
 * naming its program: a pid is one line per program it runs (an exec
 * chain of shims, python3 -> bash -> pyenv -> bash -> python3, is one pid
 * and five programs, each trying its own file), and a line per program
 * with nothing but the pid read as the same line over and over. A full
 * directory (ENOSPC, from ftruncate, fallocate or the copy of a forked
 * child's rows: out of blocks or of inodes) says so, and which. */
static void log_unpublished(const char *what, int e)
{
	char dir[sizeof(seg_path)];
	size_t n = seg_dir_len > 1 && seg_dir_len <= sizeof(seg_path) ? seg_dir_len - 1 : 0;
	memcpy(dir, seg_path, n);
	dir[n] = '\0';
	if (e == ENOSPC)
		jm__log("%s: cannot %s the stats segment %s: the stats directory %s is full (no space "
		    "left, errno %d); this program runs without stats", program_invocation_short_name,
		    what, seg_path, dir, e);
	else
		jm__log("%s: cannot %s the stats segment %s (%s, errno %d); this program runs without "
		    "stats", program_invocation_short_name, what, seg_path, errno_name(e), e);
}

/*
 * A publication that failed for want of room (ENOSPC, EDQUOT: any user may
 * fill the stats directory) is tried again, at the thread cache's GC (a
 * slow path, every 64 fills and flushes), at most RETRY_MAX times, the
 * first RETRY_FIRST_NS after the failure was first looked at, each twice
 * as long after the last, at most RETRY_GAP_MAX apart: some 30 minutes in
 * all. Silent while the directory stays full: the failure's line is the
 * only one, and the publication, when it comes, one more
 * (jm__stats_retry). Inherited by a forked child, which publishes its
 * own file so.
 */
#define RETRY_MAX 32
#define RETRY_FIRST_NS 1000000000ull
#define RETRY_GAP_MAX 64000000000ull
bool jm__stats_retry_due;
static unsigned retry_tries;
static uint64_t retry_at;                     /* CLOCK_MONOTONIC; 0: not set */

JM_FORK_TEXT static void retry_arm(int e)
{
	if (e != ENOSPC && e != EDQUOT)
		return;
	jm__stats_retry_due = true;
	retry_tries = 0;
	retry_at = 0;
}

/*
 * Opens name under the directory dfd without crossing a mount point
 * (openat2's RESOLVE_NO_XDEV). The stats directory is shared: in the
 * sticky /dev/shm anyone may mount a FUSE file system (fusermount, with
 * allow_other where /etc/fuse.conf has user_allow_other) on a file of
 * theirs named as a segment, whose server never answers; an open or a
 * stat of that name asks the server, and waits for as long as it holds
 * the mount. reap_stale opened every name of a dead pid, whoever's: one
 * such mount under a pid that does not run froze one process start in 8
 * on the host, root's services too, at its first malloc (6 of 40 runs
 * of `ls` here). A mount point is now EXDEV, and skipped. Where openat2
 * is missing (before Linux 5.6, or refused by a seccomp filter: ENOSYS,
 * EPERM) the name is opened as before.
 */
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
struct jm_open_how { uint64_t flags, mode, resolve; };
#define JM_RESOLVE_NO_XDEV 0x01
JM_FORK_TEXT static int open_no_xdev(int dfd, const char *name, int flags)
{
	struct jm_open_how how = { (uint64_t)(unsigned)flags, 0, JM_RESOLVE_NO_XDEV };
	long fd = syscall(SYS_openat2, dfd, name, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		fd = syscall(SYS_openat, dfd, name, flags, 0);
	return (int)fd;
}

/*
 * Removes the segments that processes of our uid left when they died or
 * ended with _exit() (dash does), as the JVM does for hsperfdata: without
 * this a busy host would fill its tmpfs when jmstatd is not running. The
 * directory is read with getdents64 into a stack buffer: no malloc here;
 * 512 bytes of it, not 4 KiB, and of a file's header only what says whose
 * it is (a forked child's first malloc publishes its segment and may reap:
 * in a signal handler on a sigaltstack, on what is left of 8 KiB).
 * To keep a process start cheap on a host with many live segments, one
 * start in REAP_ONE_IN does it, and it looks at most REAP_MAX_CHECKS pids;
 * one forked child's publication in REAP_ONE_IN_FORKED: a child that ends
 * with _exit removes its own file now (compat.c), what is left is killed
 * processes', and a program forking thousands of children a second had
 * one in 8 of them check every pid of the directory (a kill() each).
 * Only files of our own pid namespace are looked at (a plain name when we
 * are in the host's, our pidns in the name otherwise): another
 * namespace's pids mean nothing here, and a shared directory holds live
 * files of other containers whose pids we cannot see.
 */
#define REAP_ONE_IN 8
#define REAP_ONE_IN_FORKED 64
#ifdef JM_TEST
extern unsigned jm__stats_test_reaps;
unsigned jm__stats_test_reaps;               /* reap_stale calls */
#endif
#define REAP_MAX_CHECKS 256
static JM_NOINLINE void reap_stale(const char *dir, const struct jmstat_header *self)
{
#ifdef JM_TEST
	jm__stats_test_reaps++;
#endif
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	char buf[512] __attribute__((aligned(8)));
	uid_t uid = getuid();
	uint64_t own_ns = self->pidns == JMSTAT_PIDNS_INIT ? 0 : self->pidns;
	unsigned scanned = 0, checks = 0;
	long n;
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0 && scanned < 100000 &&
	    checks < REAP_MAX_CHECKS) {
		for (long off = 0; off < n;) {
			struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *d =
			    (void *)(buf + off);
			off += d->reclen;
			scanned++;
			struct jmstat_name nm;
			if (jmstat_name_parse(d->name, &nm) != 0 || nm.pidns != own_ns ||
			    nm.pid == self->pid)
				continue;
			if (++checks > REAP_MAX_CHECKS)
				break;
			if (kill((pid_t)nm.pid, 0) == 0 || errno != ESRCH)
				continue;
			/* Only a regular file of ours that is a segment of that pid. */
			int fd = open_no_xdev(dfd, d->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
			if (fd < 0)
				continue;
			struct stat st;
			/* The header up to its pid: whose segment it is. */
			char head[offsetof(struct jmstat_header, pid) + sizeof(uint32_t)];
			uint64_t magic = 0;
			uint32_t pid = 0;
			if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == uid &&
			    pread(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head)) {
				memcpy(&magic, head + offsetof(struct jmstat_header, magic), sizeof(magic));
				memcpy(&pid, head + offsetof(struct jmstat_header, pid), sizeof(pid));
			}
			if (magic == JMSTAT_MAGIC && pid == nm.pid)
				unlinkat(dfd, d->name, 0);
			close(fd);
		}
	}
	close(dfd);
}

/* Whether this start is the one in REAP_ONE_IN that reaps: by chance. Not
 * by the coarse clock's microseconds, always a multiple of 8 (it ticks in
 * 1, 4 or 10 ms), and so not by the pid either: in a pid namespace of its
 * own (a container) a program starting its children one at a time hands
 * them pids at a fixed stride, and with an odd pid for each of them none
 * ever reaped. A forked child draws from the boot clock its fork handler
 * read (nanoseconds, through the vDSO: no system call). */
JM_FORK_TEXT static bool reap_turn(const struct jmstat_header *h, bool forked)
{
	if (forked) {
		uint64_t x = (fork_boot_ns[1] ^ h->pid) * 0x9e3779b97f4a7c15ULL;
		return (x >> 32) % REAP_ONE_IN_FORKED == 0;
	}
	uint8_t r;
	if (syscall(SYS_getrandom, &r, sizeof(r), 1 /* GRND_NONBLOCK */) != (long)sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t x = ((uint64_t)ts.tv_nsec ^ h->pid ^ h->start_time) * 0x9e3779b97f4a7c15ULL;
		r = (uint8_t)(x >> 56);
	}
	return r % REAP_ONE_IN == 0;
}

/* v in decimal at p; the end. */
JM_FORK_TEXT static char *put_dec(char *p, uint64_t v)
{
	char d[20];
	int n = 0;
	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = d[--n];
	return p;
}

/* The untagged name (jmalloc.PID.stats, or jmalloc.PID.PIDNS.START.stats)
 * written by hand, in the fork text: jm__format's page of the library's
 * text and its format string's page of read-only data were two page
 * faults in nearly every forked child (the prefix and suffix are stored
 * as immediates: __builtin_memcpy of a constant length, read-only data
 * untouched). At most 66 characters. */
JM_FORK_TEXT static int put_name(char *name, const struct jmstat_header *h, bool ns)
{
	char *p = name;
	__builtin_memcpy(p, JMSTAT_FILE_PREFIX, sizeof(JMSTAT_FILE_PREFIX) - 1);
	p = put_dec(p + sizeof(JMSTAT_FILE_PREFIX) - 1, h->pid);
	if (ns) {
		*p++ = '.';
		p = put_dec(p, h->pidns);
		*p++ = '.';
		p = put_dec(p, h->start_time);
	}
	__builtin_memcpy(p, JMSTAT_FILE_SUFFIX, sizeof(JMSTAT_FILE_SUFFIX));   /* and the NUL */
	return (int)(p - name) + (int)sizeof(JMSTAT_FILE_SUFFIX) - 1;
}

/* The file's name for the writer h (jmstat.h), with a random tag or not,
 * after the directory in seg_path; its length in all. */
JM_FORK_TEXT static int format_name(const struct jmstat_header *h, bool tagged)
{
	char *name = seg_path + seg_dir_len;
	size_t room = sizeof(seg_path) - seg_dir_len;
	if (!tagged && room > 66)
		return (int)seg_dir_len + put_name(name, h, h->pidns != 0 && h->pidns != JMSTAT_PIDNS_INIT);
	if (h->pidns == 0 || h->pidns == JMSTAT_PIDNS_INIT) {
		if (!tagged)
			return (int)seg_dir_len + jm__format(name, room, JMSTAT_FILE_PREFIX "%u" JMSTAT_FILE_SUFFIX,
			    (unsigned)h->pid);
	} else if (!tagged) {
		return (int)seg_dir_len + jm__format(name, room,
		    JMSTAT_FILE_PREFIX "%u.%llu.%llu" JMSTAT_FILE_SUFFIX, (unsigned)h->pid,
		    (unsigned long long)h->pidns, (unsigned long long)h->start_time);
	}
	/* Unpredictable to another user; the top bit set keeps 16 digits. */
	uint64_t tag = 0;
	if (syscall(SYS_getrandom, &tag, sizeof(tag), 1 /* GRND_NONBLOCK */) != (long)sizeof(tag))
		tag = jm__now_ns() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)&tag;
	tag |= 1ULL << 63;
	uint64_t ns = h->pidns ? h->pidns : JMSTAT_PIDNS_INIT;
	return (int)seg_dir_len + jm__format(name, room,
	    JMSTAT_FILE_PREFIX "%u.%llu.%llu.%llx" JMSTAT_FILE_SUFFIX, (unsigned)h->pid,
	    (unsigned long long)ns, (unsigned long long)h->start_time, (unsigned long long)tag);
}

/* The pid from the kernel, and the start time parsed by hand (below), not
 * with getpid() and strtoull(): pages of libc's text that a program which
 * never calls them would not fault in, at every start (getpid at exit). */
JM_FORK_TEXT static uint32_t own_pid(void) { return (uint32_t)syscall(SYS_getpid); }

/* fstat without the C library's: glibc's is fstatat(fd, "", st,
 * AT_EMPTY_PATH), whose kernel side reads the empty path from libc's
 * read-only data, a page a forked child had not touched (a fault, and
 * more under a hypervisor's shadow page tables). x86-64's struct stat is
 * the kernel's. */
JM_FORK_TEXT static int seg_fstat(int fd, struct stat *st)
{
#if defined(__x86_64__) && defined(SYS_fstat)
	return (int)syscall(SYS_fstat, fd, st);
#else
	return fstat(fd, st);
#endif
}

/* The publication's other system calls through syscall() too, not the C
 * library's wrappers: a forked child has touched syscall()'s page of libc
 * already (own_pid), and the wrappers' page (open, ftruncate, pwrite,
 * mmap, madvise, close, unlink: one 64 KiB window of libc's text, mapped
 * by the fault that touches it first) was a page fault in every child
 * that nothing else it ran took. Each sets errno on failure as the
 * wrapper does. (Session 15 moved open, ftruncate and pwrite alone: the
 * fault moved to close and mmap, in the same window.) On 64-bit ABIs
 * only, where mmap takes its offset in bytes and pwrite in one register;
 * elsewhere the wrappers. */
#if defined(__LP64__)
JM_FORK_TEXT static int sys_open(const char *path, int flags, int mode)
{
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}
JM_FORK_TEXT static int sys_ftruncate(int fd, off_t len) { return (int)syscall(SYS_ftruncate, fd, len); }
JM_FORK_TEXT static ssize_t sys_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return syscall(SYS_pwrite64, fd, buf, n, off);
}
JM_FORK_TEXT static ssize_t sys_pread(int fd, void *buf, size_t n, off_t off)
{
	return syscall(SYS_pread64, fd, buf, n, off);
}
/* The kernel's pwritev takes the offset in two words, low and high: on a
 * 64-bit ABI the first holds it all. */
JM_FORK_TEXT static ssize_t sys_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	return syscall(SYS_pwritev, fd, iov, n, (unsigned long)off, 0UL);
}
JM_FORK_TEXT static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}
JM_FORK_TEXT static int sys_madvise(void *addr, size_t len, int advice)
{
	return (int)syscall(SYS_madvise, addr, len, advice);
}
JM_FORK_TEXT static int sys_close(int fd) { return (int)syscall(SYS_close, fd); }
JM_FORK_TEXT static int sys_unlink(const char *path) { return (int)syscall(SYS_unlinkat, AT_FDCWD, path, 0); }
#else
#define sys_open open
#define sys_ftruncate ftruncate
#define sys_pwrite pwrite
#define sys_pread pread
#define sys_pwritev pwritev
#define sys_mmap mmap
#define sys_madvise madvise
#define sys_close close
#define sys_unlink unlink
#endif

/* Maps the file fd (the segment, seg_size bytes) in its two pieces, the
 * header's at jm__seg and the sites' and modules' below it (seg_at),
 * shared and not inherited by a forked child. */
JM_FORK_TEXT static bool seg_map_file(int fd)
{
	uint64_t split = seg_split();
	if (sys_mmap(jm__seg, split, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED ||
	    (seg_size > split &&
	     sys_mmap(seg_at(split), seg_size - split, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
	        fd, (off_t)split) == MAP_FAILED))
		return false;
	/* Both pieces in one call: they are next to each other (seg_at). */
	sys_madvise(seg_base(), seg_size, MADV_DONTFORK);
	return true;
}

/* Private zeroed memory over the file's two pieces (next to each other:
 * one mapping); the private table after them is left as it is: a segment
 * that is not published. */
JM_FORK_TEXT static bool seg_map_anon(void)
{
	return sys_mmap(seg_base(), seg_size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED;
}

/*
 * A same-uid process may shrink the file (ftruncate, `truncate -s 0`,
 * `: >FILE`): tmpfs then drops its pages, and the next write through the
 * mapping past the new end, on malloc's and free's fast paths (a thread
 * row), raised SIGBUS and killed the process. That user may kill(2) it
 * anyway, but not where it cannot name the pid: containers of one uid
 * sharing a stats directory (a volume) each in a pid namespace of its
 * own, and a process of the host seen from inside a container. So a
 * SIGBUS at an address of the file's pieces (a fault, BUS_ADRERR) maps
 * private zeroed memory over them (seg_map_anon) and returns: the write
 * is made again there, the process runs on without stats (what a writer
 * of the file could do to its figures anyway: zero them). Any other
 * SIGBUS is the default's (the process dies as before, its fault made
 * again or the signal raised again). A program that sets a SIGBUS
 * handler of its own (before its first malloc, or after: it takes over)
 * dies of a shrunk segment as before (tests/preload/seg_truncate.test.sh).
 */
static void seg_bus(int sig, siginfo_t *info, void *ctx)
{
	(void)ctx;
	int saved = errno;
	/* Its siginfo is the kernel's only where it was set with SA_SIGINFO
	 * (or it is called by a handler set after it that passes its own):
	 * a program that saves the handler with signal() and puts it back so
	 * has it without, and the kernel writes no siginfo then: it read
	 * what the stack held there (a kill -BUS was dropped). */
	struct sigaction cur;
	if (info != NULL && sigaction(sig, NULL, &cur) == 0 && cur.sa_sigaction == seg_bus &&
	    !(cur.sa_flags & SA_SIGINFO))
		info = NULL;
	char *a = info ? (char *)info->si_addr : NULL;
	char *lo = (char *)jm__seg;
	if (lo != NULL && info && info->si_code == BUS_ADRERR && a >= seg_base() &&
	    a < lo + seg_split()) {
		/* The file's pieces, not the private table after them. */
		seg_published = false;
		if (seg_map_anon()) {
			errno = saved;
			return;
		}
	}
	/* The default there was: a fault is made again on return and kills
	 * the process; any other SIGBUS (kill, raise, an action-optional
	 * machine check: BUS_MCEERR_AO, which ends the process by default)
	 * is sent again, delivered on return. It was dropped where si_code
	 * was positive and not a fault's. */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	if (!info || (info->si_code != BUS_ADRALN && info->si_code != BUS_ADRERR &&
	    info->si_code != BUS_OBJERR && info->si_code != BUS_MCEERR_AR))
		raise(sig);
	errno = saved;
}

/* Sets seg_bus as SIGBUS's handler when the file is first mapped (a
 * forked child inherits it), only over the default: a program that has
 * one already (or ignores SIGBUS) deals with its faults. Nothing kept in
 * memory of ours: the library's small variables fit two pages
 * (tests/preload/startup.test.sh). */
static void seg_bus_guard(void)
{
	struct sigaction old, sa;
	if (sigaction(SIGBUS, NULL, &old) != 0 || (old.sa_flags & SA_SIGINFO) ||
	    old.sa_handler != SIG_DFL)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = seg_bus;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

/* Whether this process holds more than the owner of the file it would
 * publish: its real, effective, saved and file-system uids not all one
 * (a root process's child between seteuid(user) and its exec, an NFS
 * server's setfsuid), nor its gids, or a uid other than root with
 * capabilities (systemd's User= with AmbientCapabilities=, a program
 * given them by its parent). Its file would be the file-system uid's,
 * and whoever may write a segment could write into its process (its
 * thread caches kept their lists' heads in their rows until session 24,
 * its layout and counts until session 23: a process of nobody's
 * rewriting another's thread_off made it write at an address of its
 * choosing); it can still read its published figures and bend them. The
 * kernel keeps that user from such a
 * process (ptrace wants its uids, gids and capabilities); so does this:
 * it publishes nothing, as a set-uid program does not (AT_SECURE). */
JM_FORK_TEXT static bool creds_mixed(void)
{
	unsigned r, e, s;
	if (syscall(SYS_getresuid, &r, &e, &s) != 0 || r != e || r != s ||
	    (unsigned)syscall(SYS_setfsuid, -1) != r)
		return true;
	unsigned gr, ge, gs;
	if (syscall(SYS_getresgid, &gr, &ge, &gs) != 0 || gr != ge || gr != gs ||
	    (unsigned)syscall(SYS_setfsgid, -1) != gr)
		return true;
	if (r == 0)
		return false;     /* root's file: no one else may write it */
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct caps[2];
	if (syscall(SYS_capget, &hdr, caps) != 0)
		return true;
	return (caps[0].permitted | caps[1].permitted | caps[0].effective | caps[1].effective) != 0;
}

/* lstat of seg_path, without crossing a mount point: 0, or an errno
 * (EXDEV: a mount point). */
JM_FORK_TEXT static int name_stat(struct stat *st)
{
	char c = seg_path[seg_dir_len];
	seg_path[seg_dir_len] = '\0';
	int dfd = sys_open(seg_path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	seg_path[seg_dir_len] = c;
	if (dfd < 0)
		return errno;
	int fd = open_no_xdev(dfd, seg_path + seg_dir_len, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	int err = fd < 0 ? errno : seg_fstat(fd, st) != 0 ? errno : 0;
	if (fd >= 0)
		sys_close(fd);
	sys_close(dfd);
	return err;
}

/* Opens a new segment file for the writer h, in the directory seg_path
 * starts with. A file already at its name is
 * either ours (left by the program this process was before an exec, or by
 * a dead process of our uid: with a pidns in the name, only by ours) and
 * replaced, or another user's (squatting: it cannot be a live writer's),
 * and then we publish under a tagged name instead. */
JM_FORK_TEXT static int create_file(const struct jmstat_header *h, size_t size, size_t core, bool forked)
{
	if (seg_dir_len == 0 || seg_dir_len >= sizeof(seg_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	seg_path[seg_dir_len] = '\0';   /* the directory, with its '/' */
	if (reap_turn(h, forked))
		reap_stale(seg_path, h);
	int fd = -1;
	bool tagged = false;
	for (int attempt = 0; attempt < 3 && fd < 0; attempt++) {
		if (format_name(h, tagged) >= (int)sizeof(seg_path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = sys_open(seg_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST || tagged)
			break;
		/* Whose the name is: looked at without crossing a mount
		 * point (open_no_xdev: lstat asked a FUSE server mounted
		 * there, which may never answer); a mount point is not ours
		 * to take. */
		struct stat st;
		int lerr = name_stat(&st);
		if (lerr == ENOENT)
			continue;     /* gone meanwhile: try the name again */
		if (lerr != 0) {
			tagged = true;
			continue;
		}
		if (st.st_uid == getuid() && (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))) {
			if (unlink(seg_path) != 0 && errno != ENOENT)
				tagged = true;
		} else {
			tagged = true;
		}
	}
	if (fd < 0)
		return -1;
	/* The full size at once (readers check it), memory for the core now
	 * (if any), for thread and site rows as they are used. */
	int err = sys_ftruncate(fd, (off_t)size);
	if (err == 0 && core > 0)
		err = fallocate(fd, 0, 0, (off_t)core);
	struct stat st;
	if (err == 0 && (err = seg_fstat(fd, &st)) == 0) {
		seg_dev = st.st_dev;
		seg_ino = st.st_ino;
	}
	if (err != 0) {
		int e = errno;
		sys_close(fd);
		sys_unlink(seg_path);
		errno = e;
		return -1;
	}
	return fd;
}

/* The inode of a namespace file of ours, or 0. */
static uint64_t ns_inode(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* Set by unshare and setns (compat.c) when the process may have changed
 * the pid namespace of its children, its mount namespace or its children's
 * time namespace (their boot clock may be offset from ours). */
static bool ns_changed;

/*
 * A forked child's start time without /proc. The kernel takes it (the
 * boot clock, CLOCK_BOOTTIME, at clone) between the parent's prepare
 * handler and the child's handler, and /proc/PID/stat shows it in clock
 * ticks (AT_CLKTCK, 100 a second), rounded down: when the clock read at
 * both ends is in the same tick, that tick is the start time. It is in
 * nearly every fork (one takes some 100 us, a tick 10 ms); else, and
 * after the parent changed its children's time namespace, /proc is read
 * as before. Opening and reading /proc/self/stat in a new process was 4
 * system calls and the lookup of its /proc entry (some 20 us), a fifth
 * of its publication.
 */

JM_FORK_TEXT static uint64_t boot_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The child's read, in its fork handler: the same clock by a system call
 * made in line, not the vDSO, whose page of text the child has not
 * touched (a page fault in every child, also in the commonest, which
 * allocates nothing and _exits: it took the vDSO's page for this read
 * alone; one that publishes reads the wall clock through it later). */
JM_FORK_TEXT static uint64_t boot_ns_child(void)
{
	struct timespec ts;
	if (jm__sys_inline(SYS_clock_gettime, CLOCK_BOOTTIME, (long)&ts, 0, 0, 0) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The tick both reads fall in, or 0. */
JM_FORK_TEXT uint64_t jm__stats_start_tick(uint64_t before_ns, uint64_t after_ns, unsigned long hz)
{
	if (before_ns == 0 || after_ns < before_ns || hz == 0 || 1000000000u % hz != 0)
		return 0;
	uint64_t per = 1000000000u / hz;
	return before_ns / per == after_ns / per ? before_ns / per : 0;
}

/* A forked child's start time from the two reads of the boot clock
 * around its fork, its parent's before the clone and its own after; when
 * they are in two ticks, from its parent's read after the clone, if its
 * parent has made it (jm__stats_postfork_parent): the word is the read
 * before the clone of the last fork in the family whose clone ended in
 * the tick it began in, and a nanosecond clock read is this fork's. Else
 * 0: /proc is read. At load 27 on 2 CPUs 43% of fork-churn's children
 * read /proc (some 220 us of CPU each) for want of this. */
JM_FORK_TEXT uint64_t jm__stats_fork_start(void)
{
	uint64_t t = jm__stats_start_tick(fork_boot_ns[0], fork_boot_ns[1], fork_clk_tck);
	if (t == 0 && fork_verdict != NULL && fork_boot_ns[0] != 0 &&
	    __atomic_load_n(fork_verdict, __ATOMIC_ACQUIRE) == fork_boot_ns[0])
		t = jm__stats_start_tick(fork_boot_ns[0], fork_boot_ns[0], fork_clk_tck);
	return t;
}

#ifdef JM_TEST
/* A child that ran its fork handler ns later (a loaded machine's). */
void jm__stats_test_run_late(uint64_t ns);
void jm__stats_test_run_late(uint64_t ns) { fork_boot_ns[1] += ns; }
#endif

#ifdef JM_TEST
extern unsigned jm__stats_test_stat_reads;
unsigned jm__stats_test_stat_reads;          /* reads of /proc/self/stat */
#endif

void jm__stats_ns_changed(void) { ns_changed = true; }

/* The process's identity in h. A forked child (`forked`) keeps what it has
 * of its parent's: the executable (a fork does not change it), and the
 * namespaces unless the parent may have changed them since it read them
 * (unshare or setns; one that calls the system call itself is not seen).
 * Each path looked up in a new process's /proc is some 20 us of its CPU
 * (its /proc entries are made as they are looked up): with the exe link
 * and the two namespaces read again, a child's publication cost about 240
 * us in a small program, as much again as its fork. */
JM_FORK_TEXT static void read_identity(struct jmstat_header *h, bool forked)
{
	/* /proc/self/stat up to field 22 (under 512 bytes: 20 numbers and a
	 * 16-byte comm), the executable's path (256 bytes kept): 512 bytes
	 * of stack, on which a forked child's first malloc runs, perhaps in
	 * a signal handler on a sigaltstack. */
	char buf[512];
	h->pid = own_pid();
	h->uid = (uint32_t)syscall(SYS_getuid);   /* syscall(): own_pid's page, not getuid's */
	h->start_time = forked && !ns_changed ? jm__stats_fork_start() : 0;
	if (h->start_time == 0 && jm__read_file("/proc/self/stat", buf, sizeof(buf)) > 0) {
#ifdef JM_TEST
		jm__stats_test_stat_reads++;
#endif
		char *p = strrchr(buf, ')');
		/* Field 22 is the 20th after the ')' that ends field 2. */
		for (int field = 2; p && field < 22; field++)
			p = strchr(p + 1, ' ');
		for (p = p ? p + 1 : NULL; p && *p >= '0' && *p <= '9'; p++)
			h->start_time = h->start_time * 10 + (uint64_t)(*p - '0');
	}
	/* The system call, not the vDSO: this is the process's only clock
	 * read at start (the vDSO's data page and clock_gettime's page of
	 * libc's text are two page faults, which a short program that
	 * never reads the clock need not take). A forked child read the
	 * boot clock in its fork handler: the vDSO's pages are mapped. */
	struct timespec ts;
	if (forked)
		clock_gettime(CLOCK_REALTIME, &ts);
	else
		syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
	h->update_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	/* A forked child's namespaces are its parent's as the parent read
	 * them (jm__segp), not the header's copy, which another process of
	 * our uid may have rewritten. Without a start time the name cannot
	 * hold one: then the pid namespace counts as unknown too. */
	if (forked) {
		h->pidns = jm__segp.pidns;
		h->mntns = jm__segp.mntns;
	}
	if (!forked || ns_changed || h->pidns == 0 || h->start_time == 0) {
		h->pidns = h->start_time ? ns_inode("/proc/self/ns/pid") : 0;
		h->mntns = ns_inode("/proc/self/ns/mnt");
	}
	if (forked) {
		jm__segp.pid = h->pid;
		jm__segp.pidns = h->pidns;
		jm__segp.mntns = h->mntns;
		return;
	}
	memset(h->exe, 0, sizeof(h->exe));
	memset(h->path, 0, sizeof(h->path));
	if (jm__os_exe_path(buf, sizeof(buf)) > 0)
		strncpy(h->path, buf, sizeof(h->path) - 1);
	/* The started name: the last component of the path given to execve
	 * (a link's name, a script's name), as ps and top show it. Through an
	 * fd (fexecve: "/dev/fd/N") it says nothing: then the kernel's comm. */
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	const char *base = execfn ? strrchr(execfn, '/') : NULL;
	base = base ? base + 1 : execfn;
	if (base && base[0] != '\0' && strncmp(execfn, "/dev/fd/", 8) != 0 &&
	    strncmp(execfn, "/proc/self/fd/", 14) != 0) {
		strncpy(h->exe, base, sizeof(h->exe) - 1);
	} else if (jm__read_file("/proc/self/comm", buf, sizeof(buf)) > 0) {
		buf[strcspn(buf, "\n")] = '\0';
		strncpy(h->exe, buf, sizeof(h->exe) - 1);
	}
}

void jm__stats_init(void)
{
	errno_tls_off = (char *)&errno - (char *)&jm__tls;
	struct jmstat_header h;
	memset(&h, 0, sizeof(h));
	h.magic = JMSTAT_MAGIC;
	h.version = JMSTAT_VERSION;
	h.header_size = sizeof(struct jmstat_header);
	h.state = JMSTAT_STATE_BUILDING;
	h.page_size = JM_PAGE;
	h.chunk_size = JM_CHUNK;
	h.nbins = JM_NBINS;
	h.narenas = jm__narenas;
	h.nthreads_max = JM_MAX_THREAD_ROWS;
	h.class_size = sizeof(struct jmstat_class);
	h.arena_size = sizeof(struct jmstat_arena);
	h.bin_size = sizeof(struct jmstat_bin);
	h.thread_size = sizeof(struct jmstat_thread);
	h.thread_stride = (uint32_t)SEG_THREAD_STRIDE;
	h.class_off = align64(sizeof(struct jmstat_header));
	h.arena_off = align64(h.class_off + JM_NBINS * sizeof(struct jmstat_class));
	h.bin_off = align64(h.arena_off + (size_t)h.narenas * sizeof(struct jmstat_arena));
	h.thread_off = align_page(h.bin_off + (size_t)h.narenas * JM_NBINS * sizeof(struct jmstat_bin));
	h.large_max = JM_LARGE_MAX;
	h.nsites_max = jm__opt.prof_sample ? JM_MAX_SITES : 0;
	h.site_size = sizeof(struct jmstat_site);
	h.site_stride = (uint32_t)SEG_SITE_STRIDE;
	h.site_off = align_page(h.thread_off + (size_t)h.nthreads_max * h.thread_stride);
	h.sample_bytes = jm__opt.prof_sample;
	/* The module table is what makes the sites' addresses mean something
	 * outside the process: there only with a site table. */
	h.nmodules_max = h.nsites_max ? JM_MAX_MODULES : 0;
	h.module_size = sizeof(struct jmstat_module);
	h.module_off = align_page(h.site_off + (size_t)h.nsites_max * h.site_stride);
	size_t size = (h.module_off + (size_t)h.nmodules_max * h.module_size + JM_PAGE_MASK) & ~JM_PAGE_MASK;
	/* Backed at once: the header, classes and arena rows, and the bin
	 * rows of the first arena (made next); the others' as arenas are
	 * made (jm__stats_arena_bins). */
	size_t core = align_page(h.bin_off + (size_t)JM_NBINS * sizeof(struct jmstat_bin));
	h.total_size = size;
	_Static_assert((uint64_t)JM_MAX_THREAD_ROWS * SEG_THREAD_STRIDE == JM_TB_PRIVATE,
	    "the private table is the thread table's size");

	void *mem;
	int fd = -1;
	/* A set-uid or set-gid program publishes nothing: its file would be
	 * owned by one uid and describe a process of another; nor does a
	 * process of mixed privileges (creds_mixed). Nor does it read who it
	 * is in /proc (its start time, namespaces, executable: what only a
	 * published header holds), only its pid: those four lookups, each
	 * entry made in the process's /proc and dropped again at its exit,
	 * were some 70 us of a short process's CPU with stats:0 too. */
	bool publish = jm__opt.stats && !getauxval(AT_SECURE) && !creds_mixed();
	if (publish) {
		read_identity(&h, false);
	} else {
		h.pid = own_pid();
		h.uid = (uint32_t)syscall(SYS_getuid);
	}
	if (publish) {
		/* The directory, read once here and kept at the start of
		 * seg_path: a forked child publishes where its parent did
		 * (no getenv and its pages in every child), also when the
		 * parent has emptied or rewritten its environment since
		 * (nginx keeps only the variables its `env` directive names
		 * before it forks its workers, which then published in
		 * /dev/shm, where the daemon watching the parent's directory
		 * never looked: tests/preload/workers_seen.test.sh). */
		seg_dir_len = (size_t)jm__format(seg_path, sizeof(seg_path), "%s/", stats_dir());
		fd = create_file(&h, size, core, false);
		if (fd < 0) {
			int e = errno;
			log_unpublished("create", e);
			retry_arm(e);
		}
	}
	/* The segment's place, the private table's and the snapshot's
	 * (seg_at), private memory until the file is mapped over its pieces:
	 * the snapshot's pages are not touched until a fork. */
	if ((mem = jm__os_map(2 * size + JM_TB_PRIVATE)) == NULL)
		jm__fatal("out of memory at initialisation");
	seg_size = size;
	jm__segp = (struct jm_seg_geom){
		.arena_off = h.arena_off, .bin_off = h.bin_off, .thread_off = h.thread_off,
		.site_off = h.site_off, .module_off = h.module_off,
		.thread_stride = h.thread_stride, .site_stride = h.site_stride,
		.module_size = h.module_size, .narenas = h.narenas,
		.nthreads_max = h.nthreads_max, .nsites_max = h.nsites_max,
		.nmodules_max = h.nmodules_max, .pid = h.pid, .pidns = h.pidns, .mntns = h.mntns,
	};
	jm__seg = (struct jmstat_header *)((char *)mem + (size - seg_split()));
	snap_free = true;
	if (fd >= 0) {
		if (seg_map_file(fd)) {
			seg_published = true;
			bins_backed = 1;
			seg_bus_guard();
		} else {
			log_unpublished("map", errno);
			unlink(seg_path);
			if (!seg_map_anon())
				jm__fatal("out of memory at initialisation");
		}
	}
	memcpy(jm__seg, &h, sizeof(h));
	struct jmstat_class *cls = (struct jmstat_class *)seg_at(h.class_off);
	for (unsigned i = 0; i < JM_NBINS; i++) {
		cls[i].size = jm__bin_info[i].size;
		cls[i].regs_per_run = jm__bin_info[i].regs;
		cls[i].run_size = jm__bin_info[i].run_pages << JM_LG_PAGE;
	}
	/* Every arena row readable from the start, also of arenas not yet
	 * used. Their bin rows are written when the arena is created: until
	 * then they are zero, which readers take for an unused arena's (its
	 * class size from the class table), and left untouched they take no
	 * memory (7 unused arenas' bin rows are 5 pages of the process's RSS,
	 * and its faults, for nothing). */
	for (unsigned a = 0; a < h.narenas; a++)
		jm__stats_arena_row(a)->index = a;
	__atomic_store_n(&jm__seg->state, JMSTAT_STATE_LIVE, __ATOMIC_RELEASE);
	/* The thread rows' first step (back_rows: 8 rows, in whole pages) on
	 * the descriptor at hand: the first thread's cache takes a row next,
	 * and backing it then reopened the file (open, fstat, fallocate,
	 * close: 3 system calls and a lookup of its name more in every
	 * process). Where it fails, the first row's step is tried as before.
	 * After the state is live, as that step was: a fallocate is an
	 * IN_MODIFY event, on which jmstatd reads the file again and finds
	 * the process live at once; before it, the daemon's next look at a
	 * file still being built came up to 20 ms later
	 * (tests/daemon/history_reuse.test.sh asks for the process at once). */
	if (fd >= 0) {
		if (seg_published && jm__opt.tcache && !jm__opt.junk) {
			uint64_t rows = h.nthreads_max < 8 ? h.nthreads_max : 8;
			uint64_t all = h.thread_off + (uint64_t)h.nthreads_max * h.thread_stride;
			uint64_t end = align_page(h.thread_off + rows * h.thread_stride);
			if (end > all)
				end = all;
			int saved = errno;
			if (fallocate(fd, 0, (off_t)h.thread_off, (off_t)(end - h.thread_off)) == 0) {
				rows = (end - h.thread_off) / h.thread_stride;
				thread_backing = (struct backing){ rows, rows };
			}
			errno = saved;
		}
		close(fd);
	}
}

/* ---------------------------------------------------------------- fork */

/*
 * The segment is mapped MADV_DONTFORK: a child does not inherit it, since
 * the parent goes on writing its thread rows there after fork() returns.
 * prefork takes rows_lock (before the arenas' locks, as always); then,
 * last, with every allocator lock held (so that no arena or bin row is
 * mid-update), prefork_snapshot copies what the child needs (the header,
 * classes, arena and bin rows, and the forking thread's row) into a
 * private snapshot, which the child inherits as it was at the fork; the
 * child maps fresh memory at the segment's address and restores it from
 * there. (Copied before the arenas' locks were taken, a row another thread
 * was updating stayed odd, mid-update, in the child for ever, and the
 * counters it changed then were lost: the child's allocated_large, active
 * and allocated_huge disagreed with its heap.) The child publishes its own
 * file on its first slow-path allocation, so that a child that only execs
 * another program leaves no file behind.
 *
 * What this costs in pages, since after a fork every private page the
 * parent and child share is copied by whichever writes it first (a page
 * fault, and a page copied, on each side): the parent's copy writes only
 * the snapshot's pages whose contents changed since the last fork (the
 * class table, the module rows and the sites of a parent that did not
 * sample stay as they were, and so stay shared), and the child does not
 * copy at all: it moves the snapshot's pages to the segment's address
 * (mremap), so a page of its segment is copied only if it writes it before
 * it publishes. Mapping fresh memory and copying the snapshot into it cost
 * the child every page of the snapshot (5 faults a fork with one arena)
 * and the parent every one it copied (5 more). The child maps a new
 * snapshot for its own forks when it publishes (an unpublished process
 * takes no snapshot).
 */

void jm__stats_prefork(void)
{
	jm__fork_lock(&rows_lock);
}

#ifdef JM_TEST
extern unsigned jm__stats_test_snapshot_pages;
unsigned jm__stats_test_snapshot_pages;      /* pages the last copy wrote */
#endif

/* Whether n bytes at src (the segment) differ from dst (the snapshot),
 * and then copies them: a word at a time by relaxed atomic loads. The
 * locks prefork holds stop every writer of the rows but these, which
 * write lock-free meanwhile: the purger's bg_running and bg_wakes
 * (jm__stats_bg_running, jm__stats_bg_wake), a sample's bin row
 * cursampled and the header's gen (jm__bin_sampled, jmstat_gen_bump).
 * Read by memcmp and memcpy (rep movsb for a page), such a word could be
 * torn (its bytes read at different times: a counter the child kept off
 * by 2^8k for good) and the reads were a data race with those atomic
 * stores, undefined (ThreadSanitizer reported it). A word read whole is
 * its value before or after the store: the fork as if a moment earlier
 * or later. Every part's offset and length is a multiple of 8. */
static bool snapshot_words(uint64_t *dst, const uint64_t *src, uint64_t n)
{
	uint64_t i = 0;
	for (; i < n / 8; i++)
		if (dst[i] != __atomic_load_n(&src[i], __ATOMIC_RELAXED))
			break;
	if (i == n / 8)
		return false;
	for (; i < n / 8; i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	return true;
}

/* Copies [off, off + len) of the segment to the snapshot a page at a time,
 * each page only if its contents changed: a page written is a page fault
 * and a copy in the parent (the last child shares it). */
static void snapshot_part(uint64_t off, uint64_t len)
{
	while (len > 0) {
		uint64_t n = JM_PAGE - (off & JM_PAGE_MASK);
		if (n > len)
			n = len;
		bool changed;
		if (((off | n) & 7) == 0) {
			changed = snapshot_words((uint64_t *)(void *)snap_at(off),
			                         (const uint64_t *)(const void *)seg_at(off), n);
		} else {
			changed = memcmp(snap_at(off), seg_at(off), n) != 0;
			if (changed)
				memcpy(snap_at(off), seg_at(off), n);
		}
#ifdef JM_TEST
		if (changed)
			jm__stats_test_snapshot_pages++;
#else
		(void)changed;
#endif
		off += n;
		len -= n;
	}
}

/* Points snapshot at a mapping of seg_size bytes: its place when that is
 * free or can be mapped again, else anywhere. errno is kept (the place
 * taken is an EEXIST in a fork that succeeds). */
static bool snap_take(void)
{
	char *home = snap_home();
	if (snap_free) {
		snapshot = home;
		snap_free = false;
		return true;
	}
	int saved = errno;
	void *m = mmap(home, seg_size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (m != MAP_FAILED && m != home) {
		/* A kernel before 4.17 takes the flag for a hint. */
		munmap(m, seg_size);
		m = MAP_FAILED;
	}
	if (m != MAP_FAILED)
		jm__os_thp(m, seg_size, false);
	snapshot = m != MAP_FAILED ? m : jm__os_map(seg_size);
	errno = saved;
	return snapshot != NULL;
}

/* The header, classes and arena rows, and the bin rows of the arenas made
 * so far (the others' are zero in the segment as in the snapshot: a parent
 * with one arena looks at 2 pages of its 7), the sites, the modules and the
 * forking thread's row. */
void jm__stats_prefork_snapshot(void)
{
	if (fork_clk_tck == 0) {
		fork_clk_tck = getauxval(AT_CLKTCK);
		/* Once, at the first fork of a process that publishes: its
		 * children publish in the same directory (populate_used). */
		struct statfs sf;
		seg_shmem = seg_published && statfs(seg_path, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
		/* A page the family of processes forked from this one
		 * shares (not remade by a child, which inherits it). */
		if (fork_verdict == NULL && (seg_published || jm__stats_pending)) {
			void *m = mmap(NULL, JM_PAGE, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
			fork_verdict = m == MAP_FAILED ? NULL : m;
		}
	}
	if (!seg_published) {
		fork_boot_ns[0] = boot_ns();   /* a child yet to publish */
		return;
	}
	/* Taken at the first fork: a process that never forks writes none
	 * of it. In its place after the private table (reserved with the
	 * segment), where it is one mapping with it; a forked child, whose
	 * snapshot moved from there to its segment's place, maps it there
	 * again if nothing else took the place, else anywhere. Where it
	 * cannot be, the child runs without stats (jm__stats_postfork_child). */
	if (snapshot == NULL && !snap_take()) {
		fork_boot_ns[0] = 0;
		return;
	}
#ifdef JM_TEST
	jm__stats_test_snapshot_pages = 0;
#endif
	/* Places and lengths from jm__segp, not from the header: another
	 * process of our uid may have rewritten it (a copy from or to any
	 * address of its choosing). */
	const struct jm_seg_geom *g = &jm__segp;
	snapshot_part(0, g->bin_off);
	uint64_t per = (uint64_t)JM_NBINS * sizeof(struct jmstat_bin);
	/* Only rows backed in the file: reading a hole of a file mapping
	 * allocates a page, and on a full file system is a SIGBUS. */
	for (unsigned a = 0; a < g->narenas && a < bins_backed; a++)
		if (jm__arenas[a] != NULL)
			snapshot_part(g->bin_off + a * per, per);
	/* Stable: prof.c's prefork holds prof_lock and modules.c's lock. */
	snapshot_part(g->site_off, (uint64_t)g->nsites_hw * g->site_stride);
	snapshot_part(g->module_off, (uint64_t)g->nmodules * g->module_size);
	struct jmstat_thread *row = jm__tcache_current_row();
	if (row && row_in_segment(row))
		snapshot_part((uint64_t)((char *)row - (char *)jm__seg), g->thread_stride);
	fork_boot_ns[0] = boot_ns();   /* last: the closest to the clone */
}

/* The clone has returned, so the child's start time is taken: when the
 * boot clock still reads the tick it read before the clone, that tick is
 * the child's start time, and the child, which reads the clock only once
 * it runs (on a loaded machine some milliseconds later, often a tick
 * later), finds it here instead of in /proc (jm__stats_fork_start). */
void jm__stats_postfork_parent(void)
{
	if (fork_verdict != NULL &&
	    jm__stats_start_tick(fork_boot_ns[0], boot_ns(), fork_clk_tck) != 0)
		__atomic_store_n(fork_verdict, fork_boot_ns[0], __ATOMIC_RELEASE);
	jm__fork_unlock(&rows_lock);
}

/*
 * "owed": a forked child's arena rows count the parent's threads: each
 * arena's `nthreads` is to be 1 for the forking thread's arena and 0 for
 * the others; and its header says the parent's purger runs (`bg_running`,
 * `bg_wakes`: 0 both in a child, which has none). Written in the child's
 * fork handler, those were the first write to the snapshot's page 0 (the
 * header, classes and arena rows), shared with the parent: a page fault, a
 * page allocated and copied, in every child of a process of more than one
 * thread or with a purger running, also in the child that only execs or
 * exits. A child that is to publish from the snapshot (jm__stats_pending)
 * owes them instead (jm__stats_owe), and writes them at its publication,
 * with its header's identity on the same page, before the file is written
 * from it (publish_child): a child that execs or exits first writes
 * nothing there. Anything that changes them before then (a thread
 * booting, moving or ending in the child, a purger started or stopped)
 * settles them first: written in memory, under rows_lock, the flag
 * cleared after (jm__stats_settle).
 */
unsigned jm__stats_owed;

/* The count arena i's row is to have while they are owed. */
JM_FORK_TEXT static uint64_t owed_nthreads(unsigned i)
{
	return jm__stats_owed == i + 1;
}

/* In the child's fork handler (one thread): true if the counts are owed
 * (the caller writes nothing), false if it is to write them. */
JM_FORK_TEXT bool jm__stats_owe(const struct jm_arena *mine)
{
	if (!jm__stats_pending)
		return false;
	jm__stats_owed = 1 + (mine ? mine->index : JM_MAX_ARENAS);
	return true;
}

/* The owed counts written in memory (a child that does not publish after
 * all, or whose rows change first); rows_lock held. */
JM_FORK_TEXT static void settle_owed_locked(void)
{
	if (jm__stats_owed == 0)
		return;
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *a = jm__arenas[i];
		if (a && a->stats->nthreads != owed_nthreads(i))
			a->stats->nthreads = owed_nthreads(i);
	}
	if (jm__seg->bg_running != 0)
		jm__seg->bg_running = 0;
	if (jm__seg->bg_wakes != 0)
		jm__seg->bg_wakes = 0;
	__atomic_store_n(&jm__stats_owed, 0, __ATOMIC_RELEASE);
}

JM_FORK_TEXT void jm__stats_settle_slow(void)
{
	pthread_mutex_lock(&rows_lock);
	settle_owed_locked();
	pthread_mutex_unlock(&rows_lock);
}

/* The parts of a segment that hold something: the core up to the bin
 * rows of the arenas made so far (the others' are zero, and their pages,
 * never written, not even present: reading them was a fault each), the
 * thread rows up to the high-water mark, the sites, the modules. */
#define SEG_PARTS 4
struct seg_part { uint64_t off, len; };

JM_FORK_TEXT static void used_parts(struct seg_part parts[SEG_PARTS])
{
	const struct jm_seg_geom *g = &jm__segp;
	unsigned top = 0;
	for (unsigned a = 0; a < g->narenas; a++)
		if (jm__arenas[a] != NULL)
			top = a + 1;
	if (top < bins_backed)
		top = bins_backed;   /* an arena being made meanwhile */
	parts[0] = (struct seg_part){ 0, g->bin_off + (uint64_t)top * JM_NBINS * sizeof(struct jmstat_bin) };
	parts[1] = (struct seg_part){ g->thread_off, (uint64_t)g->nthreads_hw * g->thread_stride };
	parts[2] = (struct seg_part){ g->site_off, (uint64_t)g->nsites_hw * g->site_stride };
	parts[3] = (struct seg_part){ g->module_off, (uint64_t)g->nmodules * g->module_size };
}

/* The rows no thread of this process holds (given back) marked out of
 * use, each written only if it has to be (a page written is a page fault). */
JM_FORK_TEXT static void clear_dead_rows(void)
{
	for (unsigned i = 0; i < jm__segp.nthreads_hw; i++) {
		struct jmstat_thread *row = thread_row(i);
		if (!(rows_taken[i / 64] & (1ULL << (i % 64))) && row->in_use != 0)
			row->in_use = 0;
	}
}

/* Moves [from, from + len) to `to` (MREMAP_FIXED), made in line: libc's
 * mremap is on a page of its text a child that allocates nothing touched
 * for nothing else (a page fault). */
JM_FORK_TEXT static bool child_mremap(void *from, size_t len, void *to)
{
	long rc = jm__sys_inline(SYS_mremap, (long)from, (long)len, (long)len,
	    MREMAP_MAYMOVE | MREMAP_FIXED, (long)to);
	return rc == (long)to;
}

JM_FORK_TEXT void jm__stats_postfork_child(struct jmstat_thread *keep)
{
	rows_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	fork_boot_ns[1] = boot_ns_child();
	if (seg_published && snapshot == NULL) {
		/* The parent had no snapshot (no memory for it): nothing of
		 * its segment to start from; this child publishes nothing. */
		if (!seg_map_anon())
			jm__fatal("cannot map the stats segment in a forked child");
		seg_published = false;
	} else if (seg_published) {
		/* The snapshot's pages, still shared with the parent, become the
		 * segment, both pieces in one move (snap_at: they are in the
		 * order of their places); the private table, inherited, stays
		 * after them. The parent's next snapshot goes on in its own. */
		if (!child_mremap(snapshot, seg_size, seg_base())) {
			/* Out of mappings: fresh memory and a copy of what
			 * the snapshot holds. */
			if (!seg_map_anon())
				jm__fatal("cannot map the stats segment in a forked child");
			struct seg_part parts[SEG_PARTS];
			used_parts(parts);
			for (int i = 0; i < SEG_PARTS; i++)
				memcpy(seg_at(parts[i].off), snap_at(parts[i].off), parts[i].len);
			munmap(snapshot, seg_size);
		}
		snapshot = NULL;
		seg_published = false;
		jm__stats_pending = true;
	}
	/* Only the forking thread lives on in the child. The rows of other
	 * threads are out of use, also those the snapshot kept from the
	 * earlier forks of threads since gone: given back here, and marked
	 * out of use (in_use 0) in the file the child publishes, as it
	 * writes them (write_thread_rows), not here: the rows' pages are
	 * the snapshot's, shared with the parent, and writing one was a page
	 * fault and a copy in every child of a process of more than one
	 * thread, for a page the publication's mmap then threw away. A
	 * child that does not publish marks them here. */
	for (unsigned i = 0; i < jm__segp.nthreads_hw; i++) {
		if (thread_row(i) != keep && (rows_taken[i / 64] & (1ULL << (i % 64))))
			rows_taken[i / 64] &= ~(1ULL << (i % 64));
	}
	if (!jm__stats_pending)
		clear_dead_rows();
}

#ifdef JM_TEST
void *jm__stats_test_snapshot(void);
void *jm__stats_test_snapshot(void) { return snapshot ? snap_at(0) : NULL; }
bool jm__stats_test_snapshot_home(void);
bool jm__stats_test_snapshot_home(void) { return snapshot != NULL && snapshot == snap_home(); }
const char *jm__stats_test_path(void);
const char *jm__stats_test_path(void) { return seg_path; }
#endif

#ifdef JM_TEST
extern long jm__stats_test_populate_faults;
long jm__stats_test_populate_faults = -1;    /* the last populate_used's */
#endif

/* The pages of the child's new mapping that it goes on writing (the
 * core and the thread rows in use: parts[0] and [1]), mapped writable in a
 * call each, already in the file: the child's first write to each was a
 * page fault (3 or 4 in a child that allocates a little and exits).
 * MADV_POPULATE_WRITE is Linux 5.14's; before it, the faults. On tmpfs
 * (seg_shmem: /dev/shm, /run/user) a read fault maps the pages of the
 * file around it (fault-around, 64 KiB) and writable (tmpfs tracks no
 * dirty pages), a write fault only its own: MADV_POPULATE_READ there is
 * 1 or 2 faults for the core and the first thread rows (pages 0-2 and 8
 * of the file), where MADV_POPULATE_WRITE was 4, each counted in the
 * child's minor faults; the child's writes after it fault no more. */
JM_FORK_TEXT static void populate_used(const struct seg_part parts[SEG_PARTS])
{
#ifdef JM_TEST
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	long before = ru.ru_minflt;
#endif
	for (int i = 0; i < 2; i++) {
		uint64_t end = (parts[i].off + parts[i].len + JM_PAGE_MASK) & ~(uint64_t)JM_PAGE_MASK;
		if (parts[i].len > 0)
			sys_madvise(seg_at(parts[i].off), end - parts[i].off,
			    seg_shmem ? MADV_POPULATE_READ : MADV_POPULATE_WRITE);
	}
#ifdef JM_TEST
	getrusage(RUSAGE_THREAD, &ru);
	jm__stats_test_populate_faults = ru.ru_minflt - before;
#endif
}

/* The thread rows [0, nthreads_hw) to the file, each as the private copy
 * holds it but for the rows no thread of this process holds, written with
 * in_use 0 (a word of the stack in their place): the private copy's pages
 * are not written (clear_dead_rows). In batches of up to 8 pieces. Out of
 * line: its 128 bytes of pieces are not on the stack under the rest of
 * the publication (reading /proc, reaping), which runs on what a signal
 * handler's alternate stack leaves (tests/preload/sigaltstack.test.sh). */
JM_FORK_TEXT static JM_NOINLINE bool write_thread_rows(int fd)
{
	const struct jm_seg_geom *g = &jm__segp;
	uint32_t zero = 0;
	struct iovec v[8];
	int n = 0;
	size_t len = 0;
	off_t at = (off_t)g->thread_off;
	for (unsigned i = 0; i <= g->nthreads_hw; i++) {
		char *row = i < g->nthreads_hw ? (char *)thread_row(i) : NULL;
		bool dead = row != NULL && !(rows_taken[i / 64] & (1ULL << (i % 64))) &&
		    ((struct jmstat_thread *)row)->in_use != 0;
		if (row == NULL || dead || n > 5) {
			/* The batch so far, before a row written in two
			 * pieces, or at the end. */
			if (n > 0 && sys_pwritev(fd, v, n, at) != (ssize_t)len)
				return false;   /* a short write: no room */
			at += (off_t)len;
			n = 0;
			len = 0;
		}
		if (row == NULL)
			break;
		if (dead) {
			_Static_assert(offsetof(struct jmstat_thread, in_use) == 0, "in_use first");
			v[n++] = (struct iovec){ &zero, sizeof(zero) };
			v[n++] = (struct iovec){ row + sizeof(zero), g->thread_stride - sizeof(zero) };
		} else if (n > 0 && (char *)v[n - 1].iov_base + v[n - 1].iov_len == row) {
			v[n - 1].iov_len += g->thread_stride;
		} else {
			v[n++] = (struct iovec){ row, g->thread_stride };
		}
		len += g->thread_stride;
	}
	return true;
}

/* The layout and counts in the header a forked child publishes, from
 * jm__segp: the copy it inherited is its parent's header as it was at the
 * fork, which another process of our uid may have rewritten. */
JM_FORK_TEXT static void put_geometry(struct jmstat_header *h)
{
	const struct jm_seg_geom *g = &jm__segp;
	h->class_off = align64(sizeof(struct jmstat_header));
	h->narenas = g->narenas;
	h->arena_off = g->arena_off;
	h->bin_off = g->bin_off;
	h->thread_off = g->thread_off;
	h->thread_stride = g->thread_stride;
	h->nthreads_max = g->nthreads_max;
	h->nthreads_hw = g->nthreads_hw;
	h->site_off = g->site_off;
	h->site_stride = g->site_stride;
	h->nsites_max = g->nsites_max;
	h->nsites_hw = g->nsites_hw;
	h->module_off = g->module_off;
	h->module_size = g->module_size;
	h->nmodules_max = g->nmodules_max;
	h->nmodules = g->nmodules;
}

/* seg_map_file failed in a forked child that wrote its file (parts): what
 * it had mapped, the first piece (or nothing there: a MAP_FIXED mmap that
 * fails may have unmapped its range), becomes private memory again,
 * holding what the file holds, read back from it. Left a shared mapping
 * of the file without MADV_DONTFORK (set once both pieces are mapped),
 * it was inherited by the children this process, now unpublished, forks:
 * their counts went into its rows (tests/preload/seg_halfmap.test.sh). */
JM_FORK_TEXT static void seg_unshare(int fd, const struct seg_part parts[SEG_PARTS])
{
	if (!seg_map_anon())
		jm__fatal("cannot map the stats segment in a forked child");
	for (int i = 0; i < SEG_PARTS; i++) {
		size_t done = 0;
		while (done < parts[i].len) {
			ssize_t r = sys_pread(fd, seg_at(parts[i].off) + done, parts[i].len - done,
			    (off_t)(parts[i].off + done));
			if (r <= 0)
				break;
			done += (size_t)r;
		}
	}
}

/* Writes what the private copy holds to the new file fd, then maps the
 * file over it (a forked child's publication, and a retry's: the caller
 * is the only thread that writes the segment, under rows_lock); closes
 * fd. False, with errno, where it could not: then said in a line unless
 * quiet, and the copy is private as before, the file gone. */
JM_FORK_TEXT static bool publish_file(int fd, bool quiet)
{
	struct seg_part parts[SEG_PARTS];
	used_parts(parts);
	bool ok = true;
	for (int i = 0; i < SEG_PARTS && ok; i++) {
		if (i == 1) {
			ok = write_thread_rows(fd);
			continue;
		}
		size_t done = 0;
		while (done < parts[i].len) {
			ssize_t w = sys_pwrite(fd, seg_at(parts[i].off) + done, parts[i].len - done,
			    (off_t)(parts[i].off + done));
			if (w <= 0)
				break;
			done += (size_t)w;
		}
		ok = done == parts[i].len;
	}
	thread_backing = (struct backing){ jm__segp.nthreads_hw, 0 };
	site_backing = (struct backing){ jm__segp.nsites_hw, 0 };
	module_backing = (struct backing){ jm__segp.nmodules, 0 };
	bins_backed = (unsigned)((parts[0].len - jm__segp.bin_off) / ((uint64_t)JM_NBINS * sizeof(struct jmstat_bin)));
	if (ok && seg_map_file(fd)) {
		populate_used(parts);
		seg_published = true;
	} else {
		/* No room in the file system: the pages the file did not
		 * have are taken by these writes now. Or the file's pieces
		 * not both mapped: what was, private again. */
		int e = errno;
		if (!quiet)
			log_unpublished("create", e);
		if (ok)
			seg_unshare(fd, parts);
		sys_unlink(seg_path);
		clear_dead_rows();
		errno = e;
	}
	int saved = errno;
	sys_close(fd);
	errno = saved;
	return seg_published;
}

/* A forked child's first slow path: publish its segment under its pid.
 * errno is left as it was (an allocation that succeeds keeps it): the
 * reaping's kill of a dead pid, MADV_POPULATE_WRITE before Linux 5.14 and
 * the failures that mean "running without stats" all set it. */
JM_FORK_TEXT static void publish_child(void)
{
	pthread_mutex_lock(&rows_lock);
	if (!jm__stats_pending) {
		pthread_mutex_unlock(&rows_lock);
		return;
	}
	jm__stats_pending = false;
	/* In memory: the header's page is written next anyway (its
	 * identity), and the file is written from it. */
	settle_owed_locked();
	if (creds_mixed()) {
		/* Privileges changed since the fork, not all dropped. */
		clear_dead_rows();
		pthread_mutex_unlock(&rows_lock);
		return;
	}
	struct jmstat_header *h = jm__seg;
	read_identity(h, true);
	put_geometry(h);
	/* No memory backed beforehand: what it writes (below) is all it
	 * holds, the bin rows of the arenas made so far included; an arena
	 * made later backs its own. */
	int fd = create_file(h, seg_size, 0, true);
	if (fd < 0) {
		int e = errno;
		log_unpublished("create", e);
		retry_arm(e);
		clear_dead_rows();
		pthread_mutex_unlock(&rows_lock);
		return;
	}
	if (!publish_file(fd, false))
		retry_arm(errno);
	pthread_mutex_unlock(&rows_lock);
}

JM_FORK_TEXT void jm__stats_publish_child(void)
{
	int *e = errno_at();
	int saved = *e;
	publish_child();
	*e = saved;
}

/* The number of threads of this process (/proc/self/stat's 20th field),
 * or 0. 512 bytes of stack, as read_identity's: the GC may run on a
 * signal handler's alternate stack. */
static unsigned own_threads(void)
{
	char buf[512];
	if (jm__read_file("/proc/self/stat", buf, sizeof(buf)) <= 0)
		return 0;
	char *p = strrchr(buf, ')');
	for (int field = 2; p && field < 20; field++)
		p = strchr(p + 1, ' ');
	unsigned n = 0;
	for (p = p ? p + 1 : NULL; p && *p >= '0' && *p <= '9'; p++)
		n = n * 10 + (unsigned)(*p - '0');
	return n;
}

/*
 * A retry (above, retry_arm) when it is due: the file made as at the
 * start, the private copy written to it and the file mapped over it, as
 * a forked child publishes (publish_file). Only in a process of one
 * thread, this one: every other thread of a process writes its own row
 * (its cache's counts, large_cached) with plain stores, without a lock,
 * and what one wrote between the copy and the map would be lost for
 * good (large_cached, a sum, off for the rest of the thread's life);
 * the purger (background_thread, started lazily) is a thread too, and a
 * process that has one is not retried. No other thread can start
 * meanwhile (only this one could start one), and every signal but the
 * ones of a fault or a trap is blocked for the while: a handler's malloc writes
 * this thread's row. A try that finds more threads counts as one.
 */
void jm__stats_retry(void)
{
	int saved = errno;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (retry_at == 0)
		retry_at = now + RETRY_FIRST_NS;
	if (now < retry_at || seg_published || jm__stats_pending) {
		if (seg_published || jm__stats_pending)
			jm__stats_retry_due = false;
		errno = saved;
		return;
	}
	retry_tries++;
	uint64_t gap = RETRY_FIRST_NS << (retry_tries < 6 ? retry_tries : 6);
	retry_at = now + (gap < RETRY_GAP_MAX ? gap : RETRY_GAP_MAX);
	if (retry_tries >= RETRY_MAX)
		jm__stats_retry_due = false;
	if (own_threads() != 1) {
		errno = saved;
		return;
	}
	sigset_t all, old;
	jm__signals_async(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	/* Held already only by this thread, interrupted by a signal whose
	 * handler allocates: another try later. */
	if (pthread_mutex_trylock(&rows_lock) != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		errno = saved;
		return;
	}
	struct jmstat_header *h = jm__seg;
	/* Who it is now: a forked child's header is its parent's. */
	read_identity(h, false);
	jm__segp.pid = h->pid;
	jm__segp.pidns = h->pidns;
	jm__segp.mntns = h->mntns;
	put_geometry(h);
	int fd = create_file(h, seg_size, 0, false);
	if (fd >= 0 && publish_file(fd, true)) {
		jm__stats_retry_due = false;
		seg_bus_guard();
		jm__log("%s: published the stats segment %s at try %u: the stats directory has room "
		    "again", program_invocation_short_name, seg_path, retry_tries);
	}
	pthread_mutex_unlock(&rows_lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
}

/* The background purger's fields of the header (it is their only writer,
 * but for the child handler of fork). */
void jm__stats_bg_wake(void)
{
	__atomic_store_n(&jm__seg->bg_wakes, jm__seg->bg_wakes + 1, __ATOMIC_RELAXED);
}

JM_FORK_TEXT void jm__stats_bg_running(bool running)
{
	/* Owed in a forked child that publishes from the snapshot (above,
	 * "owed": 0 both), else written only if they change: in a forked
	 * child, whose header's page is still the parent's. */
	if (!running && __atomic_load_n(&jm__stats_owed, __ATOMIC_ACQUIRE) != 0)
		return;
	jm__stats_settle();
	if (jm__seg->bg_running != (running ? 1u : 0u))
		__atomic_store_n(&jm__seg->bg_running, running ? 1u : 0u, __ATOMIC_RELAXED);
	if (!running && jm__seg->bg_wakes != 0)
		__atomic_store_n(&jm__seg->bg_wakes, 0, __ATOMIC_RELAXED);
}

/* A child forked (in a signal handler) while its parent's thread was
 * initialising the allocator: the segment mapped so far is the parent's,
 * and not mapped in the child. */
JM_FORK_TEXT void jm__stats_postfork_uninit(void)
{
	if (seg_published)
		seg_published = false;
}

/* At normal exit the file goes; the memory stays mapped for whatever runs
 * after us. */
JM_FORK_TEXT void jm__stats_exit(void)
{
	if (!seg_published || jm__segp.pid != own_pid())
		return;
	__atomic_store_n(&jm__seg->state, JMSTAT_STATE_EXITING, __ATOMIC_RELEASE);
	sys_unlink(seg_path);
	seg_published = false;
}
