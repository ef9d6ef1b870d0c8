/*
 * types.h: the allocator's constants and structures.
 *
 * How the pieces nest:
 *
 *   arena  ── owns ──> chunks (2 MiB, 2 MiB-aligned, mapped from the kernel)
 *     │                  │  the first pages of a chunk hold its header:
 *     │                  │  one run descriptor per page after the header,
 *     │                  │  a page map and a fast word (one word each per
 *     │                  │  page)
 *     │                  └─> runs: contiguous pages, either free, or small
 *     │                      (regions of one size class, a bitmap of free
 *     │                      regions), or large (one region of whole pages)
 *     └── bins[NBINS] ─> per small size class: the current run and a list of
 *                        the other non-full runs
 *   huge allocations (above the largest large size) are mapped directly,
 *   2 MiB-aligned, and recorded in the global radix tree (rtree.c), which
 *   also records every chunk: it is how free() tells our pointers from
 *   foreign ones.
 *   thread cache: per thread, per small class, a LIFO list of free regions
 *   threaded through the regions themselves; its counters live in the
 *   thread's row of the stats segment, so that readers see them live, its
 *   list heads in private memory at a fixed distance from that row.
 *
 * Locks: each bin has a lock (its runs' bitmaps, its stats row); each arena
 * has a lock (its chunks, free and dirty runs, large runs, its stats row).
 * Order: bin lock, then arena lock; the huge lock and the rtree lock are
 * leaves.
 */
#ifndef JM_TYPES_H
#define JM_TYPES_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <pthread.h>
#include "jmstat.h"

#ifndef JM_DEBUG
#define JM_DEBUG 0
#endif

#define JM_LG_PAGE        12
#define JM_PAGE           ((size_t)1 << JM_LG_PAGE)
#define JM_PAGE_MASK      (JM_PAGE - 1)
#define JM_LG_CHUNK       21
#define JM_CHUNK          ((size_t)1 << JM_LG_CHUNK)
#define JM_CHUNK_MASK     (JM_CHUNK - 1)
#define JM_CHUNK_PAGES    (JM_CHUNK >> JM_LG_PAGE)

/* Small classes: 16..128 by 16, then four per doubling up to 32 KiB.
 * Those from JM_PAGE_CLASS_MIN (16, 20, 24, 28 and 32 KiB) are the page
 * classes: one region a run of 4 to 8 pages, cached per thread up to
 * JM_TCACHE_PAGE_CLASS_BYTES each, outside the thread's budget, and filled
 * one region at a time (tcache.c). */
#define JM_NBINS          JMSTAT_NBINS  /* the segment's, which readers check */
#define JM_SMALL_MAX      32768
#define JM_PAGE_CLASS_MIN 16384
#define JM_TCACHE_PAGE_CLASS_BYTES (1u << 20)
#define JM_QUANTUM        16
#define JM_LG_QUANTUM     4
#define JM_RUN_MAXREGS    JMSTAT_RUN_MAX_REGS
#define JM_BITMAP_WORDS   (JM_RUN_MAXREGS / 64)
#define JM_RUN_MAXPAGES   JMSTAT_RUN_MAX_PAGES

/* Large regions of up to 16 pages are cached per thread too: those of 1
 * to 8 pages are the sampled allocations of small sizes (a region of their
 * own), up to JM_TCACHE_SAMPLED_BYTES per size below 4 pages,
 * JM_TCACHE_LARGE_BYTES from 4; those of 9 to 16 pages the requests of
 * 32 KiB + 1 to 64 KiB (buffers), up to JM_TCACHE_BUF_BYTES per size. */
#define JM_TCACHE_LARGE_MIN_PAGES 1
#define JM_TCACHE_LARGE_MAX_PAGES 16
#define JM_TCACHE_BUF_BYTES (128u << 10) /* per size, 9 to 16 pages */
/* Regions of 17 to 64 pages (requests of 64 KiB + 1 to 256 KiB) are cached
 * by their thread in lists by page-count class, four a doubling (17-19,
 * 20-23, 24-27, 28-31, 32-39, 40-47, 48-55 and 56-64 pages: tcache.c,
 * large_index), at their exact sizes, up to JM_TCACHE_CLASS_BYTES a list
 * and JM_TCACHE_CLASS_TOTAL in all; a request takes its class's last
 * region if it is large enough, else the next class's. */
