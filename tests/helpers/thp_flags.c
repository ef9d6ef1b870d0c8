/*
 * thp_flags: the transparent-huge-page advice of the allocator's mappings
 * (the thp option), read from the VmFlags line of /proc/self/smaps of the
 * mapping that holds each block: "nh" is MADV_NOHUGEPAGE, "hg"
 * MADV_HUGEPAGE. Allocates a small block (a chunk), then 12 blocks of
 * 4 MiB (huge regions, 48 MiB in all: past the 32 MiB of a small heap),
 * each with a byte written, and prints one line a block:
 *   small FLAG
 *   huge I FLAG
 * FLAG is nh, hg or - (neither). Run under LD_PRELOAD.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *advice_of(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	if (f == NULL) {
		perror("/proc/self/smaps");
		exit(2);
	}
	char line[512];
	unsigned long a = (unsigned long)p;
	int inside = 0;
	const char *r = NULL;
	while (r == NULL && fgets(line, sizeof line, f)) {
		unsigned long x, y;
		/* A mapping's first line; no field's name is hex digits and
		 * a '-'. */
		if (sscanf(line, "%lx-%lx ", &x, &y) == 2) {
			inside = a >= x && a < y;
			continue;
		}
		if (inside && strncmp(line, "VmFlags:", 8) == 0)
			r = strstr(line, " nh") ? "nh" : strstr(line, " hg") ? "hg" : "-";
	}
	fclose(f);
	if (r == NULL) {
		fprintf(stderr, "no mapping holds %p\n", p);
		exit(2);
	}
	return r;
}

int main(void)
{
	char *small = malloc(100);
	if (small == NULL)
		return 2;
	small[0] = 1;
	printf("small %s\n", advice_of(small));
	for (int i = 0; i < 12; i++) {
		char *big = malloc((size_t)4 << 20);
		if (big == NULL)
			return 2;
		big[0] = 1;
		printf("huge %d %s\n", i, advice_of(big));
	}
	return 0;
}
