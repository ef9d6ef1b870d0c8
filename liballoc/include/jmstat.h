/*
 * jmstat.h: the layout of the stats segment, the one contract between the
 * allocator (the writer), jmstatd and jmctl (the readers).
 *
 * Every process running with libjmalloc publishes its counters in one file
 * in $JMALLOC_STATS_DIR (default /dev/shm), created exclusively with
 * O_NOFOLLOW, mode 0600, sized once at creation and never resized, removed
 * at normal exit. Its name (jmstat_name_parse() below) starts with the
 * writer's pid, as the writer sees it:
 *
 *   jmalloc.<pid>.stats                    a process of the host's (the
 *                                          initial) pid namespace
 *   jmalloc.<pid>.<pidns>.<start>.stats    a process of any other pid
 *                                          namespace (a container): pidns
 *                                          the inode of its namespace,
 *                                          start its start time; so two
 *                                          containers sharing a directory
 *                                          never collide, and a name is
 *                                          never that of a dead process
 *   jmalloc.<pid>.<pidns>.<start>.<tag>.stats
 *                                          the same with 16 random hex
 *                                          digits: used when the name
 *                                          above is taken by a file of
 *                                          another user (squatting), which
 *                                          cannot predict the tag
 *
 * all numbers decimal without leading zeros (the tag lower-case hex). The
 * header repeats what the name says (pid, pidns, start_time), and a reader
 * refuses a file whose name and header disagree.
 *
 * The file, in order, every part at an offset the header gives:
 *
 *   struct jmstat_header                         at 0
 *   struct jmstat_class   [nbins]                at class_off
 *   struct jmstat_arena   [narenas]              at arena_off
 *   struct jmstat_bin     [narenas][nbins]       at bin_off
 *   struct jmstat_thread  [nthreads_max]         at thread_off, each
 *                                                thread_stride bytes, its
 *                                                nbins jmstat_tcache_bin
 *                                                rows following it
 *   struct jmstat_site    [nsites_max]           at site_off, each
 *                                                site_stride bytes, its
 *                                                nbins + 1 uint64_t
 *                                                following it
 *   struct jmstat_module  [nmodules_max]         at module_off
 *
 * The file has its full size from the start, but only the header, class,
 * arena and bin sections are backed by memory at once; thread, site and
 * module rows are backed (fallocate) as they are first used, in steps
 * that grow with the rows used, so that a process with few threads and
 * sites costs the host little. Unused rows read as zero; a reader reads
 * no row beyond nthreads_hw, nsites_hw or nmodules.
 *
 * Rules (after Varnish VSM, the JVM's hsperfdata and PCP's MMV):
 * - fixed-width little-endian types, no pointers a reader must follow, only
 *   offsets from the start of the file; every size is explicit;
 * - magic and version come first and never move; a reader refuses a version
 *   it does not know (JMSTAT_VERSION is bumped on every layout change);
 * - the writer never waits for a reader; a reader never writes the file;
 * - arena and bin rows are guarded by a per-row sequence number (seqlock):
 *   odd while the writer updates the row, even when it is stable; a reader
 *   copies the row, re-reads seq, and retries if it changed or was odd;
 * - header.gen (layout 4 on) moves after every publication of an arena,
 *   bin or site row and of the module table: a reader that reads the
 *   header, then the rows, need not read the rows again while gen stays.
 *   It is the writer's word: a reader of a file it does not trust reads
 *   the rows anyway now and then;
 * - the per-thread cache rows are single 64- or 32-bit words, each written
 *   by its own thread with plain aligned stores: every word read is whole,
 *   and a sum over threads is at most one operation behind per thread;
 * - a reader bounds every count and offset against the file's real size
 *   before it uses it (common/segread.c does this);
 * - a reader accepts only what the allocator can write: the limits below
 *   (JMSTAT_NBINS and its class table, JMSTAT_MAX_*), strides of exactly
 *   JMSTAT_STRIDE() of their row, and a total_size that ends within a page
 *   of the furthest section the header names. A new section is named by
 *   the header (offset, rows, row size), bounded by a constant here, and
 *   added to the reader's list of sections; a reader then needs nothing
 *   else to refuse a file that claims more than a process can write.
 *
 * Counters are declared once, in the X-macro lists below, as
 *   X(name, type, unit, help)
 * where type is counter (monotonic) or gauge, and unit is bytes, pages,
 * regions, runs, events or threads. The struct fields, the daemon's JSON
 * keys, the Prometheus names and the columns of `jmctl top` are generated
 * from these lists.
 */
