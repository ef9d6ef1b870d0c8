/*
 * sizeclass.c: the small size classes and their runs.
 *
 * Classes are 16..128 bytes by 16, then four per doubling up to 14 KiB
 * (35 classes). Each class's run is the number of pages (at most
 * JM_RUN_MAXPAGES, at most JM_RUN_MAXREGS regions) that wastes the smallest
 * fraction of the run in its tail. Sizes above JM_SMALL_MAX are large (whole
 * pages inside a chunk) up to JM_LARGE_MAX, and huge beyond.
 */
#include "internal.h"

struct jm_bin_info jm__bin_info[JM_NBINS];
uint8_t jm__size2bin_tab[(JM_SMALL_MAX >> JM_LG_QUANTUM) + 1];

static void choose_run(struct jm_bin_info *bi)
{
	unsigned best_pages = 1;
	double best_waste = 2.0;
	for (unsigned p = 1; p <= JM_RUN_MAXPAGES; p++) {
		size_t run = (size_t)p << JM_LG_PAGE;
		size_t regs = run / bi->size;
		if (regs == 0)
			continue;
		if (regs > JM_RUN_MAXREGS)
			break;
		double waste = (double)(run - regs * bi->size) / (double)run;
		/* Prefer the smallest run within 1/64 of the best. */
		if (waste + 1.0 / 64 < best_waste) {
			best_waste = waste;
			best_pages = p;
		}
	}
	bi->run_pages = best_pages;
	bi->regs = (uint32_t)(((size_t)best_pages << JM_LG_PAGE) / bi->size);
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
		/* Cache up to twice a run, at most 200 regions and 64 KiB. */
		uint32_t max = bi->regs * 2;
		if (max > 200)
			max = 200;
		if (max > 65536 / bi->size)
			max = 65536 / bi->size;
		if (max < 4)
			max = 4;
		bi->tcache_max = max;
		bi->tcache_fill = max / 2 ? max / 2 : 1;
	}

	unsigned bin = 0;
	for (size_t q = 0; q <= (JM_SMALL_MAX >> JM_LG_QUANTUM); q++) {
		size_t size = q << JM_LG_QUANTUM;
		while (jm__bin_info[bin].size < size)
			bin++;
		jm__size2bin_tab[q] = (uint8_t)bin;
	}
}
