/*
 * segread.h: the stats-segment reader shared by jmstatd and jmctl.
 *
 * A segment (liballoc/include/jmstat.h) is written by a process we do not
 * trust, in a directory anyone may write to. The reader never maps it (a
 * file truncated under a mapping faults with SIGBUS): it reads the file
 * with pread into a private buffer, bounds every count and offset against
 * the buffer's length before it uses it, and copies each seqlocked row so
 * that the copy is one the writer really published. What it returns is a
 * validated copy, owned by the caller, or a negative JM_SEG_* code that
 * jm_seg_strerror() explains in one line.
 *
 * jm_seg_parse() is the pure part (no I/O): the fuzz target drives it.
 */
#ifndef JM_SEGREAD_H
#define JM_SEGREAD_H

#include "jmstat.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Limits a reader enforces: the allocator's own (jmstat.h). */
#define JM_SEG_MAX_NBINS        JMSTAT_NBINS        /* exactly */
#define JM_SEG_MAX_NARENAS      JMSTAT_MAX_ARENAS
#define JM_SEG_MAX_NTHREADS     JMSTAT_MAX_THREAD_ROWS
#define JM_SEG_MAX_NSITES       JMSTAT_MAX_SITES
#define JM_SEG_MAX_SIZE         JMSTAT_MAX_SIZE     /* bytes of one file */
#define JM_SEG_MAX_NMODULES     JMSTAT_MAX_MODULES
#define JM_SEG_RETRIES          100           /* re-reads of a row that keeps changing */

struct jm_seg {                     /* a validated, consistent copy */
	struct jmstat_header hdr;       /* copied; exe and path NUL-terminated; state is
	                                   LIVE or EXITING */
	struct jmstat_class *classes;   /* [hdr.nbins] */
	struct jmstat_arena *arenas;    /* [hdr.narenas], each row seqlock-consistent */
	struct jmstat_bin *bins;        /* [hdr.narenas * hdr.nbins], arena-major:
	                                   bins[a * nbins + b]; size always set
	                                   (= classes[b].size) */
	uint64_t *tcache_ncached;       /* [hdr.nbins]: sum over live thread rows */
	uint64_t *tcache_nrequests;     /* [hdr.nbins]: sum over live thread rows */
	uint64_t tcache_large_bytes;    /* large_cached summed over live thread rows */
	uint64_t *tcache_arena_small;   /* [hdr.narenas]: bytes of small regions in the
	                                   caches of the live threads using arena a
	                                   (ncached x class size) */
	uint64_t *tcache_arena_large;   /* [hdr.narenas]: their large_cached, summed */
	uint32_t nthreads_live;         /* thread rows in use */
	struct jmstat_site *sites;      /* [nsites]: the site rows below
	                                   hdr.nsites_hw, each seqlock-consistent,
	                                   nframes <= JMSTAT_SITE_FRAMES (a row
	                                   with nframes 0 is unused: skip it) */
	uint64_t *site_bins;            /* [nsites * (hdr.nbins + 1)]: row i's
	                                   estimated live bytes per small class
	                                   at site_bins[i * (nbins + 1) + b], the
	                                   last one large and huge */
	uint32_t nsites;                /* = hdr.nsites_hw (0: no profile) */
	struct jmstat_module *modules;  /* [nmodules]: the module table, as one
	                                   consistent copy (module_seq), read
	                                   with the sites; each start < limit,
	                                   build_id_len <= JMSTAT_BUILD_ID_MAX,
	                                   path NUL-terminated */
	uint32_t nmodules;
	uint64_t rows_gen;              /* the generation of the arena and bin rows,
	                                   never 0. Layout 4 on: the header's gen
	                                   (jmstat.h) read before the rows, with
	                                   JM_SEG_GEN_TAG set: what the writer
	                                   says, which a reader trusts only so far
	                                   (a hostile writer may keep it while its
	                                   rows change). Older layouts: rows_seqs:
	                                   a writer only ever moves a row's seq
	                                   up (by 2 an update), so while it stays
	                                   the same no row has changed */
	uint64_t rows_seqs;             /* one plus the sum of the arena and bin
	                                   rows' seqs as this read found them,
	                                   and of a mix of each bin row's
	                                   cursampled, which the writer moves
	                                   outside the seq (segread_int.h), the
	                                   top bit clear (layouts 2 and 3:
	                                   rows_gen); 0: not read (layout 4,
	                                   unchanged by gen) */
	bool rows_unchanged;            /* jm_seg_read_fd_since() found every row
	                                   as it was at the generation it was given:
	                                   arenas and bins are NULL (the caller has
	                                   them from that read) */
};

