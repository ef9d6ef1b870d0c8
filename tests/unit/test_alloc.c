/*
 * Unit tests of the allocator's internals (test build: jm_ names only,
 * internals reachable): size classes, bins, large runs, huge regions and
 * arenas. Purging is tested in test_alloc_purge.c, frees from another
 * thread in test_alloc_xthread.c. Each test ends with the heap-validation
 * walker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "jmalloc.h"

static void validate(void)
{
	assert_int_equal(jm__heap_validate(), 0);
}

static unsigned gcd(unsigned a, unsigned b)
{
	while (b) {
		unsigned t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static unsigned brute_bin(size_t size)
{
	for (unsigned b = 0; b < JM_NBINS; b++)
		if (jm__bin_info[b].size >= size)
			return b;
	return JM_NBINS;
}

/* A thread without a cache (here: one that has not allocated yet) frees
 * through the none cache, whose rows free's fast path counts into before
 * it finds them full: its slow path sets them back, so that they stay
 * full and empty (a row left counted up, or taken back by racing
 * threads, would drift towards room, and the shared none cache would be
 * pushed to). */
static void *free_only(void *arg)
{
	void **v = arg;
	for (unsigned i = 0; i < 8; i++)
		jm_free(v[i]);
	return NULL;
}

static void test_none_cache_stays_full(void **state)
{
	(void)state;
	jm__ensure_init();
	void *v[8];
	for (unsigned i = 0; i < 8; i++)
		assert_non_null(v[i] = jm_malloc(48 + 80 * i));
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, free_only, v), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	for (unsigned b = 0; b < JM_NBINS; b++) {
		assert_int_equal(jm__tcache_none[b].ncached_less_max, JM_TCACHE_NONE_FULL);
		assert_int_equal(jm__tb_priv(&jm__tcache_none[b])->ncached_less_max,
		    JM_TCACHE_NONE_FULL);
		assert_int_equal(jm__tcache_none[b].opaque, 0);
		assert_int_equal(*jm__tb_head(&jm__tcache_none[b]), 0);
		assert_true(jm__tb_full(&jm__tcache_none[b]));
	}
	validate();
}

static unsigned list_length(const struct jmstat_tcache_bin *tb)
{
	unsigned n = 0;
	for (void *p = (void *)*jm__tb_head(tb); p; p = jm__flist_next(p))
		n++;
	return n;
}

/* A thread cache's list heads and capacities are private (types.h,
 * struct jm_tbin_private): its segment row's words, which any process of
 * our uid may write, are the readers'. A head written there is not what
 * malloc returns (it returned it: a write at an address of the writer's
 * choosing); a capacity written there sizes nothing; a count written
 * there is set right by the next flush. */
static void test_tcache_heads_private(void **state)
{
	(void)state;
	jm__ensure_init();
	enum { N = 8 };
	void *p[N];
	for (unsigned i = 0; i < N; i++)
		assert_non_null(p[i] = jm_malloc(48));
	for (unsigned i = 0; i < N; i++)
		jm_free(p[i]);
	struct jmstat_tcache_bin *tb = &jm__tls_tbins[jm__size2bin(48)];
	assert_ptr_not_equal(tb, &jm__tcache_none[jm__size2bin(48)]);
	uintptr_t head = *jm__tb_head(tb);
	assert_true(head != 0);
	assert_int_equal(tb->opaque, 0);   /* published as 0: no address */
	assert_int_equal(jm__tb_ncached(tb), list_length(tb));
	static uint64_t bait[8];
	uint32_t max = jm__tb_max(tb);
	tb->opaque = (uintptr_t)bait;
	tb->ncached_max = 0xffffffffu;
	void *q = jm_malloc(48);
	assert_ptr_equal(q, (void *)head);
	assert_int_equal(jm__tb_max(tb), max);
	jm_free(q);
	/* A count written there: not the one the allocator goes by (a
	 * private copy since session 26), and the list's next fill sets it
	 * (the list is empty then), not adds to it. */
	tb->ncached_less_max = 0x40000000u;
	unsigned n = list_length(tb) + 1;
	void *r[64];
	assert_true(n <= 64);
	for (unsigned i = 0; i < n; i++)
		assert_non_null(r[i] = jm_malloc(48));
	assert_int_equal(jm__tb_ncached(tb), list_length(tb));
	for (unsigned i = 0; i < n; i++)
		jm_free(r[i]);
	tb->opaque = 0;
	tb->ncached_max = max;
	validate();
}

/* A thread that trims after every round of 1 KiB regions (512
 * allocated, then freed) and one that does not: the second's list grows
 * its capacity round after round, the first's stays within the least
 * share of a thread (TCACHE_FLOOR, 256 KiB, tcache.c: thread_budget). On
 * the old code both grew alike (to 512 regions, 512 KiB). Each in a
 * thread of its own, with a cache of its own. */
struct trim_grow {
	bool trim;
	uint32_t max;
};

static void *trim_grow_thread(void *arg)
{
	struct trim_grow *g = arg;
	enum { N = 512, ROUNDS = 12 };
	static __thread void *p[N];
	unsigned b = jm__size2bin(1024);
	for (unsigned r = 0; r < ROUNDS; r++) {
		for (unsigned i = 0; i < N; i++)
			p[i] = jm_malloc(1024);
		for (unsigned i = 0; i < N; i++)
			jm_free(p[i]);
		if (g->trim)
			jm__tcache_trim();
	}
	g->max = jm__tb_max(&jm__tls_tbins[b]);
	jm__tcache_flush_all_current();
	return NULL;
}

static void test_tcache_trimming_thread_budget(void **state)
{
	(void)state;
	jm__ensure_init();
	struct trim_grow plain = { .trim = false }, trimming = { .trim = true };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, trim_grow_thread, &plain), 0);
	pthread_join(t, NULL);
	assert_int_equal(pthread_create(&t, NULL, trim_grow_thread, &trimming), 0);
	pthread_join(t, NULL);
	print_message("1 KiB list capacity: %u regions, %u in a thread that trims\n",
	    plain.max, trimming.max);
	assert_true((uint64_t)plain.max * 1024 > (256u << 10));   /* it does grow */
	assert_true((uint64_t)trimming.max * 1024 <= (256u << 10));
}

/* free's fast path takes a page-map word with a divisibility constant for
 * a small run's (its region-start test fails with 0), and an address for
 * one in a chunk by the chunk map alone: every other entry of a chunk
 * with small and large runs, free pages and its header has 0 there, and
 * addresses above the user address space, off the heap or in a huge
 * region are not in a chunk. */
static void test_pagemap_div_small_only(void **state)
{
	(void)state;
	jm__ensure_init();
	enum { N = 64 };
	void *p[N];
	for (unsigned i = 0; i < N; i++) {
		p[i] = jm_malloc(i % 4 == 3 ? (size_t)(i + 1) * 5000 : (size_t)(i + 1) * 48);
		assert_non_null(p[i]);
	}
	for (unsigned i = 0; i < N; i += 2)
		jm_free(p[i]);
	void *big = jm_malloc(200000);   /* large, not cached: freed to free pages */
	assert_non_null(big);
	jm_free(big);
	struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p[1] & ~(uintptr_t)JM_CHUNK_MASK);
	assert_true(jm__in_chunk((uintptr_t)p[1]));
	assert_true(jm__in_chunk((uintptr_t)c));
	unsigned small = 0, other = 0;
	for (size_t i = 0; i < JM_CHUNK_PAGES; i++) {
		uint64_t pm = c->pagemap[i];
		if (JM_PM_KIND(pm) == JM_PM_SMALL) {
			assert_int_not_equal(JM_PM_DIV(pm), 0);
			small++;
		} else {
			assert_int_equal(JM_PM_DIV(pm), 0);
			other++;
		}
	}
	assert_true(small > 0 && other > 0);
	assert_false(jm__in_chunk((uintptr_t)1 << 47));
	assert_false(jm__in_chunk(~(uintptr_t)0));
	assert_false(jm__in_chunk((uintptr_t)&small));
	void *huge = jm_malloc(4 * JM_CHUNK);
	assert_non_null(huge);
	assert_false(jm__in_chunk((uintptr_t)huge));
	jm_free(huge);
	for (unsigned i = 1; i < N; i += 2)
		jm_free(p[i]);
	validate();
}

/* Every size from 0 to past the chunk maps to the smallest class that
 * fits it, and malloc_usable_size agrees. */
static void test_size_classes(void **state)
{
	(void)state;
	jm__ensure_init();
	for (size_t s = 0; s <= JM_SMALL_MAX; s++) {
		assert_int_equal(jm__size2bin(s), brute_bin(s ? s : 1));
		if (s <= JM_SIZE_DIRECT_MAX)
			assert_int_equal(jm__size2tbin_direct[s], s <= 8 ? JM_TBIN_EMPTY :
			    brute_bin(s) * sizeof(struct jmstat_tcache_bin));
	}
	for (unsigned b = 1; b < JM_NBINS; b++)
		assert_true(jm__bin_info[b].size > jm__bin_info[b - 1].size);
	assert_int_equal(jm__bin_info[JM_NBINS - 1].size, JM_SMALL_MAX);
	/* Sizes through small, large and huge: usable is the class size, the
	 * page multiple, or the page multiple of the mapping. */
	for (size_t s = 1; s < JM_CHUNK + 3 * JM_PAGE; s += (s < 20000 ? 1 : 997)) {
		void *p = jm_malloc(s);
		assert_non_null(p);
		size_t u = jm_malloc_usable_size(p);
		if (s <= JM_SMALL_MAX)
			assert_int_equal(u, jm__bin_info[brute_bin(s)].size);
		else
			assert_int_equal(u, (s + JM_PAGE_MASK) & ~JM_PAGE_MASK);
		jm_free(p);
	}
	validate();
}

/* The multiply-shift that turns an offset into a region index is exact
 * for every offset of every run. */
static void test_region_index(void **state)
{
	(void)state;
	jm__ensure_init();
	for (unsigned b = 0; b < JM_NBINS; b++) {
		const struct jm_bin_info *bi = &jm__bin_info[b];
		uint32_t run = bi->run_pages << JM_LG_PAGE;
		for (uint32_t off = 0; off < run; off++) {
			uint32_t idx = (uint32_t)(((uint64_t)off * bi->div_magic) >> 32);
			assert_int_equal(idx, off / bi->size);
			/* The free fast path's test, from the page-map entry. */
			uint64_t pm = jm__pm_make(JM_PM_SMALL, b, 17);
			uintptr_t u = 0x7f0000600000 + (17u << JM_LG_PAGE) + off;
			assert_int_equal(JM_PM_OFFSET(pm, u), off);
			assert_int_equal(!jm__pm_inside(pm, u), off % bi->size == 0);
			/* The fast path's: u x divisor less the low half of the
			 * page's fast word (types.h, pagefast), at every chunk
			 * address's low bits. */
			for (uintptr_t chunk = 0x7f0000600000; chunk < 0x7f0200600000; chunk += 0x3fe00000) {
				uint64_t pf = jm__pf_make((const struct jm_chunk *)chunk, b, 17);
				uint32_t x = (uint32_t)(chunk + (17u << JM_LG_PAGE) + off) * JM_PM_DIV(pm) - (uint32_t)pf;
				/* Class 0's pages fail it always (its frees take
				 * the slow path: types.h, JM_PM_DIV_C0). */
				assert_int_equal(x < JM_PM_DIV(pm), b != 0 && off % bi->size == 0);
				if (b != 0)
					assert_int_equal(pf >> 32, JM_PM_TBIN(pm));
			}
		}
		uint64_t pm = jm__pm_make(JM_PM_SMALL, b, 17);
		assert_int_equal(JM_PM_KIND(pm), JM_PM_SMALL);
		assert_int_equal(JM_PM_BIN(pm), b);
		assert_int_equal(JM_PM_START(pm), 17);
		uint64_t lpm = jm__pm_make(JM_PM_LARGE, 5, 17);
		assert_int_equal(JM_PM_KIND(lpm), JM_PM_LARGE);
		assert_int_equal(JM_PM_DIV(lpm), 0);
		assert_int_equal(JM_PM_ARENA(lpm), 5);
		assert_int_equal(JM_PM_START(lpm), 17);
		assert_int_equal(bi->regs * bi->size, run); /* no tail */
		assert_true(bi->regs <= JM_RUN_MAXREGS);

	}
}

/* Fill a run of every class region by region, through the bin (the bitmap
 * at every width), drain it in a scrambled order, and reuse it. */
static void test_bin_fill_drain_reuse(void **state)
{
	(void)state;
	jm__ensure_init();
	/* An arena no thread of this test uses: its bins start empty. */
	assert_true(jm__narenas > 1);
	struct jm_arena *a = jm__arena_get((jm__thread_arena()->index + 1) % jm__narenas);
	for (unsigned b = 0; b < JM_NBINS; b++) {
		const struct jm_bin_info *bi = &jm__bin_info[b];
		unsigned n = bi->regs * 2 + 1; /* two full runs and one region */
		void **p = calloc(n, sizeof(void *));
		uint64_t runs0 = a->bins[b].stats->curruns;
		for (unsigned i = 0; i < n; i++) {
			p[i] = jm__bin_alloc_one(a, b);
			assert_non_null(p[i]);
			size_t natural = bi->size & -bi->size;
			assert_int_equal((uintptr_t)p[i] % (natural < JM_PAGE ? natural : JM_PAGE), 0);
			memset(p[i], 0x77, bi->size);
			for (unsigned j = 0; j < i; j += 1 + i / 64)
				assert_ptr_not_equal(p[i], p[j]);
		}
		if (a->bins[b].stats->curruns - runs0 != 3)
			fail_msg("bin %u (size %u, %u regs): %u runs", b, bi->size, bi->regs,
			    (unsigned)(a->bins[b].stats->curruns - runs0));
		validate();
		/* Scrambled order: a stride coprime with n. */
		unsigned stride = 7;
		while (gcd(n, stride) != 1)
			stride += 2;
		for (unsigned k = 0, i = 0; k < n; k++, i = (i + stride) % n) {
			struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p[i] & ~(uintptr_t)JM_CHUNK_MASK);
			uint64_t pm = c->pagemap[((uintptr_t)p[i] & JM_CHUNK_MASK) >> JM_LG_PAGE];
			assert_int_equal(JM_PM_KIND(pm), JM_PM_SMALL);
			assert_int_equal(JM_PM_BIN(pm), b);
			jm__bin_free_one(c, p[i], pm);
			if (k % 97 == 0)
				validate();
		}
		/* Only the current run and one empty run may stay. */
		assert_true(a->bins[b].stats->curruns - runs0 <= 2); /* cur and one kept empty */
		validate();
		/* Reuse: the same run serves again. */
		void *q = jm__bin_alloc_one(a, b);
		assert_non_null(q);
		struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)q & ~(uintptr_t)JM_CHUNK_MASK);
		jm__bin_free_one(c, q, c->pagemap[((uintptr_t)q & JM_CHUNK_MASK) >> JM_LG_PAGE]);
		free(p);
	}
	validate();
}

/* Large runs: split, coalesce, grow and shrink in place. */
static void test_large_runs(void **state)
{
	(void)state;
	/* Above the small classes: 9 pages and more, carved from the arena
	 * (not regions of 9 to 16 pages earlier tests left in the cache). */
	jm__tcache_flush_all_current();
	/* b right after a: pairs taken until one is (best fit puts them in
	 * the shorter free runs earlier tests left first). */
	void *held[64];
	unsigned nheld = 0;
	void *a, *b;
	for (;;) {
		a = jm_malloc(9 * JM_PAGE);
		b = jm_malloc(11 * JM_PAGE);
		assert_non_null(a);
		assert_non_null(b);
		if ((char *)b == (char *)a + 9 * JM_PAGE)
			break;
		assert_true(nheld + 2 <= sizeof(held) / sizeof(held[0]));
		held[nheld++] = a;
		held[nheld++] = b;
	}
	void *c = jm_malloc(10 * JM_PAGE);
	assert_non_null(c);
	validate();
	jm_free(b);
	jm__tcache_flush_all_current(); /* b's pages back to the arena */
	jm__arena_cache_flush(jm__thread_arena()); /* and to its free runs */
	validate();
	/* a can grow into b's pages in place. */
	memset(a, 0x11, 9 * JM_PAGE);
	void *a2 = jm_realloc(a, 16 * JM_PAGE);
	assert_ptr_equal(a2, a);
	assert_int_equal(jm_malloc_usable_size(a2), 16 * JM_PAGE);
	assert_int_equal(((unsigned char *)a2)[9 * JM_PAGE - 1], 0x11);
	validate();
	/* A cut of less than a quarter keeps the pages (room to grow back);
	 * a bigger one gives the tail back. */
	a2 = jm_realloc(a2, 13 * JM_PAGE);
	assert_ptr_equal(a2, a);
	assert_int_equal(jm_malloc_usable_size(a2), 16 * JM_PAGE);
	a2 = jm_realloc(a2, 9 * JM_PAGE + 1);
	assert_ptr_equal(a2, a);
	assert_int_equal(jm_malloc_usable_size(a2), 10 * JM_PAGE);
	validate();
	jm_free(a2);
	jm_free(c);
	while (nheld)
		jm_free(held[--nheld]);
	validate();
	/* The largest large size, and alignment of large regions. */
	void *big = jm_malloc(JM_LARGE_MAX);
	assert_non_null(big);
	assert_int_equal(jm_malloc_usable_size(big), JM_LARGE_MAX);
	jm_free(big);
	void *al = jm_aligned_alloc(64 * 1024, 100 * 1024);
	assert_non_null(al);
	assert_int_equal((uintptr_t)al % (64 * 1024), 0);
	jm_free(al);
	validate();
}

/* realloc to a size of the region's own class, or of a class below down
 * to half its size, hands the region back (as tcmalloc and mimalloc do: a
 * cut to the class below moved it, a copy of the new size, for at most
 * half a region held: trim-often); to less than half (the first class:
 * never), or to more than its class, moves it. Told by the class's size (not jm__size2bin, whose
 * two ranges, each side of 1 KiB, mispredicted half the time in a
 * program whose sizes are on both: reallocsame, docs/programs.md,
 * session 34). On the old code the cut to the class below's size moved
 * the region. */
static void test_realloc_same_class(void **state)
{
	(void)state;
	for (size_t s = 1; s <= JM_SMALL_MAX; s++) {
		unsigned b = jm__size2bin(s);
		assert_true(s <= jm__bin_info[b].size);
		assert_true(b == 0 || s > jm__bin_info[b - 1].size);
	}
	for (unsigned b = 0; b < JM_NBINS; b++) {
		size_t top = jm__bin_info[b].size, low = b ? jm__bin_info[b - 1].size + 1 : 1;
		size_t half = top / 2;
		char *p = jm_malloc(top);
		assert_non_null(p);
		p[top - 1] = 0x61;
		p[0] = 0x62;
		assert_ptr_equal(jm_realloc(p, low), p);
		assert_ptr_equal(jm_realloc(p, top), p);
		if (b > 0) {
			/* The class below's size, and half the class's (the
			 * first class: any size below its own). */
			assert_ptr_equal(jm_realloc(p, low - 1), p);
			assert_ptr_equal(jm_realloc(p, half), p);
			assert_true(jm_malloc_usable_size(p) == top);
		}
		if (top < JM_SMALL_MAX) {
			char *q = jm_realloc(p, top + 1);
			assert_ptr_not_equal(q, p);
			assert_int_equal(q[top - 1], 0x61);
			p = q;
		}
		if (b > 0) {
			char *q = jm_malloc(top);
			assert_non_null(q);
			assert_int_equal(jm_malloc_usable_size(q), top);
			q[0] = 0x63;
			char *r = jm_realloc(q, half - 1);
			assert_ptr_not_equal(r, q);
			assert_int_equal(r[0], 0x63);
			assert_true(jm_malloc_usable_size(r) < top);
			jm_free(r);
		}
		jm_free(p);
	}
	validate();
}

/* realloc's cuts of a large region: a cut to half or less moves it (the
 * pages it keeps are copied into a region of their size, and its run goes
 * back whole); a cut of a quarter to a half gives the pages past the new
 * size back in place, a sampled region's too (its sample kept). A 1 MiB
 * buffer written to and cut to 10..200 KB (the probe shrinkbig,
 * docs/programs.md, session 34): each cut kept its head where the
 * buffer's run started, in a free run of 256 pages or more, and the
 * holes their frees left were too short for the next buffer: 64 such
 * kept spread over 23 chunks (300: 94; peak RSS 128 MiB against glibc's
 * 35); and a sampled buffer (nearly every one of 1 MiB) was not cut at
 * all. */
static void test_realloc_cut_large(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	/* A sampled region cut by a quarter to a half: in place, its pages
	 * past the new size freed, its sample (prof_size) kept. */
	uint64_t allocated = a->stats->allocated_large;
	char *p = jm__alloc_sampled(1 << 20, 0, false);
	assert_non_null(p);
	jm__mark_sampled(p, 0, 1 << 20, true);
	memset(p, 0x3c, 600000);
	char *q = jm_realloc(p, 600000);
	assert_ptr_equal(q, p);
	assert_int_equal(jm_malloc_usable_size(q), 147 * JM_PAGE);   /* before: 256 */
	assert_int_equal(a->stats->allocated_large, allocated + 147 * JM_PAGE);
	struct jm_chunk *qc = (struct jm_chunk *)((uintptr_t)q & ~(uintptr_t)JM_CHUNK_MASK);
	uint64_t pm = qc->pagemap[((uintptr_t)q & JM_CHUNK_MASK) >> JM_LG_PAGE];
	assert_int_equal(jm__chunk_run(qc, JM_PM_START(pm))->prof_size, 1 << 20);
	assert_int_equal(q[599999], 0x3c);
	jm_free(q);
	assert_int_equal(a->stats->allocated_large, allocated);
	validate();
	/* Cut to a tenth: moved, the bytes kept. */
	p = jm_malloc(1 << 20);
	memset(p, 0x4d, 100000);
	q = jm_realloc(p, 100000);
	assert_ptr_not_equal(q, p);
	assert_true(jm_malloc_usable_size(q) < 128 * 1024);
	assert_int_equal(q[0], 0x4d);
	assert_int_equal(q[99999], 0x4d);
	jm_free(q);
	validate();
	/* The buffers: their heads packed, few new chunks. */
	enum { N = 64 };
	char *v[N] = { 0 };
	uint64_t rs = 88172645463325252ull;
	uint64_t chunks = a->stats->nchunks;
	for (int i = 0; i < 1500; i++) {
		rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
		int k = (int)(rs % N);
		jm_free(v[k]);
		char *b = jm_malloc(1 << 20);
		assert_non_null(b);
		size_t n = 10000 + (size_t)(rs >> 20) % 190000;
		b[0] = 1;
		b[n - 1] = 2;
		v[k] = jm_realloc(b, n);
		assert_int_equal(v[k][n - 1], 2);
	}
	/* 64 x 105 KB: 3.4 chunks' pages. */
	assert_in_range(a->stats->nchunks - chunks, 0, 10);   /* before: 23 */
	for (int k = 0; k < N; k++)
		jm_free(v[k]);
	validate();
}

/* An aligned request in an arena of many free runs that cannot hold it:
 * the search tries only a few of those before the runs that surely can,
 * and when there are none it still walks them all before mapping a new
 * chunk. One chunk is filled with 3-page runs; every other one is freed
 * (so that none coalesce), the one whose start is 16 KiB-aligned first, so
 * that it ends last in its size's list, behind 40 that are not (more than the search tries first). */
