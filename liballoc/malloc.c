/*
 * malloc.c: the entry points. malloc and free have a fast path of a few
 * instructions against the thread cache, with no lock, no atomic
 * read-modify-write and no syscall; everything else goes to the noinline
 * slow paths below. Each function is exported as jm_NAME and, unless built
 * with JM_NO_LIBC_NAMES, under the libc name as an alias.
 *
 * free() checks every pointer: the chunk map (rtree.c) says whether its
 * 2 MiB chunk is ours, the page map what kind of region it is in, the region index
 * whether it is a region's start, and the cookie in the region's second
 * word whether it is already free. A misuse is reported on stderr with the
 * address, then abort().
 */
#include "internal.h"
#include "jmalloc.h"

#include <errno.h>
#include <string.h>

static inline struct jm_chunk *ptr_chunk(uintptr_t u)
{
	return (struct jm_chunk *)(u & ~(uintptr_t)JM_CHUNK_MASK);
}

/* ---------------------------------------------------------- slow paths */

/* The first frees of a thread that has not allocated yet go to the
 * regions' bins, not into a cache booted for them: such regions are
 * another thread's (typically given to this one at its start), and a
 * cache would hand them out to this thread's first mallocs, in cache
 * lines their owner still writes (passive false sharing: cache-scratch,
 * where each thread first frees an object the main thread allocated next
 * to the others', then allocates and writes its own; 2.5 x slower than
 * glibc, jemalloc, mimalloc, which do not cache such a free either). Its
 * first malloc boots its cache, filled from its own arena (a thread has
 * one of its own while there are enough: arena.c). A thread that only
 * frees gets a cache after NEW_THREAD_FREES of them. */
#define NEW_THREAD_FREES 64
static __thread unsigned new_thread_frees;

/* Whether the calling thread freed before its cache booted (tcache.c: such
 * a thread is counted in its arena from the start). */
bool jm__thread_freed_first(void)
{
	return new_thread_frees != 0;
}

