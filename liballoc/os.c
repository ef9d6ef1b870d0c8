/*
 * os.c: memory from the kernel (mmap, munmap, madvise), the CPU count, and
 * the base allocator for the allocator's own metadata (arenas, huge records,
 * private thread caches): bump allocation from mapped blocks, never freed.
 * Also the zeroing of a kept mapping for calloc (jm__os_zero_dirty), which
 * asks the kernel which of its pages may hold data.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
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

/* Purged pages read as zero afterwards: the dirty map, retained chunks
 * and kept huge regions count on it (calloc skips zeroing them). The
 * kernel refuses the advice (EINVAL) for locked pages (mlock, mlockall):
 * those are resident whatever is done, and are zeroed by hand. */
void jm__os_purge(void *addr, size_t size)
{
	int saved = errno;
	if (madvise(addr, size, MADV_DONTNEED) != 0)
		memset(addr, 0, size);
	errno = saved;
}

/* The kernel's page-table query (Linux 6.7, include/uapi/linux/fs.h),
 * declared here for older headers. */
#define JM_PAGEMAP_SCAN _IOWR('f', 16, struct jm_pm_scan_arg)
#define JM_PAGE_IS_PRESENT (1u << 3)
#define JM_PAGE_IS_SWAPPED (1u << 4)
#define JM_PAGE_IS_PFNZERO (1u << 5)
struct jm_page_region {
	uint64_t start, end, categories;
};
struct jm_pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

/* Makes [addr, addr + size) (page-aligned, of a private anonymous mapping)
 * read as zeroes, for calloc. Only the pages that may hold data are
 * written: present ones (but the shared zero page) and swapped-out ones;
 * a page never touched since it was mapped or purged reads as zeroes
 * already, and writing it would fault it in (a program that callocs a
 * kept 64 MiB region and touches little of it took 6 ms a call in memset,
 * glibc's fresh mapping 0.01 ms). A program that touches every page pays
 * the same memset as before, and no page fault (where madvise would cost
 * one fault a page, about 4 us here: 16 times the memset). The kernel says
 * which pages (PAGEMAP_SCAN); without it (before Linux 6.7, no /proc),
 * all of them are written. */
void jm__os_zero_dirty(void *addr, size_t size)
{
	int saved = errno;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	struct jm_page_region vec[8];
	struct jm_pm_scan_arg arg = {
		.size = sizeof(arg), .start = (uintptr_t)addr, .end = (uintptr_t)addr + size,
		.vec = (uintptr_t)vec, .vec_len = sizeof(vec) / sizeof(vec[0]),
		.category_anyof_mask = JM_PAGE_IS_PRESENT | JM_PAGE_IS_SWAPPED,
		.return_mask = JM_PAGE_IS_PRESENT | JM_PAGE_IS_SWAPPED | JM_PAGE_IS_PFNZERO,
	};
	uintptr_t done = (uintptr_t)addr;   /* zeroed or known zero below this */
	while (fd >= 0 && done < arg.end) {
		arg.start = done;
		long n = ioctl(fd, JM_PAGEMAP_SCAN, &arg);
		if (n < 0)
			break;
		for (long i = 0; i < n; i++)
			if (!(vec[i].categories & JM_PAGE_IS_PFNZERO) || (vec[i].categories & JM_PAGE_IS_SWAPPED))
				memset((void *)(uintptr_t)vec[i].start, 0, vec[i].end - vec[i].start);
		if (arg.walk_end <= done)
			break;
		done = arg.walk_end;
	}
	if (fd >= 0)
		close(fd);
	if (done < (uintptr_t)addr + size)   /* the rest, unknown */
		memset((void *)done, 0, (uintptr_t)addr + size - done);
	errno = saved;
}

/* The lower of the limits that an anonymous private mapping counts
 * against: of address space (RLIMIT_AS, `ulimit -v`) and of data
 * (RLIMIT_DATA, `ulimit -d`: the kernel counts every private writable
 * mapping there, reserved with MAP_NORESERVE or not, touched or not), or
 * UINT64_MAX without either. A sandbox or judge that limits data rather
 * than address space (systemd's LimitDATA=, prlimit --data) gave the
 * allocator no less room than ulimit -v, but it did not look. */
uint64_t jm__os_map_limit(void)
{
	static const int which[2] = { RLIMIT_AS, RLIMIT_DATA };
	uint64_t limit = UINT64_MAX;
	for (int i = 0; i < 2; i++) {
		struct rlimit rl;
		if (getrlimit(which[i], &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
		    (uint64_t)rl.rlim_cur < limit)
			limit = (uint64_t)rl.rlim_cur;
	}
	return limit;
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
void jm__base_prefork(void) { jm__fork_lock(&base_lock); }
void jm__base_postfork_parent(void) { jm__fork_unlock(&base_lock); }
JM_FORK_TEXT void jm__base_postfork_child(void) { base_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER; }