static void free_large(void *p)
{
	struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
	jm__large_free(c, p, c->pagemap[((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE]);
}

/* An arena no thread has used yet, with no chunk. */
static struct jm_arena *fresh_arena(void)
{
	struct jm_arena *a = NULL;
	for (unsigned i = jm__narenas; i-- > 0 && a == NULL;)
		if (__atomic_load_n(&jm__arenas[i], __ATOMIC_ACQUIRE) == NULL)
			a = jm__arena_get(i);
	assert_non_null(a);   /* premise: an arena with no chunk yet */
	return a;
}

/* An arena that needs a chunk first takes a wholly free chunk with dirty
 * pages from another arena (arena.c, chunk_take_other), whose pages are
 * resident, before it maps one: two producers' arenas whose regions
 * consumers free (xmalloc-test) each kept the other's share of empty
 * chunks dirty while mapping more (peak RSS 60-66 MiB against 35 with one
 * arena). Before, the new arena mapped a chunk (nmap 1). */
static void test_chunk_from_other_arena(void **state)
{
	(void)state;
	jm_free(jm_malloc(1));   /* this thread's state set up */
	struct jm_arena *a = jm__thread_arena();
	size_t usable = JM_CHUNK_PAGES - JM_CHUNK_HDR_PAGES;
	char *p = jm__large_alloc(a, usable * JM_PAGE, 0, false);   /* a chunk of its own */
	assert_non_null(p);
	memset(p, 1, usable * JM_PAGE);
	struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
	uint64_t a_chunks = a->stats->nchunks, a_mapped = a->stats->mapped;
	free_large(p);   /* the chunk wholly free, dirty, in a */
	uint32_t a_seq = a->stats->seq;
	assert_ptr_equal(c->arena, a);
	assert_true(jm__chunk_run(c, c->hdr_pages)->ndirty == usable);
	validate();
	/* Another arena, with neither a wholly free chunk nor a retained
	 * one of its own: a whole chunk's pages need a chunk it has not. */
	struct jm_arena *b = NULL;
	for (unsigned i = 0; i < jm__narenas && b == NULL; i++) {
		struct jm_arena *x = jm__arena_get(i);
		if (x != a && x->nretained == 0 && x->free_runs[usable] == NULL)
			b = x;
	}
	assert_non_null(b);   /* premise */
	uint64_t b_map = b->stats->nmap, b_reuse = b->stats->nreuse, b_chunks = b->stats->nchunks,
	    b_mapped = b->stats->mapped;
	void *q = jm__large_alloc(b, usable * JM_PAGE, 0, false);
	assert_non_null(q);
	assert_int_equal(b->stats->nmap, b_map);
	assert_int_equal(b->stats->nreuse, b_reuse + 1);
	assert_int_equal(b->stats->nchunks, b_chunks + 1);
	assert_int_equal(b->stats->mapped, b_mapped + JM_CHUNK);
	/* a's chunk unless another arena had one such before it */
	struct jm_chunk *qc = (struct jm_chunk *)((uintptr_t)q & ~(uintptr_t)JM_CHUNK_MASK);
	assert_ptr_equal(qc->arena, b);
	if (qc == c) {
		assert_int_equal(a->stats->nchunks, a_chunks - 1);
		assert_int_equal(a->stats->mapped, a_mapped - JM_CHUNK);
		/* a's row changed in one row update (readers see it whole) */
		assert_int_equal(a->stats->seq, a_seq + 2);
	}
	validate();
	free_large(q);
	validate();
}

static void test_aligned_fit(void **state)
{
	(void)state;
	struct jm_arena *a = fresh_arena();
	static void *runs[JM_CHUNK_PAGES];
	size_t usable = JM_CHUNK_PAGES - JM_CHUNK_HDR_PAGES, n = 0;
	void *rest[2] = { NULL, NULL };
	for (size_t k = 0; k < usable % 3; k++)
		rest[k] = jm__large_alloc(a, JM_PAGE, 0, false);
	while (n < usable / 3)
		runs[n++] = jm__large_alloc(a, 3 * JM_PAGE, 0, false);
	assert_int_equal(a->stats->nchunks, 1);
	size_t fit = n;
	for (size_t i = 0; i < n; i += 2)
		if (((uintptr_t)runs[i] & (4 * JM_PAGE - 1)) == 0) {
			fit = i;
			break;
		}
	assert_true(fit < n);
	free_large(runs[fit]);
	size_t others = 0;
	for (size_t i = 0; i < n && others < 40; i += 2)
		if (i != fit && ((uintptr_t)runs[i] & (4 * JM_PAGE - 1)) != 0) {
			free_large(runs[i]);
			runs[i] = NULL;
			others++;
		}
	assert_int_equal(others, 40);
	validate();
	void *p = jm__large_alloc(a, 3 * JM_PAGE, 4 * JM_PAGE, false);
	assert_ptr_equal(p, runs[fit]);
	assert_int_equal(a->stats->nchunks, 1);
	validate();
	for (size_t i = 0; i < n; i++)
		if (runs[i])
			free_large(runs[i]);
	for (size_t k = 0; k < 2; k++)
		if (rest[k])
			free_large(rest[k]);
	validate();

	/* A 1 MiB alignment has one start in a chunk (after the header): such
	 * regions are huge mappings, not a chunk each. */
	struct jm_arena *t = jm__thread_arena();
	uint64_t huge0 = t->stats->nmalloc_huge, chunks0 = t->stats->nchunks;
	void *q[8];
	for (int i = 0; i < 8; i++) {
		q[i] = jm_aligned_alloc((size_t)1 << 20, 300 << 10);
		assert_non_null(q[i]);
		assert_int_equal((uintptr_t)q[i] & (((size_t)1 << 20) - 1), 0);
		memset(q[i], i, 300 << 10);
	}
	assert_int_equal(t->stats->nmalloc_huge - huge0, 8);
	assert_true(t->stats->nchunks <= chunks0 + 1);
	validate();
	for (int i = 0; i < 8; i++)
		jm_free(q[i]);
	validate();
}

/* test_aligned_small's requests above a page, in a child: 0, or the line
 * of the first check that failed (reported on stderr). */
#define AL_CHECK(x) do { if (!(x)) { \
	fprintf(stderr, "test_aligned_small: line %d: %s\n", __LINE__, #x); \
	return 1; } } while (0)
static int aligned_above_page(void)
{
	static const size_t sizes[] = { 1, 100, 3000, 4096, 5000, 8192, 12000, 16385, 30000, 32768 };
	struct jm_arena *fa = NULL;
	for (unsigned i = jm__narenas; i-- > 0 && fa == NULL;)
		if (__atomic_load_n(&jm__arenas[i], __ATOMIC_ACQUIRE) == NULL)
			fa = jm__arena_get(i);
	AL_CHECK(fa != NULL);   /* premise: an arena with no chunk yet */
	jm_free(jm_malloc(1));
	jm__tcache_flush_all_current();
	/* The first runs of the one-region classes, from the end of the
	 * fresh chunk's one free run: each at its alignment, and kept empty
	 * by its bin once its region is back (the flush). */
	static const size_t one[] = { 32768, 16384, 8192, 24576 };
	for (int c = 0; c < 4; c++) {
		unsigned b = jm__size2bin(one[c]);
		void *r = jm__bin_alloc_one(fa, b);
		AL_CHECK(r != NULL);
		size_t a = one[c] & -one[c];
		AL_CHECK((uintptr_t)r % a == 0);   /* premise: placed aligned */
		AL_CHECK(((size_t)1 << jm__bin_lg_align[b]) == a);
		jm_free(r);   /* this thread's cache */
	}
	jm__tcache_flush_all_current();
	unsigned above = 0;
	for (size_t align = 2 * JM_PAGE; align <= JM_SMALL_MAX; align *= 2)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t size = sizes[i], want = size > align ? size : align;
			unsigned lg = (unsigned)__builtin_ctzll(align);
			unsigned b = jm__size2bin(want);
			while (jm__bin_lg_align[b] < lg)
				b++;
			AL_CHECK(jm__bin_info[b].regs == 1);
			/* The class's aligned region in the thread's list, and
			 * the next class's region in its own, which a borrow
			 * would take once the class's list is empty. */
			void *seed = jm__bin_alloc_one(fa, b);
			AL_CHECK(seed != NULL);
			AL_CHECK((uintptr_t)seed % align == 0);   /* premise */
			jm_free(seed);
			void *next = NULL;
			if (b + 1 < JM_NBINS && jm__bin_lg_align[b + 1] < lg) {
				next = jm__bin_alloc_one(fa, b + 1);
				AL_CHECK(next != NULL);
				jm_free(next);
			}
			void *p = NULL, *p2 = NULL;
			AL_CHECK(jm_posix_memalign(&p, align, size) == 0);
			AL_CHECK(p == seed);   /* small, from the cache */
			AL_CHECK(jm_malloc_usable_size(p) == jm__bin_info[b].size);
			memset(p, 0x3c, size);
			above++;
			/* The class's list empty: its bin's region, or a large
			 * run if that one lacks the alignment; never the next
			 * class's region. */
			AL_CHECK(jm_posix_memalign(&p2, align, size) == 0);
			AL_CHECK((uintptr_t)p2 % align == 0);
			AL_CHECK(p2 != next);
			size_t u2 = jm_malloc_usable_size(p2);
			AL_CHECK(u2 == jm__bin_info[b].size || u2 == JM_SMALL_MAX + JM_PAGE);
			memset(p2, 0x3c, size);
			if (next) {
				void *n = jm_malloc(jm__bin_info[b + 1].size);
				AL_CHECK(n == next);   /* still in its list */
				jm_free(n);
			}
			jm_free(p);
			jm_free(p2);
			jm__tcache_flush_all_current();
			AL_CHECK(jm__heap_validate() == 0);
		}
	AL_CHECK(above == 30);
	/* Placement: the one-region classes' runs among runs of others, in
	 * the test's arena: most at their alignment. */
	void *q[4][16], *pad[16];
	unsigned at = 0;
	for (int k = 0; k < 16; k++) {
		pad[k] = jm__bin_alloc_one(fa, jm__size2bin(1000 + 700 * (size_t)k));
		AL_CHECK(pad[k] != NULL);
		for (int c = 0; c < 4; c++) {
			q[c][k] = jm__bin_alloc_one(fa, jm__size2bin(one[c] - 100));
			AL_CHECK(q[c][k] != NULL);
			size_t a = one[c] & -one[c];
			at += (uintptr_t)q[c][k] % a == 0;
		}
	}
	AL_CHECK(at >= 48);
	for (int k = 0; k < 16; k++) {
		jm_free(pad[k]);
		for (int c = 0; c < 4; c++)
			jm_free(q[c][k]);
	}
	jm__tcache_flush_all_current();
	AL_CHECK(jm__heap_validate() == 0);
	return 0;
}

/* A small request aligned to up to 32 KiB is a small region: the first
 * class, from the larger of size and alignment, whose regions have that
 * alignment. A class of one region a run (8, 16, 24, 32 KiB) has its runs
 * placed at its size's largest power-of-two divisor where that costs the
 * free run no room (arena.c, pref_fit): most of its regions have it; an
 * aligned request given one that has not takes a large run. (Before,
 * every request aligned to more than a page took a large run of 9 pages
 * or more from the arena, whatever its size; and a page class's empty
 * list took the next class's region, a 20 KiB one for a 16 KiB-aligned
 * request.)
 *
 * The conditions are the test's own, not the free runs earlier tests
 * left in this thread's arena (with which the count of aligned requests
 * served small went from 30 of 30 to 11 when the test ran alone): the
 * one-region classes' regions come from an arena of the test's (made in a
 * child: aligned_above_page), whose first runs of them are placed at
 * their alignment (a fresh chunk's one free run, from its end: 32 KiB
 * first, which 16, 8 and 24 follow), and are put in the thread's cache by
 * its frees, where an aligned request takes them; the placement itself is
 * counted in that arena too. */
static void test_aligned_small(void **state)
{
	(void)state;
	static const size_t sizes[] = { 1, 100, 3000, 4096, 5000, 8192, 12000, 16385, 30000, 32768 };
	int64_t left = jm__tls_sample_left;
	jm__tls_sample_left = (int64_t)1 << 60;   /* none sampled (a large run) */
	jm_free(jm_malloc(1));   /* this thread's cache */
	jm__tcache_flush_all_current();   /* no region of earlier tests first */
	/* Up to a page: a class of several regions a run whose size is a
	 * multiple of the alignment (runs start on a page), from any arena. */
	for (size_t align = 32; align <= JM_PAGE; align *= 2)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t size = sizes[i], want = size > align ? size : align;
			void *p = NULL;
			assert_int_equal(jm_posix_memalign(&p, align, size), 0);
			assert_int_equal((uintptr_t)p % align, 0);
			size_t b = jm__size2bin(want);
			while (jm__bin_info[b].size % align != 0)
				b++;
			assert_int_equal(jm_malloc_usable_size(p), jm__bin_info[b].size);   /* the first that fits */
			memset(p, 0x3c, size);
			jm_free(p);
		}
	/* Above a page: the one-region classes, from the test's arena, in a
	 * child (the arena made there, not in this process, whose other
	 * tests want arenas never used: fresh_arena). */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(aligned_above_page());
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	jm__tcache_flush_all_current();
	jm__tls_sample_left = left;
	validate();
}

/* A one-region class's run goes to a hole without an aligned start for it
 * rather than to a new chunk: a chunk filled with runs of 20, 12 and 4 KiB
 * (9 pages), the first two freed, leaves 54 holes of 8 pages, one in 8 at
 * a 32 KiB boundary; 52 regions of 32 KiB fill them, in the one chunk.
 * Their regions may then lack the alignment: an aligned request given
 * such a region puts it back and takes a large run instead. */
static void free_small(void *p)
{
	struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
	jm__bin_free_one(c, p, c->pagemap[((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE]);
}

static void test_aligned_holes(void **state)
{
	(void)state;
	struct jm_arena *a = fresh_arena();
	unsigned b20 = jm__size2bin(20480), b12 = jm__size2bin(12288);
	unsigned b4 = jm__size2bin(4096), b32 = jm__size2bin(32768);
	enum { N = (JM_CHUNK_PAGES - JM_CHUNK_HDR_PAGES) / 9 };
	static void *r20[N], *r12[N], *r4[N], *r32[N];
	for (int i = 0; i < N; i++) {
		r20[i] = jm__bin_alloc_one(a, b20);
		r12[i] = jm__bin_alloc_one(a, b12);
		r4[i] = jm__bin_alloc_one(a, b4);
		assert_true(r20[i] && r12[i] && r4[i]);
	}
	assert_int_equal(a->stats->nchunks, 1);
	for (int i = 0; i < N; i++) {
		free_small(r20[i]);
		free_small(r12[i]);
	}
	validate();
	/* (Two holes may be shorter: a bin keeps its current run, empty.) */
	unsigned misaligned = 0;
	for (int i = 0; i < N; i++) {
		r32[i] = jm__bin_alloc_one(a, b32);
		assert_non_null(r32[i]);
		misaligned += ((uintptr_t)r32[i] & 32767) != 0;
		if (i == N - 3)
			assert_int_equal(a->stats->nchunks, 1);
	}
	assert_true(misaligned > 0);
	validate();
	/* A misaligned region given to a 32 KiB-aligned request (the first
	 * in this thread's cache) goes back, and the request is served
	 * aligned all the same. */
	int m = 0;
	while (((uintptr_t)r32[m] & 32767) == 0)
		m++;
	int64_t left = jm__tls_sample_left;
	jm__tls_sample_left = (int64_t)1 << 60;
	jm_free(r32[m]);
	void *p = jm_aligned_alloc(32768, 100);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p & 32767, 0);
	assert_true(jm_malloc_usable_size(p) > JM_SMALL_MAX);   /* a large run */
	/* Back in its run (not in the thread's cache, where the next aligned
	 * request would take it again): free there, or its run gone back to
	 * the arena. */
	struct jm_chunk *cm = (struct jm_chunk *)((uintptr_t)r32[m] & ~(uintptr_t)JM_CHUNK_MASK);
	uint64_t pm = cm->pagemap[((uintptr_t)r32[m] & JM_CHUNK_MASK) >> JM_LG_PAGE];
	assert_true(pm == 0 || jm__bin_region_is_free(cm, r32[m], pm));
	jm_free(p);
	jm__tls_sample_left = left;
	for (int i = 0; i < N; i++) {
		if (i != m)
			free_small(r32[i]);   /* the last ones may be in a second chunk */
		free_small(r4[i]);
	}
	validate();
}

/* Huge regions are in the radix tree while they live, and only then. */
static void test_huge_tree(void **state)
{
	(void)state;
	enum { N = 6 };
	void *p[N];
	for (int i = 0; i < N; i++) {
		size_t size = JM_LARGE_MAX + 1 + (size_t)i * 3 * JM_CHUNK / 2;
		p[i] = jm_malloc(size);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] & JM_CHUNK_MASK, 0);
		uintptr_t v = jm__rtree_get((uintptr_t)p[i]);
		assert_true(v & JM_RTREE_HUGE);
		struct jm_huge *h = (struct jm_huge *)(v & ~(uintptr_t)JM_RTREE_HUGE);
		assert_ptr_equal(h->addr, p[i]);
		assert_true(h->size >= size);
		memset(p[i], i, size);
	}
	validate();
	/* Grow and shrink huge regions in place or by moving. */
	p[0] = jm_realloc(p[0], 5 * JM_CHUNK);
	assert_non_null(p[0]);
	assert_int_equal(((unsigned char *)p[0])[JM_LARGE_MAX], 0);
	p[1] = jm_realloc(p[1], JM_CHUNK + JM_PAGE);
	assert_non_null(p[1]);
	assert_int_equal(((unsigned char *)p[1])[JM_CHUNK], 1);
	validate();
	for (int i = 0; i < N; i++) {
		uintptr_t key = (uintptr_t)p[i];
		jm_free(p[i]);
		assert_int_equal(jm__rtree_get(key), 0);
	}
	validate();
}

/* A chunk recorded in a part of the address space nothing was in yet
 * (8 TiB): its bit alone, one page fault (the bitmap's page there), not
 * the root's page and a new leaf too (3 before). A huge region there: the
 * root's page and a leaf, a fault each, none more (its root page was read
 * before the leaf was stored there: the zero page mapped, then a second
 * fault for the store). */
static long thread_minflt(void)
{
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt;
}

static void test_rtree_update_faults(void **state)
{
	(void)state;
	uintptr_t warm = (uintptr_t)1 << 46, fresh = (uintptr_t)1 << 43;
	uintptr_t huge = fresh + ((uintptr_t)1 << 40);   /* another root page */
	uintptr_t record = 0x1000 | JM_RTREE_HUGE;       /* never dereferenced */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	skip();   /* the sanitizer's shadow pages fault too */
#endif
	assert_true(jm__rtree_set(warm, warm));   /* the code and locks, warm */
	jm__rtree_clear(warm);
	assert_true(jm__rtree_set(warm, record));
	jm__rtree_clear(warm);
	long before = thread_minflt();
	assert_true(jm__rtree_set(fresh, fresh));
	long faults = thread_minflt() - before;
	assert_int_equal(jm__rtree_get(fresh), fresh);
	assert_true(faults <= 1);
	before = thread_minflt();
	assert_true(jm__rtree_set(huge, record));
	faults = thread_minflt() - before;
	assert_int_equal(jm__rtree_get(huge), record);
	assert_true(faults <= 3);
	/* A chunk where a huge region was, and back: one value at a time. */
	jm__rtree_clear(huge);
	assert_true(jm__rtree_set(huge, huge));
	assert_int_equal(jm__rtree_get(huge), huge);
	assert_true(jm__rtree_set(huge, record));
	assert_int_equal(jm__rtree_get(huge), record);
	jm__rtree_clear(huge);
	assert_int_equal(jm__rtree_get(huge), 0);
	jm__rtree_clear(fresh);
	assert_int_equal(jm__rtree_get(fresh), 0);
}

/* A new chunk touches two pages of its header (types.h, struct
 * jm_chunk): the first (the fields, the first run records) and the one
 * where the first pages' page-map entries and fast words meet; not the
 * one of its last page's record, which a run that ends at the chunk's end
 * does not write (the chunk's first free run, what is left of it after a
 * run is carved). A run taken from the arena at its start: the first
 * alone (two before: the page map was on the fields' page, the records on
 * the next); a small run there, its page words written: those two (three
 * before: its fast words were on the header's last page). */
static unsigned chunk_header_resident(struct jm_chunk *c)
{
	unsigned char vec[JM_CHUNK_HDR_PAGES];
	assert_int_equal(mincore(c, JM_CHUNK_HDR_PAGES << JM_LG_PAGE, vec), 0);
	unsigned resident = 0;
	for (size_t i = 0; i < JM_CHUNK_HDR_PAGES; i++)
		resident += vec[i] & 1;
	size_t last = ((uintptr_t)&jm__chunk_run(c, JM_CHUNK_PAGES - 1)->state - (uintptr_t)c) >> JM_LG_PAGE;
	assert_int_equal(vec[last] & 1, 0);
	return resident;
}

static void test_chunk_header_pages(void **state)
{
	(void)state;
	jm_free(jm_malloc(1));   /* initialised */
	assert_true(jm__narenas > 1);
	struct jm_arena *a = jm__arena_get(jm__narenas - 1);   /* no chunk yet */
	bool dirty;
	jm__lock(a->lock, &a->stats->lock_contended);
	struct jm_run *r = jm__arena_run_alloc(a, 1, 1, JM_RUN_LARGE, &dirty);
	jm__unlock(a->lock);
	assert_non_null(r);
	struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)r & ~(uintptr_t)JM_CHUNK_MASK);
	assert_int_equal(jm__run_page(c, r), JM_CHUNK_HDR_PAGES);
	assert_int_equal(chunk_header_resident(c), 1);   /* no page word written yet */
	jm__lock(a->lock, &a->stats->lock_contended);
	jm__arena_run_free(a, c, r);
	jm__unlock(a->lock);
	validate();   /* the chunk's one free run, no last-page descriptor */
	void *q = jm__bin_alloc_one(a, 1);   /* a run of 16 B regions */
	assert_ptr_equal((char *)q - ((uintptr_t)q & JM_PAGE_MASK),
	    (char *)c + ((size_t)JM_CHUNK_HDR_PAGES << JM_LG_PAGE));
	assert_int_equal(chunk_header_resident(c), 2);
	jm__bin_free_one(c, q, c->pagemap[((uintptr_t)q & JM_CHUNK_MASK) >> JM_LG_PAGE]);
	validate();
}

/* Buffers grown by realloc a step at a time, interleaved (so that none
 * can grow into its neighbour's pages), from small through large to huge:
 * each is given room when it moves, and a huge one moves its pages with
 * mremap, so that it moves a logarithmic number of times and keeps its
 * huge record. Each was copied whole at nearly every step before (4
 * buffers of 13 MiB grown by 1.3 KiB: 39 s instead of 0.4). */
static void test_realloc_growth(void **state)
{
	(void)state;
	enum { N = 4, STEP = 3000, END = 24 << 20 };
	unsigned char *p[N] = { 0 };
	size_t len[N] = { 0 };
	int moves[N] = { 0 };
	struct jm_arena *a = jm__thread_arena();
	uint64_t nhuge = 0;
	/* The kept huge regions of earlier tests all purged, and none purged
	 * meanwhile: a buffer's new region is gathered from the pages of the
	 * dirty ones this test frees (huge.c), or not, by the same steps in
	 * every run. Which depended on the time earlier tests took: a
	 * gathered region is several mappings, and realloc copied it (one
	 * more nmalloc_huge, 2 runs in 16 under load) where it now moves. */
	int64_t decay_ms = jm__opt.decay_ms;
	jm__opt.decay_ms = -1;
	jm__huge_purge_all();
	while (len[N - 1] < END) {
		for (int i = 0; i < N; i++) {
			size_t n = len[i] + STEP + (size_t)i * 512;
			unsigned char *q = jm_realloc(p[i], n);
			assert_non_null(q);
			if (q != p[i])
				moves[i]++;
			for (size_t k = (len[i] + 511) & ~(size_t)511; k < n; k += 512)
				q[k] = (unsigned char)(k / 512 + i);
			if (len[i] <= JM_LARGE_MAX && n > JM_LARGE_MAX)
				nhuge = a->stats->nmalloc_huge;   /* its one huge malloc */
			p[i] = q;
			len[i] = n;
		}
	}
	/* 24 MiB / 16 B is 2^20.6: 1.25^k reaches it in about 65 moves. */
	for (int i = 0; i < N; i++) {
		assert_in_range(moves[i], 1, 80);
		for (size_t k = 0; k < len[i]; k += 512)
			assert_int_equal(p[i][k], (unsigned char)(k / 512 + i));
	}
	/* The huge buffers moved their pages: no new huge allocation. */
	assert_int_equal(a->stats->nmalloc_huge, nhuge);
	jm__opt.decay_ms = decay_ms;
	validate();
	for (int i = 0; i < N; i++)
		jm_free(p[i]);
	validate();
}

/* A random workload through the thread cache keeps every invariant. */
static void test_random_workload(void **state)
{
	(void)state;
	enum { SLOTS = 4096 };
#if defined(__SANITIZE_THREAD__)
	/* One thread, nothing for ThreadSanitizer to find: its instrumented
	 * writes of the regions were 24 s of its 58 s of this program. */
	enum { STEPS = 40000 };
#else
	enum { STEPS = 200000 };
#endif
	void **slot = calloc(SLOTS, sizeof(void *));
	size_t *len = calloc(SLOTS, sizeof(size_t));
	unsigned seed = 12345;
	for (int step = 0; step < STEPS; step++) {
		seed = seed * 1103515245u + 12345u;
		unsigned i = (seed >> 8) % SLOTS;
		if (slot[i]) {
			for (size_t k = 0; k < len[i]; k += 61)
				assert_int_equal(((unsigned char *)slot[i])[k], (unsigned char)i);
			jm_free(slot[i]);
			slot[i] = NULL;
		} else {
			unsigned r = (seed >> 20) % 100;
			len[i] = r < 90 ? (seed >> 4) % 512 : r < 99 ? (seed >> 4) % 65536 : (seed >> 4) % (3 << 20);
			slot[i] = jm_malloc(len[i]);
			assert_non_null(slot[i]);
			memset(slot[i], (unsigned char)i, len[i]);
		}
		if (step % (STEPS / 4) == 0)
			validate();
	}
	for (unsigned i = 0; i < SLOTS; i++)
		jm_free(slot[i]);
	jm__tcache_flush_all_current();
	validate();
	free(slot);
	free(len);
}

/* Runs fn(arg) in a thread of its own (a cache of its own), to its end. */
static void in_new_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
}

/* A sampled allocation of n bytes (no site): a large region of its own,
 * 1 to 8 pages for a small size, the only large regions a thread caches
 * (the sizes of 14-32 KiB are the page classes). */
static void *sampled(size_t n)
{
	void *p = jm__alloc_sampled(n, 0, false);
	assert_non_null(p);
	jm__mark_sampled(p, 0, n, true);
	return p;
}

/* A thread's large cache from its boot to its end, for the tests of the
 * sizes it keeps: booted by a small allocation (a cache and an arena);
 * at the end every list looked at until unused ones are flushed, what is
 * still cached counted, and the arena's allocated_large taken again: the
 * thread's regions all freed, it is as before (what sat in the cache
 * counted as allocated, and taken off at its flush). */
struct cache_life {
	struct jm_arena *a;
	struct jmstat_thread *row;
	uint64_t allocated_before, allocated_after, after_gc;
};
static void cache_life_begin(struct cache_life *l)
{
	jm_free(jm_malloc(16));
	l->row = jm__tcache_current_row();
	l->a = jm__thread_arena();
	l->allocated_before = l->a->stats->allocated_large;
}
static void cache_life_end(struct cache_life *l)
{
	for (unsigned i = 0; i <= JM_NBINS; i++)
		jm__tcache_gc();   /* lists used since the last look, then looks without use */
	l->after_gc = l->row->large_cached;
	l->allocated_after = l->a->stats->allocated_large;
}
/* The test's check, after the thread: nothing cached, nothing counted. */
static void assert_cache_life_ended(const struct cache_life *l)
{
	assert_int_equal(l->after_gc, 0);
	assert_int_equal(l->allocated_after, l->allocated_before);
}

/* n allocations of size into q, just after p[0..n) were freed: whether
 * each took the region freed last of those left (the cache is LIFO);
 * *nmalloc the arena's large allocations meanwhile (none: all from the
 * cache). */