#ifndef JMSTAT_H
#define JMSTAT_H

#include <stdint.h>

#define JMSTAT_MAGIC      0x3130544154534d4aULL /* the bytes "JMSTAT01" */
#define JMSTAT_VERSION    5u
#define JMSTAT_FILE_PREFIX "jmalloc."
#define JMSTAT_FILE_SUFFIX ".stats"
#define JMSTAT_EXE_LEN    64
#define JMSTAT_PATH_LEN   256
#define JMSTAT_NAME_MAX   96     /* bytes of the longest name, NUL included */

/* The inode of the initial (the host's) pid namespace: fixed by the kernel
 * (PROC_PID_INIT_INO), the same on every Linux machine. */
#define JMSTAT_PIDNS_INIT 0xEFFFFFFCu

/* What the allocator writes, and so all a reader accepts: one user's
 * forged file must cost the reader no more than a real one. */
#define JMSTAT_NBINS           41u         /* small size classes (jmstat_class_of) */
/* Older layouts a reader still reads: layout 4 is this one without the
 * 8 B class (40 classes: its class i is this layout's class i + 1, and
 * a thread row's cache rows are 40: jmstat_layout_class_of); layout 3 is
 * layout 4 without the generation (header.gen reads 0: a reader learns
 * whether rows changed from their seqs); layout 2 is layout 3 with the
 * first 35 classes (up to 14 KiB), every section placed and sized by its
 * header as here. A host's
 * jmstatd outlives the processes it watches, and a container brings its
 * own libjmalloc: the reader reads the layouts before its own that it can,
 * and refuses only those it cannot. */
#define JMSTAT_OLDEST_VERSION  2u
#define JMSTAT_NBINS_V2        35u
#define JMSTAT_NBINS_V4        40u         /* layouts 3 and 4 */
#define JMSTAT_PAGE_SIZE       4096u       /* header.page_size */
#define JMSTAT_CHUNK_SIZE      (2u << 20)  /* header.chunk_size */
#define JMSTAT_MAX_ARENAS      1024u       /* header.narenas at most */
#define JMSTAT_MAX_THREAD_ROWS 256u        /* header.nthreads_max at most */
#define JMSTAT_MAX_SITES       1024u       /* header.nsites_max at most */
#define JMSTAT_MAX_MODULES     256u        /* header.nmodules_max at most */
#define JMSTAT_MAX_HEADER      4096u       /* header.header_size at most */
#define JMSTAT_MAX_SIZE        (8u << 20)  /* header.total_size at most (the
                                              allocator's largest is under 4 MiB) */
#define JMSTAT_ROW_ALIGN       64u         /* thread and site strides: cache lines */
#define JMSTAT_RUN_MAX_PAGES   8u          /* a small run's pages at most */
#define JMSTAT_RUN_MAX_REGS    512u        /* a small run's regions at most */
/* The stride of a row of `size` bytes followed by n words of `word` bytes. */
#define JMSTAT_STRIDE(size, n, word) \
	((((uint64_t)(size) + (uint64_t)(n) * (word)) + JMSTAT_ROW_ALIGN - 1) & \
	 ~(uint64_t)(JMSTAT_ROW_ALIGN - 1))

/* header.state */
#define JMSTAT_STATE_BUILDING 0u  /* being initialised: not yet to be read */
#define JMSTAT_STATE_LIVE     1u  /* published and updated */
#define JMSTAT_STATE_EXITING  2u  /* the process is exiting */

/* Per-arena counters. Small allocated bytes are not stored: a reader
 * derives them from the bins (sum of curregs x size, less the regions held
 * in thread caches). `allocated_large` counts the large regions sitting in
 * thread caches too: a reader subtracts the threads' large_cached words.
 * A sampled small allocation is a large region of one page (counted in
 * allocated_large at that page), and also in its class's bin row as
 * `cursampled` (not in curregs). `active` counts pages of small and large
 * runs and the bytes of huge regions. */