#define JM_TCACHE_CLASS_MAX_PAGES 64
#define JM_TCACHE_NCLASS  8
#define JM_TCACHE_CLASS_BYTES (512u << 10)
#define JM_TCACHE_CLASS_TOTAL (512u << 10)
#define JM_TCACHE_NLARGE  (JM_TCACHE_LARGE_MAX_PAGES - JM_TCACHE_LARGE_MIN_PAGES + 1 + JM_TCACHE_NCLASS)
#define JM_TCACHE_LARGE_BYTES (64u << 10) /* per size, 4 pages and up */
/* The capacity a small class's list goes down to when its thread frees
 * more of the class without allocating than the list could ever hold
 * (a teardown: tcache.c, jm__tcache_free_full). */
#define JM_TCACHE_DRAIN_REGS 256u
#define JM_TCACHE_SAMPLED_BYTES (16u << 10) /* per size, below 4 pages */

/* The segment's limits (jmstat.h), which readers enforce. */
#define JM_MAX_ARENAS     JMSTAT_MAX_ARENAS
#define JM_MAX_THREAD_ROWS JMSTAT_MAX_THREAD_ROWS
/* A thread row's stride: the row, its cache rows, rounded to a line. */
#define JM_THREAD_STRIDE  JMSTAT_STRIDE(sizeof(struct jmstat_thread), JM_NBINS, \
                                        sizeof(struct jmstat_tcache_bin))
/* The distance from a thread's cache rows to their private words (struct
 * jm_tbin_private): the thread table's size, so that the private words of
 * the segment's rows are a table of their own, mapped right after the
 * segment's (stats.c). A constant, so that the fast paths reach a list's
 * head as they reached the row's word: at the same register, another
 * displacement. */
#define JM_TB_PRIVATE     ((size_t)JM_MAX_THREAD_ROWS * JM_THREAD_STRIDE)
#define JM_MAX_SITES      JMSTAT_MAX_SITES
#define JM_MAX_MODULES    JMSTAT_MAX_MODULES
_Static_assert(JM_PAGE == JMSTAT_PAGE_SIZE && JM_CHUNK == JMSTAT_CHUNK_SIZE,
    "the page and chunk sizes a reader of the segment accepts");

/* Page map entries (64 bits): what the page at that index of a chunk
 * belongs to, with all that free() needs to check and file a small region
 * without touching anything else:
 *   bits 32..63  small: ceil(2^32 / size) (at most 2^28; class 0: 1,
 *                JM_PM_DIV_C0), so that an
 *                offset in the run is a multiple of size iff
 *                (uint32_t)(off * that) < that (exact for offsets below
 *                2^15; runs have no tail, so every such multiple starts a
 *                region); 0 in every other entry, which free's fast path
 *                relies on (no offset passes the test with 0, so it needs
 *                no test of the kind of its own); the whole high half, so
 *                that free reads it as a 32-bit word of its own, the
 *                operand of its multiplication and comparison, with no
 *                shift
 *   bits 21..31  small: the size class times sizeof(struct
 *                jmstat_tcache_bin): the byte offset of its thread-cache
 *                row (free() adds it to the cache's address); large: the
 *                index of the chunk's arena, so that a free the thread
 *                caches reads no chunk header (its first line shares its
 *                cache set with every page-aligned region)
 *   bits 12..20  the run's first page in the chunk (its byte offset: bits
 *                0..20, the low 12 zero but for bit 0)
 *   bit   0      a large run
 * 0 is a header page, a free page, or a page never used. */
#define JM_PM_NONE        0u
#define JM_PM_SMALL       2u   /* a divisibility constant */
#define JM_PM_LARGE       1u   /* bit 0 */
#define JM_PM_KIND(e)     ((e) >> 32 ? JM_PM_SMALL : (unsigned)(e) & 1u)
#define JM_PM_DIV(e)      ((uint32_t)((e) >> 32))
/* Class 0 (8 B) has 1 for its divisor instead (its ceil(2^32 / 8) would
 * pass free's fast test): with its page's fast word (bin.c, jm__pf_make)
 * no pointer passes, so that its frees take free_in_chunk (malloc.c),
 * and the slow paths test its region starts by alignment (jm__pm_inside). */
