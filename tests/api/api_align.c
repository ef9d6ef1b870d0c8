/*
 * api_align.c: posix_memalign, aligned_alloc, memalign, valloc, pvalloc.
 *
 * After glibc's tst-posix_memalign and tst-memalign and mimalloc's
 * test-api: every alignment from 1 (where legal) to 8 MiB, past the 2 MiB
 * chunk, with sizes around the alignment and around the chunk, gives an
 * aligned block at least as large as asked, writable in full, that can be
 * freed and reallocated; a bad alignment gives EINVAL (posix_memalign
 * returns it and leaves *memptr untouched); valloc and pvalloc give pages.
 *
 * Non-power-of-two alignments for memalign and aligned_alloc: glibc before
 * 2.38 rounds them up to the next power of two, glibc 2.38 and C23 fail
 * aligned_alloc with EINVAL. Either is accepted here; a block that is not
 * aligned to the next power of two is not.
 */
#include "api_util.h"

static size_t pagesize;

static size_t next_pow2(size_t v)
{
	size_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

static void check_block(const char *fn, void *p, size_t align, size_t size)
{
	if (!p)
		fail_msg("%s(%zu, %zu) failed, errno %d", fn, align, size, errno);
	if (!api_aligned(p, align))
		fail_msg("%s(%zu, %zu) = %p is not aligned", fn, align, size, p);
	if (malloc_usable_size(p) < size)
		fail_msg("%s(%zu, %zu): usable size %zu too small", fn, align, size,
		         malloc_usable_size(p));
}

static void test_posix_memalign_einval(void **state)
{
	static const size_t bad[] = {
		0, 1, 2, 4, 3, 5, 6, 7, 12, 20, 24, 40, 48, 96, 100, 4095, 4097,
		3 * 4096, 3 << 20, SIZE_MAX, SIZE_MAX / 2, SIZE_MAX / 2 + 2,
		((size_t)1 << 63) + 8, ((size_t)1 << 62) + ((size_t)1 << 61),
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bad[i] >= sizeof(void *) && (bad[i] & (bad[i] - 1)) == 0)
			continue;   /* 4 is legal where pointers are 4 bytes */
		size_t sizes[] = { 0, 1, 16, 4096, API_CHUNK + 1 };
		for (size_t j = 0; j < 5; j++) {
			void *p = &p;
			int rc = posix_memalign(&p, api_opaque(bad[i]), sizes[j]);
			if (rc != EINVAL)
				fail_msg("posix_memalign(%#zx, %zu) returned %d, not EINVAL",
				         bad[i], sizes[j], rc);
			if (p != &p)
				fail_msg("posix_memalign(%#zx) changed *memptr", bad[i]);
		}
	}
	/* EINVAL wins over ENOMEM: the alignment is checked first. */
	void *p = &p;
	assert_int_equal(posix_memalign(&p, 24, api_opaque(SIZE_MAX)), EINVAL);
	assert_ptr_equal(p, &p);
}

static void test_memalign_einval(void **state)
{
	/* tst-memalign: an alignment above SIZE_MAX/2+1 cannot be rounded up
	 * to a power of two. */
	static const size_t bad[] = { SIZE_MAX, SIZE_MAX / 2 + 2, SIZE_MAX - 4095 };
	for (size_t i = 0; i < 3; i++) {
		errno = 0;
		assert_null(memalign(api_opaque(bad[i]), pagesize));
		assert_int_equal(errno, EINVAL);
		errno = 0;
		assert_null(aligned_alloc(api_opaque(bad[i]), pagesize));
		assert_int_equal(errno, EINVAL);
	}
}

/* Alignments that are not powers of two (and zero): EINVAL, or a block
 * aligned to the next power of two (glibc up to 2.37). */
static void test_non_power_of_two(void **state)
{
	static const size_t odd[] = { 0, 3, 5, 6, 7, 12, 24, 48, 100, 1000, 4095, 4097,
	                              12288, (3 << 20) };
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		size_t want = odd[i] ? next_pow2(odd[i]) : 1;
		for (int fn = 0; fn < 2; fn++) {
			errno = 0;
			void *p = fn ? aligned_alloc(api_opaque(odd[i]), 5000)
			             : memalign(api_opaque(odd[i]), 5000);
			const char *name = fn ? "aligned_alloc" : "memalign";
			if (!p) {
				if (errno != EINVAL)
					fail_msg("%s(%zu, 5000) failed with errno %d", name, odd[i], errno);
				continue;
			}
			check_block(name, p, want, 5000);
			memset(p, 0x33, 5000);
			free(p);
		}
	}
}

