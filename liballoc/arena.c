/* Over 600 lines: runs, large regions and purging share the arena's free-run and dirty lists. */
/*
 * arena.c: arenas and the page level beneath the bins: chunks, runs of
 * pages carved from them, large regions, and the purging of dirty pages.
 *
 * A chunk is 2 MiB, 2 MiB-aligned, and starts with its header (struct
 * jm_chunk). Every other page belongs to exactly one run: free, small (a
 * bin's) or large. Free runs are kept in per-size lists (free_runs[npages],
 * with a bitmap of the non-empty lists for a quick best fit) and coalesced
 * with their free neighbours when freed.
 *
 * Purging (docs/purging.md). A free run whose pages were used is dirty: it
 * sits in the arena's dirty list, oldest first, and the chunk's dirty map
 * (types.h) says which of its pages may be resident. Dirty pages are purged
 * (madvise DONTNEED) by age, oldest first, down to the allowance of
 * decay.c: a page freed just now may stay, one freed decay_ms ago may not,
 * along a smooth curve between. The allowance is looked at on the slow
 * paths that free runs (every PURGE_TICKS of them, and at most once a
 * decay epoch, decay_ms / 200) and by the background purger (bg.c), never
 * per free(). A hard cap bounds what decay allows: an arena never keeps
 * more dirty pages than max(DIRTY_CAP_MIN, its active pages); the free
 * that crosses it counts them again on what the kernel has resident
 * (dirty_recount) and purges what is left over an eighth below the cap
 * at once, the largest runs first. Runs are purged whole (they are
 * coalesced, so pieces are as large as the free space allows).
 *
 * A chunk that becomes wholly free stays in the free lists, dirty, under
 * the same decay. When decay purges it, the whole 2 MiB chunk, header
 * included, is purged in one piece (so a transparent huge page is not
 * split) and the chunk leaves the radix tree for the arena's retained
 * array: address space kept for the next chunk the arena needs, which
 * takes it back instead of mapping one. Beyond JM_RETAIN_CHUNKS retained
 * chunks, the oldest is unmapped. Before its retained ones, an arena takes
 * a wholly free chunk with dirty pages from another (chunk_take_other).
 *
 * Everything here runs under the arena's lock, which is taken after a bin's
 * lock when both are needed, but for the madvise calls of purging: the
 * pieces are detached under the lock, purged without it and filed back
 * under it (see "Purging out of the arena's lock" below).
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

struct jm_arena **jm__arenas;
unsigned jm__narenas;
static jm_lock_t arenas_lock = PTHREAD_MUTEX_INITIALIZER;

/* An adaptive mutex, unlocked: the C library's initializer, stored, not
 * pthread_mutexattr_init, _settype, pthread_mutex_init and _destroy (the
 * same bytes): a forked child resets every lock of every arena (one a
 * bin and the arena's), and each call was
 * a jump into a page of libc's text the child had not touched (each a
 * fault in a new process), four calls a lock. */
JM_FORK_TEXT void jm__lock_init(jm_lock_t *l)
{
	*l = (jm_lock_t)PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
}

/*
 * The arenas' lock area: arena i's lock and then its bins' are the
 * JM_ARENA_LOCKS locks from lock_area + i * JM_ARENA_LOCK_BYTES (1.6 KiB
 * an arena, rounded up to a cache line: the lock of one arena shares no
 * line with the last bin's of the one before, whose threads are others;
 * the locks of 2 arenas on 1 page, of 4 on 2), in a private
 * mapping of their own marked MADV_WIPEONFORK. A fork takes every one of
 * them (prepare), and the parent releases them and the child
 * re-initialises them. In the arena, beside its bins' fields, they were
 * on one or two pages an arena that the fork shared with the child: each
 * a page fault and a 4 KiB copy in the parent (its releases) and in the
 * child (its re-initialisation), 3 pages on each side with two arenas. A
 * page the fork does not share is not write-protected in the parent, and
 * is a page of zeros in the child (a fault, no copy), where the child
 * handler writes the initializer of every arena made's locks
 * (jm__arena_postfork_child; the same where the kernel refused the
 * advice, before 4.14, or the mapping failed and they are in base memory).
 */
#define JM_ARENA_LOCKS (1 + JM_NBINS)
#define JM_ARENA_LOCK_BYTES ((JM_ARENA_LOCKS * sizeof(jm_lock_t) + 63) & ~(size_t)63)
static char *lock_area;   /* 64-byte aligned */

/* The thread cache's room after an arena (tc_room), and the page the
 * two share: the arena's fields a new arena writes, then the cache. */
#define TC_ROOM ((sizeof(struct jm_tcache) + 63) & ~(size_t)63)
_Static_assert(JM_ARENA_HOT + TC_ROOM <= JM_PAGE,
    "a new arena's fields and its first thread's cache fit in one page");
_Static_assert(sizeof(struct jm_arena) % 64 == 0, "the cache's room is 64-byte aligned");

static struct jm_arena *arena_create(unsigned index, struct jmstat_bin *rows)
{
	/* The arena and the cache's room end on a page boundary: the page
	 * before it holds the arena's last JM_ARENA_HOT bytes and the cache,
	 * what a new arena and its first thread write; the arena's other
	 * fields, before, are written later if ever (a thread's first allocation in a new
	 * arena took 7 or 8 page faults, 6 or 7 so:
	 * tests/preload/arena_faults.test.sh). */
	char *p = rows ? jm__base_alloc_end(sizeof(struct jm_arena) + TC_ROOM, 0) : NULL;
	if (p == NULL)
		return NULL;
	struct jm_arena *a = (struct jm_arena *)p;
	a->tc_room = p + sizeof(*a);
	jm_lock_t *locks = (jm_lock_t *)(lock_area + (size_t)index * JM_ARENA_LOCK_BYTES);
	a->lock = &locks[0];
	jm__lock_init(a->lock);
	a->index = index;
	a->stats = jm__stats_arena_row(index);
	a->stats->index = index;
	for (unsigned i = 0; i < JM_NBINS; i++) {
		a->bins[i].lock = &locks[1 + i];
		jm__lock_init(a->bins[i].lock);
		a->bins[i].stats = &rows[i];
		a->bins[i].stats->size = jm__bin_info[i].size;
	}
	return a;
}

