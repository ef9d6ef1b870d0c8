/*
 * os.c: memory from the kernel (mmap, munmap, madvise), the CPU count, and
 * the base allocator for the allocator's own metadata (arenas, huge records,
 * private thread caches): bump allocation from mapped blocks, never freed.
 */
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

void *jm__os_map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void *jm__os_map_aligned(size_t size, size_t align)
{
	if (size + align < size)
		return NULL;
	/* Try the exact size first: it is often aligned already. */
	char *p = jm__os_map(size);
	if (p == NULL)
		return NULL;
	if (((uintptr_t)p & (align - 1)) == 0)
		return p;
	jm__os_unmap(p, size);
	p = jm__os_map(size + align);
	if (p == NULL)
		return NULL;
	uintptr_t start = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
	size_t lead = start - (uintptr_t)p;
	size_t trail = align - lead;
	if (lead)
		jm__os_unmap(p, lead);
	if (trail)
		jm__os_unmap((char *)start + size, trail);
	return (void *)start;
}

void jm__os_unmap(void *addr, size_t size)
{
	int saved = errno;
	if (munmap(addr, size) != 0)
		jm__log("munmap(%p, %zu) failed", addr, size);
	errno = saved;
}

void jm__os_purge(void *addr, size_t size)
{
	int saved = errno;
	madvise(addr, size, MADV_DONTNEED);
	errno = saved;
}

unsigned jm__os_ncpus(void)
{
	uint64_t mask[64];
	memset(mask, 0, sizeof(mask));
	long n = syscall(SYS_sched_getaffinity, 0, sizeof(mask), mask);
	if (n <= 0)
		return 1;
	unsigned count = 0;
	for (size_t i = 0; i < (size_t)n / sizeof(uint64_t); i++)
		count += (unsigned)__builtin_popcountll(mask[i]);
	return count ? count : 1;
}

/* Metadata: 64-byte aligned pieces of 256 KiB blocks, under a lock. */
static jm_lock_t base_lock = PTHREAD_MUTEX_INITIALIZER;
static char *base_cur;
static size_t base_left;

void *jm__base_alloc(size_t size)
{
	size = (size + 63) & ~(size_t)63;
	pthread_mutex_lock(&base_lock);
	if (size > base_left) {
		size_t block = size > (256u << 10) ? (size + JM_PAGE_MASK) & ~JM_PAGE_MASK
		                                   : (256u << 10);
		char *p = jm__os_map(block);
		if (p == NULL) {
			pthread_mutex_unlock(&base_lock);
			return NULL;
		}
		base_cur = p;
		base_left = block;
	}
	void *r = base_cur;
	base_cur += size;
	base_left -= size;
	pthread_mutex_unlock(&base_lock);
	return r;
}

/* The base lock must not be held across fork. */
void jm__base_prefork(void) { pthread_mutex_lock(&base_lock); }
void jm__base_postfork_parent(void) { pthread_mutex_unlock(&base_lock); }
void jm__base_postfork_child(void) { pthread_mutex_init(&base_lock, NULL); }