/* One (alignment, size) through every aligned entry point; N blocks live
 * at once, each filled, so that overlaps are seen. */
static void one_alignment(size_t align, size_t size)
{
	enum { N = 4 };
	void *blocks[3 * N];
	int n = 0;
	int copies = size > (256 << 10) ? 1 : N;
	for (int i = 0; i < copies; i++) {
		void *p = memalign(align, size);
		check_block("memalign", p, align, size);
		blocks[n++] = p;
		p = aligned_alloc(align, size);
		check_block("aligned_alloc", p, align, size);
		blocks[n++] = p;
		if (align >= sizeof(void *)) {
			p = NULL;
			int rc = posix_memalign(&p, align, size);
			if (rc != 0)
				fail_msg("posix_memalign(%zu, %zu) returned %d", align, size, rc);
			check_block("posix_memalign", p, align, size);
			blocks[n++] = p;
		}
	}
	for (int i = 0; i < n; i++)
		memset(blocks[i], i + 1, size);
	for (int i = 0; i < n; i++) {
		if (!api_all_bytes(blocks[i], size, (unsigned char)(i + 1)))
			fail_msg("aligned blocks (%zu, %zu) overlap", align, size);
		free(blocks[i]);
	}
}

static void test_alignment_sweep(void **state)
{
	for (size_t align = 1; align <= 4 * API_CHUNK; align *= 2) {
		size_t sizes[] = {
			0, 1, 8, 100, align - 1, align, align + 1, 2 * align - 1,
			align > API_CHUNK ? align / 2 + 1 : 3 * align, 4097,
			API_CHUNK - 1, API_CHUNK, API_CHUNK + 1, 3 * API_CHUNK + 17,
		};
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			one_alignment(align, sizes[i]);
	}
}

/* mimalloc's aligned13: every small size with every alignment up to it. */
static void test_small_sizes_all_alignments(void **state)
{
	enum { N = 10 };
	for (size_t size = 1; size <= 2048; size += size < 1024 ? 1 : 7) {
		for (size_t align = 1; align <= size; align *= 2) {
			void *p[N];
			for (int i = 0; i < N; i++) {
				p[i] = memalign(align, size);
				if (!p[i] || !api_aligned(p[i], align))
					fail_msg("memalign(%zu, %zu) = %p", align, size, p[i]);
				((unsigned char *)p[i])[0] = 1;
				((unsigned char *)p[i])[size - 1] = 2;
			}
			for (int i = 0; i < N; i++)
				free(p[i]);
		}
	}
}

/* The 8 B class: malloc of up to 8 bytes is 8-aligned (all C asks of a
 * block that small), and its blocks are whole (8 bytes each, none
 * overlapping); an alignment of 16 or more asked of such a size skips
 * the class (every interface: memalign, posix_memalign, aligned_alloc). */
static void test_tiny_sizes_alignments(void **state)
{
	enum { N = 600 };   /* more than a run of 8 B regions holds */
	static unsigned char *p[N];
	for (size_t size = 1; size <= 8; size++) {
		for (int i = 0; i < N; i++) {
			p[i] = malloc(size);
			assert_non_null(p[i]);
			if (!api_aligned(p[i], 8))
				fail_msg("malloc(%zu) = %p", size, p[i]);
			memset(p[i], i & 0xff, size);
		}
		for (int i = 0; i < N; i++) {
			assert_true(api_all_bytes(p[i], size, (unsigned char)(i & 0xff)));
			free(p[i]);
		}
	}
	for (size_t size = 0; size <= 16; size++) {
		for (size_t align = 16; align <= 256; align *= 2) {
			for (int i = 0; i < 20; i++) {
				void *q = memalign(align, size), *r = aligned_alloc(align, size), *t = NULL;
				assert_int_equal(posix_memalign(&t, align, size), 0);
				if (!q || !api_aligned(q, align) || !r || !api_aligned(r, align) ||
				    !t || !api_aligned(t, align))
					fail_msg("align %zu size %zu: %p %p %p", align, size, q, r, t);
				free(q);
				free(r);
				free(t);
			}
		}
	}
}