static void *alloc_big(size_t size, size_t align, bool zero)
{
	jm__ensure_init();
	if (size > (size_t)PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	if (size <= JM_LARGE_MAX && align < JM_CHUNK) {
		size_t npages = (size + JM_PAGE_MASK) >> JM_LG_PAGE;
		if (npages <= JM_TCACHE_CLASS_MAX_PAGES) {
			void *p = align <= JM_PAGE ? jm__tcache_large_alloc(npages) :
			    jm__tcache_large_alloc_aligned(npages, align);
			if (p) {
				if (zero)
					memset(p, 0, size);
				return p;
			}
		}
		size_t align_pages = align > JM_PAGE ? align >> JM_LG_PAGE : 1;
		/* Two aligned starts must exist in a chunk's usable pages (with
		 * only one, as for 1 MiB, each such region would hold a chunk
		 * of its own and the arena's free runs would be walked for it
		 * in vain: a huge region is mapped aligned instead). */
		size_t second = (JM_CHUNK_HDR_PAGES + align_pages - 1) / align_pages * align_pages +
		    (align_pages > 1 ? align_pages : 0);
		if (second + npages <= JM_CHUNK_PAGES)
			return jm__large_alloc(jm__thread_arena(), size, align, zero);
	}
	return jm__huge_alloc(size, align, zero);
}

/* A region of size's class; with `aligned`, one with the class's own
 * alignment (jm__bin_lg_align): an empty page class's list would take a
 * region of the next class, which may have less (tcache.c), so the
 * region comes from the bin. */
static void *alloc_small(size_t size, bool zero, bool aligned)
{
	struct jmstat_tcache_bin *tbins = jm__tls_tbins;
	if (tbins == jm__tcache_none && jm__tls_state == JM_TLS_NEW)
		tbins = jm__tcache_boot();
	unsigned binind = jm__size2bin(size);
	void *p;
	if (tbins != jm__tcache_none) {
		struct jmstat_tcache_bin *tb = &tbins[binind];
		p = jm__flist_pop_c(jm__tb_head(tb), binind == 0);
		if (p) {
			/* While an 8 B region is held (tcache.c, "8 B regions
			 * freed a second time"), this pop is checked as
			 * alloc_miss's is: a thread's first malloc comes here
			 * (the heap profile's budget, prof.c: sample_this), and
			 * took a held region from its list unchecked
			 * (tests/preload/misuse.test.sh,
			 * double-free-tiny-first-malloc). */
			if (binind == 0 && jm_unlikely(__atomic_load_n(&jm__c0_pop_max, __ATOMIC_RELAXED) < 0))
				jm__tcache_c0_check(p);
			jm__tb_dec(tb);
			tb->nrequests++;
		} else if (aligned && jm__bin_info[binind].size >= JM_PAGE_CLASS_MIN) {
			p = jm__bin_alloc_one(jm__thread_arena(), binind);
			if (p == NULL)
				errno = ENOMEM;
		} else {
			p = jm__tcache_alloc_slow(tbins, binind);
		}
	} else {
		p = jm__bin_alloc_one(jm__thread_arena(), binind);
		if (p == NULL)
			errno = ENOMEM;
	}
	if (p && zero)
		memset(p, 0, size);
	return p;
}

/* Any allocation, not counted for sampling. */
void *jm__alloc_plain(size_t size, size_t align, bool zero)
{
	jm__ensure_init();
	if (jm_unlikely(jm__tls_state == JM_TLS_FRESH))
		return jm__huge_alloc(size ? size : 1, align, zero);
	/* Sizes up to 8 (class 0) have 8-byte alignment only. */
	if (align <= 8 || (align <= JM_QUANTUM && size > 8)) {
		if (size <= JM_SMALL_MAX)
			return alloc_small(size, zero, false);
		return alloc_big(size, 0, zero);
	}
	if (size > (size_t)PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	size_t usize = size ? size : 1;
	if (usize <= JM_SMALL_MAX && align <= JM_SMALL_MAX) {
		/* The first class from the size (and from the alignment: a
		 * smaller one is not a multiple of it) whose regions are
		 * aligned: up to 32 KiB, from the thread's cache. Above a
		 * page such a request took a large run of 9 pages or more
		 * from the arena, under its lock, whatever its size. A run
		 * of one region placed where its alignment would have cost
		 * room (arena.c, pref_fit) has a region with less: it goes
		 * back to its run, not to the thread's cache, whose next
		 * aligned request would take it again, and the request takes
		 * a large run. */
		unsigned lg = (unsigned)__builtin_ctzll(align);
		unsigned b = jm__size2bin(usize > align ? usize : align);
		while (b < JM_NBINS && jm__bin_lg_align[b] < lg)
			b++;
		if (b < JM_NBINS) {
			void *p = alloc_small(jm__bin_info[b].size, false, lg > JM_LG_PAGE);
			if (p == NULL || ((uintptr_t)p & (align - 1)) == 0) {
				if (p && zero)
					memset(p, 0, jm__bin_info[b].size);
				return p;
			}
			struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
			jm__bin_free_one(c, p, c->pagemap[((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE]);
		}
	}
	/* Above 32 KiB of alignment, a large run of at least 9 pages: one
	 * sized to a small request, placed at the alignment, left the pages
	 * written at more places in the chunks (alignmix: faults and peak
	 * RSS +9%). */
	return alloc_big(usize < JM_SMALL_MAX + 1 ? JM_SMALL_MAX + 1 : usize, align, zero);
}

/* A sampled allocation: a large region of its own (a page for a small
 * size) or a huge one, so that its free is seen: from the thread's cache of
 * large regions (whole runs) if it holds one of its pages, never from a
 * small class's. Each sample took the arena's lock and carved a run, and
 * its free coalesced it back (700 of a sample's 2300 instructions). */
void *jm__alloc_sampled(size_t size, size_t align, bool zero)
{
	if (jm_unlikely(jm__tls_state == JM_TLS_FRESH))
		return jm__huge_alloc(size ? size : 1, align, zero);
	return alloc_big(size ? size : 1, align > JM_QUANTUM ? align : 0, zero);
}

/* Marks a sampled allocation with its site (row + 1; 0: not recorded, the
 * table was full or the stack empty) and the size asked for. A large region
 * keeps the size even without a site: a small one (a page of its own)
 * counts in its size class's cursampled from here to its free. bump false:
 * the caller bumps the header's generation after (the site row it counts
 * the sample in, under the profile's lock: prof.c's record). True if
 * ptr is a huge region (prof.c's record counts it so: its radix tree
 * entry read once, here). */
bool jm__mark_sampled(void *ptr, uint32_t site, size_t size, bool bump)
{
	uintptr_t u = (uintptr_t)ptr;
	uintptr_t e = jm__rtree_get(u & ~(uintptr_t)JM_CHUNK_MASK);
	if (e & JM_RTREE_HUGE) {
		struct jm_huge *h = (struct jm_huge *)(e & ~(uintptr_t)JM_RTREE_HUGE);
		h->prof_size = size;
		h->prof_now = size;
		h->prof_site = site;
		return true;
	}
	struct jm_chunk *c = ptr_chunk(u);
	struct jm_run *run = jm__chunk_run(c, JM_PM_START(c->pagemap[(u & JM_CHUNK_MASK) >> JM_LG_PAGE]));
	run->prof_size = size ? (uint32_t)size : 1;
	run->prof_now = run->prof_size;
	run->prof_site = (uint16_t)site;
	if (run->prof_size <= JM_SMALL_MAX)
		jm__bin_sampled(c->arena, jm__size2bin(run->prof_size), 1, bump);
	return false;
}

/* A sampled large region that realloc kept where it is, `size` bytes
 * now: its site counts it at that size (jm__prof_resize), and a small
 * size's class (the bins' cursampled) is that of the new size, as its
 * free will take it off. */
static JM_NOINLINE void sampled_run_resized(struct jm_chunk *c, struct jm_run *run, size_t size)
{
	size_t from = run->prof_now;
	if (from == size)
		return;
	unsigned was = from <= JM_SMALL_MAX ? jm__size2bin(from) : JM_NBINS;
	unsigned now = size <= JM_SMALL_MAX ? jm__size2bin(size) : JM_NBINS;
	if (was != now) {
		if (now < JM_NBINS)
			jm__bin_sampled(c->arena, now, 1, true);
		if (was < JM_NBINS)
			jm__bin_sampled(c->arena, was, -1, true);
	}
	if (run->prof_site)
		jm__prof_resize(run->prof_site, run->prof_size, from, size, false);
	run->prof_now = size;
}

/* The same for a sampled huge region resized in place. */
static JM_NOINLINE void sampled_huge_resized(struct jm_huge *h, size_t size)
{
	if (h->prof_site && h->prof_now != size)
		jm__prof_resize(h->prof_site, h->prof_size, h->prof_now, size, true);
	h->prof_now = size;
}

/* An allocation already counted against the sampling budget. */
JM_NOINLINE void *jm__alloc_counted(size_t size, bool zero)
{
	jm__ensure_init();
	if (jm_unlikely(jm__stats_pending))
		jm__stats_publish_child();
	return jm__alloc_plain(size, 0, zero);
}

/* malloc's sizes above the small classes (above 32 KiB: the thread
 * caches none of them). Nothing to zero: only the size is kept across the
 * call (a zero flag no caller set cost three registers saved and
 * restored). */
JM_NOINLINE void *jm__alloc_slow(size_t size)
{
	if (jm__prof_take(size))
		return jm__prof_alloc(size, 0, false);
	return jm__alloc_counted(size, false);
}

static void free_in_chunk(void *ptr);

/* A pointer the radix tree does not name, `what` its use ("free of a
 * pointer"): reported as what it is, then the process aborts. */
static _Noreturn JM_NOINLINE void report_unnamed(const char *what, const void *ptr)
{
	switch (jm__huge_unnamed(ptr)) {
	case JM_UNNAMED_INSIDE_HUGE:
		jm__fatal("%s inside a huge region: %p; aborting", what, ptr);
	case JM_UNNAMED_FREED_HUGE:
		jm__fatal("%s to a freed huge region: %p; aborting", what, ptr);
	default:
		jm__fatal("%s not allocated by jmalloc (or freed already): %p; aborting", what, ptr);
	}
}

JM_NOINLINE void jm__free_slow(void *ptr)
{
	if (ptr == NULL)
		return;
	if (jm_unlikely(jm__fork_tainted))
		jm__fork_tainted_abort();
	uintptr_t u = (uintptr_t)ptr;
	uintptr_t e = jm__rtree_get(u & ~(uintptr_t)JM_CHUNK_MASK);
	if (e == 0)
		report_unnamed("free of a pointer", ptr);
	if (e & JM_RTREE_HUGE) {
		jm__huge_free((struct jm_huge *)(e & ~(uintptr_t)JM_RTREE_HUGE), ptr);
		return;
	}
	free_in_chunk(ptr);
}

/* A pointer in one of our chunks (the chunk map said so, or the radix
 * tree) that free's fast path did not take: a large region, a small one
 * whose cache is full or absent, or a misuse. */
static JM_NOINLINE void free_in_chunk(void *ptr)
{
	if (jm_unlikely(jm__fork_tainted))
		jm__fork_tainted_abort();
	uintptr_t u = (uintptr_t)ptr;
	struct jm_chunk *c = ptr_chunk(u);
	uint64_t pm = c->pagemap[(u & JM_CHUNK_MASK) >> JM_LG_PAGE];
	switch (JM_PM_KIND(pm)) {
	case JM_PM_SMALL: {
		unsigned binind = JM_PM_BIN(pm);
		bool c0 = binind == 0;
		if (jm__pm_inside(pm, u))
			jm__report_misuse("free of a pointer inside a small region", ptr);
		struct jmstat_tcache_bin *tbins = jm__tls_fbins;
		/* A cache set aside (a forked process's: tcache.c, "forked")
		 * sends its parent's regions to their runs, and reads them
		 * only where the run's bitmap may not say a double free. */
		if (tbins == jm__tcache_none && jm__tls_state == JM_TLS_CACHED &&
		    (tbins = jm__tcache_forked_free(c, ptr, pm)) == NULL)
			return;   /* a forked child's free of its parent's region */
		if (jm__flist_is_free_c(ptr, c0)) {
			jm__tcache_check_double_free(ptr, binind);
			/* Class 0 only comes back: its tag matched, and neither
			 * this thread's list nor its run holds it, so it is an
			 * 8 B object in use whose top bits match the tag (one
			 * time in 2^15 if its top bit is set), or a region in
			 * another thread's list, freed again. Either way nothing
			 * of it is written (a push, or a mark, overwrote its
			 * link, and the other thread's list then ran on into
			 * this one, both handed out twice, unreported), and it
			 * is held aside, in neither its run nor a list (it went
			 * to its run until session 35, and the other list's
			 * malloc and a fill then handed it out twice): that list
			 * reports it when it gives it out, by its pop or its
			 * flush (tcache.c, "8 B regions freed a second time";
			 * tests/preload/misuse.test.sh,
			 * double-free-tiny-other-cache, -two-caches). */
			if (jm_unlikely(__atomic_load_n(&jm__inh_taken, __ATOMIC_RELAXED) != 0))
				jm__tcache_inh_check(ptr, binind);
			jm__tcache_c0_hold(ptr);
			return;
		}
		/* Without its mark, in a run a forked child freed its
		 * parent's regions to unmarked (tcache.c, run_divert): the
		 * run's bit says whether it is free already. */
		if (jm_unlikely(JM_PM_DIV(pm) == JM_PM_DIV_SLOW))
			jm__tcache_slow_run_free(c, ptr, pm);
		/* Straight to its run: a forked child's other thread may hold
		 * it in its buffer, freed (tcache.c, "inherited frees"). */
		if (tbins == jm__tcache_none && jm__tls_state == JM_TLS_NEW) {
			if (new_thread_frees < NEW_THREAD_FREES) {
				new_thread_frees++;
				if (jm_unlikely(__atomic_load_n(&jm__inh_taken, __ATOMIC_RELAXED) != 0))
					jm__tcache_inh_check(ptr, binind);
				jm__bin_free_one(c, ptr, pm);
				return;
			}
			tbins = jm__tcache_boot();
		}
		if (tbins == jm__tcache_none) {
			if (jm_unlikely(__atomic_load_n(&jm__inh_taken, __ATOMIC_RELAXED) != 0))
				jm__tcache_inh_check(ptr, binind);
			jm__bin_free_one(c, ptr, pm);
			return;
		}
		struct jmstat_tcache_bin *tb = &tbins[binind];
		if (!jm__tb_full(tb)) {
			jm__flist_push_c(jm__tb_head(tb), ptr, c0);
			jm__tb_inc(tb);
		} else {
			jm__tcache_free_full(tb, binind, ptr);
		}
		return;
	}
	case JM_PM_LARGE: {
		struct jm_run *run = jm__chunk_run(c, JM_PM_START(pm));
		size_t npages = run->npages;
		if (run->prof_size && jm__run_addr(c, run) == ptr && run->state == JM_RUN_LARGE) {
			/* The class's count first, then the site's row, whose
			 * end bumps the generation for both. */
			if (run->prof_now <= JM_SMALL_MAX)
				jm__bin_sampled(c->arena, jm__size2bin(run->prof_now), -1,
				    run->prof_site == 0);
			if (run->prof_site)
				jm__prof_free(run->prof_site, run->prof_size, run->prof_now, false);
			run->prof_site = 0;
			run->prof_size = 0;
		}
		if (npages >= JM_TCACHE_LARGE_MIN_PAGES && npages <= JM_TCACHE_CLASS_MAX_PAGES &&
		    jm__run_addr(c, run) == ptr &&
		    run->state == JM_RUN_LARGE) {
			if (jm__flist_is_free(ptr))
				jm__report_misuse("double free of a large region", ptr);
			if (jm__tcache_large_free(ptr, npages, JM_PM_ARENA(pm)))
				return;
		}
		jm__large_free(c, ptr, pm);
		return;
	}
	default:
		jm__report_misuse("free of a pointer that is not allocated "
		    "(double free, or not from malloc)", ptr);
	}
}

/* Free's fast path counted a region into a full list (or the none
 * cache's), or into one when the region was already free (its cookie):
 * the count is taken back (the none cache's, which threads
 * without a cache share and write at once, is set back to its value:
 * undone, lost updates could drift it), then the slow path. */
static JM_NOINLINE void free_full(void *ptr, struct jmstat_tcache_bin *tb)
{
	if (tb >= jm__tcache_none && tb < jm__tcache_none + JM_NBINS) {
		tb->ncached_less_max = JM_TCACHE_NONE_FULL;
		jm__tb_priv(tb)->ncached_less_max = JM_TCACHE_NONE_FULL;
		/* A thread with a cache that free's path finds none: set
		 * aside (a forked process's: tcache.c, "forked"); its
		 * parent's regions go to its buffer from here. */
		if (jm__tls_state == JM_TLS_CACHED && jm__tcache_inh_free(ptr))
			return;
	} else {
		jm__tb_dec(tb);
	}
	free_in_chunk(ptr);
}

/* Malloc's fast path found its list empty: sizes up to 8 come to the
 * always empty row (JM_TBIN_EMPTY), and class 0's list is row 0's, its
 * pop untags (internal.h); out of the way of the other classes' path. */
#ifdef JM_TEST
/* The allocations malloc's fast path did not serve (tests). */
unsigned long jm__test_alloc_misses;
#endif
/* alloc_miss's pop of class 0's list while an 8 B region is held: the
 * region it takes is reported if it is that one. */
static JM_NOINLINE void *alloc_c0_checked(void)
{
	struct jmstat_tcache_bin *tb = jm__tls_tbins;
	void *p = jm__flist0_pop(jm__tb_head(tb));
	if (p == NULL)
		return jm__alloc_counted(8, false);
	jm__tcache_c0_check(p);
	jm__tb_dec(tb);
	tb->nrequests++;
	return p;
}

static JM_NOINLINE void *alloc_miss(size_t size)
{
#ifdef JM_TEST
	/* Counted from every thread (test_alloc_xthread's ring threads). */
	__atomic_fetch_add(&jm__test_alloc_misses, 1, __ATOMIC_RELAXED);
#endif
	/* 8 unless an 8 B region is held (tcache.c, "8 B regions freed a
	 * second time"): then -1, which no size is at most (malloc(0)'s
	 * included: a signed comparison, size at most JM_SMALL_MAX here),
	 * and the pop looks for it there first. */
	if ((int64_t)size <= jm__c0_pop_max) {
		struct jmstat_tcache_bin *tb = jm__tls_tbins;
		void *p = jm__flist0_pop(jm__tb_head(tb));
		if (jm_likely(p != NULL)) {
			jm__tb_dec(tb);
			tb->nrequests++;
			return p;
		}
	} else if (size <= 8) {
		return alloc_c0_checked();
	}
	return jm__alloc_counted(size, false);
}

/* Usable size of one of our regions; aborts on a foreign pointer, one
 * inside a region (its size from there would run past the region's end:
 * a program that wrote that many bytes overwrote its neighbour) and a
 * freed region (free's and realloc's tests). */
static size_t usable_size(void *ptr)
{
	uintptr_t u = (uintptr_t)ptr;
	uintptr_t e = jm__rtree_get(u & ~(uintptr_t)JM_CHUNK_MASK);
	if (e == 0)
		report_unnamed("pointer", ptr);
	if (e & JM_RTREE_HUGE) {
		struct jm_huge *h = (struct jm_huge *)(e & ~(uintptr_t)JM_RTREE_HUGE);
		if (h->addr != ptr)
			jm__report_misuse("pointer inside a huge region", ptr);
		return h->size;
	}
	struct jm_chunk *c = ptr_chunk(u);
	uint64_t pm = c->pagemap[(u & JM_CHUNK_MASK) >> JM_LG_PAGE];
	switch (JM_PM_KIND(pm)) {
	case JM_PM_SMALL:
		if (jm__pm_inside(pm, u))
			jm__report_misuse("pointer inside a small region", ptr);
		if (jm__flist_is_free_c(ptr, JM_PM_BIN(pm) == 0) &&
		    jm__tcache_small_freed(ptr, JM_PM_BIN(pm)))
			jm__report_misuse("pointer not allocated (freed, or not from malloc)", ptr);
		return jm__bin_info[JM_PM_BIN(pm)].size;
	case JM_PM_LARGE:
		if ((char *)c + ((size_t)JM_PM_START(pm) << JM_LG_PAGE) != (char *)ptr)
			jm__report_misuse("pointer inside a large region", ptr);
		if (jm__chunk_run(c, JM_PM_START(pm))->state != JM_RUN_LARGE || jm__flist_is_free(ptr))
			jm__report_misuse("pointer not allocated (freed, or not from malloc)", ptr);
		return jm__large_usable(c, pm);
	default:
		jm__report_misuse("pointer not allocated (freed, or not from malloc)", ptr);
	}
}

static void *aligned_impl(size_t align, size_t size)
{
	if (align <= 8 || (align <= JM_QUANTUM && size > 8))
		return jm_malloc(size);
	jm__ensure_init();
	if (jm__prof_take(size))
		return jm__prof_alloc(size, align, false);
	return jm__alloc_plain(size, align, false);
}

/* ------------------------------------------------------------- the API */

/* C++'s throwing operator new's paths that may fail: never NULL (cxx.c:
 * the new handler, std::bad_alloc). Functions of their own, tail-called,
 * so that new's fast path saves no register for the test after them. */
static JM_NOINLINE void *alloc_miss(size_t size);

static JM_NOINLINE void *new_miss(size_t size)
{
	void *p = alloc_miss(size);
	return jm_likely(p != NULL) ? p : jm__new_failed(size);
}

static JM_NOINLINE void *new_slow(size_t size)
{
	void *p = jm__alloc_slow(size);
	return jm_likely(p != NULL) ? p : jm__new_failed(size);
}

static JM_NOINLINE void *new_sampled(size_t size)
{
	void *p = jm__prof_alloc(size, 0, false);
	return jm_likely(p != NULL) ? p : jm__new_failed(size);
}

/* malloc's and operator new's body: the same fast path, new's misses
 * checked for NULL (cxx is a constant: malloc's code is as it was). */
static inline __attribute__((always_inline)) void *malloc_body(size_t size, bool cxx)
{
	/* The class: by the size itself up to JM_SIZE_DIRECT_MAX, by quanta
	 * above (a second comparison there only). */
	uintptr_t tbin;
	if (jm_likely(size <= JM_SIZE_DIRECT_MAX))
		tbin = __atomic_load_n(&jm__size2tbin_direct[size], __ATOMIC_RELAXED);
	else if (jm_likely(size <= JM_SMALL_MAX))
		tbin = (uintptr_t)jm__size2bin_above(size) * sizeof(struct jmstat_tcache_bin);
	else
		return cxx ? new_slow(size) : jm__alloc_slow(size);
	/* The sampling budget first (one subtraction, one branch). */
	if (jm_unlikely((jm__tls_sample_left -= (int64_t)size) < 0))
		return cxx ? new_sampled(size) : jm__prof_alloc(size, 0, false);
	/* A thread without a cache has the empty one: it falls through. The
	 * cache's row in a register other than the return value's (the
	 * compiler put both in one, and a move before the return). */
	uintptr_t row = tbin;
#if defined(__x86_64__)
	__asm__("" : "+d"(row));
#endif
	struct jmstat_tcache_bin *tb = (struct jmstat_tcache_bin *)
	    ((char *)jm__tls_tbins + row);
	void *p = jm__flist_pop(jm__tb_head(tb));
	if (jm_likely(p != NULL)) {
		jm__tb_dec(tb);
		tb->nrequests++;
		return p;
	}
	return cxx ? new_miss(size) : alloc_miss(size);
}

/* malloc and free start on a cache line: where they fell by the sizes of
 * the functions before them, a change elsewhere in this file moved them
 * by 32 bytes and sh6bench ran 8-20% slower on the same instructions
 * (callgrind: 331.7M and 331.4M). So does C++'s operator new. */
__attribute__((aligned(64)))
JM_EXPORT void *jm_malloc(size_t size)
{
	return malloc_body(size, false);
}

#if !defined(JM_NO_LIBC_NAMES) || !JM_NO_LIBC_NAMES
/* C++'s operator new(size_t), _Znwm (cxx.c): malloc's fast path inline,
 * not a call of malloc (libstdc++'s operator new was 13 instructions and
 * a call through the PLT more than malloc). */
__attribute__((aligned(64)))
void *jm__new(size_t size)
{
	return malloc_body(size, true);
}
#endif

/* Free's fast path did not take ptr, a pointer in one of our chunks: a
 * region of class 0 (8 B), whose page word fails that path's test on
 * purpose (types.h, JM_PM_DIV_C0), is pushed here, its link tagged
 * (internal.h), out of the way of the other classes' path; a tag already
 * there (a double free, or an 8 B object in use that matches it) and a
 * full list take the slow path, as does everything else. */
static JM_NOINLINE void free_miss(void *ptr)
{
	uintptr_t u = (uintptr_t)ptr;
	const struct jm_chunk *c = ptr_chunk(u);
	uint64_t pm = c->pagemap[(u & JM_CHUNK_MASK) >> JM_LG_PAGE];
	if (JM_PM_DIV(pm) == JM_PM_DIV_C0 && (u & 7) == 0) {
		/* The list first, the region's tag after, as on free's fast
		 * path (a set-aside cache reads nothing of the region here). */
		uintptr_t *w = ptr, tag = jm__flist0_tag(ptr);
		struct jmstat_tcache_bin *tb = jm__tls_fbins;   /* row 0 */
#if defined(__x86_64__)
		__asm__ goto("addl $1, %0\n\taddl $1, %1\n\tjg %l[full0]"
		    : "+m"(tb->ncached_less_max), "+m"(jm__tb_priv(tb)->ncached_less_max)
		    : : "cc" : full0);
#else
		tb->ncached_less_max++;
		if ((int32_t)++jm__tb_priv(tb)->ncached_less_max > 0)
			goto full0;
#endif
		if (jm_unlikely((w[0] & JM_FLIST_TAG) == tag))
			goto full0;
		w[0] = *jm__tb_head(tb) | tag;
		*jm__tb_head(tb) = u;
		return;
full0:
		free_full(ptr, tb);
		return;
	}
	free_in_chunk(ptr);
}

__attribute__((optimize("no-tree-slp-vectorize"), aligned(64)))
JM_EXPORT void jm_free(void *ptr)
{
	uintptr_t u = (uintptr_t)ptr;
	uintptr_t idx = u >> JM_LG_CHUNK;
	/* NULL, huge regions (not chunks), a chunk's header (page map entry
	 * 0) and pointers above the user address space take the slow path. */
	if (jm_likely(jm__chunk_idx_ours(idx))) {
		/* The page-map word: at chunk + pagemap + 8 x page, where
		 * chunk + 8 x page = idx x (2^21 - 2^12) + 8 x (u >> 12), since
		 * u >> 12 = idx x 2^9 + page: one multiplication of a register
		 * free by now and one shift of a copy of u, no mask (the
		 * compiler would mask u, or turn the multiplication into
		 * three shifts and a subtraction). */
		uintptr_t base;
#if defined(__x86_64__)
		__asm__("imulq %1, %2, %0" : "=r"(base) : "i"(JM_CHUNK - JM_PAGE), "r"(idx));
#else
		base = idx * (JM_CHUNK - JM_PAGE);
#endif
		uintptr_t page = u >> JM_LG_PAGE;
		uintptr_t cookie = jm__flist_cookie(ptr);
#if defined(__x86_64__)
		/* Computed here, in a register of its own: sunk to its use
		 * below, the compiler copied a register for it (an
		 * instruction more). */
		__asm__("" : "+r"(cookie));
#endif
		/* A small region's start: its offset in the run times the
		 * divisor (the page-map entry's high half), modulo 2^32, below
		 * the divisor; that product is u x divisor less the low half
		 * of the page's fast word (types.h, pagefast). Only a small
		 * run's entry has a divisor: with 0 (a large run, a free or
		 * header page) the test fails, so that it needs no test of the
		 * kind of its own, and the fast word, stale there, is not
		 * used. Each is the operand of an instruction as it is in
		 * memory: the page-map entry is not loaded (its copy shifted
		 * for the divisor, the run's offset subtracted and masked took
		 * four instructions more). */
#define FAST_WORD (offsetof(struct jm_chunk, pagefast) - JM_CHUNK_HDR_PAGES * sizeof(uint64_t))
#if defined(__x86_64__)
		uint32_t x = (uint32_t)u;
		__asm__ volatile goto("imull %c[div](%[b],%[pg],8), %[x]\n\t"
		    "subl %c[k](%[b],%[pg],8), %[x]\n\t"
		    "cmpl %c[div](%[b],%[pg],8), %[x]\n\t"
		    "jae %l[not_fast]"
		    : [x] "+r"(x)
		    : [b] "r"(base), [pg] "r"(page),
		      [div] "i"(offsetof(struct jm_chunk, pagemap) + 4), [k] "i"(FAST_WORD)
		    : "cc" : not_fast);
		uint32_t tbin = *(const uint32_t *)(base + FAST_WORD + 4 + page * sizeof(uint64_t));
#else
		uint64_t pm = *(const uint64_t *)(base + offsetof(struct jm_chunk, pagemap) +
		    page * sizeof(uint64_t));
		if (JM_PM_DIV(pm) == JM_PM_DIV_C0 ||
		    JM_PM_OFFSET(pm, u) * JM_PM_DIV(pm) >= JM_PM_DIV(pm))
			goto not_fast;
		uint32_t tbin = JM_PM_TBIN(pm);
#endif
#undef FAST_WORD
		/* The cache not full (a thread without a cache has capacity
		 * 0), then not already free (cookie): push it. The list's
		 * test first, so that a thread whose cache is set aside (a
		 * forked child's: tcache.c, "forked") reads nothing of the
		 * region here: the slow path decides whether it must. */
		struct jmstat_tcache_bin *tb = (struct jmstat_tcache_bin *)
		    ((char *)jm__tls_fbins + tbin);
		/* Count it, then not full: the count less the capacity is at
		 * most 0 after the addition, by the flags of the addition in
		 * memory (the compiler loads, adds, stores and tests: three
		 * instructions more). The none cache's rows hold
		 * JM_TCACHE_NONE_FULL: full. */
#if defined(__x86_64__)
		__asm__ goto("addl $1, %0\n\taddl $1, %1\n\tjg %l[full]"
		    : "+m"(tb->ncached_less_max), "+m"(jm__tb_priv(tb)->ncached_less_max)
		    : : "cc" : full);
#else
		tb->ncached_less_max++;
		if ((int32_t)++jm__tb_priv(tb)->ncached_less_max > 0)
			goto full;
#endif
		/* Already free: the count is taken back there too, and the
		 * slow path reports it. */
		if (jm_unlikely(jm__flist_has_cookie(ptr, cookie)))
			goto full;
		jm__flist_push_cookie(jm__tb_head(tb), ptr, cookie);
		return;
full:
		free_full(ptr, tb);
		return;
not_fast:
		free_miss(ptr);
		return;
	}
	jm__free_slow(ptr);
}

JM_EXPORT void *jm_calloc(size_t nmemb, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	if (total <= JM_SMALL_MAX) {
		void *p = jm_malloc(total);
		if (p)
			memset(p, 0, total);
		return p;
	}
	if (jm__prof_take(total))
		return jm__prof_alloc(total, 0, true);
	return alloc_big(total, 0, true);
}

#ifndef JM_REALLOC_MOVE_CUT
#define JM_REALLOC_MOVE_CUT 2
#endif
JM_EXPORT void *jm_realloc(void *ptr, size_t size)
{
	if (ptr == NULL)
		return jm_malloc(size);
	if (size == 0) {
		jm_free(ptr);
		return NULL;
	}
	if (size > (size_t)PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	if (jm_unlikely(jm__fork_tainted))
		jm__fork_tainted_abort();
	uintptr_t u = (uintptr_t)ptr;
	uintptr_t e = jm__rtree_get(u & ~(uintptr_t)JM_CHUNK_MASK);
	if (e == 0)
		report_unnamed("realloc of a pointer", ptr);
	size_t old;
	if (e & JM_RTREE_HUGE) {
		struct jm_huge *h = (struct jm_huge *)(e & ~(uintptr_t)JM_RTREE_HUGE);
		if (h->addr != ptr)
			jm__report_misuse("realloc of a pointer inside a huge region", ptr);
		/* A sampled region stays where it is while the new size fits (its
		 * site counts it at its new size, with the weight of the size
		 * it was sampled at: sampled_huge_resized), and else grows as
		 * any other region does, its record (and sample) moving with its
		 * pages. When that took a new mapping, its sample is taken back
		 * and the region sampled again for its new size, as the copy
		 * into a new allocation it replaces was (a buffer grown a step
		 * at a time, perl's strings, Python's bytearrays, stress-ng
		 * --bigheap: nearly every one above a few MiB is sampled, and
		 * each move held two copies and faulted the new one in). */
		if (h->prof_site && size <= h->size) {
			/* A cut of a quarter or more goes in place (to any
			 * size: a huge region may be small), its sample
			 * kept: kept whole, a sampled buffer (nearly every
			 * one of a few MiB) held its written pages past the
			 * cut (test_huge_sampled_cut). A smaller one returns
			 * at once: a buffer grown a step at a time asks for
			 * sizes within its last page (realloc-grow: 3 x the
			 * time when each went to jm__huge_ralloc). */
			if (size <= h->size - h->size / 4)
				jm__huge_ralloc(h, ptr, size);
			sampled_huge_resized(h, size);
			return ptr;
		}
		if (size > JM_LARGE_MAX) {
			uint32_t site = h->prof_site;
			size_t prof_size = h->prof_size, prof_now = h->prof_now, map = h->map_size;
			void *q = jm__huge_ralloc(h, ptr, size);
			if (q != NULL) {
				if (site && (q != ptr || h->map_size != map)) {
					h->prof_site = 0;
					jm__prof_free(site, prof_size, prof_now, true);
					jm__prof_regrown(q, size);
				} else if (site) {
					/* Grown in its mapping: kept, at its size. */
					sampled_huge_resized(h, size);
				}
				return q;
			}
		}
		old = h->size;
	} else {
		struct jm_chunk *c = ptr_chunk(u);
		uint64_t pm = c->pagemap[(u & JM_CHUNK_MASK) >> JM_LG_PAGE];
		switch (JM_PM_KIND(pm)) {
		case JM_PM_SMALL: {
			unsigned binind = JM_PM_BIN(pm);
			/* Kept in place by a size of its class, a pointer inside
			 * a region was handed back as if the region started
			 * there, and the program wrote past its end. */
			if (jm__pm_inside(pm, u))
				jm__report_misuse("realloc of a pointer inside a small region", ptr);
			if (jm__flist_is_free_c(ptr, binind == 0))
				jm__tcache_check_double_free(ptr, binind);
			/* Kept where it is for any size from half its class's
			 * to the class's own (the first class's: any size), as
			 * tcmalloc and mimalloc keep a small region. A cut to
			 * a class below moved it (a malloc, a copy of the new
			 * size and a free) to save at most half a region:
			 * trim-often, whose reallocs go to random sizes,
			 * copied at 97% of its 800k calls against mimalloc's
			 * 91%, 4.4% of the program's instructions, for a peak
			 * RSS within its runs' spread. Told by the class's
			 * size, not by jm__size2bin's class, whose two ranges,
			 * each side of 1 KiB, mispredicted half the time in a
			 * program of sizes on both (reallocsame 0.33 -> 0.21
			 * s, mimalloc 0.15). The freed region's test above
			 * stays: its load of the region's second word is most
			 * of what is left. */
			if (size <= jm__bin_info[binind].size &&
			    (binind == 0 || size >= jm__bin_info[binind].size / 2))
				return ptr;
			old = jm__bin_info[binind].size;
			break;
		}
		case JM_PM_LARGE:
			if ((char *)c + ((size_t)JM_PM_START(pm) << JM_LG_PAGE) != (char *)ptr ||
			    jm__chunk_run(c, JM_PM_START(pm))->state != JM_RUN_LARGE ||
			    jm__flist_is_free(ptr))
				jm__report_misuse("realloc of a pointer that is not allocated", ptr);
			{
			struct jm_run *run = jm__chunk_run(c, JM_PM_START(pm));
			size_t have = (size_t)run->npages << JM_LG_PAGE;
			/* A cut of less than a quarter keeps the pages: the
			 * room a growth was given (below). */
			if (size <= have && size > have - have / 4) {
				if (jm_unlikely(run->prof_size != 0))
					sampled_run_resized(c, run, size);
				return ptr;
			}
			if (size <= have / JM_REALLOC_MOVE_CUT) {
				/* Cut to a small part: moved; cut in place
				 * when there is no memory for the move (a
				 * shrink must not fail: it returned NULL,
				 * test_cut_without_memory). */
				int saved = errno;
				void *q = jm_malloc(size);
				if (q) {
					memcpy(q, ptr, size);
					jm_free(ptr);
					return q;
				}
				errno = saved;
				jm__large_ralloc_inplace(c, ptr, pm, size);
				if (run->prof_size)
					sampled_run_resized(c, run, size);
				return ptr;
			} else if (run->prof_size) {
				/* A sampled region keeps its run (and its sample)
				 * while the new size fits, its pages past that
				 * given back (its site counts it at its new size,
				 * with the weight of the size it was sampled at);
				 * it moves to grow. */
				if (size <= have) {
					jm__large_ralloc_inplace(c, ptr, pm, size);
					sampled_run_resized(c, run, size);
					return ptr;
				}
			} else if (size > JM_SMALL_MAX && size <= JM_LARGE_MAX) {
				if (jm__large_ralloc_inplace(c, ptr, pm, size))
					return ptr;
			}
			old = have;
			break;
			}
		default:
			jm__report_misuse("realloc of a pointer that is not allocated "
			    "(freed, or not from malloc)", ptr);
		}
	}
	/* A large or huge region grown by less than a quarter (a buffer grown
	 * a step at a time) moves with a quarter more room, so that the next
	 * steps are in place: it is copied a logarithmic number of times, not
	 * at every page its size crosses. */
	size_t want = size;
	if (size > old && old > JM_SMALL_MAX && size - old < old / 4)
		want = old + old / 4;
	void *q = jm_malloc(want);
	if (q == NULL && want != size)
		q = jm_malloc(size);
	if (q == NULL)
		return NULL;
	memcpy(q, ptr, old < size ? old : size);
	jm_free(ptr);
	return q;
}

JM_EXPORT int jm_posix_memalign(void **memptr, size_t alignment, size_t size)
{
	if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0)
		return EINVAL;
	int saved = errno;
	void *p = aligned_impl(alignment, size);
	if (p == NULL) {
		errno = saved;
		return ENOMEM;
	}
	*memptr = p;
	return 0;
}

JM_EXPORT void *jm_aligned_alloc(size_t alignment, size_t size)
{
	if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	return aligned_impl(alignment, size);
}

JM_EXPORT void *jm_memalign(size_t alignment, size_t size)
{
	/* glibc: an alignment that is not a power of two is rounded up to one;
	 * one too large to round is EINVAL. */
	if (alignment > ((size_t)1 << (sizeof(size_t) * 8 - 1))) {
		errno = EINVAL;
		return NULL;
	}
	if (alignment & (alignment - 1)) {
		size_t a = JM_QUANTUM;
		while (a < alignment)
			a <<= 1;
		alignment = a;
	}
	return aligned_impl(alignment, size);
}

JM_EXPORT void *jm_valloc(size_t size)
{
	return aligned_impl(JM_PAGE, size);
}

JM_EXPORT void *jm_pvalloc(size_t size)
{
	size_t rounded = (size + JM_PAGE_MASK) & ~JM_PAGE_MASK;
	if (rounded < size) {
		errno = ENOMEM;
		return NULL;
	}
	return aligned_impl(JM_PAGE, rounded ? rounded : JM_PAGE);
}

JM_EXPORT size_t jm_malloc_usable_size(void *ptr)
{
	return ptr ? usable_size(ptr) : 0;
}

JM_EXPORT void *jm_reallocarray(void *ptr, size_t nmemb, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return jm_realloc(ptr, total);
}

JM_EXPORT void jm_free_sized(void *ptr, size_t size)
{
	if (ptr && size > usable_size(ptr))
		jm__report_misuse("free_sized with a size larger than the allocation", ptr);
	jm_free(ptr);
}

JM_EXPORT void jm_free_aligned_sized(void *ptr, size_t alignment, size_t size)
{
	if (ptr && ((uintptr_t)ptr & (alignment - 1)) != 0)
		jm__report_misuse("free_aligned_sized with a wrong alignment", ptr);
	jm_free_sized(ptr, size);
}

#if !defined(JM_NO_LIBC_NAMES) || !JM_NO_LIBC_NAMES
/* For cxx.c: free and the aligned allocation under hidden names, reached
 * by a direct jump (jm_free and jm_aligned_alloc are exported, so that a
 * call of them from another file goes through the PLT). An alignment
 * that is not a power of two is NULL here: std::bad_alloc there. */
void jm__free(void *ptr) __attribute__((alias("jm_free")));
void *jm__new_aligned(size_t size, size_t align)
{
	if (align == 0 || (align & (align - 1)) != 0)
		return NULL;
	return aligned_impl(align, size);
}

#define JM_ALIAS(name) __attribute__((alias(#name), visibility("default")))
void *malloc(size_t size) JM_ALIAS(jm_malloc);
void free(void *ptr) JM_ALIAS(jm_free);
void *calloc(size_t nmemb, size_t size) JM_ALIAS(jm_calloc);
void *realloc(void *ptr, size_t size) JM_ALIAS(jm_realloc);
int posix_memalign(void **memptr, size_t alignment, size_t size) JM_ALIAS(jm_posix_memalign);
void *aligned_alloc(size_t alignment, size_t size) JM_ALIAS(jm_aligned_alloc);
void *memalign(size_t alignment, size_t size) JM_ALIAS(jm_memalign);
void *valloc(size_t size) JM_ALIAS(jm_valloc);
void *pvalloc(size_t size) JM_ALIAS(jm_pvalloc);
size_t malloc_usable_size(void *ptr) JM_ALIAS(jm_malloc_usable_size);
void *reallocarray(void *ptr, size_t nmemb, size_t size) JM_ALIAS(jm_reallocarray);
void free_sized(void *ptr, size_t size) JM_ALIAS(jm_free_sized);
void free_aligned_sized(void *ptr, size_t alignment, size_t size) JM_ALIAS(jm_free_aligned_sized);
/* C++'s operator new(size_t) and operator delete(void *) (the others are
 * in cxx.c): weak, so that a program linked with libjmalloc.a may define
 * its own (a shared library's are interposed by the program's anyway). */
void *jm__cxx_Znwm(size_t size) __asm__("_Znwm") __attribute__((weak)) JM_ALIAS(jm__new);
void jm__cxx_ZdlPv(void *ptr) __asm__("_ZdlPv") __attribute__((weak)) JM_ALIAS(jm_free);
/* glibc's internal names, which some libraries and tools call directly:
 * what they return is freed with free(), and the other way round. */
void *__libc_malloc(size_t size) JM_ALIAS(jm_malloc);
void __libc_free(void *ptr) JM_ALIAS(jm_free);
void *__libc_calloc(size_t nmemb, size_t size) JM_ALIAS(jm_calloc);
void *__libc_realloc(void *ptr, size_t size) JM_ALIAS(jm_realloc);
void *__libc_memalign(size_t alignment, size_t size) JM_ALIAS(jm_memalign);
void *__libc_valloc(size_t size) JM_ALIAS(jm_valloc);
void *__libc_pvalloc(size_t size) JM_ALIAS(jm_pvalloc);
#endif