#define JM_PM_DIV_C0      1u
/* A small run's pages whose frees must all take the slow path, where the
 * run's bitmap is read: a forked child freed regions of its parent's
 * there without writing their free mark (tcache.c, run_divert). Its fast
 * word's low half is then 2 x the run's address less 2, so that no
 * pointer passes free's fast test (2 x (u - run) + 2 >= 2), class 0's
 * included (free_miss takes only a divisor of 1); the slow paths take
 * the class's divisor from jm__bin_info (jm__pm_inside). No class has a
 * divisor this small (32 KiB's is 2^17). */
#define JM_PM_DIV_SLOW    2u
#define JM_PM_TBIN(e)     ((uint32_t)(e) >> 21)
#define JM_PM_ARENA(e)    ((uint32_t)(e) >> 21)
_Static_assert(JM_MAX_ARENAS <= (1u << 11),
    "an arena index must fit the 11 bits of a page-map entry");
_Static_assert(JM_NBINS * sizeof(struct jmstat_tcache_bin) < (1u << 11),
    "a thread-cache row offset must fit the 11 bits of a page-map entry");
#define JM_PM_BIN(e)      (JM_PM_TBIN(e) / (unsigned)sizeof(struct jmstat_tcache_bin))
#define JM_PM_RUNOFF(e)   ((uint32_t)(e) & 0x1ff000u)
#define JM_PM_START(e)    (JM_PM_RUNOFF(e) >> JM_LG_PAGE)
/* The offset of a pointer in its small run, from the page-map entry. */
#define JM_PM_OFFSET(e, u) ((((uint32_t)(u) & 0x1fffffu) - (uint32_t)(e)) & 0x1fffffu)

/* Run descriptor states. */
#define JM_RUN_HEADER     0
#define JM_RUN_FREE       1
#define JM_RUN_SMALL      2
#define JM_RUN_LARGE      3
#define JM_RUN_PURGING    4   /* free, off the lists, being purged (arena.c) */

typedef pthread_mutex_t jm_lock_t;

/* Decay (decay.c): how many dirty pages may stay, as a function of how
 * long ago they became dirty. Time is cut into JM_DECAY_EPOCHS epochs of
 * decay_ms / JM_DECAY_EPOCHS; backlog[i] holds the pages made dirty during
 * the epoch i epochs before the current one (0: the current one), and the
 * limit is the sum of backlog[i] x (1 - smoothstep((i + 1) / EPOCHS)). */
#define JM_DECAY_EPOCHS   200
struct jm_decay {
	uint64_t epoch_ns;        /* start of the current epoch */
	uint64_t pending;         /* pages made dirty since the last update */
	uint64_t limit;           /* dirty pages allowed, as of the last update */
	uint32_t cur;             /* backlog index of the current epoch */
	uint32_t backlog[JM_DECAY_EPOCHS]; /* a ring, indexed from cur */
};

/* One descriptor per page of a chunk; meaningful at the first and the last
 * page of each run: both carry the run's state, the last page's `first`
 * names the first page, so that a run finds its free neighbours. A run
 * that ends at the chunk's last page has no last-page descriptor (its
 * first page's is the only one): no run to its right reads it. */
struct jm_run {
	struct jm_run *next;      /* bin's non-full list or arena's free list */
	struct jm_run *prev;
	struct jm_run *dnext;     /* arena's dirty list (free runs only) */
	struct jm_run *dprev;
	uint64_t dirty_ns;        /* 1 + malloc_trim's calls when a free run
	                             became dirty (arena.c, jm__trim_gen) */
	uint32_t ndirty;          /* free: its pages that may be resident (the
	                             chunk's dirty map's bits in the run) */
	uint32_t npages;          /* pages in the run */
	uint32_t first;           /* at the last page: the run's first page */
	uint16_t nfree;           /* small: free regions */
	uint8_t  state;           /* JM_RUN_* */
	uint8_t  binind;          /* small: the size class */
	uint8_t  dirty;           /* free: pages may be resident */
	uint8_t  on_list;         /* small: on its bin's non-full list */
	union {
		uint16_t prof_site;   /* large: sampled, site row + 1; else 0 */
		/* small: the fork depth (jm__fork_depth) of the process that
		 * last took regions of it (bin.c, bin_run): in a forked
		 * child, a run of a smaller one holds only regions of its
		 * parent's, whose free goes to the run, not into the thread
		 * cache's list through the region (tcache.c, "forked").
		 * 0 again when the run goes back to its arena. */
		uint16_t fork_depth;
	};
	uint32_t prof_size;       /* large, sampled: the size asked for when
	                             sampled, which its weight in the profile
	                             is of (0: not sampled) */
	union {
		uint64_t bitmap[JM_BITMAP_WORDS]; /* small: 1 = region free */
		/* large, sampled: the size asked for now, which realloc
		 * changes in place (prof.c counts it at its site as its
		 * bytes, with its class; its free takes off what this says) */
		uint64_t prof_now;
	};
};

