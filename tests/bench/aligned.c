/*
 * aligned: allocations with alignment, as SIMD code, I/O paths and memory
 * pools ask for them. Each thread keeps 1024 live blocks, replaced at
 * random; each new block is
 *   60%  16..1024 bytes aligned to 64 (cache lines, AVX-512 vectors),
 *   20%  4..64 KiB aligned to 4096 (O_DIRECT and io_uring buffers),
 *   18%  16..256 KiB aligned to 64 KiB (pool slabs, DMA rings),
 *    2%  64 KiB..4 MiB aligned to 2 MiB (buffers meant for huge pages),
 * taken in turn from posix_memalign, aligned_alloc and memalign. The first
 * and last bytes of each block are written and checked when it is freed,
 * and every address is checked for its alignment. Stresses the search for
 * an aligned start among free runs (and the space its leads waste), the
 * aligned paths of the small classes, and aligned huge mappings.
 */
#include <malloc.h>

#include "bench_main.h"

#define LIVE 1024

struct worker {
	long ops;
	uint64_t rng;
};

struct block {
	unsigned char *p;
	size_t size;
};

static void *aligned(uint64_t *rng, size_t *size_out, unsigned turn)
{
	unsigned pick = (unsigned)rng_range(rng, 0, 99);
	size_t align, size;
	if (pick < 60) {
		align = 64;
		size = rng_range(rng, 16, 1024);
	} else if (pick < 80) {
		align = 4096;
		size = rng_range(rng, 4096, 65536);
	} else if (pick < 98) {
		align = 65536;
		size = rng_range(rng, 16384, 262144);
	} else {
		align = (size_t)2 << 20;
		size = rng_range(rng, 65536, (size_t)4 << 20);
	}
	void *p = NULL;
	switch (turn % 3) {
	case 0:
		BENCH_CHECK(posix_memalign(&p, align, size) == 0,
			    "posix_memalign(%zu, %zu) failed", align, size);
		break;
	case 1:
		/* C11 wants size a multiple of the alignment; glibc and the
		 * others do not, but the call is kept valid. */
		size = (size + align - 1) & ~(align - 1);
		p = aligned_alloc(align, size);
		break;
	default:
		p = memalign(align, size);
		break;
	}
	BENCH_CHECK(p != NULL, "aligned allocation of %zu bytes (alignment %zu) failed", size, align);
	BENCH_CHECK(((uintptr_t)p & (align - 1)) == 0, "%p is not aligned to %zu", p, align);
	*size_out = size;
	return p;
}

static void put(struct block *b, uint64_t tag)
{
	b->p[0] = (unsigned char)tag;
	b->p[b->size - 1] = (unsigned char)(tag >> 8);
}

static void drop(struct block *b, uint64_t tag)
{
	BENCH_CHECK(b->p[0] == (unsigned char)tag && b->p[b->size - 1] == (unsigned char)(tag >> 8),
		    "block %p of %zu bytes was overwritten", (void *)b->p, b->size);
	free(b->p);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct block *b = xmalloc(sizeof *b * LIVE);
	uint64_t *tags = xmalloc(sizeof *tags * LIVE);
	unsigned turn = 0;
	for (int i = 0; i < LIVE; i++) {
		b[i].p = aligned(&w->rng, &b[i].size, turn++);
		tags[i] = rng_next(&w->rng);
		put(&b[i], tags[i]);
	}
	for (long n = 0; n < w->ops; n++) {
		size_t i = rng_range(&w->rng, 0, LIVE - 1);
		drop(&b[i], tags[i]);
		b[i].p = aligned(&w->rng, &b[i].size, turn++);
		tags[i] = rng_next(&w->rng);
		put(&b[i], tags[i]);
	}
	for (int i = 0; i < LIVE; i++)
		drop(&b[i], tags[i]);
	free(tags);
	free(b);
	return NULL;
}

static int bench_main(int threads, double scale)
{
	struct worker *w = xmalloc(sizeof *w * (size_t)threads);
	for (int t = 0; t < threads; t++) {
		w[t].ops = scaled(2e6, scale, 2000) / threads;
		w[t].rng = rng_seed((uint64_t)t);
	}
	run_threads(threads, work, w, sizeof *w);
	free(w);
	printf("aligned: ok, %d threads\n", threads);
	return 0;
}
