/*
 * frag and alignmix: the probes of the same names (probes.c, session 18;
 * docs/programs.md, "Programs outside the bench"), as workloads. Both free
 * large regions most of whose pages were never written, so that the
 * pages an allocator takes as dirty are far more than those resident,
 * and both hold hundreds of MiB of freed pages at once: a dirty cap that
 * counts every freed page purged them in small pieces, one madvise each.
 *
 * frag (built without ALIGNMIX): 60000 slots; each step frees a random
 * slot's region (its first and last bytes checked) and, while the slot
 * is under the live bound, puts a new one there: 16 B..768 KiB, the log
 * of the size uniform (7 in 8 under 2 KiB), its first and last bytes
 * written, a quarter of them written whole. The live bound is 100, 25,
 * 100 and 50% of the slots by turns of 120000 steps: the program's live
 * set shrinks and grows again, over a heap of about 320 MiB (the probe
 * ran 750000 steps a turn, about 500 MiB, 4 s).
 *
 * alignmix (-DALIGNMIX=1): 20000 live posix_memalign regions of
 * alignments 64 B..64 KiB and 1 B..70 KB (3 in 4 under 3 KB), replaced
 * at random, 300000 times (the probe: 600000); the first 256 bytes of
 * each written (and checked before it is freed). The alignment is not
 * checked: Debian's libmimalloc2.0 returns some blocks of 512 or 1024
 * bytes asked aligned to 256 or 512 that are not (49 of 300000 in a
 * probe of this pattern), and the workload would fail under mimalloc
 * and leave the geometric means; aligned.c checks alignments (on sizes
 * that do not meet it).
 *
 * One thread (THREADS is ignored); SCALE multiplies the steps.
 */
#include "bench_main.h"

#ifndef ALIGNMIX
#define ALIGNMIX 0
#endif

static unsigned char mark(uint64_t tag, size_t size)
{
	return (unsigned char)(tag ^ size ^ (size >> 8));
}

static void frag(double scale)
{
	enum { N = 60000 };
	static unsigned char *slot[N];
	static uint32_t size[N];
	long phase = scaled(120000, scale, 2000);
	uint64_t rng = rng_seed(18);
	for (long i = 0; i < 4 * phase; i++) {
		long turn = i / phase;
		long live = turn == 1 ? N / 4 : turn == 3 ? N / 2 : N;
		size_t k = rng_range(&rng, 0, N - 1);
		if (slot[k]) {
			unsigned char m = mark(k, size[k]);
			BENCH_CHECK(slot[k][0] == m && slot[k][size[k] - 1] == m,
				    "region %p of %u bytes was overwritten", (void *)slot[k], size[k]);
			free(slot[k]);
			slot[k] = NULL;
		}
		if ((long)k >= live)
			continue;
		unsigned lg = (unsigned)rng_range(&rng, 4, 18);
		if (rng_next(&rng) % 8)
			lg = (unsigned)rng_range(&rng, 4, 10);
		size_t n = ((size_t)1 << lg) + (size_t)(rng_next(&rng) % ((size_t)1 << lg));
		slot[k] = xmalloc(n);
		size[k] = (uint32_t)n;
		if (rng_next(&rng) % 4 == 0)
			memset(slot[k], 1, n);
		slot[k][0] = slot[k][n - 1] = mark(k, n);
	}
	for (size_t k = 0; k < N; k++)
		free(slot[k]);
}

static void alignmix(double scale)
{
	enum { N = 20000, WRITTEN = 256 };
	static unsigned char *slot[N];
	static uint32_t size[N];
	long steps = scaled(300000, scale, 3000);
	uint64_t rng = rng_seed(19);
	for (long i = 0; i < steps; i++) {
		size_t k = rng_range(&rng, 0, N - 1);
		if (slot[k]) {
			size_t w = size[k] < WRITTEN ? size[k] : WRITTEN;
			BENCH_CHECK(slot[k][0] == mark(k, size[k]) && slot[k][w - 1] == mark(k, size[k]),
				    "region %p of %u bytes was overwritten", (void *)slot[k], size[k]);
			free(slot[k]);
		}
		size_t align = (size_t)64 << rng_range(&rng, 0, 10);
		size_t n = 1 + (size_t)(rng_next(&rng) % (rng_next(&rng) % 4 ? 3000 : 70000));
		void *p = NULL;
		BENCH_CHECK(posix_memalign(&p, align, n) == 0,
			    "posix_memalign(%zu, %zu) failed", align, n);
		slot[k] = p;
		size[k] = (uint32_t)n;
		size_t w = n < WRITTEN ? n : WRITTEN;
		memset(p, 2, w);
		slot[k][0] = slot[k][w - 1] = mark(k, n);
	}
	for (size_t k = 0; k < N; k++)
		free(slot[k]);
}

static int bench_main(int threads, double scale)
{
	(void)threads;
	if (ALIGNMIX)
		alignmix(scale);
	else
		frag(scale);
	printf("%s: ok\n", ALIGNMIX ? "alignmix" : "frag");
	return 0;
}
