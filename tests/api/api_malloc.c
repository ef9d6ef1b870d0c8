/*
 * api_malloc.c: malloc, calloc, free, free_sized, malloc_usable_size.
 *
 * After glibc's tst-calloc, tst-malloc-usable and tst-free-sized and
 * mimalloc's test-api: malloc(0) gives unique freeable pointers, the usable
 * size covers the request and may be written in full, calloc zeroes memory
 * that was dirtied and freed before, free_sized/free_aligned_sized accept
 * what the other entry points returned, and a thread's first allocation may
 * be any entry point. The plain build also proves that jmalloc is the
 * malloc in use.
 */
#include "api_util.h"
#include <pthread.h>
#include <dlfcn.h>

/* Sizes spread over the small, large and huge classes, with the edges of
 * the chunk. */
static const size_t test_sizes[] = {
	0, 1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 65, 96, 127, 128,
	129, 200, 255, 256, 257, 511, 512, 513, 1000, 1023, 1024, 1025, 2047, 2048,
	2049, 3000, 4095, 4096, 4097, 8191, 8192, 8193, 10000, 14335, 14336, 14337,
	16383, 16384, 16385, 32768, 65535, 65536, 65537, 100000, 262144, 500000,
	1 << 20, (1 << 20) + 1, (2 << 20) - 4097, (2 << 20) - 4096, (2 << 20) - 1,
	2 << 20, (2 << 20) + 1, (2 << 20) + 4096, (3 << 20) + 5, 4 << 20,
	(5 << 20) + 123,
};
#define NSIZES (sizeof(test_sizes) / sizeof(test_sizes[0]))

static void test_malloc_zero_unique(void **state)
{
	enum { N = 1000 };
	void **ptrs = malloc(N * sizeof(void *));
	assert_non_null(ptrs);
	for (int i = 0; i < N; i++) {
		errno = 0;
		ptrs[i] = malloc(api_opaque(0));
		assert_non_null(ptrs[i]);
		assert_int_equal(errno, 0);
	}
	/* All distinct: sort the addresses and compare neighbours. */
	for (int i = 1; i < N; i++) {
		void *v = ptrs[i];
		int j = i - 1;
		while (j >= 0 && (uintptr_t)ptrs[j] > (uintptr_t)v) {
			ptrs[j + 1] = ptrs[j];
			j--;
		}
		ptrs[j + 1] = v;
	}
	for (int i = 1; i < N; i++)
		assert_true(ptrs[i - 1] != ptrs[i]);
	for (int i = 0; i < N; i++)
		free(ptrs[i]);
	free(ptrs);
}

static void test_free_null(void **state)
{
	errno = 1234;
	free(NULL);
	free_sized(NULL, 0);
	free_sized(NULL, 100);
	free_aligned_sized(NULL, 64, 128);
	/* free does not touch errno (POSIX 2024; glibc keeps it too). */
	assert_int_equal(errno, 1234);
	for (size_t i = 0; i < NSIZES; i++) {
		void *p = malloc(test_sizes[i]);
		assert_non_null(p);
		errno = 1234;
		free(p);
		assert_int_equal(errno, 1234);
	}
}

static void test_usable_size(void **state)
{
	assert_int_equal(malloc_usable_size(NULL), 0);
	/* Every block may be written up to its usable size without touching
	 * another: fill all of them, then check all of them. */
	void *ptrs[NSIZES];
	size_t usable[NSIZES];
	for (size_t i = 0; i < NSIZES; i++) {
		ptrs[i] = malloc(test_sizes[i]);
		assert_non_null(ptrs[i]);
		usable[i] = malloc_usable_size(ptrs[i]);
		assert_true(usable[i] >= test_sizes[i]);
		/* Every block is aligned for any fundamental type. */
		assert_true(api_aligned(ptrs[i], test_sizes[i] >= 16 ? 16 : 8));
		api_fill(ptrs[i], usable[i], i);
	}
	for (size_t i = 0; i < NSIZES; i++) {
		assert_int_equal(api_check(ptrs[i], usable[i], i), usable[i]);
		assert_int_equal(malloc_usable_size(ptrs[i]), usable[i]);
		free(ptrs[i]);
	}
}

/* Many blocks of one size live together never overlap. */
static void test_no_overlap(void **state)
{
	enum { N = 64 };
	for (size_t s = 0; s < NSIZES; s++) {
		size_t size = test_sizes[s];
		if (size > (1 << 20))
			break;
		unsigned char *ptrs[N];
		for (int i = 0; i < N; i++) {
			ptrs[i] = malloc(size);
			assert_non_null(ptrs[i]);
			memset(ptrs[i], i + 1, size);
		}
		for (int i = 0; i < N; i++) {
			assert_true(api_all_bytes(ptrs[i], size, (unsigned char)(i + 1)));
			free(ptrs[i]);
		}
	}
}

