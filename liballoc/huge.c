/*
 * huge.c: allocations larger than the largest large size. Each is mapped
 * directly, 2 MiB-aligned (or more, if asked), recorded in the global radix
 * tree under its first 2 MiB address with a struct jm_huge, and unmapped on
 * free. Records come from the base allocator and are recycled through a free
 * list under huge_lock. The bytes are charged to the calling thread's arena
 * (allocated_huge, active, mapped) under that arena's lock.
 *
 * A freed huge region is not unmapped at once: up to RETAIN_COUNT regions
 * of at most RETAIN_BYTES in all stay mapped (still counted in `mapped`),
 * and a later huge allocation that fits one of them (without wasting more
 * than half of it) takes it whole, without the page faults of a fresh
 * mapping; one that fits none grows the largest region of at least half
 * its size with mremap, which moves the pages without copying them. Retained regions are unmapped once they have
 * waited decay_ms (checked at every huge allocation and free), or at once
 * with decay_ms:0.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define RETAIN_COUNT 8
#define RETAIN_BYTES ((size_t)256 << 20)

static jm_lock_t huge_lock = PTHREAD_MUTEX_INITIALIZER;
static struct jm_huge *huge_free_list;
static struct jm_huge *retained;      /* most recently freed first */
static size_t retained_bytes;
static unsigned retained_count;

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

static void charge(unsigned arena, long long usable, long long mapped, int nmalloc, int ndalloc)
{
	struct jm_arena *a = jm__arena_get(arena);
	struct jmstat_arena *s = a->stats;
	jm__lock(&a->lock, &s->lock_contended);
	jm__row_begin(&s->seq);
	s->allocated_huge += (uint64_t)usable;
	s->active += (uint64_t)usable;
	s->mapped += (uint64_t)mapped;
	s->nmalloc_huge += (uint64_t)nmalloc;
	s->ndalloc_huge += (uint64_t)ndalloc;
	jm__row_end(&s->seq);
	jm__unlock(&a->lock);
}

static void charge(unsigned arena, long long usable, long long mapped, int nmalloc, int ndalloc);

/* Unmaps retained regions that waited too long, or beyond the limits.
 * Called with huge_lock held; returns the list of records to unmap after
 * the lock is released (through next_free). */
static struct jm_huge *retained_trim(uint64_t now, size_t limit_bytes, unsigned limit_count)
{
	struct jm_huge *out = NULL;
	uint64_t decay = jm__opt.decay_ms < 0 ? UINT64_MAX : (uint64_t)jm__opt.decay_ms * 1000000u;
	struct jm_huge **pp = &retained;
	unsigned n = 0;
	size_t bytes = 0;
	while (*pp) {
		struct jm_huge *h = *pp;
		n++;
		bytes += h->map_size;
		if (n > limit_count || bytes > limit_bytes ||
		    (decay != UINT64_MAX && h->freed_ns + decay <= now)) {
			*pp = h->next_free;
			retained_bytes -= h->map_size;
			retained_count--;
			bytes -= h->map_size;
			n--;
			h->next_free = out;
			out = h;
		} else {
			pp = &h->next_free;
		}
	}
	return out;
}

static void unmap_list(struct jm_huge *h)
{
	while (h) {
		struct jm_huge *next = h->next_free;
		jm__os_unmap(h->addr, h->map_size);
		charge(h->arena, 0, -(long long)h->map_size, 0, 0);
		record_put(h);
		h = next;
	}
}

