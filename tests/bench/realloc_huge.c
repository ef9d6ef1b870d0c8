/*
 * realloc-huge: one buffer per thread grown by realloc to a hundred MiB
 * and more, 64 KiB at a time, each new page written, as stress-ng's
 * --bigheap does and as programs that read a whole file or build a big
 * array in one growing block do. glibc's malloc serves such a block with
 * its own mapping and grows it with mremap: the pages stay where they
 * are in memory, never copied, so its peak RSS is the buffer's size and
 * its page faults one per page. An allocator that moves the block by
 * copying holds the old and the new copy at once at each move (peak RSS
 * up to twice the buffer) and faults the new copy in.
 *
 * Each thread grows its buffer to 64 MiB, 1 MiB at a time (a page marker
 * checked after each move, all of them at the end), frees it and starts
 * again, until it has appended 256 MiB x SCALE / threads (2 rounds each
 * at 2 threads). Found with stress-ng --bigheap (jmalloc 1.8 x glibc's
 * peak RSS, 3.6 x its faults, 4.5 x its CPU time). Two causes, measured
 * here at 2 threads (jmtime, 3 runs): a huge region the heap profile
 * sampled was moved by a copy when it outgrew its room instead of being
 * grown by mremap (CPU 0.26-0.29 s against glibc's 0.13-0.14; fixed on
 * 2026-12-04: 0.17 against 0.17-0.18), and the freed buffer of the last
 * round stays resident beside the one growing now, whose new pages come
 * from mremap, never from the kept regions (peak RSS 255 MiB against
 * glibc's 101-129, with or without sampling).
 */
#include "bench_main.h"

#define STEP ((size_t)1 << 20)
#define FINAL ((size_t)64 << 20)

struct worker {
	long bytes;          /* bytes to append in all */
	unsigned salt;
};

/* The marker of page k of a buffer: its first byte. */
static unsigned char marker(unsigned salt, size_t round, size_t k)
{
	return (unsigned char)(salt * 31 + round * 7 + k);
}

static void check(const unsigned char *p, size_t len, unsigned salt, size_t round)
{
	for (size_t k = 0; k * 4096 < len; k++)
		BENCH_CHECK(p[k * 4096] == marker(salt, round, k),
			    "buffer %p: page %zu lost in a move", (const void *)p, k);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	long left = w->bytes;
	for (size_t round = 0; left > 0; round++) {
		unsigned char *p = NULL;
		size_t len = 0;
		while (len < FINAL && left > 0) {
			unsigned char *q = realloc(p, len + STEP);
			BENCH_CHECK(q != NULL, "realloc(%zu) returned NULL", len + STEP);
			for (size_t k = len; k < len + STEP; k += 4096)
				q[k] = marker(w->salt, round, k / 4096);
			/* After a move, the first and the last page it had. */
			if (q != p && len) {
				size_t last = len / 4096 - 1;
				BENCH_CHECK(q[0] == marker(w->salt, round, 0) &&
					    q[last * 4096] == marker(w->salt, round, last),
					    "buffer %p: a page lost in a move", (void *)q);
			}
			p = q;
			len += STEP;
			left -= (long)STEP;
		}
		check(p, len, w->salt, round);
		free(p);
	}
	return NULL;
}

static int bench_main(int threads, double scale)
{
	struct worker *w = xmalloc(sizeof *w * (size_t)threads);
	for (int t = 0; t < threads; t++) {
		w[t].bytes = scaled(256.0 * (1 << 20), scale, (long)STEP) / threads;
		w[t].salt = (unsigned)t + 1;
	}
	run_threads(threads, work, w, sizeof *w);
	free(w);
	printf("realloc-huge: ok, %d threads\n", threads);
	return 0;
}
