/*
 * api_limits.c: requests that cannot be served fail cleanly.
 *
 * After glibc's tst-malloc-too-large, tst-memalign, tst-posix_memalign and
 * tst-reallocarray and mimalloc's test-api: every entry point, asked for a
 * size near SIZE_MAX or beyond PTRDIFF_MAX, or for an element count times a
 * size that overflows, returns NULL with errno ENOMEM (posix_memalign
 * returns ENOMEM and leaves *memptr untouched), and a failed realloc leaves
 * the old block valid and unchanged. Each attempt follows a small
 * malloc/free, which is what exposed the rounding overflows of glibc bugs
 * 22375 and 22343. The ranges are widened to a few chunks below SIZE_MAX
 * and PTRDIFF_MAX, where rounding a request up to a chunk overflows.
 */
#include "api_util.h"
#include <sys/resource.h>

static size_t pagesize;
static unsigned long nchecks;

static void setup_small(void)
{
	void *volatile p = malloc(16);
	assert_non_null(p);
	free(p);
	errno = 0;
}

#define EXPECT_ENOMEM(expr, size) do {                                        \
	setup_small();                                                        \
	void *r_ = (expr);                                                    \
	int e_ = errno;                                                       \
	nchecks++;                                                            \
	if (r_ != NULL)                                                       \
		fail_msg("%s succeeded for size %#zx", #expr, (size_t)(size));  \
	if (e_ != ENOMEM)                                                     \
		fail_msg("%s: errno %d, not ENOMEM, for size %#zx", #expr, e_,  \
		         (size_t)(size));                                       \
} while (0)

/* malloc, realloc (of NULL and of a live block, which must survive),
 * calloc and reallocarray with the size split into nmemb * size/nmemb. */
static void large_allocations(size_t size)
{
	EXPECT_ENOMEM(malloc(size), size);
	EXPECT_ENOMEM(realloc(NULL, size), size);

	unsigned char *old = malloc(24);
	assert_non_null(old);
	memset(old, 0x3c, 24);
	EXPECT_ENOMEM(realloc(old, size), size);
	assert_true(api_all_bytes(old, 24, 0x3c));
	free(old);

	for (size_t nmemb = 1; nmemb <= 8; nmemb *= 2) {
		if (size % nmemb != 0)
			break;
		EXPECT_ENOMEM(calloc(nmemb, size / nmemb), size);
		EXPECT_ENOMEM(calloc(size / nmemb, nmemb), size);
		old = malloc(40);
		assert_non_null(old);
		memset(old, 0x4d, 40);
		EXPECT_ENOMEM(reallocarray(old, nmemb, size / nmemb), size);
		EXPECT_ENOMEM(reallocarray(old, size / nmemb, nmemb), size);
		assert_true(api_all_bytes(old, 40, 0x4d));
		free(old);
		EXPECT_ENOMEM(reallocarray(NULL, nmemb, size / nmemb), size);
	}
}

static void posix_memalign_enomem(size_t align, size_t size)
{
	void *p = &p;
	setup_small();
	int rc = posix_memalign(&p, align, size);
	nchecks++;
	if (rc != ENOMEM)
		fail_msg("posix_memalign(%#zx, %#zx) returned %d, not ENOMEM", align, size, rc);
	if (p != &p)
		fail_msg("posix_memalign(%#zx, %#zx) changed *memptr on failure", align, size);
}

/* memalign, posix_memalign, aligned_alloc with alignments from 1 to beyond
 * the chunk, valloc and pvalloc. */
static void large_aligned_allocations(size_t size)
{
	for (size_t align = 1; align <= 8 * API_CHUNK; align *= 2) {
		/* Past the page, only a few alignments: they all take the same
		 * path, and the loops are long. */
		if (align > pagesize && align != API_CHUNK && align != 8 * API_CHUNK)
			continue;
		EXPECT_ENOMEM(memalign(align, size), size);
		if (align % sizeof(void *) == 0)
			posix_memalign_enomem(align, size);
		if (size % align == 0)
			EXPECT_ENOMEM(aligned_alloc(align, size), size);
	}
	EXPECT_ENOMEM(valloc(size), size);
	EXPECT_ENOMEM(pvalloc(size), size);
}

static void test_near_size_max(void **state)
{
	for (size_t i = 0; i < (1 << 14); i++) {
		large_allocations(SIZE_MAX - i);
		large_aligned_allocations(SIZE_MAX - i);
	}
	/* A few chunks below SIZE_MAX, by pages. */
	for (size_t i = 4; i <= 4 * API_CHUNK / 4096; i++) {
		large_allocations(SIZE_MAX - i * 4096 + 1);
		large_allocations(SIZE_MAX - i * 4096);
		large_aligned_allocations(SIZE_MAX - i * 4096 + 1);
	}
}

/* Objects larger than PTRDIFF_MAX would break pointer subtraction. */
static void test_beyond_ptrdiff_max(void **state)
{
	const size_t pmax = PTRDIFF_MAX;
	for (size_t i = 1; i <= (1 << 14); i++) {
		large_allocations(pmax + i);
		large_aligned_allocations(pmax + i);
	}
	for (size_t i = 0; i <= 4 * API_CHUNK / 4096; i++) {
		large_allocations(pmax - i * 4096);
		large_allocations(pmax - i * 4096 + 1);
		large_allocations(pmax + i * 4096 + 1);
	}
	large_aligned_allocations(pmax);
	large_aligned_allocations(pmax - API_CHUNK);
}