static bool reuse_lifo(void **q, void *const *p, unsigned n, size_t size,
    const struct cache_life *l, uint64_t *nmalloc)
{
	uint64_t before = l->a->stats->nmalloc_large;
	bool same = true;
	for (unsigned i = 0; i < n; i++) {
		q[i] = jm_malloc(size);
		same &= q[i] == p[n - 1 - i];
	}
	*nmalloc = l->a->stats->nmalloc_large - before;
	return same;
}

/* A thread caches large regions of 1 to 8 pages, the sampled allocations
 * of small sizes (a region of their own), up to 16 KiB a size below 4
 * pages, JM_TCACHE_LARGE_BYTES (64 KiB) from 4; a sampled allocation takes one of those pages
 * back (it took the arena's lock and carved a run at every sample), and
 * the GC returns a list no allocation used since its last look. */
struct cache_counts {
	struct cache_life life;
	uint64_t after_free, after_reuse, after_big_free;
	uint64_t nmalloc_reuse;   /* arena large allocations during the reuse */
	bool same_pages;
};
static void *sampled_pages_thread(void *arg)
{
	struct cache_counts *k = arg;
	cache_life_begin(&k->life);
	struct jmstat_thread *row = k->life.row;
	struct jm_arena *a = k->life.a;
	enum { N = 8, BIG = JM_TCACHE_LARGE_BYTES / (4 * JM_PAGE) + 8 };
	void *p[N], *q[N], *big[BIG];
	for (unsigned i = 0; i < N; i++) {
		p[i] = jm__alloc_sampled(64, 0, false);
		assert_non_null(p[i]);
		jm__mark_sampled(p[i], 0, 64, true);
		assert_int_equal(jm_malloc_usable_size(p[i]), JM_PAGE);
	}
	void *three = jm__alloc_sampled(9000, 0, false);   /* 3 pages */
	jm__mark_sampled(three, 0, 9000, true);
	void *three2 = jm__alloc_sampled(9000, 0, false);
	jm__mark_sampled(three2, 0, 9000, true);
	for (unsigned i = 0; i < N; i++)
		jm_free(p[i]);
	jm_free(three);
	jm_free(three2);
	k->after_free = row->large_cached;   /* 4 pages of 1, 1 region of 3 */
	uint64_t nmalloc = a->stats->nmalloc_large;
	k->same_pages = true;
	for (unsigned i = 0; i < 4; i++) {
		q[i] = jm__alloc_sampled(100, 0, false);
		jm__mark_sampled(q[i], 0, 100, true);
		k->same_pages &= q[i] == p[3 - i];   /* the cache is LIFO */
	}
	k->nmalloc_reuse = a->stats->nmalloc_large - nmalloc;
	k->after_reuse = row->large_cached;
	for (unsigned i = 0; i < 4; i++)
		jm_free(q[i]);
	for (unsigned i = 0; i < BIG; i++)
		big[i] = sampled(4 * JM_PAGE);
	for (unsigned i = 0; i < BIG; i++)
		jm_free(big[i]);
	k->after_big_free = row->large_cached;
	cache_life_end(&k->life);
	return NULL;
}

static void test_large_cache_sampled_pages(void **state)
{
	(void)state;
	struct cache_counts k = { 0 };
	in_new_thread(sampled_pages_thread, &k);
	assert_int_equal(k.after_free, 16 * 1024 + 3 * JM_PAGE);
	assert_true(k.same_pages);
	assert_int_equal(k.nmalloc_reuse, 0);
	assert_int_equal(k.after_reuse, 3 * JM_PAGE);
	assert_int_equal(k.after_big_free, 16 * 1024 + 3 * JM_PAGE + JM_TCACHE_LARGE_BYTES);
	assert_cache_life_ended(&k.life);
	validate();
}

/* Requests of 32 KiB + 1 to 64 KiB (large regions of 9 to 16 pages: a
 * program's I/O and compression buffers) are cached by their thread, up to
 * JM_TCACHE_BUF_BYTES a size: a malloc and free of 64 KiB took the arena's
 * lock, a best-fit search and a coalesce each time, 240-300 ns against
 * 15-50 for glibc, mimalloc and tcmalloc (docs/programs.md, session 33).
 * The regions are counted in large_cached, handed back LIFO without an
 * arena allocation, at most the cap kept, and the GC returns a list that
 * went unused. */
struct buf_counts {
	struct cache_life life;
	uint64_t after_free, after_reuse, after_over, nmalloc_reuse;
	bool same;
};
static void *buf_cache_thread(void *arg)
{
	struct buf_counts *k = arg;
	cache_life_begin(&k->life);
	struct jmstat_thread *row = k->life.row;
	enum { CAP = JM_TCACHE_BUF_BYTES / (16 * JM_PAGE), N = CAP + 3 };
	void *p[N], *q[N];
	for (unsigned i = 0; i < N; i++) {
		p[i] = jm_malloc(64 * 1024);
		assert_non_null(p[i]);
		memset(p[i], 0x5a, 64);
	}
	for (unsigned i = 0; i < CAP; i++)
		jm_free(p[i]);
	k->after_free = row->large_cached;
	k->same = reuse_lifo(q, p, CAP, 60 * 1024 + 1, &k->life, &k->nmalloc_reuse);   /* 16 pages too */
	k->after_reuse = row->large_cached;
	for (unsigned i = 0; i < CAP; i++)
		jm_free(q[i]);
	for (unsigned i = CAP; i < N; i++)
		jm_free(p[i]);                      /* past the cap: the arena's */
	k->after_over = row->large_cached;
	cache_life_end(&k->life);
	return NULL;
}

static void test_large_cache_buffers(void **state)
{
	(void)state;
	struct buf_counts k = { 0 };
	in_new_thread(buf_cache_thread, &k);
	assert_true(JM_TCACHE_BUF_BYTES / (16 * JM_PAGE) >= 1);
	assert_int_equal(k.after_free, JM_TCACHE_BUF_BYTES / (16 * JM_PAGE) * 16 * JM_PAGE);
	assert_true(k.same);
	assert_int_equal(k.nmalloc_reuse, 0);
	assert_int_equal(k.after_reuse, 0);
	assert_int_equal(k.after_over, k.after_free);
	assert_cache_life_ended(&k.life);
	validate();
}

/* Regions of 17 to 64 pages (requests of 64 KiB + 1 to 256 KiB) are cached
 * by their thread in lists by page-count class (17-19, 20-23, 24-27,
 * 28-31, 32-39, 40-47, 48-55, 56-64 pages), at their exact sizes, up to
 * JM_TCACHE_CLASS_BYTES a list and JM_TCACHE_CLASS_TOTAL in all: their
 * malloc and free took the arena's lock, a best-fit search and a coalesce
 * each time (probe boundary, docs/programs.md, session 33). A request
 * takes its class's last region if that is large enough (the same size
 * freed and asked again), else the next class's; the GC returns a list
 * unused since its last look. */
struct class_counts {
	struct cache_life life;
	size_t usable17, usable18, usable33;
	uint64_t after_free, after_reuse, after_total, nmalloc_reuse, nmalloc_next;
	uint64_t cached64;
	bool same, next_taken, small_not_taken, same64;
};
static void *class_cache_thread(void *arg)
{
	struct class_counts *k = arg;
	cache_life_begin(&k->life);
	struct jmstat_thread *row = k->life.row;
	struct jm_arena *a = k->life.a;
	enum { CAP = JM_TCACHE_CLASS_BYTES / (17 * JM_PAGE), N = CAP + 2,
	       CAP56 = JM_TCACHE_CLASS_BYTES / (56 * JM_PAGE) };
	void *p[N], *q[N], *b[CAP56];
	for (unsigned i = 0; i < N; i++) {
		p[i] = jm_malloc(64 * 1024 + 1);   /* 17 pages */
		assert_non_null(p[i]);
		memset(p[i], 0x5a, 64);
	}
	k->usable17 = jm_malloc_usable_size(p[0]);   /* not rounded up */
	void *m = jm_malloc(128 * 1024 + 1);        /* 33 pages */
	k->usable33 = jm_malloc_usable_size(m);
	jm_free(m);
	jm__tcache_flush_all_current();
	for (unsigned i = 0; i < CAP; i++)
		jm_free(p[i]);
	k->after_free = row->large_cached;
	k->same = reuse_lifo(q, p, CAP, 68 * 1024, &k->life, &k->nmalloc_reuse);   /* 17 pages again */
	k->after_reuse = row->large_cached;
	/* 18 pages: the 17-page region on top of its class's list is too
	 * small, the next class's (20 pages) is taken. */
	void *r17 = jm_malloc(17 * JM_PAGE), *r20 = jm_malloc(20 * JM_PAGE);
	jm_free(r20);
	jm_free(r17);
	uint64_t nmalloc = a->stats->nmalloc_large;
	void *r18 = jm_malloc(18 * JM_PAGE);
	k->next_taken = r18 == r20;
	k->usable18 = jm_malloc_usable_size(r18);
	void *again = jm_malloc(17 * JM_PAGE);
	k->small_not_taken = again == r17;   /* still there */
	k->nmalloc_next = a->stats->nmalloc_large - nmalloc;
	jm_free(again);
	jm_free(r18);
	jm__tcache_flush_all_current();
	/* 64 pages, the last size of the last class (56-64). */
	void *r64 = jm_malloc(256 * 1024);
	jm_free(r64);
	k->cached64 = row->large_cached;
	again = jm_malloc(256 * 1024 - 100);
	k->same64 = again == r64;
	jm_free(again);
	jm__tcache_flush_all_current();
	/* The total: CAP regions of 17 pages, then regions of 56 pages as far
	 * as the total lets them in. */
	for (unsigned i = 0; i < CAP56; i++)
		b[i] = jm_malloc(224 * 1024);   /* 56 pages */
	for (unsigned i = 0; i < CAP; i++)
		jm_free(q[i]);
	for (unsigned i = 0; i < CAP56; i++)
		jm_free(b[i]);
	for (unsigned i = CAP; i < N; i++)
		jm_free(p[i]);   /* past the list's cap or the total: the arena's */
	k->after_total = row->large_cached;
	cache_life_end(&k->life);
	return NULL;
}

static void test_large_cache_classes(void **state)
{
	(void)state;
	struct class_counts k = { 0 };
	in_new_thread(class_cache_thread, &k);
	assert_int_equal(k.usable17, 17 * JM_PAGE);
	assert_int_equal(k.usable33, 33 * JM_PAGE);
	assert_true(JM_TCACHE_CLASS_BYTES / (17 * JM_PAGE) >= 2);
	assert_int_equal(k.after_free, JM_TCACHE_CLASS_BYTES / (17 * JM_PAGE) * 17 * JM_PAGE);
	assert_true(k.same);
	assert_int_equal(k.nmalloc_reuse, 0);
	assert_int_equal(k.after_reuse, 0);
	assert_true(k.next_taken);
	assert_int_equal(k.usable18, 20 * JM_PAGE);
	assert_true(k.small_not_taken);
	assert_int_equal(k.nmalloc_next, 0);
	assert_int_equal(k.cached64, 64 * JM_PAGE);
	assert_true(k.same64);
	/* The 17-page list full, the 56-page one as far as the total lets it. */
	uint64_t c17 = JM_TCACHE_CLASS_BYTES / (17 * JM_PAGE) * 17 * JM_PAGE;
	uint64_t c56 = JM_TCACHE_CLASS_BYTES / (56 * JM_PAGE);
	while (c17 + c56 * 56 * JM_PAGE > JM_TCACHE_CLASS_TOTAL)
		c56--;
	assert_int_equal(k.after_total, c17 + c56 * 56 * JM_PAGE);
	assert_true(k.after_total <= JM_TCACHE_CLASS_TOTAL);
	assert_cache_life_ended(&k.life);
	validate();
}

/* An aligned request above a page (64 KiB-aligned buffers of 16 to 256
 * KiB, the `aligned` workload) takes the region its thread cached if that
 * one has the alignment: it took the arena's lock and an aligned search
 * among its free runs, while the region it had just freed waited in the
 * thread's list (docs/measurements.md, session 38). A cached region
 * without the alignment is left where it is. */
struct aligned_cache_counts {
	bool same20, same10, aligned, other, kept;
	uint64_t nmalloc_reuse;
};
static void *aligned_cache_thread(void *arg)
{
	struct aligned_cache_counts *k = arg;
	struct jm_arena *a = jm__thread_arena();
	jm__tcache_flush_all_current();
	void *p = jm_aligned_alloc(65536, 20 * JM_PAGE);   /* a class list's */
	void *t = jm_aligned_alloc(65536, 40 * 1024);      /* 10 pages: a size's own list */
	assert_non_null(p);
	assert_non_null(t);
	jm_free(p);
	uint64_t nmalloc = a->stats->nmalloc_large;
	void *q = jm_aligned_alloc(65536, 20 * JM_PAGE);
	k->same20 = q == p;
	jm_free(t);
	void *u = NULL;
	assert_int_equal(jm_posix_memalign(&u, 65536, 40 * 1024), 0);
	k->same10 = u == t;
	k->nmalloc_reuse = a->stats->nmalloc_large - nmalloc;
	jm_free(u);
	jm_free(q);
	jm__tcache_flush_all_current();
	/* A region of 20 pages that is not 64 KiB-aligned, cached alone. */
	void *held[64];
	unsigned nheld = 0;
	void *r;
	while (((uintptr_t)(r = jm_malloc(20 * JM_PAGE)) & 65535) == 0 && nheld < 64)
		held[nheld++] = r;
	assert_true(((uintptr_t)r & 65535) != 0);
	jm_free(r);
	void *s = jm_memalign(65536, 20 * JM_PAGE);
	k->aligned = s != NULL && ((uintptr_t)s & 65535) == 0;
	k->other = s != r;
	void *again = jm_malloc(20 * JM_PAGE);
	k->kept = again == r;
	jm_free(again);
	jm_free(s);
	for (unsigned i = 0; i < nheld; i++)
		jm_free(held[i]);
	jm__tcache_flush_all_current();
	return NULL;
}

static void test_large_cache_aligned(void **state)
{
	(void)state;
	struct aligned_cache_counts k = { 0 };
	in_new_thread(aligned_cache_thread, &k);
	assert_true(k.same20);
	assert_true(k.same10);
	assert_int_equal(k.nmalloc_reuse, 0);
	assert_true(k.aligned);
	assert_true(k.other);
	assert_true(k.kept);
	validate();
}

/* A thread whose arena other threads share caches one large region of 9
 * to 64 pages at most: what else it frees goes back to the arena, where
 * the others take it, instead of waiting in its list while they map new
 * ones (py-pool32: 32 threads on 8 arenas, each holding its last
 * buffers). Alone in its arena again (the others exited), it caches them
 * as before. */
struct shared_counts {
	uint64_t cached_before, cached_shared9, cached_shared17;
	uint64_t allocated_before, allocated_shared;
	uint64_t cached_alone9, cached_alone17;
	unsigned sharers, helpers;
	bool alone;
};
static _Atomic unsigned sharer_ready, sharer_release;
static void *sharer_thread(void *arg)
{
	(void)arg;
	jm_free(jm_malloc(16));
	(void)jm__thread_arena();   /* counted in an arena */
	atomic_fetch_add(&sharer_ready, 1);
	while (!atomic_load(&sharer_release))
		sched_yield();
	return NULL;
}
static void *shared_arena_thread(void *arg)
{
	struct shared_counts *k = arg;
	jm_free(jm_malloc(16));   /* a cache and an arena */
	struct jm_arena *a = jm__thread_arena();
	struct jmstat_thread *row = jm__tcache_current_row();
	enum { MAXH = 2 * JM_MAX_ARENAS };
	pthread_t h[MAXH];
	atomic_store(&sharer_ready, 0);
	atomic_store(&sharer_release, 0);
	/* Threads, each counted in the arena with the fewest, until one
	 * shares this thread's. */
	unsigned n = 0;
	while (n < MAXH && n <= 2 * jm__narenas && jm__arena_nthreads(a->index) < 2) {
		assert_int_equal(pthread_create(&h[n], NULL, sharer_thread, NULL), 0);
		n++;
		while (atomic_load(&sharer_ready) < n)
			sched_yield();
	}
	k->helpers = n;
	k->sharers = jm__arena_nthreads(a->index);
	void *p9 = jm_malloc(9 * JM_PAGE), *p17 = jm_malloc(17 * JM_PAGE);
	assert_non_null(p9);
	assert_non_null(p17);
	jm__tcache_flush_all_current();
	k->cached_before = row->large_cached;
	k->allocated_before = a->stats->allocated_large;
	jm_free(p9);
	k->cached_shared9 = row->large_cached;
	jm_free(p17);
	k->cached_shared17 = row->large_cached;
	k->allocated_shared = a->stats->allocated_large;
	atomic_store(&sharer_release, 1);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(pthread_join(h[i], NULL), 0);
	k->alone = jm__arena_nthreads(a->index) == 1;
	p9 = jm_malloc(9 * JM_PAGE);
	p17 = jm_malloc(17 * JM_PAGE);
	jm__tcache_flush_all_current();
	jm_free(p9);
	k->cached_alone9 = row->large_cached;
	jm_free(p17);
	k->cached_alone17 = row->large_cached;
	jm__tcache_flush_all_current();
	return NULL;
}

/* A large region of 9 to 64 pages freed to its arena (what a thread of a
 * shared arena does not keep in its cache) waits in the arena's cache as
 * it is: its run still large, its page map kept, its pages dirty, not
 * active nor allocated; a request of its size, or up to an eighth
 * smaller, takes it back whole without a search (on the old code the
 * free coalesced it into a free run, and 11 pages took a run of 11). At
 * most JM_ACACHE_DEPTH a size and JM_ACACHE_PAGES pages an arena, and
 * only in an arena threads share; a purge (malloc_trim's, the decay's)
 * gives the cache back first. */
