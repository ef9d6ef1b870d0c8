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
 * sits in the arena's dirty list, oldest first. Dirty pages are purged
 * (madvise DONTNEED) by age, oldest first, down to the allowance of
 * decay.c: a page freed just now may stay, one freed decay_ms ago may not,
 * along a smooth curve between. The allowance is looked at on the slow
 * paths that free runs (every PURGE_TICKS of them, and at most once a
 * decay epoch, decay_ms / 200) and by the background purger (bg.c), never
 * per free(). A hard cap bounds what decay allows: an arena never keeps
 * more dirty pages than max(DIRTY_CAP_MIN, its active pages); beyond that
 * the oldest are purged at once. Runs are purged whole (they are
 * coalesced, so pieces are as large as the free space allows).
 *
 * A chunk that becomes wholly free stays in the free lists, dirty, under
 * the same decay. When decay purges it, the whole 2 MiB chunk, header
 * included, is purged in one piece (so a transparent huge page is not
 * split) and the chunk leaves the radix tree for the arena's retained
 * array: address space kept for the next chunk the arena needs, which
 * takes it back instead of mapping one. Beyond JM_RETAIN_CHUNKS retained
 * chunks, the oldest is unmapped.
 *
 * Everything here runs under the arena's lock, which is taken after a bin's
 * lock when both are needed.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

struct jm_arena **jm__arenas;
unsigned jm__narenas;
static jm_lock_t arenas_lock = PTHREAD_MUTEX_INITIALIZER;

void jm__lock_init(jm_lock_t *l)
{
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(l, &attr);
	pthread_mutexattr_destroy(&attr);
}

static struct jm_arena *arena_create(unsigned index)
{
	struct jm_arena *a = jm__base_alloc(sizeof(*a));
	if (a == NULL)
		return NULL;
	jm__lock_init(&a->lock);
	a->index = index;
	a->stats = jm__stats_arena_row(index);
	a->stats->index = index;
	for (unsigned i = 0; i < JM_NBINS; i++) {
		jm__lock_init(&a->bins[i].lock);
		a->bins[i].stats = jm__stats_bin_row(index, i);
		a->bins[i].stats->size = jm__bin_info[i].size;
	}
	return a;
}