struct jm_arena;

/* Pages a chunk's header takes (struct jm_chunk, asserted below). */
#define JM_CHUNK_HDR_PAGES 18

/* The header: the chunk's own fields, the run records (the header's own
 * pages have none: the record of page p is runs[p - JM_CHUNK_HDR_PAGES],
 * jm__chunk_run, internal.h), then the two words of each page, the
 * page-map entries and the fast words, placed so that the entry of the
 * first page after the header starts a page of the header, which the
 * fast words of the first 18 pages after the header end. A new chunk
 * with a run at its start, and the free run after it, touches two pages
 * of its header: the first (the fields, the dirty map, the records of the
 * first 30 pages after the header) and page 16 (the two words of the
 * first 18); three before (the page map's, the records', and the last
 * one's, with the fast words). Page 16 is the last start that leaves the
 * page map and the fast words inside the 18 pages; the padding before
 * the page map is 2 KiB. */
#define JM_CHUNK_FIELDS_BYTES 144
#define JM_CHUNK_WORDS_PAD (16 * JM_PAGE - JM_CHUNK_HDR_PAGES * sizeof(uint64_t) - \
    JM_CHUNK_FIELDS_BYTES - (JM_CHUNK_PAGES - JM_CHUNK_HDR_PAGES) * sizeof(struct jm_run))
struct jm_chunk {
	uint64_t magic;           /* JM_CHUNK_MAGIC */
	struct jm_arena *arena;   /* the owner */
	uint32_t hdr_pages;       /* pages taken by this header */
	uint32_t nfree_pages;     /* pages in free runs */
	uint32_t held_pass;       /* the arena's held_pass when its dirty map
	                             was last checked against the kernel's
	                             (arena.c, dirty_recount) */
	uint64_t dirtymap[JM_CHUNK_PAGES / 64]; /* see below */
	uint64_t runs_pad[6];     /* the records 16 bytes into a line (below) */
	struct jm_run runs[JM_CHUNK_PAGES - JM_CHUNK_HDR_PAGES];
	char words_pad[JM_CHUNK_WORDS_PAD];
	uint64_t pagemap[JM_CHUNK_PAGES]; /* see "Page map entries" */
	uint64_t pagefast[JM_CHUNK_PAGES - JM_CHUNK_HDR_PAGES]; /* see below */
};
_Static_assert(offsetof(struct jm_chunk, runs) == JM_CHUNK_FIELDS_BYTES, "the fields' bytes");
/* What a new chunk touches of its header (test_chunk_header_pages). */
_Static_assert(offsetof(struct jm_chunk, pagemap[JM_CHUNK_HDR_PAGES]) % JM_PAGE == 0 &&
    offsetof(struct jm_chunk, pagefast[JM_CHUNK_HDR_PAGES - 1]) / JM_PAGE ==
    offsetof(struct jm_chunk, pagemap[JM_CHUNK_HDR_PAGES]) / JM_PAGE &&
    offsetof(struct jm_chunk, runs[JM_CHUNK_HDR_PAGES]) < JM_PAGE,
    "the first pages' words share a page, their records and the fields another");
#define JM_CHUNK_MAGIC 0x6a6d63686b303031ULL
/* A small region's free (bin.c's flush) reads and writes its run record's
 * count, state and bitmap: one cache line for every record, with the
 * bitmap words a class uses (4 at most for every class but the 8 B one,
 * whose 512 regions take 8: words 0 to 5 on the count's line, 6 and 7 on
 * the next, a region's bit there 2 times in 8; prefetching that line too
 * did not show in teardown's time: docs/measurements.md, session 26), so that
 * a flush prefetches one line a run. */
_Static_assert(sizeof(struct jm_run) % 64 == 0 &&
    (offsetof(struct jm_chunk, runs) + offsetof(struct jm_run, nfree)) / 64 ==
    (offsetof(struct jm_chunk, runs) + offsetof(struct jm_run, bitmap) + 6 * sizeof(uint64_t) - 1) / 64,
    "a run record's count and first 6 bitmap words share a line");
