/*
 * sizeclass.c: the small size classes and their runs.
 *
 * Classes are 8 bytes, 16..128 bytes by 16, then four per doubling up to
 * 32 KiB (41 classes). Each class's run is the smallest number of pages that
 * its regions fill exactly: for the five page classes from 16 KiB, one
 * region. Sizes above JM_SMALL_MAX are large (whole pages inside a
 * chunk) up to JM_LARGE_MAX, and huge beyond.
 */
#include "internal.h"

/* The tables (3.8 KiB, written once at initialisation, read on every
 * allocation) are in .data, not .bss: between the allocator's other
 * static variables they put its locks on two pages, and a fork writes
 * every lock (taken, then released in the parent and re-initialised in
 * the child): a page fault and a copy on each side for each page. */
#define JM_TABLE __attribute__((section(".data.jm_sizeclass")))
struct jm_bin_info jm__bin_info[JM_NBINS] JM_TABLE;
uint8_t jm__bin_lg_align[JM_NBINS] JM_TABLE;
_Static_assert(JM_NBINS <= 256, "a class fits the quantum table's byte");
uint8_t jm__size2bin_tab[(1024 >> JM_LG_QUANTUM) + 1] JM_TABLE;
uint8_t jm__size2bin_big[(JM_SMALL_MAX >> JM_LG_BIG_STEP) + 1] JM_TABLE;
_Static_assert(JM_SIZE_DIRECT_MAX == 1024, "the quantum table ends where the direct one does");
uint16_t jm__size2tbin_direct[JM_SIZE_DIRECT_MAX + 1] JM_TABLE;

/* The three class tables are read before the allocator is known to be
 * initialised: malloc's fast path looks its size up first, and a thread
 * without a cache (every row of its empty one empty) then takes the slow
 * path, which waits for the initialisation (jm__ensure_init, an acquire)
 * and looks the class up again. So a thread's first malloc, while another
 * thread's runs jm__sizeclass_init, read a byte being written: the class
 * read then (0, or the final one) only picks a row of the empty cache and
 * is dropped, but a plain read racing a plain write is undefined (a data
 * race; ThreadSanitizer reported it). Their stores and loads are relaxed
 * atomics: the same single moves on x86-64 and arm64, no fence, no
 * instruction more on the fast path (callgrind, fastpath). */

/* The sizes and runs are the segment's table (jmstat_class_of), which
 * readers check; every class is 2^k times 1, 3, 5 or 7, so a run of that
 * many pages holds a whole number of regions, with no tail (free() relies
 * on this). */
static void choose_run(struct jm_bin_info *bi, unsigned i)
{
	struct jmstat_class c;
	if (jmstat_class_of(i, &c) != 0 || c.run_size % c.size != 0)
		jm__fatal("no run without a tail for class %u", i);
	bi->size = c.size;
	bi->run_pages = c.run_size >> JM_LG_PAGE;
	bi->regs = c.regs_per_run;
}

void jm__sizeclass_init(void)
{
	for (unsigned i = 0; i < JM_NBINS; i++) {
		struct jm_bin_info *bi = &jm__bin_info[i];
		choose_run(bi, i);
		unsigned lg = (unsigned)__builtin_ctz(bi->size);
		if (bi->regs > 1 && lg > JM_LG_PAGE)
			lg = JM_LG_PAGE;
		jm__bin_lg_align[i] = (uint8_t)lg;
		bi->div_magic = (uint32_t)(((1ULL << 32) + bi->size - 1) / bi->size);
		/* A cache starts at up to twice a run (at most 64 regions and
		 * 8 KiB, at least 2) and may grow to 4096 regions or 2 MiB,
		 * within the thread's budget (tcache.c). A fill takes half of
		 * it and writes a link into each region it takes, so that its
		 * bytes are pages touched: at 32 KiB a first fill of the 640 B
		 * class took 25 regions, 4 pages for one region, of the 4 KiB
		 * class (stdio's buffer) 2, and a short program with a few
		 * such classes faulted in 6 pages more than now (cache-scratch,
		 * cache-thrash); a class in use grows its cache. */
		uint32_t max = bi->regs * 2;
		if (max > 64)
			max = 64;
		if (max > 8192 / bi->size)
			max = 8192 / bi->size;
		if (max < 2)
			max = 2;
		uint32_t hard = (2u << 20) / bi->size;
		if (hard > 4096)
			hard = 4096;
		/* A page class (one region a run) holds its cap from the
		 * start: its list grows by frees only, its fills take one
		 * region (tcache.c). At 512 KiB a class, the old cap of the
		 * large sizes it replaces, glibc-thread's peak RSS was 13%
		 * above theirs (more regions went back to the arena and came
		 * again from new pages); at 1 MiB 3% below. */
		if (bi->size >= JM_PAGE_CLASS_MIN)
			max = hard = JM_TCACHE_PAGE_CLASS_BYTES / bi->size;
		bi->tcache_max = max;
		bi->tcache_hard_max = hard > max ? hard : max;
	}

	unsigned bin = 0;
	for (size_t q = 0; q <= (1024 >> JM_LG_QUANTUM); q++) {
		size_t size = q << JM_LG_QUANTUM;
		while (jm__bin_info[bin].size < size)
			bin++;
		__atomic_store_n(&jm__size2bin_tab[q], (uint8_t)bin, __ATOMIC_RELAXED);
	}
	bin = 0;
	for (size_t q = 0; q <= (JM_SMALL_MAX >> JM_LG_BIG_STEP); q++) {
		size_t size = q << JM_LG_BIG_STEP;
		while (jm__bin_info[bin].size < size)
			bin++;
		__atomic_store_n(&jm__size2bin_big[q], (uint8_t)bin, __ATOMIC_RELAXED);
		/* Every class above 1 KiB a multiple of the step. */
		if (size > 1024 && jm__bin_info[bin].size % (1u << JM_LG_BIG_STEP) != 0)
			jm__fatal("class %u not a multiple of the table's step", bin);
	}
	/* Sizes up to 8 (class 0) go to the always empty row: malloc's
	 * fast path pops none of class 0's regions (internal.h). */
	for (size_t size = 0; size <= JM_SIZE_DIRECT_MAX; size++)
		__atomic_store_n(&jm__size2tbin_direct[size], (uint16_t)(size <= 8 ? JM_TBIN_EMPTY :
		    jm__size2bin(size) * sizeof(struct jmstat_tcache_bin)), __ATOMIC_RELAXED);
}
