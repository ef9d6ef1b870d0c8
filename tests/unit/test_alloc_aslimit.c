/*
 * The allocator under a limit of address space (RLIMIT_AS, `ulimit -v`;
 * test build: jm_ names only). Its own program: the limit is set before
 * the allocator's first chunk. The chunk map (rtree.c) is 64 MiB of
 * address space, not taken under a limit below 1 GiB: chunks go in the
 * radix tree instead, found there by every lookup and by the heap
 * validator. Before, the map was taken whatever the limit, or no chunk
 * was made where it did not fit: under 72 MiB a program could not
 * allocate at all.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "internal.h"
#include "jmalloc.h"

int jm__heap_validate(void);

static void validate(void)
{
	assert_int_equal(jm__heap_validate(), 0);
}

enum { N = 3000 };

/* Small, large and huge regions, each filled, checked and freed: from
 * this thread and, half of them, from another. */
static void *free_half(void *arg)
{
	unsigned char **p = arg;
	for (int i = 0; i < N; i += 2)
		jm_free(p[i]);
	return NULL;
}

static void test_chunks_in_tree(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	skip();   /* the sanitizer's shadow takes terabytes of address space */
#endif
	static unsigned char *p[N];
	for (int i = 0; i < N; i++) {
		size_t n = i % 100 == 99 ? ((size_t)1 << 22) + (size_t)i :
		    i % 10 == 9 ? (size_t)20000 + (size_t)i * 7 : (size_t)(i % 900) + 1;
		p[i] = jm_malloc(n);
		assert_non_null(p[i]);
		memset(p[i], (unsigned char)i, n < 4096 ? n : 4096);
	}
	assert_int_equal(jm__chunk_map_len, 0);   /* not taken */
	uintptr_t c = (uintptr_t)p[0] & ~(uintptr_t)JM_CHUNK_MASK;
	assert_int_equal(jm__rtree_get(c), c);    /* in the tree */
	validate();
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, free_half, p), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	for (int i = 1; i < N; i += 2) {
		assert_int_equal(p[i][0], (unsigned char)i);
		unsigned char *q = jm_realloc(p[i], 3000);
		assert_non_null(q);
		assert_int_equal(q[0], (unsigned char)i);
		jm_free(q);
	}
	validate();
}

/* A large region cut to half or less moves (malloc.c); with no memory for
 * the move, it is cut in place: a shrink does not fail. Before, realloc
 * returned NULL (ENOMEM) once the address space was used up. */
static void test_cut_without_memory(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	skip();
#endif
	const size_t big = 200 * 4096, cut = 40 * 4096;
	unsigned char *r = jm_malloc(big);
	assert_non_null(r);
	memset(r, 7, big);
	/* The address space used up by regions of the cut's size (linked
	 * through their first word). */
	void *head = NULL;
	size_t n = 0;
	for (void *p; (p = jm_malloc(cut)) != NULL; n++) {
		*(void **)p = head;
		head = p;
	}
	assert_true(n > 0);
	unsigned char *q = jm_realloc(r, cut);
	assert_non_null(q);
	assert_ptr_equal(q, r);
	assert_true(jm_malloc_usable_size(q) >= cut);
	assert_true(jm_malloc_usable_size(q) < big);
	for (size_t i = 0; i < cut; i += 997)
		assert_int_equal(q[i], 7);
	while (head) {
		void *next = *(void **)head;
		jm_free(head);
		head = next;
	}
	jm_free(q);
	validate();
}

int main(void)
{
	setenv("JMALLOC_CONF", "prof_sample:0,background_thread:0", 1);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	struct rlimit rl = { (rlim_t)512 << 20, (rlim_t)512 << 20 };
	if (setrlimit(RLIMIT_AS, &rl) != 0)
		return 1;
#endif
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunks_in_tree),
		cmocka_unit_test(test_cut_without_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
