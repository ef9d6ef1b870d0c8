/*
 * tcache.c: the thread cache in front of the bins, and each thread's arena.
 *
 * Per small size class, a thread keeps a LIFO list of free regions threaded
 * through the regions themselves (word 0: next; word 1: a cookie, the
 * region's address xor a per-process secret, which marks it free so that a
 * second free of it is caught at once; every list operation goes through
 * internal.h's jm__flist_* helpers). The list's length, its capacity and
 * the count of requests it served are the thread's row in the stats
 * segment (struct jmstat_tcache_bin), so that readers see them live, also
 * when the thread has gone idle; the list's head and the capacity the
 * allocator goes by are private (struct jm_tbin_private, JM_TB_PRIVATE
 * bytes after the row: stats.c maps them there), since any process of
 * the owner's uid may write the segment. Of the row's words the allocator
 * reads back only the count, which free's fast path tests: written by
 * another process, a list takes more or fewer regions before its flush,
 * and the next fill or flush that finds the list's end sets it right.
 *
 * An empty list is filled with half its capacity from the thread's arena
 * (the capacity doubled first, up to TCACHE_STREAM_BYTES, for an
 * allocation stream in a process of one thread: stream_grow);
 * a full one is flushed down to half to the regions' own arenas, or
 * emptied when it served no allocation since its last flush (a thread
 * that only frees in that class gains nothing from what is kept, and a
 * bigger batch costs less per region). The
 * capacity sizes itself: a flush that follows a fill (the cache swings
 * from empty to full) doubles it, up to the class's hard maximum, as long
 * as the capacities of all the thread's classes stay within the thread's
 * budget (so a thread never holds more than that in its cache): TCACHE_TOTAL
 * shared out among the live threads, between TCACHE_FLOOR and TCACHE_BUDGET
 * bytes, as tcmalloc caps all its thread caches together. A thread parked
 * between bursts keeps what it freed, and nothing else may use it: 64
 * threads of 4 MiB each held 186 MiB at many-threads' peak against
 * glibc's 52 (tcache:0: 49). A full list of a thread over its budget
 * (others started after its cache grew) halves its capacity. And only
 * to TCACHE_FED_BYTES or TCACHE_FED_REGS regions for a class fed by
 * other threads: when more than one in FOREIGN_SHARE of the regions freed
 * since the fill are other arenas', or when its arena is shared by a
 * thread that moved there (below), where the regions of both threads are
 * the arena's. A consumer, freeing what a producer allocated, swings
 * from empty to full as well, but a bigger cache only holds more of the
 * producer's regions, its level a random walk between two streams
 * (xmalloc's two threads held 3 MiB of their 5.5 MiB of runs at their
 * peak in their caches, up to 4096 regions a class); 1024 regions still
 * take in sh8bench's bursts of a class (a fifth more CPU at 512). The
 * doubling stops at the last capacity within those bounds: 1024 regions
 * only for a class that starts at a power of two, 576 to 816 for the
 * others of 160 B to 1.5 KiB (576 for 224, 448 and 896 B, which start
 * at 36, 18 and 9). Grown to the bound exactly, sh8bench's fills at 2
 * threads went from 12.7k to 2.0k, its CPU did not go down and its peak
 * RSS went up 14% (docs/measurements.md, session 19): not kept.
 * The share is taken of regions, not of threads: a consumer that hands
 * out the regions it was given (its allocations pop them) passes some
 * back to their producer, which then frees regions of its own arena. Every
 * GC_EVENTS slow-path events a few bins are looked at: one that saw no fill since
 * the last look has half of what it caches flushed (regions that go unused)
 * and its capacity halved, down to where it started. The GC runs on the
 * slow path only (every GC_EVENTS fills and flushes), as tcmalloc's does:
 * the fast path pays nothing for it.
 * The page classes (16 to 32 KiB, one region a run) hold up to
 * JM_TCACHE_PAGE_CLASS_BYTES each from the start, outside the budget,
 * and are filled one region at a time, or from the next class's list: as
 * the lists of large regions of 4 to 8 pages they replaced, their lists
 * grow by frees only (fills of half the cap took fresh runs the thread
 * did not need: glibc-thread's peak RSS +20%).
 * Large regions of 1 to 16 pages are cached too, in private lists (at most
 * JM_TCACHE_BUF_BYTES per size from 9 pages, JM_TCACHE_LARGE_BYTES from
 * 4, JM_TCACHE_SAMPLED_BYTES below: up to 8 pages only sampled
 * allocations of small sizes, a region of their own, have those; from 9
 * the requests of 32 KiB + 1 to 64 KiB, a program's I/O and compression
 * buffers, whose malloc and free took the arena's lock, a best-fit search
 * and a coalesce: 240-300 ns a pair against 15-50 for glibc, mimalloc and
 * tcmalloc), without fills: a free pushes, a malloc pops
 * (from the list a page larger when its own is empty: 4 to 15 pages), and
 * the arena is only asked when both are empty; the GC returns the lists
 * that went unused. Regions of 17 to 64 pages (requests of 64 KiB + 1 to
 * 256 KiB) are cached the same way, at their exact sizes, in eight lists
 * by page-count class (large_index), within JM_TCACHE_CLASS_TOTAL. The bytes of large regions a thread caches
 * are its row's large_cached word (the arena counts them as allocated
 * until they go back to it), so that readers take them off allocated;
 * only regions of the thread's own arena are cached, so that the arena a
 * reader takes them off is theirs. And those of 9 pages and up in full
 * only while the thread has its arena to itself ("an arena shared":
 * arena.c's count of its threads): where others share it, the thread
 * keeps one such region at most, and what else it frees goes back to the
 * arena, where they take it, instead of waiting in the thread's lists
 * while they map new regions. Per thread, the lists scale with the
 * thread count, not with the memory in use: py-pool32 (32 Python threads
 * on 8 arenas, taking turns under the GIL, each task growing a list of
 * 9 to 54 pages by realloc and joining it into a string of ~60 pages)
 * peaked at 45.6-49.4 MiB, each thread holding its last task's buffers
 * (up to 1.9 MiB a thread), and at 37.8-42.9 with none cached (glibc
 * 29-32), 38-40 with one (a thread freeing a buffer and asking the same
 * again then takes it back from its list: none cached made such pairs
 * take the arena's lock, search and coalescing, 3.5 x slower). A thread
 * alone in its arena caches them as before: the arena's memory is only
 * its own to reuse there.
 *
 * A thread whose full lists hold mostly the regions of one other arena
 * of a lower index (it frees what a thread of that arena allocated: a
 * consumer) moves to that arena, when at least a quarter of FEED_LOOK
 * full lists said so and the arena has room (arena.c): its cache is
 * emptied and its arena changes. The two threads then share their free
 * pages, and the consumer's fills take back the regions it freed:
 * larson's peak RSS 15.1 -> 12.8 MiB, sh8bench's 13.2 -> 10.2, rptest's
 * 21.7 -> 17.9 (jmalloc 3 runs side by side). Of a pair feeding each
 * other, only the one of the higher arena moves.
 *
 * At thread exit (a pthread key destructor) everything is flushed and the
 * row is given back.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CLAIM_FILLS 2         /* the fill at which a thread counts in its arena */
#define GC_EVENTS 64          /* slow-path events between two GC looks */
#define GC_BINS_PER_LOOK 4
#define TCACHE_BUDGET (4u << 20) /* bytes of capacity per thread at most, */
#define TCACHE_TOTAL (32u << 20) /* all threads' together, shared out, */
#define TCACHE_FLOOR (256u << 10) /* but at least this per thread */
#define TCACHE_STREAM_BYTES (32u << 10) /* capacity an allocation stream grows to */
#define TCACHE_FED_BYTES (64u << 10) /* capacity of a class fed by others, */
#define TCACHE_FED_REGS 1024u /* or this many regions if more */
#define FOREIGN_SHARE 16      /* of the regions freed: "fed by others" above 1 in this */
#define FEED_SAMPLE 32        /* regions of a full list looked at for its feeder */
#define FEED_LOOK 16          /* full lists between two looks at moving */
#define SWEEP_PAGES 16        /* pages not resident a thread's runs took
                                 between two looks for idle lists */
#define SWEEP_MIN_BYTES (16u << 10) /* what an idle list must hold to be
                                 flushed: more than a class starts with */

/* The cache of a thread that has none: empty, capacity 0, always full
 * (JM_TCACHE_NONE_FULL: free's fast path adds one to a row's count and to
 * its private copy before it tests, and its slow path sets them back;
 * nothing else is written); the fast paths fall through to the slow ones
 * without testing for NULL. Its private words (malloc's fast path reads
 * its lists' heads there) are JM_TB_PRIVATE bytes on, in the same object:
 * all zeros, in .lbss, the rows' page and the private words' first page
 * (the counts) written by free's fast path. */
struct jm_none_cache jm__none_cache JM_LARGE_BSS __attribute__((aligned(64)));
/* The rows were 1 KiB of .data before they moved here: .data keeps that
 * size, so that it still ends on the page that holds all of .bss, the
 * page the loader writes (startup.test.sh and fork_pages.test.sh check
 * where the small variables fall: jm__initialized and the locks a fork
 * takes on that one page). */
static char data_pad[1024 - 32] __attribute__((section(".data"), used));
/* The largest size whose malloc pops class 0's list unchecked (malloc.c,
 * alloc_miss): 8, and -1 while an 8 B region is held ("8 B regions freed
 * a second time", below), so that the pop's test of the size (a signed
 * comparison) is the test of whether one is (a comparison with memory for
 * one with 8), and the pops then go by the checked way. -1, not 0: class 0
 * serves malloc(0) too, whose pop 0 <= 0 took unchecked, the held region
 * handed out twice (tests/preload/misuse.test.sh,
 * double-free-tiny-two-caches-zero). Its bytes are data_pad's (with the
 * alignment's). */
int64_t jm__c0_pop_max = 8;
__thread struct jm_tls jm__tls = { jm__tcache_none, 0, jm__tcache_none };
__thread enum jm_tls_state jm__tls_state;
__thread uint32_t jm__tls_fresh_pages;
static __thread struct jm_tcache *tls_tc;
static __thread struct jm_arena *tls_arena;
/* The thread's arena was chosen when its cache booted at a malloc, and
 * the thread is not counted in it yet (arena.c): it is counted at its
 * CLAIM_FILLS-th fill (tls_fills counts them) or its first allocation
 * from the arena without the cache (jm__thread_arena), which may move it
 * to another arena (thread_claim). */
static __thread bool tls_uncounted;
static __thread bool tls_booting;
static __thread unsigned tls_fills;

uintptr_t jm__cookie;
/* How many forks made this process (each child adds one): runs are
 * marked with it when regions are taken of them (bin.c). */
uint16_t jm__fork_depth;
static pthread_key_t tc_key;
static jm_lock_t tc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct jm_tcache *tc_free_list;

