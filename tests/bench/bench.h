/*
 * bench.h: what the benchmark workloads share.
 *
 * Every workload is a plain program run as `NAME [THREADS [SCALE]]`:
 * THREADS 0 (the default) means one per online CPU; SCALE multiplies the
 * fixed amount of work (1.0 for `make bench`, about 0.01 for the smoke run).
 * The work done is fixed, so wall time is the measure. A workload checks
 * its own results where that is cheap (a tag written into every object and
 * verified before it is freed, a value recomputed another way); on success
 * it prints one deterministic line (the same under every allocator, which
 * run.sh compares) and exits 0; on a wrong result it prints what went wrong
 * on stderr and exits 1.
 *
 * The random generator is a per-thread xorshift, seeded from fixed values,
 * so a run is repeatable up to the interleaving of threads.
 */
#ifndef JM_BENCH_H
#define JM_BENCH_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bench programs call malloc through the PLT like any program: built with
 * -fno-builtin so that the compiler does not pair up or drop calls. */

static const char *bench_name = "bench";

__attribute__((noreturn, format(printf, 1, 2)))
static void bench_fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: FAILED: ", bench_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

#define BENCH_CHECK(cond, ...) \
	do { if (!(cond)) bench_fail(__VA_ARGS__); } while (0)

/* xorshift64*: fast, good enough to pick slots and sizes. */
static inline uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t rng_seed(uint64_t salt)
{
	uint64_t s = 0x9E3779B97F4A7C15ULL * (salt + 1) + 0x1234567ULL;
	return s ? s : 1;
}

/* A number in [lo, hi]. */
static inline size_t rng_range(uint64_t *state, size_t lo, size_t hi)
{
	return lo + (size_t)(rng_next(state) % (hi - lo + 1));
}

static inline void *xmalloc(size_t size)
{
	void *p = malloc(size);
	if (p == NULL)
		bench_fail("malloc(%zu) returned NULL", size);
	return p;
}

/*
 * Object tags: the first word (the first byte, for objects of a word or
 * less) and the last byte of an object hold values derived from a tag, so
 * that an object handed out twice, or overwritten by the allocator's
 * metadata while live, is caught when it is checked before being freed.
 */
static inline void tag_fill(void *p, size_t size, uint64_t tag)
{
	unsigned char *b = p;
	if (size > sizeof(uint64_t))
		memcpy(b, &tag, sizeof tag);
	else
		b[0] = (unsigned char)tag;
	if (size > 1)
		b[size - 1] = (unsigned char)(tag >> 8) ^ (unsigned char)size;
}

static inline void tag_check(const void *p, size_t size, uint64_t tag)
{
	const unsigned char *b = p;
	uint64_t seen = 0;
	if (size > sizeof(uint64_t)) {
		memcpy(&seen, b, sizeof seen);
		if (seen != tag)
			bench_fail("object %p of %zu bytes: tag %#llx, expected %#llx",
				   p, size, (unsigned long long)seen, (unsigned long long)tag);
	} else if (b[0] != (unsigned char)tag) {
		bench_fail("object %p of %zu bytes: first byte %#x, expected %#x",
			   p, size, b[0], (unsigned char)tag);
	}
	if (size > 1 && b[size - 1] != ((unsigned char)(tag >> 8) ^ (unsigned char)size))
		bench_fail("object %p of %zu bytes: last byte overwritten", p, size);
}

static inline int bench_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : (int)n;
}

/* Parses `NAME [THREADS [SCALE]]`. */
static inline void bench_args(int argc, char **argv, int *threads, double *scale)
{
	const char *slash = strrchr(argv[0], '/');
	bench_name = slash ? slash + 1 : argv[0];
	*threads = argc > 1 ? atoi(argv[1]) : 0;
	if (*threads <= 0)
		*threads = bench_ncpu();
	*scale = argc > 2 ? atof(argv[2]) : 1.0;
	if (!(*scale > 0))
		bench_fail("bad scale '%s'", argv[2]);
}

/* base * scale, at least `min`. */
static inline long scaled(double base, double scale, long min)
{
	long v = (long)(base * scale);
	return v < min ? min : v;
}

/* Each thread's argument gets cache lines of its own (two lines: the
 * adjacent-line prefetcher pairs lines up). */
#define BENCH_ARG_ALIGN 128

/* Runs fn(&args[i]) in `n` threads and waits for them; args is an array of
 * n structs of arg_size bytes. Each thread works on a copy of its struct
 * that starts BENCH_ARG_ALIGN-aligned and shares no cache line with
 * another's, and the copies are written back into args once all threads
 * have ended. Workers update their state through that struct at every step
 * (the random generator), and in the caller's packed array two of them
 * wrote one cache line at every step: that cost more than the allocator
 * did, and how much depended on where the allocator had put the array (a
 * 48-byte block: both threads' generators in one line when it started a
 * line, a line apart when it started 32 bytes into one), so a workload
 * timed the placement of one block rather than the allocator. */
static inline void run_threads(int n, void *(*fn)(void *), void *args, size_t arg_size)
{
	size_t stride = (arg_size + BENCH_ARG_ALIGN - 1) / BENCH_ARG_ALIGN * BENCH_ARG_ALIGN;
	char *raw = xmalloc(stride * (size_t)n + BENCH_ARG_ALIGN - 1);
	char *box = (char *)(((uintptr_t)raw + BENCH_ARG_ALIGN - 1) & ~(uintptr_t)(BENCH_ARG_ALIGN - 1));
	pthread_t *tids = xmalloc(sizeof *tids * (size_t)n);
	for (int i = 0; i < n; i++)
		memcpy(box + (size_t)i * stride, (char *)args + (size_t)i * arg_size, arg_size);
	for (int i = 0; i < n; i++) {
		if (pthread_create(&tids[i], NULL, fn, box + (size_t)i * stride) != 0)
			bench_fail("pthread_create failed");
	}
	for (int i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	for (int i = 0; i < n; i++)
		memcpy((char *)args + (size_t)i * arg_size, box + (size_t)i * stride, arg_size);
	free(tids);
	free(raw);
}

#endif
