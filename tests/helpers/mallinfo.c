/*
 * mallinfo: glibc's tuning and introspection calls under the allocator
 * (liballoc/compat.c). mallinfo2's in-use bytes (uordblks + hblkhd) grow by
 * what the program holds in small, large and huge regions and come back
 * when it frees them; malloc_trim gives the freed pages back at once (the
 * resident set falls by most of them; 1 returned) when more than 4 MiB, or
 * its pad, are dirty, and leaves fewer to the decay (0 returned); mallopt accepts a
 * parameter; malloc_info writes an XML document; malloc_stats writes to
 * stderr. A trim that changes the arena rows of the stats segment changes
 * their sequence numbers too (jmstatd does not read rows again while their
 * sum is unchanged: it showed the dirty bytes of before the trim). Prints
 * "ok" and exits 0; a line saying what failed and 1 otherwise.
 */
#include <fcntl.h>
#include <jmstat.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;
	if (f == NULL || fscanf(f, "%ld %ld", &size, &res) != 2)
		res = -1;
	if (f)
		fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static size_t inuse(void)
{
	struct mallinfo2 m = mallinfo2();
	return m.uordblks + m.hblkhd;
}

/* The sum of this process's arena rows' sequence numbers and of their
 * dirty bytes, from its stats segment ($JMALLOC_STATS_DIR); false if it
 * cannot be read. */