/*
 * A forked child's frees of its parent's regions. A fork shares every page
 * until one process writes it; a free that pushes a region on the thread
 * cache's list writes the region (its link and cookie), so a child that
 * frees what its parent allocated (a collector's sweep in Ruby's or
 * Python's children, a prefork worker dropping inherited caches) copied
 * every page holding such a region: tests/bench/fork_free.c's child, 21.9k
 * minor faults for 320,000 frees, jemalloc's 221 (its cache is an array of
 * pointers, its free bits outside the regions). A thread of a forked
 * process whose list is full and holds mostly regions of runs the process
 * took no region from (a run's fork_depth is a smaller one: types.h, its
 * regions were all allocated before the fork) has its cache set aside
 * ("forked"): free's cache (jm__tls_fbins) is the empty, always full none
 * cache, so that free's fast path, unchanged for every other process,
 * goes to the slow one. There, a region of such a run goes to its run's
 * bitmap (bin.c's free writes only the chunk's run record, as with
 * tcache:0); any other to the cache. Malloc's fast path pops the cache's
 * lists as usual (jm__tls_tbins, session 28: it took the slow path too,
 * and a child that allocates much after dropping inherited objects ran
 * 2.8 x the instructions for its allocations: a pop takes nothing to a
 * list, so the lists' contents stay what the checks below count on).
 * After FORKED_OWN_FREES frees of the process's own regions the cache is
 * free's fast path's again: a prefork worker that drops an
 * inherited object now and then pays free's slow path for 64k frees; a
 * later sweep of inherited objects sets it aside again at its first full
 * list. Before that, a list's worth of regions are pushed, and their
 * pages copied, as before. Not at the fork itself: a child that only
 * frees what it allocated from its inherited lists (fork-churn's, a
 * shell's before exec) would send those to their runs too, whose records
 * it then copied (fork-churn +12% faults so).
 */
#define FORKED_OWN_FREES (1u << 16)
#define FORKED_SAMPLE 8       /* regions of a full list looked at */
static __thread bool tls_forked;
static __thread uint32_t tls_forked_own;

/*
 * Such a free reads nothing of the region either, where it can (session
 * 27): the double-free check of a free is the cookie in the region's
 * word 1 (a region in a cache's list) or its bit in its run's bitmap (a
 * region in its run). The child's read of the cookie was its first touch
 * of each of the parent's pages that held a region it freed (fork_free's
 * child: 37% of its samples at that one load; jemalloc reads nothing of
 * the block). For a run the process took no region of, the bitmap alone
 * says whether a region is free when no cache of this process can hold
 * one of its regions in a list (a region there is free but its bit says
 * allocated, and a second free of it to the run would hand it out twice):
 *  - the calling thread's own lists are flushed to their runs at its
 *    FORKED_FLUSH_AFTER-th such free after its cache was set aside in
 *    this process (tls_drained, the fork depth they were flushed at; -1 when they
 *    were not since the cache was last the fast paths', whose frees push
 *    any region): while set aside, its lists take only regions of runs
 *    the process took regions of (jm__tcache_forked_free), and its fills'
 *    regions are of such runs (bin.c marks the runs it takes of);
 *  - no other thread of this process has a cache (tc_nlive: the caches
 *    booted and not destroyed in this process, the calling thread's one);
 *  - the threads of the parent (and of its ancestors) that had a cache at
 *    a fork had none (tc_dead: such a cache's lists are never used in the
 *    child, rows and heads are taken anew, but a second free of a region
 *    there was reported by its cookie: it still is, where there were), or
 *    their lists were flushed to their runs too (dead_drain, session 28).
 * Otherwise the region's cookie is read first, as before.
 */
static __thread int32_t tls_drained = -1;
/* The lists are flushed only at the FORKED_FLUSH_AFTER-th free of an
 * inherited region since the cache was set aside (tls_forked_inh counts
 * them): a sweep's (fork_free's child frees 320,000), not a prefork
 * worker's that drops an inherited object now and then, whose flushes
 * of its lists wrote their runs' records and refilled them (prefork's
 * faults +0.9% when the first such free flushed). Until then the regions'
 * cookies are read, as before. */
#define FORKED_FLUSH_AFTER 1024u
static __thread uint32_t tls_forked_inh;
static uint32_t tc_nlive;     /* caches of this process, under tc_lock:
                                 counted from their boot's start */
static uint32_t tc_dead;      /* caches of threads gone at a fork, their
                                 lists not flushed (dead_drain) */
static bool tc_gone_large;    /* such caches' large lists not looked at
                                 yet (gone_drain) */
static struct jm_tcache *tc_forker;   /* the forking thread's cache, not
                                         gone (set with tc_gone_large) */
/* The caches booted and not destroyed in this process, and those of
 * threads gone at a fork whose lists were not looked at yet (tc_dead):
 * through next_live, under tc_lock. */
static struct jm_tcache *tc_live;

/*
 * The lists of the threads gone at a fork (session 28). They are what
 * each such thread had written of them when the fork copied the pages:
 * a push writes the region's link and cookie before the head, a pop the
 * head before it clears the cookie, a fill and a flush hold their bin's
 * lock, which the fork takes: a thread's writes that the child sees are
 * those before a point of its own (a later one waited for the fork to
 * end, in its page fault, and went to the parent's copy of the page), so
 * each list is whole. Each link is checked all the same, before anything
 * is freed: a region of our chunks, of the list's class, at a region's
 * start, its run a small one, its cookie (class 0: its tag) there, its
 * bit saying allocated, and no more regions than the class's hard
 * maximum (a loop); the list then goes to its runs as a flush's does
 * (jm__bin_free_list). A list with a link that fails is left as it was,
 * as before (its regions lost to the child, a second free of one
 * reported by its cookie), and its cache stays counted in tc_dead. Under
 * tc_lock, with no other cache in the process (none booting: tc_nlive
 * counts a cache from its boot's start), so that no thread takes the row
 * of a gone one meanwhile; a gone cache whose row is the calling thread's
 * (a row given back and taken again in an ancestor) is not looked at.
 */
/* The chunk of a link u read from a gone cache's list, if it is one of
 * ours and u is past its header, and u's page's page-map entry (*pm);
 * NULL if not. */
static struct jm_chunk *dead_link_chunk(uintptr_t u, uint64_t *pm)
{
	uintptr_t e = jm__rtree_get(u & ~(uintptr_t)JM_CHUNK_MASK);
	if (e == 0 || (e & JM_RTREE_HUGE))
		return NULL;
	struct jm_chunk *c = (struct jm_chunk *)(u & ~(uintptr_t)JM_CHUNK_MASK);
	size_t page = (u & JM_CHUNK_MASK) >> JM_LG_PAGE;
	if (page < JM_CHUNK_HDR_PAGES)
		return NULL;
	*pm = c->pagemap[page];
	return c;
}

static bool dead_link_ok(uintptr_t u, unsigned binind)
{
	uint64_t pm;
	struct jm_chunk *c;
	if ((u & 7) || (c = dead_link_chunk(u, &pm)) == NULL)
		return false;
	if (JM_PM_KIND(pm) != JM_PM_SMALL || JM_PM_BIN(pm) != binind || jm__pm_inside(pm, u) ||
	    jm__chunk_run(c, JM_PM_START(pm))->state != JM_RUN_SMALL)
		return false;
	return jm__flist_is_free_c((void *)u, binind == 0) && !jm__bin_region_is_free(c, (void *)u, pm);
}

static bool c0_is_held(uintptr_t u);

/* Flushes the lists of the gone cache d that check out; whether all did.
 * An 8 B region held (a second free while this list held it: "8 B
 * regions freed a second time", below) is not freed with its list but
 * said in *held, reported once tc_lock is let go: its list went to its
 * run unchecked, the region was then held and free in its run at once,
 * a fill handed it out (its first region is not looked at) and, once
 * the held regions went to their runs, it went back to its run under
 * its user and was handed out again, unreported (twentieth pass,
 * tests/preload/misuse.test.sh, double-free-tiny-forked-gone). A flush
 * looks so (jm__tcache_flush_some). */
static bool dead_drain_one(struct jm_tcache *d, uintptr_t *held)
{
	bool all = true;
	for (unsigned b = 0; b < JM_NBINS; b++) {
		uintptr_t head = *jm__tb_head(&d->bins[b]);
		uint32_t n = 0, max = jm__bin_info[b].tcache_hard_max;
		uintptr_t p = head;
		for (; p != 0 && n <= max && dead_link_ok(p, b); n++) {
			if (b == 0 && c0_is_held(p)) {
				*held = p;
				break;
			}
			p = (uintptr_t)jm__flist_next((void *)p);
		}
		if (p != 0) {
			all = false;
			continue;
		}
		if (head != 0)
			jm__bin_free_list((void *)head, b, false);
	}
	return all;
}

static void gone_take_large(struct jm_tcache *d, uintptr_t *chain);
static void gone_free_large(uintptr_t chain);

/* The lists of the caches gone at a fork flushed, where they check out
 * (above); the calling thread's cache is own. Their large lists too
 * (gone_drain), before they leave tc_live. */
static void dead_drain(struct jm_tcache *own)
{
	jm__bg_check(0);   /* before the locks, as a flush does */
	uintptr_t chain = 0, held = 0;
	pthread_mutex_lock(&tc_lock);
	if (tc_nlive == 1 && tc_dead != 0) {
		struct jm_tcache **pp = &tc_live;
		while (*pp != NULL) {
			struct jm_tcache *d = *pp;
			if (d == own) {
				pp = &d->next_live;
				continue;
			}
			*pp = d->next_live;   /* looked at once, whatever it holds */
			gone_take_large(d, &chain);
			if (d->row != own->row && dead_drain_one(d, &held) && tc_dead != 0)
				__atomic_store_n(&tc_dead, tc_dead - 1, __ATOMIC_RELAXED);
		}
	}
	pthread_mutex_unlock(&tc_lock);
	gone_free_large(chain);
	if (held != 0)
		jm__report_misuse("double free of a small region (freed by another thread)",
		                  (void *)held);
}

static void forked_enter(void)
{
	tls_forked = true;
	tls_forked_own = 0;
	tls_forked_inh = 0;
	tls_drained = -1;
	jm__tls_fbins = jm__tcache_none;
}

/* Whether a free of a region of a run the process took none of reads
 * nothing of the region (above). */
static inline bool forked_bitmap_only(void)
{
	return __atomic_load_n(&tc_nlive, __ATOMIC_RELAXED) == 1 && tc_dead == 0;
}

#ifdef JM_TEST
/* Whether the calling thread's frees of its parent's regions go to their
 * runs (its cache set aside) and read the regions' cookies first. -1:
 * not set aside. */
int jm__tcache_test_forked_mode(void);
int jm__tcache_test_forked_mode(void)
{
	if (!tls_forked || tls_tc == NULL)
		return -1;
	return tls_drained != (int32_t)jm__fork_depth || !forked_bitmap_only();
}
#endif

/* The calling thread's small lists flushed to their runs (above). */
static void forked_drain(struct jm_tcache *tc)
{
	for (unsigned b = 0; b < JM_NBINS; b++)
		if (*jm__tb_head(&tc->bins[b]) != 0)   /* as tcache_empty */
			jm__tcache_flush_some(&tc->bins[b], b, 0);
	tls_drained = jm__fork_depth;
}

struct jmstat_tcache_bin *jm__tcache_own_bins(void)
{
	return tls_forked && tls_tc ? tls_tc->bins : jm__tls_tbins;
}

/* Whether run r was taken no region of by this process. */
static inline bool run_inherited(const struct jm_run *r)
{
	return __atomic_load_n(&r->fork_depth, __ATOMIC_RELAXED) != jm__fork_depth;
}