/* An aligned block is an ordinary block: realloc keeps its contents. */
static void test_realloc_aligned(void **state)
{
	for (size_t align = 16; align <= 2 * API_CHUNK; align *= 4) {
		size_t size = align + 100;
		unsigned char *p = aligned_alloc(align, size);
		check_block("aligned_alloc", p, align, size);
		api_fill(p, size, align);
		size_t sizes[] = { size * 2, size / 2, 3 * API_CHUNK, 10 };
		size_t keep = size;
		for (int i = 0; i < 4; i++) {
			p = realloc(p, sizes[i]);
			assert_non_null(p);
			if (sizes[i] < keep)
				keep = sizes[i];
			assert_int_equal(api_check(p, keep, align), keep);
		}
		free(p);
	}
}

static void test_valloc(void **state)
{
	size_t sizes[] = { 0, 1, 100, pagesize - 1, pagesize, pagesize + 1, 5 * pagesize,
	                   API_CHUNK - 1, API_CHUNK + 1, 3 * API_CHUNK };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *p = valloc(sizes[i]);
		check_block("valloc", p, pagesize, sizes[i]);
		memset(p, 0x44, sizes[i]);
		free(p);
	}
}

static void test_pvalloc(void **state)
{
	size_t sizes[] = { 1, 100, pagesize - 1, pagesize, pagesize + 1, 5 * pagesize + 3,
	                   API_CHUNK - 1, API_CHUNK + 1, 3 * API_CHUNK + 1 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t rounded = (sizes[i] + pagesize - 1) & ~(pagesize - 1);
		unsigned char *p = pvalloc(sizes[i]);
		check_block("pvalloc", p, pagesize, rounded);
		/* The whole rounded size belongs to the caller. */
		memset(p, 0x55, rounded);
		free(p);
	}
	/* pvalloc(0) gives a page-aligned, freeable block (glibc: not a page). */
	void *p = pvalloc(0);
	check_block("pvalloc", p, pagesize, 0);
	free(p);
}

/* tst-memalign, tst-posix_memalign and test-api's named cases. */
static void test_named_cases(void **state)
{
	void *p = memalign(sizeof(void *), 0);
	assert_non_null(p);
	free(p);
	p = memalign(0x100, 10);
	check_block("memalign", p, 0x100, 10);
	free(p);
	p = &p;
	assert_int_equal(posix_memalign(&p, sizeof(void *), 0), 0);
	assert_true(p != &p);
	free(p);
	p = &p;
	assert_int_equal(posix_memalign(&p, sizeof(void *), 32), 0);
	check_block("posix_memalign", p, sizeof(void *), 32);
	free(p);
	p = aligned_alloc(4096, 4097);
	check_block("aligned_alloc", p, 4096, 4097);
	free(p);
	for (int i = 0; i < 8; i++) {
		p = memalign(16, 8);
		check_block("memalign", p, 16, 8);
		free(p);
	}
	/* aligned10: size 43 + align for every alignment up to 1024, all live. */
	void *ps[11];
	for (int j = 0; j <= 10; j++) {
		ps[j] = memalign((size_t)1 << j, 43 + ((size_t)1 << j));
		check_block("memalign", ps[j], (size_t)1 << j, 43 + ((size_t)1 << j));
	}
	for (int j = 10; j >= 0; j--)
		free(ps[j]);
	/* Alignments far beyond the chunk (mimalloc's aligned8 and aligned9). */
	for (size_t align = API_CHUNK; align <= 16 * API_CHUNK; align *= 2) {
		p = memalign(align, 1024);
		check_block("memalign", p, align, 1024);
		free(p);
		p = aligned_alloc(align, align);
		check_block("aligned_alloc", p, align, align);
		free(p);
	}
}

int main(void)
{
	pagesize = api_page();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_posix_memalign_einval),
		cmocka_unit_test(test_memalign_einval),
		cmocka_unit_test(test_non_power_of_two),
		cmocka_unit_test(test_alignment_sweep),
		cmocka_unit_test(test_small_sizes_all_alignments),
		cmocka_unit_test(test_tiny_sizes_alignments),
		cmocka_unit_test(test_realloc_aligned),
		cmocka_unit_test(test_valloc),
		cmocka_unit_test(test_pvalloc),
		cmocka_unit_test(test_named_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