static bool run_is_large(void *p, size_t npages)
{
	struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
	size_t first = ((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE;
	const struct jm_run *r = jm__chunk_run(c, first);
	return r->state == JM_RUN_LARGE && r->npages == npages &&
	    JM_PM_KIND(c->pagemap[first]) == JM_PM_LARGE &&
	    JM_PM_KIND(c->pagemap[first + npages - 1]) == JM_PM_LARGE;
}
static void arena_free(void *p)
{
	struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
	jm__large_free(c, p, c->pagemap[((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE]);
}
static void test_arena_cache(void **state)
{
	(void)state;
	assert_true(jm__opt.decay_ms > 0);   /* premise: pages are kept dirty */
	struct jm_arena *a = jm__thread_arena();
	unsigned nthreads = jm__arena_threads[a->index];
	jm__arenas_purge(0, true);           /* no cache, nothing dirty */
	uint64_t nd0 = a->ndirty_pages, active0 = a->stats->active;
	uint64_t alloc0 = a->stats->allocated_large;
	char *p = jm__large_alloc(a, 12 * JM_PAGE, 0, false);
	char *guard = jm__large_alloc(a, 9 * JM_PAGE, 0, false);   /* p's neighbour used */
	assert_non_null(p);
	assert_non_null(guard);
	p[0] = 1;
	/* A thread alone in its arena: not cached (coalesced). */
	jm__arena_threads[a->index] = 1;
	arena_free(p);
	assert_false(run_is_large(p, 12));
	assert_ptr_equal(jm__large_alloc(a, 12 * JM_PAGE, 0, false), p);
	/* Threads share it. */
	jm__arena_threads[a->index] = 2;
	arena_free(p);
	assert_true(run_is_large(p, 12));                /* not coalesced */
	assert_int_equal(a->ndirty_pages, nd0 + 12);     /* dirty */
	assert_int_equal(a->stats->active, active0 + 9 * JM_PAGE);
	assert_int_equal(a->stats->allocated_large, alloc0 + 9 * JM_PAGE);
	assert_int_equal(a->stats->dirty, (a->ndirty_pages << JM_LG_PAGE) + a->huge_dirty);
	validate();
	/* 11 pages: within an eighth, p whole. */
	char *q = jm__large_alloc(a, 11 * JM_PAGE, 0, false);
	assert_ptr_equal(q, p);
	assert_int_equal(jm_malloc_usable_size(q), 12 * JM_PAGE);
	assert_int_equal(a->ndirty_pages, nd0);
	validate();
	/* calloc's zeroes from a cached region. */
	memset(q, 0x5a, 12 * JM_PAGE);
	arena_free(q);
	char *z = jm__large_alloc(a, 12 * JM_PAGE, 0, true);
	assert_ptr_equal(z, p);
	for (size_t i = 0; i < 12 * JM_PAGE; i += 509)
		assert_int_equal(z[i], 0);
	/* More than an eighth smaller: not the cached region whole (9 pages
	 * from 12; the cache may be given back for it: pages not resident
	 * are not taken while it holds some). */
	arena_free(z);
	char *r9 = jm__large_alloc(a, 9 * JM_PAGE, 0, false);
	assert_int_equal(jm_malloc_usable_size(r9), 9 * JM_PAGE);
	validate();
	/* JM_ACACHE_DEPTH a size: the next free of the size coalesces. */
	char *v[JM_ACACHE_DEPTH + 1], *w[2];
	for (unsigned i = 0; i <= JM_ACACHE_DEPTH; i++)
		v[i] = jm__large_alloc(a, 12 * JM_PAGE, 0, false);
	for (unsigned i = 0; i < 2; i++)
		w[i] = jm__large_alloc(a, 16 * JM_PAGE, 0, false);
	jm__arena_cache_flush(a);
	for (unsigned i = 0; i <= JM_ACACHE_DEPTH; i++)
		arena_free(v[i]);
	for (unsigned i = 0; i < JM_ACACHE_DEPTH; i++)
		assert_true(run_is_large(v[i], 12));
	assert_false(run_is_large(v[JM_ACACHE_DEPTH], 12));
	validate();
	/* JM_ACACHE_PAGES in all: with the 48 pages of 12, one of 16 fills
	 * it, a second is not cached. */
	_Static_assert(JM_ACACHE_PAGES == 64 && JM_ACACHE_DEPTH == 4, "the sizes above and below fill it");
	for (unsigned i = 0; i < 2; i++)
		arena_free(w[i]);
	assert_true(run_is_large(w[0], 16));
	assert_false(run_is_large(w[1], 16));
	validate();
	/* A purge of everything (malloc_trim's) gives the cache back. */
	jm__arenas_purge(0, true);
	for (unsigned i = 0; i < JM_ACACHE_DEPTH; i++)
		assert_false(run_is_large(v[i], 12));
	assert_false(run_is_large(w[0], 16));
	assert_int_equal(a->ndirty_pages, 0);
	validate();
	arena_free(r9);
	arena_free(guard);
	jm__arenas_purge(0, true);
	jm__arena_threads[a->index] = nthreads;
	validate();
}

/* The decay gives the cached regions back as it does free runs: an arena
 * whose only dirty pages wait in its cache is purged to nothing once
 * they are older than decay_ms (an idle process's return). */
static void test_arena_cache_decays(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	unsigned nthreads = jm__arena_threads[a->index];
	jm__arena_threads[a->index] = 2;   /* shared */
	jm__arenas_purge(0, true);
	char *p = jm__large_alloc(a, 20 * JM_PAGE, 0, false);
	char *guard = jm__large_alloc(a, 9 * JM_PAGE, 0, false);
	assert_non_null(p);
	memset(p, 1, 20 * JM_PAGE);
	arena_free(p);
	assert_true(run_is_large(p, 20));
	assert_int_equal(a->ndirty_pages, 20);
	assert_true(a->stats->dirty >= 20 * JM_PAGE);
	/* The decay's look, decay_ms and more later. */
	uint64_t later = jm__now_ns() + (uint64_t)jm__opt.decay_ms * 2000000u;
	jm__lock(a->lock, &a->stats->lock_contended);
	bool left = jm__arena_decay(a, later);
	jm__arena_decay(a, later + (uint64_t)jm__opt.decay_ms * 2000000u);
	jm__unlock(a->lock);
	jm__arena_purge_detached(a);
	(void)left;
	assert_false(run_is_large(p, 20));
	assert_int_equal(a->ndirty_pages, 0);
	validate();
	arena_free(guard);
	jm__arenas_purge(0, true);
	jm__arena_threads[a->index] = nthreads;
}

static void test_large_cache_shared_arena(void **state)
{
	(void)state;
	struct shared_counts k = { 0 };
	in_new_thread(shared_arena_thread, &k);
	assert_true(k.sharers >= 2);   /* premise: the arena was shared */
	assert_int_equal(k.cached_before, 0);
	assert_int_equal(k.cached_shared9, 9 * JM_PAGE);    /* the one */
	assert_int_equal(k.cached_shared17, 9 * JM_PAGE);   /* no second */
	assert_int_equal(k.allocated_before - k.allocated_shared, 17 * JM_PAGE);
	assert_true(k.alone);   /* premise: the others gone */
	assert_int_equal(k.cached_alone9, 9 * JM_PAGE);
	assert_int_equal(k.cached_alone17, 26 * JM_PAGE);
	validate();
}

/* A thread whose first allocation is large boots its cache there, as a
 * small one does: one that only took large regions had none, and each of
 * its mallocs and frees of 9 to 16 pages took the arena's lock, searched
 * its free runs and coalesced (3.5 x the cached time a pair). */
struct large_first_counts {
	bool had_row, cached, reused;
};
static void *large_first_thread(void *arg)
{
	struct large_first_counts *k = arg;
	void *p = jm_malloc(10 * JM_PAGE);
	assert_non_null(p);
	jm_free(p);
	struct jmstat_thread *row = jm__tcache_current_row();
	k->had_row = row != NULL;
	k->cached = row != NULL && row->large_cached == 10 * JM_PAGE;
	void *q = jm_malloc(10 * JM_PAGE);
	k->reused = q == p;
	jm_free(q);
	jm__tcache_flush_all_current();
	return NULL;
}

static void test_large_first_boots_cache(void **state)
{
	(void)state;
	struct large_first_counts k = { 0 };
	in_new_thread(large_first_thread, &k);
	assert_true(k.had_row);
	assert_true(k.cached);
	assert_true(k.reused);
	validate();
}

/* While the cache is set aside (bg.c: the purger's start, whose
 * pthread_create allocates on this thread), its cached large regions are
 * not handed out either: a sampled page the program freed, which a second
 * free must still find free, went to a sampled allocation there (the
 * dtv's, prof_sample:1), as a 4-8 page one would go to a large request. */
struct aside_counts {
	bool sampled_kept, large_kept, cached_after;
};
static void *set_aside_thread(void *arg)
{
	struct aside_counts *k = arg;
	jm_free(jm_malloc(16));   /* a cache and an arena */
	void *page = jm__alloc_sampled(100, 0, false);
	jm__mark_sampled(page, 0, 100, true);
	void *five = jm_malloc(5 * JM_PAGE);
	jm_free(page);                                   /* cached, 1 page */
	jm_free(five);                                   /* cached, 5 pages */
	struct jmstat_tcache_bin *tbins = jm__tls_tbins;
	enum jm_tls_state tls_state = jm__tls_state;
	jm__tls_tbins = jm__tcache_none;                 /* as bg.c's start */
	jm__tls_state = JM_TLS_NO_CACHE;
	void *s = jm__alloc_sampled(100, 0, false);
	void *l = jm_malloc(5 * JM_PAGE);
	jm__tls_tbins = tbins;
	jm__tls_state = tls_state;
	k->sampled_kept = s != page && jm__flist_is_free(page);
	k->large_kept = l != five && jm__flist_is_free(five);
	k->cached_after = jm_malloc(5 * JM_PAGE) == five;   /* still there */
	jm_free(five);
	jm_free(s);
	jm_free(l);
	jm__tcache_flush_all_current();
	return NULL;
}

static void test_large_cache_set_aside(void **state)
{
	(void)state;
	struct aside_counts k = { 0 };
	in_new_thread(set_aside_thread, &k);
	assert_true(k.sampled_kept);
	assert_true(k.large_kept);
	assert_true(k.cached_after);
	validate();
}

/* A large size of 4 to 7 pages whose list is empty takes a cached region
 * a page larger (the arena's lock and a run carved otherwise: glibc-thread
 * went there for one large allocation in seven); its usable size is that
 * region's, and its free files it under that size again. Never two pages
 * larger, never for the sampled pages of small sizes (1 to 3). */
struct up_counts {
	bool took_larger, usable_larger, refiled, not_two_up, not_sampled;
	uint64_t cached_after;
};
static void *one_page_up_thread(void *arg)
{
	struct up_counts *k = arg;
	jm_free(jm_malloc(16));   /* a cache and an arena */
	struct jmstat_thread *row = jm__tcache_current_row();
	void *five = sampled(5 * JM_PAGE);
	jm_free(five);                                   /* cached, 5 pages */
	void *four = sampled(4 * JM_PAGE - 100);
	k->took_larger = four == five;
	k->usable_larger = jm_malloc_usable_size(four) == 5 * JM_PAGE;
	uint64_t cached = row->large_cached;
	jm_free(four);
	k->refiled = row->large_cached == cached + 5 * JM_PAGE;
	void *six = sampled(6 * JM_PAGE);
	jm_free(six);                                    /* 5 and 6 cached */
	void *p = sampled(5 * JM_PAGE);                  /* takes the 5 */
	void *q = sampled(4 * JM_PAGE);                  /* not the 6 */
	k->not_two_up = p == five && q != six && jm_malloc_usable_size(q) == 4 * JM_PAGE;
	jm_free(q);                                      /* 4 and 6 cached */
	void *s = sampled(9000);                         /* 3 pages: not the 4 */
	k->not_sampled = s != q && jm_malloc_usable_size(s) == 3 * JM_PAGE;
	jm_free(s);
	jm_free(p);
	jm__tcache_flush_all_current();
	k->cached_after = row->large_cached;
	return NULL;
}

static void test_large_cache_one_page_up(void **state)
{
	(void)state;
	struct up_counts k = { 0 };
	in_new_thread(one_page_up_thread, &k);
	assert_true(k.took_larger);
	assert_true(k.usable_larger);
	assert_true(k.refiled);
	assert_true(k.not_two_up);
	assert_true(k.not_sampled);
	assert_int_equal(k.cached_after, 0);
	validate();
}

/* A large region of the thread cache's size freed by a thread of another
 * arena goes back to its own arena, not into that thread's cache: readers
 * take a thread's large_cached off the thread's arena, and the clamp at 0
 * there left it counted as allocated in its own (the process's allocated
 * too high by the region). */
struct foreign_free {
	void *p;
	struct jm_arena *home;
	bool other_arena;
	uint64_t cached;
};
static void *free_from_thread(void *arg)
{
	struct foreign_free *f = arg;
	void *mine = jm_malloc(16);   /* a cache and an arena */
	jm_free(mine);
	f->other_arena = jm__thread_arena() != f->home;
	if (f->other_arena) {
		jm_free(f->p);
		f->cached = jm__tcache_current_row()->large_cached;
	}
	return NULL;
}

static void test_large_cache_foreign(void **state)
{
	(void)state;
	struct foreign_free f = { .home = jm__thread_arena() };
	size_t sz = (size_t)5 << JM_LG_PAGE;   /* large, of a size threads cache */
	for (int tries = 0; tries < 64 && !f.other_arena; tries++) {
		f.p = sampled(sz);
		uint64_t before = f.home->stats->allocated_large;
		pthread_t t;
		assert_int_equal(pthread_create(&t, NULL, free_from_thread, &f), 0);
		assert_int_equal(pthread_join(t, NULL), 0);
		if (!f.other_arena) {
			jm_free(f.p);
			continue;
		}
		assert_int_equal(f.cached, 0);
		assert_int_equal(f.home->stats->allocated_large, before - sz);
	}
	assert_true(f.other_arena);   /* premise: a thread of another arena */
	validate();
}

/* Every page of a large region names its arena in its page-map entry
 * (free's path for the sizes threads cache reads the arena there, not in
 * the chunk header), also the pages a realloc adds in place; the owner's
 * free of such a region goes to its cache, and a second free of it, or a
 * free of one of its inner pages, is still caught (tests/preload/misuse). */
struct pm_arena_counts {
	bool own_arena, named, named_grown, grown_in_place, cached;
};
static bool pages_name_arena(void *p, size_t npages, unsigned index)
{
	struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
	size_t first = ((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE;
	for (size_t i = first; i < first + npages; i++) {
		uint64_t pm = c->pagemap[i];
		if (JM_PM_KIND(pm) != JM_PM_LARGE || JM_PM_ARENA(pm) != index)
			return false;
	}
	return true;
}
static void *pm_arena_thread(void *arg)
{
	struct pm_arena_counts *k = arg;
	jm_free(jm_malloc(16));   /* a cache and an arena */
	struct jm_arena *a = jm__thread_arena();
	struct jmstat_thread *row = jm__tcache_current_row();
	k->own_arena = a->index != 0;
	/* p above the page classes, and pages for it to grow into: a pair
	 * placed in a hole of 9 to 20 pages is kept (filling the hole),
	 * and another taken. */
	void *p = NULL, *after = NULL, *holes[16];
	unsigned nholes = 0;
	for (;;) {
		p = jm_malloc(9 * JM_PAGE);
		after = jm_malloc(12 * JM_PAGE);
		if ((char *)after == (char *)p + 9 * JM_PAGE || nholes + 2 > 16)
			break;
		holes[nholes++] = p;
		holes[nholes++] = after;
	}
	jm_free(after);                         /* now free, after p's */
	jm__tcache_flush_all_current();         /* from the cache to the arena */
	jm__arena_cache_flush(a);               /* and to its free runs */
	k->named = pages_name_arena(p, 9, a->index);
	void *q = jm_realloc(p, 14 * JM_PAGE);
	k->grown_in_place = q == p;
	k->named_grown = pages_name_arena(q, 14, a->index);
	jm_free(q);
	void *s = sampled(7 * JM_PAGE);         /* a size the thread caches */
	k->named &= pages_name_arena(s, 7, a->index);
	uint64_t cached = row->large_cached;
	jm_free(s);
	k->cached = row->large_cached == cached + 7 * JM_PAGE;
	for (unsigned i = 0; i < nholes; i++)
		jm_free(holes[i]);
	jm__tcache_flush_all_current();
	return NULL;
}

static void test_large_pagemap_arena(void **state)
{
	(void)state;
	struct pm_arena_counts k = { 0 };
	in_new_thread(pm_arena_thread, &k);
	assert_true(k.own_arena);   /* premise: an index other than 0 */
	assert_true(k.named);
	assert_true(k.grown_in_place);
	assert_true(k.named_grown);
	assert_true(k.cached);
	validate();
}

/* jm__pm_fill (two entries a store, eight a turn, then pairs and one):
 * every count 0..40 from an even and an odd entry, nothing either side
 * written. */
static void test_pm_fill(void **state)
{
	(void)state;
	uint64_t buf[48];
	for (size_t off = 1; off <= 2; off++)
		for (size_t n = 0; n <= 40; n++) {
			for (size_t i = 0; i < 48; i++)
				buf[i] = 0xdeadull;
			jm__pm_fill(&buf[off], n, 0x1234500000000001ull);
			for (size_t i = 0; i < 48; i++)
				assert_true(buf[i] == (i >= off && i < off + n ? 0x1234500000000001ull : 0xdeadull));
			jm__pm_fill(&buf[off], n, JM_PM_NONE);
			for (size_t i = 0; i < 48; i++)
				assert_true(buf[i] == (i >= off && i < off + n ? JM_PM_NONE : 0xdeadull));
		}
}

/* Large runs above both caches (65 pages and more, whose entries the fill
 * writes eight a turn, then the pairs and the odd one): every page's entry
 * names the run's start while it is live, and is none once freed (a free
 * of any interior page must read "inside a large region"). */
static void test_large_pagemap_every_page(void **state)
{
	(void)state;
	static const size_t counts[] = { 65, 66, 67, 71, 72, 73, 79, 80, 129, 255, 256, 257, 300 };
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		size_t n = counts[k];
		char *p = jm_malloc(n * JM_PAGE - 100);
		assert_non_null(p);
		struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
		size_t first = ((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE;
		assert_int_equal(jm__chunk_run(c, first)->npages, n);
		const uint64_t pm = jm__pm_make(JM_PM_LARGE, c->arena->index, first);
		for (size_t i = first; i < first + n; i++)
			assert_true(c->pagemap[i] == pm);
		validate();
		jm_free(p);
		for (size_t i = first; i < first + n; i++)
			assert_true(c->pagemap[i] == JM_PM_NONE);
		validate();
	}
}

/* A thread takes the arena with the fewest live threads, the lowest index
 * among equals: two threads that run at once get arenas of their own, and
 * a thread that replaces exited ones takes the first one's arena back (a
 * hash of the thread id spread a program's successive threads over
 * arenas whose free memory the next ones did not reuse: mstress held
 * 2.3 x its live memory). */
struct arena_probe {
	pthread_barrier_t *both;
	struct jm_arena *got;
};
static void *arena_of_thread(void *arg)
{
	struct arena_probe *p = arg;
	jm_free(jm_malloc(16));
	p->got = jm__thread_arena();
	if (p->both)
		pthread_barrier_wait(p->both);   /* both alive at once */
	return NULL;
}

static void test_arena_choice(void **state)
{
	(void)state;
	struct jm_arena *mine = jm__thread_arena();
	assert_true(jm__narenas >= 3);
	pthread_barrier_t both;
	pthread_barrier_init(&both, NULL, 2);
	struct arena_probe p1 = { &both, NULL }, p2 = { &both, NULL }, p3 = { NULL, NULL };
	pthread_t t1, t2, t3;
	assert_int_equal(pthread_create(&t1, NULL, arena_of_thread, &p1), 0);
	assert_int_equal(pthread_create(&t2, NULL, arena_of_thread, &p2), 0);
	assert_int_equal(pthread_join(t1, NULL), 0);
	assert_int_equal(pthread_join(t2, NULL), 0);
	pthread_barrier_destroy(&both);
	assert_ptr_not_equal(p1.got, p2.got);
	assert_ptr_not_equal(p1.got, mine);
	assert_ptr_not_equal(p2.got, mine);
	for (int round = 0; round < 8; round++) {
		assert_int_equal(pthread_create(&t3, NULL, arena_of_thread, &p3), 0);
		assert_int_equal(pthread_join(t3, NULL), 0);
		assert_ptr_equal(p3.got, p1.got->index < p2.got->index ? p1.got : p2.got);
	}
	validate();
}

/* fork() while another thread is mid-way through an update of its arena's
 * row (seq odd, a counter moved): the child's copy of the segment is taken
 * once every arena lock is held, so the child gets the row at rest, the
 * update whole. (The copy was taken before the arena locks: the child's row
 * stayed odd for ever, its readers skipping it, and its counters lost what
 * other threads did meanwhile, so that the child's allocated_large, active,
 * allocated_huge disagreed with its heap, to wrap below zero at its frees.) */
struct row_holder {
	struct jm_arena *a;
	pthread_barrier_t held;
};

static void *hold_row(void *arg)
{
	struct row_holder *h = arg;
	jm__lock(h->a->lock, &h->a->stats->lock_contended);
	jm__row_begin(&h->a->stats->seq);
	h->a->stats->allocated_large += JM_PAGE;
	pthread_barrier_wait(&h->held);
	usleep(200 * 1000);   /* the fork has begun meanwhile (if not: no test) */
	h->a->stats->allocated_large += JM_PAGE;
	jm__row_end(&h->a->stats->seq);
	jm__unlock(h->a->lock);
	return NULL;
}

static void test_fork_rows_at_rest(void **state)
{
	(void)state;
	void *p = jm_malloc(100);   /* the segment is published */
	jm_free(p);
	struct row_holder h;
	h.a = jm__thread_arena();
	uint64_t before = h.a->stats->allocated_large;
	pthread_barrier_init(&h.held, NULL, 2);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, hold_row, &h), 0);
	pthread_barrier_wait(&h.held);
	pid_t pid = fork();
	if (pid == 0) {
		bool ok = (h.a->stats->seq & 1) == 0 &&
		    h.a->stats->allocated_large == before + 2 * JM_PAGE;
		_exit(ok ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	pthread_barrier_destroy(&h.held);
	int st = -1;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	jm__lock(h.a->lock, &h.a->stats->lock_contended);
	h.a->stats->allocated_large -= 2 * JM_PAGE;
	jm__unlock(h.a->lock);
	validate();
}

/* A forked child gives back the large regions its parent's other threads
 * had cached (tcache.c, "gone"): only the forking thread lives on in it,
 * and those regions stayed counted in their arenas' allocated_large, in
 * use by no one, for the child's life (a pre-forking server's long-lived
 * workers each kept up to 512 KiB a parent thread). Four threads cache
 * large regions of 1 to 64 pages and wait while the main thread forks; a
 * thread the child starts trims (jm__tcache_trim, malloc_trim's) and
 * gives back every byte of them, and none of the forking thread's. */
#define GONE_THREADS 4
struct gone_arg {
	pthread_barrier_t *cached, *forked;
	uint64_t cached_bytes;
};

static void *gone_cacher(void *arg)
{
	struct gone_arg *g = arg;
	static const size_t sizes[] = { 1, 3, 6, 10, 12, 16, 18, 30, 50 };
	void *p[4 * sizeof(sizes) / sizeof(sizes[0])];
	unsigned n = 0;
	for (unsigned r = 0; r < 4; r++)
		for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			p[n++] = jm_malloc(sizes[i] * JM_PAGE - 64);
	for (unsigned i = 0; i < n; i++)
		jm_free(p[i]);
	g->cached_bytes = jm__tcache_current_row()->large_cached;
	pthread_barrier_wait(g->cached);
	pthread_barrier_wait(g->forked);   /* exits after the fork: cache kept there */
	return NULL;
}

extern bool jm__tcache_test_gone_pending(void);

static uint64_t all_allocated_large(void)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < jm__narenas; i++)
		if (jm__arenas[i] != NULL)
			sum += jm__arenas[i]->stats->allocated_large;
	return sum;
}

/* In the child: a thread started there trims; the forking thread's
 * cache is not a gone one. */
static void *gone_trimmer(void *arg)
{
	(void)arg;
	jm_free(jm_malloc(100));   /* its cache booted */
	jm__tcache_trim();
	return NULL;
}

static void test_fork_child_gives_back_gone_large(void **state)
{
	(void)state;
#if defined(__SANITIZE_THREAD__)
	/* A thread started in the child of a process of several threads:
	 * ThreadSanitizer supports none ("starting new threads after
	 * multi-threaded fork is not supported", or with die_after_fork=0
	 * "dup thread with used id" and exit 66 in the child). */
	skip();
#endif
	void *m[4];
	for (unsigned i = 0; i < 4; i++)   /* the main thread caches 10 pages */
		m[i] = jm_malloc(10 * JM_PAGE - 64);
	for (unsigned i = 0; i < 4; i++)
		jm_free(m[i]);
	pthread_barrier_t cached, forked;
	pthread_barrier_init(&cached, NULL, GONE_THREADS + 1);
	pthread_barrier_init(&forked, NULL, GONE_THREADS + 1);
	struct gone_arg g[GONE_THREADS];
	pthread_t t[GONE_THREADS];
	for (unsigned i = 0; i < GONE_THREADS; i++) {
		g[i] = (struct gone_arg){ &cached, &forked, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, gone_cacher, &g[i]), 0);
	}
	pthread_barrier_wait(&cached);
	uint64_t gone = 0;
	for (unsigned i = 0; i < GONE_THREADS; i++)
		gone += g[i].cached_bytes;
	pid_t pid = fork();
	if (pid == 0) {
		struct jmstat_thread *row = jm__tcache_current_row();
		uint64_t own = row ? row->large_cached : 0;
		uint64_t before = all_allocated_large();
		pthread_t tt;
		bool ok = pthread_create(&tt, NULL, gone_trimmer, NULL) == 0 &&
		    pthread_join(tt, NULL) == 0;
		uint64_t own_after = row ? row->large_cached : 0;
		uint64_t after = all_allocated_large();
		ok = ok && own >= 10 * JM_PAGE && own_after == own &&
		    gone >= (uint64_t)GONE_THREADS * 128 * 1024 &&
		    before - after == gone && !jm__tcache_test_gone_pending();
		if (!ok)
			fprintf(stderr, "child: gone %llu, allocated_large %llu -> %llu, own %llu -> %llu\n",
			    (unsigned long long)gone, (unsigned long long)before,
			    (unsigned long long)after, (unsigned long long)own,
			    (unsigned long long)own_after);
		/* The main thread's trim has nothing more of them (its own
		 * lists aside); its cached regions are its own still. */
		jm__tcache_trim();
		ok = ok && all_allocated_large() == after - (own - row->large_cached);
		void *q[4];
		for (unsigned i = 0; i < 4; i++)
			q[i] = jm_malloc(10 * JM_PAGE - 64);
		for (unsigned i = 0; i < 4; i++)
			jm_free(q[i]);
		ok = ok && jm__heap_validate() == 0;
		_exit(ok ? 0 : 1);
	}
	assert_true(pid > 0);
	pthread_barrier_wait(&forked);
	for (unsigned i = 0; i < GONE_THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&cached);
	pthread_barrier_destroy(&forked);
	int st = -1;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	validate();
}

/* A fork from a thread that had no cache (tc_forker NULL), whose child
 * forks again from that thread before any GC look (the gone caches'
 * large lists still to be looked at, the grandchild's one cache the
 * forker's): the grandchild's forker, whose cache was booted in the
 * child, is not a gone thread. Its cache was taken for one (the forker
 * was set only at a fork that left other caches behind): a thread the
 * grandchild started and that trimmed took the live forker's large
 * lists and freed them to their arena under it, its row still counting
 * them (large_cached), its next pops racing with the walk. */
static void *twice_trimmer(void *arg)
{
	(void)arg;
	jm_free(jm_malloc(100));   /* its cache booted */
	jm__tcache_trim();
	return NULL;
}

static int forker_twice_child(void)
{
	/* The child: this thread's first allocations boot its cache here. */
	void *p[3];
	for (unsigned i = 0; i < 3; i++)
		p[i] = jm_malloc(10 * JM_PAGE - 64);
	for (unsigned i = 0; i < 3; i++)
		jm_free(p[i]);
	struct jmstat_thread *row = jm__tcache_current_row();
	if (row == NULL || row->large_cached < 3 * 10 * JM_PAGE)
		return 2;
	pid_t pid = fork();
	if (pid == 0) {
		/* The grandchild: another thread trims. */
		int bad = 0;
		uint64_t cached = row->large_cached;
		pthread_t tt;
		if (pthread_create(&tt, NULL, twice_trimmer, NULL) != 0 || pthread_join(tt, NULL) != 0)
			_exit(3);
		uint64_t before = all_allocated_large();
		void *q[3];
		for (unsigned i = 0; i < 3; i++)
			q[i] = jm_malloc(10 * JM_PAGE - 64);
		/* Taken back from this thread's lists: nothing more allocated
		 * from the arena, the row's count down by as much. */
		if (all_allocated_large() != before)
			bad |= 4;
		if (row->large_cached != cached - 3 * 10 * JM_PAGE)
			bad |= 8;
		for (unsigned i = 0; i < 3; i++)
			jm_free(q[i]);
		if (jm__heap_validate() != 0)
			bad |= 16;
		if (bad)
			fprintf(stderr, "grandchild: allocated_large %llu -> %llu, large_cached %llu -> %llu\n",
			    (unsigned long long)before, (unsigned long long)all_allocated_large(),
			    (unsigned long long)cached, (unsigned long long)row->large_cached);
		_exit(bad);
	}
	if (pid < 0)
		return 5;
	int st = -1;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 6;
	return WEXITSTATUS(st);
}

static void *forker_twice(void *arg)
{
	int *rc = arg;
	/* No allocation of this thread's before its fork: no cache. */
	pid_t pid = fork();
	if (pid == 0)
		_exit(forker_twice_child());
	int st = -1;
	*rc = pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : 100;
	return NULL;
}

static void test_fork_twice_forker_not_gone(void **state)
{
	(void)state;
#if defined(__SANITIZE_THREAD__)
	/* A thread started in the child of a process of several threads:
	 * ThreadSanitizer supports none ("starting new threads after
	 * multi-threaded fork is not supported", or with die_after_fork=0
	 * "dup thread with used id" and exit 66 in the child). */
	skip();
#endif
	jm_free(jm_malloc(100));   /* the main thread has a cache: gone in the child */
	int rc = -1;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, forker_twice, &rc), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(rc, 0);
	validate();
}

/* A forked child gets the segment's header, arena rows and the bin rows
 * of the arenas made so far, and nothing of the others' bin rows (zero in
 * the parent, zero in the child's fresh memory): their pages are never
 * touched in the child (each was a page fault at every fork). Also: the
 * used arena's rows came across. */
static void test_fork_copies_used_rows(void **state)
{
	(void)state;
	void *p = jm_malloc(100);   /* the segment is published */
	jm_free(p);
	struct jm_arena *mine = jm__thread_arena();
	unsigned top = 0;
	for (unsigned i = 0; i < jm__narenas; i++)
		if (jm__arenas[i] != NULL)
			top = i + 1;
	const struct jmstat_header *h = jm__seg;
	size_t per = (size_t)JM_NBINS * sizeof(struct jmstat_bin);
	uintptr_t lo = ((uintptr_t)h + h->bin_off + top * per + JM_PAGE_MASK) & ~(uintptr_t)JM_PAGE_MASK;
	uintptr_t hi = ((uintptr_t)h + h->thread_off) & ~(uintptr_t)JM_PAGE_MASK;
	uint64_t nmalloc = jm__stats_bin_row(mine->index, 3)->nmalloc;
	pid_t pid = fork();
	if (pid == 0) {
		int bad = 0;
		if (jm__stats_bin_row(mine->index, 3)->nmalloc != nmalloc)
			bad |= 1;
		unsigned char vec[64];
		size_t n = (hi - lo) >> JM_LG_PAGE;
		if (lo < hi && n <= sizeof vec) {
			if (mincore((void *)lo, hi - lo, vec) != 0)
				bad |= 2;
			for (size_t i = 0; i < n; i++)
				if (vec[i] & 1)
					bad |= 4;
		}
		_exit(bad);
	}
	assert_true(pid > 0);
	int st = -1;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* With 8 arenas or more and few in use there were pages to look at. */
	if (jm__narenas >= 8 && top <= 2)
		assert_true(lo < hi);
	validate();
}

/* A forked child's publication maps the pages it goes on writing (the
 * core and its thread row) with MADV_POPULATE_READ where the file is on
 * tmpfs: the kernel's fault-around maps the file's pages around the one
 * faulted, writable, so 1 or 2 faults (counted as the child's minor
 * faults) where MADV_POPULATE_WRITE took one a page (4 with one arena).
 * Either way the child's writes to those pages after it fault no more. */
extern long jm__stats_test_populate_faults;
static void test_fork_populate_faults(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	skip();   /* the sanitizer's shadow pages fault too */
#endif
	void *p = jm_malloc(100);   /* the segment is published */
	jm_free(p);
	const char *dir = getenv("JMALLOC_STATS_DIR");
	struct statfs sf;
	bool shmem = statfs(dir && *dir ? dir : "/dev/shm", &sf) == 0 && sf.f_type == TMPFS_MAGIC;
	pid_t pid = fork();
	if (pid == 0) {
		jm__stats_test_populate_faults = -1;
		void *q[40];
		for (int i = 0; i < 40; i++)   /* a slow path: the publication */
			q[i] = jm_malloc(16 + (size_t)i * 200);
		for (int i = 0; i < 40; i++)
			jm_free(q[i]);
		long faults = jm__stats_test_populate_faults;
		if (faults < 0)
			_exit(1);                 /* did not publish */
		if (shmem && faults > 2)
			_exit(2);
		const struct jmstat_header *h = jm__seg;
		size_t core = h->bin_off + (size_t)JM_NBINS * sizeof(struct jmstat_bin);
		long before = thread_minflt();
		for (size_t off = 0; off < core; off += JM_PAGE) {
			volatile char *b = (volatile char *)h + off;
			*b = *b;
		}
		volatile char *row = (volatile char *)jm__tcache_current_row();
		if (row)
			*row = *row;
		_exit(thread_minflt() != before ? 3 : 0);
	}
	assert_true(pid > 0);
	int st = -1;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	validate();
}

/* A forked child's frees of its parent's regions write none of them
 * (tcache.c, "forked"): a push on the thread cache's list wrote each
 * region's link and cookie, and every page holding one was copied (one
 * fault a page: the old library took 915 faults here for blocks on 869
 * pages; now 88: the regions pushed until the first list is full, then
 * the run records the frees go to). The forking thread frees them (mode
 * 0), a thread started in the child (1: 67 faults), and the forking
 * thread after 70,000 allocations and frees of its own, its lists full of
 * its own regions (2: 84). The bound: a fault for 5 pages. Each child
 * checks the heap after, and again after allocations and frees of its own
 * and the frees of the other half. */
#define FF_N 24000
static void *ff_blk[FF_N];

static int ff_cmp(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

static void *ff_free_half(void *arg)
{
	long *faults = arg;
	long before = thread_minflt();
	for (int i = 0; i < FF_N; i += 2)
		jm_free(ff_blk[i]);
	*faults = thread_minflt() - before;
	return NULL;
}

static void test_fork_child_frees_parents(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	skip();   /* the sanitizer's shadow pages fault too */
#endif
	unsigned s = 1;
	static uintptr_t pg[FF_N / 2];
	for (int i = 0; i < FF_N; i++) {
		s = s * 1103515245 + 12345;
		size_t sz = 48 + (s >> 16) % 176;
		ff_blk[i] = jm_malloc(sz);
		assert_non_null(ff_blk[i]);
		memset(ff_blk[i], 1, sz);
		if (i % 2 == 0)
			pg[i / 2] = (uintptr_t)ff_blk[i] >> JM_LG_PAGE;
	}
	qsort(pg, FF_N / 2, sizeof pg[0], ff_cmp);
	long pages = 1;
	for (int i = 1; i < FF_N / 2; i++)
		pages += pg[i] != pg[i - 1];
	for (int mode = 0; mode < 3; mode++) {
		fflush(stderr);
		pid_t pid = fork();
		if (pid == 0) {
			long faults = -1;
			if (mode == 2) {
				for (int i = 0; i < 70000; i++) {
					void *p = jm_malloc(48 + (size_t)(i % 176));
					memset(p, 2, 48);
					jm_free(p);
				}
			}
			if (mode == 1) {
				pthread_t t;
				if (pthread_create(&t, NULL, ff_free_half, &faults) != 0 ||
				    pthread_join(t, NULL) != 0)
					_exit(5);
			} else {
				ff_free_half(&faults);
			}
			if (jm__heap_validate() != 0)
				_exit(2);
			for (int i = 0; i < 5000; i++) {
				void *p = jm_malloc(48 + (size_t)(i % 176));
				memset(p, 3, 48 + (size_t)(i % 176));
				jm_free(p);
			}
			for (int i = 1; i < FF_N; i += 2)
				jm_free(ff_blk[i]);
			if (jm__heap_validate() != 0)
				_exit(3);
			if (faults * 5 > pages) {
				fprintf(stderr, "mode %d: %ld faults freeing blocks on %ld pages\n",
				    mode, faults, pages);
				_exit(4);
			}
			_exit(0);
		}
		assert_true(pid > 0);
		int st = -1;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	for (int i = 0; i < FF_N; i++)
		jm_free(ff_blk[i]);
	validate();
}

/* A forked child's frees of its parent's regions read nothing of them
 * where the runs' bitmaps say a double free (tcache.c, "forked", session
 * 27): a second free of a region that sits free in a cache's list, its
 * bit saying allocated, is still reported. The parent frees q (it goes on
 * a list of its thread's cache); a child frees FDF_N of its parent's
 * regions of another class (its cache set aside at that list's first
 * full: the flush there would have taken q with it from q's own list),
 * then q, and must die of SIGABRT with "double free" on its stderr:
 *  0  q in the forking thread's list: flushed to its run at the child's
 *     first such free, its bit then says it (the regions' cookies not
 *     read: jm__tcache_test_forked_mode 0);
 *  1  q in the list of another thread of the parent, alive at the fork
 *     (gone in the child, its list not): that list is flushed to its runs
 *     too (session 28: before, the cookies were read, mode 1), q's bit
 *     then says it;
 *  2  q pushed on the list of a thread started in the child, alive: the
 *     cookies are read (mode 1);
 *  3  as 0, q not freed by the parent: the child's frees succeed (exit 0);
 *  4  as 1, the gone thread's list cut as a push half seen at the fork
 *     would leave it: the link above q names x, a region the parent
 *     holds (no cookie). The list is left as it was (mode 1, cookies
 *     read), the child's free of x succeeds and its second free of q is
 *     reported by q's cookie.
 * Without the flush (0) and the other threads' caches counted (1, 2), the
 * child freed q to its run and went on; with the gone thread's links not
 * checked (4), the flush freed x, and the child's free of x aborted. */
#define FDF_N 10000   /* more than a list of 96 B holds (4096) */
#define FDF_SIZE 96
#define FDF_QSIZE 48  /* q's: its list is not the one the child fills */
static void *fdf_blk[FDF_N];

struct fdf_thread {
	void *q, *r;
	pthread_barrier_t freed, done;
};

static void *fdf_hold(void *arg)
{
	struct fdf_thread *t = arg;
	void *own = jm_malloc(FDF_QSIZE);   /* a cache, not the first frees' bins */
	jm_free(own);
	jm_free(t->q);
	if (t->r)
		jm_free(t->r);   /* on top of q */
	pthread_barrier_wait(&t->freed);
	pthread_barrier_wait(&t->done);
	return NULL;
}

extern int jm__tcache_test_forked_mode(void);

static void fdf_free_parents(void)
{
	for (int i = 0; i < FDF_N; i++)
		jm_free(fdf_blk[i]);
}

/* The parent's end of a child's stderr (fds, a pipe): read to its end
 * into msg (len bytes, a string), then closed. */
static void read_child(int fds[2], char *msg, size_t len)
{
	close(fds[1]);
	size_t got = 0;
	ssize_t r;
	while (got + 1 < len && (r = read(fds[0], msg + got, len - 1 - got)) > 0)
		got += (size_t)r;
	msg[got] = 0;
	close(fds[0]);
}

/* Runs scenario `mode` in a child; returns its exit status, 128 + the
 * signal that ended it, and its stderr in msg. */
static int fdf_child(int mode, char *msg, size_t len)
{
	for (int i = 0; i < FDF_N; i++) {
		fdf_blk[i] = jm_malloc(FDF_SIZE);
		memset(fdf_blk[i], 1, FDF_SIZE);
	}
	void *q = jm_malloc(FDF_QSIZE);
	void *x = jm_malloc(FDF_QSIZE);
	memset(x, 1, FDF_QSIZE);
	*(uintptr_t *)x = 0;   /* a list unchecked would end at x */
	struct fdf_thread t = { .q = q, .r = mode == 4 ? jm_malloc(FDF_QSIZE) : NULL };
	pthread_t th;
	uintptr_t r_link = 0;
	pthread_barrier_init(&t.freed, NULL, 2);
	pthread_barrier_init(&t.done, NULL, 2);
	if (mode == 0)
		jm_free(q);
	if (mode == 1 || mode == 4) {
		assert_int_equal(pthread_create(&th, NULL, fdf_hold, &t), 0);
		pthread_barrier_wait(&t.freed);
	}
	if (mode == 4) {
		r_link = *(uintptr_t *)t.r;
		assert_true(r_link == (uintptr_t)q);
		*(uintptr_t *)t.r = (uintptr_t)x;   /* the cut the child sees */
	}
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		fdf_free_parents();
		int want = mode == 2 || mode == 4 ? 1 : 0;
		if (mode == 2) {
			pthread_barrier_init(&t.freed, NULL, 2);
			pthread_barrier_init(&t.done, NULL, 2);
			if (pthread_create(&th, NULL, fdf_hold, &t) != 0)
				_exit(5);
			pthread_barrier_wait(&t.freed);
		}
		if (jm__tcache_test_forked_mode() != want) {
			fprintf(stderr, "mode %d: forked mode %d\n", mode, jm__tcache_test_forked_mode());
			_exit(6);
		}
		if (mode == 4) {
			jm_free(x);   /* the parent's, in use: no abort */
			if (jm__heap_validate() != 0)
				_exit(9);
			fputs("x freed\n", stderr);
		}
		if (mode != 3)
			jm_free(q);
		if (jm__heap_validate() != 0)
			_exit(2);
		_exit(0);
	}
	if (mode == 4)
		*(uintptr_t *)t.r = r_link;
	read_child(fds, msg, len);
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (mode == 1 || mode == 4) {
		pthread_barrier_wait(&t.done);
		pthread_join(th, NULL);
	}
	pthread_barrier_destroy(&t.freed);
	pthread_barrier_destroy(&t.done);
	if (mode == 2 || mode == 3)
		jm_free(q);
	jm_free(x);
	fdf_free_parents();
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

static void test_fork_child_double_free_cached(void **state)
{
	(void)state;
	char msg[512];
	for (int mode = 0; mode < 5; mode++) {
		int st = fdf_child(mode, msg, sizeof msg);
		if (mode == 3) {
			if (st != 0)
				fprintf(stderr, "mode 3: status %d: %s\n", st, msg);
			assert_int_equal(st, 0);
			continue;
		}
		if (st != 128 + SIGABRT || strstr(msg, "double free") == NULL)
			fprintf(stderr, "mode %d: status %d: %s\n", mode, st, msg);
		assert_int_equal(st, 128 + SIGABRT);
		assert_non_null(strstr(msg, "double free"));
		if (mode == 4)
			assert_non_null(strstr(msg, "x freed"));
	}
	validate();
}

/* A forked child's frees of its parent's regions are gathered and sent
 * to their runs a batch at a time (tcache.c, "inherited frees, batched",
 * session 29). The child frees FDF_N of its parent's 96 B regions (its
 * cache set aside, its lists flushed), then FIB_N of its 48 B ones, more
 * than a batch: fewer than FIB_N are in their runs then (one batch went,
 * the rest wait), and right after a flush point every one is free in its
 * run and the bins' counts fell by FIB_N:
 *  0  jm__tcache_flush_all_current;  1  jm__tcache_trim (malloc_trim's;
 *     compat.c is not in the test library);  2  FORKED_OWN_FREES frees of
 *     the child's own regions (its cache the fast paths' again);
 *  3  the frees by a thread started in the child, its exit the flush.
 * A double free is reported at the second free (SIGABRT, "double free"):
 *  4  within a batch (the region still in the buffer);
 *  5  across batches, the first one's sent by a flush point;
 *  6  across batches, the first one's sent when the buffer was full;
 *  7, 8  by another thread, the first free in a batch (fib_refree). */
#define FIB_N 300
#define FIB_SIZE 48
static void *fib_blk[FIB_N];

static uint64_t fib_curregs(unsigned b)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *a = jm__arena_get(i);
		if (a != NULL)
			n += a->bins[b].stats->curregs;
	}
	return n;
}

/* Whether the regions are free in their runs, or their runs went back to
 * their arena (every region free: the page no longer a small run's; the
 * child allocates nothing). */
static bool fib_all_free(void **p, int n)
{
	for (int i = 0; i < n; i++) {
		struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p[i] & ~(uintptr_t)JM_CHUNK_MASK);
		uint64_t pm = c->pagemap[((uintptr_t)p[i] & JM_CHUNK_MASK) >> JM_LG_PAGE];
		if (JM_PM_KIND(pm) == JM_PM_SMALL && jm__chunk_run(c, JM_PM_START(pm))->state == JM_RUN_SMALL &&
		    !jm__bin_region_is_free(c, p[i], pm))
			return false;
	}
	return true;
}

static void *fib_thread(void *arg)
{
	(void)arg;
	fdf_free_parents();
	for (int i = 0; i < FIB_N; i++)
		jm_free(fib_blk[i]);
	return NULL;
}

/* Modes 7 and 8: another thread's second free of a region a batch holds
 * (tcache.c, inh_held_elsewhere). 7: a thread made in the child frees
 * again the region the child's thread freed first (its first frees go
 * straight to their runs); 8: the child's thread frees again a region a
 * thread of its own, its cache set aside too, holds in its buffer. Each
 * was let through, the region freed twice to its run (and handed out
 * twice if taken between), where it was reported before the batches. */
static void *fib_refree(void *p)
{
	jm_free(p);
	return NULL;
}

static pthread_barrier_t fib_freed;
static int fib_thread_mode;

static void *fib_holder(void *arg)
{
	(void)arg;
	for (int i = FDF_N / 2; i < FDF_N; i++)
		jm_free(fdf_blk[i]);
	fib_thread_mode = jm__tcache_test_forked_mode();
	jm_free(fib_blk[0]);
	pthread_barrier_wait(&fib_freed);
	for (;;)
		pause();   /* the process ends with the child's thread */
	return NULL;
}

static int fib_child(int mode, char *msg, size_t len)
{
	for (int i = 0; i < FDF_N; i++) {
		fdf_blk[i] = jm_malloc(FDF_SIZE);
		memset(fdf_blk[i], 1, FDF_SIZE);
	}
	for (int i = 0; i < FIB_N; i++) {
		fib_blk[i] = jm_malloc(FIB_SIZE);
		memset(fib_blk[i], 1, FIB_SIZE);
	}
	const unsigned b = jm__size2bin(FIB_SIZE);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		uint64_t before = fib_curregs(b);
		if (mode == 3) {
			pthread_t t;
			if (pthread_create(&t, NULL, fib_thread, NULL) != 0 || pthread_join(t, NULL) != 0)
				_exit(5);
		} else if (mode == 8) {
			for (int i = 0; i < FDF_N / 2; i++)
				jm_free(fdf_blk[i]);
			if (jm__tcache_test_forked_mode() == -1)
				_exit(6);
			pthread_t t;
			pthread_barrier_init(&fib_freed, NULL, 2);
			if (pthread_create(&t, NULL, fib_holder, NULL) != 0)
				_exit(5);
			pthread_barrier_wait(&fib_freed);
			if (fib_thread_mode == -1) {
				fprintf(stderr, "mode 8: the thread's cache not set aside\n");
				_exit(9);
			}
			jm_free(fib_blk[0]);
			_exit(0);
		} else {
			fdf_free_parents();
			if (jm__tcache_test_forked_mode() != 0) {
				fprintf(stderr, "forked mode %d\n", jm__tcache_test_forked_mode());
				_exit(6);
			}
			before = fib_curregs(b);   /* its lists' 48 B ones flushed */
			if (mode == 4) {
				jm_free(fib_blk[0]);
				jm_free(fib_blk[1]);
				jm_free(fib_blk[0]);
				_exit(0);
			}
			if (mode == 5) {
				jm_free(fib_blk[0]);
				jm__tcache_flush_all_current();
				jm_free(fib_blk[0]);
				_exit(0);
			}
			if (mode == 7) {
				jm_free(fib_blk[0]);
				pthread_t t;
				if (pthread_create(&t, NULL, fib_refree, fib_blk[0]) != 0 ||
				    pthread_join(t, NULL) != 0)
					_exit(5);
				_exit(0);
			}
			for (int i = 0; i < FIB_N; i++)
				jm_free(fib_blk[i]);
			if (mode == 6) {
				for (int i = 0; i < FIB_N; i++)
					if (fib_all_free(&fib_blk[i], 1)) {
						jm_free(fib_blk[i]);
						break;
					}
				_exit(0);
			}
			uint64_t mid = fib_curregs(b);
			if (before - mid >= FIB_N || fib_all_free(fib_blk, FIB_N)) {
				fprintf(stderr, "mode %d: %llu of %d freed before the flush point\n",
				    mode, (unsigned long long)(before - mid), FIB_N);
				_exit(7);
			}
			if (mode == 0)
				jm__tcache_flush_all_current();
			else if (mode == 1)
				jm__tcache_trim();
			else
				for (int i = 0; i < 70000 && jm__tcache_test_forked_mode() != -1; i++)
					jm_free(jm_malloc(200));   /* another class */
		}
		uint64_t after = fib_curregs(b);
		if (before - after != FIB_N || !fib_all_free(fib_blk, FIB_N) ||
		    !fib_all_free(fdf_blk, FDF_N)) {
			fprintf(stderr, "mode %d: %llu of %d counted freed after the flush point\n",
			    mode, (unsigned long long)(before - after), FIB_N);
			_exit(8);
		}
		if (jm__heap_validate() != 0)
			_exit(2);
		_exit(0);
	}
	read_child(fds, msg, len);
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	fdf_free_parents();
	for (int i = 0; i < FIB_N; i++)
		jm_free(fib_blk[i]);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

static void test_fork_child_inherited_batched(void **state)
{
	(void)state;
	char msg[512];
	for (int mode = 0; mode < 9; mode++) {
		int st = fib_child(mode, msg, sizeof msg);
		int want = mode < 4 ? 0 : 128 + SIGABRT;
		if (st != want || (mode >= 4 && strstr(msg, "double free") == NULL))
			fprintf(stderr, "mode %d: status %d: %s\n", mode, st, msg);
		assert_int_equal(st, want);
		if (mode >= 4)
			assert_non_null(strstr(msg, "double free"));
	}
	validate();
}

/* A forked child's thread whose cache is set aside (tcache.c, "forked")
 * still allocates on malloc's fast path, from its cache's lists: only
 * its frees take the slow path (session 28; before, jm__tls_tbins was
 * both paths' and every allocation of such a child was a miss: 2.8 x the
 * instructions for a child that allocates after dropping inherited
 * objects). The child frees FDF_N of its parent's regions (set aside,
 * its lists then flushed), allocates 200 of its own of that class, frees
 * them (pushed on its list by free's slow path), and allocates 100 again:
 * none of those misses. The child then exits 0; a second free of one of
 * its own regions, which its list holds, still aborts as a double free
 * (mode 1). */
extern unsigned long jm__test_alloc_misses;

static int fsa_child(int mode, char *msg, size_t len)
{
	for (int i = 0; i < FDF_N; i++) {
		fdf_blk[i] = jm_malloc(FDF_SIZE);
		memset(fdf_blk[i], 1, FDF_SIZE);
	}
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		fdf_free_parents();
		static void *own[200];
		for (int i = 0; i < 200; i++) {
			own[i] = jm_malloc(FDF_SIZE);
			memset(own[i], 2, FDF_SIZE);
		}
		for (int i = 0; i < 200; i++)
			jm_free(own[i]);
		if (jm__tcache_test_forked_mode() != 0) {
			fprintf(stderr, "forked mode %d\n", jm__tcache_test_forked_mode());
			_exit(6);
		}
		unsigned long misses = jm__test_alloc_misses;
		for (int i = 0; i < 100; i++) {
			own[i] = jm_malloc(FDF_SIZE);
			memset(own[i], 3, FDF_SIZE);
		}
		misses = jm__test_alloc_misses - misses;
		if (misses != 0) {
			fprintf(stderr, "%lu of 100 allocations missed the fast path\n", misses);
			_exit(7);
		}
		if (jm__tcache_test_forked_mode() != 0)
			_exit(8);
		for (int i = 0; i < 100; i++)
			jm_free(own[i]);
		if (mode == 1)
			jm_free(own[50]);
		if (jm__heap_validate() != 0)
			_exit(2);
		_exit(0);
	}
	read_child(fds, msg, len);
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	fdf_free_parents();
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

static void test_fork_child_set_aside_allocs(void **state)
{
	(void)state;
	char msg[512];
	for (int mode = 0; mode < 2; mode++) {
		int st = fsa_child(mode, msg, sizeof msg);
		int want = mode == 0 ? 0 : 128 + SIGABRT;
		if (st != want || (mode != 0 && strstr(msg, "double free") == NULL))
			fprintf(stderr, "mode %d: status %d: %s\n", mode, st, msg);
		assert_int_equal(st, want);
		if (mode != 0)
			assert_non_null(strstr(msg, "double free"));
	}
	validate();
}

/* What the fork handlers write of the stats snapshot and the child's
 * segment (stats.c): every page the parent and child share after a fork
 * and one of them writes is a page fault and a copy. */
extern unsigned jm__stats_test_snapshot_pages;
void *jm__stats_test_snapshot(void);
bool jm__stats_test_snapshot_home(void);

static int wait_child(pid_t pid)
{
	int st = -1;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* The parent's copy writes only the pages of the snapshot that changed:
 * a second fork with nothing allocated between writes none (every page
 * of the copy was written at every fork: 5 with one arena), and after a
 * large allocation the arena's row is in the snapshot. */
static void test_fork_snapshot_changed_pages(void **state)
{
	(void)state;
	void *p = jm_malloc(100);   /* the segment is published */
	jm_free(p);
	for (int round = 0; round < 2; round++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		assert_true(pid > 0);
		assert_int_equal(wait_child(pid), 0);
	}
	assert_int_equal(jm__stats_test_snapshot_pages, 0);
	void *big = jm_malloc(5 * JM_PAGE + 100);
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	assert_true(pid > 0);
	assert_int_equal(wait_child(pid), 0);
	assert_true(jm__stats_test_snapshot_pages >= 1);
	struct jm_arena *a = jm__thread_arena();
	const char *snap = jm__stats_test_snapshot();
	const struct jmstat_arena *row = (const struct jmstat_arena *)
	    (snap + ((const char *)a->stats - (const char *)jm__seg));
	assert_int_equal(row->allocated_large, a->stats->allocated_large);
	jm_free(big);
	validate();
}

/* The mapping /proc/self/maps lists that holds addr: its range, whether
 * it is private, its file offset; false where none does. */
struct mapping_at {
	uintptr_t lo, hi;
	bool private_;
	unsigned long off;
};

static bool mapping_of(const void *addr, struct mapping_at *m)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	bool found = false;
	while (f != NULL && !found && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, off;
		char perm[5];
		if (sscanf(line, "%lx-%lx %4s %lx", &lo, &hi, perm, &off) == 4 &&
		    (uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
			*m = (struct mapping_at){ lo, hi, perm[3] == 'p', off };
			found = true;
		}
	}
	if (f != NULL)
		fclose(f);
	return found;
}

/* A fork copies each private mapping with pages (its page tables, its
 * anon_vma; some 3.5 us in the parent and the child's exit, docs/
 * measurements.md): the threads' private table and the fork snapshot are
 * one private mapping (the snapshot was mapped apart, the table between
 * the file's two pieces), and in the child the segment, moved from the
 * snapshot before it is published, is one mapping too (its two pieces
 * were moved apart, around the table). */
static void test_fork_snapshot_one_mapping(void **state)
{
	(void)state;
	void *p = jm_malloc(100);   /* the segment is published */
	jm_free(p);
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	assert_true(pid > 0);
	assert_int_equal(wait_child(pid), 0);
	const char *snap = jm__stats_test_snapshot();
	assert_non_null(snap);
	assert_true(jm__stats_test_snapshot_home());
	const char *priv = (const char *)jm__tcache_current_row() + JM_TB_PRIVATE;
	struct mapping_at m, s;
	assert_true(mapping_of(priv, &m));
	assert_true(m.private_);
	assert_true(mapping_of(snap, &s));
	assert_int_equal(s.lo, m.lo);
	assert_int_equal(s.hi, m.hi);
	/* The file's first piece, the header's, at its offset 0. */
	assert_true(mapping_of(jm__seg, &m));
	assert_false(m.private_);
	assert_int_equal(m.off, 0);

	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	if (pid == 0) {
		/* Before any allocation: the snapshot moved in, unpublished. */
		struct mapping_at a, b;
		bool ok = mapping_of(jm__seg, &a) && a.private_ &&
		    (jm__segp.nsites_max == 0 ||
		     (mapping_of(jm__stats_at(jm__segp.site_off), &b) && b.lo == a.lo && b.hi == a.hi));
		/* Published, it forks in turn: its snapshot is mapped back
		 * in its place after the private table (a mapping of its
		 * own: the kernel merges no new mapping with one a fork
		 * gave, whose anon_vma has its parent's). */
		jm__stats_publish_child();
		ok = ok && !jm__stats_pending;
		pid_t g = fork();
		if (g == 0)
			_exit(0);
		ok = ok && g > 0 && wait_child(g) == 0 && jm__stats_test_snapshot_home();
		char c = ok ? 'y' : 'n';
		_exit(write(fds[1], &c, 1) == 1 ? 0 : 1);
	}
	assert_true(pid > 0);
	char c = 0;
	assert_int_equal(read(fds[0], &c, 1), 1);
	assert_int_equal(wait_child(pid), 0);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(c, 'y');
	validate();
}

/* The physical pages behind [addr, addr + n pages): 0 where not present
 * (or where the kernel shows frames to root only). */
static void page_frames(const void *addr, size_t n, uint64_t *frames)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	for (size_t i = 0; i < n; i++) {
		uint64_t e = 0;
		off_t at = (off_t)(((uintptr_t)addr >> JM_LG_PAGE) + i) * 8;
		if (fd < 0 || pread(fd, &e, sizeof(e), at) != (ssize_t)sizeof(e))
			e = 0;
		frames[i] = (e >> 63) ? e & ((1ULL << 55) - 1) : 0;
	}
	if (fd >= 0)
		close(fd);
}

#define MAX_FRAMES 16

/* The child's segment is the parent's snapshot, its pages still shared
 * until it writes them, not fresh memory with a copy of it (each page of
 * which was a fault in every child); and the child handlers write none of
 * the core's pages (header, classes, arena and bin rows) when they have
 * nothing to change: the purger's fields of a child of a parent without
 * one, the arenas' thread counts, their huge regions' bytes, their dirty
 * bytes, each was a page fault in every child. */
static void test_fork_child_moves_snapshot(void **state)
{
	(void)state;
	void *p = jm_malloc(100);
	jm_free(p);
	size_t n = jm__seg->thread_off >> JM_LG_PAGE;
	assert_true(n > 0 && n <= MAX_FRAMES);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	if (pid == 0) {
		/* Before any allocation. */
		uint64_t frames[MAX_FRAMES];
		page_frames(jm__seg, n, frames);
		ssize_t len = (ssize_t)(n * sizeof(frames[0]));
		_exit(write(fds[1], frames, (size_t)len) == len ? 0 : 1);
	}
	assert_true(pid > 0);
	uint64_t child[MAX_FRAMES], mine[MAX_FRAMES];
	assert_int_equal(read(fds[0], child, n * sizeof(child[0])), (ssize_t)(n * sizeof(child[0])));
	assert_int_equal(wait_child(pid), 0);
	close(fds[0]);
	close(fds[1]);
	page_frames(jm__stats_test_snapshot(), n, mine);
	if (mine[0] == 0)
		skip();   /* frames are shown to root only */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(child[i], mine[i]);
	validate();
}

/* The pages of the forking thread's arena and of its locks that a fork
 * writes, in the parent or the child (its lock and its bins' locks: taken,
 * then released or re-initialised): a page whose frame changed since
 * before the fork. The locks are in the arenas' lock area, a mapping that
 * the fork does not share (MADV_WIPEONFORK): no page of the arena is
 * written (its first one or two, which held its locks, were, a fault and a
 * copy on each side), the parent keeps its lock pages (not
 * write-protected, nothing to copy) and the child has pages of its own.
 * In the child every lock of every arena made is an unlocked adaptive
 * mutex, and the thread counts are the forking thread's alone (they are
 * in the area too), with a second thread in its own arena in the parent. */
struct arena_holder {
	struct jm_arena *got;
	pthread_barrier_t made, forked;
};

static void *hold_arena(void *arg)
{
	struct arena_holder *h = arg;
	jm_free(jm_malloc(100));
	h->got = jm__thread_arena();
	pthread_barrier_wait(&h->made);
	pthread_barrier_wait(&h->forked);
	return NULL;
}

static int child_locks_state(struct jm_arena *mine)
{
	static const jm_lock_t unlocked = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
	if (jm__arena_live_threads() != 1)
		return 2;
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *a = jm__arenas[i];
		if (a == NULL)
			continue;
		if (memcmp(a->lock, &unlocked, sizeof(unlocked)) != 0)
			return 3;
		for (unsigned b = 0; b < JM_NBINS; b++)
			if (memcmp(a->bins[b].lock, &unlocked, sizeof(unlocked)) != 0)
				return 4;
	}
	void *q = jm_malloc(200);   /* takes the locks it needs */
	jm_free(q);
	/* The rows' counts as the child publishes them (owed until then:
	 * test_fork_child_arena_rows_owed). */
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *a = jm__arenas[i];
		if (a != NULL && a->stats->nthreads != (a == mine))
			return 5;
	}
	return q == NULL ? 6 : 0;
}