/*
 * Inherited frees, batched (session 29). Each free of a parent's region
 * went to its run at once (jm__bin_free_inherited): the bin's lock, its
 * row's sequence, the arena's purge look, 372 instructions a free in
 * fork_free's child against jemalloc's 109 (callgrind). They are gathered
 * instead in a buffer of the thread's (struct inh, from the allocator's
 * own base memory, taken at the thread's first such free and given back
 * at its exit; nothing of a region is written, as before) and sent to
 * their runs INH_MAX at a time, grouped by class, each arena's bin locked
 * once for its regions (bin.c, jm__bin_free_inherited_array, with the run
 * records prefetched). The buffer is a hash table of the pointers (the
 * class in the top byte), so that a second free of a region it holds is
 * reported at once, as a second free of a region in its run is by the
 * run's bit, read here (no lock: only a free of this region changes its
 * bit). So every double free that was reported still is, at the same
 * free. Flushed when full, when the cache is emptied (thread exit, a move
 * to another arena), when it is the fast paths' again, at
 * jm__tcache_flush_all_current, malloc_trim and the statistics' readers
 * of the process (mallinfo, malloc_stats, malloc_info: compat.c); until
 * then its regions count as allocated (at most INH_MAX) and are no
 * one's to allocate. Not at a fork: the child's copy of the buffer is
 * its own (its copies of the regions, allocated in its copies of the
 * runs) and goes to its runs in the child, the parent's in the parent
 * (a flush in the fork handler would take bin locks that a fork from a
 * signal handler may find held). A buffer of another thread of a child
 * that forks again is lost to the grandchild, as that thread's lists are.
 *
 * Another thread's second free of a region a buffer holds (the child's
 * thread made after the fork: its first frees, a thread without a cache,
 * one whose cache is set aside too) found the region allocated in its
 * run, the first free not yet sent there: it was let through, freed to
 * the run, and the buffer's flush later freed it again, without a word if
 * it had been handed out meanwhile (it was reported at the second free
 * before the batches). Such a free looks in the other threads' buffers
 * first (inh_held_elsewhere), when one was taken besides its own
 * (inh_taken: a load on the batch's path; a single-threaded child has
 * the one). The tables are read without a lock, their words written by
 * single stores (a free of the region racing with its owner's flush can
 * be missed there, and is the run's bit's then). A buffer taken by a
 * thread gone at a fork keeps its count: a grandchild's free of one of
 * its regions was freed before the fork, and is reported.
 */
#define INH_MAX 256u            /* regions gathered before a flush */
#define INH_SLOTS (2 * INH_MAX) /* the table's slots: half full at most */
struct inh {
	struct inh *next;           /* inh_free's list */
	struct inh *all_next;       /* inh_all's list: every buffer, never taken off */
	uint32_t n;
	uintptr_t slot[INH_SLOTS];  /* pointer | class << 56; 0: empty */
	uintptr_t got[INH_MAX];     /* the same values, in the order pushed */
	void *sorted[INH_MAX];      /* the flush's: by class */
};
static __thread struct inh *tls_inh;
static struct inh *inh_free;    /* under tc_lock */
static struct inh *inh_all;     /* pushed under tc_lock, read without */
uint32_t jm__inh_taken;         /* buffers taken and not given back, under tc_lock */

static inline size_t inh_hash(uintptr_t u)
{
	return (size_t)(((u >> 4) * 0x9e3779b97f4a7c15ull) >> (64 - 9)) & (INH_SLOTS - 1);
}
_Static_assert(INH_SLOTS == 1u << 9, "inh_hash's shift");

__attribute__((optimize("no-tree-loop-distribute-patterns")))
static JM_NOINLINE void inh_flush(struct inh *b)
{
	uint32_t cnt[JM_NBINS + 1] = {0};
	unsigned k = b->n;
	/* The values from the log (session 30: the table's 512 slots were
	 * walked for them, 10 instructions a region), the table emptied at
	 * once, by a loop of stores (a call to memset, which the compiler
	 * makes of the loop unless told not to, is rep stosb there: 4,096
	 * of callgrind's instructions). */
	for (unsigned i = 0; i < k; i++)
		cnt[b->got[i] >> 56]++;
	for (unsigned i = 0; i < INH_SLOTS; i++)   /* not memset (above) */
		b->slot[i] = 0;
	b->n = 0;
	/* Counted by class, then placed (a counting sort). */
	uint32_t at = 0;
	for (unsigned c = 0; c < JM_NBINS; c++) {
		uint32_t m = cnt[c];
		cnt[c] = at;
		at += m;
	}
	for (unsigned i = 0; i < k; i++) {
		uintptr_t v = b->got[i];
		b->sorted[cnt[v >> 56]++] = (void *)(v & (((uintptr_t)1 << 56) - 1));
	}
	unsigned from = 0;
	for (unsigned c = 0; c < JM_NBINS && from < k; c++) {
		if (cnt[c] != from)
			jm__bin_free_inherited_array(&b->sorted[from], cnt[c] - from, c);
		from = cnt[c];
	}
}

void jm__tcache_inh_flush(void)
{
	struct inh *b = tls_inh;
	if (b != NULL && b->n != 0)
		inh_flush(b);
}

/* The calling thread's buffer flushed and given back (its exit). */
static void inh_put(void)
{
	struct inh *b = tls_inh;
	if (b == NULL)
		return;
	if (b->n != 0)
		inh_flush(b);
	tls_inh = NULL;
	pthread_mutex_lock(&tc_lock);
	b->next = inh_free;
	inh_free = b;
	__atomic_store_n(&jm__inh_taken, jm__inh_taken - 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&tc_lock);
}

