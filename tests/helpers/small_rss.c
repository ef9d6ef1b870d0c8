/* What a small process pays (tests/preload/small_rss.test.sh): prints
 * "ANON SEGMENT" in KiB, the process's resident anonymous pages and its
 * stats segment's resident pages, read from /proc/self/smaps, which walks
 * the page tables (exact, where ru_maxrss and /proc's counters are
 * approximate).
 *   small_rss small    a few objects of 12 sizes and a second thread that
 *                      allocates and frees: the allocator's fixed cost
 *   small_rss phases   1600 objects of 16, 64, 256 bytes, then 1 KiB,
 *                      allocated and freed 50 times each (glibc-simple's
 *                      pattern): prints the growth of ANON from before the
 *                      first phase to the 1 KiB phase, 1600 objects live */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void resident(long *anon, long *seg)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in_seg = 0;
	long v;
	*anon = *seg = 0;
	if (f == NULL)
		exit(3);
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in_seg = strstr(line, "/jmalloc.") && strstr(line, ".stats");
			continue;
		}
		if (sscanf(line, "Anonymous: %ld kB", &v) == 1)
			*anon += v;
		else if (in_seg && sscanf(line, "Rss: %ld kB", &v) == 1)
			*seg += v;
	}
	fclose(f);
}

static void *worker(void *arg)
{
	void *p[64];
	for (int r = 0; r < 4; r++) {
		for (int i = 0; i < 64; i++)
			p[i] = malloc(24 + (size_t)(i % 3) * 40);
		for (int i = 0; i < 64; i++)
			free(p[i]);
	}
	return arg;
}

static void *a[1600];

int main(int argc, char **argv)
{
	long anon, seg, anon0, seg0;
	if (argc > 1 && strcmp(argv[1], "phases") == 0) {
		static const size_t sizes[] = { 16, 64, 256, 1024 };
		free(malloc(1));
		resident(&anon0, &seg0);
		for (int s = 0; s < 4; s++)
			for (int r = 0; r < 50; r++) {
				for (int i = 0; i < 1600; i++) {
					a[i] = malloc(sizes[s]);
					*(int *)a[i] = i;
				}
				if (s == 3 && r == 49)
					resident(&anon, &seg);
				for (int i = 0; i < 1600; i++)
					free(a[i]);
			}
		printf("%ld %ld\n", anon - anon0, seg);
		return 0;
	}
	static const size_t sizes[] = { 8, 24, 40, 64, 96, 128, 200, 256, 400, 512, 1000, 3000 };
	static void *keep[12][20];
	for (int s = 0; s < 12; s++)
		for (int i = 0; i < 20; i++) {
			keep[s][i] = malloc(sizes[s]);
			memset(keep[s][i], 1, sizes[s]);
		}
	pthread_t t;
	if (pthread_create(&t, NULL, worker, NULL) != 0 || pthread_join(t, NULL) != 0)
		return 2;
	resident(&anon, &seg);
	printf("%ld %ld\n", anon, seg);
	for (int s = 0; s < 12; s++)
		for (int i = 0; i < 20; i++)
			free(keep[s][i]);
	return 0;
}
