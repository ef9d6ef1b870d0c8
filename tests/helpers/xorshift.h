/*
 * xorshift.h: the random numbers of the tests that drive the allocator
 * with random work (tests/api/api_threads.c, tests/helpers/stress_*.c):
 * xorshift64, one state per thread, the same sequence for the same seed on
 * every run, so that a failure replays.
 *
 *   rnd(&state)      the next number (state: any nonzero seed)
 *   pick_size4(&state, a, b, c, d)   a size: below a 80% of the time,
 *                    from a to a + b 17%, from b to b + c 2.8%, from d to
 *                    2d 0.2% (small, large, larger, huge in the caller's
 *                    terms)
 */
#ifndef JM_TEST_XORSHIFT_H
#define JM_TEST_XORSHIFT_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static inline size_t pick_size4(uint64_t *rng, size_t a, size_t b, size_t c, size_t d)
{
	uint64_t r = rnd(rng);
	unsigned k = (unsigned)(r % 1000);
	r >>= 16;
	if (k < 800)
		return r % a;
	if (k < 970)
		return a + r % b;
	if (k < 998)
		return b + r % c;
	return d + r % d;
}

#endif