static JM_NOINLINE struct inh *inh_get(void)
{
	pthread_mutex_lock(&tc_lock);
	struct inh *b = inh_free;
	if (b != NULL) {
		inh_free = b->next;
		__atomic_store_n(&jm__inh_taken, jm__inh_taken + 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&tc_lock);
	if (b == NULL && (b = jm__base_alloc(sizeof(*b))) != NULL) {
		memset(b, 0, sizeof(*b));   /* a given back one is empty */
		pthread_mutex_lock(&tc_lock);
		b->all_next = inh_all;
		__atomic_store_n(&inh_all, b, __ATOMIC_RELEASE);
		__atomic_store_n(&jm__inh_taken, jm__inh_taken + 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&tc_lock);
	}
	return tls_inh = b;
}

/* Whether buffer b holds v (pointer | class << 56), read without a lock
 * (above): a probe ends at an empty slot, or after every slot. */
static bool inh_holds(const struct inh *b, uintptr_t v)
{
	size_t h = inh_hash(v);
	for (unsigned i = 0; i < INH_SLOTS; i++, h = (h + 1) & (INH_SLOTS - 1)) {
		uintptr_t s = __atomic_load_n(&b->slot[h], __ATOMIC_RELAXED);
		if (s == v)
			return true;
		if (s == 0)
			return false;
	}
	return false;
}

/* A free of ptr (class binind) by the calling thread, whose buffer is
 * own (or NULL): another thread's buffer holding it is a second free. */
static JM_NOINLINE void inh_held_elsewhere(const struct inh *own, void *ptr, unsigned binind)
{
	uintptr_t v = (uintptr_t)ptr | (uintptr_t)binind << 56;
	for (const struct inh *b = __atomic_load_n(&inh_all, __ATOMIC_ACQUIRE); b; b = b->all_next)
		if (b != own && inh_holds(b, v))
			jm__report_misuse("double free of a small region (freed by another thread)", ptr);
}

void jm__tcache_inh_check(void *ptr, unsigned binind)
{
	inh_held_elsewhere(tls_inh, ptr, binind);
}

/*
 * The run of a region freed here without its free mark (session 35): the
 * region goes to its run's bitmap with nothing of it written, so that a
 * second free on a fast path (another thread's of the child, or this
 * one's once its cache is the fast paths' again) found no cookie and
 * pushed it on a list, unreported, and malloc then handed it out twice
 * (once from the list, once from the run). So the run's pages are made
 * to fail free's fast test (types.h, JM_PM_DIV_SLOW), in this process's
 * copy of the chunk header only (its page-map words, and its fast words
 * where they must change: a page fault each in a child, a copy of the
 * parent's page; fork-free's child 796-801 -> 809-812 faults in its free
 * phase, docs/allocator.md, "Misuse gaps, session 35"): every free of the run's regions
 * then reads the run's bit in free_in_chunk (jm__tcache_slow_run_free),
 * until the run is emptied and carved again (bin.c, new_run, writes both
 * words anew). Free's fast path is unchanged. The fast word, where it
 * must change, first: a free that reads the new one with the old divisor
 * fails the test, or passes it for a region's start with its own row's
 * offset, as before.
 */
static JM_NOINLINE void run_divert(struct jm_chunk *c, uint64_t pm)
{
	size_t first = JM_PM_START(pm);
	const struct jm_bin_info *bi = &jm__bin_info[JM_PM_BIN(pm)];
	uint64_t spm = jm__pm_slow(jm__pm_make(JM_PM_SMALL, JM_PM_BIN(pm), first));
	uint64_t pf = jm__pf_make(c, JM_PM_BIN(pm), first);
	/* With the divisor 2 and the fast word as carved (k), a pointer u
	 * passes free's test where 2u - k is 0 or 1 modulo 2^32: u's low 32
	 * bits r or r + 2^31. Where neither is in the run, the fast words
	 * stay as they are, their pages not written (a forked child's page
	 * fault each, a copy of its parent's). */
	uint32_t run = (uint32_t)((uintptr_t)c + (first << JM_LG_PAGE));
	uint32_t r = (uint32_t)((((uint64_t)(uint32_t)pf + 1) >> 1) & 0x7fffffffu);
	uint32_t bytes = bi->run_pages << JM_LG_PAGE;
	if ((uint32_t)(r - run) < bytes || (uint32_t)(r + 0x80000000u - run) < bytes) {
		uint64_t spf = jm__pf_slow(c, first) | (pf & ~0xffffffffull);
		for (size_t i = first; i < first + bi->run_pages; i++)
			__atomic_store_n(&c->pagefast[i - JM_CHUNK_HDR_PAGES], spf, __ATOMIC_RELAXED);
	}
	for (size_t i = first; i < first + bi->run_pages; i++)
		__atomic_store_n(&c->pagemap[i], spm, __ATOMIC_RELEASE);
}

/* A free of ptr, a region's start in a run whose frees come to the slow
 * path (run_divert; c, pm: its chunk and page-map word), without its free
 * mark: freed already if its run's bit says so (read without the lock:
 * only a free of this region sets it), or if a forked child's buffer
 * holds it. */
void jm__tcache_slow_run_free(struct jm_chunk *c, void *ptr, uint64_t pm)
{
	unsigned binind = JM_PM_BIN(pm);
	const struct jm_run *r = jm__chunk_run(c, JM_PM_START(pm));
	uint64_t x = (uint64_t)JM_PM_OFFSET(pm, (uintptr_t)ptr) * jm__bin_info[binind].div_magic;
	uint64_t w = __atomic_load_n(&r->bitmap[x >> 38], __ATOMIC_RELAXED);
	if (((w >> ((x >> 32) & 63)) & 1) != 0)
		jm__report_misuse("double free of a small region", ptr);
	if (__atomic_load_n(&jm__inh_taken, __ATOMIC_RELAXED) != 0)
		inh_held_elsewhere(NULL, ptr, binind);
}

/* A forked child's free of its parent's region ptr (c, pm: its chunk
 * and page-map word), to the thread's buffer (above). */
static inline void inh_push(struct jm_chunk *c, void *ptr, uint64_t pm)
{
	unsigned binind = JM_PM_BIN(pm);
	const struct jm_run *r = jm__chunk_run(c, JM_PM_START(pm));
	uint64_t x = (uint64_t)JM_PM_OFFSET(pm, (uintptr_t)ptr) * jm__bin_info[binind].div_magic;
	uint64_t w = __atomic_load_n(&r->bitmap[x >> 38], __ATOMIC_RELAXED);
	if (jm_unlikely(((w >> ((x >> 32) & 63)) & 1) != 0))
		jm__report_misuse("double free of a small region", ptr);
	if (jm_unlikely(__atomic_load_n(&r->state, __ATOMIC_RELAXED) != JM_RUN_SMALL))
		jm__report_misuse("double free of a small region", ptr);
	if (jm_unlikely(JM_PM_DIV(pm) != JM_PM_DIV_SLOW))
		run_divert(c, pm);
	struct inh *b = tls_inh;
	if (jm_unlikely(b == NULL) && (b = inh_get()) == NULL) {
		if (jm_unlikely(__atomic_load_n(&jm__inh_taken, __ATOMIC_RELAXED) != 0))
			inh_held_elsewhere(NULL, ptr, binind);
		jm__bin_free_inherited(c, ptr, pm);
		return;
	}
	if (jm_unlikely(__atomic_load_n(&jm__inh_taken, __ATOMIC_RELAXED) > 1))
		inh_held_elsewhere(b, ptr, binind);
	uintptr_t v = (uintptr_t)ptr | (uintptr_t)binind << 56;
	size_t h = inh_hash(v);
	for (uintptr_t s; (s = b->slot[h]) != 0; h = (h + 1) & (INH_SLOTS - 1))
		if (jm_unlikely(s == v))
			jm__report_misuse("double free of a small region", ptr);
	__atomic_store_n(&b->slot[h], v, __ATOMIC_RELAXED);   /* read by others */
	b->got[b->n] = v;
	if (jm_unlikely(++b->n == INH_MAX))
		inh_flush(b);
}

/*
 * Free's first miss for a thread whose cache is set aside (malloc.c,
 * free_full; session 30): a region of a run the process took none of,
 * when the run's bit is the double-free check (tls_drained at this
 * depth, forked_bitmap_only), goes to the buffer from here, without
 * free_in_chunk's and jm__tcache_forked_free's tests (58 and 53
 * instructions a free in fork_free's child). Whether it took ptr; when
 * not, free_in_chunk decides as before. ptr is a small region's start,
 * its chunk ours: free's fast path tested its page-map word's divisor
 * (only a small run's is not 0) and its offset, free_miss class 0's
 * divisor and alignment; the run's state is inh_push's test.
 * tls_drained is this depth only while the cache is set aside in this
 * process and its lists were flushed (-1 when it is the fast paths'
 * again, at thread_exit; a fork makes the depth new, and a child made
 * unusable by a fork in a signal handler, jm__fork_tainted, so fails it
 * and goes to free_in_chunk's report).
 */
bool jm__tcache_inh_free(void *ptr)
{
	if (tls_drained != (int32_t)jm__fork_depth)
		return false;
	uintptr_t u = (uintptr_t)ptr;
	struct jm_chunk *c = (struct jm_chunk *)(u & ~(uintptr_t)JM_CHUNK_MASK);
	uint64_t pm = c->pagemap[(u & JM_CHUNK_MASK) >> JM_LG_PAGE];
	if (!run_inherited(jm__chunk_run(c, JM_PM_START(pm))) || !forked_bitmap_only())
		return false;
	inh_push(c, ptr, pm);
	return true;
}

struct jmstat_tcache_bin *jm__tcache_forked_free(struct jm_chunk *c, void *ptr, uint64_t pm)
{
	struct jm_tcache *tc = tls_tc;
	if (!tls_forked || tc == NULL)
		return jm__tcache_none;
	if (run_inherited(jm__chunk_run(c, JM_PM_START(pm)))) {
		if (tls_drained != (int32_t)jm__fork_depth &&
		    __atomic_load_n(&tc_nlive, __ATOMIC_RELAXED) == 1 &&
		    ++tls_forked_inh >= FORKED_FLUSH_AFTER) {
			if (tc_dead != 0)
				dead_drain(tc);
			forked_drain(tc);
		}
		if (tls_drained != (int32_t)jm__fork_depth || !forked_bitmap_only()) {
			/* A list may hold it: its cookie says. */
			unsigned binind = JM_PM_BIN(pm);
			if (jm__flist_is_free_c(ptr, binind == 0))
				jm__tcache_check_double_free(ptr, binind);
		}
		inh_push(c, ptr, pm);
		return NULL;
	}
	if (++tls_forked_own >= FORKED_OWN_FREES) {
		tls_forked = false;
		tls_drained = -1;
		jm__tls_fbins = tc->bins;
		jm__tcache_inh_flush();
	}
	return tc->bins;
}

/*
 * 8 B regions freed a second time while another thread's list may hold
 * them (session 35). Class 0's free mark is a 15-bit tag, which an 8 B
 * object in use matches one time in 2^15 if its top bit is set, so a free
 * that finds the tag but the region in neither its own list nor its run
 * cannot tell a double free from such an object (malloc.c,
 * free_in_chunk). It sent the region to its run, nothing of it written:
 * the list that held it then handed it out at its next 8 B malloc, and a
 * fill took it from the run again, unreported (the other list's flush
 * found it only if it came first). Such a region is now held here,
 * neither in its run nor in a list, C0_HELD at most (the oldest goes to
 * its run when a new one comes); the thread whose list holds it reports
 * it when its malloc takes it (alloc_miss: while none is held, the pop's
 * test of the size is against jm__c0_pop_max, no instruction more) or
 * when its list is flushed (jm__tcache_flush_some). While any is held,
 * class 0's pops and flushes look through the slots; after C0_LOOKS such
 * looks the held regions all go to their runs (as before session 35)
 * and the pops are unchecked again, so that an 8 B object in use that
 * matched its tag costs 8 bytes kept from use and C0_LOOKS looks, not a
 * slower malloc for ever; a double free whose list gives the region out
 * later than that is missed as before. Written under tc_lock, read
 * without: a pop racing with the free that holds its region is missed
 * (then the list's flush, as before, or nothing).
 */
#define C0_HELD 16u
#define C0_LOOKS (1u << 16)
/* In .lbss, with the rarely used: the small variables' two pages have no
 * room (startup.test.sh); whether any is held is jm__c0_pop_max's -1. */
static uintptr_t c0_held[C0_HELD] JM_LARGE_BSS;
static unsigned c0_held_at JM_LARGE_BSS;  /* the next slot, under tc_lock */
static uint32_t c0_looks JM_LARGE_BSS;    /* looks since the first hold */

/* Whether u is held: under tc_lock, which the holds are written under
 * (dead_drain_one). */
static bool c0_is_held(uintptr_t u)
{
	if (__atomic_load_n(&jm__c0_pop_max, __ATOMIC_RELAXED) >= 0)
		return false;
	for (unsigned i = 0; i < C0_HELD; i++)
		if (c0_held[i] == u)
			return true;
	return false;
}

/* Every held region to its run, the pops unchecked again. */
static JM_NOINLINE void c0_release_all(void)
{
	uintptr_t v[C0_HELD];
	unsigned n = 0;
	pthread_mutex_lock(&tc_lock);
	for (unsigned i = 0; i < C0_HELD; i++) {
		if (c0_held[i] != 0)
			v[n++] = c0_held[i];
		__atomic_store_n(&c0_held[i], 0, __ATOMIC_RELAXED);
	}
	c0_held_at = 0;
	__atomic_store_n(&c0_looks, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&jm__c0_pop_max, 8, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&tc_lock);
	for (unsigned i = 0; i < n; i++) {
		struct jm_chunk *c = (struct jm_chunk *)(v[i] & ~(uintptr_t)JM_CHUNK_MASK);
		jm__bin_free_unmarked(c, (void *)v[i], c->pagemap[(v[i] & JM_CHUNK_MASK) >> JM_LG_PAGE]);
	}
}

void jm__tcache_c0_hold(void *ptr)
{
	uintptr_t u = (uintptr_t)ptr, old;
	pthread_mutex_lock(&tc_lock);
	for (unsigned i = 0; i < C0_HELD; i++)
		if (c0_held[i] == u) {
			pthread_mutex_unlock(&tc_lock);
			jm__report_misuse("double free of a small region", ptr);
		}
	old = c0_held[c0_held_at];
	__atomic_store_n(&c0_held[c0_held_at], u, __ATOMIC_RELAXED);
	c0_held_at = (c0_held_at + 1) % C0_HELD;
	if (old == 0)
		__atomic_store_n(&jm__c0_pop_max, -1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&tc_lock);
	if (old != 0) {
		struct jm_chunk *c = (struct jm_chunk *)(old & ~(uintptr_t)JM_CHUNK_MASK);
		jm__bin_free_unmarked(c, (void *)old, c->pagemap[(old & JM_CHUNK_MASK) >> JM_LG_PAGE]);
	}
}

/* p, an 8 B region a list of this thread's held (its malloc took it, or
 * its flush is freeing it): reported if held above. */
void jm__tcache_c0_check(const void *p)
{
	for (unsigned i = 0; i < C0_HELD; i++)
		if (__atomic_load_n(&c0_held[i], __ATOMIC_RELAXED) == (uintptr_t)p)
			jm__report_misuse("double free of a small region (freed by another thread)", p);
	if (jm_unlikely(__atomic_add_fetch(&c0_looks, 1, __ATOMIC_RELAXED) >= C0_LOOKS))
		c0_release_all();
}

/* Whether most of the regions at the top of the list at p are in runs of
 * the parent's (a forked process's full list). */
static bool list_inherited(const void *p)
{
	unsigned seen = 0, old = 0;
	for (; p && seen < FORKED_SAMPLE; p = jm__flist_next(p), seen++) {
		const struct jm_chunk *c = (const struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
		uint64_t pm = c->pagemap[((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE];
		old += run_inherited(jm__chunk_run(c, JM_PM_START(pm)));
	}
	return old * 2 > seen;
}

static void thread_exit(void *arg);
static void tcache_move(struct jm_tcache *tc, struct jm_arena *to);
static void tcache_switch(struct jm_tcache *tc, struct jm_arena *from, struct jm_arena *to);
static struct jm_arena *thread_claim(void);
static uint64_t thread_budget(void);

void jm__tcache_init_global(void)
{
	_Static_assert(offsetof(struct jm_none_cache, priv) ==
	    offsetof(struct jm_none_cache, rows) + JM_TB_PRIVATE,
	    "the none cache's private words JM_TB_PRIVATE bytes after its rows");
	if (pthread_key_create(&tc_key, thread_exit) != 0)
		jm__fatal("pthread_key_create failed");
}

struct jm_arena *jm__thread_arena(void)
{
	struct jm_arena *a = tls_arena;
	if (jm_likely(a != NULL))
		return jm_likely(!tls_uncounted) ? a : thread_claim();
	jm__ensure_init();
	a = jm__arena_for_thread((uint32_t)syscall(SYS_gettid), !tls_booting);
	tls_uncounted = tls_booting;
	tls_arena = a;
	jm__stats_settle();
	jm__lock(a->lock, &a->stats->lock_contended);
	jm__row_begin(&a->stats->seq);
	a->stats->nthreads++;
	jm__row_end(&a->stats->seq);
	jm__unlock(a->lock);
	if (jm__tls_state == JM_TLS_NEW || jm__tls_state == JM_TLS_NO_CACHE) {
		/* Have the thread-exit hook run even without a cache (also
		 * for a thread that has none by configuration: its arena
		 * counts it until it exits). */
		pthread_setspecific(tc_key, (void *)1);
	}
	return a;
}

/* Gives the calling thread its cache; returns it, or jm__tcache_none when
 * the thread is to have none (tcache:0, junk:1, out of memory, exiting). */
struct jmstat_tcache_bin *jm__tcache_boot(void)
{
	jm__ensure_init();
	if (jm__tls_state != JM_TLS_NEW)
		return jm__tls_tbins;
	if (!jm__opt.tcache || jm__opt.junk) {
		jm__tls_state = JM_TLS_NO_CACHE;
		return jm__tcache_none;
	}
	tls_booting = !jm__thread_freed_first();
	struct jm_arena *a = jm__thread_arena();
	tls_booting = false;
	pthread_mutex_lock(&tc_lock);
	struct jm_tcache *tc = tc_free_list;
	if (tc) {
		tc_free_list = tc->next_free;
	} else if (a->tc_room != NULL) {   /* on the page of a's new fields */
		tc = a->tc_room;
		a->tc_room = NULL;
	}
	/* Counted from here, before it takes a row (dead_drain). */
	__atomic_store_n(&tc_nlive, tc_nlive + 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&tc_lock);
	if (tc == NULL && (tc = jm__base_alloc(sizeof(*tc))) == NULL) {
		pthread_mutex_lock(&tc_lock);
		__atomic_store_n(&tc_nlive, tc_nlive - 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&tc_lock);
		return jm__tcache_none;
	}
	memset(tc, 0, sizeof(*tc));
	tc->row = jm__stats_thread_row_get();
	if (tc->row == NULL) {
		pthread_mutex_lock(&tc_lock);
		tc->next_free = tc_free_list;
		tc_free_list = tc;
		__atomic_store_n(&tc_nlive, tc_nlive - 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&tc_lock);
		return jm__tcache_none;
	}
	tc->bins = (struct jmstat_tcache_bin *)(tc->row + 1);
	tc->arena = a;
	tc->fork_depth = jm__fork_depth;
	for (unsigned i = 0; i < JM_NBINS; i++) {
		tc->bins[i].opaque = 0;   /* readers' word: the head is private */
		*jm__tb_head(&tc->bins[i]) = 0;
		jm__tb_set(&tc->bins[i], 0, jm__bin_info[i].tcache_max);
		tc->bins[i].nrequests = 0;
		if (jm__bin_info[i].size < JM_PAGE_CLASS_MIN)
			tc->capacity_bytes += (uint64_t)jm__bin_info[i].tcache_max * jm__bin_info[i].size;
	}
	*jm__tb_head(&tc->bins[JM_NBINS]) = 0;   /* JM_TBIN_EMPTY's head: always 0 */
	tc->row->large_cached = 0;
	tc->row->tid = (uint32_t)syscall(SYS_gettid);
	tc->row->arena = a->index;
	__atomic_store_n(&tc->row->in_use, 1, __ATOMIC_RELEASE);
	tls_tc = tc;
	jm__tls_set_bins(tc->bins);
	jm__tls_state = JM_TLS_CACHED;
	pthread_setspecific(tc_key, tc);
	pthread_mutex_lock(&tc_lock);
	tc->next_live = tc_live;
	tc_live = tc;
	pthread_mutex_unlock(&tc_lock);
	return tc->bins;
}

static void push(struct jmstat_tcache_bin *tb, unsigned binind, void *p)
{
	jm__flist_push_c(jm__tb_head(tb), p, binind == 0);
	jm__tb_inc(tb);
}

/* The list's last fill was allocated to the last region, with no free of
 * the class between (the requests it served since are the regions it
 * took: stream_mark), and no other thread lives: an allocation stream.
 * Its capacity doubles, while it stays within TCACHE_STREAM_BYTES and the
 * thread's budget, so that its fills are bigger and fewer: each costs a
 * lock of the bin and its counters, whatever it takes (purge-rounds'
 * million 64 B regions took 125,000 fills of 32). A class whose frees
 * come between (trim-often, a random mix: its lists, seldom full, seldom
 * flush) keeps its capacity: grown there, it kept 3 MiB more in the cache.
 * So does a thread among others: a stream there is a producer whose
 * regions another thread frees, or one of many threads each holding its
 * own (peak RSS of sh8bench 10.4 -> 14.1 MiB, many-threads 51 -> 59,
 * larson 12.6 -> 13.8 with streams grown in every thread). */
static void stream_grow(struct jm_tcache *tc, struct jmstat_tcache_bin *tb, unsigned binind)
{
	const struct jm_bin_info *bi = &jm__bin_info[binind];
	uint32_t max = jm__tb_max(tb) * 2;
	if (!tc->filled_last[binind] || (uint32_t)tb->nrequests != tc->stream_mark[binind] ||
	    max > bi->tcache_hard_max || (uint64_t)max * bi->size > TCACHE_STREAM_BYTES ||
	    jm__arena_live_threads() > 1)
		return;
	uint64_t grow = (uint64_t)(max - jm__tb_max(tb)) * bi->size;
	if (tc->capacity_bytes + grow > thread_budget())
		return;
	tc->capacity_bytes += grow;
	jm__tb_set(tb, jm__tb_ncached(tb), max);
}

/* The thread's heap grows (its runs took SWEEP_PAGES pages that were not
 * resident since the last look): a list that served no allocation since
 * the last look and holds SWEEP_MIN_BYTES or more is flushed whole and
 * goes back to the capacity it started at, so that the runs of a class
 * the thread has stopped using empty and their pages serve the growth
 * instead of fresh ones. Not a list of less, which a class's first fills
 * leave (at most 8 KiB): flushed, it frees no page, and the next
 * allocation of the class fills again, writing regions of its run the
 * program had not touched (a small program of 12 sizes: a page more). The
 * GC (jm__tcache_gc) runs every GC_EVENTS fills and flushes, and a
 * thread whose lists serve it without either (a phase of one class in
 * batches its list holds) makes none: glibc-simple's lists of 16, 64 and
 * 256 bytes kept their 1600 regions each, 0.5 MiB, through its phase of
 * 1 KiB. Looked at only on this slow path, after a fill that took the
 * thread's count past SWEEP_PAGES: a heap that does not grow, or grows
 * by pages freed before, costs nothing; one that grows pays 40 list
 * heads read per 64 KiB of page faults. */
static void sweep_idle(struct jm_tcache *tc, unsigned except)
{
	for (unsigned b = 0; b < JM_NBINS; b++) {
		struct jmstat_tcache_bin *tb = &tc->bins[b];
		const struct jm_bin_info *bi = &jm__bin_info[b];
		uint32_t req = (uint32_t)tb->nrequests;
		bool idle = req == tc->nrequests_at_sweep[b];
		tc->nrequests_at_sweep[b] = req;
		if (!idle || b == except ||
		    (uint64_t)jm__tb_ncached(tb) * bi->size < SWEEP_MIN_BYTES)
			continue;
		jm__tcache_flush_some(tb, b, 0);
		if (bi->size < JM_PAGE_CLASS_MIN && jm__tb_max(tb) > bi->tcache_max) {
			tc->capacity_bytes -= (uint64_t)(jm__tb_max(tb) - bi->tcache_max) * bi->size;
			jm__tb_set(tb, 0, bi->tcache_max);
		}
	}
}

void *jm__tcache_alloc_slow(struct jmstat_tcache_bin *tbins, unsigned binind)
{
	struct jm_tcache *tc = tls_tc;
	struct jmstat_tcache_bin *tb = &tbins[binind];
	/* Half the capacity, also for an allocation stream (filled last and
	 * emptied again): three quarters there saved a third of the fills
	 * but kept more regions idle in every cache (glibc-simple's peak RSS
	 * 4.3 -> 5.9 MiB, faults 755 -> 1149); a stream's capacity grows
	 * instead, by at most 32 KiB of regions and in a process of one
	 * thread (glibc-simple's peak RSS 4.0 MiB before and after). The list
	 * is empty here; the bin links the regions into it, lowest address
	 * first. */
	/* A page class takes a region of the next class if the thread has
	 * one (a page more), and else one region from its bin: its cache
	 * fills by frees, as the lists of large regions these classes
	 * replaced did (a fill of half the cap took up to 16 fresh runs of
	 * 4-8 pages: glibc-thread's peak RSS +20%). */
	if (jm__bin_info[binind].size >= JM_PAGE_CLASS_MIN && binind + 1 < JM_NBINS) {
		struct jmstat_tcache_bin *nb = tb + 1;
		void *q = jm__flist_pop(jm__tb_head(nb));
		if (q) {
			jm__tb_dec(nb);
			tb->nrequests++;
			return q;
		}
	}
	if (jm_unlikely(tls_uncounted) && ++tls_fills >= CLAIM_FILLS)
		thread_claim();
	stream_grow(tc, tb, binind);
	unsigned want = jm__tb_max(tb) / 2 ? jm__tb_max(tb) / 2 : 1;
	if (jm__bin_info[binind].size >= JM_PAGE_CLASS_MIN)
		want = 1;
	unsigned n = jm__bin_fill(tc->arena, binind, jm__tb_head(tb), want);
	if (n == 0) {
		errno = ENOMEM;
		return NULL;
	}
	/* The list was empty: its count is set, not added to (whatever a
	 * writer of the segment made of the row's). */
	jm__tb_set(tb, n - 1, jm__tb_max(tb));
	void *first = jm__flist_pop_c(jm__tb_head(tb), binind == 0);
	tc->nfills_since_gc[binind]++;
	tc->filled_last[binind] = true;
	tb->nrequests++;
	tc->stream_mark[binind] = (uint32_t)tb->nrequests + n - 1;
	if (jm__tls_fresh_pages >= SWEEP_PAGES) {
		jm__tls_fresh_pages = 0;
		sweep_idle(tc, binind);
	}
	if (++tc->nslow % GC_EVENTS == 0)
		jm__tcache_gc();
	return first;
}

/* Flushes all but the `keep` most recently freed regions of one bin: the
 * rest of the list goes to the bins as it is. Returns the runs it went
 * through (jm__bin_free_list). */
unsigned jm__tcache_flush_some(struct jmstat_tcache_bin *tb, unsigned binind, unsigned keep)
{
	void *p = (void *)*jm__tb_head(tb);
	void *last_kept = NULL;
	unsigned kept = 0;
	for (; kept < keep && p; kept++) {
		last_kept = p;
		p = jm__flist_next(p);
	}
	if (p == NULL) {
		/* Nothing past keep: the list holds `kept`, which its count
		 * says unless another process wrote the row's. */
		if (jm__tb_ncached(tb) != kept)
			jm__tb_set(tb, kept, jm__tb_max(tb));
		return 0;
	}
	if (last_kept)
		jm__flist_cut(last_kept);
	else
		*jm__tb_head(tb) = 0;
	jm__tb_set(tb, kept, jm__tb_max(tb));
	if (binind == 0 && jm_unlikely(__atomic_load_n(&jm__c0_pop_max, __ATOMIC_ACQUIRE) < 0))
		for (const void *q = p; q && __atomic_load_n(&jm__c0_pop_max, __ATOMIC_RELAXED) < 0;
		     q = jm__flist_next(q))
			jm__tcache_c0_check(q);
	jm__bg_check(0);
	/* A list whose last flushes went through about as many runs as
	 * regions (drained: freed in random order, jm__tcache_free_full)
	 * is freed with its run records prefetched (bin.c). */
	struct jm_tcache *tc = tls_tc;
	return jm__bin_free_list(p, binind, tc && tc->drained[binind] != 0);
}

/* Whether more than one in FOREIGN_SHARE of the n regions at the top of
 * the list at p belong to other arenas than a. */
static bool fed_by_others(const void *p, unsigned n, const struct jm_arena *a)
{
	unsigned foreign = 0, seen = 0;
	for (; p && seen < n; p = jm__flist_next(p), seen++)
		foreign += ((const struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK))->arena != a;
	return foreign * FOREIGN_SHARE > seen;
}

/* The arena of which more than half of the n regions at the top of the
 * list at p are, if it is another than a; else NULL. */
static struct jm_arena *feeder_of(const void *p, unsigned n, const struct jm_arena *a)
{
	struct jm_arena *x = NULL;
	unsigned nx = 0, seen = 0;
	for (; p && seen < n; p = jm__flist_next(p), seen++) {
		struct jm_arena *pa = ((const struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK))->arena;
		if (pa != a && (x == NULL || pa == x)) {
			x = pa;
			nx++;
		}
	}
	return nx * 2 > seen ? x : NULL;
}

/* Counts a full list, and whether its most recent regions are mostly
 * those of one other arena of a lower index (the one of the two that
 * both threads of a pair would choose); every FEED_LOOK of them, returns
 * that arena if at least a quarter were (the arena to move to), else
 * NULL. */
static struct jm_arena *count_feeder(struct jm_tcache *tc, const struct jmstat_tcache_bin *tb)
{
	struct jm_arena *x = feeder_of((void *)*jm__tb_head(tb), FEED_SAMPLE, tc->arena);
	if (x && x->index < tc->arena->index && (tc->feeder == NULL || tc->feeder == x)) {
		tc->feeder = x;
		tc->nflushes_fed++;
	}
	if (++tc->nflushes_seen < FEED_LOOK)
		return NULL;
	struct jm_arena *to = tc->nflushes_fed * 4 >= tc->nflushes_seen ? tc->feeder : NULL;
	tc->nflushes_seen = tc->nflushes_fed = 0;
	tc->feeder = NULL;
	return to;
}

/* The calling thread's share of TCACHE_TOTAL, in bytes of capacity; in a
 * thread that called malloc_trim within its last TRIM_RECENT slow-path
 * events (a trim counts GC_EVENTS / 2 of them: jm__tcache_trim), the
 * least share, TCACHE_FLOOR. Such a thread asks for its memory back after
 * every request or few operations, and what its lists grew to beyond
 * their first capacity was resident between its calls, where the calls'
 * GC (given back what went unused) did not reach: trim-often's peak RSS
 * 9.5-9.7 -> 9.1 MiB for the same page faults (docs/purging.md,
 * "malloc_trim"). A thread that trims once in a while gets its share
 * back after TRIM_RECENT fills and flushes. */
#define TRIM_RECENT (4 * GC_EVENTS)
static uint64_t thread_budget(void)
{
	const struct jm_tcache *tc = tls_tc;
	if (jm_unlikely(tc != NULL && tc->trim_nslow != 0) && tc->nslow - tc->trim_nslow < TRIM_RECENT)
		return TCACHE_FLOOR;
	unsigned n = jm__arena_live_threads();
	uint64_t b = n ? TCACHE_TOTAL / n : TCACHE_BUDGET;
	return b > TCACHE_BUDGET ? TCACHE_BUDGET : b < TCACHE_FLOOR ? TCACHE_FLOOR : b;
}

/* The free fast path found a full list: make room, then push. */
void jm__tcache_free_full(struct jmstat_tcache_bin *tb, unsigned binind, void *ptr)
{
	struct jm_tcache *tc = tls_tc;
	if (jm_unlikely(jm__fork_depth != 0) && tc && !tls_forked &&
	    jm__tls_state == JM_TLS_CACHED && list_inherited((void *)*jm__tb_head(tb)))
		forked_enter();
	const struct jm_bin_info *bi = &jm__bin_info[binind];
	struct jm_arena *to = tc && tc->arena->index > 0 ? count_feeder(tc, tb) : NULL;
	uint32_t max = jm__tb_max(tb) * 2 < bi->tcache_hard_max ? jm__tb_max(tb) * 2 : bi->tcache_hard_max;
	uint64_t grow = (uint64_t)(max - jm__tb_max(tb)) * bi->size;
	uint64_t budget = tc ? thread_budget() : 0;
	if (tc && tc->capacity_bytes > budget && jm__tb_max(tb) > bi->tcache_max) {
		/* Over the thread's share: this list gives half back. */
		uint32_t half = jm__tb_max(tb) / 2 > bi->tcache_max ? jm__tb_max(tb) / 2 : bi->tcache_max;
		tc->capacity_bytes -= (uint64_t)(jm__tb_max(tb) - half) * bi->size;
		jm__tb_set(tb, jm__tb_ncached(tb), half);
		max = half;
	}
	/* The top half of a list full after a fill holds only regions freed
	 * since the fill. */
	if (tc && tc->filled_last[binind] && max > jm__tb_max(tb) &&
	    tc->capacity_bytes + grow <= budget &&
	    ((uint64_t)max * bi->size <= TCACHE_FED_BYTES || max <= TCACHE_FED_REGS ||
	     (!__atomic_load_n(&tc->arena->shared, __ATOMIC_RELAXED) &&
	      !fed_by_others((void *)*jm__tb_head(tb), jm__tb_max(tb) / 2, tc->arena)))) {
		tc->capacity_bytes += grow;
		jm__tb_set(tb, jm__tb_ncached(tb), max);
	} else if (tc && tc->nrequests_at_flush[binind] == tb->nrequests) {
		/* Nothing was taken from this list since its last flush: the
		 * thread only frees here, keeping regions serves nothing. Nor
		 * does a long list whose regions are scattered over as many
		 * runs (freed in random order), once the thread freed more of
		 * them without allocating than the list could ever hold (a
		 * batch that fits it keeps its capacity, which grows to hold
		 * the batch): its capacity goes down to JM_TCACHE_DRAIN_REGS.
		 * A flush walks the list through the regions, and a region
		 * freed 4096 frees before (the most a list of 16 B holds) had
		 * its line and its page's TLB entry evicted by the 4095
		 * since: the walk was a chain of misses (2M regions of 16 B
		 * freed at random: 52-75 ns a free, 35-44 at a capacity of
		 * 128-512, jemalloc 36, mimalloc 21). Regions freed in the
		 * order they were allocated (neighbours, or a consumer's, which
		 * its producer took in address order) share their lines and
		 * pages, and are cheaper in bigger batches (xmalloc's consumer
		 * at 256: 2% more instructions). A fill that empties the list
		 * and the flush after double it again. */
		unsigned n = jm__tb_ncached(tb);
		unsigned runs = jm__tcache_flush_some(tb, binind, 0);
		if (runs * 2 <= n)
			tc->drained[binind] = 0;
		else if (tc->drained[binind] < bi->tcache_hard_max)
			tc->drained[binind] += n;
		if (tc->drained[binind] >= bi->tcache_hard_max &&
		    jm__tb_max(tb) > JM_TCACHE_DRAIN_REGS && JM_TCACHE_DRAIN_REGS >= bi->tcache_max) {
			tc->capacity_bytes -= (uint64_t)(jm__tb_max(tb) - JM_TCACHE_DRAIN_REGS) * bi->size;
			jm__tb_set(tb, 0, JM_TCACHE_DRAIN_REGS);
		}
	} else {
		jm__tcache_flush_some(tb, binind, jm__tb_max(tb) / 2);
	}
	if (tc) {
		if (tc->nrequests_at_flush[binind] != tb->nrequests)
			tc->drained[binind] = 0;
		tc->nrequests_at_flush[binind] = tb->nrequests;
	}
	push(tb, binind, ptr);
	if (tc) {
		tc->filled_last[binind] = false;
		if (++tc->nslow % GC_EVENTS == 0)
			jm__tcache_gc();
	}
	if (to)
		tcache_move(tc, to);
}

/* The list of a large region of npages: pages - 1 up to 16 pages; from 17
 * to 64 pages, lists by page-count class, each of the regions from its
 * class's least size up to the next class's (17-19, 20-23, 24-27, 28-31,
 * 32-39, 40-47, 48-55, 56-64 pages: large_least), at 16 to 23. Regions
 * keep their exact sizes (a request is not rounded up: frag's peak RSS
 * was 2% more with requests rounded to the classes), and a region of a
 * class list carries its page count in its word 2 (word 0 is the link,
 * word 1 the cookie). */
static inline unsigned large_index(size_t npages)
{
	if (npages <= JM_TCACHE_LARGE_MAX_PAGES)
		return (unsigned)npages - JM_TCACHE_LARGE_MIN_PAGES;
	return JM_TCACHE_LARGE_MAX_PAGES - JM_TCACHE_LARGE_MIN_PAGES + 1 +
	    (npages < 20 ? 0 : npages < 32 ? 1 + (unsigned)(npages - 20) / 4 :
	     npages < 56 ? 4 + (unsigned)(npages - 32) / 8 : 7);
}
#define JM_TCACHE_CLASS0 (JM_TCACHE_LARGE_MAX_PAGES - JM_TCACHE_LARGE_MIN_PAGES + 1)

/* The pages of the cached large region w: its run's, from its chunk's
 * page map (word 2 is the program's to overwrite once it wrote into a
 * freed region: believed, a count it wrote there handed out a region
 * smaller than the request, and miscounted large_cached and class_bytes). */
static inline size_t large_region_pages(const void *w)
{
	const struct jm_chunk *c = (const struct jm_chunk *)((uintptr_t)w & ~(uintptr_t)JM_CHUNK_MASK);
	uint64_t pm = c->pagemap[((uintptr_t)w & JM_CHUNK_MASK) >> JM_LG_PAGE];
	return jm__chunk_run(c, JM_PM_START(pm))->npages;
}

/* A cached large region w (a list's head) must carry its cookie: a
 * program that wrote into a freed region over its link (word 0) had the
 * address it wrote taken for the list's next region, handed out by the
 * request after the one that took the region back (lists of 1 to 16
 * pages), or its chunk's page map read (a fault, the class lists), or
 * freed to its arena as a region at a flush. Reported instead, as a
 * double free finds a region's cookie; checked before anything else of
 * it is read (tests/preload/misuse.test.sh, write-after-free-large-link
 * and -class-link). */
static inline void large_check(const void *w)
{
	if (jm_unlikely(!jm__flist_is_free(w)))
		jm__report_misuse("write after free in a cached large region", w);
}

/* A list's head, checked (large_check), taken off it. */
static inline void *large_pop(uintptr_t *head)
{
	if (*head)
		large_check((const void *)*head);
	return jm__flist_pop(head);
}

/* The pages of a class list's top region, or 0 if it has none. Its link's
 * cookie and the page count its free wrote in word 2 are checked: a
 * program that wrote into the freed region is reported (as a double free
 * finds a region's cookie), not handed a region by a count it wrote. */
static inline size_t large_top_pages(const struct jm_tcache *tc, unsigned k)
{
	const uintptr_t *w = (const uintptr_t *)tc->large_head[k];
	if (w == NULL)
		return 0;
	large_check(w);
	size_t np = large_region_pages(w);
	if (jm_unlikely(w[2] != np))
		jm__report_misuse("write after free in a cached large region", w);
	return np;
}

/* A cached region of npages (or a few more) whose address has no bit of
 * amask set: 0 for any, alignment - 1 for an aligned request (one above a
 * page took the arena's lock, its aligned search among free runs and a
 * coalesce at its free, while the thread cached the region it had just
 * freed, aligned: the `aligned` workload, 64 KiB-aligned buffers of 16 to
 * 256 KiB). Only a list's top region is looked at. */
static inline __attribute__((always_inline)) void *large_alloc(size_t npages, uintptr_t amask)
{
	struct jm_tcache *tc = tls_tc;
	/* A thread whose first allocation is a large one boots its cache
	 * here, as alloc_small does (one that only ever took large regions
	 * had none, and each of its mallocs and frees took the arena's lock,
	 * searched its free runs and coalesced: 3.3 x the cached time for
	 * pairs of 10-17 pages). */
	if (jm_unlikely(tc == NULL) && jm__tls_state == JM_TLS_NEW) {
		(void)jm__tcache_boot();
		tc = tls_tc;
	}
	/* Not while the cache is set aside (bg.c, the purger's start): what
	 * pthread_create allocates must not take a region the program freed
	 * (a sampled page it may free again), as for the small lists. */
	if (tc == NULL || jm__tls_state != JM_TLS_CACHED)
		return NULL;
	unsigned k = large_index(npages);
	tc->large_used |= 1u << k;
	void *p;
	if (k >= JM_TCACHE_CLASS0) {
		/* The class's top region if it is large enough (a program
		 * that frees and asks the same size takes back its last),
		 * else the next class's, which is. */
		size_t have = large_top_pages(tc, k);
		if ((have < npages || (tc->large_head[k] & amask) != 0) && k + 1 < JM_TCACHE_NLARGE) {
			k++;
			tc->large_used |= 1u << k;
			have = large_top_pages(tc, k);
		}
		if (have < npages || (tc->large_head[k] & amask) != 0)
			return NULL;
		p = jm__flist_pop(&tc->large_head[k]);
		tc->large_n[k]--;
		tc->row->large_cached -= have << JM_LG_PAGE;
		tc->class_bytes -= (uint32_t)(have << JM_LG_PAGE);
		return p;
	}
	p = (tc->large_head[k] & amask) == 0 ? large_pop(&tc->large_head[k]) : NULL;
	/* None of this size: one a page larger, if the thread has one (a
	 * region of 4 to 15 pages). */
	if (p == NULL && npages >= 4 && npages < JM_TCACHE_LARGE_MAX_PAGES &&
	    (tc->large_head[k + 1] & amask) == 0 &&
	    (p = large_pop(&tc->large_head[k + 1])) != NULL) {
		k++;
		npages++;
	}
	if (p) {
		tc->large_n[k]--;
		tc->row->large_cached -= npages << JM_LG_PAGE;
	}
	return p;
}

void *jm__tcache_large_alloc(size_t npages)
{
	return large_alloc(npages, 0);
}

void *jm__tcache_large_alloc_aligned(size_t npages, size_t align)
{
	return large_alloc(npages, align - 1);
}

/* How many regions of each size a thread's list keeps (JM_TCACHE_*_BYTES
 * divided by the size: a constant, not a division on every free). */
#define LARGE_CAP(np) ((np) < 4 ? JM_TCACHE_SAMPLED_BYTES / ((np) << JM_LG_PAGE) \
                       : (np) <= 8 ? JM_TCACHE_LARGE_BYTES / ((np) << JM_LG_PAGE) \
                       : (np) <= 16 ? JM_TCACHE_BUF_BYTES / ((np) << JM_LG_PAGE) \
                                    : JM_TCACHE_CLASS_BYTES / ((np) << JM_LG_PAGE))
static const uint16_t large_cap[JM_TCACHE_NLARGE] = {
	LARGE_CAP(1), LARGE_CAP(2), LARGE_CAP(3), LARGE_CAP(4),
	LARGE_CAP(5), LARGE_CAP(6), LARGE_CAP(7), LARGE_CAP(8),
	LARGE_CAP(9), LARGE_CAP(10), LARGE_CAP(11), LARGE_CAP(12),
	LARGE_CAP(13), LARGE_CAP(14), LARGE_CAP(15), LARGE_CAP(16),
	LARGE_CAP(17), LARGE_CAP(20), LARGE_CAP(24), LARGE_CAP(28),
	LARGE_CAP(32), LARGE_CAP(40), LARGE_CAP(48), LARGE_CAP(56),
};
_Static_assert(JM_TCACHE_LARGE_MIN_PAGES == 1 && JM_TCACHE_NLARGE == 24 &&
    JM_TCACHE_NCLASS == 8 && JM_TCACHE_CLASS_MAX_PAGES == 64,
    "large_cap and large_index list the sizes the thread caches");
_Static_assert(JM_TCACHE_SAMPLED_BYTES / JM_PAGE <= 255 && JM_TCACHE_LARGE_BYTES / (4 * JM_PAGE) <= 255 &&
    JM_TCACHE_BUF_BYTES / (9 * JM_PAGE) <= 255 && JM_TCACHE_CLASS_BYTES / (17 * JM_PAGE) <= 255 &&
    JM_TCACHE_NLARGE <= 32,
    "a list's length fits large_n, a size's bit large_used");

/* Whether the thread caches a region of more than 8 pages. */
static bool holds_big(const struct jm_tcache *tc)
{
	if (tc->class_bytes != 0)
		return true;
	for (size_t np = 9; np <= JM_TCACHE_LARGE_MAX_PAGES; np++)
		if (tc->large_n[large_index(np)] != 0)
			return true;
	return false;
}

bool jm__tcache_large_free(void *ptr, size_t npages, unsigned arena_index)
{
	struct jm_tcache *tc = tls_tc;
	if (tc == NULL)
		return false;
	/* Only the thread's own arena's: readers take a thread's large_cached
	 * off its arena's allocated (another arena's region cached here would
	 * be taken off the wrong one, and the clamp at 0 kept it counted). The
	 * region's arena is its page-map entry's, the thread's its cache's
	 * (not its row's, which any process of our uid may rewrite): no
	 * chunk header is read. */
	if (arena_index != tc->arena->index)
		return false;
	unsigned k = large_index(npages);
	if (k >= JM_TCACHE_CLASS0 &&
	    tc->class_bytes + (npages << JM_LG_PAGE) > JM_TCACHE_CLASS_TOTAL)
		return false;   /* within the total of the class lists */
	if (tc->large_n[k] >= large_cap[k])
		return false;
	/* Of 9 pages and up, in an arena other threads share (the header,
	 * "an arena shared": threads counted in it), one region at a time:
	 * the others take back from the arena what this thread freed,
	 * instead of mapping new regions while its buffers wait in its lists
	 * (py-pool32: 32 threads on 8 arenas, each holding its last json
	 * buffers, 1.61 x glibc's peak RSS with every list's cap, 1.38 x
	 * with none, 1.36-1.40 x with one), and a thread that frees a buffer
	 * and asks the same again takes it back without the arena's lock,
	 * search and coalescing (16 threads, pairs of 10-17 pages: 3.5 x
	 * faster than with none). */
	if (npages > 8 && jm__arena_nthreads(tc->arena->index) > 1 && holds_big(tc))
		return false;
	jm__flist_push(&tc->large_head[k], ptr);
	tc->large_n[k]++;
	tc->row->large_cached += npages << JM_LG_PAGE;
	if (k >= JM_TCACHE_CLASS0) {
		((uintptr_t *)ptr)[2] = npages;
		tc->class_bytes += (uint32_t)(npages << JM_LG_PAGE);
	}
	return true;
}

/* Returns the cached large regions of one size to their arenas. */
static void large_flush(struct jm_tcache *tc, unsigned k)
{
	void *w;
	uint64_t bytes = 0;
	tc->large_n[k] = 0;
	while ((w = large_pop(&tc->large_head[k])) != NULL) {
		bytes += (k >= JM_TCACHE_CLASS0 ? large_region_pages(w) : k + JM_TCACHE_LARGE_MIN_PAGES) << JM_LG_PAGE;
		struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)w & ~(uintptr_t)JM_CHUNK_MASK);
		jm__large_free(c, w, c->pagemap[((uintptr_t)w & JM_CHUNK_MASK) >> JM_LG_PAGE]);
	}
	tc->row->large_cached -= bytes;
	if (k >= JM_TCACHE_CLASS0)
		tc->class_bytes -= (uint32_t)bytes;
}

/*
 * The large regions in the caches of the threads gone at a fork. A forked
 * child inherits the caches of all of its parent's threads, and only the
 * forking thread lives on in it: the regions the others cached (up to
 * 512 KiB a thread, counted in their arenas' allocated_large, their rows
 * out of use in the child) were never given back, in a long-lived child
 * (a pre-forking server's worker) for its whole life. The child's first
 * GC look (every GC_EVENTS slow-path events, or a malloc_trim) gives them
 * back: not in the fork handler, which would write the gone caches' and
 * the runs' pages in every child (a fork-and-exec's too), nor on a fast
 * path. A gone cache is one booted before the process's last fork
 * (fork_depth) that is not the forking thread's (tc_forker) nor the
 * calling thread's; its large lists are in
 * the cache itself, which no thread of the child takes (its row may be),
 * and are whole as the small ones are (above, dead_link_ok: a push writes
 * the region's link and cookie before the head). Each link is checked
 * all the same, under tc_lock: a list with one that fails is left as it
 * was. The regions are freed after tc_lock (a free may start the purger).
 */
static bool gone_large_ok(uintptr_t u, unsigned k)
{
	uint64_t pm;
	struct jm_chunk *c;
	if ((u & (JM_PAGE - 1)) || (c = dead_link_chunk(u, &pm)) == NULL)
		return false;
	size_t page = (u & JM_CHUNK_MASK) >> JM_LG_PAGE;
	if (JM_PM_KIND(pm) != JM_PM_LARGE || JM_PM_START(pm) != page)
		return false;
	const struct jm_run *r = jm__chunk_run(c, page);
	if (r->state != JM_RUN_LARGE || r->npages < JM_TCACHE_LARGE_MIN_PAGES ||
	    r->npages > JM_TCACHE_CLASS_MAX_PAGES || large_index(r->npages) != k)
		return false;
	return jm__flist_is_free((const void *)u);
}

/* Under tc_lock: the large lists of the gone cache d that check out taken
 * off it onto *chain (through the regions' word 0). */
static void gone_take_large(struct jm_tcache *d, uintptr_t *chain)
{
	for (unsigned k = 0; k < JM_TCACHE_NLARGE; k++) {
		uintptr_t head = d->large_head[k];
		if (head == 0)
			continue;
		uintptr_t p = head, tail = 0;
		unsigned n = 0;
		for (; p != 0 && n <= large_cap[k] && gone_large_ok(p, k); n++) {
			tail = p;
			p = (uintptr_t)jm__flist_next((void *)p);
		}
		if (p != 0)
			continue;   /* left as it was */
		((uintptr_t *)tail)[0] = *chain;
		*chain = head;
		d->large_head[k] = 0;
		d->large_n[k] = 0;
	}
}

static void gone_free_large(uintptr_t chain)
{
	void *w;
	while ((w = jm__flist_pop(&chain)) != NULL) {
		struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)w & ~(uintptr_t)JM_CHUNK_MASK);
		jm__large_free(c, w, c->pagemap[((uintptr_t)w & JM_CHUNK_MASK) >> JM_LG_PAGE]);
	}
}