struct jm_arena *jm__arena_get(unsigned index)
{
	struct jm_arena *a = __atomic_load_n(&jm__arenas[index], __ATOMIC_ACQUIRE);
	if (jm_likely(a != NULL))
		return a;
	struct jmstat_bin *rows = jm__stats_arena_bins(index);   /* not under arenas_lock */
	pthread_mutex_lock(&arenas_lock);
	a = jm__arenas[index];
	if (a == NULL) {
		a = arena_create(index, rows);
		if (a == NULL) {
			pthread_mutex_unlock(&arenas_lock);
			jm__fatal("out of memory creating arena %u", index);
		}
		__atomic_store_n(&jm__arenas[index], a, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&arenas_lock);
	return a;
}

/* Threads counted in an arena and not exited, per arena, and all threads
 * with the arena (under arenas_lock; beside jm__arenas, jm__arenas_init),
 * and the calling thread's arena, for its exit. A thread whose first call
 * is a malloc has an arena for its cache from its boot but is counted in
 * it only from its second fill (tcache.c, CLAIM_FILLS; or its first
 * allocation from the arena without its cache): jm__arena_thread_claim. */
/* (jm__arena_threads: written under the lock, stored whole, read
 * without it by jm__arena_nthreads, internal.h.) */
unsigned *jm__arena_threads;
static unsigned *arena_all;     /* threads with the arena, counted or not */
/* When the arena's last thread left it (exited, or moved to another
 * arena: tcache.c), by jm__now_ns; 0 while it has threads or never had.
 * The background purger gives such an arena's dirty pages back once it
 * has been left for jm__orphan_grace_ns (jm__arenas_purge). */
static uint64_t *arena_left_ns;
static unsigned live_threads;   /* threads with an arena, counted or not */
static __thread struct jm_arena *thread_arena;
static __thread bool thread_counted;

/* At initialisation: the arena table, in base memory, and the lock area
 * (above), which the thread counts begin: the child handler sets them
 * (only the forking thread lives there), and on the fork's unshared page
 * they cost it no copy (beside the table, on the page of base memory the
 * first arena starts, they cost it one). */
void jm__arenas_init(unsigned n)
{
	jm__arenas = jm__base_alloc((size_t)n * sizeof(*jm__arenas));
	size_t lefts = ((size_t)2 * n * sizeof(*jm__arena_threads) + 7) & ~(size_t)7;
	size_t counts = (lefts + (size_t)n * sizeof(*arena_left_ns) + 63) & ~(size_t)63;
	size_t size = (counts + (size_t)n * JM_ARENA_LOCK_BYTES + JM_PAGE - 1) &
	    ~(JM_PAGE - 1);
	char *p = jm__os_map(size);
	if (p != NULL)
		(void)madvise(p, size, MADV_WIPEONFORK);
	else
		p = jm__base_alloc(size);
	if (jm__arenas == NULL || p == NULL)
		jm__fatal("out of memory at initialisation");
	/* Written before they are read (a fresh page read first maps the
	 * zero page, and its first write faults again). */
	memset(jm__arenas, 0, (size_t)n * sizeof(*jm__arenas));
	memset(p, 0, counts);
	jm__arena_threads = (unsigned *)p;
	arena_all = jm__arena_threads + n;
	arena_left_ns = (uint64_t *)(p + lefts);
	lock_area = p + counts;
	jm__narenas = n;
}

/* A thread's arena: the one with the fewest live threads, the lowest
 * index among equals (an arena not created yet has none); counted
 * threads only for a thread not counted itself yet (`count` false, its
 * cache's boot at a malloc: jm__arena_thread_claim below), all of them
 * for the others (a thread that freed first: cache-scratch's threads,
 * given a region of the main thread's, must not take its arena and that
 * region back while the main thread, which allocated a few regions,
 * waits). Threads that
 * run at once get arenas of their own while there are enough (a hash of
 * the thread id put two of two threads in one arena half the time), and a
 * thread that replaces one that exited takes its arena back, with the
 * memory that thread freed, instead of another arena's: mstress, whose
 * 2 threads are new in each of its 10 rounds, spread over 3 arenas by the
 * hash and held 74 MiB at its peak, 32 MiB with narenas:1. A thread may
 * move later to the arena of the thread whose regions it frees
 * (jm__arena_thread_move, from tcache.c). */
/* A thread joins or leaves arena i (under arenas_lock): arena_all and
 * the time its last thread left. */
static void arena_join(unsigned i)
{
	arena_all[i]++;
	if (arena_left_ns[i] != 0)
		__atomic_store_n(&arena_left_ns[i], 0, __ATOMIC_RELAXED);
}

static void arena_leave(unsigned i)
{
	if (--arena_all[i] == 0) {
		uint64_t now = jm__now_ns();
		__atomic_store_n(&arena_left_ns[i], now ? now : 1, __ATOMIC_RELAXED);
	}
}

struct jm_arena *jm__arena_for_thread(uint32_t tid, bool count)
{
	(void)tid;
	pthread_mutex_lock(&arenas_lock);
	const unsigned *by = count ? arena_all : jm__arena_threads;
	unsigned best = 0;
	for (unsigned i = 1; i < jm__narenas && by[best] != 0; i++)
		if (by[i] < by[best])
			best = i;
	if (count)
		__atomic_store_n(&jm__arena_threads[best], jm__arena_threads[best] + 1, __ATOMIC_RELAXED);
	arena_join(best);
	__atomic_store_n(&live_threads, live_threads + 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&arenas_lock);
	struct jm_arena *a = jm__arena_get(best);
	thread_arena = a;
	thread_counted = count;
	return a;
}

/* The second fill of a thread not counted yet (above): it is counted in
 * the arena with the fewest counted threads, its own among equals, and
 * the lowest index among the others. Returns that arena; the caller moves
 * the thread's cache when it is another (threads that started at once
 * took one arena: the second to be counted moves, after one fill).
 * Threads that allocate once and wait (thread-churn's creators:
 * pthread_create's allocation, then pthread_join) so leave their arenas
 * to the threads that allocate: the main thread's and the creators' arenas
 * had been counted, the children took a fourth, and once a creator ended
 * its arena, cold for the children's classes, was the next child's (56
 * pages warmed again: docs/purging.md). */
struct jm_arena *jm__arena_thread_claim(void)
{
	struct jm_arena *a = thread_arena;
	if (a == NULL || thread_counted)
		return a;
	pthread_mutex_lock(&arenas_lock);
	unsigned best = a->index;
	for (unsigned i = 0; i < jm__narenas; i++)
		if (jm__arena_threads[i] < jm__arena_threads[best])
			best = i;
	__atomic_store_n(&jm__arena_threads[best], jm__arena_threads[best] + 1, __ATOMIC_RELAXED);
	arena_join(best);
	arena_leave(a->index);
	pthread_mutex_unlock(&arenas_lock);
	thread_counted = true;
	thread_arena = jm__arena_get(best);
	return thread_arena;
}

void jm__arena_thread_exit(void)
{
	struct jm_arena *a = thread_arena;
	if (a == NULL)
		return;
	thread_arena = NULL;
	pthread_mutex_lock(&arenas_lock);
	if (thread_counted)
		__atomic_store_n(&jm__arena_threads[a->index], jm__arena_threads[a->index] - 1, __ATOMIC_RELAXED);
	arena_leave(a->index);
	thread_counted = false;
	__atomic_store_n(&live_threads, live_threads - 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&arenas_lock);
}

/* The threads that have an arena and have not exited (tcache.c shares
 * its process-wide budget out among them); read without the lock. */
unsigned jm__arena_live_threads(void)
{
	return __atomic_load_n(&live_threads, __ATOMIC_RELAXED);
}

/* Moves the calling thread to arena `to`, the arena whose regions it
 * mostly frees (tcache.c), unless `to` already has as many live threads
 * as there are per CPU (at least 2): threads that pass memory to each
 * other share an arena, as many as would share a CPU. Returns whether it
 * moved. */
bool jm__arena_thread_move(struct jm_arena *to)
{
	struct jm_arena *from = thread_arena;
	if (from == NULL || from == to)
		return false;
	unsigned ncpus = jm__os_ncpus();
	pthread_mutex_lock(&arenas_lock);
	unsigned live = 0;
	for (unsigned i = 0; i < jm__narenas; i++)
		live += jm__arena_threads[i];
	unsigned cap = live / ncpus > 2 ? live / ncpus : 2;
	bool ok = jm__arena_threads[to->index] < cap;
	if (ok) {
		if (thread_counted) {
			__atomic_store_n(&jm__arena_threads[from->index], jm__arena_threads[from->index] - 1, __ATOMIC_RELAXED);
			__atomic_store_n(&jm__arena_threads[to->index], jm__arena_threads[to->index] + 1, __ATOMIC_RELAXED);
		}
		arena_join(to->index);
		arena_leave(from->index);
		thread_arena = to;
	}
	pthread_mutex_unlock(&arenas_lock);
	return ok;
}

/* In a forked child: only the forking thread lives. Each count written
 * only if it changes (a page written is a page fault in the child). The
 * arenas made so far but the forking thread's have no thread from the
 * fork on: stamped as left then (arena_leave), for the purger to give
 * their dirty pages back after the grace; cleared, they counted as
 * arenas that never had one, and the child kept the parent's other
 * threads' dirty pages for the decay (test_orphan_arena_purged_fork). */
JM_FORK_TEXT void jm__arena_postfork_threads(void)
{
	uint64_t now = 0;
	/* The rows' thread counts: owed, when the child publishes from the
	 * snapshot (the rows' page is its parent's till then: stats.c,
	 * "owed"), else written here. */
	bool owed = jm__stats_owe(thread_arena);
	for (unsigned i = 0; i < jm__narenas; i++) {
		unsigned want = thread_arena && thread_arena->index == i;
		unsigned counted = want && thread_counted;
		if (jm__arena_threads[i] != counted)
			jm__arena_threads[i] = counted;
		if (arena_all[i] != want)
			arena_all[i] = want;
		uint64_t left = 0;
		if (!want && jm__arenas[i] != NULL) {
			if (now == 0) {
				now = jm__now_ns_child();
				now = now ? now : 1;
			}
			left = now;
		}
		if (arena_left_ns[i] != left)
			__atomic_store_n(&arena_left_ns[i], left, __ATOMIC_RELAXED);
		struct jm_arena *a = jm__arenas[i];
		if (a && !owed && a->stats->nthreads != want)
			a->stats->nthreads = want;
	}
	__atomic_store_n(&live_threads, thread_arena != NULL, __ATOMIC_RELAXED);   /* as its other stores */
}

/* ---------------------------------------------------------------- runs */

/* Bits set in x (the builtin is a call into libgcc's table without
 * -mpopcnt, which the baseline x86-64 has not). */
static inline size_t pop64(uint64_t x)
{
	x -= (x >> 1) & 0x5555555555555555ULL;
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (size_t)((x * 0x0101010101010101ULL) >> 56);
}

/* The dirty map over [first, first + n), n >= 1: words w0..w1, the bits
 * of the range in w0 from lo, in w1 up to hi. */
#define DMAP_RANGE(first, n)                                                  \
	size_t w0 = (first) >> 6, w1 = ((first) + (n) - 1) >> 6;               \
	uint64_t lo = ~0ULL << ((first) & 63);                                 \
	uint64_t hi = ~0ULL >> (63 - (((first) + (n) - 1) & 63))

static inline size_t dmap_count(const struct jm_chunk *c, size_t first, size_t n)
{
	DMAP_RANGE(first, n);
	if (w0 == w1)
		return pop64(c->dirtymap[w0] & lo & hi);
	size_t k = pop64(c->dirtymap[w0] & lo) + pop64(c->dirtymap[w1] & hi);
	for (size_t w = w0 + 1; w < w1; w++)
		k += c->dirtymap[w] == ~0ULL ? 64 : pop64(c->dirtymap[w]);
	return k;
}

static inline void dmap_set(struct jm_chunk *c, size_t first, size_t n)
{
	DMAP_RANGE(first, n);
	if (w0 == w1) {
		c->dirtymap[w0] |= lo & hi;
		return;
	}
	c->dirtymap[w0] |= lo;
	for (size_t w = w0 + 1; w < w1; w++)
		c->dirtymap[w] = ~0ULL;
	c->dirtymap[w1] |= hi;
}

static inline void dmap_clear(struct jm_chunk *c, size_t first, size_t n)
{
	DMAP_RANGE(first, n);
	if (w0 == w1) {
		c->dirtymap[w0] &= ~(lo & hi);
		return;
	}
	c->dirtymap[w0] &= ~lo;
	for (size_t w = w0 + 1; w < w1; w++)
		c->dirtymap[w] = 0;
	c->dirtymap[w1] &= ~hi;
}

/* The page of the k-th dirty page from the end of [first, first + n)
 * (k >= 1, and not more than there are). */
static size_t dmap_kth_last(const struct jm_chunk *c, size_t first, size_t n, size_t k)
{
	for (size_t p = first + n; p > first;) {
		size_t w = (p - 1) >> 6;
		size_t lo = w << 6 > first ? w << 6 : first;
		size_t m = p - lo;
		uint64_t bits = c->dirtymap[w] & ((m == 64 ? ~0ULL : (1ULL << m) - 1) << (lo & 63));
		size_t have = pop64(bits);
		if (have >= k) {
			while (--k)
				bits &= ~(1ULL << (63 - __builtin_clzll(bits)));
			return (w << 6) + 63 - (size_t)__builtin_clzll(bits);
		}
		k -= have;
		p = lo;
	}
	jm__fatal("dirty map: fewer dirty pages than counted");
}

/* The run's first and last page descriptors, but for the last one of a
 * run that ends at the chunk's end: only a right neighbour reads it (to
 * find its free left neighbour, free_coalesce), and there is none. So the
 * chunk's last descriptor, alone on the header's last page, is written
 * only by a run that starts there, and a new chunk touches two pages of
 * its header, not three (a page fault in every short program). */
static void set_run(struct jm_chunk *c, size_t first, size_t npages, uint8_t state)
{
	struct jm_run *r = jm__chunk_run(c, first);
	r->state = state;
	r->npages = (uint32_t)npages;
	if (first + npages == JM_CHUNK_PAGES && npages > 1)
		return;
	struct jm_run *last = jm__chunk_run(c, first + npages - 1);
	last->state = state;
	last->first = (uint32_t)first;
	last->npages = (uint32_t)npages;
}

static struct jm_chunk *run_chunk(struct jm_run *r)
{
	return (struct jm_chunk *)((uintptr_t)r & ~(uintptr_t)JM_CHUNK_MASK);
}

static void free_insert(struct jm_arena *a, struct jm_run *r)
{
	size_t n = r->npages;
	a->nfree_pages += n;
	r->prev = NULL;
	r->next = a->free_runs[n];
	if (r->next)
		r->next->prev = r;
	a->free_runs[n] = r;
	a->free_nonempty[n >> 6] |= 1ULL << (n & 63);
}

static void free_remove(struct jm_arena *a, struct jm_run *r)
{
	size_t n = r->npages;
	a->nfree_pages -= n;
	if (r->prev)
		r->prev->next = r->next;
	else
		a->free_runs[n] = r->next;
	if (r->next)
		r->next->prev = r->prev;
	if (a->free_runs[n] == NULL)
		a->free_nonempty[n >> 6] &= ~(1ULL << (n & 63));
	r->next = r->prev = NULL;
}

/* Files r on the dirty list right after `after` (at its head if NULL):
 * the list is ordered by age, oldest first. */
static void dirty_insert_after(struct jm_arena *a, struct jm_run *r, uint64_t when, size_t nd,
    struct jm_run *after)
{
	r->dirty = 1;
	r->dirty_ns = when;
	r->ndirty = (uint32_t)nd;
	r->dprev = after;
	r->dnext = after ? after->dnext : a->dirty_head;
	if (after) {
		after->dnext = r;
	} else {
		a->dirty_head = r;
		__atomic_store_n(&a->dirty_oldest, when, __ATOMIC_RELAXED);
	}
	if (r->dnext)
		r->dnext->dprev = r;
	else
		a->dirty_tail = r;
	a->ndirty_pages += nd;
}

static void dirty_remove(struct jm_arena *a, struct jm_run *r)
{
	if (!r->dirty)
		return;
	if (r->dprev) {
		r->dprev->dnext = r->dnext;
	} else {
		a->dirty_head = r->dnext;
		__atomic_store_n(&a->dirty_oldest, r->dnext ? r->dnext->dirty_ns : 0,
		    __ATOMIC_RELAXED);
	}
	if (r->dnext)
		r->dnext->dprev = r->dprev;
	else
		a->dirty_tail = r->dprev;
	r->dnext = r->dprev = NULL;
	r->dirty = 0;
	a->ndirty_pages -= r->ndirty;
	r->ndirty = 0;
}

/* malloc_trim's calls so far (compat.c): a free run's dirty_ns is this
 * plus one when it became dirty, so that a trim tells the runs no
 * allocation took over its last JM_TRIM_AGE calls (jm__arenas_purge_aged).
 * Not 0 in a process that has called malloc_trim: its runs are taken
 * dirty first (dirty_fit). */
uint64_t jm__trim_gen;

static uint64_t dirty_stamp(void)
{
	return 1 + __atomic_load_n(&jm__trim_gen, __ATOMIC_RELAXED);
}

/* Stored whole: bg.c's dirty_now() reads dirty without the arena's lock,
 * from another thread (a plain store beside it is a data race, which
 * ThreadSanitizer reported in test_alloc_bgwake). */
static void stats_dirty(struct jm_arena *a)
{
	__atomic_store_n(&a->stats->dirty, (a->ndirty_pages << JM_LG_PAGE) + a->huge_dirty,
	                 __ATOMIC_RELAXED);
	__atomic_store_n(&a->stats->retained, (uint64_t)a->nretained * JM_CHUNK + a->huge_retained,
	                 __ATOMIC_RELAXED);
}

/* purged, added to under the lock and read without it by
 * jm__arenas_dirty_purged (malloc_trim): stored whole, as dirty. */
static void stats_purged(struct jm_arena *a, uint64_t bytes)
{
	__atomic_store_n(&a->stats->purged, a->stats->purged + bytes, __ATOMIC_RELAXED);
}

void jm__arenas_dirty_purged(size_t *dirty, size_t *purged)
{
	*dirty = *purged = 0;
	for (unsigned i = 0; i < jm__narenas; i++) {
		const struct jmstat_arena *a = jm__stats_arena_row(i);
		*dirty += __atomic_load_n(&a->dirty, __ATOMIC_RELAXED);
		*purged += __atomic_load_n(&a->purged, __ATOMIC_RELAXED);
	}
}

/* Makes [first, first+npages) of c a clean free run and files it on the
 * free list (not on the dirty list). */
static struct jm_run *file_free(struct jm_arena *a, struct jm_chunk *c,
    size_t first, size_t npages)
{
	set_run(c, first, npages, JM_RUN_FREE);
	struct jm_run *r = jm__chunk_run(c, first);
	r->dirty = 0;
	r->ndirty = 0;
	free_insert(a, r);
	return r;
}

/* Makes [first, first+npages) of c, with nd pages in the dirty map, a
 * free run, dirty as of `when` if nd is not 0, and files it: on the dirty
 * list after `after` (at its head if NULL). Returns the run if it went on
 * the dirty list, else `after`: where a piece that follows it goes. */
static struct jm_run *make_free_after(struct jm_arena *a, struct jm_chunk *c, size_t first,
    size_t npages, size_t nd, uint64_t when, struct jm_run *after)
{
	struct jm_run *r = file_free(a, c, first, npages);
	if (nd == 0)
		return after;
	dirty_insert_after(a, r, when, nd, after);
	return r;
}

/* A wholly free chunk of another arena with dirty pages, taken over as it
 * is (its dirty map, its run record) for one more chunk of a, before a
 * retained or a fresh one: its pages are resident already, where a new
 * chunk's are new RSS and a page fault each. Threads of two arenas whose
 * regions are freed by each other's threads and reused in turn, as a
 * shared queue of batches does (xmalloc-test's 2 producers and 2
 * consumers: each arena held its own ~25 MiB of free dirty chunks, freed
 * by a consumer while the other producer's arena mapped new ones; peak
 * RSS 60-66 MiB against 35 with narenas:1), leave one arena's empty
 * chunks dirty for decay_ms while the other maps more. Under a's lock;
 * the other arena's is only tried (two arenas taking from each other at
 * once would deadlock otherwise), and one held is skipped. */
static struct jm_chunk *chunk_take_other(struct jm_arena *a)
{
	const size_t n = JM_CHUNK_PAGES - JM_CHUNK_HDR_PAGES;
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *b = __atomic_load_n(&jm__arenas[i], __ATOMIC_ACQUIRE);
		if (b == NULL || b == a || pthread_mutex_trylock(b->lock) != 0)
			continue;
		struct jm_run *r = b->free_runs[n];
		while (r != NULL && !r->dirty)
			r = r->next;
		if (r == NULL) {
			jm__unlock(b->lock);
			continue;
		}
		struct jm_chunk *c = run_chunk(r);
		size_t nd = r->ndirty;
		/* b's row changes: in a row update of its own (a reader
		 * never sees half of it, and the header's generation moves). */
		jm__row_begin(&b->stats->seq);
		dirty_remove(b, r);
		free_remove(b, r);
		b->stats->nchunks--;
		b->stats->mapped -= JM_CHUNK;
		stats_dirty(b);
		jm__row_end(&b->stats->seq);
		jm__unlock(b->lock);
		/* Nothing of b's points into it now: no region is in it, and
		 * it is on none of b's lists. */
		bool had_dirty = a->dirty_head != NULL;
		c->arena = a;
		c->held_pass = 0;
		free_insert(a, r);
		dirty_insert_after(a, r, dirty_stamp(), nd, a->dirty_tail);
		a->decay.pending += nd;
		if (!had_dirty && jm__opt.background_thread)
			jm__bg_dirtied();
		if (jm_unlikely(atomic_load_explicit(&jm__bg_deferred, memory_order_relaxed)))
			jm__bg_deferred_dirtied((uint64_t)nd << JM_LG_PAGE);
		a->stats->mapped += JM_CHUNK;
		a->stats->nreuse++;
		a->stats->nchunks++;
		stats_dirty(a);
		return c;
	}
	return NULL;
}

