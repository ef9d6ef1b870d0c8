/*
 * sizeclass.c: the small size classes and their runs.
 *
 * Classes are 16..128 bytes by 16, then four per doubling up to 14 KiB
 * (35 classes). Each class's run is the smallest number of pages that
 * its regions fill exactly. Sizes above JM_SMALL_MAX are large (whole
 * pages inside a chunk) up to JM_LARGE_MAX, and huge beyond.
 */
#include "internal.h"

struct jm_bin_info jm__bin_info[JM_NBINS];
uint8_t jm__size2bin_tab[(JM_SMALL_MAX >> JM_LG_QUANTUM) + 1];

/* Every class is 2^k times 1, 3, 5 or 7: a run of that many pages holds a
 * whole number of regions, with no tail (free() relies on this). */
static void choose_run(struct jm_bin_info *bi)
{
	for (unsigned p = 1; p <= JM_RUN_MAXPAGES; p++) {
		size_t run = (size_t)p << JM_LG_PAGE;
		if (run % bi->size == 0 && run / bi->size <= JM_RUN_MAXREGS) {
			bi->run_pages = p;
			bi->regs = (uint32_t)(run / bi->size);
			return;
		}
	}
	jm__fatal("no run without a tail for class %u", bi->size);
}

void jm__sizeclass_init(void)
{
	unsigned n = 0;
	for (uint32_t s = 16; s <= 128; s += 16)
		jm__bin_info[n++].size = s;
	for (uint32_t base = 128; n < JM_NBINS; base *= 2)
		for (uint32_t k = 1; k <= 4 && n < JM_NBINS; k++)
			jm__bin_info[n++].size = base + k * (base / 4);

	for (unsigned i = 0; i < JM_NBINS; i++) {
		struct jm_bin_info *bi = &jm__bin_info[i];
		choose_run(bi);
		bi->div_magic = (uint32_t)(((1ULL << 32) + bi->size - 1) / bi->size);
		/* A cache starts at up to twice a run (at most 64 regions and
		 * 32 KiB) and may grow to 4096 regions or 2 MiB, within the
		 * thread's budget (tcache.c). */
		uint32_t max = bi->regs * 2;
		if (max > 64)
			max = 64;
		if (max > 32768 / bi->size)
			max = 32768 / bi->size;
		if (max < 4)
			max = 4;
		bi->tcache_max = max;
		uint32_t hard = (2u << 20) / bi->size;
		if (hard > 4096)
			hard = 4096;
		bi->tcache_hard_max = hard > max ? hard : max;
	}

	unsigned bin = 0;
	for (size_t q = 0; q <= (JM_SMALL_MAX >> JM_LG_QUANTUM); q++) {
		size_t size = q << JM_LG_QUANTUM;
		while (jm__bin_info[bin].size < size)
			bin++;
		jm__size2bin_tab[q] = (uint8_t)bin;
	}
}
