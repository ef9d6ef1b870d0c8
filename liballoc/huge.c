/*
 * huge.c: allocations larger than the largest large size. Each is mapped
 * directly, 2 MiB-aligned (or more, if asked), recorded in the global radix
 * tree under its first 2 MiB address with a struct jm_huge, and unmapped on
 * free. Records come from the base allocator and are recycled through a free
 * list under huge_lock. The bytes are charged to the calling thread's arena
 * (allocated_huge, active, mapped), with atomic adds since the arena's lock
 * is not taken here.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

static jm_lock_t huge_lock = PTHREAD_MUTEX_INITIALIZER;
static struct jm_huge *huge_free_list;

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

void *jm__huge_alloc(size_t size, size_t align, bool zero)
{
	(void)zero; /* fresh mappings are zeroed by the kernel */
	size_t usable = (size + JM_PAGE_MASK) & ~JM_PAGE_MASK;
	if (usable < size || usable > (size_t)PTRDIFF_MAX - JM_CHUNK) {
		errno = ENOMEM;
		return NULL;
	}
	if (align < JM_CHUNK)
		align = JM_CHUNK;
	struct jm_huge *h = record_new();
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
	jm__rtree_clear((uintptr_t)ptr);
	jm__os_unmap(h->addr, h->map_size);
	charge(h->arena, -(long long)h->size, -(long long)h->map_size, 0, 1);
	record_put(h);
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