static struct jm_chunk *chunk_new(struct jm_arena *a)
{
	struct jm_chunk *c;
	bool dirty = false;
	/* The pages of a dirty kept huge region first (resident: no fault,
	 * and no new RSS beside them); not while the purger starts, as
	 * jm__huge_alloc. */
	if (jm__tls_state != JM_TLS_FRESH &&
	    (c = jm__huge_take_chunk(a)) != NULL) {
		memset(c, 0, JM_CHUNK_HDR_PAGES << JM_LG_PAGE);   /* as fresh */
		a->stats->nreuse++;
		dirty = true;
	} else if (jm__tls_state != JM_TLS_FRESH && (c = chunk_take_other(a)) != NULL) {
		return c;   /* filed, dirty, as it was in the other arena */
	} else if (a->nretained) {
		/* The newest retained chunk: purged whole, it reads as zero,
		 * as a fresh mapping does. */
		c = a->retained[--a->nretained];
		a->stats->nreuse++;
	} else {
		c = jm__os_map_aligned(JM_CHUNK, JM_CHUNK);
		if (c == NULL)
			return NULL;
		a->stats->mapped += JM_CHUNK;
		a->stats->nmap++;
	}
	if (!jm__rtree_set((uintptr_t)c, (uintptr_t)c)) {
		jm__os_unmap(c, JM_CHUNK);
		a->stats->mapped -= JM_CHUNK;
		return NULL;
	}
	c->magic = JM_CHUNK_MAGIC;
	c->arena = a;
	c->hdr_pages = (uint32_t)JM_CHUNK_HDR_PAGES;
	c->nfree_pages = (uint32_t)(JM_CHUNK_PAGES - c->hdr_pages);
	if (dirty) {
		bool had_dirty = a->dirty_head != NULL;
		dmap_set(c, c->hdr_pages, c->nfree_pages);
		make_free_after(a, c, c->hdr_pages, c->nfree_pages, c->nfree_pages, dirty_stamp(),
		    a->dirty_tail);
		a->decay.pending += c->nfree_pages;
		if (!had_dirty && jm__opt.background_thread)
			jm__bg_dirtied();
		if (jm_unlikely(atomic_load_explicit(&jm__bg_deferred, memory_order_relaxed)))
			jm__bg_deferred_dirtied((uint64_t)c->nfree_pages << JM_LG_PAGE);
	} else {
		file_free(a, c, c->hdr_pages, c->nfree_pages);   /* its map is zero */
	}
	a->stats->nchunks++;
	stats_dirty(a);
	return c;
}

