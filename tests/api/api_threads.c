/*
 * api_threads.c: blocks that cross threads, in the API suite so that the
 * allocator's cross-thread paths also run under ASan and UBSan (the bigger
 * stress test, tests/helpers/stress_mt.c, runs under LD_PRELOAD only).
 *
 * Eight threads at a time allocate blocks of small, large and huge sizes,
 * fill them with a pattern and put them in a shared exchange; each takes
 * blocks that others put there, checks them and frees them, or reallocs
 * them and puts them back. Threads end and new ones start while their
 * blocks are still in the exchange; the main thread frees what is left.
 */
#include "api_util.h"
#include "../helpers/xorshift.h"
#include <pthread.h>

#define NTHREADS 8
#define GENERATIONS 3
#define OPS 3000
#define EXCHANGE 512

struct block {
	unsigned char *ptr;
	size_t size;
	uint64_t seed;
};

static pthread_mutex_t exchange_lock = PTHREAD_MUTEX_INITIALIZER;
static struct block exchange[EXCHANGE];
static uint64_t next_seed = 1;
static long nfreed_remote;

/* cmocka's failures longjmp to the test, which only works from the
 * thread that runs it; the other threads report and abort. */
#define thread_fail(...) do {                                                 \
	fprintf(stderr, "api_threads: " __VA_ARGS__);                         \
	fputc('\n', stderr);                                                  \
	abort();                                                              \
} while (0)

static size_t pick_size(uint64_t *rng)
{
	return pick_size4(rng, 600, 20000, API_CHUNK / 2, API_CHUNK);
}

/* Checks the first 256 bytes and the last 256 (all of a small block):
 * enough to see a block handed out twice or a bad copy, and cheap under
 * ASan. */
static void check_block(const struct block *b, const char *when)
{
	size_t head = b->size < 256 ? b->size : 256;
	if (api_check(b->ptr, head, b->seed) != head)
		thread_fail("block %p (size %zu) corrupted %s", (void *)b->ptr, b->size, when);
	if (b->size > 512) {
		const unsigned char *tail = b->ptr + b->size - 256;
		for (size_t i = 0; i < 256; i++)
			if (tail[i] != api_byte(b->seed, b->size - 256 + i))
				thread_fail("block %p (size %zu) tail corrupted %s", (void *)b->ptr, b->size, when);
	}
}

static void fill_block(struct block *b)
{
	size_t head = b->size < 256 ? b->size : 256;
	api_fill(b->ptr, head, b->seed);
	if (b->size > 512) {
		unsigned char *tail = b->ptr + b->size - 256;
		for (size_t i = 0; i < 256; i++)
			tail[i] = api_byte(b->seed, b->size - 256 + i);
	}
}

static void *thread_main(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
	for (int op = 0; op < OPS; op++) {
		struct block nb = { 0 };
		nb.size = pick_size(&rng);
		switch (rnd(&rng) % 4) {
		case 0: nb.ptr = calloc(1, nb.size); break;
		case 1: nb.ptr = aligned_alloc(64, (nb.size + 63) & ~(size_t)63); break;
		default: nb.ptr = malloc(nb.size); break;
		}
		if (!nb.ptr)
			thread_fail("allocation of %zu failed", nb.size);
		pthread_mutex_lock(&exchange_lock);
		nb.seed = next_seed++;
		pthread_mutex_unlock(&exchange_lock);
		fill_block(&nb);

		size_t slot = (size_t)(rnd(&rng) % EXCHANGE);
		pthread_mutex_lock(&exchange_lock);
		struct block old = exchange[slot];
		exchange[slot] = nb;
		pthread_mutex_unlock(&exchange_lock);
		if (!old.ptr)
			continue;
		check_block(&old, "in the exchange");
		if (rnd(&rng) % 4 == 0) {
			/* Realloc another thread's block and put it back. */
			size_t size = pick_size(&rng) + 1;
			unsigned char *q = realloc(old.ptr, size);
			if (!q)
				thread_fail("realloc to %zu failed", size);
			size_t keep = old.size < size ? old.size : size;
			keep = keep < 256 ? keep : 256;
			if (api_check(q, keep, old.seed) != keep)
				thread_fail("realloc of %zu to %zu lost the contents", old.size, size);
			old.ptr = q;
			old.size = size;
			fill_block(&old);
			slot = (size_t)(rnd(&rng) % EXCHANGE);
			pthread_mutex_lock(&exchange_lock);
			struct block other = exchange[slot];
			exchange[slot] = old;
			pthread_mutex_unlock(&exchange_lock);
			old = other;
			if (!old.ptr)
				continue;
			check_block(&old, "in the exchange");
		}
		free(old.ptr);
		pthread_mutex_lock(&exchange_lock);
		nfreed_remote++;
		pthread_mutex_unlock(&exchange_lock);
	}
	return NULL;
}

static void test_cross_thread_blocks(void **state)
{
	pthread_t threads[NTHREADS];
	uintptr_t id = 1;
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, thread_main, (void *)id++), 0);
	/* Replace each thread as it ends, while its blocks live on. */
	for (int g = 1; g < GENERATIONS; g++)
		for (int i = 0; i < NTHREADS; i++) {
			assert_int_equal(pthread_join(threads[i], NULL), 0);
			assert_int_equal(pthread_create(&threads[i], NULL, thread_main, (void *)id++), 0);
		}
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	for (int i = 0; i < EXCHANGE; i++) {
		if (!exchange[i].ptr)
			continue;
		check_block(&exchange[i], "at the end");
		free(exchange[i].ptr);
		exchange[i].ptr = NULL;
	}
	print_message("%d threads, %ld blocks taken from the exchange and freed\n",
	              NTHREADS * GENERATIONS, nfreed_remote);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cross_thread_blocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