/* A retained region for `usable` bytes at `align`, its tail trimmed. */
static struct jm_huge *retained_take(size_t usable, size_t align)
{
	/* The smallest region that fits; failing that, the largest one of at
	 * least half the size, to be grown. */
	struct jm_huge *best = NULL, **bestp = NULL, *grow = NULL, **growp = NULL;
	pthread_mutex_lock(&huge_lock);
	for (struct jm_huge **pp = &retained; *pp; pp = &(*pp)->next_free) {
		struct jm_huge *h = *pp;
		if (((uintptr_t)h->addr & (align - 1)) != 0)
			continue;
		if (h->map_size >= usable && h->map_size / 2 <= usable &&
		    (!best || h->map_size < best->map_size)) {
			best = h;
			bestp = pp;
		} else if (h->map_size < usable && h->map_size >= usable / 2 &&
		    (!grow || h->map_size > grow->map_size)) {
			grow = h;
			growp = pp;
		}
	}
	if (best == NULL && grow != NULL) {
		best = grow;
		bestp = growp;
	}
	if (best) {
		*bestp = best->next_free;
		retained_bytes -= best->map_size;
		retained_count--;
	}
	struct jm_huge *stale = retained_trim(jm__now_ns(), RETAIN_BYTES, RETAIN_COUNT);
	pthread_mutex_unlock(&huge_lock);
	unmap_list(stale);
	if (best && best->map_size < usable) {
		/* Grow: move its pages (no copy, no fault) to the start of an
		 * aligned range of the new size; only the tail is fresh. */
		void *dst = jm__os_map_aligned(usable, align);
		void *moved = dst ? mremap(best->addr, best->map_size, usable,
		    MREMAP_MAYMOVE | MREMAP_FIXED, dst) : MAP_FAILED;
		if (moved == MAP_FAILED) {
			if (dst)
				jm__os_unmap(dst, usable);
			best->next_free = NULL;
			unmap_list(best);
			return NULL;
		}
		charge(best->arena, 0, (long long)(usable - best->map_size), 0, 0);
		best->addr = moved;
		best->map_size = usable;
	}
	return best;
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
	struct jm_huge *h = retained_take(usable, align);
	if (h != NULL) {
		/* The region keeps the arena it is charged to. */
		void *p = h->addr;
		h->size = usable;
		h->prof_site = 0;
		if (zero)
			memset(p, 0, usable);
		if (!jm__rtree_set((uintptr_t)p, (uintptr_t)h | JM_RTREE_HUGE)) {
			unmap_list((h->next_free = NULL, h));
			errno = ENOMEM;
			return NULL;
		}
		charge(h->arena, (long long)usable, 0, 1, 0);
		return p;
	}
	h = record_new();
	if (h == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = jm__os_map_aligned(usable, align);
	if (p == NULL) {
		record_put(h);
		errno = ENOMEM;
		return NULL;
	}
	h->addr = p;
	h->size = usable;
	h->map_size = usable;
	h->prof_site = 0;
	h->arena = jm__thread_arena()->index;
	if (!jm__rtree_set((uintptr_t)p, (uintptr_t)h | JM_RTREE_HUGE)) {
		jm__os_unmap(p, usable);
		record_put(h);
		errno = ENOMEM;
		return NULL;
	}
	charge(h->arena, (long long)usable, (long long)usable, 1, 0);
	return p;
}

void jm__huge_free(struct jm_huge *h, void *ptr)
{
	if (h->addr != ptr)
		jm__report_misuse("free of a pointer inside a huge region", ptr);
	if (h->prof_site) {
		jm__prof_free(h->prof_site, h->prof_size);
		h->prof_site = 0;
	}
	jm__rtree_clear((uintptr_t)ptr);
	charge(h->arena, -(long long)h->size, 0, 0, 1);
	if (jm__opt.decay_ms == 0 || h->map_size > RETAIN_BYTES) {
		h->next_free = NULL;
		unmap_list(h);
		return;
	}
	uint64_t now = jm__now_ns();
	h->freed_ns = now;
	pthread_mutex_lock(&huge_lock);
	h->next_free = retained;
	retained = h;
	retained_bytes += h->map_size;
	retained_count++;
	struct jm_huge *stale = retained_trim(now, RETAIN_BYTES, RETAIN_COUNT);
	pthread_mutex_unlock(&huge_lock);
	unmap_list(stale);
}

/* Resizes in place when the new size still fits the mapping (shrinking by
 * unmapping the tail) or the mapping can grow where it is; NULL otherwise. */
void *jm__huge_ralloc(struct jm_huge *h, void *ptr, size_t size)
{
	size_t usable = (size + JM_PAGE_MASK) & ~JM_PAGE_MASK;
	if (usable < size)
		return NULL;
	if (usable <= h->map_size) {
		if (usable < h->map_size) {
			jm__os_unmap((char *)ptr + usable, h->map_size - usable);
			charge(h->arena, (long long)usable - (long long)h->size,
			    (long long)usable - (long long)h->map_size, 0, 0);
			h->map_size = usable;
		} else {
			charge(h->arena, (long long)usable - (long long)h->size, 0, 0, 0);
		}
		h->size = usable;
		return ptr;
	}
	void *q = mremap(ptr, h->map_size, usable, 0);
	if (q == MAP_FAILED)
		return NULL;
	charge(h->arena, (long long)usable - (long long)h->size,
	    (long long)usable - (long long)h->map_size, 0, 0);
	h->size = usable;
	h->map_size = usable;
	return ptr;
}

void jm__huge_prefork(void) { pthread_mutex_lock(&huge_lock); }
void jm__huge_postfork_parent(void) { pthread_mutex_unlock(&huge_lock); }
void jm__huge_postfork_child(void) { pthread_mutex_init(&huge_lock, NULL); }