_Static_assert((sizeof(struct jm_chunk) + JM_PAGE - 1) >> JM_LG_PAGE == JM_CHUNK_HDR_PAGES,
    "the pages a chunk's header takes");
/* A small run's pages have a second word each, after the page map
 * (pagefast[page - JM_CHUNK_HDR_PAGES]: none for the header's pages),
 * for free's fast path alone:
 *   bits 32..63  the size class times sizeof(struct jmstat_tcache_bin),
 *                as bits 21..31 of the page-map entry
 *   bits  0..31  the low half of (run's address x divisor): the offset
 *                of a pointer u in the run times the divisor is
 *                u x divisor less that, modulo 2^32, so that free's
 *                region-start test takes neither the run's offset nor a
 *                mask: a multiplication and a subtraction of words in
 *                memory, then the comparison with the divisor.
 * Set where a small run is carved (bin.c); any other page's is stale, and
 * read by free only after its page-map entry's divisor, 0 there, failed
 * the test. */
/* The dirty map: for a page of a free run, bit p is set if the page may
 * be resident: used since it was last purged or mapped. A free run's
 * ndirty is the count of its bits, exact whatever order its pieces were
 * freed, purged and merged in (with a dirty prefix a run counted the
 * clean pages before a dirty piece as dirty). A used run's bits mean
 * nothing (not cleared when it is carved: its free sets them all), a
 * run being purged has them clear. */
#define JM_LARGE_MAX  ((JM_CHUNK_PAGES - JM_CHUNK_HDR_PAGES) << JM_LG_PAGE)

/* Static facts about one small size class. */
struct jm_bin_info {
	uint32_t size;            /* region size */
	uint32_t regs;            /* regions per run */
	uint32_t run_pages;       /* pages per run */
	uint32_t div_magic;       /* ceil(2^32 / size): offset -> index */
	uint32_t tcache_max;      /* thread-cache capacity to start with */
	uint32_t tcache_hard_max; /* the most it may grow to */
};

/* Bitmap words a bin's fill takes regions from at most (bin.c): up to
 * 64 x 64 regions from fresh runs, 64 from the most scattered ones; in
 * rounds of JM_FILL_ROUND words under the bin's lock, 256 bytes of stack
 * (a malloc in a signal handler runs on what a sigaltstack leaves). */
#define JM_FILL_PIECES 64
#define JM_FILL_ROUND 16

struct jm_bin {
	jm_lock_t *lock;          /* in the arenas' lock area (arena.c) */
	struct jm_run *cur;       /* run regions come from first */
	struct jm_run *nonfull;   /* other runs with free regions */
	struct jmstat_bin *stats; /* this bin's row in the segment */
	uint32_t nempty;          /* empty runs kept on the non-full list */
};

#define JM_RETAIN_CHUNKS  32   /* purged empty chunks kept per arena */

/* The arena's cache of large regions of 9 to 64 pages (arena.c, "The
 * arena's cache"): a LIFO list a page count, through the regions (word 0
 * the link, word 1 the free cookie, as the thread cache's), at most
 * JM_ACACHE_DEPTH regions a size and JM_ACACHE_PAGES pages in all; its
 * pages count as dirty (ndirty_pages), not as active. */
#define JM_ACACHE_MIN_PAGES 9
#define JM_ACACHE_MAX_PAGES 64
#define JM_ACACHE_NSIZES  (JM_ACACHE_MAX_PAGES - JM_ACACHE_MIN_PAGES + 1)
#define JM_ACACHE_DEPTH   4
#define JM_ACACHE_PAGES   64

/* The arena's lock and its bins' are not in it but in the arenas' lock
 * area (arena.c: a mapping of their own that a fork does not share), so
 * that the pages a fork's handlers take, release or re-initialise locks on
 * are not shared with the child: in the parent they cost no fault, in the
 * child a fresh page, not a copy.
 *
 * The fields a new arena writes, at its creation and as its first chunk
 * is carved, are last (JM_ARENA_HOT, below): the lists of free runs of
 * JM_ARENA_HOT_RUNS pages and more (a new chunk's free run is 494 pages,
 * less what is carved from it), the counters, the lock's and stats' row
 * pointers and the bins; the decay, the retained and in-flight chunks and
 * the lists of shorter free runs, first, are written when runs are freed
 * and purged. arena.c places the arena so that its last JM_ARENA_HOT
 * bytes and the thread cache after it (tc_room) are one page: a new arena
 * and its first thread's cache touch one page of base memory, not two or
 * three. */