/* On 64-bit targets: sizes from SIZE_MAX down to 2^50, wider than any
 * address space: the 14 top bits counted down, the 50 low bits all on and
 * all off. glibc's test takes every value of the top bits; the ends of the
 * range and every 37th between are enough for the same paths. */
static void test_wider_than_address_space(void **state)
{
	const size_t fifty = ((size_t)1 << 50) - 1;
	for (size_t msbs = (1 << 14) - 1; msbs >= 1; msbs--) {
		if (msbs > 128 && msbs < (1 << 14) - 128 && msbs % 37 != 0)
			continue;
		large_allocations((msbs << 50) | fifty);
		large_aligned_allocations((msbs << 50) | fifty);
		large_allocations(msbs << 50);
		large_aligned_allocations(msbs << 50);
	}
}

/* nmemb * size that overflows, in particular to a small number, must not
 * be served as that small number. */
static void test_calloc_overflow(void **state)
{
	static const struct { size_t n, s; } pairs[] = {
		{ (size_t)1 << 32, (size_t)1 << 32 },        /* 2^64 wraps to 0 */
		{ (size_t)1 << 33, (size_t)1 << 31 },
		{ (size_t)1 << 63, 2 },
		{ 2, (size_t)1 << 63 },
		{ SIZE_MAX, 2 },                              /* wraps to SIZE_MAX-1 */
		{ SIZE_MAX / 3 + 1, 3 },                      /* wraps to 2 */
		{ SIZE_MAX / 16 + 1, 16 },                    /* wraps to 0 */
		{ SIZE_MAX / 1000, 1001 },
		{ 65537, SIZE_MAX / 65536 },
		{ SIZE_MAX, SIZE_MAX },                       /* wraps to 1 */
		{ (SIZE_MAX / 4096) + 2, 4096 },              /* wraps to 4096 */
		{ 4096, (SIZE_MAX / 4096) + 2 },
		{ ((size_t)1 << 62) + 1, 4 },                 /* wraps to 4 */
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		size_t n = api_opaque(pairs[i].n), s = api_opaque(pairs[i].s);
		EXPECT_ENOMEM(calloc(n, s), n);
		EXPECT_ENOMEM(calloc(s, n), n);
		EXPECT_ENOMEM(reallocarray(NULL, n, s), n);
		unsigned char *old = malloc(100);
		assert_non_null(old);
		memset(old, 0x71, 100);
		EXPECT_ENOMEM(reallocarray(old, n, s), n);
		EXPECT_ENOMEM(reallocarray(old, s, n), n);
		assert_true(api_all_bytes(old, 100, 0x71));
		free(old);
	}
	/* mimalloc's calloc-overflow. */
	EXPECT_ENOMEM(calloc(api_opaque((size_t)&pagesize), SIZE_MAX / 1000), 0);
}

/* tst-memalign and tst-posix_memalign: the named cases, and alignments
 * whose rounding overflows. */
static void test_aligned_overflow(void **state)
{
	EXPECT_ENOMEM(memalign(sizeof(void *), api_opaque(SIZE_MAX)), SIZE_MAX);
	EXPECT_ENOMEM(memalign(pagesize, api_opaque(-pagesize)), -pagesize);
	EXPECT_ENOMEM(aligned_alloc(pagesize, api_opaque(-pagesize)), -pagesize);
	posix_memalign_enomem(sizeof(void *), SIZE_MAX);
	posix_memalign_enomem(pagesize, -pagesize);
	posix_memalign_enomem(0x100, -0x100);

	/* Alignment larger than anything that can be mapped. */
	for (int shift = 47; shift <= 63; shift++) {
		size_t align = (size_t)1 << shift;
		size_t sizes[] = { 1, 16, 4096, API_CHUNK, align, SIZE_MAX - align + 1 };
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			EXPECT_ENOMEM(memalign(align, sizes[i]), sizes[i]);
			if (sizes[i] % align == 0)
				EXPECT_ENOMEM(aligned_alloc(align, sizes[i]), sizes[i]);
			posix_memalign_enomem(align, sizes[i]);
		}
	}
	/* Chunk-sized alignment with sizes that overflow once padded. */
	for (size_t align = API_CHUNK / 2; align <= 16 * API_CHUNK; align *= 2) {
		for (size_t k = 0; k < 8; k++) {
			size_t size = SIZE_MAX - align * k - k;
			EXPECT_ENOMEM(memalign(align, size), size);
			posix_memalign_enomem(align, size);
			size = (size_t)PTRDIFF_MAX - align * k + 1;
			EXPECT_ENOMEM(memalign(align, size), size);
			posix_memalign_enomem(align, size);
		}
	}
}

/* After all that, the allocator still works. */
static void test_still_works(void **state)
{
	for (size_t size = 1; size <= 8 * API_CHUNK; size = size * 3 + 1) {
		unsigned char *p = malloc(size);
		assert_non_null(p);
		memset(p, 0x5e, size);
		free(p);
	}
	print_message("%lu failing requests checked\n", nchecks);
}

int main(void)
{
	pagesize = api_page();
#ifndef JM_SANITIZED
	/* As glibc's test: make sure no address space wider than 50 bits can
	 * make the huge requests succeed. (Not under the sanitizers, which
	 * reserve a large shadow.) */
	struct rlimit lim = { ((size_t)1 << 50) - 1, ((size_t)1 << 50) - 1 };
	setrlimit(RLIMIT_AS, &lim);
#endif
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_near_size_max),
		cmocka_unit_test(test_beyond_ptrdiff_max),
		cmocka_unit_test(test_wider_than_address_space),
		cmocka_unit_test(test_calloc_overflow),
		cmocka_unit_test(test_aligned_overflow),
		cmocka_unit_test(test_still_works),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