#define JMSTAT_ARENA_COUNTERS(X)                                                  \
  X(mapped,          gauge,   bytes,   "Bytes of chunks mapped from the kernel for this arena") \
  X(active,          gauge,   bytes,   "Bytes in pages of runs in use (small runs and large regions)") \
  X(allocated_large, gauge,   bytes,   "Bytes in large regions handed out, those in thread caches included") \
  X(allocated_huge,  gauge,   bytes,   "Bytes in huge regions in use, mapped directly") \
  X(dirty,           gauge,   bytes,   "Bytes in dirty pages of free runs, not yet purged") \
  X(purged,          counter, bytes,   "Bytes returned to the kernel by purging dirty pages") \
  X(npurge,          counter, events,  "Purge operations (madvise calls)")         \
  X(nmalloc_large,   counter, events,  "Large allocations")                        \
  X(ndalloc_large,   counter, events,  "Large deallocations")                      \
  X(nmalloc_huge,    counter, events,  "Huge allocations")                         \
  X(ndalloc_huge,    counter, events,  "Huge deallocations")                       \
  X(nchunks,         gauge,   chunks,  "Chunks owned by this arena")               \
  X(nthreads,        gauge,   threads, "Threads assigned to this arena")           \
  X(lock_contended,  counter, events,  "Times a thread found this arena's lock held") \
  X(retained,        gauge,   bytes,   "Bytes kept mapped for reuse, purged (nothing resident): empty chunks and freed huge regions") \
  X(nmap,            counter, events,  "Chunks and huge regions mapped from the kernel") \
  X(nunmap,          counter, events,  "Chunks and huge regions unmapped") \
  X(nreuse,          counter, events,  "Chunks and huge regions taken from the kept ones instead of mapped") \
  X(npurge_cap,      counter, events,  "Purges forced by the dirty cap rather than by age (decay)")

/* Per-bin counters, one row per small size class per arena. */
#define JMSTAT_BIN_COUNTERS(X)                                                    \
  X(nmalloc,         counter, regions, "Regions handed out by this bin (to threads or their caches)") \
  X(ndalloc,         counter, regions, "Regions returned to this bin")             \
  X(nrequests,       counter, events,  "Allocation requests served from this bin or a cache in front of it (threads that exited)") \
  X(curregs,         gauge,   regions, "Regions handed out and not returned (including those in thread caches)") \
  X(curruns,         gauge,   runs,    "Runs currently held by this bin")          \
  X(nruns,           counter, runs,    "Runs created for this bin")                \
  X(nfills,          counter, events,  "Thread cache fills from this bin")         \
  X(nflushes,        counter, events,  "Thread cache flushes to this bin")         \
  X(lock_contended,  counter, events,  "Times a thread found this bin's lock held") \
  X(cursampled,      gauge,   regions, "Sampled objects of this size class live, each on a page of its own (not in curregs)")