struct jm_arena {
	struct jm_decay decay;    /* of ndirty_pages */
	/* Empty chunks purged whole and kept mapped for reuse, oldest first;
	 * out of the radix tree until reused. */
	struct jm_chunk *retained[JM_RETAIN_CHUNKS];
	struct jm_chunk *inflight[16]; /* chunks a thread purges meanwhile */
	/* The cache of regions of 9 to 64 pages (JM_ACACHE_*): list heads by
	 * pages - 9, a bit a non-empty list, the pages in all (counted in
	 * ndirty_pages too), the lists' lengths, and the trim stamp
	 * (dirty_stamp) of the oldest region, 0 when empty (read without
	 * the lock by malloc_trim, as dirty_oldest). */
	uintptr_t ac_head[JM_ACACHE_NSIZES];
	uint64_t ac_mask;
	uint64_t ac_oldest;
	uint32_t ac_pages;
	uint8_t ac_n[JM_ACACHE_NSIZES];
	struct jm_run *free_runs[JM_CHUNK_PAGES + 1]; /* by npages */
	uint64_t free_nonempty[(JM_CHUNK_PAGES + 1 + 63) / 64];
	struct jm_run *purging;   /* free runs and empty chunks detached to be
	                             purged without the lock (arena.c) */
	uint32_t ninflight;
	struct jm_run *dirty_head; /* oldest dirty free run first */
	struct jm_run *dirty_tail;
	uint64_t dirty_oldest;    /* dirty_head's dirty_ns, 0 with none: read
	                             without the lock by malloc_trim (arena.c,
	                             jm__arenas_purge_aged) */
	uint64_t ndirty_pages;
	uint64_t nfree_pages;     /* pages in free runs, dirty or not */
	uint32_t purge_ticks;     /* frees since the clock was last read */
	uint32_t held_pass;       /* dirty cap's recounts (arena.c) */
	uint32_t nretained;       /* entries of retained[] */
	uint64_t huge_dirty;      /* bytes: freed huge regions charged here,
	                             not purged yet (kept by huge.c) */
	uint64_t huge_retained;   /* bytes: purged huge regions charged here */
	jm_lock_t *lock;
	unsigned index;
	struct jmstat_arena *stats; /* this arena's row in the segment */
	bool shared;              /* a thread moved here to share it with the
	                             thread whose regions it frees (tcache.c) */
	void *tc_room;            /* base memory for a thread cache, right
	                             after the arena, until a thread of the
	                             arena takes it (tcache.c, under its lock) */
	_Alignas(64) struct jm_bin bins[JM_NBINS];
};
#define JM_ARENA_HOT_RUNS 408
#define JM_ARENA_HOT (sizeof(struct jm_arena) - offsetof(struct jm_arena, free_runs[JM_ARENA_HOT_RUNS]))

/* A huge allocation: mapped directly, registered in the rtree. */
struct jm_huge {
	void *addr;               /* 2 MiB-aligned start */
	size_t size;              /* usable bytes (page multiple) */
	size_t map_size;          /* bytes mapped */
	unsigned arena;           /* arena charged for it */
	uint64_t freed_ns;        /* retained: when it was freed */
	uint8_t dirty;            /* retained: its pages may be resident */
	uint8_t busy;             /* retained: being purged, not to be taken */
	uint8_t purge_counted;    /* busy: the purge is in its arena's counters
	                             (set under the arena's lock) */
	uint8_t sparse_age;       /* reuses since its slack was last looked at
	                             (huge.c, purge_sparse) */
	uint8_t sparse_shift;     /* looks in a row that purged nothing and
	                             found no more stray pages than the one
	                             before (up to 4): the next waits 8 << it
	                             reuses */
	uint8_t sparse_stray;     /* the stray pages the last look found (255
	                             at most) */
	size_t touched;           /* bytes from addr beyond which no page has
	                             been written since its mapping or last
	                             purge (an upper bound; huge.c) */
	uint64_t prof_size;       /* sampled: the size asked for when sampled */
	uint64_t prof_now;        /* sampled: the size asked for now (realloc
	                             in place; as struct jm_run's) */
	uint32_t prof_site;       /* sampled: site row + 1; else 0 */
	struct jm_huge *next_free; /* record free list, or retained list */
};