static void test_calloc_basic(void **state)
{
	for (size_t i = 0; i < NSIZES; i++) {
		size_t size = test_sizes[i];
		unsigned char *p = calloc(1, size);
		assert_non_null(p);
		assert_true(api_all_bytes(p, size, 0));
		free(p);
		if (size % 8 == 0) {
			p = calloc(size / 8, 8);
			assert_non_null(p);
			assert_true(api_all_bytes(p, size, 0));
			free(p);
		}
	}
	/* tst-calloc: a zero element count or size gives a freeable block. */
	void *p = calloc(api_opaque(0), api_opaque(SIZE_MAX));
	assert_non_null(p);
	free(p);
	p = calloc(api_opaque(SIZE_MAX), api_opaque(0));
	assert_non_null(p);
	free(p);
	p = calloc(0, 0);
	assert_non_null(p);
	free(p);
}

/* calloc must zero memory that a previous user dirtied: dirty many blocks
 * of a size, free them, then calloc that size many times. */
static void test_calloc_recycled(void **state)
{
	enum { N = 200 };
	void **ptrs = malloc(N * sizeof(void *));
	assert_non_null(ptrs);
	for (size_t s = 0; s < NSIZES; s++) {
		size_t size = test_sizes[s];
		int n = size > (64 << 10) ? 8 : N;
		for (int round = 0; round < 3; round++) {
			for (int i = 0; i < n; i++) {
				ptrs[i] = malloc(size);
				assert_non_null(ptrs[i]);
				memset(ptrs[i], 0xa5, malloc_usable_size(ptrs[i]));
			}
			for (int i = 0; i < n; i++)
				free(ptrs[i]);
			for (int i = 0; i < n; i++) {
				ptrs[i] = calloc(1, size);
				assert_non_null(ptrs[i]);
				if (!api_all_bytes(ptrs[i], size, 0))
					fail_msg("calloc(1, %zu) returned a dirty block", size);
				memset(ptrs[i], 0x5a, size);
			}
			for (int i = 0; i < n; i++)
				free(ptrs[i]);
		}
	}
	free(ptrs);
}

/* The same with the element count and size split, and with memory freed
 * by another size first (a block split from a larger freed one). */
static void test_calloc_recycled_mixed(void **state)
{
	for (int round = 0; round < 50; round++) {
		size_t big = (size_t)(round + 1) * 4096 * 3 + 100;
		void *p = malloc(big);
		assert_non_null(p);
		memset(p, 0xff, big);
		free(p);
		for (size_t n = 1; n <= 64; n *= 2) {
			size_t elem = big / 64;
			unsigned char *q = calloc(n, elem);
			assert_non_null(q);
			assert_true(api_all_bytes(q, n * elem, 0));
			memset(q, 0xee, n * elem);
			free(q);
		}
	}
}

static void test_free_sized(void **state)
{
	/* free_sized with the size that was asked of malloc or calloc. */
	for (int round = 0; round < 3; round++) {
		void *ptrs[NSIZES];
		for (size_t i = 0; i < NSIZES; i++) {
			ptrs[i] = (i & 1) ? calloc(1, test_sizes[i]) : malloc(test_sizes[i]);
			assert_non_null(ptrs[i]);
			api_fill(ptrs[i], test_sizes[i] < 4096 ? test_sizes[i] : 4096, i);
		}
		for (size_t i = 0; i < NSIZES; i++) {
			size_t k = (i * 7 + (size_t)round) % NSIZES;
			if (!ptrs[k])
				continue;
			assert_int_equal(api_check(ptrs[k], test_sizes[k] < 4096 ? test_sizes[k] : 4096, k),
			                 test_sizes[k] < 4096 ? test_sizes[k] : 4096);
			free_sized(ptrs[k], test_sizes[k]);
			ptrs[k] = NULL;
		}
		for (size_t i = 0; i < NSIZES; i++)
			if (ptrs[i])
				free_sized(ptrs[i], test_sizes[i]);
	}
	/* calloc's size is the product. */
	void *p = calloc(10, 100);
	assert_non_null(p);
	free_sized(p, 1000);
}

static void test_free_aligned_sized(void **state)
{
	for (size_t align = 1; align <= 4 * API_CHUNK; align *= 2) {
		size_t sizes[] = { align, 2 * align, 3 * align, align * 8 };
		for (size_t i = 0; i < 4; i++) {
			if (sizes[i] > 16 * API_CHUNK)
				continue;
			void *p = aligned_alloc(align, sizes[i]);
			assert_non_null(p);
			assert_true(api_aligned(p, align));
			memset(p, 0x11, sizes[i]);
			free_aligned_sized(p, align, sizes[i]);
		}
	}
}