/* Best fit: the smallest free run of at least npages whose pages can start
 * at a multiple of align_pages. A run of npages + align_pages - 1 pages or
 * more always has such a start, and the first run of each size list is
 * taken; in a shorter one it depends on where the run starts. With
 * `bounded`, only FIT_PROBES of those shorter runs are tried in all: an
 * aligned request in an arena of many small free runs (the leads its
 * own alignment leaves) would otherwise walk all of them at each call
 * (64 KiB-aligned requests of up to 100 KB: 87% of the time in here). */
#define FIT_PROBES 32

/* The smallest size of at least n pages (n <= JM_CHUNK_PAGES) whose list
 * of free runs is not empty, or 0 if there is none. */
static size_t next_size(const struct jm_arena *a, size_t n)
{
	size_t w = n >> 6;
	uint64_t bits = a->free_nonempty[w] & (~0ULL << (n & 63));
	while (bits == 0) {
		if (++w >= sizeof(a->free_nonempty) / 8)
			return 0;
		bits = a->free_nonempty[w];
	}
	return (w << 6) + (size_t)__builtin_ctzll(bits);
}

static struct jm_run *find_fit(struct jm_arena *a, size_t npages, size_t align_pages,
    size_t *lead_out, bool bounded)
{
	size_t sure = npages + align_pages - 1;
	unsigned probes = FIT_PROBES;
	for (size_t n = npages; n <= JM_CHUNK_PAGES; n++) {
		if ((n = next_size(a, n)) == 0)
			return NULL;
		for (struct jm_run *r = a->free_runs[n]; r; r = r->next) {
			struct jm_chunk *c = run_chunk(r);
			size_t first = jm__run_page(c, r);
			size_t start = (first + align_pages - 1) / align_pages * align_pages;
			if (start + npages <= first + n) {
				*lead_out = start - first;
				return r;
			}
			if (bounded && --probes == 0) {
				n = sure - 1;
				break;
			}
		}
	}
	return NULL;
}

/* Where in a free run [first, first + n) a run of npages whose alignment
 * is a preference goes at a multiple of align_pages, if it costs the
 * free run none of the runs of npages it holds: at its start, at its end
 * (what is left stays one piece), or between, where the piece before is
 * shorter than what the free run holds beyond a whole number of them.
 * False if no such place. */
static bool pref_place(size_t first, size_t n, size_t npages, size_t align_pages, size_t *lead)
{
	size_t start = (first + align_pages - 1) / align_pages * align_pages;
	if (start == first || (first + n - npages) % align_pages == 0) {
		*lead = start == first ? 0 : n - npages;
		return true;
	}
	if (start + npages <= first + n && (n - (start - first)) / npages == n / npages) {
		*lead = start - first;
		return true;
	}
	return false;
}

/* A place for a run whose alignment is a preference (a small run's,
 * bin.c): the first free run, from the smallest size of at least npages
 * up (FIT_PROBES runs in all), with a place at the alignment that costs
 * it none of the runs of npages it holds (pref_place), else the best fit,
 * at its start. Never a place that holds fewer: an aligned start in any
 * free run cut holes that held two, or left pieces too short for the
 * class before it (holes left by 20,000 regions of 20 and 12 KiB, then
 * as many 32 KiB requests: 20% more mapped, 70% without thread caches;
 * 24 KiB in holes of 12 KiB ones: 10%). */
static struct jm_run *pref_fit(struct jm_arena *a, size_t npages, size_t align_pages,
    size_t *lead_out)
{
	struct jm_run *best = NULL;
	unsigned probes = FIT_PROBES;
	for (size_t n = npages; n <= JM_CHUNK_PAGES && probes; n++) {
		if ((n = next_size(a, n)) == 0)
			break;
		if (best == NULL)
			best = a->free_runs[n];
		for (struct jm_run *r = a->free_runs[n]; r && probes; r = r->next, probes--)
			if (pref_place(jm__run_page(run_chunk(r), r), n, npages, align_pages, lead_out))
				return r;
	}
	*lead_out = 0;
	return best;
}

/* In a process that calls malloc_trim (jm__trim_gen not 0): the first
 * wholly dirty free run, from the smallest size of at least npages up
 * (FIT_PROBES runs in all), that holds npages at the alignment (at its
 * start where the alignment is a preference and it does not), else NULL.
 * Its trims purge the runs that go unused (jm__arenas_purge_aged), which
 * are then clean runs among the dirty ones: best fit took a clean one of
 * the very size before a larger dirty one, and faulted its pages in again
 * while resident ones waited (trim-often: with the age alone its peak
 * RSS did not move; with runs taken dirty first, 0.3-0.4 MiB less for
 * the same page faults). Not in other processes: there rptest's peak RSS
 * went up 5% (dirty runs cut where a clean one fitted), glibc-simple's
 * down 8% (docs/purging.md). */
static struct jm_run *dirty_fit(struct jm_arena *a, size_t npages, size_t align_pages,
    bool pref, size_t *lead_out)
{
	unsigned probes = FIT_PROBES;
	for (size_t n = npages; n <= JM_CHUNK_PAGES; n++) {
		if ((n = next_size(a, n)) == 0)
			return NULL;
		for (struct jm_run *r = a->free_runs[n]; r; r = r->next) {
			if (probes-- == 0)
				return NULL;
			if (r->ndirty != r->npages)
				continue;
			size_t first = jm__run_page(run_chunk(r), r);
			size_t start = (first + align_pages - 1) / align_pages * align_pages;
			if (start + npages <= first + n) {
				*lead_out = start - first;
				return r;
			}
			if (pref) {
				*lead_out = 0;
				return r;
			}
		}
	}
	return NULL;
}

static void acache_flush(struct jm_arena *a);
static void chunk_detach(struct jm_arena *a, struct jm_chunk *c);
static void run_detach(struct jm_arena *a, struct jm_chunk *c, struct jm_run *r, size_t k);

/* Takes a run of npages (aligned to align_pages: for a small run, where
 * the best fit has room at the alignment, pref_fit) from the free runs,
 * or from a new chunk, and gives it `state`. Under the arena lock. */
struct jm_run *jm__arena_run_alloc(struct jm_arena *a, size_t npages,
    size_t align_pages, uint8_t state, bool *was_dirty)
{
	size_t lead = 0;
	bool pref = state == JM_RUN_SMALL && align_pages > 1;
	struct jm_run *r = NULL;
fit:
	if (jm_unlikely(__atomic_load_n(&jm__trim_gen, __ATOMIC_RELAXED) != 0) && a->dirty_head)
		r = dirty_fit(a, npages, align_pages, pref, &lead);
	if (r == NULL)
		r = pref ? pref_fit(a, npages, align_pages, &lead) :
		    find_fit(a, npages, align_pages, &lead, true);
	if (r == NULL && align_pages > 1 && !pref)   /* all of them, before a new chunk */
		r = find_fit(a, npages, align_pages, &lead, false);
	if (r == NULL && a->ac_pages != 0) {
		/* The arena's cache of 9 to 64 pages given back before a new
		 * chunk: its regions may make the run asked for. */
		acache_flush(a);
		r = pref ? pref_fit(a, npages, align_pages, &lead) :
		    find_fit(a, npages, align_pages, &lead, false);
	}
	if (r == NULL) {
		if (chunk_new(a) == NULL)
			return NULL;
		r = pref ? pref_fit(a, npages, align_pages, &lead) :
		    find_fit(a, npages, align_pages, &lead, false);
		if (r == NULL)
			return NULL;
	}
	struct jm_chunk *c = run_chunk(r);
	size_t first = jm__run_page(c, r);
	size_t total = r->npages;
	uint64_t when = r->dirty_ns;
	size_t start = first + lead;
	size_t nd = 0, nd_lead = 0, nd_trail = 0;
	if (r->ndirty == total) {   /* wholly dirty, as churn leaves runs */
		nd = npages;
		nd_lead = lead;
		nd_trail = total - lead - npages;
	} else if (r->ndirty) {
		nd = dmap_count(c, start, npages);
		nd_lead = lead ? dmap_count(c, first, lead) : 0;
		nd_trail = r->ndirty - nd - nd_lead;
	}
	if (nd < npages && a->ac_pages != 0) {
		/* Pages never touched (or purged) while the arena's cache
		 * holds resident ones: the cache is given back first, and the
		 * fit looked for again, so that its regions, coalesced with
		 * their neighbours, make the run where they can (bufkeep's
		 * peak RSS: 38-40 MiB with a cache that waited, 34 without). */
		acache_flush(a);
		lead = 0;
		r = NULL;
		goto fit;
	}
	*was_dirty = nd != 0;
	jm__tls_fresh_pages += (uint32_t)(npages - nd);
	/* The pieces left keep the run's place on the dirty list (its age). */
	struct jm_run *after = r->dirty ? r->dprev : NULL;
	bool listed = r->dirty;
	dirty_remove(a, r);
	free_remove(a, r);
	size_t trail = total - lead - npages;
	if (!listed) {   /* a clean run: its pieces are clean */
		if (lead)
			file_free(a, c, first, lead);
		if (trail)
			file_free(a, c, start + npages, trail);
	} else {
		if (lead)
			after = make_free_after(a, c, first, lead, nd_lead, when, after);
		if (trail)
			make_free_after(a, c, start + npages, trail, nd_trail, when, after);
	}
	c->nfree_pages -= (uint32_t)npages;
	struct jm_run *run = jm__chunk_run(c, start);
	set_run(c, start, npages, state);
	a->stats->active += npages << JM_LG_PAGE;
	stats_dirty(a);
	return run;
}

/* Files [first, first + npages) of c, whose nd dirty pages the dirty map
 * has already, as a free run, coalesced with its free neighbours; the
 * merged run's dirty pages are the sum of theirs. A run freed now goes
 * to the dirty list's end (the newest); with `in_place`, the merged run
 * takes the place of the older of the neighbours it absorbed (a run coming
 * back from a partial purge, next to the rest of the run it was cut from,
 * keeps that run's age). */