static int segment_rows(uint64_t *seqs, uint64_t *dirty)
{
	char path[512];
	snprintf(path, sizeof path, "%s/" JMSTAT_FILE_PREFIX "%d" JMSTAT_FILE_SUFFIX,
	    getenv("JMALLOC_STATS_DIR"), (int)getpid());
	int fd = open(path, O_RDONLY);
	struct jmstat_header h;
	int ok = fd >= 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h;
	*seqs = *dirty = 0;
	for (uint32_t i = 0; ok && i < h.narenas; i++) {
		struct jmstat_arena a;
		ok = pread(fd, &a, sizeof a, (off_t)(h.arena_off + i * sizeof a)) == (ssize_t)sizeof a;
		*seqs += a.seq;
		*dirty += a.dirty;
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

/* What malloc_trim(0) returned for 5 MiB of large regions written and
 * freed (purged), then for 2 MiB (left), and the arena rows' dirty bytes
 * before each. */
struct leave {
	uint64_t dirty_big, dirty;
	int trimmed_big, trimmed;
};

static uint64_t write_free(int n)
{
	void *r[32];
	uint64_t seqs, dirty = 0;
	for (int i = 0; i < n; i++)
		memset(r[i] = malloc(256 << 10), 3, 256 << 10);
	for (int i = 0; i < n; i++)
		free(r[i]);
	return segment_rows(&seqs, &dirty) ? dirty : 0;
}

static void *leave_them(void *arg)
{
	struct leave *l = arg;
	l->dirty_big = write_free(20);
	l->trimmed_big = malloc_trim(0);
	l->dirty = write_free(8);
	l->trimmed = malloc_trim(0);
	return NULL;
}

#define N 3000

int main(void)
{
	static void *p[N];
	size_t want = 0, base = inuse();
	for (int i = 0; i < N; i++) {
		size_t n = i % 3 == 0 ? 100 : i % 3 == 1 ? 20000 : 3000;
		if (i % 1000 == 0)
			n = 4 << 20;
		p[i] = malloc(n);
		memset(p[i], 1, n);
		want += n;
	}
	size_t held = inuse() - base;
	if (held < want || held > want + want / 4 + (1 << 20)) {
		printf("mallinfo2: %zu bytes more in use for %zu bytes held\n", held, want);
		return 1;
	}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	int old_inuse = mallinfo().uordblks; /* deprecated, still linked */
#pragma GCC diagnostic pop
	if (mallinfo2().arena == 0 || old_inuse <= 0) {
		printf("mallinfo2: no arena bytes, or mallinfo: none in use\n");
		return 1;
	}
	if (mallopt(M_ARENA_MAX, 2) != 1) {
		printf("mallopt(M_ARENA_MAX) refused\n");
		return 1;
	}
	/* A big block of large regions freed: dirty until decay or a trim. */
	static void *q[2048];
	for (int i = 0; i < 2048; i++) {
		q[i] = malloc(24 << 10);
		memset(q[i], 2, 24 << 10);
	}
	for (int i = 0; i < N; i++)
		free(p[i]);
	for (int i = 0; i < 2048; i++)
		free(q[i]);
	/* What the thread's cache keeps counts as in use, as glibc counts its
	 * tcache's chunks: up to 512 KiB per large size of 4 to 8 pages
	 * (the 20000- and 24576-byte ones here), and some small regions. */
	size_t left = inuse();
	if (left > base + (3 << 20)) {
		printf("mallinfo2: %zu bytes in use after the frees, %zu before the mallocs\n", left, base);
		return 1;
	}
	long before = rss_kib();
	int trimmed = malloc_trim(0);
	long after = rss_kib();
	if (trimmed != 1 || before - after < 32 * 1024) {
		printf("malloc_trim returned %d, resident %ld -> %ld KiB\n", trimmed, before, after);
		return 1;
	}
	/* Dirty pages of large runs only (the huge regions' kept pages were
	 * purged above): the trim purges them under the arenas' locks. */
	for (int i = 0; i < 2048; i++)
		q[i] = malloc(24 << 10);
	for (int i = 0; i < 2048; i++)
		free(q[i]);
	uint64_t seqs_before, dirty_before, seqs_after, dirty_after;
	if (!segment_rows(&seqs_before, &dirty_before) || dirty_before == 0 || malloc_trim(0) != 1 ||
	    !segment_rows(&seqs_after, &dirty_after) || dirty_after >= dirty_before ||
	    seqs_after == seqs_before) {
		printf("malloc_trim: arena rows' dirty %llu -> %llu, their seqs' sum %llu -> %llu\n",
		    (unsigned long long)dirty_before, (unsigned long long)dirty_after,
		    (unsigned long long)seqs_before, (unsigned long long)seqs_after);
		return 1;
	}
	/* A trim leaves up to 4 MiB dirty in all, or pad bytes if more, to
	 * the decay: programs that call it after every request made it
	 * purge the few pages each request freed, and fault them in again.
	 * The 4 MiB are the arena rows' dirty count when the trim judges,
	 * which can be more than what was written and freed: a trim first
	 * gives back the lists the calling thread's cache did not use (every
	 * second call; which one, the heap profile's random samples decide),
	 * and right after a purge a region given back next to a clean free
	 * run counts that run's pages too (the merged run's dirty prefix,
	 * free_coalesce; docs/purging.md). 2 MiB freed by the main thread
	 * were so judged as 2.0 to 4.9 MiB, and trimmed, in 3-5 runs in 100;
	 * from a thread with an empty cache, up to 3.6 MiB (regions the main
	 * thread's cache gave back meanwhile). So from a thread whose cache
	 * holds nothing, after a trim of 5 MiB has purged every arena, and
	 * the count the trim reads checked too. */
	struct leave l = {0};
	pthread_t t;
	if (pthread_create(&t, NULL, leave_them, &l) != 0 || pthread_join(t, NULL) != 0) {
		printf("pthread_create failed\n");
		return 1;
	}
	if (l.dirty_big <= (4 << 20) || l.trimmed_big != 1) {
		printf("malloc_trim with %llu bytes dirty returned %d (should purge them)\n",
		    (unsigned long long)l.dirty_big, l.trimmed_big);
		return 1;
	}
	if (l.dirty < (1 << 20) || l.dirty > (4 << 20) || l.trimmed != 0) {
		printf("malloc_trim with %llu bytes dirty returned %d (should leave them)\n",
		    (unsigned long long)l.dirty, l.trimmed);
		return 1;
	}
	static void *r[32];
	for (int i = 0; i < 32; i++)
		memset(r[i] = malloc(256 << 10), 4, 256 << 10);
	for (int i = 0; i < 32; i++)
		free(r[i]);
	if ((trimmed = malloc_trim((size_t)64 << 20)) != 0 || malloc_trim(0) != 1 ||
	    !segment_rows(&seqs_after, &dirty_after) || dirty_after > (1 << 20)) {
		printf("malloc_trim of 8 MiB dirty: pad 64 MiB returned %d, pad 0 left %llu bytes\n",
		    trimmed, (unsigned long long)dirty_after);
		return 1;
	}
	/* A thread that stops allocating and calls malloc_trim gets its
	 * cache back: each call counts as half a look of the cache's GC, and
	 * a list unused since the last look gives back half of what it
	 * holds. The GC ran only on the cache's slow path (fills, flushes),
	 * which full lists seldom take: they stayed full. Regions in the
	 * cache count as in use (glibc counts its tcache's so). */
	static void *small[2000];
	/* The lists of the allocations above given back first: a thread
	 * whose heap grows gives back its unused lists, so that when the
	 * purger had just purged the pages the 16 KiB regions below take,
	 * the 24 KiB list (about 500 KiB) went back between the two counts,
	 * and "cached" read 26-120 KiB (1 run in 15 to 20). */
	for (int i = 0; i < 1000; i++)
		malloc_trim(0);
	size_t start = inuse();
	for (int i = 0; i < 32; i++)
		memset(r[i] = malloc(16 << 10), 5, 16 << 10);
	for (int i = 0; i < 2000; i++)
		memset(small[i] = malloc(64), 6, 64);
	for (int i = 0; i < 32; i++)
		free(r[i]);
	for (int i = 0; i < 2000; i++)
		free(small[i]);
	size_t cached = inuse() - start;
	const char *conf = getenv("JMALLOC_CONF");
	int has_cache = conf == NULL || strstr(conf, "tcache:0") == NULL;
	for (int i = 0; i < 1000; i++)
		malloc_trim(0);
	size_t now = inuse();
	if ((has_cache && cached < (128 << 10)) || now > start + (64 << 10)) {
		printf("a thread's cache: %zu bytes cached after its frees, %zd left after "
		    "1000 malloc_trim calls\n", cached, (ssize_t)(now - start));
		return 1;
	}
	char *doc = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&doc, &len);
	if (f == NULL || malloc_info(0, f) != 0) {
		printf("malloc_info failed\n");
		return 1;
	}
	fclose(f);
	if (strncmp(doc, "<malloc", 7) != 0 || strstr(doc, "</malloc>") == NULL) {
		printf("malloc_info wrote: %s\n", doc);
		return 1;
	}
	free(doc);
	malloc_stats();
	puts("ok");
	return 0;
}