static size_t page_span(const void *lo, const void *hi, uintptr_t *first)
{
	*first = (uintptr_t)lo & ~(uintptr_t)JM_PAGE_MASK;
	return ((((uintptr_t)hi + JM_PAGE_MASK) & ~(uintptr_t)JM_PAGE_MASK) - *first) >> JM_LG_PAGE;
}

/* Each arena's locks begin a cache line of their own in the lock area: an
 * arena's lock shares no line with the last bin's lock of the arena
 * before it (1640 bytes of locks an arena: packed, the line of arena 0's
 * last bin lock held arena 1's lock, which the threads of another arena
 * take for every run and large region), nor with the thread counts. */
static void test_arena_locks_lines(void **state)
{
	(void)state;
	assert_true(jm__narenas > 1);
	for (unsigned i = 0; i < 2; i++) {
		struct jm_arena *a = jm__arena_get(i);
		assert_int_equal((uintptr_t)a->lock & 63, 0);
		for (unsigned b = 0; b < JM_NBINS; b++)
			assert_ptr_equal(a->bins[b].lock, a->lock + 1 + b);
	}
	uintptr_t last = (uintptr_t)(jm__arena_get(0)->bins[JM_NBINS - 1].lock + 1) - 1;
	assert_true(last >> 6 < (uintptr_t)jm__arena_get(1)->lock >> 6);
}

