/*
 * test_bench.c: the benchmark harness (tests/bench/bench.h). run_threads
 * gives each thread its argument in cache lines of its own and hands the
 * results back: the workloads write their state through that argument at
 * every step, and when two threads' structs shared a line the benchmark
 * timed that line's bouncing, and where the allocator had put the array,
 * more than the allocator (larson's two 24-byte workers: twice the time
 * when they started a line).
 */
#include "../bench/bench.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

/* Lines of 64 bytes, paired by the adjacent-line prefetcher. */
#define LINE 128

struct small_arg {            /* 24 bytes, as larson's worker */
	uint64_t in;
	uint64_t out;
	uintptr_t self;
};

struct big_arg {              /* over a line and not a multiple of one */
	uint64_t in;
	uint64_t out;
	uintptr_t self;
	unsigned char fill[157];
};

static void *small_fn(void *p)
{
	struct small_arg *a = p;
	a->self = (uintptr_t)p;
	a->out = a->in * 3 + 1;
	return NULL;
}

static void *big_fn(void *p)
{
	struct big_arg *a = p;
	a->self = (uintptr_t)p;
	a->out = a->in * 5 + 2;
	for (size_t i = 0; i < sizeof a->fill; i++)
		a->fill[i] = (unsigned char)(a->fill[i] + 1);
	return NULL;
}

/* Each argument starts a LINE, and no byte of one is in a LINE that holds
 * a byte of another. */
static void check_apart(uintptr_t *self, int n, size_t size)
{
	for (int i = 0; i < n; i++) {
		if (self[i] % LINE != 0)
			fail_msg("thread %d's argument at %#lx: not %d-aligned", i,
			    (unsigned long)self[i], LINE);
		uintptr_t last_i = (self[i] + size - 1) / LINE;
		for (int j = 0; j < n; j++) {
			if (j == i)
				continue;
			uintptr_t first_j = self[j] / LINE;
			uintptr_t last_j = (self[j] + size - 1) / LINE;
			if (first_j <= last_i && self[i] / LINE <= last_j)
				fail_msg("threads %d and %d share a line (%#lx, %#lx, %zu bytes)", i, j,
				    (unsigned long)self[i], (unsigned long)self[j], size);
		}
	}
}

static void test_run_threads_small(void **state)
{
	(void)state;
	enum { N = 5 };
	/* Packed as the workloads pack them, from a 24-byte stride. */
	struct small_arg *args = malloc(sizeof *args * N);
	assert_non_null(args);
	for (int i = 0; i < N; i++)
		args[i] = (struct small_arg){ .in = (uint64_t)i + 10 };
	run_threads(N, small_fn, args, sizeof *args);
	uintptr_t self[N];
	for (int i = 0; i < N; i++) {
		assert_int_equal(args[i].in, (uint64_t)i + 10);
		assert_int_equal(args[i].out, ((uint64_t)i + 10) * 3 + 1);
		self[i] = args[i].self;
	}
	check_apart(self, N, sizeof *args);
	free(args);
}

static void test_run_threads_big(void **state)
{
	(void)state;
	enum { N = 3 };
	struct big_arg *args = malloc(sizeof *args * N);
	assert_non_null(args);
	for (int i = 0; i < N; i++) {
		args[i].in = (uint64_t)i;
		args[i].out = 0;
		memset(args[i].fill, i, sizeof args[i].fill);
	}
	run_threads(N, big_fn, args, sizeof *args);
	uintptr_t self[N];
	for (int i = 0; i < N; i++) {
		assert_int_equal(args[i].out, (uint64_t)i * 5 + 2);
		for (size_t k = 0; k < sizeof args[i].fill; k++)
			assert_int_equal(args[i].fill[k], i + 1);
		self[i] = args[i].self;
	}
	check_apart(self, N, sizeof *args);
	free(args);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_threads_small),
		cmocka_unit_test(test_run_threads_big),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