struct jmstat_header {
	uint64_t magic;          /* JMSTAT_MAGIC */
	uint32_t version;        /* JMSTAT_VERSION */
	uint32_t header_size;    /* sizeof(struct jmstat_header) */
	uint64_t total_size;     /* size of the file in bytes, fixed at creation */
	uint32_t state;          /* JMSTAT_STATE_* */
	uint32_t pid;            /* the writer's pid in its own pid namespace
	                            (the host's pid when pidns is the host's) */
	uint64_t start_time;     /* the writer's start time, in clock ticks since
	                            boot (field 22 of /proc/PID/stat) */
	uint32_t uid;            /* the writer's real uid */
	uint32_t page_size;      /* bytes */
	uint64_t chunk_size;     /* bytes */
	char     exe[JMSTAT_EXE_LEN]; /* the name the process was started as:
	                            the last component of the path given to
	                            execve (what ps -o comm shows, untruncated;
	                            a script's own name), NUL-terminated */
	uint32_t nbins;          /* small size classes = bins per arena */
	uint32_t narenas;        /* arena rows */
	uint32_t nthreads_max;   /* thread-cache rows */
	uint32_t class_size;     /* sizeof(struct jmstat_class) */
	uint32_t arena_size;     /* sizeof(struct jmstat_arena) */
	uint32_t bin_size;       /* sizeof(struct jmstat_bin) */
	uint32_t thread_size;    /* sizeof(struct jmstat_thread) */
	uint32_t thread_stride;  /* bytes from one thread row to the next */
	uint64_t class_off;      /* offsets from the start of the file */
	uint64_t arena_off;
	uint64_t bin_off;
	uint64_t thread_off;
	uint64_t large_max;      /* largest large size; above it is huge */
	uint64_t update_ns;      /* CLOCK_REALTIME at creation, ns */
	uint32_t nthreads_hw;    /* thread rows ever handed out: the rows from
	                            this index on are all zero, and a reader
	                            need not read them (it grows while the
	                            process runs; at most nthreads_max) */
	uint32_t nsites_max;     /* rows of the site table */
	uint64_t site_off;       /* offset of the site table */
	uint32_t site_size;      /* sizeof(struct jmstat_site) */
	uint32_t site_stride;    /* bytes from one site row to the next */
	uint32_t nsites_hw;      /* site rows ever used (rows are taken in
	                            order and never given back) */
	uint32_t reserved1;
	uint64_t sample_bytes;   /* mean bytes between two sampled
	                            allocations (prof_sample); 0: off */
	uint64_t sites_dropped;  /* sampled allocations not recorded because
	                            the site table was full */
	uint64_t bg_wakes;       /* times the background purger woke and
	                            applied the decay (docs/purging.md) */
	uint32_t bg_running;     /* 1 while the process has a background
	                            purger thread */
	uint32_t reserved2;
	uint64_t module_off;     /* offset of the module table */
	uint32_t nmodules_max;   /* rows of the module table (0: no table) */
	uint32_t module_size;    /* sizeof(struct jmstat_module), the stride */
	uint32_t module_seq;     /* seqlock over nmodules and the module rows:
	                            odd while the writer rebuilds the table */
	uint32_t nmodules;       /* module rows in use, from row 0 */
	char     path[JMSTAT_PATH_LEN]; /* the executable file, resolved
	                            (/proc/self/exe: a link's target, a
	                            script's interpreter), NUL-terminated,
	                            cut at JMSTAT_PATH_LEN - 1 bytes */
	uint64_t pidns;          /* inode of the writer's pid namespace (stat
	                            of /proc/self/ns/pid); 0: unknown (no
	                            /proc), read as the reader's own */
	uint64_t mntns;          /* inode of its mount namespace
	                            (/proc/self/ns/mnt); 0: unknown */
	uint64_t reserved[2];    /* zero; room for later sections */
	uint64_t gen;            /* generation (layout 4 on): the writer adds 1
	                            after each publication of an arena, bin or
	                            site row and of the module table, once its
	                            seq is even again (jmstat_gen_bump). While
	                            it reads the same, none of those changed: a
	                            reader that read them at this generation
	                            need not read them again (header first,
	                            then the rows). Thread rows are not counted
	                            (plain stores of every malloc and free):
	                            a reader reads them each time. Alone in its
	                            cache line: the class table, read-only,
	                            starts at the next one */
};

/* gen shares its cache line with nothing the writer's threads touch. */
_Static_assert(__builtin_offsetof(struct jmstat_header, gen) % 64 == 0 &&
               sizeof(struct jmstat_header) == __builtin_offsetof(struct jmstat_header, gen) + 8,
               "header.gen opens the header's last cache line and ends the header");

/* The writer's bump of header.gen after a row's seq went even: ordered
 * after the row's stores (release), so that a reader that sees the new
 * generation in the header, then reads the row, reads the new row. */
static inline void jmstat_gen_bump(struct jmstat_header *h)
{
	__atomic_fetch_add(&h->gen, 1, __ATOMIC_RELEASE);
}

/* One small size class. */
struct jmstat_class {
	uint32_t size;           /* region size in bytes */
	uint32_t regs_per_run;   /* regions in one run */
	uint32_t run_size;       /* run size in bytes (a page multiple) */
	uint32_t reserved;
};

/* Class i of the allocator (0 <= i < JMSTAT_NBINS): 8 bytes, then
 * 16..128 bytes by 16, then four per doubling up to 32 KiB (layouts 2-4
 * had no 8 B class: jmstat_layout_class_of); its run is the fewest pages that
 * its regions fill exactly (every size is 2^k times 1, 3, 5 or 7, so one
 * of 1..JMSTAT_RUN_MAX_PAGES does). The allocator builds its table with
 * it and a reader checks a segment's table against it. Returns 0, or -1
 * for an i out of range. */
