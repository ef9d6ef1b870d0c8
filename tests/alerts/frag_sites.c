/*
 * frag_sites.c: a program that fragments its heap on purpose from one
 * known function, for tests/alerts/sites.test.sh. Built by the test with
 * plain `cc -O2 -g` (no frame pointers).
 *
 * - fragment_heap() allocates FRAG_COUNT objects of FRAG_SIZE bytes and
 *   frees three of every four: the bin's runs stay a quarter used and
 *   cannot be given back;
 * - hold_dense() holds more bytes than fragment_heap() keeps, in densely
 *   used runs of another bin: a site with more live bytes that is no
 *   cause of the fragmentation, which the alert must not name;
 * - hold_small_0() .. hold_small_7() hold 2 MiB each, from eight sites of
 *   their own: more sites than /metrics lists per executable.
 * Every function stores each pointer in a global array inside its loop, so
 * that its call to malloc is not a tail call and its frame stays.
 *
 * Prints "ready" once everything is held, then sleeps until killed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FRAG_SIZE   1024
#define FRAG_COUNT  65536            /* 64 MiB allocated, 16 MiB kept */
#define DENSE_SIZE  64
#define DENSE_COUNT 640000           /* 39 MiB, all kept */
#define SMALL_BYTES (2u << 20)

static void *frag_objs[FRAG_COUNT];
static void *dense_objs[DENSE_COUNT];
static void *small_objs[8][SMALL_BYTES / 4096];

__attribute__((noinline)) void fragment_heap(void)
{
	for (size_t i = 0; i < FRAG_COUNT; i++) {
		frag_objs[i] = malloc(FRAG_SIZE);
		if (frag_objs[i] == NULL)
			abort();
		memset(frag_objs[i], 0x42, 16);
	}
	/* Every fourth object kept: one per page of four regions. Not by
	 * address: a sampled object has a page of its own, and a rule that
	 * keeps the first object of each page would keep every sampled one
	 * (and bias the estimate four times over). */
	for (size_t i = 0; i < FRAG_COUNT; i++) {
		if (i % 4 != 0) {
			free(frag_objs[i]);
			frag_objs[i] = NULL;
		}
	}
}

__attribute__((noinline)) void hold_dense(void)
{
	for (size_t i = 0; i < DENSE_COUNT; i++) {
		dense_objs[i] = malloc(DENSE_SIZE);
		if (dense_objs[i] == NULL)
			abort();
		memset(dense_objs[i], 0x24, 8);
	}
}

/* Eight functions that differ (their size), so that the compiler does not
 * fold them into one. */
#define HOLD_SMALL(n)                                                         \
	__attribute__((noinline)) void hold_small_##n(void)                   \
	{                                                                     \
		size_t size = 4096 - 64 * (n);                                \
		for (size_t i = 0; i < SMALL_BYTES / 4096; i++) {             \
			small_objs[n][i] = malloc(size);                      \
			if (small_objs[n][i] == NULL)                         \
				abort();                                      \
			memset(small_objs[n][i], n, 8);                       \
		}                                                             \
	}
HOLD_SMALL(0) HOLD_SMALL(1) HOLD_SMALL(2) HOLD_SMALL(3)
HOLD_SMALL(4) HOLD_SMALL(5) HOLD_SMALL(6) HOLD_SMALL(7)

int main(void)
{
	/* A small first allocation of its own: a thread's first allocation is
	 * counted against its first sampling interval. */
	free(malloc(16));
	fragment_heap();
	hold_dense();
	hold_small_0();
	hold_small_1();
	hold_small_2();
	hold_small_3();
	hold_small_4();
	hold_small_5();
	hold_small_6();
	hold_small_7();
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