static void free_coalesce(struct jm_arena *a, struct jm_chunk *c, size_t first,
    size_t npages, size_t nd, bool in_place)
{
	struct jm_run *prev = NULL, *next = NULL;
	size_t end = first + npages;
	if (first > c->hdr_pages && jm__chunk_run(c, first - 1)->state == JM_RUN_FREE)
		prev = jm__chunk_run(c, jm__chunk_run(c, first - 1)->first);
	if (end < JM_CHUNK_PAGES && jm__chunk_run(c, end)->state == JM_RUN_FREE)
		next = jm__chunk_run(c, end);
	/* Where the merged run goes on the dirty list: after `after`. */
	struct jm_run *anchor = NULL, *after = NULL;
	if (in_place)
		anchor = prev && prev->dirty ? prev : next && next->dirty ? next : NULL;
	if (anchor) {
		after = anchor->dprev;
		while (after && (after == prev || after == next))
			after = after->dprev;
	}
	/* Its age: the anchor's in its place, now at the list's end. */
	uint64_t when = anchor ? anchor->dirty_ns : dirty_stamp();
	size_t total = npages;
	if (prev) {
		total += prev->npages;
		nd += prev->ndirty;
		dirty_remove(a, prev);
		free_remove(a, prev);
		first = jm__run_page(c, prev);
	}
	if (next) {
		total += next->npages;
		nd += next->ndirty;
		dirty_remove(a, next);
		free_remove(a, next);
	}
	if (anchor == NULL)
		after = a->dirty_tail;
	make_free_after(a, c, first, total, nd, when, after);
}

/* Gives back the runs of `list`, linked through next and on no other
 * list (a flush's emptied runs, or one run): each is coalesced with its
 * free neighbours and filed dirty, and purging is looked at once for all
 * (its ticks counting every run). Under the arena lock. */
void jm__arena_runs_free(struct jm_arena *a, struct jm_run *list)
{
	bool had_dirty = a->dirty_head != NULL;
	size_t pages = 0;
	uint32_t nruns = 0;
	for (struct jm_run *run = list, *next; run; run = next) {
		next = run->next;
		run->next = NULL;
		struct jm_chunk *c = run_chunk(run);
		size_t first = jm__run_page(c, run);
		size_t npages = run->npages;
		c->nfree_pages += (uint32_t)npages;
		jm__pm_fill(&c->pagemap[first], npages, JM_PM_NONE);
		dmap_set(c, first, npages);
		free_coalesce(a, c, first, npages, npages, false);
		pages += npages;
		nruns++;
	}
	a->decay.pending += pages;
	a->stats->active -= pages << JM_LG_PAGE;
	if (!had_dirty && jm__opt.background_thread)
		jm__bg_dirtied();
	a->purge_ticks += nruns - 1;   /* jm__arena_maybe_purge counts one */
	jm__arena_maybe_purge(a, false);
	stats_dirty(a);
	/* After the row says what is dirty: the check it asks for reads it. */
	if (jm_unlikely(atomic_load_explicit(&jm__bg_deferred, memory_order_relaxed)))
		jm__bg_deferred_dirtied((uint64_t)pages << JM_LG_PAGE);
}

void jm__arena_run_free(struct jm_arena *a, struct jm_chunk *c, struct jm_run *run)
{
	(void)c;
	run->next = NULL;
	jm__arena_runs_free(a, run);
}

/*
 * The arena's cache of large regions of 9 to 64 pages. A free of such a
 * region pushes it, as it is (its run still large, its page map
 * entries kept, its pages counted dirty, not active), on a list of its
 * page count, and a malloc of 9 to 64 pages pops one, of its size or up
 * to an eighth larger (CACHE_SLACK), before any search: under the
 * arena's lock, but with no best-fit search, no split nor coalescing,
 * no dirty list and no page map written. Threads sharing an arena keep
 * one such region each in their caches (tcache.c, "an arena shared"):
 * the rest, freed to the arena, took its lock, a best fit, a split, the
 * page map, coalescing and the dirty list at each pair (bufworkers: 16
 * threads on 8 arenas, buffers of 10 to 17 pages, docs/measurements.md,
 * session 37). Bounded: JM_ACACHE_DEPTH regions a size, JM_ACACHE_PAGES
 * pages an arena; what does not fit takes the usual path. Only in an
 * arena threads share: a thread alone keeps these sizes in its own cache.
 * Its pages are dirty pages as any free run's (ndirty_pages, the decay's
 * pending, the stats' dirty), and whatever purges (the decay, the dirty
 * cap, a trim, an orphaned arena) gives the cache back first
 * (acache_flush), as does a request that would take a new chunk or pages
 * not resident (jm__arena_run_alloc), so that idle return and the pages'
 * reuse are as without it. Not with decay_ms 0 (every free page purged
 * at once) nor for aligned requests.
 */
#define CACHE_SLACK(np) ((np) / 8)

/* Gives every cached region back as a free run, coalesced, dirty as of
 * now; with `purge`, each run it makes is detached to be purged at once
 * (malloc_trim's aged purge). Under the lock. */
static void acache_flush_purge(struct jm_arena *a, bool purge)
{
	uint64_t m = a->ac_mask;
	while (m) {
		unsigned i = (unsigned)__builtin_ctzll(m);
		m &= m - 1;
		size_t n = i + JM_ACACHE_MIN_PAGES;
		void *w;
		while ((w = jm__flist_pop(&a->ac_head[i])) != NULL) {
			struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)w & ~(uintptr_t)JM_CHUNK_MASK);
			size_t first = ((uintptr_t)w & JM_CHUNK_MASK) >> JM_LG_PAGE;
			a->ndirty_pages -= n;   /* free_coalesce counts them again */
			c->nfree_pages += (uint32_t)n;
			jm__pm_fill(&c->pagemap[first], n, JM_PM_NONE);
			dmap_set(c, first, n);
			free_coalesce(a, c, first, n, n, false);
			struct jm_run *t = a->dirty_tail;   /* the merged run */
			if (purge) {
				if (t->npages == JM_CHUNK_PAGES - c->hdr_pages)
					chunk_detach(a, c);
				else
					run_detach(a, c, t, t->ndirty);
			}
		}
		a->ac_n[i] = 0;
	}
	a->ac_mask = 0;
	a->ac_pages = 0;
	__atomic_store_n(&a->ac_oldest, 0, __ATOMIC_RELAXED);
}

static void acache_flush(struct jm_arena *a)
{
	acache_flush_purge(a, false);
}

void jm__arena_cache_flush(struct jm_arena *a)
{
	jm__lock(a->lock, &a->stats->lock_contended);
	jm__row_begin(&a->stats->seq);
	acache_flush(a);
	stats_dirty(a);
	jm__row_end(&a->stats->seq);
	jm__unlock(a->lock);
}

/* A cached region of npages, or up to CACHE_SLACK pages more, taken off
 * its list (its pages active again), or NULL. Under the lock. */
static void *acache_pop(struct jm_arena *a, size_t npages)
{
	uint64_t m = a->ac_mask >> (npages - JM_ACACHE_MIN_PAGES);
	if (m == 0)
		return NULL;
	unsigned d = (unsigned)__builtin_ctzll(m);
	if (d > CACHE_SLACK(npages))
		return NULL;
	unsigned i = (unsigned)(npages - JM_ACACHE_MIN_PAGES) + d;
	void *w = (void *)a->ac_head[i];
	/* Its cookie first: a program that wrote into the freed region over
	 * its link would have the address it wrote taken for the next. */
	if (jm_unlikely(!jm__flist_is_free(w)))
		jm__report_misuse("write after free in a cached large region", w);
	(void)jm__flist_pop(&a->ac_head[i]);
	if (--a->ac_n[i] == 0)
		a->ac_mask &= ~(1ULL << i);
	size_t n = i + JM_ACACHE_MIN_PAGES;
	a->ac_pages -= (uint32_t)n;
	if (a->ac_pages == 0)
		__atomic_store_n(&a->ac_oldest, 0, __ATOMIC_RELAXED);
	a->ndirty_pages -= n;
	a->stats->active += n << JM_LG_PAGE;
	return w;
}

/* Pushes the large region ptr (run, of npages) on its list if there is
 * room; false if not. Under the lock. */
static bool acache_push(struct jm_arena *a, struct jm_run *run, void *ptr)
{
	size_t n = run->npages;
	if (n < JM_ACACHE_MIN_PAGES || n > JM_ACACHE_MAX_PAGES || jm__opt.decay_ms <= 0)
		return false;
	/* Only where threads share the arena (tcache.c, "an arena shared"):
	 * a thread alone in its arena keeps these sizes in its own cache,
	 * and what overflows it is best coalesced (purge-liveset's peak RSS
	 * 142.5 MiB with the cache in every arena, 141.2 without). */
	if (jm__arena_nthreads(a->index) < 2)
		return false;
	unsigned i = (unsigned)(n - JM_ACACHE_MIN_PAGES);
	if (a->ac_n[i] >= JM_ACACHE_DEPTH || a->ac_pages + n > JM_ACACHE_PAGES)
		return false;
	bool had_dirty = a->ndirty_pages != 0;
	if (a->ac_pages == 0)
		__atomic_store_n(&a->ac_oldest, dirty_stamp(), __ATOMIC_RELAXED);
	jm__flist_push(&a->ac_head[i], ptr);
	a->ac_n[i]++;
	a->ac_mask |= 1ULL << i;
	a->ac_pages += (uint32_t)n;
	a->ndirty_pages += n;
	a->decay.pending += n;
	a->stats->active -= n << JM_LG_PAGE;
	if (!had_dirty && jm__opt.background_thread)
		jm__bg_dirtied();
	jm__arena_maybe_purge(a, false);
	stats_dirty(a);
	if (jm_unlikely(atomic_load_explicit(&jm__bg_deferred, memory_order_relaxed)))
		jm__bg_deferred_dirtied((uint64_t)n << JM_LG_PAGE);
	return true;
}

/* Purging out of the arena's lock. purge_to, under the lock, detaches
 * what it purges: the pages of a free run (JM_RUN_PURGING at its first and
 * last page, so that neither an allocation nor a neighbour's coalescing
 * touches it; it starts and ends with a dirty page, ndirty: how many it
 * has, the dirty map's bits cleared) or a wholly free
 * chunk (binind 1; out of the radix tree already), counts the purge, and
 * files it on the arena's `purging` list (through next/prev). Whoever
 * releases the lock next on a path that may purge (a run's free, the
 * background purger) claims the pieces (on_list 1), purges them with the
 * lock released, and files them back under it: a run as a clean free run,
 * coalesced with its neighbours; a chunk as a retained one. So a big
 * madvise stalls no other thread of the arena: jemalloc marks its extents
 * the same way while it purges them. */