/* The gone caches' large regions given back (above); their small lists
 * too where no other cache lives (dead_drain). tc is the caller's. */
static JM_NOINLINE void gone_drain(struct jm_tcache *tc)
{
	uintptr_t chain = 0;
	pthread_mutex_lock(&tc_lock);
	if (tc_gone_large) {
		__atomic_store_n(&tc_gone_large, false, __ATOMIC_RELAXED);
		for (struct jm_tcache *d = tc_live; d != NULL; d = d->next_live)
			if (d != tc && d != tc_forker && d->fork_depth != jm__fork_depth)
				gone_take_large(d, &chain);
	}
	pthread_mutex_unlock(&tc_lock);
	gone_free_large(chain);
	if (__atomic_load_n(&tc_nlive, __ATOMIC_RELAXED) == 1 && tc_dead != 0)
		dead_drain(tc);
}

#ifdef JM_TEST
/* Whether gone caches' large lists are still to be looked at. */
bool jm__tcache_test_gone_pending(void);
bool jm__tcache_test_gone_pending(void) { return __atomic_load_n(&tc_gone_large, __ATOMIC_RELAXED); }
#endif

void jm__tcache_gc(void)
{
	struct jm_tcache *tc = tls_tc;
	if (tc == NULL)
		return;
	if (jm_unlikely(jm__stats_retry_due))
		jm__stats_retry();   /* a rare, slow point: no lock held */
	if (jm_unlikely(__atomic_load_n(&tc_gone_large, __ATOMIC_RELAXED)))
		gone_drain(tc);
	for (unsigned k = 0; k < GC_BINS_PER_LOOK; k++) {
		unsigned b = tc->gc_bin;
		tc->gc_bin = (b + 1) % JM_NBINS;
		struct jmstat_tcache_bin *tb = &tc->bins[b];
		if (tc->nfills_since_gc[b] == 0 && jm__tb_ncached(tb) > 0) {
			jm__tcache_flush_some(tb, b, jm__tb_ncached(tb) / 2);
			uint32_t max = jm__tb_max(tb) / 2;
			if (max < jm__bin_info[b].tcache_max)
				max = jm__bin_info[b].tcache_max;
			tc->capacity_bytes -= (uint64_t)(jm__tb_max(tb) - max) * jm__bin_info[b].size;
			jm__tb_set(tb, jm__tb_ncached(tb), max);
			if (jm__tb_ncached(tb) > max)
				jm__tcache_flush_some(tb, b, max);
		}
		tc->nfills_since_gc[b] = 0;
	}
	for (unsigned k = 0; k < JM_TCACHE_NLARGE; k++) {
		if (!(tc->large_used & (1u << k)) && tc->large_n[k])
			large_flush(tc, k);
	}
	tc->large_used = 0;
}