enum jm_seg_err {
	JM_SEG_OK       = 0,
	JM_SEG_EIO      = -1,   /* open/read/stat failed, errno kept */
	JM_SEG_ENOTREG  = -2,   /* not a regular file / symlink / fifo */
	JM_SEG_ETRUNC   = -3,   /* smaller than its header says or than a header */
	JM_SEG_EMAGIC   = -4,   /* not a segment */
	JM_SEG_EVERSION = -5,   /* newer or unknown layout version */
	JM_SEG_EBOUNDS  = -6,   /* counts, sizes or offsets out of bounds */
	JM_SEG_EBUSY    = -7,   /* still being built, or rows kept changing */
	JM_SEG_EOWNER   = -8,   /* file owner uid != header uid or != pid's uid */
	JM_SEG_EDEAD    = -9,   /* pid gone */
	JM_SEG_EREUSED  = -10,  /* pid alive but start time differs */
	JM_SEG_ENOMEM   = -11,
	JM_SEG_ENAME    = -12,  /* file name not a segment's (jmstat.h), or its
	                           pid, pidns or start differs from the header's */
	JM_SEG_EPLACE   = -13,  /* its writer's mount namespace does not reach the
	                           container's directory it is in (jmstatd) */
	JM_SEG_EOLDVERSION = -14, /* an older layout version (1 .. JMSTAT_VERSION - 1) */
};

/* One line, for logs and the CLI; never NULL. */
const char *jm_seg_strerror(int err);

/* 0 and *pid set if name is a segment's name (jmstat_name_parse(): the
 * pid a decimal number in 1..INT32_MAX without leading zeros, then
 * optionally the pid namespace, start time and tag); JM_SEG_ENAME
 * otherwise. *pid is the pid in the writer's own namespace. */
int jm_seg_pid_from_name(const char *name, pid_t *pid);

/* Does the header say what its file's name says? The same pid; a plain
 * name's writer in the host's pid namespace (or an unknown one); a
 * namespaced name's pidns and start time the header's. */
bool jm_seg_name_matches(const struct jmstat_name *nm, const struct jmstat_header *h);

/* Reads the segment at path: its last component must be a segment's name
 * that matches its header (jm_seg_name_matches(), else JM_SEG_ENAME).
 * Opens O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC (a symlink, fifo,
 * directory or device gives JM_SEG_ENOTREG), then as jm_seg_read_fd().
 * Fills *out (overwritten, not freed first) and returns 0, or returns a
 * negative JM_SEG_* with *out zeroed. */
int jm_seg_read_path(const char *path, struct jm_seg *out);

/* As jm_seg_read_path() on an open fd, without the name check: fstat must
 * show a regular file no larger than JM_SEG_MAX_SIZE whose owner is the
 * header's uid. Reads with pread only (of the thread and site rows, only
 * those below the high-water marks); each arena, bin and site row is read again
 * until its seq is even and unchanged across the copy (at most
 * JM_SEG_RETRIES times, and a bounded number of re-reads for the whole file
 * (segread_file.c), then JM_SEG_EBUSY). A file shrunk under the reader
 * gives JM_SEG_ETRUNC. */
int jm_seg_read_fd(int fd, struct jm_seg *out);

/* jm_seg_read_fd() with flags: JM_SEG_NO_SITES reads no site row (sites
 * and site_bins stay NULL, nsites 0), for a reader that does not show the
 * heap profile: a process's site table may be far larger than the rest.
 * The module table is read with the sites (it is what gives their
 * addresses a meaning), and skipped with them. */