static void purging_push(struct jm_arena *a, struct jm_run *r)
{
	r->on_list = 0;
	r->prev = NULL;
	r->next = a->purging;
	if (r->next)
		r->next->prev = r;
	__atomic_store_n(&a->purging, r, __ATOMIC_RELAXED);
}

static void purging_remove(struct jm_arena *a, struct jm_run *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		__atomic_store_n(&a->purging, r->next, __ATOMIC_RELAXED);
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
	r->on_list = 0;
}

/* Detaches a wholly free chunk to be purged in one 2 MiB piece, header
 * included (a transparent huge page is not split), and then kept. */
static void chunk_detach(struct jm_arena *a, struct jm_chunk *c)
{
	struct jm_run *r = jm__chunk_run(c, c->hdr_pages);
	uint64_t dirty_bytes = (uint64_t)r->ndirty << JM_LG_PAGE;
	dirty_remove(a, r);
	free_remove(a, r);
	jm__rtree_clear((uintptr_t)c);
	stats_purged(a, dirty_bytes);
	a->stats->npurge++;
	a->stats->nchunks--;
	set_run(c, c->hdr_pages, JM_CHUNK_PAGES - c->hdr_pages, JM_RUN_PURGING);
	r->binind = 1;
	purging_push(a, r);
}

/* Keeps a purged chunk for reuse; beyond JM_RETAIN_CHUNKS, the oldest
 * kept one is unmapped. */
static void chunk_keep(struct jm_arena *a, struct jm_chunk *c)
{
	if (a->nretained == JM_RETAIN_CHUNKS) {
		jm__os_unmap(a->retained[0], JM_CHUNK);
		memmove(&a->retained[0], &a->retained[1],
		    (JM_RETAIN_CHUNKS - 1) * sizeof(a->retained[0]));
		a->nretained--;
		a->stats->mapped -= JM_CHUNK;
		a->stats->nunmap++;
	}
	a->retained[a->nretained++] = c;
}

/* Detaches the last k dirty pages of the free run r (the oldest dirty
 * one) to be purged: the pages from the k-th dirty one from its end to
 * its last dirty one. What comes before stays free, dirty at the head of
 * the dirty list if it has dirty pages left; the clean pages after the
 * last dirty one stay free. */
static void run_detach(struct jm_arena *a, struct jm_chunk *c, struct jm_run *r, size_t k)
{
	size_t first = jm__run_page(c, r);
	size_t end = first + r->npages, nd = r->ndirty;
	size_t from = dmap_kth_last(c, first, r->npages, k);
	size_t to = dmap_kth_last(c, first, r->npages, 1) + 1;
	uint64_t when = r->dirty_ns;
	dirty_remove(a, r);
	free_remove(a, r);
	stats_purged(a, k << JM_LG_PAGE);
	a->stats->npurge++;
	if (from > first) {
		set_run(c, first, from - first, JM_RUN_FREE);
		free_insert(a, r);
		if (nd > k)
			dirty_insert_after(a, r, when, nd - k, NULL);
	}
	if (to < end) {
		set_run(c, to, end - to, JM_RUN_FREE);
		struct jm_run *t = jm__chunk_run(c, to);
		t->dirty = 0;
		t->ndirty = 0;
		free_insert(a, t);
	}
	set_run(c, from, to - from, JM_RUN_PURGING);
	dmap_clear(c, from, to - from);
	struct jm_run *p = jm__chunk_run(c, from);
	p->ndirty = (uint32_t)k;
	p->dirty = 0;
	p->binind = 0;
	purging_push(a, p);
}

/* Purges a detached chunk in one 2 MiB piece and keeps it, under the
 * lock (its header, where its list links are, is purged too: it is off
 * the list first). */
static void chunk_purge_keep(struct jm_arena *a, struct jm_run *r)
{
	struct jm_chunk *c = run_chunk(r);
	purging_remove(a, r);
	jm__os_purge(c, JM_CHUNK);
	chunk_keep(a, c);
}

/* Files a purged run back, under the lock: clean, coalesced. */
static void run_refile(struct jm_arena *a, struct jm_run *r)
{
	struct jm_chunk *c = run_chunk(r);
	purging_remove(a, r);
	r->ndirty = 0;
	free_coalesce(a, c, jm__run_page(c, r), r->npages, 0, true);
}

static void run_purge(struct jm_run *r)
{
	struct jm_chunk *c = run_chunk(r);
	jm__os_purge(jm__run_addr(c, r), (size_t)r->npages << JM_LG_PAGE);
}

/* Purges and files back, under the lock, the pieces no thread has
 * claimed; in a forked child (`child`), all of them, and the chunks a
 * thread of the parent was purging (that thread is gone). */
static void purging_finish_locked(struct jm_arena *a, bool child)
{
	if (child) {
		for (uint32_t i = 0; i < a->ninflight; i++) {
			jm__os_purge(a->inflight[i], JM_CHUNK);
			chunk_keep(a, a->inflight[i]);
		}
		a->ninflight = 0;
	}
	struct jm_run *r = a->purging;
	while (r) {
		struct jm_run *next = r->next;
		if (r->binind) {
			chunk_purge_keep(a, r);
		} else if (child || !r->on_list) {
			run_purge(r);
			run_refile(a, r);
		}
		r = next;
	}
	stats_dirty(a);
}

/* Claims pieces of the purging list (under the lock): up to PURGE_BATCH
 * runs, and the chunks when no other thread is purging chunks (they move
 * to `inflight`, off the list, before their headers are purged). */
#define PURGE_BATCH 16
void (*jm__test_arena_purging)(struct jm_arena *a);
_Static_assert(PURGE_BATCH <= sizeof(((struct jm_arena *)0)->inflight) / sizeof(struct jm_chunk *),
    "a batch of chunks fits inflight");
static unsigned purging_claim(struct jm_arena *a, struct jm_run **runs, bool *chunks)
{
	unsigned n = 0;
	*chunks = a->ninflight == 0;
	struct jm_run *r = a->purging;
	while (r && (n < PURGE_BATCH || *chunks)) {
		struct jm_run *next = r->next;
		if (r->binind) {
			if (*chunks && a->ninflight < PURGE_BATCH) {
				purging_remove(a, r);
				a->inflight[a->ninflight++] = run_chunk(r);
			}
		} else if (!r->on_list && n < PURGE_BATCH) {
			r->on_list = 1;
			runs[n++] = r;
		}
		r = next;
	}
	if (a->ninflight == 0)
		*chunks = false;
	return n;
}

void jm__arena_purge_detached(struct jm_arena *a)
{
	while (__atomic_load_n(&a->purging, __ATOMIC_RELAXED) != NULL) {
		struct jm_run *runs[PURGE_BATCH];
		struct jm_chunk *chunks[PURGE_BATCH];
		bool have_chunks;
		jm__lock(a->lock, &a->stats->lock_contended);
		unsigned n = purging_claim(a, runs, &have_chunks);
		unsigned nc = have_chunks ? a->ninflight : 0;
		memcpy(chunks, a->inflight, nc * sizeof(chunks[0]));
		jm__unlock(a->lock);
		if (n == 0 && nc == 0)
			return;   /* all claimed by other threads */
		for (unsigned i = 0; i < n; i++)
			run_purge(runs[i]);
		for (unsigned i = 0; i < nc; i++)
			jm__os_purge(chunks[i], JM_CHUNK);
		if (jm__test_arena_purging)
			jm__test_arena_purging(a);
		jm__lock(a->lock, &a->stats->lock_contended);
		jm__row_begin(&a->stats->seq);
		for (unsigned i = 0; i < n; i++)
			run_refile(a, runs[i]);
		if (nc) {
			for (unsigned i = 0; i < a->ninflight; i++)
				chunk_keep(a, a->inflight[i]);
			a->ninflight = 0;
		}
		stats_dirty(a);
		jm__row_end(&a->stats->seq);
		jm__unlock(a->lock);
	}
}

/* The hard cap on an arena's dirty pages, whatever their age: its active
 * pages, at least jm__dirty_cap_min (a variable for the tests), at most
 * a sixteenth of the cgroup's memory limit where there is one
 * (decay.c). */
#define DIRTY_CAP_MIN_PAGES (((uint64_t)256 << 20) >> JM_LG_PAGE)
uint64_t jm__dirty_cap_min = DIRTY_CAP_MIN_PAGES;
#define PURGE_TICKS 8   /* run frees between two looks at the clock */

static uint64_t dirty_cap(const struct jm_arena *a)
{
	uint64_t active = a->stats->active >> JM_LG_PAGE;
	uint64_t cap = active > jm__dirty_cap_min ? active : jm__dirty_cap_min;
	if (a->ndirty_pages > JM_CGROUP_CAP_MIN) {
		uint64_t cg = jm__cgroup_dirty_cap();
		if (cap > cg)
			cap = cg;
	}
	return cap;
}

/* The dirty map against the kernel's page tables, when the count crosses
 * the cap: a freed run counts every page as dirty, but a program that
 * writes a large region at its ends only leaves most of them as they
 * were, never touched (reading zero, nothing resident). The map's bits
 * of the pages that hold nothing (jm__os_held) are cleared in every chunk
 * with a dirty run (one query a chunk), and each dirty run's count taken
 * again; a run left with none leaves the dirty list. Under the lock:
 * pages of free runs are written by no one meanwhile. Nothing is done
 * where the kernel cannot say (before Linux 6.7). */
static void dirty_recount(struct jm_arena *a)
{
	int fd = jm__os_pagemap_open();
	if (fd < 0)
		return;
	if (++a->held_pass == 0)
		a->held_pass = 1;
	uint64_t held[JM_CHUNK_PAGES / 64];
	for (struct jm_run *r = a->dirty_head; r; r = r->dnext) {
		struct jm_chunk *c = run_chunk(r);
		if (c->held_pass == a->held_pass)
			continue;
		if (!jm__os_held(fd, c, JM_CHUNK_PAGES, held))
			break;   /* the rest as they are */
		c->held_pass = a->held_pass;
		for (size_t w = 0; w < JM_CHUNK_PAGES / 64; w++)
			c->dirtymap[w] &= held[w];
	}
	jm__os_pagemap_close(fd);
	for (struct jm_run *r = a->dirty_head, *next; r; r = next) {
		next = r->dnext;
		struct jm_chunk *c = run_chunk(r);
		size_t nd = dmap_count(c, jm__run_page(c, r), r->npages);
		a->ndirty_pages -= r->ndirty - nd;
		r->ndirty = (uint32_t)nd;
		if (nd == 0)
			dirty_remove(a, r);
	}
}