/* malloc_trim (compat.c): the program asks for its memory back. Each call
 * counts as half a GC period of slow-path events, so that the cache of a
 * thread that trims after every request (programs tuned for glibc's
 * malloc, stress-ng's malloc stressor) gives back what it did not use, as
 * a busy thread's does. Its lists grew to their caps and seldom emptied,
 * so the slow path, and with it the GC, seldom ran: trim-often (2
 * threads, a trim every 48 operations) peaked at 14.8 MiB and 4.2k page
 * faults against mimalloc's 11.7 MiB and 2.7k, and reaches 9.0 MiB and
 * 2.7k so, for 8% more instructions (callgrind), the fills and flushes.
 * Counting operations on the fast path (jemalloc's tcache events) would
 * cost every program. The call also marks the thread as trimming
 * (trim_nslow): its lists grow within the least budget (thread_budget). */
void jm__tcache_trim(void)
{
	jm__tcache_inh_flush();
	struct jm_tcache *tc = tls_tc;
	if (tc == NULL || jm__tls_state != JM_TLS_CACHED)
		return;
	if (jm_unlikely(__atomic_load_n(&tc_gone_large, __ATOMIC_RELAXED)))
		gone_drain(tc);   /* the program asks for its memory back */
	uint64_t period = tc->nslow / GC_EVENTS;
	tc->nslow += GC_EVENTS / 2;
	tc->trim_nslow = tc->nslow;
	if (tc->nslow / GC_EVENTS != period)
		jm__tcache_gc();
}