/* The private words of one thread-cache row (struct jmstat_tcache_bin),
 * JM_TB_PRIVATE bytes after it: what the allocator trusts and no other
 * process may write (the segment is any process of the owner's uid's to
 * write, docs/security.md). The row keeps the published counts. */
struct jm_tbin_private {
	uintptr_t head;           /* the free list's first region; 0: empty */
	uint32_t ncached_less_max; /* the count less capacity that free's fast
	                            path tests (the row's is a copy for
	                            readers, which a writer of the segment
	                            may set: a row's count of -2^31 made the
	                            list take 2^31 frees before its flush) */
	uint32_t ncached_max;     /* the capacity (the row's is a copy) */
	uint64_t reserved2;
};
_Static_assert(sizeof(struct jm_tbin_private) == sizeof(struct jmstat_tcache_bin),
    "a private row per cache row, at the same place in its table");
_Static_assert(JM_TB_PRIVATE % JM_PAGE == 0 && JM_TB_PRIVATE < (1u << 31),
    "the private table is whole pages, a 32-bit displacement away");

/* A thread's cache. The per-bin words the fast path touches are the
 * thread's row of the stats segment (struct jmstat_tcache_bin: the counts
 * readers sum) and its private words (struct jm_tbin_private: the list's
 * head and the count free tests), at a fixed distance from it; this private part is for the slow
 * path. */
struct jm_tcache {
	struct jmstat_thread *row;
	struct jmstat_tcache_bin *bins;   /* row + 1 */
	struct jm_arena *arena;
	struct jm_tcache *next_free;      /* private tcaches: free list */
	struct jm_tcache *next_live;      /* the caches booted and not
	                                     destroyed (tcache.c, tc_live) */
	bool private_row;                 /* row not in the segment */
	uint16_t fork_depth;              /* jm__fork_depth at its boot: one
	                                     of an older is a gone thread's in
	                                     a forked child (tcache.c, gone) */
	uint32_t gc_bin;                  /* next bin the GC looks at */
	uint32_t nfills_since_gc[JM_NBINS];
	bool filled_last[JM_NBINS];       /* the last slow event was a fill */
	uint32_t stream_mark[JM_NBINS];   /* low word of the bin's nrequests
	                                     when the last fill's regions are
	                                     all allocated, none freed between */
	uint64_t nrequests_at_flush[JM_NBINS]; /* the bin's nrequests then */
	uint32_t nrequests_at_sweep[JM_NBINS]; /* its low word at the last
	                                           sweep_idle (tcache.c) */
	uint32_t drained[JM_NBINS];       /* regions its flushes took since
	                                     the list last served a request */
	uint32_t nflushes_seen;           /* full lists since the last look at */
	uint32_t nflushes_fed;            /* ... those mostly another arena's */
	struct jm_arena *feeder;          /* that arena (tcache.c) */
	/* Large regions, by pages - 1: lists through word 0, cookie word 1,
	 * their lengths, and a bit a size set by an allocation since the
	 * last GC look (the cache shares a page with its arena's first
	 * fields: arena.c's TC_ROOM). */
	uintptr_t large_head[JM_TCACHE_NLARGE];
	uint8_t large_n[JM_TCACHE_NLARGE];
	uint32_t large_used;
	uint32_t class_bytes;             /* cached in the lists of 17 to 64
	                                     pages' classes (a private sum:
	                                     the row's may be rewritten) */
	uint64_t nslow;                   /* fills and flushes, for the GC */
	uint64_t capacity_bytes;          /* sum of ncached_max x size */
	uint64_t trim_nslow;              /* nslow after the thread's last
	                                     malloc_trim, 0 before any */
};

/* The thp option: whether the allocator's mappings may be backed by
 * transparent huge pages (os.c). */
enum jm_thp {
	JM_THP_AUTO = 0,      /* none while the heap is small (default) */
	JM_THP_NEVER = 1,     /* none for any mapping */
	JM_THP_DEFAULT = 2,   /* no advice: the kernel's mode decides */
	JM_THP_ALWAYS = 3,    /* chunks and huge regions asked to have them */
};

/* Options, parsed once at init, read-only afterwards. */
struct jm_options {
	unsigned narenas;         /* 0: 4 x CPUs */
	bool tcache;
	bool stats;
	int64_t decay_ms;
	bool background_thread;
	bool junk;
	size_t prof_sample;
	enum jm_thp thp;
};

#endif
