/*
 * seg_poison: sets every counter of a live segment to 2^64 - 1, as its
 * own process (or user) may: the rows of every arena and bin, the thread
 * caches of the threads in use, and every used site row with its bytes
 * per size class. Each row's seq is moved on by two (stable, and changed,
 * so that readers read it again), and the header's generation by one, as
 * the allocator moves it after its rows (jmstat.h). For tests/sites/huge_counts.test.sh and
 * tests/alerts/huge_counts.test.sh.
 *
 *   seg_poison PATH [VALUE]   prints the number of site rows poisoned
 *
 * With VALUE (a number, 0x for hex), every 64-bit word of the arena and
 * bin rows after their seq is set to VALUE instead (2^63: the sum of two
 * arenas' wraps to 0), and the thread and site rows are left as they are
 * (tests/daemon/own_sums.test.sh).
 */
#include "jmstat.h"
#include "segmap.h"

#include <fcntl.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: seg_poison PATH [VALUE]\n");
		return 2;
	}
	uint64_t value = argc == 3 ? strtoull(argv[2], NULL, 0) : 0;
	size_t size;
	char *m = seg_map_rw(argv[1], &size);
	if (!m)
		return 1;
	struct jmstat_header *h = (void *)m;
	unsigned sites = 0;
	for (unsigned a = 0; a < h->narenas; a++) {
		char *r = m + h->arena_off + (size_t)a * h->arena_size;
		if (argc == 3)
			for (unsigned w = 8; w + 8 <= h->arena_size; w += 8)
				memcpy(r + w, &value, 8);
		else
			memset(r + 8, 0xff, h->arena_size - 8);
		*(uint32_t *)r += 2;
	}
	for (unsigned b = 0; b < h->narenas * h->nbins; b++) {
		char *r = m + h->bin_off + (size_t)b * h->bin_size;
		if (argc == 3)
			for (unsigned w = 8; w + 8 <= h->bin_size; w += 8)
				memcpy(r + w, &value, 8);
		else
			memset(r + 8, 0xff, h->bin_size - 8);
		*(uint32_t *)r += 2;
	}
	if (argc == 3) {
		jmstat_gen_bump(h);
		printf("0\n");
		return 0;
	}
	for (unsigned t = 0; t < h->nthreads_max; t++) {
		char *row = m + h->thread_off + (size_t)t * h->thread_stride;
		if (!((struct jmstat_thread *)row)->in_use)
			continue;
		memset(row + offsetof(struct jmstat_thread, large_cached), 0xff, sizeof(uint64_t));
		memset(row + h->thread_size, 0xff, h->thread_stride - h->thread_size);
	}
	for (unsigned s = 0; s < h->nsites_max; s++) {
		struct jmstat_site *si = (void *)(m + h->site_off + (size_t)s * h->site_stride);
		if (si->nframes == 0)
			continue;
		memset(&si->live_bytes, 0xff, 5 * sizeof(uint64_t));
		memset((char *)si + h->site_size, 0xff, h->site_stride - h->site_size);
		si->seq += 2;
		sites++;
	}
	jmstat_gen_bump(h);
	printf("%u\n", sites);
	return 0;
}