static void test_fork_arena_lock_pages(void **state)
{
	(void)state;
	void *p = jm_malloc(100);
	jm_free(p);
	struct jm_arena *a = jm__thread_arena();
	struct arena_holder h;
	pthread_barrier_init(&h.made, NULL, 2);
	pthread_barrier_init(&h.forked, NULL, 2);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, hold_arena, &h), 0);
	pthread_barrier_wait(&h.made);
	assert_ptr_not_equal(h.got, a);   /* premise: two arenas in use */
	uintptr_t alo, llo;
	size_t an = page_span(a, a + 1, &alo);
	size_t ln = page_span(a->lock, a->bins[JM_NBINS - 1].lock + 1, &llo);
	assert_true(an + ln <= MAX_FRAMES);
	uint64_t before[MAX_FRAMES], child[MAX_FRAMES], after[MAX_FRAMES];
	page_frames((void *)alo, an, before);
	page_frames((void *)llo, ln, before + an);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	if (pid == 0) {
		uint64_t frames[MAX_FRAMES];
		page_frames((void *)alo, an, frames);
		page_frames((void *)llo, ln, frames + an);
		ssize_t len = (ssize_t)((an + ln) * sizeof(frames[0]));
		if (write(fds[1], frames, (size_t)len) != len)
			_exit(1);
		_exit(child_locks_state(a));
	}
	assert_true(pid > 0);
	size_t len = (an + ln) * sizeof(child[0]);
	assert_int_equal(read(fds[0], child, len), (ssize_t)len);
	page_frames((void *)alo, an, after);
	page_frames((void *)llo, ln, after + an);
	assert_int_equal(wait_child(pid), 0);
	pthread_barrier_wait(&h.forked);
	assert_int_equal(pthread_join(t, NULL), 0);
	pthread_barrier_destroy(&h.made);
	pthread_barrier_destroy(&h.forked);
	close(fds[0]);
	close(fds[1]);
	if (before[0] == 0)
		skip();   /* frames are shown to root only */
	for (size_t i = 0; i < an; i++) {
		assert_int_equal(child[i], before[i]);
		assert_int_equal(after[i], before[i]);
	}
	for (size_t i = an; i < an + ln; i++) {
		assert_int_equal(after[i], before[i]);
		assert_int_not_equal(child[i], before[i]);
	}
	validate();
}

/* A child's publication maps the file's pages it goes on writing (the
 * header and arena rows, its arena's bin rows, its thread's row) at once,
 * instead of a page fault at its first write to each: present right after
 * it publishes, before anything touches them. */
/* addr's page's entry in /proc/self/pagemap (0 if it cannot be read). */
static uint64_t pagemap_entry(const void *addr)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t e = 0;
	if (fd >= 0) {
		if (pread(fd, &e, sizeof(e), (off_t)((uintptr_t)addr >> JM_LG_PAGE) * 8) != (ssize_t)sizeof(e))
			e = 0;
		close(fd);
	}
	return e;
}

static bool page_present(const void *addr)
{
	return (pagemap_entry(addr) >> 63) != 0;
}

static void test_fork_publish_maps_used_pages(void **state)
{
	(void)state;
	void *p = jm_malloc(100);
	jm_free(p);
	struct jm_arena *mine = jm__thread_arena();
	const struct jmstat_thread *row = jm__tcache_current_row();
	assert_non_null(row);
	pid_t pid = fork();
	if (pid == 0) {
		if (!jm__stats_pending)
			_exit(3);
		jm__stats_publish_child();
		int bad = 0;
		if (!page_present(jm__seg))
			bad |= 1;
		if (!page_present(jm__stats_bin_row(mine->index, JM_NBINS - 1)))
			bad |= 2;
		if (!page_present(row))
			bad |= 4;
		_exit(bad);
	}
	assert_true(pid > 0);
	assert_int_equal(wait_child(pid), 0);
	validate();
}

/* In a child, the rows of threads other than the forking one are out of
 * use, also the row the snapshot kept from an earlier fork of a thread
 * that has exited since (with the snapshot's pages moved into the child,
 * that row said in_use 1: a thread the child does not have): in the file
 * it publishes, and in its private copy where it cannot publish. The
 * child does not write those rows before it publishes: the snapshot's
 * thread-row pages stay shared with the parent until the publication
 * writes the file from them (the handler wrote in_use 0 there, a page
 * fault and a copy in every child of a process of more than one thread,
 * for a page the publication's mmap then threw away). */
static void *fork_once(void *arg)
{
	(void)arg;
	void *p = jm_malloc(100);   /* this thread's row */
	jm_free(p);
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	return (void *)(intptr_t)(pid > 0 ? wait_child(pid) : -1);
}

/* pagemap's bit 56: the page is mapped once only (not shared with the
 * parent). Shown to any user, where the frame is shown to root only. */
static bool page_exclusive(const void *addr)
{
	uint64_t e = pagemap_entry(addr);
	return (e >> 63) != 0 && ((e >> 56) & 1) != 0;
}

static int other_rows_in_use(void)
{
	const struct jmstat_thread *own = jm__tcache_current_row();
	const struct jmstat_header *h = jm__seg;
	int others = 0;
	for (unsigned i = 0; i < h->nthreads_hw; i++) {
		const struct jmstat_thread *row = (const struct jmstat_thread *)
		    ((const char *)h + h->thread_off + (size_t)i * h->thread_stride);
		if (row != own && row->in_use != 0)
			others++;
	}
	return others == 0 && own && own->in_use == 1 ? 0 : 1;
}

static void test_fork_child_rows_out_of_use(void **state)
{
	(void)state;
	void *p = jm_malloc(100);
	jm_free(p);
	pthread_t t;
	void *ret = NULL;
	assert_int_equal(pthread_create(&t, NULL, fork_once, NULL), 0);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_int_equal((intptr_t)ret, 0);
	/* Premise: the other thread's row is in the snapshot, in use. */
	assert_true(jm__seg->nthreads_hw >= 2);
	for (int publish = 1; publish >= 0; publish--) {
		pid_t pid = fork();
		if (pid == 0) {
			if (!jm__stats_pending)
				_exit(2);
			const struct jmstat_header *h = jm__seg;
			const char *lo = (const char *)h + h->thread_off;
			const char *hi = lo + (size_t)h->nthreads_hw * h->thread_stride;
			for (const char *a = lo; a < hi; a += JM_PAGE)
				if (page_exclusive(a))
					_exit(3);   /* written before the publication */
			if (!publish) {
				/* No descriptor to be had: no file. */
				struct rlimit rl = { 0, 0 };
				if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
					_exit(4);
			}
			jm__stats_publish_child();
			if (jm__stats_pending)
				_exit(5);
			_exit(other_rows_in_use());
		}
		assert_true(pid > 0);
		assert_int_equal(wait_child(pid), 0);
	}
	validate();
}

/* A forked child's arena rows count its parent's threads, and its header
 * says the parent's purger runs, until it publishes (stats.c, "owed"): the
 * handler wrote the counts a child has (1 for the forking thread's arena,
 * 0 for the others) and the purger's fields (0) into the snapshot's page
 * 0, shared with the parent, a page fault and a copy in every child of a
 * process of more than one thread or with a purger running, also one that
 * only execs. Now the page is as the fork left it until the publication, and
 * the counts are right in the file it publishes, in a child whose
 * publication fails, and in one whose rows another thread changes first
 * (a thread of its own that allocates). */
static int hold_fd[2], held_fd[2];

static void *hold_thread(void *arg)
{
	(void)arg;
	jm_free(jm_malloc(100));   /* counted in its arena's row */
	char c = 0;
	if (write(held_fd[1], &c, 1) != 1 || read(hold_fd[0], &c, 1) != 1)
		return (void *)1;
	return NULL;
}

static void *child_thread(void *arg)
{
	(void)arg;
	jm_free(jm_malloc(100));
	return NULL;
}

static uint64_t rows_nthreads(void)
{
	uint64_t n = 0;
	for (unsigned a = 0; a < jm__narenas; a++)
		n += jm__stats_arena_row(a)->nthreads;
	return n;
}

static void test_fork_child_arena_rows_owed(void **state)
{
	(void)state;
	jm_free(jm_malloc(100));
	assert_int_equal(pipe(hold_fd), 0);
	assert_int_equal(pipe(held_fd), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, hold_thread, NULL), 0);
	char c;
	assert_int_equal(read(held_fd[0], &c, 1), 1);
	/* Premises: the rows count both threads, and no purger runs (its
	 * end in the child writes the header's page too). */
	jm__bg_stop();
	assert_true(rows_nthreads() >= 2);
	assert_int_equal(jm__seg->bg_running, 0);
#if defined(__SANITIZE_THREAD__)
	/* The third, a thread started in the child of a process of several
	 * threads: ThreadSanitizer supports none ("starting new threads
	 * after multi-threaded fork is not supported", exit 0x58). */
	const int hows = 2;
#else
	const int hows = 3;
#endif
	for (int how = 0; how < hows; how++) {
		pid_t pid = fork();
		if (pid == 0) {
			if (!jm__stats_pending)
				_exit(2);
			if (page_exclusive(jm__seg))
				_exit(3);   /* written before the publication */
			if (how == 1) {
				/* No descriptor to be had: no file. */
				struct rlimit rl = { 0, 0 };
				if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
					_exit(4);
			}
			uint64_t want = 1;
			if (how == 2) {
				pthread_t ct;
				if (pthread_create(&ct, NULL, child_thread, NULL) != 0 ||
				    pthread_join(ct, NULL) != 0)
					_exit(5);
				want = 1;   /* its thread has ended */
			}
			jm__stats_publish_child();
			if (jm__stats_pending || jm__stats_owed != 0)
				_exit(6);
			_exit(rows_nthreads() == want ? 0 : 7);
		}
		assert_true(pid > 0);
		assert_int_equal(wait_child(pid), 0);
	}
	assert_int_equal(write(hold_fd[1], "x", 1), 1);
	void *ret = (void *)2;
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_null(ret);
	for (int i = 0; i < 2; i++) {
		close(hold_fd[i]);
		close(held_fd[i]);
	}
	/* One thread now, its rows' counts a child's already; the header
	 * says a purger runs (as a parent's with one does; a real one's end
	 * in the child is the same call, jm__bg_postfork_child): the child
	 * publishes 0 for both, and its handler wrote them before. */
	assert_int_equal(rows_nthreads(), 1);
	jm__seg->bg_running = 1;
	jm__seg->bg_wakes = 3;
	pid_t pid = fork();
	if (pid == 0) {
		if (page_exclusive(jm__seg))
			_exit(3);
		jm__stats_publish_child();
		if (jm__stats_pending || jm__stats_owed != 0)
			_exit(6);
		_exit(jm__seg->bg_running == 0 && jm__seg->bg_wakes == 0 && rows_nthreads() == 1 ? 0 : 8);
	}
	jm__seg->bg_running = 0;
	jm__seg->bg_wakes = 0;
	assert_true(pid > 0);
	assert_int_equal(wait_child(pid), 0);
	validate();
}

/* The calling thread's errno, found from the allocator's own thread-local
 * block (stats.c: a forked child's publication saves and restores errno
 * so, without __errno_location's page of libc), in this thread, in
 * another, and in a forked child's. */
int *jm__stats_errno_at(void);

static void *errno_here(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)(jm__stats_errno_at() == &errno);
}

static void test_errno_at(void **state)
{
	(void)state;
	jm_free(jm_malloc(100));
	assert_ptr_equal(jm__stats_errno_at(), &errno);
	pthread_t t;
	void *ret = NULL;
	assert_int_equal(pthread_create(&t, NULL, errno_here, NULL), 0);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_int_equal((intptr_t)ret, 1);
	pid_t pid = fork();
	if (pid == 0) {
		errno = 0;
#if defined(__SANITIZE_THREAD__)
		/* No thread started in the child of a process of several
		 * threads under ThreadSanitizer ("starting new threads after
		 * multi-threaded fork is not supported", exit 0x58). */
		ret = (void *)1;
#else
		if (pthread_create(&t, NULL, errno_here, NULL) != 0 || pthread_join(t, &ret) != 0)
			_exit(2);
#endif
		_exit(jm__stats_errno_at() == &errno && (intptr_t)ret == 1 ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(wait_child(pid), 0);
	/* A child's first allocation leaves errno as it was. */
	pid = fork();
	if (pid == 0) {
		errno = 1234;
		void *q = jm_malloc(100);
		int e = errno;
		jm_free(q);
		_exit(q != NULL && e == 1234 && !jm__stats_pending ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(wait_child(pid), 0);
}

/* fork() while another thread allocates a huge region: the child gets
 * the region's radix tree entry and its bytes in its arena's counters
 * together or neither. A third thread holds that arena's lock while the main
 * thread forks (prefork waits for the lock) and, after it, the allocating
 * thread gets there; when the lock is let go the fork goes first. The
 * entry used to be set before the lock was taken: the child had a region
 * counted nowhere, whose free wrapped allocated_huge below zero (the heap
 * validator in the child said so). */
struct huge_forker {
	struct jm_arena *a;
	pthread_barrier_t ready, go, locked;
	void *p;
};

static void *huge_in_fork(void *arg)
{
	struct huge_forker *f = arg;
	f->a = jm__thread_arena();
	pthread_barrier_wait(&f->ready);
	pthread_barrier_wait(&f->go);
	usleep(50 * 1000);           /* after the fork is waiting (if not: no test) */
	f->p = jm_malloc((size_t)192 << 20);   /* no kept region fits: mapped */
	return NULL;
}

/* The lock is this thread's: the fork handlers do not wait for a lock
 * the forking thread holds (a fork in a signal handler, init.c). */
static void *let_go(void *arg)
{
	struct huge_forker *f = arg;
	jm__lock(f->a->lock, &f->a->stats->lock_contended);
	pthread_barrier_wait(&f->locked);
	usleep(200 * 1000);
	jm__unlock(f->a->lock);
	return NULL;
}

static void test_fork_huge_counted(void **state)
{
	(void)state;
	struct huge_forker f;
	pthread_barrier_init(&f.ready, NULL, 2);
	pthread_barrier_init(&f.go, NULL, 2);
	pthread_barrier_init(&f.locked, NULL, 2);
	pthread_t t, u;
	assert_int_equal(pthread_create(&t, NULL, huge_in_fork, &f), 0);
	pthread_barrier_wait(&f.ready);
	assert_int_equal(pthread_create(&u, NULL, let_go, &f), 0);
	pthread_barrier_wait(&f.locked);
	pthread_barrier_wait(&f.go);
	pid_t pid = fork();
	if (pid == 0)
		_exit(jm__heap_validate() == 0 ? 0 : 1);
	assert_true(pid > 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(pthread_join(u, NULL), 0);
	pthread_barrier_destroy(&f.ready);
	pthread_barrier_destroy(&f.go);
	pthread_barrier_destroy(&f.locked);
	int st = -1;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_non_null(f.p);
	jm_free(f.p);
	validate();
}

/* A lock another thread holds with no owner written yet (glibc writes it
 * just after taking the lock; a thread preempted there stays so for as
 * long as the scheduler keeps it off the CPU): the fork handler waits for
 * it. After 20 ms of no owner it was taken for the forking thread's own,
 * left unlocked through the fork, and the child of an ordinary fork on a
 * loaded machine aborted at its first malloc ("a child forked by a signal
 * handler"). */
struct no_owner { jm_lock_t *l; pthread_barrier_t held; };
static void *hold_no_owner(void *arg)
{
	struct no_owner *n = arg;
	pthread_mutex_lock(n->l);
	int tid = (int)syscall(SYS_gettid);
	__atomic_store_n(&n->l->__data.__owner, 0, __ATOMIC_RELAXED);
	pthread_barrier_wait(&n->held);
	/* Preempted between taking it and the owner: runnable (R), not
	 * asleep (a sleeping thread cannot be there: init.c), for 150 ms. */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000000LL + (t.tv_nsec - t0.tv_nsec) < 150000000LL);
	__atomic_store_n(&n->l->__data.__owner, tid, __ATOMIC_RELAXED);
	usleep(20 * 1000);
	pthread_mutex_unlock(n->l);
	return NULL;
}

static void test_fork_lock_waits_for_no_owner(void **state)
{
	(void)state;
	static jm_lock_t l = PTHREAD_MUTEX_INITIALIZER;
	struct no_owner n = { &l, { { 0 } } };
	pthread_barrier_init(&n.held, NULL, 2);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, hold_no_owner, &n), 0);
	pthread_barrier_wait(&n.held);
	jm__fork_lock(&l);
	int owner = __atomic_load_n(&l.__data.__owner, __ATOMIC_RELAXED);
	if (owner != (int)syscall(SYS_gettid))
		fail_msg("the fork handler went on without the lock (owner %d): taken for its own", owner);
	jm__fork_unlock(&l);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&n.held);
}

/* A lock this thread holds with no owner (a fork from the handler of a
 * signal that landed between glibc's taking of the lock and its writing
 * of the owner, or its clearing and the release: the lock marked in the
 * thread, jm__tls_lock_op), while the process's other thread computes
 * (running or runnable, as one preempted in its own taking would be):
 * taken for this thread's at once, without a wait. 3a32077 waited 2 s for
 * any lock held with no owner (one fork in 20-30 of raw_fork.test.sh's
 * signal handlers did); d8f1618 only while another thread of the process
 * was running or runnable (/proc/self/task/TID/stat): beside this one,
 * 10,000 waits of 0.1 ms and more, its 2 s. */
static int own_spinner_tid;
static _Atomic int own_spinner_stop;
static void *own_spinner(void *arg)
{
	(void)arg;
	__atomic_store_n(&own_spinner_tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
	while (!atomic_load(&own_spinner_stop))
		;
	return NULL;
}

static char task_state(int tid)
{
	char path[64], buf[128];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return '?';
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *r = strrchr(buf, ')');
	return r && r[1] == ' ' ? r[2] : '?';
}

extern unsigned jm__test_fork_naps;
unsigned jm__test_fork_skipped_reset(void);
static void test_fork_lock_own_no_owner(void **state)
{
	(void)state;
	atomic_store(&own_spinner_stop, 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, own_spinner, NULL), 0);
	int tid;
	while ((tid = __atomic_load_n(&own_spinner_tid, __ATOMIC_ACQUIRE)) == 0)
		sched_yield();
	assert_int_equal(task_state(tid), 'R');   /* premise: it may run */
	static jm_lock_t l = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&l);
	__atomic_store_n(&l.__data.__owner, 0, __ATOMIC_RELAXED);   /* interrupted there */
	jm__tls_lock_op = &l;
	jm__test_fork_naps = 0;
	jm__fork_lock(&l);
	unsigned naps = jm__test_fork_naps;
	jm__tls_lock_op = NULL;
	assert_int_equal(jm__test_fork_skipped_reset(), 1);   /* taken for its own */
	if (naps != 0)
		fail_msg("the fork handler waited %u times for a lock of its own thread", naps);
	__atomic_store_n(&l.__data.__owner, (int)syscall(SYS_gettid), __ATOMIC_RELAXED);
	pthread_mutex_unlock(&l);
	atomic_store(&own_spinner_stop, 1);
	pthread_join(t, NULL);
}

/* A lock this thread waits for in pthread_mutex_lock (marked: it is in a
 * taking of it) while another thread holds it with no owner (between its
 * taking and its writing of the owner, preempted): a fork from the
 * handler of a signal that landed in the wait is not this thread's, and
 * waits for the other as for any other's. e4a21d0 took it for this
 * thread's at once: the fork went on while the other thread changed
 * what the lock keeps, and the child, tainted, aborted at its first
 * malloc. */
static jm_lock_t waited_l = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int waited_locking, waited_done;
static int waited_main_tid, waited_skipped, waited_owner;
static void waited_handler(int sig)
{
	(void)sig;
	jm__fork_lock(&waited_l);
	waited_owner = __atomic_load_n(&waited_l.__data.__owner, __ATOMIC_RELAXED);
	jm__fork_unlock(&waited_l);   /* unlocks only if it was taken */
	waited_skipped = (int)jm__test_fork_skipped_reset();
	atomic_store(&waited_done, 1);
}

static void *hold_while_waited(void *arg)
{
	pthread_t main_thread = *(pthread_t *)arg;
	pthread_mutex_lock(&waited_l);
	int tid = (int)syscall(SYS_gettid);
	__atomic_store_n(&waited_l.__data.__owner, 0, __ATOMIC_RELAXED);
	atomic_store(&waited_locking, 1);
	/* The main thread asleep in its taking (its only sleep after it
	 * said it was going there). */
	while (atomic_load(&waited_locking) != 2 || task_state(waited_main_tid) != 'S')
		sched_yield();
	pthread_kill(main_thread, SIGUSR1);
	/* No owner until the handler has looked: waited (a nap), or gone
	 * on without the lock. */
	while (!atomic_load(&waited_done) && __atomic_load_n(&jm__test_fork_naps, __ATOMIC_RELAXED) == 0)
		sched_yield();
	__atomic_store_n(&waited_l.__data.__owner, tid, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&waited_l);
	return NULL;
}

static void test_fork_lock_waited_not_own(void **state)
{
	(void)state;
#if defined(__SANITIZE_THREAD__)
	/* ThreadSanitizer runs a signal's handler when the thread leaves
	 * the call it is in: never inside pthread_mutex_lock's wait, where
	 * this one must run (the wait ends only after it ran: a hang). */
	skip();
#endif
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = waited_handler;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	atomic_store(&waited_locking, 0);
	atomic_store(&waited_done, 0);
	waited_main_tid = (int)syscall(SYS_gettid);
	jm__test_fork_naps = 0;
	jm__test_fork_skipped_reset();
	pthread_t self = pthread_self(), t;
	assert_int_equal(pthread_create(&t, NULL, hold_while_waited, &self), 0);
	while (!atomic_load(&waited_locking))
		sched_yield();
	atomic_store(&waited_locking, 2);
	pthread_mutex_lock(&waited_l);   /* waits; the handler runs in the wait */
	pthread_mutex_unlock(&waited_l);
	pthread_join(t, NULL);
	sigaction(SIGUSR1, &old, NULL);
	assert_true(atomic_load(&waited_done));
	if (waited_skipped != 0 || waited_owner != waited_main_tid)
		fail_msg("a lock another thread held with no owner, this thread waiting for it, was "
		         "taken for this thread's (owner %d, skipped %d)", waited_owner, waited_skipped);
}