/* Whether the calling thread's malloc_trim is a lone one: its first, or
 * the first after TRIM_RECENT slow-path events without one (compat.c:
 * such a call gives back everything, its cache first). False in a
 * thread without a cache. Read before jm__tcache_trim marks the call. */
bool jm__tcache_trim_lone(void)
{
	const struct jm_tcache *tc = tls_tc;
	if (tc == NULL || jm__tls_state != JM_TLS_CACHED)
		return false;
	return tc->trim_nslow == 0 || tc->nslow - tc->trim_nslow >= TRIM_RECENT;
}

bool jm__tcache_small_freed(void *ptr, unsigned binind)
{
	struct jmstat_tcache_bin *tb = &jm__tcache_own_bins()[binind];
	for (void *p = (void *)*jm__tb_head(tb); p; p = jm__flist_next(p))
		if (p == ptr)
			return true;
	struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)ptr & ~(uintptr_t)JM_CHUNK_MASK);
	uint64_t pm = c->pagemap[((uintptr_t)ptr & JM_CHUNK_MASK) >> JM_LG_PAGE];
	return jm__bin_region_is_free(c, ptr, pm);
}

void jm__tcache_check_double_free(void *ptr, unsigned binind)
{
	if (jm__tcache_small_freed(ptr, binind))
		jm__report_misuse("double free of a small region", ptr);
	/* Not in this thread's cache nor in its run: it may sit in another
	 * thread's cache. The cookie holds a random secret, so a match that
	 * is not a double free would need the program to have copied it out
	 * of freed memory. Class 0's tag is 15 bits of it, which an 8 B
	 * object in use matches one time in 2^15 if its top bit is set: let
	 * through (the caller sends such a region to its run unwritten, so
	 * that a double free of one in another thread's cache is that list
	 * flush's to report: malloc.c, free_in_chunk). */
	if (binind != 0)
		jm__report_misuse("double free of a small region (freed by another thread)", ptr);
}