/* Purges the oldest dirty pages until at most `target` are left: the
 * oldest run's dirty pages, whole if that is not more than needed (a
 * wholly free chunk whole, header included), else its last dirty pages,
 * in pieces of at least PURGE_MIN_PAGES (so the allowance may be
 * exceeded by less than one piece, but for a target of 0). */
#define PURGE_MIN_PAGES 64
void jm__arena_purge_to(struct jm_arena *a, uint64_t target)
{
	struct jm_run *r;
	if (a->ac_pages != 0 && a->ndirty_pages > target)
		acache_flush(a);
	while (a->ndirty_pages > target && (r = a->dirty_head) != NULL) {
		struct jm_chunk *c = run_chunk(r);
		uint64_t excess = a->ndirty_pages - target;
		size_t nd = r->ndirty;
		if (excess >= nd && r->npages == JM_CHUNK_PAGES - c->hdr_pages) {
			chunk_detach(a, c);
			continue;
		}
		if (target && excess < PURGE_MIN_PAGES)
			break;   /* within a piece of the allowance */
		size_t k = nd;
		if (excess < nd) {
			k = (size_t)(excess + PURGE_MIN_PAGES - 1) / PURGE_MIN_PAGES * PURGE_MIN_PAGES;
			if (k > nd)
				k = nd;
		}
		run_detach(a, c, r, k);
	}
	stats_dirty(a);
}

/* Purges whole the dirty runs of at least min_nd dirty pages, oldest
 * first, until at most `target` dirty pages are left. */
static void purge_runs_of(struct jm_arena *a, uint64_t target, size_t min_nd)
{
	for (struct jm_run *r = a->dirty_head, *next; r && a->ndirty_pages > target; r = next) {
		next = r->dnext;
		if (r->ndirty < min_nd)
			continue;
		struct jm_chunk *c = run_chunk(r);
		if (r->npages == JM_CHUNK_PAGES - c->hdr_pages)
			chunk_detach(a, c);
		else
			run_detach(a, c, r, r->ndirty);
	}
}

/* The decay's look at an arena, under its lock: at most once an epoch,
 * purges what the allowance no longer covers. True if dirty pages remain. */
bool jm__arena_decay(struct jm_arena *a, uint64_t now)
{
	if (a->ndirty_pages == 0 || jm__opt.decay_ms < 0)
		return false;
	if (jm__opt.decay_ms == 0) {
		jm__arena_purge_to(a, 0);
		return false;
	}
	if (a->decay.epoch_ns != 0 && !jm__decay_due(&a->decay, now))
		return true;
	uint64_t limit = jm__decay_update(&a->decay, now);
	if (a->ndirty_pages > limit)
		jm__arena_purge_to(a, limit);
	return a->ndirty_pages != 0;
}

void jm__arena_maybe_purge(struct jm_arena *a, bool force)
{
	if (force) {
		jm__arena_purge_to(a, 0);
		purging_finish_locked(a, false);
		return;
	}
	if (jm__opt.decay_ms == 0) {
		jm__arena_purge_to(a, 0);
		return;
	}
	if (jm__opt.decay_ms < 0 || a->ndirty_pages == 0)
		return;
	uint64_t cap = dirty_cap(a);
	if (jm_unlikely(a->ndirty_pages > cap)) {
		if (a->ac_pages != 0)
			acache_flush(a);
		/* Counted again on what may be resident; what is still over
		 * an eighth below the cap is purged in one pass, so that
		 * neither comes again before an eighth of the cap is freed:
		 * the runs of 1 MiB of dirty pages or more first, then of
		 * 256 KiB or more, then the oldest (the cap purged the
		 * oldest, often of a few pages, one madvise each, at each
		 * free past it: docs/measurements.md, "The dirty cap"). */
		uint64_t low = cap - cap / 8;
		dirty_recount(a);
		if (a->ndirty_pages > low) {
			a->stats->npurge_cap++;
			purge_runs_of(a, low, 256);
			purge_runs_of(a, low, PURGE_MIN_PAGES);
			jm__arena_purge_to(a, low);
		}
	}
	if (++a->purge_ticks < PURGE_TICKS)
		return;
	a->purge_ticks = 0;
	jm__arena_decay(a, jm__now_ns());
}

/* malloc_trim's below the dirty memory it keeps (compat.c): every
 * arena's dirty runs that became dirty more than `age` trims ago (the
 * oldest first, on the dirty list's head: a run merged with a neighbour
 * freed since is as new as that one) are purged. True if any was.
 *
 * An arena whose oldest dirty run is younger than that (dirty_oldest,
 * read without its lock), or that has none, is not locked; nor is one
 * whose lock another thread holds: its runs wait for a later call (or
 * the decay). A server's threads that each trim after every request,
 * when nothing is dirty, took every arena's lock in turn at every call,
 * the locks their owners' mallocs and frees take
 * (tests/bench/trim_requests.c: docs/purging.md, "malloc_trim"). */
bool jm__arenas_purge_aged(uint64_t age)
{
	uint64_t gen = __atomic_load_n(&jm__trim_gen, __ATOMIC_RELAXED);
	if (gen < age)
		return false;
	uint64_t before = gen - age + 1;   /* stamps below this are older */
	bool any = false;
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *a = __atomic_load_n(&jm__arenas[i], __ATOMIC_ACQUIRE);
		if (a == NULL)
			continue;
		uint64_t oldest = __atomic_load_n(&a->dirty_oldest, __ATOMIC_RELAXED);
		uint64_t cached = __atomic_load_n(&a->ac_oldest, __ATOMIC_RELAXED);
		if ((oldest == 0 || oldest >= before) && (cached == 0 || cached >= before))
			continue;
		if (pthread_mutex_trylock(a->lock) != 0)
			continue;
		if (a->ac_oldest != 0 && a->ac_oldest < before) {
			/* The cache's regions too, purged as they are given
			 * back (with their neighbours they merge with). */
			jm__row_begin(&a->stats->seq);
			acache_flush_purge(a, true);
			stats_dirty(a);
			jm__row_end(&a->stats->seq);
			any = true;
		}
		struct jm_run *r = a->dirty_head;
		if (r && r->dirty_ns < before) {
			jm__row_begin(&a->stats->seq);
			while ((r = a->dirty_head) != NULL && r->dirty_ns < before) {
				struct jm_chunk *c = run_chunk(r);
				if (r->npages == JM_CHUNK_PAGES - c->hdr_pages)
					chunk_detach(a, c);
				else
					run_detach(a, c, r, r->ndirty);
			}
			stats_dirty(a);
			jm__row_end(&a->stats->seq);
			any = true;
		}
		jm__unlock(a->lock);
		jm__arena_purge_detached(a);
	}
	return any;
}

/* Whether arena i has had no thread for jm__orphan_grace_ns at now: its
 * last thread exited or moved to another arena, and none came since (a
 * thread that joins clears the stamp). Read without arenas_lock: a
 * thread that joins meanwhile finds its pages purged, which costs it
 * faults, not correctness. */
uint64_t jm__orphan_grace_ns = 250000000u;
static bool arena_orphaned(unsigned i, uint64_t now)
{
	uint64_t left = __atomic_load_n(&arena_left_ns[i], __ATOMIC_RELAXED);
	return left != 0 && now >= left && now - left >= jm__orphan_grace_ns;
}

/* Every arena's decay at now (the background purger's), or, when all, a
 * purge of every dirty page (malloc_trim's), each under its lock in a row
 * update (readers do not read a row again while its sequence number is
 * unchanged). True if dirty pages remain.
 *
 * An arena that no thread has used for a while (its last one exited or
 * moved to the arena of the thread whose regions it freed) has all its
 * dirty pages purged, not by the decay: no allocation of its own will
 * take them, and a thread that comes later has what it frees dirty
 * again. dlloop's two threads (docs/programs.md, session 32) both ended
 * in the main thread's arena within half a second, and the arena one of
 * them left kept 2 MiB dirty for the decay's 10 s, over the whole run:
 * peak RSS 1.45 x glibc's. A thread that replaces one that exited within
 * the grace (mstress's, thread-churn's) still takes the arena back with
 * the pages the other freed. */
bool jm__arenas_purge(uint64_t now, bool all)
{
	bool dirty = false;
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *a = __atomic_load_n(&jm__arenas[i], __ATOMIC_ACQUIRE);
		if (a == NULL)
			continue;
		jm__lock(a->lock, &a->stats->lock_contended);
		jm__row_begin(&a->stats->seq);
		if (all)
			jm__arena_maybe_purge(a, true);
		else if (a->ndirty_pages != 0 && jm__opt.decay_ms > 0 && arena_orphaned(i, now))
			jm__arena_purge_to(a, 0);
		else
			dirty |= jm__arena_decay(a, now);
		jm__row_end(&a->stats->seq);
		jm__unlock(a->lock);
		jm__arena_purge_detached(a);
	}
	return dirty;
}

/* Under a limit of address space or data (RLIMIT_AS, RLIMIT_DATA), a
 * mapping that failed for want of memory (ENOMEM): every dirty page is
 * purged (wholly free chunks go to the retained ones), and every retained
 * chunk is unmapped, so that the mapping can be tried again. A buffer
 * grown by realloc under 64 MiB of data stopped 2 MiB short with the
 * empty chunk its large sizes had used still mapped. True if any chunk
 * was unmapped. */
bool jm__arenas_release(void)
{
	bool any = false;
	jm__arenas_purge(0, true);
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *a = __atomic_load_n(&jm__arenas[i], __ATOMIC_ACQUIRE);
		if (a == NULL)
			continue;
		jm__lock(a->lock, &a->stats->lock_contended);
		if (a->nretained) {
			jm__row_begin(&a->stats->seq);
			while (a->nretained) {
				jm__os_unmap(a->retained[--a->nretained], JM_CHUNK);
				a->stats->mapped -= JM_CHUNK;
				a->stats->nunmap++;
			}
			stats_dirty(a);
			jm__row_end(&a->stats->seq);
			any = true;
		}
		jm__unlock(a->lock);
	}
	return any;
}