struct jm_arena *jm__arena_get(unsigned index)
{
	struct jm_arena *a = __atomic_load_n(&jm__arenas[index], __ATOMIC_ACQUIRE);
	if (jm_likely(a != NULL))
		return a;
	pthread_mutex_lock(&arenas_lock);
	a = jm__arenas[index];
	if (a == NULL) {
		a = arena_create(index);
		if (a == NULL) {
			pthread_mutex_unlock(&arenas_lock);
			jm__fatal("out of memory creating arena %u", index);
		}
		__atomic_store_n(&jm__arenas[index], a, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&arenas_lock);
	return a;
}

/* Threads that have an arena and have not exited, per arena (under
 * arenas_lock), and the calling thread's arena, for its exit. */
static unsigned arena_threads[JM_MAX_ARENAS];
static __thread struct jm_arena *thread_arena;

/* A thread's arena: the one with the fewest live threads, the lowest
 * index among equals (an arena not created yet has none). Threads that
 * run at once get arenas of their own while there are enough (a hash of
 * the thread id put two of two threads in one arena half the time), and a
 * thread that replaces one that exited takes its arena back, with the
 * memory that thread freed, instead of another arena's: mstress, whose
 * 2 threads are new in each of its 10 rounds, spread over 3 arenas by the
 * hash and held 74 MiB at its peak, 32 MiB with narenas:1. */
struct jm_arena *jm__arena_for_thread(uint32_t tid)
{
	(void)tid;
	pthread_mutex_lock(&arenas_lock);
	unsigned best = 0;
	for (unsigned i = 1; i < jm__narenas && arena_threads[best] != 0; i++)
		if (arena_threads[i] < arena_threads[best])
			best = i;
	arena_threads[best]++;
	pthread_mutex_unlock(&arenas_lock);
	struct jm_arena *a = jm__arena_get(best);
	thread_arena = a;
	return a;
}

void jm__arena_thread_exit(void)
{
	struct jm_arena *a = thread_arena;
	if (a == NULL)
		return;
	thread_arena = NULL;
	pthread_mutex_lock(&arenas_lock);
	arena_threads[a->index]--;
	pthread_mutex_unlock(&arenas_lock);
}

/* In a forked child: only the forking thread lives. */
void jm__arena_postfork_threads(void)
{
	memset(arena_threads, 0, sizeof(arena_threads));
	if (thread_arena)
		arena_threads[thread_arena->index] = 1;
}

/* ---------------------------------------------------------------- runs */

static void set_run(struct jm_chunk *c, size_t first, size_t npages, uint8_t state)
{
	struct jm_run *r = &c->runs[first];
	struct jm_run *last = &c->runs[first + npages - 1];
	r->state = state;
	r->npages = (uint32_t)npages;
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

static void dirty_insert(struct jm_arena *a, struct jm_run *r, uint64_t when, size_t nd)
{
	r->dirty = 1;
	r->dirty_ns = when;
	r->ndirty = (uint32_t)nd;
	r->dnext = NULL;
	r->dprev = a->dirty_tail;
	if (a->dirty_tail)
		a->dirty_tail->dnext = r;
	else
		a->dirty_head = r;
	a->dirty_tail = r;
	a->ndirty_pages += nd;
}

static void dirty_remove(struct jm_arena *a, struct jm_run *r)
{
	if (!r->dirty)
		return;
	if (r->dprev)
		r->dprev->dnext = r->dnext;
	else
		a->dirty_head = r->dnext;
	if (r->dnext)
		r->dnext->dprev = r->dprev;
	else
		a->dirty_tail = r->dprev;
	r->dnext = r->dprev = NULL;
	r->dirty = 0;
	a->ndirty_pages -= r->ndirty;
	r->ndirty = 0;
}

static void stats_dirty(struct jm_arena *a)
{
	a->stats->dirty = (a->ndirty_pages << JM_LG_PAGE) + a->huge_dirty;
	a->stats->retained = (uint64_t)a->nretained * JM_CHUNK + a->huge_retained;
}

/* Makes [first, first+npages) of c a free run whose first `nd` pages may
 * be resident (dirty as of `when`; 0 pages: a clean run), and files it. */
static void make_free(struct jm_arena *a, struct jm_chunk *c, size_t first,
    size_t npages, uint64_t when, size_t nd)
{
	set_run(c, first, npages, JM_RUN_FREE);
	struct jm_run *r = &c->runs[first];
	r->dirty = 0;
	r->ndirty = 0;
	free_insert(a, r);
	if (nd)
		dirty_insert(a, r, when, nd);
}

static struct jm_chunk *chunk_new(struct jm_arena *a)
{
	struct jm_chunk *c;
	if (a->nretained) {
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
	for (size_t i = 0; i < c->hdr_pages; i++)
		c->runs[i].state = JM_RUN_HEADER;
	c->nfree_pages = (uint32_t)(JM_CHUNK_PAGES - c->hdr_pages);
	make_free(a, c, c->hdr_pages, c->nfree_pages, 0, 0);
	a->stats->nchunks++;
	stats_dirty(a);
	return c;
}

/* Purges a wholly free chunk in one 2 MiB piece, header included, and
 * keeps it for reuse; beyond JM_RETAIN_CHUNKS, the oldest kept one is
 * unmapped. */
static void chunk_retain(struct jm_arena *a, struct jm_chunk *c)
{
	struct jm_run *r = &c->runs[c->hdr_pages];
	uint64_t dirty_bytes = (uint64_t)r->ndirty << JM_LG_PAGE;
	dirty_remove(a, r);
	free_remove(a, r);
	jm__rtree_clear((uintptr_t)c);
	jm__os_purge(c, JM_CHUNK);
	a->stats->purged += dirty_bytes;
	a->stats->npurge++;
	a->stats->nchunks--;
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

/* Best fit: the smallest free run of at least npages whose pages can start
 * at a multiple of align_pages. */
static struct jm_run *find_fit(struct jm_arena *a, size_t npages, size_t align_pages,
    size_t *lead_out)
{
	for (size_t n = npages; n <= JM_CHUNK_PAGES; n++) {
		size_t w = n >> 6;
		uint64_t bits = a->free_nonempty[w] & (~0ULL << (n & 63));
		while (bits == 0) {
			if (++w >= sizeof(a->free_nonempty) / 8)
				return NULL;
			bits = a->free_nonempty[w];
		}
		n = (w << 6) + (size_t)__builtin_ctzll(bits);
		for (struct jm_run *r = a->free_runs[n]; r; r = r->next) {
			struct jm_chunk *c = run_chunk(r);
			size_t first = jm__run_page(c, r);
			size_t start = (first + align_pages - 1) / align_pages * align_pages;
			if (start + npages <= first + n) {
				*lead_out = start - first;
				return r;
			}
		}
	}
	return NULL;
}

/* Takes a run of npages (aligned to align_pages) from the free runs, or
 * from a new chunk, and gives it `state`. Under the arena lock. */
struct jm_run *jm__arena_run_alloc(struct jm_arena *a, size_t npages,
    size_t align_pages, uint8_t state, bool *was_dirty)
{
	size_t lead = 0;
	struct jm_run *r = find_fit(a, npages, align_pages, &lead);
	if (r == NULL) {
		if (chunk_new(a) == NULL)
			return NULL;
		r = find_fit(a, npages, align_pages, &lead);
		if (r == NULL)
			return NULL;
	}
	struct jm_chunk *c = run_chunk(r);
	size_t first = jm__run_page(c, r);
	size_t total = r->npages;
	uint64_t when = r->dirty_ns;
	size_t nd = r->ndirty;   /* the dirty prefix of the run */
	*was_dirty = lead < nd;
	dirty_remove(a, r);
	free_remove(a, r);
	if (lead)
		make_free(a, c, first, lead, when, nd < lead ? nd : lead);
	size_t start = first + lead;
	size_t trail = total - lead - npages;
	size_t rel = lead + npages;
	if (trail)
		make_free(a, c, start + npages, trail, when,
		    nd <= rel ? 0 : (nd - rel < trail ? nd - rel : trail));
	c->nfree_pages -= (uint32_t)npages;
	struct jm_run *run = &c->runs[start];
	set_run(c, start, npages, state);
	a->stats->active += npages << JM_LG_PAGE;
	stats_dirty(a);
	return run;
}

void jm__arena_run_free(struct jm_arena *a, struct jm_chunk *c, struct jm_run *run)
{
	size_t first = jm__run_page(c, run);
	size_t npages = run->npages;
	bool had_dirty = a->dirty_head != NULL;
	size_t freed = npages;
	a->decay.pending += npages;
	a->stats->active -= npages << JM_LG_PAGE;
	c->nfree_pages += (uint32_t)npages;
	for (size_t i = first; i < first + npages; i++)
		c->pagemap[i] = JM_PM_NONE;

	/* Coalesce with the free neighbours. The merged run's dirty prefix
	 * is exact when the run before it is wholly dirty (or absent), and
	 * all of it otherwise (purging pages that are not resident is cheap;
	 * leaving resident pages unpurged is not). */
	size_t nd = npages;
	bool exact = true;
	if (first > c->hdr_pages && c->runs[first - 1].state == JM_RUN_FREE) {
		struct jm_run *prev = &c->runs[c->runs[first - 1].first];
		exact = prev->ndirty == prev->npages;
		nd += prev->ndirty;
		dirty_remove(a, prev);
		free_remove(a, prev);
		npages += prev->npages;
		first = jm__run_page(c, prev);
	}
	size_t end = first + npages;
	if (end < JM_CHUNK_PAGES && c->runs[end].state == JM_RUN_FREE) {
		struct jm_run *next = &c->runs[end];
		nd += next->ndirty;
		dirty_remove(a, next);
		free_remove(a, next);
		npages += next->npages;
	}
	make_free(a, c, first, npages, 1, exact ? nd : npages);
	if (!had_dirty && jm__opt.background_thread)
		jm__bg_dirtied();
	if (jm_unlikely(atomic_load_explicit(&jm__bg_child, memory_order_relaxed)))
		jm__bg_child_dirty((uint64_t)freed << JM_LG_PAGE);
	jm__arena_maybe_purge(a, false);
	stats_dirty(a);
}

/* The hard cap on an arena's dirty pages, whatever their age. */
#define DIRTY_CAP_MIN_PAGES (((uint64_t)256 << 20) >> JM_LG_PAGE)
#define PURGE_TICKS 8   /* run frees between two looks at the clock */

static uint64_t dirty_cap(const struct jm_arena *a)
{
	uint64_t active = a->stats->active >> JM_LG_PAGE;
	return active > DIRTY_CAP_MIN_PAGES ? active : DIRTY_CAP_MIN_PAGES;
}

/* Purges the oldest dirty pages until at most `target` are left: the
 * oldest run's dirty pages, whole if that is not more than needed (a
 * wholly free chunk whole, header included), else the end of its dirty
 * prefix, in pieces of at least PURGE_MIN_PAGES (so the allowance may be
 * exceeded by less than one piece, but for a target of 0). */
#define PURGE_MIN_PAGES 64
static void purge_to(struct jm_arena *a, uint64_t target)
{
	struct jm_run *r;
	while (a->ndirty_pages > target && (r = a->dirty_head) != NULL) {
		struct jm_chunk *c = run_chunk(r);
		uint64_t excess = a->ndirty_pages - target;
		size_t nd = r->ndirty;
		if (excess >= nd && r->npages == JM_CHUNK_PAGES - c->hdr_pages) {
			chunk_retain(a, c);
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
		jm__os_purge((char *)jm__run_addr(c, r) + ((nd - k) << JM_LG_PAGE), k << JM_LG_PAGE);
		a->stats->purged += k << JM_LG_PAGE;
		a->stats->npurge++;
		if (k == nd) {
			dirty_remove(a, r);
		} else {
			r->ndirty -= (uint32_t)k;
			a->ndirty_pages -= k;
		}
	}
	stats_dirty(a);
}

/* The decay's look at an arena, under its lock: at most once an epoch,
 * purges what the allowance no longer covers. True if dirty pages remain. */
bool jm__arena_decay(struct jm_arena *a, uint64_t now)
{
	if (a->dirty_head == NULL || jm__opt.decay_ms < 0)
		return false;
	if (jm__opt.decay_ms == 0) {
		purge_to(a, 0);
		return false;
	}
	if (a->decay.epoch_ns != 0 && !jm__decay_due(&a->decay, now))
		return true;
	uint64_t limit = jm__decay_update(&a->decay, now);
	if (a->ndirty_pages > limit)
		purge_to(a, limit);
	return a->ndirty_pages != 0;
}

void jm__arena_maybe_purge(struct jm_arena *a, bool force)
{
	if (force || jm__opt.decay_ms == 0) {
		purge_to(a, 0);
		return;
	}
	if (jm__opt.decay_ms < 0 || a->dirty_head == NULL)
		return;
	uint64_t cap = dirty_cap(a);
	if (jm_unlikely(a->ndirty_pages > cap)) {
		a->stats->npurge_cap++;
		purge_to(a, cap);
	}
	if (++a->purge_ticks < PURGE_TICKS)
		return;
	a->purge_ticks = 0;
	jm__arena_decay(a, jm__now_ns());
}

/* --------------------------------------------------------------- large */

void *jm__large_alloc(struct jm_arena *a, size_t size, size_t align, bool zero)
{
	size_t npages = (size + JM_PAGE_MASK) >> JM_LG_PAGE;
	size_t align_pages = align > JM_PAGE ? align >> JM_LG_PAGE : 1;
	bool dirty;
	jm__lock(&a->lock, &a->stats->lock_contended);
	jm__row_begin(&a->stats->seq);
	struct jm_run *run = jm__arena_run_alloc(a, npages, align_pages, JM_RUN_LARGE, &dirty);
	if (run == NULL) {
		jm__row_end(&a->stats->seq);
		jm__unlock(&a->lock);
		errno = ENOMEM;
		return NULL;
	}
	struct jm_chunk *c = run_chunk(run);
	size_t first = jm__run_page(c, run);
	for (size_t i = first; i < first + npages; i++)
		c->pagemap[i] = jm__pm_make(JM_PM_LARGE, 0, first);
	a->stats->allocated_large += npages << JM_LG_PAGE;
	a->stats->nmalloc_large++;
	stats_dirty(a);
	jm__row_end(&a->stats->seq);
	jm__unlock(&a->lock);
	void *p = jm__run_addr(c, run);
	if (zero && dirty)
		memset(p, 0, npages << JM_LG_PAGE);
	else if (dirty)
		jm__flist_clear_cookie(p); /* no stale free cookie from a former region */
	return p;
}

size_t jm__large_usable(struct jm_chunk *c, uint64_t pm)
{
	return (size_t)c->runs[JM_PM_START(pm)].npages << JM_LG_PAGE;
}

void jm__large_free(struct jm_chunk *c, void *ptr, uint64_t pm)
{
	size_t first = JM_PM_START(pm);
	if ((char *)c + (first << JM_LG_PAGE) != (char *)ptr)
		jm__report_misuse("free of a pointer inside a large region", ptr);
	jm__bg_check();
	struct jm_arena *a = c->arena;
	jm__lock(&a->lock, &a->stats->lock_contended);
	struct jm_run *run = &c->runs[first];
	if (run->state != JM_RUN_LARGE || c->pagemap[first] != pm) {
		jm__unlock(&a->lock);
		jm__report_misuse("double free of a large region", ptr);
	}
	jm__row_begin(&a->stats->seq);
	a->stats->allocated_large -= (size_t)run->npages << JM_LG_PAGE;
	a->stats->ndalloc_large++;
	jm__arena_run_free(a, c, run);
	jm__row_end(&a->stats->seq);
	jm__unlock(&a->lock);
}

/* Resizes a large region in place when its run can shrink, or grow into the
 * free run that follows it; returns ptr, or NULL if it cannot. */
void *jm__large_ralloc_inplace(struct jm_chunk *c, void *ptr, uint64_t pm, size_t size)
{
	size_t first = JM_PM_START(pm);
	size_t npages = (size + JM_PAGE_MASK) >> JM_LG_PAGE;
	struct jm_arena *a = c->arena;
	void *ret = NULL;
	jm__lock(&a->lock, &a->stats->lock_contended);
	struct jm_run *run = &c->runs[first];
	size_t old = run->npages;
	jm__row_begin(&a->stats->seq);
	if (npages == old) {
		ret = ptr;
	} else if (npages < old) {
		set_run(c, first, npages, JM_RUN_LARGE);
		set_run(c, first + npages, old - npages, JM_RUN_LARGE);
		a->stats->allocated_large -= (old - npages) << JM_LG_PAGE;
		jm__arena_run_free(a, c, &c->runs[first + npages]);
		ret = ptr;
	} else {
		size_t end = first + old;
		size_t need = npages - old;
		if (end < JM_CHUNK_PAGES && c->runs[end].state == JM_RUN_FREE &&
		    c->runs[end].npages >= need) {
			struct jm_run *next = &c->runs[end];
			size_t nfree = next->npages;
			uint64_t when = next->dirty_ns;
			size_t nd = next->ndirty;
			dirty_remove(a, next);
			free_remove(a, next);
			if (nfree > need)
				make_free(a, c, end + need, nfree - need, when,
				    nd > need ? nd - need : 0);
			c->nfree_pages -= (uint32_t)need;
			set_run(c, first, npages, JM_RUN_LARGE);
			for (size_t i = end; i < end + need; i++)
				c->pagemap[i] = jm__pm_make(JM_PM_LARGE, 0, first);
			a->stats->active += need << JM_LG_PAGE;
			a->stats->allocated_large += need << JM_LG_PAGE;
			stats_dirty(a);
			ret = ptr;
		}
	}
	jm__row_end(&a->stats->seq);
	jm__unlock(&a->lock);
	return ret;
}

/* ---------------------------------------------------------------- fork */

void jm__arena_prefork(void)
{
	pthread_mutex_lock(&arenas_lock);
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *a = jm__arenas[i];
		if (a == NULL)
			continue;
		for (unsigned b = 0; b < JM_NBINS; b++)
			pthread_mutex_lock(&a->bins[b].lock);
		pthread_mutex_lock(&a->lock);
	}
}

void jm__arena_postfork_parent(void)
{
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *a = jm__arenas[i];
		if (a == NULL)
			continue;
		pthread_mutex_unlock(&a->lock);
		for (unsigned b = 0; b < JM_NBINS; b++)
			pthread_mutex_unlock(&a->bins[b].lock);
	}
	pthread_mutex_unlock(&arenas_lock);
}

void jm__arena_postfork_child(void)
{
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *a = jm__arenas[i];
		if (a == NULL)
			continue;
		jm__lock_init(&a->lock);
		for (unsigned b = 0; b < JM_NBINS; b++)
			jm__lock_init(&a->bins[b].lock);
		a->stats->nthreads = 0;
	}
	pthread_mutex_init(&arenas_lock, NULL);
	jm__arena_postfork_threads();
}
