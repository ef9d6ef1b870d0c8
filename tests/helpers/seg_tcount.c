/*
 * seg_tcount: sets the count of every thread cache's row (struct
 * jmstat_tcache_bin's ncached_less_max) of the threads in use in a live
 * segment to VALUE, once, as another process of its owner may. For
 * tests/preload/tcache_count.test.sh.
 *
 *   seg_tcount PATH VALUE   prints the number of rows written
 */
#include "jmstat.h"
#include "segmap.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: seg_tcount PATH VALUE\n");
		return 2;
	}
	uint32_t value = (uint32_t)strtoll(argv[2], NULL, 0);
	size_t size;
	char *m = seg_map_rw(argv[1], &size);
	if (!m)
		return 1;
	struct jmstat_header *h = (void *)m;
	unsigned n = 0;
	for (unsigned t = 0; t < h->nthreads_max; t++) {
		char *row = m + h->thread_off + (size_t)t * h->thread_stride;
		if (row + h->thread_stride > m + size) {
			fprintf(stderr, "seg_tcount: row %u past the file\n", t);
			return 1;
		}
		if (!((struct jmstat_thread *)row)->in_use)
			continue;
		struct jmstat_tcache_bin *tb = (void *)(row + h->thread_size);
		for (unsigned b = 0; b < h->nbins; b++, n++)
			memcpy(&tb[b].ncached_less_max, &value, sizeof(value));
	}
	printf("%u\n", n);
	return 0;
}