/* A fresh huge mapping of `pages` pages (huge.c): the calling thread's
 * arena's wholly free chunks, oldest first, are purged for as many pages
 * while the arena holds more than jm__fresh_floor dirty pages. A program
 * that freed its small objects and then maps its buffers (a phase that
 * ends, the next one's output) had both resident until the decay: 1.5M
 * objects of 16..128 B freed, then 16 buffers of 4..12 MiB, peak RSS 258
 * MiB against glibc's 141 (the probe smallthenhuge). Only wholly free
 * chunks (each one madvise, kept for reuse) and only above the floor: a
 * large region a growing buffer left behind, taken again by the next
 * buffer, is the floor's (purging any dirty page for a fresh mapping cost
 * vec-grow and realloc-grow 15-20% more faults: docs/measurements.md,
 * "sqlite's peak"). A look at up to FRESH_LOOK dirty runs, and only
 * while a wholly free dirty chunk is left to find: those are the free runs
 * of the largest size, counted first (a few, 2 MiB each). Without the
 * count, a heap of many dirty runs none of which is a whole chunk was
 * walked 4096 runs deep, under the arena's lock, at every fresh mapping:
 * 20,000 slots of 16 B..1 MiB and 2..8 MiB regions replaced at random
 * (the probe hugemid, docs/measurements.md, "Odd programs and patterns"),
 * 65% of its CPU in this walk, 4.3 s user against jemalloc's 0.5.
 * jm__fresh_looked: the runs the last call looked at (the unit tests). */
#define FRESH_FLOOR_PAGES (((uint64_t)32 << 20) >> JM_LG_PAGE)
#define FRESH_LOOK 4096
uint64_t jm__fresh_floor = FRESH_FLOOR_PAGES;
#ifdef JM_TEST
unsigned jm__fresh_looked;   /* the test build only: the library's .bss stays within its pages */
#endif
void jm__arena_offset_fresh(struct jm_arena *a, uint64_t pages)
{
	if (jm__opt.decay_ms <= 0 ||
	    __atomic_load_n(&a->ndirty_pages, __ATOMIC_RELAXED) <= jm__fresh_floor + JM_CHUNK_PAGES)
		return;
	jm__lock(a->lock, &a->stats->lock_contended);
	unsigned whole = 0;
	for (struct jm_run *r = a->free_runs[JM_CHUNK_PAGES - JM_CHUNK_HDR_PAGES]; r; r = r->next)
		whole += r->dirty;
	jm__row_begin(&a->stats->seq);
	uint64_t target = a->ndirty_pages > jm__fresh_floor + pages ? a->ndirty_pages - pages : jm__fresh_floor;
	unsigned seen = 0;
	for (struct jm_run *r = a->dirty_head, *next; r && whole && a->ndirty_pages > target && seen < FRESH_LOOK; r = next, seen++) {
		next = r->dnext;
		struct jm_chunk *c = run_chunk(r);
		if (r->npages == JM_CHUNK_PAGES - c->hdr_pages) {
			chunk_detach(a, c);
			whole--;
		}
	}
#ifdef JM_TEST
	jm__fresh_looked = seen;
#endif
	stats_dirty(a);
	jm__row_end(&a->stats->seq);
	jm__unlock(a->lock);
	jm__arena_purge_detached(a);
}

/* --------------------------------------------------------------- large */

void *jm__large_alloc(struct jm_arena *a, size_t size, size_t align, bool zero)
{
	size_t npages = (size + JM_PAGE_MASK) >> JM_LG_PAGE;
	size_t align_pages = align > JM_PAGE ? align >> JM_LG_PAGE : 1;
	bool dirty;
	jm__lock(a->lock, &a->stats->lock_contended);
	jm__row_begin(&a->stats->seq);
	if (a->ac_mask != 0 && align_pages == 1 && npages >= JM_ACACHE_MIN_PAGES &&
	    npages <= JM_ACACHE_MAX_PAGES) {
		void *p = acache_pop(a, npages);
		if (p != NULL) {
			struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
			size_t n = jm__chunk_run(c, ((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE)->npages;
			a->stats->allocated_large += n << JM_LG_PAGE;
			a->stats->nmalloc_large++;
			stats_dirty(a);
			jm__row_end(&a->stats->seq);
			jm__unlock(a->lock);
			if (zero)
				memset(p, 0, npages << JM_LG_PAGE);
			return p;
		}
	}
	struct jm_run *run = jm__arena_run_alloc(a, npages, align_pages, JM_RUN_LARGE, &dirty);
	if (run == NULL) {
		jm__row_end(&a->stats->seq);
		jm__unlock(a->lock);
		errno = ENOMEM;
		return NULL;
	}
	struct jm_chunk *c = run_chunk(run);
	size_t first = jm__run_page(c, run);
	jm__pm_fill(&c->pagemap[first], npages, jm__pm_make(JM_PM_LARGE, a->index, first));
	a->stats->allocated_large += npages << JM_LG_PAGE;
	a->stats->nmalloc_large++;
	stats_dirty(a);
	jm__row_end(&a->stats->seq);
	jm__unlock(a->lock);
	void *p = jm__run_addr(c, run);
	if (zero && dirty)
		memset(p, 0, npages << JM_LG_PAGE);
	else if (dirty)
		jm__flist_clear_cookie(p); /* no stale free cookie from a former region */
	return p;
}

size_t jm__large_usable(struct jm_chunk *c, uint64_t pm)
{
	return (size_t)jm__chunk_run(c, JM_PM_START(pm))->npages << JM_LG_PAGE;
}

void jm__large_free(struct jm_chunk *c, void *ptr, uint64_t pm)
{
	size_t first = JM_PM_START(pm);
	if ((char *)c + (first << JM_LG_PAGE) != (char *)ptr)
		jm__report_misuse("free of a pointer inside a large region", ptr);
	jm__bg_check((uint64_t)jm__chunk_run(c, first)->npages << JM_LG_PAGE);
	struct jm_arena *a = c->arena;
	jm__lock(a->lock, &a->stats->lock_contended);
	struct jm_run *run = jm__chunk_run(c, first);
	if (run->state != JM_RUN_LARGE || c->pagemap[first] != pm) {
		jm__unlock(a->lock);
		jm__report_misuse("double free of a large region", ptr);
	}
	jm__row_begin(&a->stats->seq);
	a->stats->allocated_large -= (size_t)run->npages << JM_LG_PAGE;
	a->stats->ndalloc_large++;
	if (!acache_push(a, run, ptr))
		jm__arena_run_free(a, c, run);
	jm__row_end(&a->stats->seq);
	jm__unlock(a->lock);
	jm__arena_purge_detached(a);
}

/* Resizes a large region in place when its run can shrink, or grow into the
 * free run that follows it; returns ptr, or NULL if it cannot. */
void *jm__large_ralloc_inplace(struct jm_chunk *c, void *ptr, uint64_t pm, size_t size)
{
	size_t first = JM_PM_START(pm);
	size_t npages = (size + JM_PAGE_MASK) >> JM_LG_PAGE;
	struct jm_arena *a = c->arena;
	void *ret = NULL;
	jm__lock(a->lock, &a->stats->lock_contended);
	struct jm_run *run = jm__chunk_run(c, first);
	size_t old = run->npages;
	jm__row_begin(&a->stats->seq);
	if (npages == old) {
		ret = ptr;
	} else if (npages < old) {
		set_run(c, first, npages, JM_RUN_LARGE);
		set_run(c, first + npages, old - npages, JM_RUN_LARGE);
		a->stats->allocated_large -= (old - npages) << JM_LG_PAGE;
		jm__arena_run_free(a, c, jm__chunk_run(c, first + npages));
		ret = ptr;
	} else {
		size_t end = first + old;
		size_t need = npages - old;
		if (end < JM_CHUNK_PAGES && jm__chunk_run(c, end)->state == JM_RUN_FREE &&
		    jm__chunk_run(c, end)->npages >= need) {
			struct jm_run *next = jm__chunk_run(c, end);
			size_t nfree = next->npages;
			uint64_t when = next->dirty_ns;
			struct jm_run *after = next->dirty ? next->dprev : NULL;
			size_t nd = next->ndirty;
			size_t taken = nd == nfree ? need : nd ? dmap_count(c, end, need) : 0;
			dirty_remove(a, next);
			free_remove(a, next);
			if (nfree > need && nd)
				make_free_after(a, c, end + need, nfree - need, nd - taken, when, after);
			else if (nfree > need)
				file_free(a, c, end + need, nfree - need);
			c->nfree_pages -= (uint32_t)need;
			set_run(c, first, npages, JM_RUN_LARGE);
			jm__pm_fill(&c->pagemap[end], need, jm__pm_make(JM_PM_LARGE, a->index, first));
			a->stats->active += need << JM_LG_PAGE;
			a->stats->allocated_large += need << JM_LG_PAGE;
			stats_dirty(a);
			ret = ptr;
		}
	}
	jm__row_end(&a->stats->seq);
	jm__unlock(a->lock);
	jm__arena_purge_detached(a);
	return ret;
}

/* ---------------------------------------------------------------- fork */

void jm__arena_prefork(void)
{
	jm__fork_lock(&arenas_lock);
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *a = jm__arenas[i];
		if (a == NULL)
			continue;
		for (unsigned b = 0; b < JM_NBINS; b++)
			jm__fork_lock(a->bins[b].lock);
		jm__fork_lock(a->lock);
	}
}

void jm__arena_postfork_parent(void)
{
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *a = jm__arenas[i];
		if (a == NULL)
			continue;
		jm__fork_unlock(a->lock);
		for (unsigned b = 0; b < JM_NBINS; b++)
			jm__fork_unlock(a->bins[b].lock);
	}
	jm__fork_unlock(&arenas_lock);
}

JM_FORK_TEXT void jm__arena_postfork_child(void)
{
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *a = jm__arenas[i];
		if (a == NULL)
			continue;
		jm__lock_init(a->lock);
		for (unsigned b = 0; b < JM_NBINS; b++)
			jm__lock_init(a->bins[b].lock);
		/* Pieces other threads were purging when the parent forked:
		 * those threads are gone. (Nothing written when there are
		 * none: the arena's row is on a page the child shares.) */
		if (a->purging != NULL || a->ninflight != 0)
			purging_finish_locked(a, true);
		else if (a->stats->dirty != (a->ndirty_pages << JM_LG_PAGE) + a->huge_dirty ||
		    a->stats->retained != (uint64_t)a->nretained * JM_CHUNK + a->huge_retained)
			stats_dirty(a);
	}
	arenas_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	jm__arena_postfork_threads();
}
