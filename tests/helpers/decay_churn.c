/*
 * decay_churn: what the decay leaves dirty in a process in steady churn of
 * large buffers, and after it stops (docs/purging.md, "Ages of merged
 * runs"). A live set of LIVE_MIB in buffers of 4097 B to 1 MiB (an
 * octave of 4 KiB to 1 MiB, then a size uniform in it; one byte written
 * a page) is churned: a random buffer freed, one of a new random size
 * allocated, RATE times a second (0: as fast as it goes) for CHURN_MS;
 * then the process makes no allocator call for IDLE_MS. Every SAMPLE_MS
 * it prints a line
 *
 *   t_ms phase dirty_kib purged_kib npurge rss_kib minflt old_kib old_res_kib
 *
 * with the arenas' dirty and purged bytes and madvise calls summed from
 * its own stats segment (-1 without one: another allocator), its RSS and
 * its minor page faults so far, the pages it freed more than AGE_MS ago
 * and has not had back since (the pages wholly inside the buffers it
 * freed, and none of a buffer it has now), and of those the resident
 * ones (mincore).
 *
 * Usage: decay_churn [LIVE_MIB [CHURN_MS [IDLE_MS [RATE [SAMPLE_MS [SEED [AGE_MS]]]]]]]
 * (defaults 64 2000 1000 0 50 1 500)
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "jmstat.h"
#include "heapwork.h"
#include "xorshift.h"

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t pick(uint64_t *s)
{
	/* about log-uniform: an octave of 4 KiB to 1 MiB, then uniform in it */
	unsigned lg = 12 + (unsigned)(rnd(s) % 8);
	size_t n = ((size_t)1 << lg) + (size_t)(rnd(s) % ((size_t)1 << lg));
	return n < 4097 ? 4097 : n > (1u << 20) ? (1u << 20) : n;
}

/* The pages the program freed and has not had back since, by the time
 * it freed them: an open-addressing table of page numbers (mapped, not
 * allocated), 0 for a page in use again. */
#define TBITS 20
static uint64_t *tkey, *tval;
static uint64_t *slot(uint64_t pg)
{
	uint64_t h = (pg * 0x9E3779B97F4A7C15ULL) >> (64 - TBITS);
	while (tkey[h] != 0 && tkey[h] != pg)
		h = (h + 1) & ((1u << TBITS) - 1);
	tkey[h] = pg;
	return &tval[h];
}

/* Pages wholly inside [p, p + n): freed at t, or (t 0) in use again. */
static void mark(void *p, size_t n, uint64_t t)
{
	uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, e = ((uintptr_t)p + n) & ~(uintptr_t)4095;
	if (t == 0) {   /* every page it touches */
		a = (uintptr_t)p & ~(uintptr_t)4095;
		e = ((uintptr_t)p + n + 4095) & ~(uintptr_t)4095;
	}
	for (; a < e; a += 4096)
		*slot(a >> 12) = t;
}

/* Pages freed more than age_ms ago and not had back since, and of them
 * the resident ones (mincore), KiB. */
static void old_pages(uint64_t now, uint64_t age_ms, long long *old, long long *res)
{
	*old = *res = 0;
	for (size_t h = 0; h < (1u << TBITS); h++) {
		if (tkey[h] == 0 || tval[h] == 0 || now - tval[h] <= age_ms)
			continue;
		*old += 4;
		unsigned char v = 0;
		if (mincore((void *)(uintptr_t)(tkey[h] << 12), 4096, &v) == 0 && (v & 1))
			*res += 4;
	}
}

static uint64_t g_age_ms;

static void touch(char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 4096)
		p[i] = 1;
	p[n - 1] = 1;
}

/* dirty, purged (KiB) and npurge summed over the arenas; -1 without a
 * segment. */