/* Flushes everything the cache holds, and hands the requests its lists
 * served to its arena's bins (readers count those of live threads from
 * their rows, the others from the bins). */
static void tcache_empty(struct jm_tcache *tc)
{
	jm__tcache_inh_flush();   /* the calling thread's: tc is its cache */
	for (unsigned b = 0; b < JM_NBINS; b++) {
		struct jmstat_tcache_bin *tb = &tc->bins[b];
		/* By its head, not its count: the count is the segment's,
		 * which another process may have set to 0 (its regions were
		 * then allocated for ever: the row's next thread starts an
		 * empty list). */
		if (*jm__tb_head(tb) != 0)
			jm__tcache_flush_some(tb, b, 0);
		if (tb->nrequests) {
			struct jm_bin *bin = &tc->arena->bins[b];
			jm__lock(bin->lock, &bin->stats->lock_contended);
			jm__row_begin(&bin->stats->seq);
			bin->stats->nrequests += tb->nrequests;
			jm__row_end(&bin->stats->seq);
			jm__unlock(bin->lock);
			tb->nrequests = 0;
			tc->nrequests_at_flush[b] = 0;
		}
	}
	for (unsigned k = 0; k < JM_TCACHE_NLARGE; k++)
		large_flush(tc, k);
}

/* Moves the calling thread, whose cache is tc, to arena `to` if it may
 * (jm__arena_thread_move). Its cache is emptied first: its large regions
 * and the counts of its row are its arena's. */
static void tcache_move(struct jm_tcache *tc, struct jm_arena *to)
{
	struct jm_arena *from = tc->arena;
	if (!jm__arena_thread_move(to))
		return;
	tcache_switch(tc, from, to);
	__atomic_store_n(&to->shared, true, __ATOMIC_RELAXED);
}

/* The thread's first allocation after its arena was chosen at a free
 * (jm__arena_thread_claim): counted in its arena or another, its cache
 * moved there when it is another. Returns the arena. */
static struct jm_arena *thread_claim(void)
{
	tls_uncounted = false;
	struct jm_arena *from = tls_arena;
	struct jm_arena *to = jm__arena_thread_claim();
	if (to != from)
		tcache_switch(tls_tc, from, to);
	return to;
}

/* Empties the cache tc (NULL: the thread has none) and moves the thread's
 * count in the arenas' rows from `from` to `to`. */
static void tcache_switch(struct jm_tcache *tc, struct jm_arena *from, struct jm_arena *to)
{
	if (tc)
		tcache_empty(tc);
	jm__stats_settle();
	jm__lock(from->lock, &from->stats->lock_contended);
	jm__row_begin(&from->stats->seq);
	from->stats->nthreads--;
	jm__row_end(&from->stats->seq);
	jm__unlock(from->lock);
	jm__lock(to->lock, &to->stats->lock_contended);
	jm__row_begin(&to->stats->seq);
	to->stats->nthreads++;
	jm__row_end(&to->stats->seq);
	jm__unlock(to->lock);
	tls_arena = to;
	if (tc) {
		tc->arena = to;
		tc->row->arena = to->index;
	}
}

static void tcache_destroy(struct jm_tcache *tc)
{
	tcache_empty(tc);
	jm__stats_thread_row_put(tc->row);
	pthread_mutex_lock(&tc_lock);
	for (struct jm_tcache **pp = &tc_live; *pp != NULL; pp = &(*pp)->next_live)
		if (*pp == tc) {
			*pp = tc->next_live;
			break;
		}
	tc->next_free = tc_free_list;
	tc_free_list = tc;
	__atomic_store_n(&tc_nlive, tc_nlive - 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&tc_lock);
}

/* The calling thread's cached large regions, back to their arenas (a
 * mapping refused for want of memory: huge.c, map_or_release). */
void jm__tcache_large_flush_current(void)
{
	struct jm_tcache *tc = tls_tc;
	if (tc == NULL)
		return;
	for (unsigned k = 0; k < JM_TCACHE_NLARGE; k++)
		large_flush(tc, k);
}

void jm__tcache_flush_all_current(void)
{
	jm__tcache_inh_flush();
	struct jm_tcache *tc = tls_tc;
	if (tc == NULL)
		return;
	for (unsigned b = 0; b < JM_NBINS; b++)
		if (*jm__tb_head(&tc->bins[b]) != 0)   /* as tcache_empty */
			jm__tcache_flush_some(&tc->bins[b], b, 0);
	for (unsigned k = 0; k < JM_TCACHE_NLARGE; k++)
		large_flush(tc, k);
}

static void thread_exit(void *arg)
{
	struct jm_tcache *tc = tls_tc;
	/* From now on this thread allocates from its arena directly. */
	jm__tls_state = JM_TLS_EXITING;
	jm__tls_set_bins(jm__tcache_none);
	tls_tc = NULL;
	tls_forked = false;
	tls_drained = -1;   /* jm__tcache_inh_free's test */
	if (tc)
		tcache_destroy(tc);
	inh_put();
	struct jm_arena *a = tls_arena;
	tls_uncounted = false;
	if (a) {
		jm__arena_thread_exit();
		jm__stats_settle();
		jm__lock(a->lock, &a->stats->lock_contended);
		jm__row_begin(&a->stats->seq);
		a->stats->nthreads--;
		jm__row_end(&a->stats->seq);
		jm__unlock(a->lock);
		/* The program's last thread that allocated: the purger ends
		 * too (a later free starts it again if a thread is left). The
		 * process ends with its last thread, and a main thread that
		 * ended by pthread_exit left it alive for ever, the purger
		 * blocking every signal. */
		if (jm__arena_live_threads() == 0)
			jm__bg_stop();
	}
	(void)arg;
}

JM_FORK_TEXT struct jmstat_thread *jm__tcache_current_row(void)
{
	return tls_tc ? tls_tc->row : NULL;
}

void jm__tcache_prefork(void) { jm__fork_lock(&tc_lock); }
void jm__tcache_postfork_parent(void) { jm__fork_unlock(&tc_lock); }

JM_FORK_TEXT void jm__tcache_postfork_child(void)
{
	tc_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	/* Only this thread survives: its arena counts one thread (written
	 * only if it changes: the row's page is shared with the parent; owed
	 * already when the child publishes from the snapshot, stats.c). */
	if (tls_arena && jm__stats_owed != 1 + tls_arena->index) {
		jm__stats_settle();
		if (tls_arena->stats->nthreads != 1)
			tls_arena->stats->nthreads = 1;
	}
	/* The runs it takes regions of are its own (above, "forked"). */
	jm__fork_depth++;
	/* The other threads' caches are gone, their regions in their lists
	 * not (above, tc_dead). */
	uint32_t own = tls_tc != NULL;
	if (tc_nlive != own) {
		tc_dead += tc_nlive - own;
		tc_nlive = own;
		if (!tc_gone_large)
			tc_gone_large = true;   /* gone_drain, at a GC look */
	}
	/* The forking thread's cache is not a gone one, also at a fork
	 * that leaves no other cache behind while an earlier fork's gone
	 * caches are still to be looked at: its cache, booted before this
	 * fork, was taken for one when the forker was set only above (a
	 * thread that forked without a cache, then again with one booted
	 * in its child: the grandchild's other threads' GC looks freed its
	 * large lists under it; test_alloc's
	 * test_fork_twice_forker_not_gone). */
	if (tc_gone_large && tc_forker != tls_tc)
		tc_forker = tls_tc;
}
