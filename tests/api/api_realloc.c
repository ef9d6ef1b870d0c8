/*
 * api_realloc.c: realloc and reallocarray.
 *
 * After glibc's tst-realloc and tst-reallocarray and mimalloc's test-api:
 * realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and returns NULL
 * (glibc's choice, which jmalloc follows); realloc(NULL, 0) returns a
 * block; a block grown to its usable size stays in place; and the contents
 * survive every move. The class walk asks for usable size + 1 over and over
 * from 1 byte to past the chunk, so that it crosses every boundary between
 * size classes (small, large and huge) of whatever allocator runs it, then
 * walks back down through the same boundaries.
 */
#include "api_util.h"
#include <sys/mman.h>

#define REF_SIZE ((size_t)16 << 20)

/* A reference pattern, in memory that the allocator does not own. */
static unsigned char *ref;

static int setup_ref(void **state)
{
	if (ref)
		return 0;
	ref = mmap(NULL, REF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ref == MAP_FAILED)
		return -1;
	api_fill(ref, REF_SIZE, 0x1234);
	return 0;
}

/* p must hold ref[0..n). */
static void expect_ref(const void *p, size_t n, const char *what, size_t size)
{
	if (memcmp(p, ref, n) != 0) {
		size_t i = 0;
		while (((const unsigned char *)p)[i] == ref[i])
			i++;
		fail_msg("%s to %zu: byte %zu of %zu lost", what, size, i, n);
	}
}

/* realloc p, which holds ref[0..*valid), to size; check what must be kept
 * and complete the contents to ref[0..size). */
static void *realloc_checked(void *p, size_t size, size_t *valid)
{
	unsigned char *q = realloc(p, size);
	if (!q)
		fail_msg("realloc to %zu failed, errno %d", size, errno);
	size_t keep = *valid < size ? *valid : size;
	expect_ref(q, keep, "realloc", size);
	if (malloc_usable_size(q) < size)
		fail_msg("realloc to %zu: usable size %zu", size, malloc_usable_size(q));
	memcpy(q + keep, ref + keep, size - keep);
	*valid = size;
	return q;
}

static void test_glibc_cases(void **state)
{
	errno = 0;
	void *p = realloc(NULL, api_opaque(10));
	assert_non_null(p);
	free(p);

	unsigned char *c = calloc(20, 1);
	assert_non_null(c);
	c = realloc(c, 200);
	assert_non_null(c);
	assert_true(api_all_bytes(c, 20, 0));
	free(c);

	c = realloc(NULL, 100);
	assert_non_null(c);
	memset(c, 0xff, 100);
	c = realloc(c, 16);
	assert_non_null(c);
	assert_true(api_all_bytes(c, 16, 0xff));

	/* realloc(p, 0) frees p and returns NULL (glibc). */
	p = realloc(c, api_opaque(0));
	assert_null(p);
	/* realloc(NULL, 0) acts as malloc(0). */
	p = realloc(NULL, api_opaque(0));
	assert_non_null(p);
	free(p);

	/* realloc(p, 0) of large and huge blocks too. */
	size_t sizes[] = { 1, 5000, 20000, 300000, 3 * API_CHUNK };
	for (int i = 0; i < 5; i++) {
		p = malloc(sizes[i]);
		assert_non_null(p);
		memset(p, 1, sizes[i]);
		assert_null(realloc(p, api_opaque(0)));
	}
}

/* Grown to its usable size, a block does not move (tst-realloc). */
static void test_grow_to_usable_in_place(void **state)
{
	for (size_t sz = 3; sz < 3 * API_CHUNK; sz += sz < 65536 ? 61 : 4099 * 7) {
		void *p = realloc(NULL, sz);
		assert_non_null(p);
		size_t usable = malloc_usable_size(p);
		void *q = realloc(p, usable);
		if (q != p)
			fail_msg("growing %zu to its usable size %zu moved the block", sz, usable);
		/* Nor does asking for the same size again. */
		q = realloc(q, usable);
		assert_ptr_equal(q, p);
		free(q);
	}
}

#define MAX_CLASSES 8192