static void seg_read(long long *dirty, long long *purged, long long *npurge)
{
	const char *dir = getenv("JMALLOC_STATS_DIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/%s%d%s", dir && *dir ? dir : "/dev/shm",
	    JMSTAT_FILE_PREFIX, (int)getpid(), JMSTAT_FILE_SUFFIX);
	*dirty = *purged = *npurge = -1;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	struct jmstat_header h;
	if (pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) && h.magic == JMSTAT_MAGIC &&
	    h.version == JMSTAT_VERSION) {
		*dirty = *purged = *npurge = 0;
		for (uint32_t i = 0; i < h.narenas; i++) {
			struct jmstat_arena a;
			if (pread(fd, &a, sizeof(a), (off_t)(h.arena_off + (uint64_t)i * h.arena_size)) !=
			    (ssize_t)sizeof(a))
				continue;
			*dirty += (long long)(a.dirty >> 10);
			*purged += (long long)(a.purged >> 10);
			*npurge += (long long)a.npurge;
		}
	}
	close(fd);
}

static void sample(uint64_t t0, const char *phase)
{
	long long dirty, purged, npurge;
	seg_read(&dirty, &purged, &npurge);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	long long old, res;
	old_pages(now_ms(), g_age_ms, &old, &res);
	printf("%llu %s %lld %lld %lld %ld %ld %lld %lld\n", (unsigned long long)(now_ms() - t0),
	    phase, dirty, purged, npurge, rss_kib(), ru.ru_minflt, old, res);
	fflush(stdout);
}

/* Slot i's new buffer, of a random size: written a byte a page, its
 * pages in use (again). False without memory. */
static bool take(char **v, size_t *sz, size_t i, uint64_t *s)
{
	sz[i] = pick(s);
	v[i] = malloc(sz[i]);
	if (!v[i])
		return false;
	touch(v[i], sz[i]);
	mark(v[i], sz[i], 0);
	return true;
}

int main(int argc, char **argv)
{
	size_t live = (size_t)(argc > 1 ? atol(argv[1]) : 64) << 20;
	uint64_t churn_ms = argc > 2 ? (uint64_t)atol(argv[2]) : 2000;
	uint64_t idle_ms = argc > 3 ? (uint64_t)atol(argv[3]) : 1000;
	long rate = argc > 4 ? atol(argv[4]) : 0;
	uint64_t every = argc > 5 ? (uint64_t)atol(argv[5]) : 50;
	uint64_t s = argc > 6 ? (uint64_t)atoll(argv[6]) : 1;
	g_age_ms = argc > 7 ? (uint64_t)atol(argv[7]) : 500;
	tkey = mmap(NULL, (8u << TBITS), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tval = mmap(NULL, (8u << TBITS), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (tkey == MAP_FAILED || tval == MAP_FAILED)
		return 1;
	if (s == 0)
		s = 1;
	/* the mean size: 1.5 x the mean octave's start */
	size_t mean = 3 * (((size_t)1 << 20) - 4096) / 2 / 8;
	size_t n = live / mean;
	char **v = calloc(n, sizeof(*v));
	size_t *sz = calloc(n, sizeof(*sz));
	if (!v || !sz)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (!take(v, sz, i, &s))
			return 1;
	uint64_t t0 = now_ms(), next = t0;
	uint64_t ops = 0;
	sample(t0, "churn");
	next += every;
	for (;;) {
		uint64_t t = now_ms();
		if (t >= next) {
			sample(t0, "churn");
			next += every;
		}
		if (t - t0 >= churn_ms)
			break;
		if (rate > 0 && ops >= (uint64_t)rate * (t - t0) / 1000) {
			struct timespec ts = { 0, 200000 };
			nanosleep(&ts, NULL);
			continue;
		}
		size_t i = (size_t)(rnd(&s) % n);
		mark(v[i], sz[i], now_ms());
		free(v[i]);
		if (!take(v, sz, i, &s))
			return 1;
		ops++;
	}
	fprintf(stderr, "ops %llu buffers %zu\n", (unsigned long long)ops, n);
	uint64_t end = now_ms() + idle_ms;
	while (now_ms() < end) {
		struct timespec ts = { (time_t)(every / 1000), (long)(every % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		sample(t0, "idle");
	}
	return 0;
}
