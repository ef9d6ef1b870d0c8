/*
 * rtree.c: what lives at a 2 MiB-aligned address: a chunk (the value is
 * the chunk's address) or a huge allocation (the value is its struct
 * jm_huge address with JM_RTREE_HUGE set). A chunk is recorded in the
 * chunk map below only, a huge allocation in the radix tree (and its byte
 * is clear): jm__rtree_get tests the byte, then walks the tree. (Chunks in
 * the tree too cost every process the root's page and a leaf's, two page
 * faults, for a value the byte already gives.)
 *
 * Two levels of 2^13 entries cover the 47-bit user address space in 2 MiB
 * steps. Leaves (64 KiB) are mapped on first use and never freed. Lookups
 * take no lock; updates are made under rtree_lock with release stores.
 * free() looks every pointer up here, which is how a foreign pointer is told
 * from ours without touching memory that may not be mapped.
 *
 * Beside the tree, a flat map with one byte per 2 MiB of the address
 * space (64 MiB of address space mapped without reserving memory, of
 * which only the pages covering used addresses are ever touched) says
 * whether a chunk lives there: the free() fast path tests one byte instead
 * of walking the tree (a byte, not a bit: three instructions fewer than
 * the bitmap it replaced, which needed a word index, a bounds test on it
 * and a bit test). Under a limit of address space or data (RLIMIT_AS,
 * `ulimit -v`; RLIMIT_DATA, `ulimit -d`) below 1 GiB, or where the map cannot be mapped, chunks go in the
 * tree, and their frees take the slow path: with the map, a process under
 * 72 MiB could not allocate at all, and one under 128 MiB had half of it.
 */
#include "internal.h"

#include <sys/mman.h>

#define RTREE_BITS 13
#define RTREE_LEAF (1u << RTREE_BITS)

/* Plain pointers, read and written with the __atomic builtins: C11's
 * atomic_load takes only an _Atomic object (clang refuses these). */
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
	return __atomic_load_n(&jm__rtree_root[hi], __ATOMIC_RELAXED);
}
/* The chunk map (internal.h): 64 MiB of address space, mapped without
 * reserving memory; only the pages covering used addresses are ever
 * touched. The pointer is stored before the length (release), so that a
 * lookup that sees the length sees the map. */
uint8_t *jm__chunk_map;
size_t jm__chunk_map_len;

/* Under rtree_lock. Not taken under a limit of address space or of data
 * below 16 times the map (RLIMIT_AS, `ulimit -v`, or RLIMIT_DATA, which
 * counts the map whole though it is never touched: a sandbox's 256 MiB
 * would lose a quarter of itself to it; glibc's malloc runs sort in
 * 8 MiB): the chunks go in the tree instead, and their frees take the
 * slow path. */
#define CHUNK_MAP_MIN_LIMIT (JM_CHUNK_MAP_LEN * 16)
static bool chunk_map_refused;

static bool chunk_map_ready(void)
{
	if (jm__chunk_map_len != 0)
		return true;
	if (chunk_map_refused)
		return false;
	if (jm__os_map_limit() < CHUNK_MAP_MIN_LIMIT) {
		chunk_map_refused = true;
		return false;
	}
	void *m = mmap(NULL, JM_CHUNK_MAP_LEN, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return false;
	jm__os_thp(m, JM_CHUNK_MAP_LEN, false);   /* a byte written a chunk */
	__atomic_store_n(&jm__chunk_map, m, __ATOMIC_RELAXED);
	__atomic_store_n(&jm__chunk_map_len, JM_CHUNK_MAP_LEN, __ATOMIC_RELEASE);
	return true;
}

static void chunk_bit(uintptr_t chunk, uintptr_t value)
{
	if (jm__chunk_map_len == 0)
		return;
	__atomic_store_n(&jm__chunk_map[chunk >> JM_LG_CHUNK], value == chunk,
	    __ATOMIC_RELEASE);
}

/* The lowest and highest chunk ever recorded (under rtree_lock; 0, 0:
 * none), for the heap validator's walk of the chunk map. */
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
		if (chunk_hi == 0 || chunk < chunk_lo)
			chunk_lo = chunk;
		if (chunk > chunk_hi)
			chunk_hi = chunk;
		/* A chunk: its byte alone (no leaf made for it); a huge
		 * region's entry left there is cleared. Without the map
		 * (above), in the tree, where lookups go after the byte. */
		if (chunk_map_ready()) {
			if (leaf != NULL)
				atomic_store_explicit(&leaf[lo], 0, memory_order_release);
			chunk_bit(chunk, value);
			pthread_mutex_unlock(&rtree_lock);
			return true;
		}
	}
	if (leaf == NULL) {
		leaf = jm__os_map(RTREE_LEAF * sizeof(uintptr_t));
		if (leaf == NULL) {
			pthread_mutex_unlock(&rtree_lock);
			return false;
		}
		root_pages |= 1u << (hi / ROOT_PER_PAGE);
		__atomic_store_n(&jm__rtree_root[hi], leaf, __ATOMIC_RELEASE);
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

void jm__rtree_lock(void) { jm__fork_lock(&rtree_lock); }
void jm__rtree_unlock(void) { jm__fork_unlock(&rtree_lock); }
JM_FORK_TEXT void jm__rtree_child_reinit(void) { rtree_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER; }