static inline int jmstat_class_of(uint32_t i, struct jmstat_class *c)
{
	uint32_t size, base = 128;

	if (i >= JMSTAT_NBINS)
		return -1;
	if (i == 0) {
		size = 8;
	} else if (i < 9) {
		size = 16 * i;
	} else {
		uint32_t k = i - 9;

		for (; k >= 4; k -= 4)
			base *= 2;
		size = base + (k + 1) * (base / 4);
	}
	c->size = size;
	c->reserved = 0;
	for (uint32_t p = 1; p <= JMSTAT_RUN_MAX_PAGES; p++) {
		uint32_t run = p * JMSTAT_PAGE_SIZE;

		if (run % size == 0 && run / size <= JMSTAT_RUN_MAX_REGS) {
			c->run_size = run;
			c->regs_per_run = run / size;
			return 0;
		}
	}
	return -1;
}

/* The classes of a segment of layout `version` (JMSTAT_OLDEST_VERSION ..
 * JMSTAT_VERSION): layouts before 5 had no 8 B class, so that their
 * class i is class i + 1 of jmstat_class_of; their nbins also (35 in
 * layout 2, 40 in 3 and 4). Returns 0, or -1 for an i out of range. */
static inline uint32_t jmstat_layout_nbins(uint32_t version)
{
	return version == 2 ? JMSTAT_NBINS_V2 : version < 5 ? JMSTAT_NBINS_V4 : JMSTAT_NBINS;
}
static inline int jmstat_layout_class_of(uint32_t version, uint32_t i, struct jmstat_class *c)
{
	if (i >= jmstat_layout_nbins(version))
		return -1;
	return jmstat_class_of(version < 5 ? i + 1 : i, c);
}

#define JMSTAT_FIELD_(name, type, unit, help) uint64_t name;

struct jmstat_arena {
	uint32_t seq;            /* seqlock: odd while being written */
	uint32_t index;          /* arena number */
	JMSTAT_ARENA_COUNTERS(JMSTAT_FIELD_)
};

struct jmstat_bin {
	uint32_t seq;            /* seqlock: odd while being written */
	uint32_t size;           /* region size, a copy of the class table's */
	JMSTAT_BIN_COUNTERS(JMSTAT_FIELD_)
};

/* One thread's cache for one bin. The owning thread writes these words with
 * plain aligned stores; readers sum them over the live thread rows. */
struct jmstat_tcache_bin {
	uint64_t opaque;         /* 0 (the writer's list head was here until
	                            its heads went to private memory): ignore */
	uint32_t ncached_less_max; /* regions held in this cache (counted in
	                            the bin's curregs, but not in use) less
	                            ncached_max, modulo 2^32: add ncached_max
	                            for the count (so stored, as the
	                            writer's private copy, which its free
	                            tests for a full cache by the sign after
	                            adding one: a reader may see one more
	                            than the capacity for an instant) */
	uint32_t ncached_max;    /* capacity */
	uint64_t nrequests;      /* allocations served by this cache */
};

struct jmstat_thread {
	uint32_t in_use;         /* 1 while a live thread owns this row */
	uint32_t tid;            /* the thread's kernel tid */
	uint32_t arena;          /* the arena the thread uses */
	uint32_t reserved;
	uint64_t opaque;         /* the writer's, 0: ignore */
	uint64_t large_cached;   /* bytes of large regions in this thread's
	                            cache (counted in allocated_large, not in
	                            use); written by the thread, plain stores */
	/* followed by struct jmstat_tcache_bin bins[nbins] */
};

/* One call site of the sampled heap profile (docs/sites.md): a distinct stack
 * of return addresses of sampled allocations, with unbiased estimates:
 * each sampled allocation of size s counts 1/p objects and s/p bytes,
 * where p = 1 - exp(-s / sample_bytes) is its chance of being sampled.
 * Guarded by seq like the arena and bin rows. Followed by nbins + 1
 * uint64_t: the estimated live bytes by small size class, then the live
 * bytes of large and huge regions. */