/* A thread's first request to the allocator may be any entry point
 * (mimalloc's zero_aligned_first). */
static void *first_use_thread(void *arg)
{
	uintptr_t which = (uintptr_t)arg;
	void *p = NULL;
	switch (which) {
	case 0: p = calloc(1, 1000); break;
	case 1: p = aligned_alloc(4096, 8192); break;
	case 2: if (posix_memalign(&p, 64, 100) != 0) p = NULL; break;
	case 3: p = realloc(NULL, 300); break;
	case 4: p = memalign(1 << 16, 100); break;
	case 5: p = valloc(100); break;
	case 6: p = reallocarray(NULL, 10, 10); break;
	case 7: p = malloc(3 << 20); break;
	case 8: free(malloc(1)); p = malloc(100); break;
	case 9: return (void *)(uintptr_t)(malloc_usable_size(NULL) == 0);
	}
	if (!p)
		return NULL;
	memset(p, 0x22, 100);
	free(p);
	return (void *)1;
}

static void test_first_use_from_thread(void **state)
{
	for (uintptr_t which = 0; which < 10; which++) {
		pthread_t t;
		void *res = NULL;
		assert_int_equal(pthread_create(&t, NULL, first_use_thread, (void *)which), 0);
		assert_int_equal(pthread_join(t, &res), 0);
		if (res != (void *)1)
			fail_msg("first use from a thread, entry point %u failed", (unsigned)which);
	}
}

/* A block allocated in one thread may be freed in another, after the first
 * has exited. */
static void *alloc_thread(void *arg)
{
	void **out = arg;
	for (size_t i = 0; i < NSIZES; i++) {
		out[i] = malloc(test_sizes[i]);
		if (out[i])
			api_fill(out[i], test_sizes[i] < 512 ? test_sizes[i] : 512, i + 99);
	}
	return NULL;
}

static void test_free_after_thread_exit(void **state)
{
	void *ptrs[NSIZES];
	for (int round = 0; round < 4; round++) {
		pthread_t t;
		assert_int_equal(pthread_create(&t, NULL, alloc_thread, ptrs), 0);
		assert_int_equal(pthread_join(t, NULL), 0);
		for (size_t i = 0; i < NSIZES; i++) {
			size_t n = test_sizes[i] < 512 ? test_sizes[i] : 512;
			assert_non_null(ptrs[i]);
			assert_int_equal(api_check(ptrs[i], n, i + 99), n);
			free(ptrs[i]);
		}
	}
}

#ifndef JM_SANITIZED
/* The plain build links libjmalloc.so: the malloc that the program
 * resolves must be jmalloc's, not glibc's. */
static void test_jmalloc_is_in_use(void **state)
{
#ifdef API_ON_GLIBC
	skip();
#else
	void *jm = dlsym(RTLD_DEFAULT, "jm_malloc");
	assert_non_null(jm);
	const char *names[] = { "malloc", "free", "calloc", "realloc", "posix_memalign",
	                        "aligned_alloc", "memalign", "valloc", "pvalloc",
	                        "malloc_usable_size", "reallocarray", "free_sized",
	                        "free_aligned_sized" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		void *sym = dlsym(RTLD_DEFAULT, names[i]);
		Dl_info info;
		if (!sym)
			fail_msg("%s is not defined", names[i]);
		assert_int_not_equal(dladdr(sym, &info), 0);
		if (!info.dli_fname || !strstr(info.dli_fname, "libjmalloc"))
			fail_msg("%s resolves to %s, not libjmalloc", names[i],
			         info.dli_fname ? info.dli_fname : "?");
	}
	/* And a block from malloc is one that jmalloc knows. */
	void *p = malloc(100);
	size_t (*jm_usable)(void *) = (size_t (*)(void *))dlsym(RTLD_DEFAULT, "jm_malloc_usable_size");
	assert_non_null(jm_usable);
	assert_true(jm_usable(p) >= 100);
	assert_int_equal(jm_usable(p), malloc_usable_size(p));
	free(p);
#endif
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
#ifndef JM_SANITIZED
		cmocka_unit_test(test_jmalloc_is_in_use),
#endif
		cmocka_unit_test(test_malloc_zero_unique),
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_usable_size),
		cmocka_unit_test(test_no_overlap),
		cmocka_unit_test(test_calloc_basic),
		cmocka_unit_test(test_calloc_recycled),
		cmocka_unit_test(test_calloc_recycled_mixed),
		cmocka_unit_test(test_free_sized),
		cmocka_unit_test(test_free_aligned_sized),
		cmocka_unit_test(test_first_use_from_thread),
		cmocka_unit_test(test_free_after_thread_exit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
