/*
 * idle_return.c: how much memory a process that went quiet gives back
 * (docs/purging.md). Two threads allocate 256 MiB in all of mixed sizes
 * (16 B..1 MiB, the log of the size uniform, every page written), then
 * free 95% of the objects (every one but each 20th); from then on the
 * process makes no allocator call, and prints its RSS above its start
 * (KiB, read from /proc/self/statm without the allocator) just after the
 * frees and at +2, +12 and +25 s (times multiplied by TIME_SCALE):
 *
 *   freed KIB
 *   at2 KIB
 *   at12 KIB
 *   at25 KIB
 *
 * Usage: idle-return [TIME_SCALE]. Run by tests/bench/run.sh beside the
 * workloads (not timed; its output depends on the allocator).
 */
#include "bench.h"

#include <fcntl.h>
#include <time.h>

#include "../helpers/heapwork.h"

static void sleep_until(const struct timespec *t0, double s)
{
	struct timespec t = *t0;
	t.tv_sec += (time_t)s;
	t.tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) != 0)
		;
}

struct part {
	uint64_t seed;
	struct blocks b;
};

#define PART_BYTES ((size_t)128 << 20)
#define PART_MAX (1u << 20)

static void *fill(void *arg)
{
	struct part *p = arg;
	size_t got = 0;
	while (got < PART_BYTES && p->b.n < PART_MAX) {
		unsigned lg = 4 + (unsigned)(rng_next(&p->seed) % 17);
		size_t sz = ((size_t)1 << lg) + (size_t)(rng_next(&p->seed) % ((size_t)1 << lg));
		if (sz > (1u << 20))
			sz = 1u << 20;
		char *b = xmalloc(sz);
		for (size_t off = 0; off < sz; off += 4096)
			b[off] = 1;
		b[sz - 1] = 1;
		p->b.v[p->b.n++] = b;
		got += sz;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	double ts = argc > 1 ? atof(argv[1]) : 1.0;
	if (!(ts > 0))
		ts = 1.0;
	setvbuf(stdout, NULL, _IONBF, 0);
	long start = rss_kib();
	struct part p[2];
	for (int i = 0; i < 2; i++) {
		p[i].seed = rng_seed((uint64_t)i + 40);
		p[i].b.v = xmalloc(PART_MAX * sizeof(void *));
		p[i].b.n = 0;
	}
	two_threads(fill, &p[0], &p[1]);
	two_threads(free_most, &p[0].b, &p[1].b);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* No allocator call from here on. */
	char line[64];
	int n = snprintf(line, sizeof(line), "freed %ld\n", rss_kib() - start);
	if (write(1, line, (size_t)n) < 0)
		return 1;
	static const double at[] = { 2, 12, 25 };
	for (int i = 0; i < 3; i++) {
		sleep_until(&t0, at[i] * ts);
		n = snprintf(line, sizeof(line), "at%d %ld\n", (int)at[i], rss_kib() - start);
		if (write(1, line, (size_t)n) < 0)
			return 1;
	}
	return 0;
}