#define JMSTAT_SITE_FRAMES 24
struct jmstat_site {
	uint32_t seq;            /* seqlock: odd while being written */
	uint32_t nframes;        /* frames used; 0: the row is unused */
	uint64_t hash;           /* of the frames, the writer's lookup key */
	uint64_t live_bytes;     /* estimated bytes allocated here, live */
	uint64_t live_objects;   /* estimated objects allocated here, live */
	uint64_t alloc_bytes;    /* estimated bytes allocated here since start */
	uint64_t alloc_objects;  /* estimated objects allocated since start */
	uint64_t samples_live;   /* sampled objects live (not estimated) */
	uint64_t frames[JMSTAT_SITE_FRAMES]; /* return addresses, innermost
	                            first, the allocator's own left out */
};

/* One executable segment of a module loaded in the process (the program,
 * a shared library, the vdso): what a reader needs to turn a return
 * address of the site table into a file offset in a named ELF file
 * (offset + addr - start), and to find that file again by its GNU
 * build-id, without opening it. Written from the process's own program
 * headers (dl_iterate_phdr), rebuilt when a library is loaded or unloaded;
 * the whole table, with header.nmodules, is guarded by header.module_seq.
 * The program comes first. */
#define JMSTAT_MODULE_PATH   256
#define JMSTAT_BUILD_ID_MAX  40
#define JMSTAT_MODULE_MAIN   1u      /* flags: the program itself */
struct jmstat_module {
	uint64_t start;          /* runtime address of the segment's first page */
	uint64_t limit;          /* runtime address just past its last page */
	uint64_t offset;         /* file offset mapped at start */
	uint32_t build_id_len;   /* bytes of build_id used; 0: the module has none */
	uint32_t flags;          /* JMSTAT_MODULE_* */
	uint8_t  build_id[JMSTAT_BUILD_ID_MAX]; /* the NT_GNU_BUILD_ID note's bytes */
	char     path[JMSTAT_MODULE_PATH];  /* the file, NUL-terminated (truncated
	                            if longer); the vdso's soname */
};

#undef JMSTAT_FIELD_

/* A segment file's name, parsed. */
struct jmstat_name {
	uint32_t pid;            /* the writer's pid in its namespace */
	uint64_t pidns;          /* 0: a plain name (the host's namespace) */
	uint64_t start;          /* with pidns: the writer's start time */
	uint64_t tag;            /* with pidns: the random tag, or 0: none */
};

static inline const char *jmstat_name_num_(const char *p, uint64_t max, unsigned base,
                                           uint64_t *v)
{
	const char *digits = "0123456789abcdef", *first = p;
	unsigned d;
	*v = 0;
	if (*p == '0')                         /* no leading zero */
		return 0;
	for (; *p; p++) {
		for (d = 0; d < base && digits[d] != *p; d++)
			;
		if (d == base)
			break;
		if (*v > (max - d) / base)
			return 0;
		*v = *v * base + d;
	}
	return p == first ? 0 : p;              /* not empty */
}

/* 0 and *out set if name is exactly one of the three forms above; -1
 * otherwise. Pure: no I/O, no allocation (the allocator calls it too). */
static inline int jmstat_name_parse(const char *name, struct jmstat_name *out)
{
	const char *pre = JMSTAT_FILE_PREFIX, *suf = JMSTAT_FILE_SUFFIX, *p = name;
	uint64_t v[4] = { 0, 0, 0, 0 };
	unsigned n = 0;
	for (; *pre; pre++, p++)
		if (*p != *pre)
			return -1;
	for (;;) {
		p = jmstat_name_num_(p, n == 0 ? 0x7fffffffu : ~(uint64_t)0, n == 3 ? 16 : 10, &v[n]);
		if (!p)
			return -1;
		n++;
		if (*p != '.')
			return -1;
		const char *s = suf, *q = p;
		for (; *s && *q == *s; s++, q++)
			;
		if (*s == '\0' && *q == '\0')
			break;
		if (n == 4)
			return -1;
		p++;
	}
	if (n == 2 || (n == 4 && v[3] == 0))
		return -1;
	out->pid = (uint32_t)v[0];
	out->pidns = v[1];
	out->start = v[2];
	out->tag = v[3];
	return 0;
}

#endif