static void test_class_walk(void **state)
{
	static size_t classes[MAX_CLASSES];
	size_t nclasses = 0;
	size_t valid = 0, size = 1, prev_usable = 0;
	void *p = realloc_checked(NULL, size, &valid);
	const size_t top = 2 * API_CHUNK + (256 << 10);

	/* Up: from each class to just past it. */
	while (size < top) {
		size_t usable = malloc_usable_size(p);
		assert_true(nclasses < MAX_CLASSES);
		classes[nclasses++] = usable;
		/* The whole usable size is writable and kept by a realloc to it. */
		memcpy((unsigned char *)p + valid, ref + valid, usable - valid);
		valid = usable;
		void *q = realloc(p, usable);
		if (q != p)
			fail_msg("realloc to the usable size %zu moved the block", usable);
		expect_ref(q, usable, "realloc in place", usable);
		size_t next = usable + 1;
		/* An allocator with classes finer than a page past 64 KiB (glibc)
		 * would make this walk quadratic; step geometrically there. */
		if (usable > (64 << 10) && usable - prev_usable < 4096)
			next = usable + usable / 64;
		/* Past the chunk, the huge sizes: a few around each chunk
		 * multiple are enough. */
		if (usable > API_CHUNK + (64 << 10) && next < 2 * API_CHUNK - 4097)
			next = 2 * API_CHUNK - 4097;
		prev_usable = usable;
		size = next;
		p = realloc_checked(p, size, &valid);
	}
	classes[nclasses++] = malloc_usable_size(p);
	print_message("walked up through %zu classes to %zu bytes\n", nclasses, size);

	/* Down: to each class's size, then just past the class below, which
	 * crosses into that class. */
	for (size_t k = nclasses; k-- > 1;) {
		p = realloc_checked(p, classes[k], &valid);
		p = realloc_checked(p, classes[k - 1] + 1, &valid);
	}
	p = realloc_checked(p, classes[0], &valid);
	p = realloc_checked(p, 1, &valid);
	free(p);
}

/* Around the chunk and between huge sizes, both ways. */
static void test_huge_moves(void **state)
{
	const size_t C = API_CHUNK, page = api_page();
	size_t sizes[] = {
		C - 1, C, C + 1, C + page, 3 * C + 5, 7 * C + 3, 2 * C + 1, C - page, 100,
		4 * C, 14336, 14337, 4 * C + page, C + 1, 16 << 10, 5 * C, 1,
	};
	size_t valid = 0;
	void *p = NULL;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		p = realloc_checked(p, sizes[i], &valid);
	free(p);
}

/* Random sizes, several blocks at once, contents checked on every move. */
static void test_random_reallocs(void **state)
{
	enum { NB = 16, ROUNDS = 4000 };
	void *blocks[NB] = { 0 };
	size_t valid[NB] = { 0 };
	uint64_t x = 88172645463325252ull;
	for (int r = 0; r < ROUNDS; r++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		int b = (int)(x % NB);
		unsigned kind = (unsigned)(x >> 8) % 100;
		size_t size;
		if (kind < 70)
			size = 1 + (x >> 16) % 2048;
		else if (kind < 90)
			size = 1 + (x >> 16) % (64 << 10);
		else if (kind < 99)
			size = 1 + (x >> 16) % API_CHUNK;
		else
			size = API_CHUNK + (x >> 16) % (3 * API_CHUNK);
		blocks[b] = realloc_checked(blocks[b], size, &valid[b]);
	}
	for (int b = 0; b < NB; b++)
		free(blocks[b]);
}

/* mimalloc's realloc-guarded: a block grown by 64 bytes at a time. */
static void test_grow_by_steps(void **state)
{
	for (int it = 0; it < 16; it++) {
		void *p = NULL;
		size_t valid = 0;
		for (size_t i = 1; i < 1024; i++)
			p = realloc_checked(p, i * 64, &valid);
		free(p);
	}
}

static void test_reallocarray(void **state)
{
	errno = 0;
	void *p = reallocarray(NULL, api_opaque(0), 16);
	assert_non_null(p);
	assert_int_equal(errno, 0);
	free(p);
	p = reallocarray(NULL, 0, 0);
	assert_non_null(p);
	free(p);

	unsigned char *c = reallocarray(NULL, 10, 10);
	assert_non_null(c);
	memcpy(c, ref, 100);
	c = reallocarray(c, 100, 100);
	assert_non_null(c);
	expect_ref(c, 100, "reallocarray", 10000);
	memcpy(c, ref, 10000);
	c = reallocarray(c, 3, API_CHUNK);
	assert_non_null(c);
	expect_ref(c, 10000, "reallocarray", 3 * API_CHUNK);
	c = reallocarray(c, 5, 5);
	assert_non_null(c);
	expect_ref(c, 25, "reallocarray", 25);
	/* A zero count frees, as realloc(p, 0) does. */
	assert_null(reallocarray(c, api_opaque(0), 16));

	/* tst-reallocarray: the largest products that do not overflow are
	 * refused with ENOMEM too, and the block survives. */
	c = malloc(10);
	assert_non_null(c);
	memset(c, 0x42, 10);
	errno = 0;
	assert_null(reallocarray(c, api_opaque(SIZE_MAX / 2), 2));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(reallocarray(c, api_opaque((size_t)1 << (sizeof(size_t) * 4)),
	                         (size_t)1 << (sizeof(size_t) * 4)));
	assert_int_equal(errno, ENOMEM);
	assert_true(api_all_bytes(c, 10, 0x42));
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glibc_cases),
		cmocka_unit_test(test_grow_to_usable_in_place),
		cmocka_unit_test(test_class_walk),
		cmocka_unit_test(test_huge_moves),
		cmocka_unit_test(test_random_reallocs),
		cmocka_unit_test(test_grow_by_steps),
		cmocka_unit_test(test_reallocarray),
	};
	return cmocka_run_group_tests(tests, setup_ref, NULL);
}