/* The segment's bin rows of an arena not created yet are left untouched
 * (zero: readers take the class size from the class table), so that they
 * take no memory; an arena's creation writes them. */
static void test_unused_arena_rows(void **state)
{
	(void)state;
	unsigned unused = jm__narenas;
	for (unsigned i = 0; i < jm__narenas && unused == jm__narenas; i++)
		if (__atomic_load_n(&jm__arenas[i], __ATOMIC_ACQUIRE) == NULL)
			unused = i;
	assert_true(unused < jm__narenas);   /* premise: one is unused */
	assert_int_equal(jm__stats_arena_row(unused)->index, unused);
	static const struct jmstat_bin zero;
	for (unsigned b = 0; b < JM_NBINS; b++)
		assert_memory_equal(jm__stats_bin_row(unused, b), &zero, sizeof(zero));
	struct jm_arena *a = jm__arena_get(unused);
	for (unsigned b = 0; b < JM_NBINS; b++)
		assert_int_equal(jm__stats_bin_row(unused, b)->size, jm__bin_info[b].size);
	assert_ptr_equal(a->bins[0].stats, jm__stats_bin_row(unused, 0));
}

/* The thread, site and module tables start on pages of their own: the
 * main thread's row and the next one share one page, the first rows of
 * the sites and of the modules too (each page a table's first rows
 * straddled was one more fault and 4 KiB of every process). */
static void test_segment_tables_paged(void **state)
{
	(void)state;
	const struct jmstat_header *h = jm__seg;
	assert_int_equal(h->thread_off % JM_PAGE, 0);
	assert_true(2 * h->thread_stride <= JM_PAGE);
	if (h->nsites_max) {
		assert_int_equal(h->site_off % JM_PAGE, 0);
		assert_int_equal(h->module_off % JM_PAGE, 0);
	}
}

static struct jm_run *run_of(void *p)
{
	struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
	return jm__chunk_run(c, JM_PM_START(c->pagemap[((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE]));
}

/* jm__run_region, free's check of a region's start in a bin's flush,
 * agrees with division for every offset of every class's run. */
static void test_run_region_exact(void **state)
{
	(void)state;
	jm__ensure_init();
	for (unsigned b = 0; b < JM_NBINS; b++) {
		const struct jm_bin_info *bi = &jm__bin_info[b];
		uint32_t run_bytes = bi->run_pages << JM_LG_PAGE;
		for (uint32_t off = 0; off < run_bytes; off++) {
			uint64_t idx = ~0ull;
			bool start = jm__run_region(off, bi->div_magic, &idx);
			if (start != (off % bi->size == 0))
				fail_msg("class %u (%u B): offset %u", b, bi->size, off);
			if (start)
				assert_int_equal(idx, off / bi->size);
		}
	}
}

/* A bin's fill as an array: the list jm__bin_fill builds, taken apart
 * (cookies cleared, as regions handed out). */
static unsigned fill_array(struct jm_arena *a, unsigned b, void **out, unsigned n)
{
	uintptr_t head = 0;
	unsigned got = jm__bin_fill(a, b, &head, n);
	for (unsigned i = 0; i < got; i++) {
		out[i] = (void *)head;
		head = (uintptr_t)jm__flist_next(out[i]);
		jm__flist_clear_cookie_c(out[i], b == 0);
	}
	assert_int_equal(head, 0);
	return got;
}

/* A fill links its regions into the free list in front of what the list
 * held, lowest address first, each marked free by its cookie; the bin's
 * bitmap and counters account for every one. */
static void test_bin_fill_list(void **state)
{
	(void)state;
	jm__ensure_init();
	unsigned self = jm__thread_arena()->index;
	struct jm_arena *a = jm__arena_get((self + 1) % jm__narenas);
	for (unsigned b = 0; b < JM_NBINS; b++) {
		const struct jm_bin_info *bi = &jm__bin_info[b];
		struct jmstat_bin *st = a->bins[b].stats;
		uint64_t curregs = st->curregs, nfills = st->nfills;
		/* More than a run, so that the list crosses runs. */
		unsigned n = bi->regs + bi->regs / 2 + 1;
		void *old = jm__bin_alloc_one(a, b);
		uintptr_t head = 0;
		jm__flist_push_c(&head, old, b == 0);
		assert_int_equal(jm__bin_fill(a, b, &head, n), n);
		assert_int_equal(st->curregs - curregs, n + 1);
		assert_int_equal(st->nfills - nfills, 1);
		void **got = calloc(n, sizeof(void *));
		uintptr_t p = head;
		for (unsigned i = 0; i < n; i++) {
			assert_true(p != 0);
			got[i] = (void *)p;
			assert_true(jm__flist_is_free_c(got[i], b == 0));
			if (i && run_of(got[i]) == run_of(got[i - 1]))
				assert_true((char *)got[i] > (char *)got[i - 1]);
			p = (uintptr_t)jm__flist_next(got[i]);
		}
		assert_ptr_equal((void *)p, old);
		assert_null(jm__flist_next(old));
		/* Each one in use in its run: freeing them all balances. */
		for (unsigned i = 0; i < n; i++)
			jm__flist_clear_cookie_c(got[i], b == 0);
		jm__flist_clear_cookie_c(old, b == 0);
		got = realloc(got, (n + 1) * sizeof(void *));
		got[n] = old;
		jm__bin_free_batch(got, n + 1, b);
		assert_int_equal(st->curregs, curregs);
		validate();
		free(got);
	}
}

/* A fill takes the bitmaps' bits under the bin's lock and links the
 * regions after it, from at most JM_FILL_PIECES bitmap words: from runs
 * whose free regions are one per word, it returns that many, the lowest
 * address of each run first, then the next fill the rest. */
static void test_bin_fill_scattered(void **state)
{
	(void)state;
	jm__ensure_init();
	assert_true(jm__narenas > 3);
	struct jm_arena *a = jm__arena_get((jm__thread_arena()->index + 3) % jm__narenas);
	unsigned b = jm__size2bin(16);
	const struct jm_bin_info *bi = &jm__bin_info[b];
	assert_null(a->bins[b].cur);          /* premise: a bin not used yet */
	unsigned words = (bi->regs + 63) / 64;
	unsigned nruns = JM_FILL_PIECES / words + 4, n = nruns * bi->regs;
	void **p = calloc(n, sizeof(void *)), **back = calloc(n, sizeof(void *));
	for (unsigned got = 0; got < n;)
		got += fill_array(a, b, p + got, n - got);
	/* One region of each bitmap word back: the first. */
	unsigned nback = 0, nkept = 0;
	for (unsigned i = 0; i < n; i++) {
		uintptr_t base = (uintptr_t)jm__run_addr(
		    (struct jm_chunk *)((uintptr_t)p[i] & ~(uintptr_t)JM_CHUNK_MASK), run_of(p[i]));
		if (((uintptr_t)p[i] - base) / bi->size % 64 == 0)
			back[nback++] = p[i];
		else
			p[nkept++] = p[i];
	}
	assert_int_equal(nback, nruns * words);
	jm__bin_free_batch(back, nback, b);
	uintptr_t head = 0;
	assert_int_equal(jm__bin_fill(a, b, &head, n), JM_FILL_PIECES);
	void **listed = calloc(nback, sizeof(void *));
	unsigned k = 0;
	for (uintptr_t q = head; q; q = (uintptr_t)jm__flist_next((void *)q), k++) {
		assert_true(k < JM_FILL_PIECES);
		assert_true(jm__flist_is_free((void *)q));
		bool found = false;
		for (unsigned i = 0; i < nback && !found; i++)
			found = back[i] == (void *)q;
		assert_true(found);
		if (k && run_of((void *)q) == run_of(listed[k - 1]))
			assert_true((void *)q > listed[k - 1]);
		listed[k] = (void *)q;
	}
	assert_int_equal(k, JM_FILL_PIECES);
	for (unsigned i = 0; i < k; i++)
		jm__flist_clear_cookie(listed[i]);
	/* The others of them, before any new run. */
	assert_int_equal(fill_array(a, b, listed + k, nback - k), nback - k);
	for (unsigned j = k; j < nback; j++) {
		bool found = false;
		for (unsigned i = 0; i < nback && !found; i++)
			found = back[i] == listed[j];
		assert_true(found);
	}
	jm__bin_free_batch(listed, nback, b);
	jm__bin_free_batch(p, nkept, b);
	assert_int_equal(a->bins[b].stats->curregs, 0);
	validate();
	free(p);
	free(back);
	free(listed);
}

/* A fill takes the lowest free regions of a bitmap word first, whatever
 * their pattern: of a word whose free regions are scattered (every third),
 * the lowest few (found from the bottom), then all but the highest two
 * (the highest ones cleared instead), then the last two; of a word wholly
 * free, the lowest ten, the next twenty, then the rest. */
static void test_bin_fill_lowest_first(void **state)
{
	(void)state;
	jm__ensure_init();
	assert_true(jm__narenas > 3);
	struct jm_arena *a = jm__arena_get((jm__thread_arena()->index + 3) % jm__narenas);
	unsigned b = jm__size2bin(32);
	const struct jm_bin_info *bi = &jm__bin_info[b];
	assert_null(a->bins[b].cur);          /* premise: a bin not used yet */
	assert_true(bi->regs >= 128);
	void **p = calloc(bi->regs, sizeof(void *)), **got = calloc(bi->regs, sizeof(void *));
	assert_int_equal(fill_array(a, b, p, bi->regs), bi->regs);
	struct jm_run *r = run_of(p[0]);
	assert_ptr_equal(a->bins[b].cur, r);   /* all of one run, in order */
	for (unsigned i = 1; i < bi->regs; i++)
		assert_true((char *)p[i] == (char *)p[0] + (size_t)i * bi->size);
	/* Word 0: every third region back; word 1: all of it. */
	void **back = calloc(bi->regs, sizeof(void *));
	unsigned nback = 0;
	for (unsigned i = 0; i < 64; i += 3)
		back[nback++] = p[i];
	for (unsigned i = 64; i < 128; i++)
		back[nback++] = p[i];
	jm__bin_free_batch(back, nback, b);
	static const unsigned takes[] = { 5, 15, 2, 10, 20, 34 };
	unsigned next = 0;     /* index in p of the next region expected */
	for (unsigned t = 0; t < sizeof(takes) / sizeof(takes[0]); t++) {
		assert_int_equal(fill_array(a, b, got, takes[t]), takes[t]);
		for (unsigned i = 0; i < takes[t]; i++) {
			if (next < 64 && next % 3)
				next += 3 - next % 3;
			if (got[i] != p[next])
				fail_msg("fill %u, region %u: %p, expected %p (region %u of the run)",
				    t, i, got[i], p[next], next);
			next++;
		}
	}
	assert_int_equal(next, 128);
	jm__bin_free_batch(p, bi->regs, b);
	assert_int_equal(a->bins[b].stats->curregs, 0);
	validate();
	free(p);
	free(got);
	free(back);
}

/* The runs a flush empties go back to the arena together: one lock of
 * it, one update of its row (its sequence number moves by 2, not 2 per
 * run), every run's pages off its active ones. */
static void test_flush_gives_back_once(void **state)
{
	(void)state;
	jm__ensure_init();
	unsigned self = jm__thread_arena()->index;
	struct jm_arena *a = jm__arena_get((self + 1) % jm__narenas);
	const unsigned b = 3;   /* 64 B */
	const struct jm_bin_info *bi = &jm__bin_info[b];
	unsigned nruns = 6, n = nruns * bi->regs;
	void **p = calloc(n, sizeof(void *));
	for (unsigned got = 0; got < n;)
		got += fill_array(a, b, p + got, n - got);
	uint32_t seq = a->stats->seq;
	uint64_t npurge = a->stats->npurge, active = a->stats->active;
	uint64_t curruns = a->bins[b].stats->curruns;
	jm__bin_free_batch(p, n, b);
	/* All but the current run and one kept empty went back. */
	uint64_t back = curruns - a->bins[b].stats->curruns;
	assert_true(back >= nruns - 2);
	assert_int_equal(active - a->stats->active, back * bi->run_pages * JM_PAGE);
	if (a->stats->npurge == npurge)   /* no purge took the lock again */
		assert_int_equal(a->stats->seq - seq, 2);
	validate();
	free(p);
}

/* A bin whose runs are full reuses the run it emptied last (its pages
 * resident) before taking any other: with a spare run taken ahead (and
 * kept as the bin's empty run), the emptied run went back to the arena
 * and the spare's fresh pages were faulted in instead (alloc-test's peak
 * RSS 34.1 -> 37.4 MiB, faults 8.2k -> 9.0k). */
static void test_bin_reuses_emptied_run(void **state)
{
	(void)state;
	jm__ensure_init();
	assert_true(jm__narenas > 3);
	struct jm_arena *a = jm__arena_get((jm__thread_arena()->index + 3) % jm__narenas);
	unsigned classes[] = { jm__size2bin(64), jm__size2bin(512) };
	for (unsigned i = 0; i < 2; i++) {
		unsigned b = classes[i];
		const struct jm_bin_info *bi = &jm__bin_info[b];
		struct jm_bin *bin = &a->bins[b];
		assert_null(bin->cur);          /* premise: a bin not used yet */
		unsigned n = 5 * bi->regs;
		void **p = calloc(n + 1, sizeof(void *));
		for (unsigned got = 0; got < n;)
			got += fill_array(a, b, p + got, n - got);
		assert_int_equal(bin->cur->nfree, 0);
		struct jm_run *first = run_of(p[0]);
		jm__bin_free_batch(p, bi->regs, b);      /* the first run empties */
		p[n] = jm__bin_alloc_one(a, b);
		assert_ptr_equal(run_of(p[n]), first);
		jm__bin_free_batch(p + bi->regs, n + 1 - bi->regs, b);
		validate();
		free(p);
	}
}

/* A flush that meets a region whose run went back to the arena (a region
 * freed twice, the second time after a write cleared its free mark, its
 * run emptied between the two flushes) reports a double free: the flush
 * tells a run's state by its page-map word, 0 once the run is free (and
 * another class's or a large run's once its pages are taken again). In a
 * child, which must die of SIGABRT, with and without the prefetching
 * cursor of a scattered list; without the test, the region was put in
 * whatever the freed run's record held. */
static int flush_dies(void *p, unsigned b, bool scattered)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 2);
		((uintptr_t *)p)[0] = 0;   /* a list of one */
		jm__bin_free_list(p, b, scattered);
		_exit(0);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void test_flush_freed_run(void **state)
{
	(void)state;
	jm__ensure_init();
	assert_true(jm__narenas > 4);
	struct jm_arena *a = jm__arena_get((jm__thread_arena()->index + 4) % jm__narenas);
	const unsigned b = jm__size2bin(64);
	const struct jm_bin_info *bi = &jm__bin_info[b];
	unsigned n = 4 * bi->regs;
	void **p = calloc(n, sizeof(void *));
	for (unsigned got = 0; got < n;)
		got += fill_array(a, b, p + got, n - got);
	jm__bin_free_batch(p, n, b);
	/* A region whose run went back (all but the current run and one
	 * kept empty did). */
	void *freed = NULL;
	for (unsigned i = 0; i < n && !freed; i++) {
		struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p[i] & ~(uintptr_t)JM_CHUNK_MASK);
		if (c->pagemap[((uintptr_t)p[i] & JM_CHUNK_MASK) >> JM_LG_PAGE] == JM_PM_NONE)
			freed = p[i];
	}
	assert_non_null(freed);
	assert_int_equal(flush_dies(freed, b, false), 1);
	assert_int_equal(flush_dies(freed, b, true), 1);
	validate();
	free(p);
}

/* A region freed twice through flushes (its cookie cleared between, as a
 * write after free does) is reported by both loops of a flush, at its own
 * address: its bit in the run's bitmap was set. The loop of a scattered
 * list keeps each region's run record and offset, not the region, and
 * names the region from them: a region past its run's first page too. In
 * a child, which must die of SIGABRT; its stderr in msg. */
static size_t run_offset(void *p)
{
	struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
	return (size_t)((char *)p - (char *)jm__run_addr(c, run_of(p)));
}

static int flush_report(void *p, unsigned b, bool scattered, char *msg, size_t len)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		((uintptr_t *)p)[0] = 0;   /* a list of one */
		jm__bin_free_list(p, b, scattered);
		_exit(0);
	}
	read_child(fds, msg, len);
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void test_flush_double_free_named(void **state)
{
	(void)state;
	jm__ensure_init();
	assert_true(jm__narenas > 3);
	struct jm_arena *a = jm__arena_get((jm__thread_arena()->index + 3) % jm__narenas);
	static const size_t sizes[] = { 8, 16, 48, 1280 };   /* 8: class 0, 512 a run */
	bool past_first = false;
	for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		const unsigned b = jm__size2bin(sizes[s]);
		const struct jm_bin_info *bi = &jm__bin_info[b];
		unsigned n = 2 * bi->regs;
		void **p = calloc(n, sizeof(void *));
		for (unsigned got = 0; got < n;)
			got += fill_array(a, b, p + got, n - got);
		/* The region furthest into its run. */
		unsigned v = 0;
		for (unsigned i = 1; i < n; i++)
			if (run_offset(p[i]) > run_offset(p[v]))
				v = i;
		void *victim = p[v];
		past_first |= run_offset(victim) >= JM_PAGE;
		jm__bin_free_batch(&victim, 1, b);   /* freed once */
		char want[64], msg[512];
		snprintf(want, sizeof want, "double free of a small region: %p", victim);
		for (int scattered = 0; scattered < 2; scattered++) {
			assert_int_equal(flush_report(victim, b, scattered, msg, sizeof msg), 1);
			if (strstr(msg, want) == NULL)
				fail_msg("class %u, %s: '%s', not '%s'", b, scattered ? "scattered" : "neighbours",
				    msg, want);
		}
		p[v] = p[n - 1];
		jm__bin_free_batch(p, n - 1, b);
		validate();
		free(p);
	}
	assert_true(past_first);
}

/* A pointer inside a live region, met by a flush, is reported at its own
 * address by both loops: the scattered one checks it as it gathers (its
 * offset's product with div_magic), not as it marks. In a child. */
static void test_flush_interior_named(void **state)
{
	(void)state;
	jm__ensure_init();
	assert_true(jm__narenas > 3);
	struct jm_arena *a = jm__arena_get((jm__thread_arena()->index + 3) % jm__narenas);
	static const size_t sizes[] = { 16, 48, 1280 };
	for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		const unsigned b = jm__size2bin(sizes[s]);
		void *p[4];
		unsigned n = 0;
		while (n < 4)
			n += fill_array(a, b, p + n, 4 - n);
		void *inside = (char *)p[2] + 8;
		char want[80], msg[512];
		snprintf(want, sizeof want, "free of a pointer inside a small region: %p", inside);
		for (int scattered = 0; scattered < 2; scattered++) {
			assert_int_equal(flush_report(inside, b, scattered, msg, sizeof msg), 1);
			if (strstr(msg, want) == NULL)
				fail_msg("class %u, %s: '%s', not '%s'", b, scattered ? "scattered" : "neighbours",
				    msg, want);
		}
		jm__bin_free_batch(p, 4, b);
		validate();
	}
}

/* The validator walks the calling thread's cache lists, class 0's tagged
 * ones as the others: each corruption of a class-0 list below is found,
 * and a 16 B region's cleared cookie (the validator before walked no
 * cache, and found none of them); each list put back passes again. */
static void test_validate_tcache_class0(void **state)
{
	(void)state;
	jm__ensure_init();
	void *v[16];
	for (unsigned i = 0; i < 16; i++)
		assert_non_null(v[i] = jm_malloc(8));
	for (unsigned i = 0; i < 16; i++)
		jm_free(v[i]);
	struct jmstat_tcache_bin *tb = &jm__tls_tbins[0];
	assert_true(jm__tb_ncached(tb) >= 16);
	uintptr_t *h = (uintptr_t *)*jm__tb_head(tb), *s = jm__flist_next(h);
	assert_non_null(s);
	validate();
	/* A loop: the second region links back to the first. */
	uintptr_t saved = s[0];
	s[0] = (uintptr_t)h | jm__flist0_tag(s);
	assert_true(jm__heap_validate() > 0);
	s[0] = saved;
	validate();
	/* The first region's tag cleared (a write after free). */
	saved = h[0];
	h[0] &= JM_FLIST_PTR;
	assert_true(jm__heap_validate() > 0);
	h[0] = saved;
	/* A count that does not match the list. */
	jm__tb_inc(tb);
	assert_true(jm__heap_validate() > 0);
	jm__tb_dec(tb);
	validate();
	/* A 16 B region on the 8 B list. */
	void *q = jm_malloc(16);
	assert_non_null(q);
	jm__flist0_push(jm__tb_head(tb), q);
	jm__tb_inc(tb);
	assert_true(jm__heap_validate() > 0);
	assert_ptr_equal(jm__flist0_pop(jm__tb_head(tb)), q);
	jm__tb_dec(tb);
	jm_free(q);
	validate();
	/* A region in the list and free in its run too (freed twice). */
	void *r = jm__flist0_pop(jm__tb_head(tb));
	jm__tb_dec(tb);
	jm__bin_free_batch(&r, 1, 0);
	jm__flist0_push(jm__tb_head(tb), r);
	jm__tb_inc(tb);
	assert_true(jm__heap_validate() > 0);
	assert_ptr_equal(jm__flist0_pop(jm__tb_head(tb)), r);
	jm__tb_dec(tb);
	validate();
	/* The row malloc's fast path takes for sizes up to 8 not empty. */
	*jm__tb_head(&jm__tls_tbins[JM_NBINS]) = (uintptr_t)h;
	assert_true(jm__heap_validate() > 0);
	*jm__tb_head(&jm__tls_tbins[JM_NBINS]) = 0;
	validate();
	/* And a 16 B region whose cookie a write after free cleared. */
	void *w[4];
	for (unsigned i = 0; i < 4; i++)
		assert_non_null(w[i] = jm_malloc(16));
	for (unsigned i = 0; i < 4; i++)
		jm_free(w[i]);
	uintptr_t *f = (uintptr_t *)*jm__tb_head(&jm__tls_tbins[1]);
	saved = f[1];
	f[1] = 0;
	assert_true(jm__heap_validate() > 0);
	f[1] = saved;
	validate();
}

/* A flush of a list given whole (links and cookies written here), in a
 * child that must die of SIGABRT; its stderr in msg. With loop >= 0, the
 * list's last region links back to v[loop] (a region twice in one list,
 * as a write after free that cleared its free mark and a second free
 * make). */
static int list_report(void **v, unsigned n, int loop, unsigned b, bool scattered, char *msg,
    size_t len)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		alarm(10);   /* a flush that misses the misuse of a loop */
		uintptr_t list = 0, *tail = &list;
		for (unsigned i = 0; i < n; i++)
			tail = jm__flist_append_c(tail, v[i], jm__cookie, b == 0);
		jm__flist_end(tail, loop >= 0 ? (uintptr_t)v[loop] : 0, b == 0);
		jm__bin_free_list((void *)list, b, scattered);
		_exit(0);
	}
	read_child(fds, msg, len);
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

/* Each misuse a flush finds is reported at the bad region's own address
 * wherever the region falls in a scattered flush's batches of 64
 * (FLUSH_BATCH, bin.c; 32 until session 33: the 1st, 8th, 32nd, 33rd,
 * 64th, 65th or 66th of a list of 72, the other regions each in a run of
 * their own), and the same by the loop of neighbours:
 * a region freed already (its bit set); a pointer 8 bytes into a region
 * (its offset); a region of another class (its page-map word); a region
 * twice, 4 regions apart (the list's last links back to it: in one
 * batch, or in two); a region freed already whose run
 * the region before it emptied, in the same batch or the batch before
 * (the emptied run is kept or on its way back to the arena, its record
 * still read). */
enum { BAD_FREED, BAD_INSIDE, BAD_CLASS, BAD_TWICE, BAD_EMPTIED, BAD_KINDS };

