/*
 * cfrac: small-object churn from arithmetic on heap-allocated big numbers
 * (after cfrac, the continued-fraction factoring program in
 * mimalloc-bench, whose run time is dominated by allocating and freeing
 * small number cells).
 *
 * For a series of moduli m below 2^62 it iterates Pollard's map
 * x <- (x*x + c) mod m, where every number is a freshly allocated array of
 * 32-bit limbs (8 to 24 bytes) and the reduction is shift-and-subtract,
 * each shift and each difference a new allocation. The last 64 values are
 * kept in a ring, so lifetimes vary. Every step is checked against the same
 * computation in 128-bit integers.
 */
#include "bench_main.h"

struct big {
	uint32_t n;        /* limbs in use; at least 1 */
	uint32_t d[];      /* little-endian */
};

static struct big *big_new(uint32_t n)
{
	struct big *b = xmalloc(sizeof *b + sizeof(uint32_t) * n);
	b->n = n;
	return b;
}

static struct big *big_trim(struct big *b)
{
	while (b->n > 1 && b->d[b->n - 1] == 0)
		b->n--;
	return b;
}

static struct big *big_from(unsigned __int128 v)
{
	struct big *b = big_new(4);
	for (int i = 0; i < 4; i++, v >>= 32)
		b->d[i] = (uint32_t)v;
	return big_trim(b);
}

static unsigned __int128 big_value(const struct big *b)
{
	unsigned __int128 v = 0;
	BENCH_CHECK(b->n <= 4, "number of %u limbs out of range", b->n);
	for (int i = (int)b->n - 1; i >= 0; i--)
		v = (v << 32) | b->d[i];
	return v;
}

static unsigned big_bits(const struct big *b)
{
	uint32_t top = b->d[b->n - 1];
	return (b->n - 1) * 32 + (top ? 32 - (unsigned)__builtin_clz(top) : 0);
}

static int big_cmp(const struct big *a, const struct big *b)
{
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	for (int i = (int)a->n - 1; i >= 0; i--) {
		if (a->d[i] != b->d[i])
			return a->d[i] < b->d[i] ? -1 : 1;
	}
	return 0;
}

static struct big *big_mul(const struct big *a, const struct big *b)
{
	struct big *r = big_new(a->n + b->n);
	memset(r->d, 0, sizeof(uint32_t) * r->n);
	for (uint32_t i = 0; i < a->n; i++) {
		uint64_t carry = 0;
		for (uint32_t j = 0; j < b->n; j++) {
			uint64_t t = (uint64_t)a->d[i] * b->d[j] + r->d[i + j] + carry;
			r->d[i + j] = (uint32_t)t;
			carry = t >> 32;
		}
		r->d[i + b->n] = (uint32_t)carry;
	}
	return big_trim(r);
}

static struct big *big_add_small(const struct big *a, uint32_t c)
{
	struct big *r = big_new(a->n + 1);
	uint64_t carry = c;
	for (uint32_t i = 0; i < a->n; i++) {
		uint64_t t = (uint64_t)a->d[i] + carry;
		r->d[i] = (uint32_t)t;
		carry = t >> 32;
	}
	r->d[a->n] = (uint32_t)carry;
	return big_trim(r);
}

/* a - b, for a >= b. */
static struct big *big_sub(const struct big *a, const struct big *b)
{
	struct big *r = big_new(a->n);
	int64_t borrow = 0;
	for (uint32_t i = 0; i < a->n; i++) {
		int64_t t = (int64_t)a->d[i] - (i < b->n ? b->d[i] : 0) - borrow;
		borrow = t < 0;
		r->d[i] = (uint32_t)(t + (borrow << 32));
	}
	return big_trim(r);
}

static struct big *big_shl(const struct big *a, unsigned bits)
{
	unsigned limbs = bits / 32, sh = bits % 32;
	struct big *r = big_new(a->n + limbs + 1);
	memset(r->d, 0, sizeof(uint32_t) * limbs);
	uint32_t carry = 0;
	for (uint32_t i = 0; i < a->n; i++) {
		r->d[i + limbs] = (a->d[i] << sh) | carry;
		carry = sh ? a->d[i] >> (32 - sh) : 0;
	}
	r->d[a->n + limbs] = carry;
	return big_trim(r);
}

static struct big *big_mod(const struct big *a, const struct big *m)
{
	struct big *r = big_shl(a, 0);
	unsigned ab = big_bits(a), mb = big_bits(m);
	for (int s = (int)ab - (int)mb; s >= 0; s--) {
		struct big *t = big_shl(m, (unsigned)s);
		if (big_cmp(r, t) >= 0) {
			struct big *d = big_sub(r, t);
			free(r);
			r = d;
		}
		free(t);
	}
	return r;
}

#define RING 64

static int bench_main(int threads, double scale)
{
	(void)threads;          /* one thread, whatever THREADS says */
	long moduli = scaled(300, scale, 2);
	long steps = 2000;
	uint64_t rng = rng_seed(42), checksum = 0;
	struct big *ring[RING] = { 0 };

	for (long k = 0; k < moduli; k++) {
		uint64_t mv = (rng_next(&rng) >> 2) | 1 | (1ULL << 40);
		uint32_t c = (uint32_t)(1 + k % 7);
		struct big *m = big_from(mv);
		struct big *x = big_from(2);
		unsigned __int128 xr = 2;
		for (long s = 0; s < steps; s++) {
			struct big *sq = big_mul(x, x);
			struct big *sum = big_add_small(sq, c);
			free(sq);
			struct big *next = big_mod(sum, m);
			free(sum);
			xr = (xr * xr + c) % mv;
			BENCH_CHECK(big_value(next) == xr, "modulus %#llx step %ld: wrong result",
				    (unsigned long long)mv, s);
			free(ring[s % RING]);
			ring[s % RING] = x;
			x = next;
		}
		checksum += (uint64_t)xr;
		free(x);
		free(m);
	}
	for (int i = 0; i < RING; i++)
		free(ring[i]);
	printf("cfrac: ok, %ld moduli, checksum %llu\n", moduli, (unsigned long long)checksum);
	return 0;
}
