/*
 * huge.c: allocations larger than the largest large size. Each is mapped
 * directly, 2 MiB-aligned (or more, if asked) and in whole 2 MiB blocks
 * (map_for: every split, merge and move below is of whole blocks),
 * recorded in the global radix tree under its first 2 MiB address with a
 * struct jm_huge. Records come
 * from the base allocator and are recycled through a free list under
 * huge_lock. The bytes are charged to the calling thread's arena
 * (allocated_huge, active, mapped) under that arena's lock.
 *
 * A freed huge region is kept mapped (docs/purging.md): it is dirty at
 * first, purged whole (one madvise, 2 MiB-aligned) under the same decay as
 * the arenas' pages (decay.c, its own struct jm_decay), and then kept,
 * purged, as address space. A later huge allocation takes its blocks
 * (its size rounded up to 2 MiB) of the smallest kept region that has
 * them, without mapping, and without a page fault if it was not purged
 * yet (the rest stays kept, a region of its own), and failing that is a
 * new mapping, made with a quarter more room (room_for) or as much as the
 * recent requests' largest blocks (fresh_for), so that once kept it
 * serves a larger request where it is; its blocks up to its size
 * take the pages of dirty kept regions that fit no request (gather,
 * below; not for calloc; not while the process has more mappings than
 * an eighth of vm.max_map_count: each piece moved stays one).
 * Each record knows how far from its start its occupants may have
 * written since its mapping or last purge (touched): a kept region whose
 * rest past a request holds nothing and fits no like request is taken
 * whole (tail_useless), and
 * a request of a quarter of a dirty region or less has what is past it
 * purged (jm__huge_alloc).
 * A region realloc grows takes the kept region after it where it is
 * (grow_into_kept). What a region realloc grows or moves has fresh is
 * filled with the pages of other dirty kept regions, moved there by
 * mremap, which moves pages without copying them (gather): they would
 * stay resident beside it, fitting no request, while its own pages fault
 * in. A freed region
 * merges with the kept regions of its arena that touch it, so that what
 * was split comes back whole. Bounds: at most
 * HUGE_DIRTY_CAP bytes of kept regions are dirty, and at most a
 * sixteenth of the cgroup's memory limit (decay.c; beyond, the oldest are
 * purged at once), at most HUGE_RETAIN_BYTES are kept in all (beyond, the
 * oldest are unmapped), and a region of more than HUGE_DIRTY_CAP of blocks
 * is unmapped on free (one within it gives back its room and is kept).
 * Purging happens outside huge_lock: the region is marked busy (not to be
 * taken) meanwhile. The dirty and purged bytes of kept regions
 * are charged to their arena's dirty and retained counters.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_DIRTY_CAP    ((size_t)256 << 20)
#define HUGE_RETAIN_BYTES ((size_t)512 << 20)

static jm_lock_t huge_lock = PTHREAD_MUTEX_INITIALIZER;
static struct jm_huge *huge_free_list;
static struct jm_huge *retained;      /* most recently freed first */
static size_t retained_bytes;         /* kept regions, dirty or not */
static _Atomic size_t dirty_bytes;    /* kept regions not purged (written
                                         under huge_lock) */
static struct jm_decay huge_decay JM_LARGE_BSS; /* in pages; apart from the
                                         small variables every process
                                         touches (internal.h) */
/* Called (tests only) after a purge is counted, before huge_lock is taken
 * again: where a fork from another thread finds a busy, counted region. */
void (*jm__test_huge_purged)(void);
/* Called (tests only) in a free, before the region is kept: where a fork
 * from the freeing thread finds it neither kept nor counted kept. */
void (*jm__test_huge_keeping)(void);
/* Called (tests only) once a realloc that resized a region where it is
 * (into the kept region after it, within its mapping, a shrink) is
 * counted: where a fork from that thread finds the record and its arena's
 * counters. */
void (*jm__test_huge_grown)(void);
/* Called (tests only) in a realloc that shrinks a region where it is,
 * once the pages of the tail it gives up have gone (purged; unmapped with
 * the record's change), before the region's record says so: where a fork
 * from that thread finds the record's mapping and the address space it
 * names. */
void (*jm__test_huge_tail_gone)(void);

static struct jm_huge *record_new(void)
{
	pthread_mutex_lock(&huge_lock);
	struct jm_huge *h = huge_free_list;
	if (h)
		huge_free_list = h->next_free;
	pthread_mutex_unlock(&huge_lock);
	if (h == NULL)
		h = jm__base_alloc(sizeof(*h));
	return h;
}

static void record_put(struct jm_huge *h)
{
	pthread_mutex_lock(&huge_lock);
	h->next_free = huge_free_list;
	huge_free_list = h;
	pthread_mutex_unlock(&huge_lock);
}

/* What a huge operation changes in its arena's row. */
struct delta {
	long long usable, mapped, dirty, retained;
	uint64_t nmalloc, ndalloc, purged, npurge, nunmap, nreuse, nmap;
	/* rt_key != 0: under the same lock, the radix tree's entry for
	 * rt_key is set to rt_val (cleared if 0), so that a fork sees a
	 * region's record and its bytes in the counters together (a child
	 * forked between the two had a region counted nowhere, and its free
	 * wrapped allocated_huge below zero). */
	uintptr_t rt_key, rt_val;
	/* moved != NULL: under the same lock, the region's record takes its
	 * new place (addr, map_size, size), so that a fork sees the record
	 * and the radix tree agree. */
	struct jm_huge *moved;
	void *to;
	size_t to_map, to_size;
	bool remap;   /* moved: its pages go to `to` first (mremap) */
	/* moved in place to a smaller mapping: the part it gives up is
	 * unmapped under the same lock, so that a fork sees the record
	 * name no address space that is not the region's. */
	bool unmap_tail;
};

/* Whether the process runs under a limit of address space (RLIMIT_AS)
 * or of data (RLIMIT_DATA, which counts the same private mappings), read
 * once: there, a region stays one mapping (no gather), which
 * mremap can move whole where the kernel finds room (huge_move_kernel);
 * a gathered region is several, which it refuses (EFAULT), and a buffer
 * grown by realloc under `ulimit -v 65536` stopped at 32 MiB. */
static bool as_limited(void)
{
	static _Atomic int known;   /* 0 not yet, 1 limited, 2 not */
	int k = atomic_load_explicit(&known, memory_order_relaxed);
	if (k == 0) {
		k = jm__os_map_limit() != UINT64_MAX ? 1 : 2;
		atomic_store_explicit(&known, k, memory_order_relaxed);
	}
	return k == 1;
}

/* The size of a region's mapping: `usable` rounded up to 2 MiB. Every
 * mapping, split, merge and move of huge regions is so in whole 2 MiB
 * blocks at 2 MiB-aligned addresses: mremap then moves a block's page
 * table whole. Pages moved one entry at a time (a source and destination
 * not congruent modulo 2 MiB, or a block's partial tail) cost each a
 * fault's time at their next touch under a hypervisor that shadows the
 * guest's page tables (PVM: 12-20 us, as a fresh page; a whole block
 * 20 ns a page). The rest of the last block is address space the program
 * does not touch (room for realloc to grow in place). */
static size_t map_for(size_t usable)
{
	return (usable + JM_CHUNK_MASK) & ~JM_CHUNK_MASK;
}
static size_t room_for(size_t usable);
/* touched (struct jm_huge) cut to a region's first `len` bytes. */
static size_t touched_min(size_t touched, size_t len)
{
	return touched < len ? touched : len;
}
static void resize_in_place(struct jm_huge *h, size_t usable, size_t map);

/* Moves the pages of [src, src + len) to dst (mapped, replaced) with
 * mremap, which takes a range of one mapping only: a kept region that
 * was gathered (below) is several, so a range it refuses (EFAULT) is
 * moved in two halves, each the same way. False if some part could not
 * be moved (what was moved is at dst, the rest still at src); with
 * `copy` (a live region, whose bytes must all arrive), a part that cannot
 * move is copied instead (dst mapped again first: a kernel before 6.17
 * unmapped it before refusing), and false only if that mapping fails. */
