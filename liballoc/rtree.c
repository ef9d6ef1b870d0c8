/*
 * rtree.c: what lives at a 2 MiB-aligned address: a chunk (the value is
 * the chunk's address) or a huge allocation (the value is its struct
 * jm_huge address with JM_RTREE_HUGE set). A chunk is recorded in the
 * bitmap below only, a huge allocation in the radix tree (and its bit is
 * clear): jm__rtree_get tests the bit, then walks the tree. (Chunks in the
 * tree too cost every process the root's page and a leaf's, two page
 * faults, for a value the bit already gives.)
 *
 * Two levels of 2^13 entries cover the 47-bit user address space in 2 MiB
 * steps. Leaves (64 KiB) are mapped on first use and never freed. Lookups
 * take no lock; updates are made under rtree_lock with release stores.
 * free() looks every pointer up here, which is how a foreign pointer is told
 * from ours without touching memory that may not be mapped.
 *
 * Beside the tree, a flat bitmap with one bit per 2 MiB of the address
 * space (8 MiB of reserved address space, of which only the pages covering
 * used addresses are ever touched) says whether a chunk lives there: the
 * free() fast path tests one bit instead of walking the tree.
 */
#include "internal.h"

#define RTREE_BITS 13
#define RTREE_LEAF (1u << RTREE_BITS)

_Atomic(uintptr_t) *jm__rtree_root[RTREE_LEAF] JM_LARGE_BSS;
static jm_lock_t rtree_lock = PTHREAD_MUTEX_INITIALIZER;
/* Bit p: page p of the root has had a leaf stored (under rtree_lock). An
 * update does not read a page without: a read maps the zero page, a page
 * fault, and the leaf's store right after a second one. */
#define ROOT_PER_PAGE (JM_PAGE / sizeof(jm__rtree_root[0]))
static uint32_t root_pages;
_Static_assert(RTREE_LEAF / ROOT_PER_PAGE <= 32, "a bit per page of the root");

static _Atomic(uintptr_t) *root_leaf(size_t hi)
{
	if (!(root_pages >> (hi / ROOT_PER_PAGE) & 1))
		return NULL;
	return atomic_load_explicit(&jm__rtree_root[hi], memory_order_relaxed);
}
/* 8 MiB of .bss: zero pages the kernel maps only where they are written. */
_Atomic(uint64_t) jm__chunk_bits[JM_CHUNK_BITS_WORDS] JM_LARGE_BSS;

static void chunk_bit(uintptr_t chunk, uintptr_t value)
{
	size_t i = chunk >> JM_LG_CHUNK;
	uint64_t bit = 1ULL << (i & 63);
	if (value == chunk)
		atomic_fetch_or_explicit(&jm__chunk_bits[i >> 6], bit, memory_order_release);
	else
		atomic_fetch_and_explicit(&jm__chunk_bits[i >> 6], ~bit, memory_order_release);
}

/* The lowest and highest chunk ever recorded (under rtree_lock; 0, 0:
 * none), for the heap validator's walk of the bitmap. */
static uintptr_t chunk_lo, chunk_hi;

void jm__rtree_chunk_range(uintptr_t *lo, uintptr_t *hi)
{
	pthread_mutex_lock(&rtree_lock);
	*lo = chunk_lo;
	*hi = chunk_hi;
	pthread_mutex_unlock(&rtree_lock);
}

bool jm__rtree_set(uintptr_t chunk, uintptr_t value)
{
	if (chunk >> 47)
		return false;
	size_t hi = chunk >> (JM_LG_CHUNK + RTREE_BITS);
	size_t lo = (chunk >> JM_LG_CHUNK) & (RTREE_LEAF - 1);
	pthread_mutex_lock(&rtree_lock);
	_Atomic(uintptr_t) *leaf = root_leaf(hi);
	if (value == chunk) {
		/* A chunk: its bit alone (no leaf made for it); a huge
		 * region's entry left there is cleared. */
		if (leaf != NULL)
			atomic_store_explicit(&leaf[lo], 0, memory_order_release);
		chunk_bit(chunk, value);
		if (chunk_hi == 0 || chunk < chunk_lo)
			chunk_lo = chunk;
		if (chunk > chunk_hi)
			chunk_hi = chunk;
		pthread_mutex_unlock(&rtree_lock);
		return true;
	}
	if (leaf == NULL) {
		leaf = jm__os_map(RTREE_LEAF * sizeof(uintptr_t));
		if (leaf == NULL) {
			pthread_mutex_unlock(&rtree_lock);
			return false;
		}
		root_pages |= 1u << (hi / ROOT_PER_PAGE);
		atomic_store_explicit(&jm__rtree_root[hi], leaf, memory_order_release);
	}
	atomic_store_explicit(&leaf[lo], value, memory_order_release);
	chunk_bit(chunk, value);
	pthread_mutex_unlock(&rtree_lock);
	return true;
}

void jm__rtree_clear(uintptr_t chunk)
{
	size_t hi = chunk >> (JM_LG_CHUNK + RTREE_BITS);
	size_t lo = (chunk >> JM_LG_CHUNK) & (RTREE_LEAF - 1);
	pthread_mutex_lock(&rtree_lock);
	_Atomic(uintptr_t) *leaf = root_leaf(hi);
	if (leaf)
		atomic_store_explicit(&leaf[lo], 0, memory_order_release);
	chunk_bit(chunk, 0);
	pthread_mutex_unlock(&rtree_lock);
}

void jm__rtree_lock(void) { pthread_mutex_lock(&rtree_lock); }
void jm__rtree_unlock(void) { pthread_mutex_unlock(&rtree_lock); }
void jm__rtree_child_reinit(void) { pthread_mutex_init(&rtree_lock, NULL); }
