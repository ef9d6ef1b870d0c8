/*
 * fastpath: the malloc+free patterns whose instruction counts run.sh
 * reports, counted with `valgrind --tool=callgrind`.
 *
 *   fastpath [PAIRS]
 *
 * Each pattern exists as three copies of one function: _w (warm-up, 1000
 * pairs), _a (PAIRS pairs) and _b (2*PAIRS pairs). A pattern function calls
 * nothing but malloc and free, so callgrind's inclusive cost of the
 * function minus its self cost is the allocator's instructions (PLT jumps
 * included); the difference between _b and _a, divided by PAIRS, is the
 * cost of one pair with the one-off costs (first use, growing the heap)
 * cancelled out. Run without valgrind it checks that the patterns work.
 *
 * Built with -fno-ipa-icf and noipa so that the copies are neither merged
 * nor cloned.
 */
#include "bench.h"

#define BATCH 1000
#define PATTERN_FN __attribute__((noipa))

static unsigned order[BATCH];    /* a random permutation of 0..BATCH-1 */
static size_t mixed[BATCH];      /* random sizes 1..1024 */
static void *slots[BATCH];
static volatile unsigned char sink;

#define DEFINE_PATTERNS(sfx)                                                   \
PATTERN_FN static void m16_##sfx(long pairs)                                   \
{                                                                              \
	for (long i = 0; i < pairs; i++) {                                     \
		unsigned char *p = malloc(16);                                 \
		p[0] = (unsigned char)i;                                       \
		sink = p[0];                                                   \
		free(p);                                                       \
	}                                                                      \
}                                                                              \
PATTERN_FN static void m1024_##sfx(long pairs)                                 \
{                                                                              \
	for (long i = 0; i < pairs; i++) {                                     \
		unsigned char *p = malloc(1024);                               \
		p[0] = (unsigned char)i;                                       \
		sink = p[0];                                                   \
		free(p);                                                       \
	}                                                                      \
}                                                                              \
PATTERN_FN static void rev64_##sfx(long pairs)                                 \
{                                                                              \
	for (long r = 0; r < pairs / BATCH; r++) {                             \
		for (int i = 0; i < BATCH; i++)                                \
			slots[i] = malloc(64);                                 \
		for (int i = BATCH - 1; i >= 0; i--)                           \
			free(slots[i]);                                        \
	}                                                                      \
}                                                                              \
PATTERN_FN static void rand64_##sfx(long pairs)                                \
{                                                                              \
	for (long r = 0; r < pairs / BATCH; r++) {                             \
		for (int i = 0; i < BATCH; i++)                                \
			slots[i] = malloc(64);                                 \
		for (int i = 0; i < BATCH; i++)                                \
			free(slots[order[i]]);                                 \
	}                                                                      \
}                                                                              \
PATTERN_FN static void mixed_##sfx(long pairs)                                 \
{                                                                              \
	for (long r = 0; r < pairs / BATCH; r++) {                             \
		for (int i = 0; i < BATCH; i++)                                \
			slots[i] = malloc(mixed[i]);                           \
		for (int i = 0; i < BATCH; i++)                                \
			free(slots[order[i]]);                                 \
	}                                                                      \
}

DEFINE_PATTERNS(w)
DEFINE_PATTERNS(a)
DEFINE_PATTERNS(b)

int main(int argc, char **argv)
{
	long pairs = argc > 1 ? atol(argv[1]) : 100000;
	bench_name = "fastpath";
	pairs = (pairs + BATCH - 1) / BATCH * BATCH;
	uint64_t rng = rng_seed(99);
	for (unsigned i = 0; i < BATCH; i++)
		order[i] = i;
	for (unsigned i = BATCH - 1; i > 0; i--) {
		unsigned j = (unsigned)(rng_next(&rng) % (i + 1));
		unsigned t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned i = 0; i < BATCH; i++)
		mixed[i] = rng_range(&rng, 1, 1024);

	m16_w(BATCH); m16_a(pairs); m16_b(2 * pairs);
	m1024_w(BATCH); m1024_a(pairs); m1024_b(2 * pairs);
	rev64_w(BATCH); rev64_a(pairs); rev64_b(2 * pairs);
	rand64_w(BATCH); rand64_a(pairs); rand64_b(2 * pairs);
	mixed_w(BATCH); mixed_a(pairs); mixed_b(2 * pairs);
	printf("fastpath: ok\n");
	return 0;
}