static void test_flush_misuse_batch_slots(void **state)
{
	(void)state;
	jm__ensure_init();
	assert_true(jm__narenas > 3);
	struct jm_arena *a = jm__arena_get((jm__thread_arena()->index + 3) % jm__narenas);
	static const size_t sizes[] = { 16, 64, 1280 };
	static const unsigned slots[] = { 0, 7, 31, 32, 63, 64, 65 };
	const unsigned nslots = sizeof slots / sizeof slots[0], nfill = 72;
	const unsigned other = jm__size2bin(256);
	for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		const unsigned b = jm__size2bin(sizes[s]);
		const struct jm_bin_info *bi = &jm__bin_info[b];
		assert_true(bi->regs >= 2);
		/* nfill + 2 full runs: one region of each of the first nfill
		 * in the list, the last two runs for the victims. */
		unsigned n = (nfill + 2) * bi->regs + bi->regs;
		void **p = calloc(n, sizeof(void *));
		for (unsigned got = 0; got < n;)
			got += fill_array(a, b, p + got, n - got);
		struct jm_run *seen[80];
		unsigned nseen = 0;
		void *fill[72];
		void *vfree = NULL, *vempty_last = NULL, *vempty_freed = NULL;
		for (unsigned i = 0; i < n; i++) {
			struct jm_run *r = run_of(p[i]);
			if (r->nfree != 0 || r == a->bins[b].cur)
				continue;
			unsigned j = 0;
			while (j < nseen && seen[j] != r)
				j++;
			if (j < nseen)
				continue;
			seen[nseen++] = r;
			if (nseen <= nfill)
				fill[nseen - 1] = p[i];
			else if (nseen == nfill + 1)
				vfree = p[i];
			else if (nseen == nfill + 2) {
				vempty_last = p[i];
				break;
			}
		}
		assert_non_null(vempty_last);
		/* vempty_last's run all freed but vempty_last and one
		 * other, which is freed last (twice, in the child). */
		struct jm_run *re = run_of(vempty_last);
		void **rest = calloc(n, sizeof(void *));
		unsigned nrest = 0;
		for (unsigned i = 0; i < n; i++)
			if (run_of(p[i]) == re && p[i] != vempty_last) {
				if (vempty_freed == NULL)
					vempty_freed = p[i];
				else
					rest[nrest++] = p[i];
			}
		assert_int_equal(nrest, bi->regs - 2);
		jm__bin_free_batch(rest, nrest, b);
		jm__bin_free_batch(&vempty_freed, 1, b);
		jm__bin_free_batch(&vfree, 1, b);
		assert_int_equal(re->nfree, bi->regs - 1);
		void *wrong = jm__bin_alloc_one(a, other);
		assert_non_null(wrong);
		validate();
		for (unsigned k = 0; k < BAD_KINDS; k++)
			for (unsigned t = 0; t < nslots; t++) {
				unsigned at = slots[t];
				void *v[72];
				void *bad;
				unsigned len = nfill;
				int loop = -1;
				for (unsigned i = 0; i < len; i++)
					v[i] = fill[i];
				switch (k) {
				case BAD_FREED: bad = v[at] = vfree; break;
				case BAD_INSIDE: bad = v[at] = (char *)v[at] + 8; break;
				case BAD_CLASS: bad = v[at] = wrong; break;
				case BAD_TWICE:
					bad = v[at];
					len = at + 4;
					loop = (int)at;
					break;
				default:
					/* Its run emptied by the region before it:
					 * in the batch before at the 65th, in the
					 * same batch at the others. */
					if (at == 0)
						continue;
					v[at - 1] = vempty_last;
					bad = v[at] = vempty_freed;
					break;
				}
				char want[96], msg[512];
				snprintf(want, sizeof want, "%s a small region: %p",
				    k == BAD_INSIDE ? "free of a pointer inside" : "double free of", bad);
				for (int scattered = 0; scattered < 2; scattered++) {
					assert_int_equal(list_report(v, len, loop, b, scattered, msg,
					    sizeof msg), 1);
					if (strstr(msg, want) == NULL)
						fail_msg("class %u, kind %u, slot %u, %s: '%s', not '%s'", b, k, at,
						    scattered ? "scattered" : "neighbours", msg, want);
				}
			}
		/* Everything back but what is free already. */
		unsigned m = 0;
		for (unsigned i = 0; i < n; i++)
			if (p[i] != vfree && p[i] != vempty_freed && run_of(p[i]) != re)
				p[m++] = p[i];
		p[m++] = vempty_last;
		jm__bin_free_batch(p, m, b);
		jm__bin_free_batch(&wrong, 1, other);
		validate();
		free(rest);
		free(p);
	}
}

/* A scattered flush settles every run right, whatever falls in one batch
 * of 64 (FLUSH_BATCH): two or more regions of a run, a full run that gets
 * one back and then empties, a run emptied at a batch's 64th region and
 * another at the next one's 1st; its counters exact after each flush, the
 * heap valid after every 4th and the last. Lists of 1 to 80 regions, cut
 * from shuffles of 2, 3 and 4 runs' regions (a fixed seed). */
static void test_flush_scattered_settles(void **state)
{
	(void)state;
	jm__ensure_init();
	assert_true(jm__narenas > 3);
	struct jm_arena *a = jm__arena_get((jm__thread_arena()->index + 3) % jm__narenas);
	static const size_t sizes[] = { 16, 64, 256, 1280 };
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		const unsigned b = jm__size2bin(sizes[s]);
		const struct jm_bin_info *bi = &jm__bin_info[b];
		struct jmstat_bin *st = a->bins[b].stats;
		for (unsigned round = 0, flushes = 0; round < 3; round++) {
			uint64_t curregs = st->curregs, ndalloc = st->ndalloc;
			unsigned n = (2 + round) * bi->regs;
			void **p = calloc(n, sizeof(void *));
			for (unsigned got = 0; got < n;)
				got += fill_array(a, b, p + got, n - got);
			for (unsigned i = n - 1; i > 0; i--) {
				seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
				unsigned j = (unsigned)((seed >> 33) % (i + 1));
				void *t = p[i];
				p[i] = p[j];
				p[j] = t;
			}
			for (unsigned i = 0; i < n;) {
				seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
				unsigned k = 1 + (unsigned)((seed >> 33) % 80);
				if (k > n - i)
					k = n - i;
				jm__bin_free_batch(p + i, k, b);
				i += k;
				assert_int_equal(st->ndalloc - ndalloc, i);
				assert_int_equal(curregs + n - st->curregs, i);
				if (++flushes % 4 == 0 || i == n)
					validate();   /* the heap walk is most of the time */
			}
			assert_int_equal(st->curregs, curregs);
			free(p);
		}
	}
}

/* A thread cache's flush (jm__bin_free_batch) settles each run once for
 * the regions of it that follow one another: a full run that gets some
 * back joins the non-full list (the next region comes from it), runs that
 * empty are kept (one) or given back, the counters are exact, also when
 * the batch mixes two arenas and alternates between runs. */
static void test_bin_free_batch(void **state)
{
	(void)state;
	jm__ensure_init();
	assert_true(jm__narenas > 2);
	unsigned self = jm__thread_arena()->index;
	struct jm_arena *a = jm__arena_get((self + 1) % jm__narenas);
	struct jm_arena *a2 = jm__arena_get((self + 2) % jm__narenas);
	for (unsigned b = 0; b < JM_NBINS; b++) {
		const struct jm_bin_info *bi = &jm__bin_info[b];
		unsigned n = bi->regs * 3, m = bi->regs * 2;
		void **p = calloc(n + bi->regs + m, sizeof(void *));
		struct jmstat_bin *st = a->bins[b].stats, *st2 = a2->bins[b].stats;
		struct jmstat_bin s0 = *st, s20 = *st2;
		for (unsigned got = 0; got < n;)
			got += fill_array(a, b, p + got, n - got);
		/* The current run full too. */
		unsigned extra = 0;
		while (a->bins[b].cur->nfree)
			p[n + extra++] = jm__bin_alloc_one(a, b);
		struct jm_run *r = run_of(p[0]);
		assert_ptr_not_equal(r, a->bins[b].cur);
		assert_int_equal(r->nfree, 0);
		/* Half of r's regions (p holds all of r's), scrambled. */
		void **batch = calloc(n + bi->regs + m, sizeof(void *));
		unsigned k = 0;
		for (unsigned i = 0; i < n; i++)
			if (run_of(p[i]) == r && (i % 2 == 1 || bi->regs == 1))
				batch[k++] = p[i], p[i] = NULL;
		unsigned half = k;
		for (unsigned i = 0; i + 1 < half; i += 2) {
			void *t = batch[i];
			batch[i] = batch[half - 1 - i];
			batch[half - 1 - i] = t;
		}
		jm__bin_free_batch(batch, half, b);
		assert_int_equal(st->ndalloc - s0.ndalloc, half);
		assert_int_equal(st->nflushes - s0.nflushes, 1);
		validate();
		if (bi->regs > 1) {
			assert_int_equal(r->nfree, half);
			void *q = jm__bin_alloc_one(a, b);
			assert_ptr_equal(run_of(q), r);
			batch[0] = q;
			jm__bin_free_batch(batch, 1, b);
		}
		/* Everything else in one batch, the runs alternating, with
		 * regions of a second arena among them. */
		unsigned m2 = 0;
		for (unsigned got = 0; got < m;)
			got += fill_array(a2, b, p + n + extra + got, m - got);
		k = 0;
		unsigned total = n + extra + m, stride = bi->regs + 1;
		while (gcd(total, stride) != 1)
			stride++;
		for (unsigned i = 0, j = 0; j < total; j++, i = (i + stride) % total)
			if (p[i]) {
				batch[k++] = p[i];
				if (i >= n + extra)
					m2++;
			}
		assert_int_equal(m2, m);
		jm__bin_free_batch(batch, k, b);
		assert_int_equal(st->curregs, s0.curregs);
		assert_int_equal(st2->curregs, s20.curregs);
		assert_int_equal(st->ndalloc - s0.ndalloc, n + extra + (bi->regs > 1));
		assert_int_equal(st2->ndalloc - s20.ndalloc, m);
		assert_int_equal(st2->nflushes - s20.nflushes, 1);
		assert_true(st->curruns <= 2);  /* the current run and one empty */
		assert_true(st2->curruns <= 2);
		validate();
		free(p);
		free(batch);
	}
}

/* A thread cache's flush: a list that served no allocation since its last
 * flush is flushed whole (the thread only frees there: a batch twice as
 * big, nothing kept); one that served some keeps half. Each free is
 * watched. The thread reports, the test's thread asserts. */
struct flush_policy {
	unsigned flushes, whole;     /* flushes of a frees-only stream, whole ones */
	uint32_t max, after;         /* capacity, list after the last flush */
	bool started;
};
static void *flush_policy_thread(void *arg)
{
	struct flush_policy *f = arg;
	const unsigned b = 3;   /* 64 B */
	size_t size = jm__bin_info[b].size;
	unsigned n = 16 * jm__bin_info[b].tcache_hard_max;
	void **v = calloc(n, sizeof(void *));
	for (unsigned i = 0; i < n; i++)
		v[i] = jm_malloc(size);
	struct jmstat_tcache_bin *tb = &jm__tls_tbins[b];
	f->started = tb->ncached_max > 0;
	/* Frees only: after the flush that follows the fills (which may
	 * grow the capacity instead), every flush empties the list. */
	unsigned i = 0;
	for (; i < n / 2; i++) {
		uint32_t before = jm__tb_ncached(tb), max = tb->ncached_max;
		jm_free(v[i]);
		if (jm__tb_ncached(tb) < before && max == tb->ncached_max) {
			f->flushes++;
			if (jm__tb_ncached(tb) == 1)
				f->whole++;
		}
	}
	/* An allocation between two flushes: the next one keeps half. */
	while (jm__tb_ncached(tb) < tb->ncached_max)
		jm_free(v[i++]);   /* to the brim */
	jm_free(jm_malloc(size));
	f->max = tb->ncached_max;
	jm_free(v[i++]);
	f->after = jm__tb_ncached(tb);
	if (tb->ncached_max != f->max)
		f->after = 0;   /* grew instead: not the point */
	for (; i < n; i++)
		jm_free(v[i]);
	free(v);
	return NULL;
}

static void test_tcache_flush_policy(void **state)
{
	(void)state;
	struct flush_policy f = { 0 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, flush_policy_thread, &f), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(f.started);
	assert_true(f.flushes >= 2);
	assert_true(f.whole + 1 >= f.flushes);   /* all but the first at most */
	assert_int_equal(f.after, f.max / 2 + 1);
	validate();
}

/* A thread cache's fill: half the capacity, also when the list was filled
 * last and emptied again since (an allocation stream): bigger fills there
 * keep more regions idle in every cache (peak RSS). Its capacity stays
 * as it is in a thread that is not the only one (this one: the test's
 * main thread lives too; test_alloc_stream.c is the other side). */
struct fill_policy {
	uint32_t max, first, second;  /* capacity; the list after two fills */
};
static void *fill_policy_thread(void *arg)
{
	struct fill_policy *f = arg;
	const unsigned b = 3;   /* 64 B */
	size_t size = jm__bin_info[b].size;
	void *v[4096];
	unsigned n = 0;
	v[n++] = jm_malloc(size);   /* boots the cache: the first fill */
	struct jmstat_tcache_bin *tb = &jm__tls_tbins[b];
	f->max = tb->ncached_max;
	f->first = jm__tb_ncached(tb);
	while (jm__tb_ncached(tb) && n < 4000)
		v[n++] = jm_malloc(size);
	v[n++] = jm_malloc(size);   /* the second fill */
	f->second = tb->ncached_max == f->max ? jm__tb_ncached(tb) : 0;
	while (n)
		jm_free(v[--n]);
	return NULL;
}

/* A thread's first region of a class: the first fill takes at most 4 KiB
 * of regions (one region above that), each written (a link) and so
 * faulted in: the cache starts at 8 KiB at most. It took 25 regions of
 * 320 and of 640 bytes (16 KiB: 4 pages for one region), 2 of 4 KiB. */
static const size_t first_fill_sizes[] = { 320, 448, 640, 1280, 4096, 14336 };
#define NFIRST (sizeof(first_fill_sizes) / sizeof(first_fill_sizes[0]))

static void *first_fill_thread(void *arg)
{
	unsigned *cached = arg;
	for (size_t i = 0; i < NFIRST; i++) {
		void *p = jm_malloc(first_fill_sizes[i]);
		unsigned b = jm__size2bin(first_fill_sizes[i]);
		cached[i] = jm__tb_ncached(&jm__tls_tbins[b]) + 1;   /* with the one handed out */
		jm_free(p);
	}
	return NULL;
}

static void test_tcache_first_fill_bytes(void **state)
{
	(void)state;
	unsigned cached[NFIRST];
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, first_fill_thread, cached), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	for (size_t i = 0; i < NFIRST; i++) {
		size_t size = first_fill_sizes[i];
		assert_int_equal(jm__bin_info[jm__size2bin(size)].size, size);
		assert_true(cached[i] >= 1);
		assert_true(cached[i] <= (size < 4096 ? 4096 / size : 1));
	}
	validate();
}

static void test_tcache_fill_policy(void **state)
{
	(void)state;
	struct fill_policy f = { 0 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, fill_policy_thread, &f), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(f.max >= 8);
	assert_int_equal(f.first, f.max / 2 - 1);
	assert_int_equal(f.second, f.max / 2 - 1);
	validate();
}

/* A bin row's cursampled, moved by samples and sampled frees of several
 * threads at once, outside the bin's lock (bin.c): every move counted,
 * and the header's generation bumped at each. A plain += loses some
 * among 4 threads of 1,500,000 moves (failed 5 runs in 5). */
struct sampled_mover {
	struct jm_arena *a;
	unsigned bin;
};

static void *move_sampled(void *arg)
{
	struct sampled_mover *m = arg;
	for (int i = 0; i < 1000000; i++)
		jm__bin_sampled(m->a, m->bin, 1, true);
	for (int i = 0; i < 500000; i++)
		jm__bin_sampled(m->a, m->bin, -1, true);
	return NULL;
}

static void test_bin_sampled_concurrent(void **state)
{
	struct sampled_mover m = { jm__thread_arena(), 3 };
	uint64_t *cur = &m.a->bins[m.bin].stats->cursampled;
	uint64_t before = __atomic_load_n(cur, __ATOMIC_ACQUIRE);
	uint64_t gen = __atomic_load_n(&jm__seg->gen, __ATOMIC_ACQUIRE);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, move_sampled, &m), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(__atomic_load_n(cur, __ATOMIC_ACQUIRE) - before, 2000000);
	assert_true(__atomic_load_n(&jm__seg->gen, __ATOMIC_ACQUIRE) - gen >= 6000000);
	for (int i = 0; i < 2000000; i++)
		jm__bin_sampled(m.a, m.bin, -1, true);
	assert_int_equal(__atomic_load_n(cur, __ATOMIC_ACQUIRE), before);
}

/* The chance prof.c gives an allocation of being sampled, 1 - exp(-s/S),
 * against the series for exp(s/S) summed in long double (80 terms), for
 * sizes from 8 bytes to 48 x S: within 1e-13 of it and 1e-15 (prof.c sums
 * exp's series in its own order; a wrong coefficient is off by 1e-9). */
double jm__test_sample_probability(size_t size);
static void test_sample_probability(void **state)
{
	size_t saved = jm__opt.prof_sample;
	jm__opt.prof_sample = 65536;
	for (size_t size = 8; size <= 48 * 65536; size += size / 7 + 1) {
		long double x = (long double)size / 65536, term = 1, e = 1;
		for (int i = 1; i < 80; i++) {
			term *= x / i;
			e += term;
		}
		double want = (double)(1 - 1 / e);
		double got = jm__test_sample_probability(size);
		/* 1 - exp(-x) loses exp's last digits to the subtraction:
		 * an absolute error of a few 1e-16 is the formula's own. */
		double err = got - want;
		if (err < -(1e-15 + 1e-13 * want) || err > 1e-15 + 1e-13 * want)
			fail_msg("size %zu: %.17g, want %.17g", size, got, want);
	}
	jm__opt.prof_sample = saved;
}

/* What a sampled object counts for (bytes, objects x 1024, size class)
 * is the same through prof.c's memo of recent sizes as computed: sizes
 * that share a slot of the memo (64 slots: 300 sizes), each asked
 * several times in turn, and again after prof_sample changed (the memo
 * then starts empty: a memo kept across the change gives the old
 * interval's estimates). */
void jm__test_site_estimate(size_t size, bool memo, uint64_t *bytes, uint64_t *objects_fp,
    unsigned *cls);
static void test_site_estimate_memo(void **state)
{
	size_t saved = jm__opt.prof_sample;
	static const size_t samples[] = { 65536, 524288 };
	for (int k = 0; k < 2; k++) {
		jm__opt.prof_sample = samples[k];
		for (int round = 0; round < 3; round++) {
			for (size_t size = 1; size <= 300; size++) {
				size_t sz = size * 997 + (size_t)round * 3; /* up to 5 x 65536 */
				uint64_t b1, o1, b2, o2;
				unsigned c1, c2;
				jm__test_site_estimate(sz, false, &b1, &o1, &c1);
				jm__test_site_estimate(sz, true, &b2, &o2, &c2);
				assert_int_equal(b1, b2);
				assert_int_equal(o1, o2);
				assert_int_equal(c1, c2);
				jm__test_site_estimate(sz, true, &b2, &o2, &c2);
				assert_int_equal(b1, b2);
				assert_int_equal(o1, o2);
				assert_int_equal(c1, c2);
			}
		}
	}
	/* One size, asked last with the old interval, then with the new. */
	uint64_t b1, o1, b2, o2;
	unsigned c1, c2;
	jm__opt.prof_sample = 65536;
	jm__test_site_estimate(4096, true, &b2, &o2, &c2);
	jm__opt.prof_sample = 524288;
	jm__test_site_estimate(4096, false, &b1, &o1, &c1);
	jm__test_site_estimate(4096, true, &b2, &o2, &c2);
	assert_int_equal(b1, b2);
	assert_int_equal(o1, o2);
	jm__opt.prof_sample = saved;
}

/* The profile's lock, which every thread takes at each sample and each
 * sampled free, spins before it sleeps, as the arenas' and bins' locks
 * do: a plain mutex made each of its collisions a futex wait and a wake
 * (glibc-thread, 2 threads: 21-30k futex calls a run, about 1k adaptive).
 * A glibc adaptive mutex until session 38, the allocator's own lock
 * (internal.h, jm_wlock_t) since: a thread that finds it held spins
 * JM_WLOCK_SPINS times, then sleeps with the waiters' flag set, and the
 * release wakes it. In a forked child it is free and taken with the
 * child's thread id (the id the parent's thread had cached is not the
 * child's: a fork from a signal handler in the child would have taken
 * the lock for another thread's). */
jm_wlock_t *jm__test_prof_lock(void);
extern _Atomic unsigned jm__test_wlock_spins;
static jm_wlock_t adaptive_l;
static void *adaptive_taker(void *arg)
{
	(void)arg;
	jm__wlock_lock(&adaptive_l);
	jm__wlock_unlock(&adaptive_l);
	return NULL;
}

static void test_prof_lock_adaptive(void **state)
{
	(void)state;
	void *p = jm_malloc(100);   /* initialised: the fork handlers are in */
	jm_free(p);
	jm_wlock_t *pl = jm__test_prof_lock();
	assert_int_equal(atomic_load(&pl->word), 0);
	jm__wlock_lock(&adaptive_l);
	assert_int_equal(atomic_load(&adaptive_l.word), (uint32_t)syscall(SYS_gettid));
	atomic_store(&jm__test_wlock_spins, 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, adaptive_taker, NULL), 0);
	while (!(atomic_load(&adaptive_l.word) & JM_WLOCK_WAITERS))
		sched_yield();
	assert_int_equal(atomic_load(&jm__test_wlock_spins), JM_WLOCK_SPINS);
	jm__wlock_unlock(&adaptive_l);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(atomic_load(&adaptive_l.word), 0);

	jm__wlock_lock(pl);   /* the thread's id cached */
	jm__wlock_unlock(pl);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (atomic_load(&pl->word) != 0)
			_exit(1);
		jm__wlock_lock(pl);
		uint32_t w = atomic_load(&pl->word);
		jm__wlock_unlock(pl);
		_exit(w == (uint32_t)syscall(SYS_gettid) && atomic_load(&pl->word) == 0 ? 0 : 2);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A fork from a signal handler that interrupted this thread while it held
 * the profile's lock: the fork handlers neither wait for it (for ever:
 * nothing would release it) nor release it after; the interrupted code
 * carries on holding it. */
static void test_prof_lock_fork_own(void **state)
{
	(void)state;
	void *p = jm_malloc(100);
	jm_free(p);
	jm_wlock_t *pl = jm__test_prof_lock();
	jm__wlock_lock(pl);
	uint32_t self = (uint32_t)syscall(SYS_gettid);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);   /* tainted: exec or _exit only */
	assert_int_equal(atomic_load(&pl->word), self);
	jm__wlock_unlock(pl);
	assert_int_equal(atomic_load(&pl->word), 0);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	/* Sampled allocations are served as pages of their own: off here,
	 * where exact sizes are checked. */
	setenv("JMALLOC_CONF", "prof_sample:0,background_thread:0", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rtree_update_faults),   /* first: before a heap walk reads the whole root */
		cmocka_unit_test(test_chunk_header_pages),   /* early: a fresh arena */
		cmocka_unit_test(test_size_classes),
		cmocka_unit_test(test_pagemap_div_small_only),
		cmocka_unit_test(test_none_cache_stays_full),
		cmocka_unit_test(test_tcache_heads_private),
		cmocka_unit_test(test_unused_arena_rows),
		cmocka_unit_test(test_segment_tables_paged),
		cmocka_unit_test(test_region_index),
		cmocka_unit_test(test_bin_fill_drain_reuse),
		cmocka_unit_test(test_run_region_exact),
		cmocka_unit_test(test_bin_fill_list),
		cmocka_unit_test(test_bin_fill_scattered),
		cmocka_unit_test(test_bin_fill_lowest_first),
		cmocka_unit_test(test_flush_gives_back_once),
		cmocka_unit_test(test_bin_reuses_emptied_run),
		cmocka_unit_test(test_bin_free_batch),
		cmocka_unit_test(test_flush_freed_run),
		cmocka_unit_test(test_flush_double_free_named),
		cmocka_unit_test(test_flush_interior_named),
		cmocka_unit_test(test_validate_tcache_class0),
		cmocka_unit_test(test_flush_misuse_batch_slots),
		cmocka_unit_test(test_flush_scattered_settles),
		cmocka_unit_test(test_tcache_flush_policy),
		cmocka_unit_test(test_tcache_fill_policy),
		cmocka_unit_test(test_tcache_first_fill_bytes),
		cmocka_unit_test(test_large_runs),
		cmocka_unit_test(test_realloc_cut_large),
		cmocka_unit_test(test_realloc_same_class),
		cmocka_unit_test(test_huge_tree),
		cmocka_unit_test(test_aligned_fit),
		cmocka_unit_test(test_aligned_small),
		cmocka_unit_test(test_aligned_holes),
		cmocka_unit_test(test_random_workload),
		cmocka_unit_test(test_large_cache_foreign),
		cmocka_unit_test(test_large_pagemap_arena),
		cmocka_unit_test(test_pm_fill),
		cmocka_unit_test(test_large_pagemap_every_page),
		cmocka_unit_test(test_large_cache_sampled_pages),
		cmocka_unit_test(test_large_cache_buffers),
		cmocka_unit_test(test_large_cache_classes),
		cmocka_unit_test(test_large_cache_aligned),
		cmocka_unit_test(test_large_cache_shared_arena),
		cmocka_unit_test(test_arena_cache),
		cmocka_unit_test(test_arena_cache_decays),
		cmocka_unit_test(test_large_first_boots_cache),
		cmocka_unit_test(test_large_cache_one_page_up),
		cmocka_unit_test(test_large_cache_set_aside),
		cmocka_unit_test(test_arena_choice),
		cmocka_unit_test(test_fork_rows_at_rest),
		cmocka_unit_test(test_fork_child_gives_back_gone_large),
		cmocka_unit_test(test_fork_twice_forker_not_gone),
		cmocka_unit_test(test_fork_huge_counted),
		cmocka_unit_test(test_fork_lock_waits_for_no_owner),
		cmocka_unit_test(test_fork_lock_own_no_owner),
		cmocka_unit_test(test_fork_lock_waited_not_own),
		cmocka_unit_test(test_fork_copies_used_rows),
		cmocka_unit_test(test_fork_populate_faults),
		cmocka_unit_test(test_fork_child_frees_parents),
		cmocka_unit_test(test_fork_child_double_free_cached),
		cmocka_unit_test(test_fork_child_set_aside_allocs),
		cmocka_unit_test(test_fork_child_inherited_batched),
		cmocka_unit_test(test_fork_snapshot_changed_pages),
		cmocka_unit_test(test_fork_snapshot_one_mapping),
		cmocka_unit_test(test_fork_child_moves_snapshot),
		cmocka_unit_test(test_fork_arena_lock_pages),
		cmocka_unit_test(test_arena_locks_lines),
		cmocka_unit_test(test_fork_publish_maps_used_pages),
		cmocka_unit_test(test_fork_child_rows_out_of_use),
		cmocka_unit_test(test_fork_child_arena_rows_owed),
		cmocka_unit_test(test_errno_at),
		cmocka_unit_test(test_realloc_growth),
		cmocka_unit_test(test_chunk_from_other_arena),
		cmocka_unit_test(test_bin_sampled_concurrent),
		cmocka_unit_test(test_sample_probability),
		cmocka_unit_test(test_site_estimate_memo),
		cmocka_unit_test(test_prof_lock_adaptive),
		cmocka_unit_test(test_prof_lock_fork_own),
		/* Last: its threads leave runs in an arena others expect empty. */
		cmocka_unit_test(test_tcache_trimming_thread_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
