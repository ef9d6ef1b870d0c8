/*
 * realloc_sampled: grows one buffer by realloc 1 MiB at a time to 96 MiB
 * (grow_buffer), a marker written in each new page and checked after each
 * move and at the end, frees it, and prints how much its peak RSS grew
 * meanwhile, in KiB: "peak_growth_kib N". With an argument, "hold", it
 * then grows another to 96 MiB the same way, prints "ready" and keeps it
 * until its standard input ends. Run by tests/preload/realloc_sampled.test.sh
 * with JMALLOC_CONF=prof_sample:1 (every allocation sampled): a sampled
 * huge region must grow as any other does (mremap: one copy of its pages
 * in memory), not be copied into a new region at each move (two copies
 * at once: about 1.8 x the buffer), and its site must still be credited
 * with about its size. Exits 1 if a marker is wrong.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define STEP ((size_t)1 << 20)
#define FINAL ((size_t)96 << 20)

static long peak_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static unsigned char marker(size_t page)
{
	return (unsigned char)(page * 7 + 1);
}

static __attribute__((noinline)) unsigned char *grow_buffer(void)
{
	unsigned char *p = NULL;
	size_t len = 0;
	while (len < FINAL) {
		unsigned char *q = realloc(p, len + STEP);
		if (q == NULL) {
			printf("realloc(%zu) returned NULL\n", len + STEP);
			exit(1);
		}
		if (q != p && len && (q[0] != marker(0) || q[len - 4096] != marker(len / 4096 - 1))) {
			printf("a page lost in a move to %zu bytes\n", len + STEP);
			exit(1);
		}
		for (size_t k = len; k < len + STEP; k += 4096)
			q[k] = marker(k / 4096);
		p = q;
		len += STEP;
	}
	for (size_t k = 0; k < len; k += 4096)
		if (p[k] != marker(k / 4096)) {
			printf("page %zu lost\n", k / 4096);
			exit(1);
		}
	return p;
}

int main(int argc, char **argv)
{
	long before = peak_kib();
	unsigned char *p = grow_buffer();
	long grown = peak_kib() - before;
	free(p);
	printf("peak_growth_kib %ld\n", grown);
	if (argc > 1 && strcmp(argv[1], "hold") == 0) {
		p = grow_buffer();
		printf("ready\n");
		fflush(stdout);
		while (getchar() != EOF)
			;
		free(p);
	}
	return 0;
}