static bool move_pages(char *src, size_t len, char *dst, bool copy)
{
	if (mremap(src, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst) != MAP_FAILED)
		return true;
	if (errno == EFAULT && len > JM_PAGE) {
		/* At a 2 MiB boundary when the halves have one (above). */
		size_t half = len >= 2 * JM_CHUNK ? (len >> (JM_LG_CHUNK + 1)) << JM_LG_CHUNK :
		    (len >> (JM_LG_PAGE + 1)) << JM_LG_PAGE;
		return move_pages(src, half, dst, copy) &&
		    move_pages(src + half, len - half, dst + half, copy);
	}
	if (!copy || mmap(dst, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	        MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
		return false;
	jm__os_thp(dst, len, true);
	memcpy(dst, src, len);
	jm__os_unmap(src, len);
	return true;
}

/* Charges d to the arena; sets *counted (if not NULL) under its lock.
 * False (nothing charged) if d's radix tree entry could not be set. */
static bool charge_dm(unsigned arena, const struct delta *d, uint8_t *counted)
{
	struct jm_arena *a = jm__arena_get(arena);
	struct jmstat_arena *s = a->stats;
	jm__lock(a->lock, &s->lock_contended);
	if (d->remap) {
		/* Under the lock, so that a fork sees the pages, the record and
		 * the radix tree in one place or all in the other. */
		struct jm_huge *h = d->moved;
		if (!jm__rtree_set((uintptr_t)d->to, (uintptr_t)h | JM_RTREE_HUGE)) {
			jm__unlock(a->lock);
			return false;
		}
		/* The old entry (rt_key, rt_val 0) goes before the pages do:
		 * once they have left, the kernel may map another arena's new
		 * region there (under that arena's lock, not this one), which
		 * sets its entry, and clearing ours after lost it (its free
		 * then aborted: "not allocated by jmalloc"). */
		jm__rtree_clear(d->rt_key);
		/* At its size, into the start of `to` (the rest is the
		 * fresh mapping made for it): mremap grows no range of
		 * several mappings (EFAULT), and a gathered region is;
		 * each realloc of one that could not grow where it was
		 * copied it whole. Under a limit of address space, where
		 * nothing is gathered (as_limited), moved and grown over
		 * the whole of `to` instead: one mapping, which mremap can
		 * grow where it is or move whole later when there is no
		 * room for a fresh one (huge_move_kernel); at its size it
		 * was two, which it refuses. Refused at once: nothing
		 * moved, the caller copies; a region half moved cannot be
		 * given up. */
		size_t len = as_limited() ? d->to_map : h->map_size;
		if (mremap(h->addr, h->map_size, len,
		        MREMAP_MAYMOVE | MREMAP_FIXED, d->to) == MAP_FAILED) {
			if (errno != EFAULT) {
				/* Nothing moved: the region is where it was (its
				 * leaf is there, so the set cannot fail). */
				jm__rtree_clear((uintptr_t)d->to);
				jm__rtree_set(d->rt_key, (uintptr_t)h | JM_RTREE_HUGE);
				jm__unlock(a->lock);
				return false;
			}
			if (!move_pages(h->addr, h->map_size, d->to, true))
				jm__fatal("cannot move huge region %p to %p: errno %d; aborting",
				    h->addr, d->to, errno);
			/* A kernel before 6.17 unmapped all of `to` before
			 * refusing: its tail mapped again. */
			char *tail = (char *)d->to + h->map_size;
			if (len > h->map_size && mmap(tail, len - h->map_size,
			        PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
			        MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED) {
				if (errno != EEXIST)
					jm__fatal("cannot map huge region %p's room at %p: errno %d; aborting",
					    d->to, tail, errno);
			} else {
				jm__os_thp(tail, len - h->map_size, true);
			}
		}
	}
	if (d->remap) {
		/* Its old entry went above. */
	} else if (d->rt_key && d->rt_val == 0) {
		jm__rtree_clear(d->rt_key);
	} else if (d->rt_key && !jm__rtree_set(d->rt_key, d->rt_val)) {
		jm__unlock(a->lock);
		return false;
	}
	if (d->unmap_tail)
		jm__os_unmap((char *)d->to + d->to_map, d->moved->map_size - d->to_map);
	if (counted)
		*counted = 1;
	if (d->moved) {
		d->moved->addr = d->to;
		d->moved->map_size = d->to_map;
		d->moved->size = d->to_size;
	}
	jm__row_begin(&s->seq);
	s->allocated_huge += (uint64_t)d->usable;
	s->active += (uint64_t)d->usable;
	s->mapped += (uint64_t)d->mapped;
	s->nmalloc_huge += d->nmalloc;
	s->ndalloc_huge += d->ndalloc;
	__atomic_store_n(&s->purged, s->purged + d->purged, __ATOMIC_RELAXED);   /* arena.c, stats_purged */
	s->npurge += d->npurge;
	s->nunmap += d->nunmap;
	s->nreuse += d->nreuse;
	s->nmap += d->nmap;
	a->huge_dirty += (uint64_t)d->dirty;
	a->huge_retained += (uint64_t)d->retained;
	__atomic_store_n(&s->dirty, s->dirty + (uint64_t)d->dirty, __ATOMIC_RELAXED);   /* arena.c, stats_dirty */
	s->retained += (uint64_t)d->retained;
	jm__row_end(&s->seq);
	jm__unlock(a->lock);
	return true;
}

static void charge_d(unsigned arena, const struct delta *d)
{
	charge_dm(arena, d, NULL);
}

/* Takes a kept region off the list, under huge_lock. */
static void unkeep(struct jm_huge **pp)
{
	struct jm_huge *h = *pp;
	*pp = h->next_free;
	retained_bytes -= h->map_size;
	if (h->dirty)
		atomic_fetch_sub_explicit(&dirty_bytes, h->map_size, memory_order_relaxed);
}

/* The kept regions beyond HUGE_RETAIN_BYTES, oldest first, off the list.
 * Called with huge_lock held; returns the list of records to unmap after
 * the lock is released (through next_free). */
static struct jm_huge *retained_trim(void)
{
	struct jm_huge *out = NULL;
	while (retained_bytes > HUGE_RETAIN_BYTES) {
		struct jm_huge **oldest = NULL;
		for (struct jm_huge **pp = &retained; *pp; pp = &(*pp)->next_free)
			if (!(*pp)->busy)
				oldest = pp;
		if (oldest == NULL)
			break;
		struct jm_huge *h = *oldest;
		unkeep(oldest);
		h->next_free = out;
		out = h;
	}
	return out;
}

/* Unmaps regions that were kept (`kept`: their bytes are in their arena's
 * dirty or retained count) or never were. */
static void unmap_list(struct jm_huge *h, bool kept)
{
	while (h) {
		struct jm_huge *next = h->next_free;
		jm__os_unmap(h->addr, h->map_size);
		struct delta d = { .mapped = -(long long)h->map_size, .nunmap = 1 };
		if (kept && h->dirty)
			d.dirty = -(long long)h->map_size;
		else if (kept)
			d.retained = -(long long)h->map_size;
		charge_d(h->arena, &d);
		record_put(h);
		h = next;
	}
}

/* Under a limit of address space (RLIMIT_AS, `ulimit -v`) a kept region
 * is address space a new mapping may need: a mapping that fails for want
 * of memory (ENOMEM) unmaps every kept region not being purged, and is
 * tried again if there were any. A buffer grown by realloc, whose copies
 * left their old regions kept, stopped at half the limit. */
bool jm__huge_release_kept(void)
{
	struct jm_huge *out = NULL;
	pthread_mutex_lock(&huge_lock);
	for (struct jm_huge **pp = &retained; *pp;) {
		if ((*pp)->busy) {
			pp = &(*pp)->next_free;
			continue;
		}
		struct jm_huge *h = *pp;
		unkeep(pp);
		h->next_free = out;
		out = h;
	}
	pthread_mutex_unlock(&huge_lock);
	if (out == NULL)
		return false;
	unmap_list(out, true);
	return true;
}

static void *map_or_release(size_t size, size_t align)
{
	void *p = jm__os_map_aligned(size, align);
	if (p == NULL && errno == ENOMEM) {
		/* The thread's cached large regions first: one kept a chunk
		 * from being empty, and a buffer grown by realloc under 64 MiB
		 * of data stopped at 56 MiB instead of 58 (tests/preload/
		 * rlimit_data.test.sh, 2 runs in 24, since a first allocation
		 * that is large boots the thread's cache). */
		jm__tcache_large_flush_current();
		bool kept = jm__huge_release_kept();   /* both, whatever the first did */
		if (jm__arenas_release() || kept)
			p = jm__os_map_aligned(size, align);
	}
	return p;
}

/* Purges kept regions, oldest first: all of them (`all`), or down to the
 * hard cap and to what the decay allows. True if dirty ones remain. */
static bool huge_purge(uint64_t now, bool all)
{
	if (atomic_load_explicit(&dirty_bytes, memory_order_relaxed) == 0)
		return false;
	if (jm__opt.decay_ms < 0 && !all)
		return true;
	pthread_mutex_lock(&huge_lock);
	uint64_t target = 0;
	if (!all && jm__opt.decay_ms != 0) {
		target = UINT64_MAX;
		uint64_t cap = HUGE_DIRTY_CAP;
		if (dirty_bytes > (JM_CGROUP_CAP_MIN << JM_LG_PAGE)) {
			uint64_t cg = jm__cgroup_dirty_cap();
			if (cg < (cap >> JM_LG_PAGE))
				cap = cg << JM_LG_PAGE;
		}
		if (dirty_bytes > cap)
			target = cap;
		if (huge_decay.epoch_ns == 0 || jm__decay_due(&huge_decay, now)) {
			uint64_t limit = jm__decay_update(&huge_decay, now) << JM_LG_PAGE;
			if (limit < target)
				target = limit;
		}
	}
	for (;;) {
		/* The oldest dirty region, if the excess over the target is at
		 * least half of it (regions are purged whole). */
		struct jm_huge *h = NULL;
		if (dirty_bytes > target)
			for (struct jm_huge *r = retained; r; r = r->next_free)
				if (r->dirty && !r->busy)
					h = r;
		if (h == NULL || (target && dirty_bytes - target < h->map_size / 2))
			break;
		h->busy = 1;
		h->purge_counted = 0;
		atomic_fetch_sub_explicit(&dirty_bytes, h->map_size, memory_order_relaxed);
		pthread_mutex_unlock(&huge_lock);
		jm__os_purge(h->addr, h->map_size);
		struct delta d = { .dirty = -(long long)h->map_size,
		    .retained = (long long)h->map_size,
		    .purged = h->map_size, .npurge = 1 };
		charge_dm(h->arena, &d, &h->purge_counted);
		if (jm__test_huge_purged)
			jm__test_huge_purged();
		pthread_mutex_lock(&huge_lock);
		h->busy = 0;
		h->dirty = 0;
		h->purge_counted = 0;
		h->sparse_age = 0;
		h->touched = 0;
	}
	bool left = dirty_bytes != 0;
	pthread_mutex_unlock(&huge_lock);
	return left;
}

/* The decay's look at the kept huge regions (the background purger's). */
bool jm__huge_decay(uint64_t now)
{
	return huge_purge(now, false);
}

void jm__huge_purge_all(void)
{
	huge_purge(0, true);
}

/* The bytes of kept regions, dirty and purged, by arena (the validator's;
 * huge_lock held); false while one is being purged (its arena's counters
 * move outside the lock). */
bool jm__huge_kept_bytes(uint64_t *dirty, uint64_t *clean)
{
	bool stable = true;
	memset(dirty, 0, JM_MAX_ARENAS * sizeof(*dirty));
	memset(clean, 0, JM_MAX_ARENAS * sizeof(*clean));
	for (struct jm_huge *h = retained; h; h = h->next_free) {
		stable &= !h->busy;
		if (h->arena < JM_MAX_ARENAS)
			(h->dirty ? dirty : clean)[h->arena] += h->map_size;
	}
	return stable;
}

/* gather's bound on the process's mappings. A page moved by mremap keeps
 * the kernel's record of where it was mapped first (vm_pgoff, anon_vma),
 * so each piece moved into a region stays a mapping (VMA) of its own:
 * neither merges with the region around it nor with a neighbour. 40,000
 * live regions of 2..8 MiB replaced at random 400,000 times made 65,526
 * mappings, vm.max_map_count's default (65,530), where munmap failed (a
 * split needs a new VMA) and so would any mmap of the program
 * (jemalloc, tcmalloc, mimalloc: 29-48 mappings; docs/measurements.md,
 * session 37). So gather moves nothing while
 * /proc/self/maps has more than an eighth of vm.max_map_count lines
 * (jm__huge_gather_maps, 8191 by default), counted again once the pieces
 * moved and the calls refused since reach half the distance to that
 * bound, or an eighth of it near or past it: at most 2 VMAs a piece, so
 * at most a quarter over. A count reads about 2 us a line (15-20 ms at
 * 8,000 lines on this guest, loaded), once in 1,023 calls at the most.
 * Where /proc cannot be read it moves as before. */
_Atomic size_t jm__huge_gather_maps;  /* 0: vm.max_map_count / 8 (tests set it) */
static _Atomic size_t gather_tally, gather_next, gather_seen;  /* seen: the bound
                                         of the last count (a test's change
                                         counts again) */
static _Atomic bool gather_off;
static bool gather_allowed(void)
{
	if (jm__huge_gather_maps != 0 &&
	    jm__huge_gather_maps == atomic_load_explicit(&gather_seen, memory_order_relaxed) &&
	    atomic_fetch_add_explicit(&gather_tally, 1, memory_order_relaxed) + 1 <
	    atomic_load_explicit(&gather_next, memory_order_relaxed))
		return !atomic_load_explicit(&gather_off, memory_order_relaxed);
	atomic_store_explicit(&gather_tally, 0, memory_order_relaxed);
	if (jm__huge_gather_maps == 0) {
		char buf[32];
		size_t max = 0;
		if (jm__read_file("/proc/sys/vm/max_map_count", buf, sizeof(buf)) > 0)
			for (const char *c = buf; *c >= '0' && *c <= '9' && max < (1ul << 40); c++)
				max = max * 10 + (size_t)(*c - '0');
		jm__huge_gather_maps = (max ? max : 65530) / 8;
	}
	size_t bound = jm__huge_gather_maps;
	atomic_store_explicit(&gather_seen, bound, memory_order_relaxed);
	long maps = jm__os_count_maps();
	bool off = maps >= 0 && (size_t)maps > bound;
	size_t next = bound / 8;
	if (maps >= 0 && (size_t)maps < bound && (bound - (size_t)maps) / 2 > next)
		next = (bound - (size_t)maps) / 2;
	atomic_store_explicit(&gather_next, next, memory_order_relaxed);
	atomic_store_explicit(&gather_off, off, memory_order_relaxed);
	return !off;
}

/* Fills [dst + from, dst + to), fresh pages of a region realloc grows
 * or moves up to its new size, with the pages of other
 * dirty kept regions of `arena`, moved there by mremap: no fault when the
 * program writes them, no copy, and the kept regions a request fits
 * none of no longer stay resident beside it. The largest first, up to
 * HUGE_GATHER_MAX of them of at least HUGE_GATHER_MIN bytes, into a range
 * of at least that much (a syscall for fewer pages saves little, and the
 * pages of a kept region need not all be resident); of one larger than
 * what is left to fill, its tail (its head keeps its place and its
 * alignment). Returns the bytes of kept regions it placed there, moved
 * or not: a move the kernel refused part way (move_pages, a piece at a
 * time) has moved some of its pages all the same, so that calloc clears
 * the range whenever this is not 0 (it cleared only when a piece had moved
 * whole, and returned the kept bytes of one refused after its first
 * pages: test_huge_calloc_gather_cut). A buffer grown a step at a time
 * (realloc-grow, realloc-huge) left each finished buffer's pages resident
 * beside the fresh ones it faulted in (peak RSS 2 x glibc's; 1.74 x
 * without gather). A new mapping is filled so too (jm__huge_alloc):
 * taken out in b0b376f (moved pages cost a fault's time at their next
 * touch on this guest), put back when vec-grow measured it: peak RSS,
 * faults and CPU 25% less, purge-liveset's RSS and faults 14% less,
 * malloc-large's 3%, its CPU unchanged (docs/programs.md, "Real
 * programs, session 13"). */
#define HUGE_GATHER_MAX 8
#define HUGE_GATHER_MIN ((size_t)1 << 20)
static size_t gather(char *dst, size_t from, size_t to, unsigned arena, size_t *touched)
{
	struct { char *addr; size_t len, touched; struct jm_huge *whole; } piece[HUGE_GATHER_MAX];
	unsigned n = 0;
	size_t taken = 0;
	if (to - from < HUGE_GATHER_MIN ||
	    atomic_load_explicit(&dirty_bytes, memory_order_relaxed) == 0 || as_limited() ||
	    !gather_allowed())
		return 0;
	pthread_mutex_lock(&huge_lock);
	while (n < HUGE_GATHER_MAX && from + taken < to) {
		struct jm_huge **bestp = NULL;
		size_t need = to - from - taken;
		for (struct jm_huge **pp = &retained; *pp; pp = &(*pp)->next_free) {
			struct jm_huge *h = *pp;
			if (h->dirty && !h->busy && h->arena == arena &&
			    h->map_size >= HUGE_GATHER_MIN &&
			    (bestp == NULL || h->map_size > (*bestp)->map_size))
				bestp = pp;
		}
		if (bestp == NULL)
			break;
		struct jm_huge *h = *bestp;
		if (h->map_size <= need) {
			unkeep(bestp);
			piece[n].addr = h->addr;
			piece[n].len = h->map_size;
			piece[n].touched = h->touched;
			piece[n].whole = h;
		} else {
			piece[n].touched = h->touched > h->map_size - need ?
			    h->touched - (h->map_size - need) : 0;
			h->map_size -= need;
			h->touched = touched_min(h->touched, h->map_size);
			retained_bytes -= need;
			atomic_fetch_sub_explicit(&dirty_bytes, need, memory_order_relaxed);
			piece[n].addr = (char *)h->addr + h->map_size;
			piece[n].len = need;
			piece[n].whole = NULL;
		}
		taken += piece[n].len;
		n++;
	}
	pthread_mutex_unlock(&huge_lock);
	size_t placed = 0;
	int saved = errno;
	for (unsigned i = 0; i < n; i++) {
		char *at = dst + from + placed;
		size_t t = from + placed + piece[i].len;
		if (move_pages(piece[i].addr, piece[i].len, at, false)) {
			t = from + placed + piece[i].touched;
		} else {
			/* What did not move is given back where it is; its
			 * place in the region may have some pages that did. */
			jm__os_unmap(piece[i].addr, piece[i].len);
		}
		placed += piece[i].len;
		if (*touched < t)
			*touched = t;
		if (piece[i].whole)
			record_put(piece[i].whole);
	}
	errno = saved;
	if (n > 1)
		atomic_fetch_add_explicit(&gather_tally, (size_t)n - 1, memory_order_relaxed);
	if (n) {
		/* They leave the kept regions, and their old places: what
		 * they fill was counted mapped with the region. */
		struct delta d = { .dirty = -(long long)taken, .mapped = -(long long)taken };
		charge_d(arena, &d);
	}
	return taken;
}

/* A chunk for arena `a` (its lock held; huge_lock nests inside it, as at
 * a fork): 2 MiB of the smallest dirty kept region of the arena that has
 * them aligned at its start or its end, or NULL. Its pages are resident:
 * the arena's runs use them, dirty, instead of faulting in a fresh chunk
 * while the kept region stays resident beside it, fitting no huge
 * request. The bytes move from the kept regions' dirty count to the
 * chunk's, mapped stays. A program that freed a 32 MiB sort buffer and
 * then filled its page cache with 5 KiB regions (sqlite3's CREATE INDEX,
 * then VACUUM) held both: 203 MiB peak RSS against 170 with its pages
 * reused (tests/bench/programs.py, sqlite-file; glibc 140, jemalloc 166:
 * the rest is the 5 KiB class). */
void *jm__huge_take_chunk(struct jm_arena *a)
{
	if (atomic_load_explicit(&dirty_bytes, memory_order_relaxed) < JM_CHUNK)
		return NULL;
	struct jm_huge *whole = NULL;
	void *c = NULL;
	pthread_mutex_lock(&huge_lock);
	struct jm_huge **bestp = NULL;
	for (struct jm_huge **pp = &retained; *pp; pp = &(*pp)->next_free) {
		struct jm_huge *h = *pp;
		if (h->dirty && !h->busy && h->arena == a->index && h->map_size >= JM_CHUNK &&
		    ((((uintptr_t)h->addr + h->map_size) & JM_CHUNK_MASK) == 0 ||
		     ((uintptr_t)h->addr & JM_CHUNK_MASK) == 0) &&
		    (bestp == NULL || h->map_size < (*bestp)->map_size))
			bestp = pp;
	}
	if (bestp != NULL) {
		struct jm_huge *h = *bestp;
		/* Its head if that is aligned, else its tail: a region grown
		 * by realloc has room at its end that it never wrote, not
		 * resident (its tail first: sqlite-file's peak RSS was as
		 * before, 50k faults against 42k). */
		bool tail = ((uintptr_t)h->addr & JM_CHUNK_MASK) != 0;
		c = tail ? (char *)h->addr + h->map_size - JM_CHUNK : h->addr;
		if (h->map_size == JM_CHUNK) {
			unkeep(bestp);
			whole = h;
		} else {
			if (!tail) {
				h->addr = (char *)h->addr + JM_CHUNK;
				h->touched = h->touched > JM_CHUNK ? h->touched - JM_CHUNK : 0;
			}
			h->map_size -= JM_CHUNK;
			h->touched = touched_min(h->touched, h->map_size);
			retained_bytes -= JM_CHUNK;
			atomic_fetch_sub_explicit(&dirty_bytes, JM_CHUNK, memory_order_relaxed);
		}
	}
	pthread_mutex_unlock(&huge_lock);
	if (whole)
		record_put(whole);
	if (c != NULL)
		a->huge_dirty -= JM_CHUNK;   /* the caller's stats_dirty shows it */
	return c;
}

/* A retained region for `usable` bytes at `align`: the smallest kept
 * region of at least its blocks (map_for), a dirty one first (its pages
 * are resident: no fault), then one of the calling thread's arena (the
 * region keeps its arena, and what realloc grows gathers only that
 * arena's kept pages: realloc-huge's second buffer of a thread took the
 * rest of the other thread's kept region, and its own freed 64 MiB,
 * gathered by neither, stayed resident to the end: 200 MiB peak RSS
 * against 135 in some runs), split to those blocks if larger (the tail
 * stays kept, a region of its own: no syscall, its pages stay where they
 * are). A region up to twice the request was taken whole: the rest of
 * its blocks stayed resident beside the program's pages while it lived,
 * fitting nothing (malloc-large: up to 100 MiB of 330 live; peak RSS 5%
 * less over 5 seeds without, purge-liveset's even). Nothing is moved: it
 * grew the largest one of at least half the size, moving its pages
 * (mremap) to a new mapping, and filled the rest with other kept
 * regions' (gather); on a PVM guest a page moved so costs a fault's time
 * at its next touch even in whole 2 MiB blocks, and the pages of regions
 * reused where they are turned dear as well (malloc-large: 2.69 s of CPU
 * against 2.14 without moves, tcmalloc 1.93; peak RSS and faults 12%
 * less with them). */
/* Whether kept region h, given to a request of `head` bytes of blocks,
 * is taken whole rather than split: its tail is smaller than any
 * request's blocks in the last 64 to 128 (it would fit none), more than
 * a quarter of the request's (at most that is the room a fresh mapping
 * of its size has, room_for: split off as before; taken whole, 4 such
 * in purge-liveset moved its peak RSS from 144 to 149 MiB), and at most
 * a 64th of it may have been written since its last purge (h->touched),
 * so that it is address space, not pages. Split off, such a tail was
 * the next fresh mapping's to gather, an mremap that moved next to
 * nothing, and the region stayed too small for the larger requests: 2
 * and 4 MiB + 1 requests by turns, 16 live (the probe big2m1), made a
 * fresh 6 MiB mapping and two mremap calls every 5th request (2060 and
 * 3993 in 20000; docs/programs.md, "Probes, session 30"). Taken whole,
 * the regions stay 6 MiB and serve both: 67 mmap, 6 mremap. */
static size_t recent_min[2] = { SIZE_MAX, SIZE_MAX };   /* huge_lock */
static size_t recent_max[2];                             /* huge_lock */
static unsigned recent_n;
#define HUGE_RECENT 64
/* Forgets the recent requests (tests: each starts with no history). */
void jm__huge_recent_forget(void)
{
	pthread_mutex_lock(&huge_lock);
	recent_min[0] = recent_min[1] = SIZE_MAX;
	recent_max[0] = recent_max[1] = 0;
	recent_n = 0;
	pthread_mutex_unlock(&huge_lock);
}

static bool tail_useless(const struct jm_huge *h, size_t head)
{
	size_t tail = h->map_size - head;
	size_t least = recent_min[0] < recent_min[1] ? recent_min[0] : recent_min[1];
	return tail < least && tail > head / 4 &&
	    (h->touched <= head || h->touched - head <= tail / 64);
}

/* Whether the largest blocks of the recent requests are room worth
 * giving a region of `blocks`: more, and at most half as much again.
 * Twice as much (a fresh 16 MiB for requests of 8 to 12 MiB among ones
 * of up to 16) moved purge-liveset's peak RSS from 144 to 151 MiB and
 * its faults from 35.7k to 37.5k; half, 145 MiB and 35.9k. */
static bool room_recent(size_t largest, size_t blocks)
{
	return largest > blocks && largest - blocks <= blocks / 2;
}

/* The blocks of a fresh mapping for `usable` bytes: with the room a
 * quarter more gives (room_for), and up to the largest blocks of the
 * last 64 to 128 requests (largest, from retained_take) if that is more
 * and room_recent. Kept, such a region serves any of the recent
 * requests where it is. Mapped for its own blocks and a quarter, a 2
 * MiB + 1 request's region (4 MiB) fitted no 4 MiB + 1 request (6 MiB)
 * of the same program: each of those that found only 4 MiB regions kept
 * mapped a fresh 6 MiB and gathered them into it (an mmap and two mremap
 * calls, the gather's partial take leaving 2 MiB pieces that fitted
 * nothing): 140 mmap and 245 mremap in 20000 requests of 1, 2 and 4 MiB +
 * 1 (the probe big2m1), 101 of those mappings made with 6 MiB or more
 * kept in 4 and 2 MiB pieces. The extra room is address space until
 * written. */
static size_t fresh_for(size_t usable, size_t largest)
{
	size_t map = room_for(usable);
	if (largest > map && room_recent(largest, map_for(usable)))
		map = largest;
	return map;
}

static struct jm_huge *retained_take(size_t usable, size_t align, size_t *largest)
{
	struct jm_huge *spare = record_new();   /* the tail's, if split */
	size_t head = map_for(usable);
	unsigned mine = jm__thread_arena()->index;
	struct jm_huge *best = NULL, **bestp = NULL;
	pthread_mutex_lock(&huge_lock);
	/* The least and the most blocks asked for in the last 64 to 128
	 * requests. */
	if (head < recent_min[0])
		recent_min[0] = head;
	if (head > recent_max[0])
		recent_max[0] = head;
	if (++recent_n >= HUGE_RECENT) {
		recent_n = 0;
		recent_min[1] = recent_min[0];
		recent_min[0] = SIZE_MAX;
		recent_max[1] = recent_max[0];
		recent_max[0] = 0;
	}
	*largest = recent_max[0] > recent_max[1] ? recent_max[0] : recent_max[1];
	for (struct jm_huge **pp = &retained; *pp; pp = &(*pp)->next_free) {
		struct jm_huge *h = *pp;
		if (((uintptr_t)h->addr & (align - 1)) != 0 || h->busy || h->map_size < head)
			continue;
		if (!spare && h->map_size > head && h->map_size / 2 > usable)
			continue;   /* no record for a tail: whole, as before */
		bool own = h->arena == mine;
		if (!best || (h->dirty && !best->dirty) ||
		    (h->dirty == best->dirty && own && best->arena != mine) ||
		    (h->dirty == best->dirty && own == (best->arena == mine) &&
		     h->map_size < best->map_size)) {
			best = h;
			bestp = pp;
		}
	}
	/* Split, a region keeps the blocks past the request's up to the
	 * recent requests' largest (room_recent, as fresh_for) if they are
	 * address space, at most a 64th of them written since its last
	 * purge (touched): split at its blocks, a kept 8 MiB gave a 2 MiB + 1
	 * request 4 MiB and kept 4, and neither fitted a 4 MiB + 1 request
	 * (big2m1; with fresh_for alone, 101 fresh mappings and 173 mremap
	 * in 20000 requests, 49 and 61 with this). Their pages are not resident:
	 * nothing stays beside the program's. */
	if (best && best->map_size > *largest && room_recent(*largest, head) &&
	    (best->touched <= head || best->touched - head <= (*largest - head) / 64))
		head = *largest;
	if (best && best->map_size > head && spare && !tail_useless(best, head)) {
		/* The tail takes the head's place on the list. */
		*spare = *best;
		spare->addr = (char *)best->addr + head;
		spare->map_size = best->map_size - head;
		spare->touched = best->touched > head ? best->touched - head : 0;
		best->touched = touched_min(best->touched, head);
		spare->size = 0;
		spare->prof_site = 0;
		*bestp = spare;
		retained_bytes -= head;
		if (best->dirty)
			atomic_fetch_sub_explicit(&dirty_bytes, head, memory_order_relaxed);
		best->map_size = head;
		spare = NULL;
	} else if (best) {
		unkeep(bestp);
	}
	pthread_mutex_unlock(&huge_lock);
	if (spare)
		record_put(spare);
	if (best == NULL)
		return NULL;
	struct delta d = { .nreuse = 1 };
	if (best->dirty)
		d.dirty = -(long long)best->map_size;
	else
		d.retained = -(long long)best->map_size;
	charge_d(best->arena, &d);
	return best;
}

/* The slack of a dirty kept region reused for a smaller request,
 * [addr, addr + len) past the request's end, looked at every
 * HUGE_SPARSE_EVERY reuses of the region: each piece of
 * HUGE_SPARSE_PIECE whose resident pages are at most one in
 * HUGE_SPARSE_DENSITY, but some, is purged (with the empty pieces
 * between, one madvise for a run of them), when such pieces hold
 * HUGE_SPARSE_WORTH pages or more in all. Those are the pages earlier
 * occupants touched here and there (a buffer written at its two ends: an
 * aligned buffer's first and last bytes, a header and a trailer): each
 * occupant leaves its own, none uses the others', and the region
 * gathered them for its whole life, kept or live (the `aligned` workload:
 * 70 MiB of its 160 MiB peak RSS were such pages of huge regions, of
 * which its live regions used 0.2 MiB). A piece an earlier occupant
 * wrote through (a buffer the program fills) is dense and kept: the next
 * larger request uses its pages without faults.
 *
 * A purge is a madvise and, in a process of more than one thread, a TLB
 * shootdown on every CPU the process runs on: purging every sparse run,
 * most of them of 1 to 8 pages, was 3.1k madvise calls in `aligned` (2
 * threads), 15% of its CPU samples. Fewer than HUGE_SPARSE_WORTH pages
 * wait for a later look, when more have come: 1.4k calls, peak RSS 2%
 * higher. (Looking at the whole region, the request's pages too, held
 * 18% less RSS but took 6 x the mincore calls and 20% more faults.)
 * Returns the madvise calls made (*bytes their length; *nstray the
 * resident pages of the pieces not dense). */
#define HUGE_SPARSE_PIECE   ((size_t)128 << JM_LG_PAGE)
#define HUGE_SPARSE_DENSITY 8
#define HUGE_SPARSE_MIN     ((size_t)16 << JM_LG_PAGE)
#define HUGE_SPARSE_EVERY   8
#define HUGE_SPARSE_WORTH   8
#define HUGE_SPARSE_RUNS    8      /* runs remembered by the look */
/* Looked at per mincore: its vector is on the stack of a malloc that a
 * signal handler may make (tests/preload/sigaltstack's budget; 8 pieces
 * took the huge path 39 bytes past it). */
#define HUGE_SPARSE_WINDOW  (2 * HUGE_SPARSE_PIECE)
static unsigned purge_sparse(char *addr, size_t len, size_t *bytes, size_t *nstray)
{
	unsigned char vec[HUGE_SPARSE_WINDOW >> JM_LG_PAGE];
	size_t win = 0, winlen = 0;   /* [win, win + winlen) is in vec */
	bool winok = false;
	uint32_t runs[HUGE_SPARSE_RUNS][2];   /* [from, to) in pages */
	unsigned nruns = 0;
	unsigned n = 0;         /* runs purged past the array's */
	size_t stray = 0;       /* resident pages of the pieces not dense */
	size_t from = 0;        /* the run of pieces not dense since here */
	bool sparse = false;    /* it has a sparse one */
	*bytes = 0;
	*nstray = 0;
	if (len < HUGE_SPARSE_MIN || len >> JM_LG_PAGE > UINT32_MAX)
		return 0;
	int saved = errno;
	for (size_t off = 0;; off += HUGE_SPARSE_PIECE) {
		bool dense = true;
		size_t piece = 0;
		if (off > len)
			off = len;
		if (off < len) {
			piece = len - off < HUGE_SPARSE_PIECE ? len - off : HUGE_SPARSE_PIECE;
			size_t pages = piece >> JM_LG_PAGE, resident = 0;
			if (off + piece > win + winlen) {
				/* A window of pieces, one mincore (it was one a
				 * piece). */
				win = off;
				winlen = len - off < HUGE_SPARSE_WINDOW ? len - off : HUGE_SPARSE_WINDOW;
				winok = mincore(addr + win, winlen, vec) == 0;
			}
			if (winok) {
				const unsigned char *pv = vec + ((off - win) >> JM_LG_PAGE);
				for (size_t i = 0; i < pages; i++)
					resident += pv[i] & 1;
				dense = resident * HUGE_SPARSE_DENSITY > pages;
				sparse |= !dense && resident != 0;
				if (!dense)
					stray += resident;
			}
		}
		if (dense) {
			if (sparse) {
				if (nruns < HUGE_SPARSE_RUNS) {
					runs[nruns][0] = (uint32_t)(from >> JM_LG_PAGE);
					runs[nruns][1] = (uint32_t)(off >> JM_LG_PAGE);
					nruns++;
				} else {
					/* Past the array: purged now (a slack
					 * of 9 sparse runs and more, seldom). */
					jm__os_purge(addr + from, off - from);
					*bytes += off - from;
					n++;
				}
			}
			from = off + piece;
			sparse = false;
		}
		if (off >= len)
			break;
	}
	if (n || stray >= HUGE_SPARSE_WORTH) {
		for (unsigned i = 0; i < nruns; i++) {
			size_t b = (size_t)runs[i][0] << JM_LG_PAGE, e = (size_t)runs[i][1] << JM_LG_PAGE;
			jm__os_purge(addr + b, e - b);
			*bytes += e - b;
		}
		n += nruns;
	}
	*nstray = stray;
	errno = saved;
	return n;
}

void *jm__huge_alloc(size_t size, size_t align, bool zero)
{
	size_t usable = (size + JM_PAGE_MASK) & ~JM_PAGE_MASK;
	if (usable < size || usable > (size_t)PTRDIFF_MAX - JM_CHUNK) {
		errno = ENOMEM;
		return NULL;
	}
	if (align < JM_CHUNK)
		align = JM_CHUNK;
	/* While the purger starts (bg.c), a fresh mapping: a kept region is
	 * one the program freed. */
	size_t largest = 0;   /* the recent requests' (retained_take) */
	struct jm_huge *h = jm__tls_state == JM_TLS_FRESH ? NULL :
	    retained_take(usable, align, &largest);
	if (h != NULL) {
		/* The region keeps the arena it is charged to. */
		void *p = h->addr;
		h->size = usable;
		h->prof_site = 0;
		if (zero && h->dirty)
			jm__os_zero_dirty(p, usable);
		size_t sparse = 0;
		unsigned nsparse = 0;
		/* A request of a quarter of the region or less (one aligned
		 * to 1 MiB and more: a 2 MiB block for a few hundred KiB):
		 * what earlier occupants may have written past its end is
		 * purged now, one madvise. Those pages are no use to it,
		 * and each occupant written at its two ends left its last
		 * page past the next smaller one's: up to 50 a region, 113
		 * MiB in 1000 such regions where tcmalloc held 29 (the probe
		 * memalignbig, its alignments of 1..4 MiB only; 47 MiB
		 * now). A larger request keeps them for purge_sparse, which
		 * leaves what an occupant wrote through. */
		if (h->dirty && usable <= h->map_size / 4) {
			if (h->touched > usable) {
				sparse = h->touched - usable;
				nsparse = 1;
				jm__os_purge((char *)p + usable, sparse);
				h->touched = usable;
			}
		} else if (h->dirty && h->touched > usable &&
		    ++h->sparse_age >= (HUGE_SPARSE_EVERY << h->sparse_shift)) {
			/* A look that purged nothing doubles the wait for the
			 * next if it found no more stray pages than the last,
			 * up to 16 times: 2 and 4 MiB requests by turns in 6
			 * MiB regions (the probe big2m1) made a mincore call
			 * every 16 requests for the same stray page. */
			size_t stray;
			h->sparse_age = 0;
			nsparse = purge_sparse((char *)p + usable, h->touched - usable, &sparse, &stray);
			if (nsparse)
				h->sparse_shift = 0;
			else if (stray <= h->sparse_stray && h->sparse_shift < 4)
				h->sparse_shift++;
			h->sparse_stray = stray < 255 ? (uint8_t)stray : 255;
		}
		h->dirty = 0;
		struct delta d = { .usable = (long long)usable, .nmalloc = 1,
		    .purged = sparse, .npurge = nsparse,
		    .rt_key = (uintptr_t)p, .rt_val = (uintptr_t)h | JM_RTREE_HUGE };
		if (!charge_dm(h->arena, &d, NULL)) {
			unmap_list((h->next_free = NULL, h), false);
			errno = ENOMEM;
			return NULL;
		}
		huge_purge(jm__now_ns(), false);
		return p;
	}
	h = record_new();
	if (h == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	/* With room to grow, a quarter more address space (room_for, as
	 * realloc gives; not under a limit of address space): freed and
	 * kept, it serves a request somewhat larger where its pages are.
	 * malloc(30 MiB), written, freed, malloc(30 MiB + 1): the kept 30
	 * MiB fitted no request of 32 and could not grow where it was (the
	 * kernel packs mappings), a fresh one was made beside it: peak RSS 61
	 * MiB (glibc 31, jemalloc 33, tcmalloc 36), now 32. The room is
	 * address space until written, counted mapped, and dirty when kept
	 * (purged whole, a madvise of pages never touched). */
	size_t map = as_limited() ? map_for(usable) : fresh_for(usable, largest);
	/* The room is address space that may not be had (a limit set after
	 * as_limited read it: prlimit on a running process, a sandbox's
	 * setrlimit; strict overcommit): then the blocks alone, before any
	 * kept region or empty chunk is given back (map_or_release). Room
	 * first, a 16 MiB request under 21 MiB of address space left, after
	 * one of 24, unmapped the arenas' empty chunks to map 24 MiB and
	 * returned with errno ENOMEM, or NULL (test_huge_room_not_had). */
	void *p = NULL;
	if (map > map_for(usable)) {
		int saved = errno;
		p = jm__os_map_aligned(map, align);
		if (p == NULL) {
			map = map_for(usable);
			errno = saved;
		}
	}
	if (p == NULL)
		p = map_or_release(map, align);
	if (p == NULL) {
		record_put(h);
		errno = ENOMEM;
		return NULL;
	}
	h->addr = p;
	h->size = usable;
	h->map_size = map;
	h->prof_site = 0;
	h->sparse_age = 0;
	h->sparse_shift = 0;
	h->sparse_stray = 0;
	h->touched = 0;
	h->arena = jm__thread_arena()->index;
	struct delta d = { .usable = (long long)usable, .mapped = (long long)map,
	    .nmalloc = 1, .nmap = 1,
	    .rt_key = (uintptr_t)p, .rt_val = (uintptr_t)h | JM_RTREE_HUGE };
	if (!charge_dm(h->arena, &d, NULL)) {
		jm__os_unmap(p, map);
		record_put(h);
		errno = ENOMEM;
		return NULL;
	}
	/* Its blocks, up to its size, take the pages of dirty kept regions
	 * (gather; not calloc's: they would need clearing). A dynamic array
	 * grown by copy (std::vector: a new block twice the size, the old
	 * one freed) left every block it outgrew kept and resident, half
	 * the next request and fitting none (tests/bench/vec_grow.c). Not
	 * while the purger starts: what pthread_create allocates then (a
	 * few hundred bytes, for the thread's life) took a whole block of a
	 * kept region's pages, resident and of no use to any request for as
	 * long as the process lived (sqlite3: 2 MiB of its sort buffer's).
	 * calloc's too, the pages moved cleared where they are held
	 * (jm__os_zero_dirty, as a dirty kept region reused): without,
	 * calloc of 256 KiB..16 MiB blocks, written and freed, 2 live (the
	 * probe callocreuse), left the kept regions resident beside every
	 * fresh mapping: peak RSS 89 MiB against 67 for malloc and memset,
	 * glibc's 52 (docs/programs.md, "Probes, session 30"). */
	if (jm__tls_state != JM_TLS_FRESH && gather(p, 0, map_for(usable), h->arena, &h->touched) &&
	    zero)
		jm__os_zero_dirty(p, usable);
	huge_purge(jm__now_ns(), false);
	if (jm__tls_state != JM_TLS_FRESH)
		jm__arena_offset_fresh(jm__thread_arena(), usable >> JM_LG_PAGE);
	return p;
}

/* The radix tree names a huge region by its first chunk only, and
 * forgets it when it is freed: a pointer it does not name may still lie
 * inside a live region (found by walking back to the first chunk the tree
 * names, at most 2 TiB) or in a kept one (a double free, if the region was
 * kept and not reused). For the misuse report only: the walk is up to
 * 2^20 lookups, and huge_lock is only tried (the report must not wait on
 * a lock a signal handler's thread may hold). */
enum jm_unnamed jm__huge_unnamed(const void *ptr)
{
	uintptr_t u = (uintptr_t)ptr, k = u & ~(uintptr_t)JM_CHUNK_MASK;
	for (unsigned i = 0; i < (1u << 20) && k >= JM_CHUNK; i++) {
		k -= JM_CHUNK;
		uintptr_t e = jm__rtree_get(k);
		if (e == 0)
			continue;
		if (e & JM_RTREE_HUGE) {
			const struct jm_huge *h = (const struct jm_huge *)(e & ~(uintptr_t)JM_RTREE_HUGE);
			if (u - (uintptr_t)h->addr < h->map_size)
				return JM_UNNAMED_INSIDE_HUGE;
		}
		break;
	}
	enum jm_unnamed r = JM_UNNAMED_FOREIGN;
	if (pthread_mutex_trylock(&huge_lock) == 0) {
		for (const struct jm_huge *h = retained; h; h = h->next_free)
			if (u - (uintptr_t)h->addr < h->map_size)
				r = JM_UNNAMED_FREED_HUGE;
		pthread_mutex_unlock(&huge_lock);
	}
	return r;
}

void jm__huge_free(struct jm_huge *h, void *ptr)
{
	if (h->addr != ptr)
		jm__report_misuse("free of a pointer inside a huge region", ptr);
	jm__bg_check(h->map_size);
	if (h->prof_site) {
		jm__prof_free(h->prof_site, h->prof_size, h->prof_now, true);
		h->prof_site = 0;
	}
	/* A region within the cap by its blocks but not with its room (a
	 * fresh mapping of 205-256 MiB has a quarter more, up to 320 MiB)
	 * gives the room back and is kept: it was unmapped, and the next
	 * such request mapped and faulted in all of it again. The room's
	 * pages are purged first, outside the arena's lock (resize_in_place
	 * unmaps them under it): seldom written, a walk of empty page
	 * tables. */
	size_t blocks = map_for(h->size);
	if (jm__opt.decay_ms != 0 && h->map_size > HUGE_DIRTY_CAP && blocks <= HUGE_DIRTY_CAP) {
		jm__os_purge((char *)ptr + blocks, h->map_size - blocks);
		h->touched = touched_min(h->touched, blocks);
		resize_in_place(h, h->size, blocks);
	}
	struct delta df = { .usable = -(long long)h->size, .ndalloc = 1, .rt_key = (uintptr_t)ptr };
	charge_d(h->arena, &df);
	if (jm__opt.decay_ms == 0 || h->map_size > HUGE_DIRTY_CAP) {
		h->next_free = NULL;
		unmap_list(h, false);
		return;
	}
	uint64_t now = jm__now_ns();
	h->freed_ns = now;
	if (h->touched < h->size)
		h->touched = h->size;
	h->dirty = 1;
	h->busy = 0;
	struct delta d = { .dirty = (long long)h->map_size };
	charge_d(h->arena, &d);
	if (jm__test_huge_keeping)
		jm__test_huge_keeping();
	pthread_mutex_lock(&huge_lock);
	bool had_dirty = dirty_bytes != 0;
	h->next_free = retained;
	retained = h;
	retained_bytes += h->map_size;
	atomic_fetch_add_explicit(&dirty_bytes, h->map_size, memory_order_relaxed);
	huge_decay.pending += h->map_size >> JM_LG_PAGE;
	/* Merge with kept neighbours (same arena, not busy): one region. */
	struct jm_huge *gone[2];
	int ngone = 0;
	long long cleaned = 0;   /* clean bytes that became dirty */
	for (int round = 0; round < 2; round++) {
		for (struct jm_huge **pp = &retained; *pp; pp = &(*pp)->next_free) {
			struct jm_huge *r = *pp;
			if (r == h || r->busy || r->arena != h->arena)
				continue;
			struct jm_huge *lo, *hi;
			if ((char *)r->addr + r->map_size == (char *)h->addr) {
				lo = r; hi = h;
			} else if ((char *)h->addr + h->map_size == (char *)r->addr) {
				lo = h; hi = r;
			} else {
				continue;
			}
			if (lo->map_size + hi->map_size > HUGE_DIRTY_CAP)
				continue;
			if (!r->dirty) {
				cleaned += (long long)r->map_size;
				atomic_fetch_add_explicit(&dirty_bytes, r->map_size, memory_order_relaxed);
			}
			*pp = r->next_free;   /* r leaves the list; h takes lo's place */
			h->touched = hi->touched ? lo->map_size + hi->touched : lo->touched;
			h->addr = lo->addr;
			h->map_size = lo->map_size + hi->map_size;
			gone[ngone++] = r;
			break;
		}
	}
	struct jm_huge *stale = retained_trim();
	pthread_mutex_unlock(&huge_lock);
	if (cleaned) {
		struct delta dc = { .dirty = cleaned, .retained = -cleaned };
		charge_d(h->arena, &dc);
	}
	for (int i = 0; i < ngone; i++)
		record_put(gone[i]);
	unmap_list(stale, true);
	if (!had_dirty && jm__opt.background_thread)
		jm__bg_dirtied();
	if (jm_unlikely(atomic_load_explicit(&jm__bg_deferred, memory_order_relaxed)))
		jm__bg_deferred_dirtied(h->map_size);
	huge_purge(now, false);
}

/* Moves a region that must grow to a fresh 2 MiB-aligned range of a
 * quarter more than `usable` (rounded up to 2 MiB): mremap moves the pages
 * (no copy, no fault; the rest is fresh), and the room left makes the
 * next steps of a buffer grown by realloc in place. A buffer grown a step
 * at a time so moves a logarithmic number of times instead of being
 * copied whole at each step (its neighbours' mappings stop it growing
 * where it is). The room is address space until written. NULL if the
 * range cannot be had (the caller copies). */
static size_t room_for(size_t usable)
{
	size_t room = usable + usable / 4;
	if (room > (size_t)PTRDIFF_MAX - JM_CHUNK)
		return usable;
	return (room + JM_CHUNK_MASK) & ~JM_CHUNK_MASK;
}

/* Whether mremap(MREMAP_MAYMOVE) puts a 2 MiB-aligned anonymous range
 * that it must move, and whose size is a multiple of 2 MiB, at a 2 MiB
 * boundary: Linux 6.7 and later place such a range as they would a
 * transparent huge page (congruent to its offset: ours are aligned). Found
 * once, by moving the first half of a 4 MiB mapping that cannot grow
 * where it is (8 MiB of address space for a moment); not known until a
 * try could be made. */
static bool mremap_aligns(void)
{
	static _Atomic int known;   /* 0 not yet, 1 it does, 2 it does not */
	int k = atomic_load_explicit(&known, memory_order_relaxed);
	if (k)
		return k == 1;
	char *p = jm__os_map_aligned(2 * JM_CHUNK, JM_CHUNK);
	if (p == NULL)
		return false;
	char *q = mremap(p, JM_CHUNK, 2 * JM_CHUNK, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		jm__os_unmap(p, 2 * JM_CHUNK);
		return false;
	}
	bool yes = q != p && ((uintptr_t)q & JM_CHUNK_MASK) == 0;
	jm__os_unmap(q, 2 * JM_CHUNK);
	jm__os_unmap(p + JM_CHUNK, JM_CHUNK);
	atomic_store_explicit(&known, yes ? 1 : 2, memory_order_relaxed);
	return yes;
}

/* Under a limit of address space (RLIMIT_AS, `ulimit -v`), a fresh range
 * and the region it replaces do not fit at once, and a buffer grown by
 * realloc stopped at half the limit. mremap(MREMAP_MAYMOVE) moves and
 * grows it in one step, charged only what it grows by (as glibc's realloc
 * of a mapped chunk does), where the kernel places it: used only where
 * it places it aligned (mremap_aligns), at `room`, else at the size
 * asked. Under the arena's lock, as charge_dm's move: the radix tree's
 * old entry goes before the pages do, the new one comes once the kernel
 * has said where. NULL if the kernel refused (nothing moved). */
static void *huge_move_kernel(struct jm_huge *h, void *ptr, size_t usable)
{
	if (!mremap_aligns())
		return NULL;
	size_t maps[2] = { room_for(usable), map_for(usable) };
	struct jm_arena *a = jm__arena_get(h->arena);
	struct jmstat_arena *s = a->stats;
	jm__lock(a->lock, &s->lock_contended);
	jm__rtree_clear((uintptr_t)ptr);
	char *q = MAP_FAILED;
	size_t map = 0;
	for (int i = 0; i < 2 && q == MAP_FAILED; i++) {
		if (maps[i] < usable || (i == 1 && maps[1] == maps[0]))
			continue;
		map = maps[i];
		q = mremap(h->addr, h->map_size, map, MREMAP_MAYMOVE);
	}
	if (q == MAP_FAILED) {
		/* Nothing moved: its leaf is there, the set cannot fail. */
		jm__rtree_set((uintptr_t)ptr, (uintptr_t)h | JM_RTREE_HUGE);
		jm__unlock(a->lock);
		return NULL;
	}
	/* Neither can happen where mremap_aligns said so but with no memory
	 * left for a leaf of the tree: the region has left its place, which
	 * another thread may have mapped since. */
	if (((uintptr_t)q & JM_CHUNK_MASK) != 0)
		jm__fatal("mremap moved huge region %p to %p, not 2 MiB-aligned; aborting", ptr, q);
	if (!jm__rtree_set((uintptr_t)q, (uintptr_t)h | JM_RTREE_HUGE))
		jm__fatal("cannot record huge region %p moved to %p: out of memory; aborting", ptr, q);
	jm__row_begin(&s->seq);
	s->allocated_huge += (uint64_t)((long long)usable - (long long)h->size);
	s->active += (uint64_t)((long long)usable - (long long)h->size);
	s->mapped += (uint64_t)((long long)map - (long long)h->map_size);
	jm__row_end(&s->seq);
	h->addr = q;
	h->map_size = map;
	h->size = usable;
	jm__unlock(a->lock);
	return q;
}

static void *huge_move(struct jm_huge *h, void *ptr, size_t usable)
{
	size_t room = room_for(usable);
	void *dst = map_or_release(room, JM_CHUNK);
	if (dst == NULL)
		return errno == ENOMEM ? huge_move_kernel(h, ptr, usable) : NULL;
	struct delta d = { .usable = (long long)usable - (long long)h->size,
	    .mapped = (long long)room - (long long)h->map_size,
	    .rt_key = (uintptr_t)ptr,
	    .moved = h, .to = dst, .to_map = room, .to_size = usable, .remap = true };
	size_t old_map = h->map_size;
	if (!charge_dm(h->arena, &d, NULL)) {
		jm__os_unmap(dst, room);
		return NULL;
	}
	gather(dst, old_map, room, h->arena, &h->touched);
	return dst;
}

/* Charges a resize of live region h where it is (to `usable` bytes in a
 * mapping of `map`) and sets its record under the same arena lock
 * (charge_dm's `moved`, to its own place): a fork sees both or neither.
 * The record was set after the charge: a child forked between had an
 * allocated_huge its records disagreed with (test_huge_grow_fork). A
 * smaller mapping's tail is unmapped under that lock too (the caller
 * has purged its pages: an munmap of 16 MiB resident takes 7-12 ms here,
 * of the same purged 30-60 us); unmapped before, a child forked between
 * kept a record larger than its mapping (test_huge_shrink_fork). */
static void resize_in_place(struct jm_huge *h, size_t usable, size_t map)
{
	struct delta d = { .usable = (long long)usable - (long long)h->size,
	    .mapped = (long long)map - (long long)h->map_size,
	    .moved = h, .to = h->addr, .to_map = map, .to_size = usable,
	    .unmap_tail = map < h->map_size };
	charge_d(h->arena, &d);
	if (jm__test_huge_grown)
		jm__test_huge_grown();
}

/* Grows live region h to `usable` over the kept region of its arena
 * that starts where its mapping ends (a tail retained_take split off, or
 * a neighbour freed), in place: no syscall, no page moved, its pages
 * used where they are; up to room_for (the rest stays kept). Else a
 * region reused from a larger kept one could not grow where it is (the
 * tail's mapping is in the way) and was moved. Not under a limit of
 * address space, where a region stays one mapping (as_limited). True if
 * it grew; *was_dirty whether the kept region was (a purged one is
 * filled as the room of a mapping grown in place is: gather). */
static bool grow_into_kept(struct jm_huge *h, size_t usable, bool *was_dirty)
{
	size_t need = map_for(usable) - h->map_size;
	size_t want = room_for(usable) - h->map_size;
	char *end = (char *)h->addr + h->map_size;
	struct jm_huge *whole = NULL;
	size_t take = 0, took_touched = 0;
	bool dirty = false;
	if (as_limited())
		return false;
	pthread_mutex_lock(&huge_lock);
	for (struct jm_huge **pp = &retained; *pp; pp = &(*pp)->next_free) {
		struct jm_huge *r = *pp;
		if (r->addr != end)
			continue;
		if (r->busy || r->arena != h->arena || r->map_size < need)
			break;
		take = r->map_size <= want ? r->map_size : want;
		dirty = r->dirty;
		took_touched = touched_min(r->touched, take);
		if (take == r->map_size) {
			unkeep(pp);
			whole = r;
		} else {
			r->addr = (char *)r->addr + take;
			r->touched = r->touched > take ? r->touched - take : 0;
			r->map_size -= take;
			retained_bytes -= take;
			if (dirty)
				atomic_fetch_sub_explicit(&dirty_bytes, take, memory_order_relaxed);
		}
		break;
	}
	pthread_mutex_unlock(&huge_lock);
	if (take == 0)
		return false;
	if (whole)
		record_put(whole);
	if (took_touched)
		h->touched = h->map_size + took_touched;
	/* The record's new sizes under the arena's lock, with its counters
	 * (charge_dm's `moved`, in place): a fork sees both or neither. */
	struct delta d = { .usable = (long long)usable - (long long)h->size, .nreuse = 1,
	    .moved = h, .to = h->addr, .to_map = h->map_size + take, .to_size = usable };
	if (dirty)
		d.dirty = -(long long)take;
	else
		d.retained = -(long long)take;
	charge_d(h->arena, &d);
	if (jm__test_huge_grown)
		jm__test_huge_grown();
	*was_dirty = dirty;
	return true;
}

/* Resizes a region: in place when the new size fits the mapping (a
 * shrink by a quarter or more of it unmaps the tail; a growth takes the
 * room the mapping has, a smaller shrink leaves it room) or the
 * mapping can grow where it is; else moves its pages (huge_move). Returns
 * where the region is, NULL if it could do neither (the caller copies). */
void *jm__huge_ralloc(struct jm_huge *h, void *ptr, size_t size)
{
	size_t usable = (size + JM_PAGE_MASK) & ~JM_PAGE_MASK;
	if (usable < size)
		return NULL;
	if (usable <= h->map_size) {
		size_t map = map_for(usable);
		/* What it may have written: its size so far (a live region's
		 * counts at its free, by the size it has then: a shrink left
		 * out what it had written past its new size, and a request
		 * took the region whole for a written tail, tail_useless:
		 * test_huge_shrunk_touched). */
		if (h->touched < h->size)
			h->touched = h->size;
		/* The tail goes when the mapping is a third more than a
		 * region grown to the new size would have (room_for), not
		 * when it is a third more than the size alone: a region with
		 * room (grown, or mapped so) shrunk by a page gave its room
		 * up (a madvise and a munmap), and its next growth by a page
		 * mapped it again (an mremap), at every such pair
		 * (test_huge_shrink_page_keeps_room). */
		if (usable < h->size && room_for(usable) <= h->map_size - h->map_size / 4) {
			jm__os_purge((char *)ptr + map, h->map_size - map);
			h->touched = touched_min(h->touched, map);
			if (jm__test_huge_tail_gone)
				jm__test_huge_tail_gone();
			resize_in_place(h, usable, map);
		} else {
			resize_in_place(h, usable, h->map_size);
		}
		return ptr;
	}
	size_t old_map = h->map_size;
	bool was_dirty;
	if (grow_into_kept(h, usable, &was_dirty)) {
		if (!was_dirty)
			gather(ptr, old_map, h->map_size, h->arena, &h->touched);
		return ptr;
	}
	/* Grow where it is, with room for the next steps if the address space
	 * after it allows, else to the size asked. */
	size_t map = room_for(usable);
	void *q = mremap(ptr, h->map_size, map, 0);
	if (q == MAP_FAILED && map != map_for(usable)) {
		map = map_for(usable);
		q = mremap(ptr, h->map_size, map, 0);
	}
	if (q == MAP_FAILED)
		return huge_move(h, ptr, usable);
	resize_in_place(h, usable, map);
	gather(ptr, old_map, map, h->arena, &h->touched);
	return ptr;
}

void jm__huge_prefork(void) { jm__fork_lock(&huge_lock); }
void jm__huge_postfork_parent(void) { jm__fork_unlock(&huge_lock); }
JM_FORK_TEXT void jm__huge_postfork_child(void)
{
	huge_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	/* A region a parent's thread was purging (the purger is not in the
	 * child): purged if that thread had counted it in its arena (it
	 * waited for huge_lock, after the arena's lock, at the fork), else
	 * dirty as its arena's counters still say (the madvise may or may
	 * not have been made; either way the pages are free). */
	for (struct jm_huge *h = retained; h; h = h->next_free) {
		if (!h->busy)
			continue;
		h->busy = 0;
		if (h->purge_counted)
			h->dirty = 0;
		else
			atomic_fetch_add_explicit(&dirty_bytes, h->map_size, memory_order_relaxed);
		h->purge_counted = 0;
	}
	/* The arenas' kept bytes are those of the regions on the list: a
	 * parent's thread that had listed a region or taken one off without
	 * counting it yet (a free, a reuse, a merge, a trim count it after
	 * huge_lock) is not in the child, and its count never comes. */
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *a = jm__arenas[i];
		if (a == NULL)
			continue;
		uint64_t dirty = 0, clean = 0;
		for (struct jm_huge *h = retained; h; h = h->next_free)
			if (h->arena == i)
				*(h->dirty ? &dirty : &clean) += h->map_size;
		if (dirty == a->huge_dirty && clean == a->huge_retained)
			continue;   /* the row's page stays shared with the parent */
		jm__row_begin(&a->stats->seq);
		__atomic_store_n(&a->stats->dirty, a->stats->dirty + dirty - a->huge_dirty, __ATOMIC_RELAXED);
		a->stats->retained += clean - a->huge_retained;
		jm__row_end(&a->stats->seq);
		a->huge_dirty = dirty;
		a->huge_retained = clean;
	}
}