#define JM_SEG_NO_SITES 1u
/* JM_SEG_ANY_OWNER: the file's owner is not compared with the header's
 * uid; the caller does, after mapping that uid (a writer in a user
 * namespace writes its uid as it sees it there) to the file's view. */
#define JM_SEG_ANY_OWNER 2u
int jm_seg_read_fd_flags(int fd, unsigned flags, struct jm_seg *out);

/* jm_seg_read_fd_flags() for a reader that reads the same file again and
 * again, with the rows_gen or the rows_seqs of an earlier read of it (0:
 * none). A rows_gen of layout 4 (JM_SEG_GEN_TAG set): when the header's gen
 * is still that, the arena and bin rows are not read at all: the file's
 * first page (header and classes) and the thread rows below nthreads_hw
 * are all that is read. A rows_seqs (any layout): when every arena and bin
 * row still has the seq it had then (even), and every bin row its
 * cursampled, the rows are read but not copied: each was, at the moment
 * its seq was read, what that read copied.
 * Either way rows_unchanged is set and arenas and bins are NULL; the
 * header, classes, thread-cache sums and sites are read as always. Both
 * are the writer's word (a generation or seqs that stay while the rows
 * change): a reader of a hostile writer's file checks a generation
 * against the seqs now and then, and passes 0 now and then. */
#define JM_SEG_GEN_TAG (1ull << 63)
int jm_seg_read_fd_since(int fd, unsigned flags, uint64_t since, struct jm_seg *out);

/* jm_seg_read_fd_since() with the file's fstat already known to the caller
 * (NULL: taken here), for a reader that holds the file open and is told of
 * any change to it (jmstatd: its directory's watch, whose events close
 * the file kept open): its size, type and owner are taken from *known.
 * A file that has since shrunk reads as JM_SEG_ETRUNC; one that has grown
 * is read to its size as known. */
struct stat;
int jm_seg_read_fd_stat(int fd, unsigned flags, uint64_t since, const struct stat *known,
                        struct jm_seg *out);

/* The pure parser: validates everything in buf[0..len) and copies it into
 * *out. A row whose seq is odd gives JM_SEG_EBUSY (the buffer caught the
 * writer in the middle of an update). A header with zero magic (the file
 * was sized but not yet written) or in state BUILDING gives JM_SEG_EBUSY. */
int jm_seg_parse(const void *buf, size_t len, struct jm_seg *out);

/* Is the writer of seg alive and the same process? Checks that hdr.pid
 * exists, that the start time in /proc/PID/stat (field 22) equals
 * hdr.start_time, and that the process's real, effective and saved uids
 * all equal hdr.uid and its gids are one (any ids for hdr.uid 0:
 * segread_proc.c). Returns
 * 0, JM_SEG_EDEAD, JM_SEG_EREUSED or JM_SEG_EOWNER; JM_SEG_EIO (errno
 * kept) if /proc could not tell, in which case nothing is known and the
 * segment must not be removed. */
int jm_seg_check_process(const struct jm_seg *seg);
/* The same for the writer known to run as pid in the caller's pid
 * namespace (its host pid: jmstatd maps a container's writer to it). */
int jm_seg_check_process_as(const struct jm_seg *seg, pid_t pid);
/* The same without a segment: is pid (ours) alive, started at *start
 * (NULL: any time) and wholly of uid want_uid (any, for 0)? */
int jm_seg_check_pid(pid_t pid, const uint64_t *start, uint32_t want_uid);
/* The state (field 3) and start time (field 22, clock ticks since boot as
 * the reader sees it) in the text of a /proc/PID/stat; false if it does
 * not parse. */
bool jm_seg_parse_stat(const char *stat, char *state, uint64_t *start_time);

/* Bytes this process has read from segment files so far (every pread of
 * every reader function, whatever its result): what a reader that
 * budgets its reads per writer measures around each file. */
uint64_t jm_seg_bytes_read(void);

/* Frees the arrays and zeroes *seg; safe on a zeroed struct, and twice. */
void jm_seg_free(struct jm_seg *seg);

#endif
