/*
 * stress_purge: the allocator's purging out of the arena's lock under
 * hostile use (tests/preload/purge_race.test.sh, run with decay_ms:0 so
 * that every run freed is purged, and with a small decay_ms so that the
 * background purger purges what the threads free).
 *
 * T threads share SLOTS slots of regions of 32 bytes to 6 MiB (most
 * under 256 KiB, a twentieth huge): each swaps a region of its own making into
 * a random slot and frees what it took out, so regions are freed by other
 * threads than their makers and pages are purged while other threads take
 * the same sizes. Every region carries a stamp (its address, its size and
 * a seed) at the start, the end and each page boundary, checked before it
 * is freed: a page purged while it is allocated reads zero, a page handed
 * out twice has another stamp. A quarter of the swaps realloc the region
 * first, growing or shrinking it across the large/huge boundary, and check
 * what was kept. Threads end after their share of swaps and new ones take
 * their place (a thread exits while others purge). Meanwhile the main
 * thread forks F times: each child checks every region in the slots,
 * frees them all, makes and checks a range of regions on two threads, and
 * exits 0; a child that hangs is killed by its alarm (a run left marked as
 * being purged would be lost to it, never a hang, so the child also checks
 * that what it freed serves a 1.5 MiB request at once and a full chunk).
 * Then the odd entry points: memalign and posix_memalign of every power
 * of two alignment from 1 to 4 MiB and of bad ones, aligned_alloc,
 * malloc_usable_size, calloc whose product overflows.
 *
 * Prints "stress_purge: OK" at the end; any mismatch aborts with the
 * region's address.
 * Usage: stress_purge [-t THREADS] [-n SWAPS_PER_THREAD] [-f FORKS] [-s SEED]
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xorshift.h"

#define SLOTS 64
#define PAGE 4096
#define MAXT 16

static void *_Atomic slots[SLOTS];
static int nthreads = 4, forks = 20;
static long swaps = 3000;
static uint64_t seed0 = 1;

struct hdr {
	size_t size;
	uint64_t seed;
};

static uint64_t stamp_at(const void *p, size_t off, uint64_t seed)
{
	return ((uint64_t)(uintptr_t)p ^ (off * 0x9e3779b97f4a7c15ull)) + seed;
}

static void die(const char *what, const void *p, size_t off)
{
	fprintf(stderr, "stress_purge: %s: region %p offset %zu\n", what, p, off);
	fflush(stderr);
	abort();
}

/* Stamps at every page boundary inside the region and at its end. */
static void stamp(char *p, size_t size, uint64_t seed)
{
	struct hdr h = { size, seed };
	memcpy(p, &h, sizeof(h));
	for (size_t off = PAGE; off + 16 <= size; off += PAGE) {
		uint64_t v = stamp_at(p, off, seed);
		memcpy(p + off, &v, 8);
	}
	if (size >= sizeof(h) + 8) {
		uint64_t v = stamp_at(p, size - 8, seed);
		memcpy(p + size - 8, &v, 8);
	}
}

/* Checks the stamps of the first `upto` bytes (stamped as `base`). */
static void check_upto(const char *p, const char *base, size_t upto, size_t size, uint64_t seed)
{
	for (size_t off = PAGE; off + 8 <= upto && off + 16 <= size; off += PAGE) {
		uint64_t v;
		memcpy(&v, p + off, 8);
		if (v != stamp_at(base, off, seed))
			die(v == 0 ? "page zeroed (purged while allocated?)" : "page overwritten", p, off);
	}
}

static void check(const char *p)
{
	struct hdr h;
	memcpy(&h, p, sizeof(h));
	if (h.size < sizeof(h) + 8 || h.size > (16u << 20))
		die("header overwritten", p, 0);
	if (malloc_usable_size((void *)p) < h.size)
		die("usable size below the size asked", p, h.size);
	check_upto(p, p, h.size, h.size, h.seed);
	uint64_t v;
	memcpy(&v, p + h.size - 8, 8);
	if (v != stamp_at(p, h.size - 8, h.seed))
		die("end overwritten", p, h.size - 8);
}

static size_t pick(uint64_t *r)
{
	uint64_t x = rnd(r);
	unsigned k = (unsigned)(x % 100);
	x >>= 8;
	if (k < 75)
		return 32 + x % (64 * PAGE);          /* small and large, to 256 KiB */
	if (k < 95)
		return (256u << 10) + x % (1792u << 10);   /* large, to a chunk */
	return (2u << 20) + x % (4u << 20);       /* huge */
}

static char *make(uint64_t *r, size_t size)
{
	char *p = malloc(size);
	if (p == NULL)
		die("malloc failed", NULL, size);
	stamp(p, size, rnd(r));
	return p;
}

/* Grows or shrinks p across sizes (and the large/huge boundary), checks
 * what the realloc kept, stamps the result anew. */
static char *resize(uint64_t *r, char *p)
{
	struct hdr h;
	memcpy(&h, p, sizeof(h));
	size_t to = pick(r);
	if (rnd(r) & 1)
		to = h.size > (2u << 20) ? h.size - (1u << 20) - 5 : h.size + (2u << 20) + 11;
	if (to < sizeof(h) + 8)
		to = sizeof(h) + 8;
	char *q = realloc(p, to);
	if (q == NULL)
		die("realloc failed", p, to);
	/* The kept prefix still holds p's stamps (made for p's address). */
	size_t kept = to < h.size ? to : h.size;
	check_upto(q, p, kept, h.size, h.seed);
	stamp(q, to, rnd(r));
	return q;
}

static void *worker(void *arg)
{
	uint64_t r = (uint64_t)(uintptr_t)arg;
	for (long i = 0; i < swaps; i++) {
		char *p = make(&r, pick(&r));
		if (rnd(&r) % 4 == 0)
			p = resize(&r, p);
		char *old = atomic_exchange(&slots[rnd(&r) % SLOTS], p);
		if (old) {
			check(old);
			free(old);
		}
	}
	return NULL;
}

static void *child_worker(void *arg)
{
	uint64_t r = (uint64_t)(uintptr_t)arg;
	for (int i = 0; i < 50; i++) {
		char *p = make(&r, pick(&r));
		check(p);
		free(p);
	}
	return NULL;
}

static void child(void)
{
	alarm(30);
	for (int i = 0; i < SLOTS; i++) {
		char *p = atomic_exchange(&slots[i], NULL);
		if (p) {
			check(p);
			free(p);
		}
	}
	pthread_t t[2];
	for (uintptr_t i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, child_worker, (void *)(i * 77 + 5)) != 0)
			die("child pthread_create", NULL, 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	char *a = malloc(1536u << 10), *b = malloc((2u << 20));
	if (!a || !b)
		die("child: no memory after freeing", NULL, 0);
	memset(a, 3, 1536u << 10);
	memset(b, 4, (2u << 20));
	free(a);
	free(b);
	_exit(0);
}

static void odd_entry_points(void)
{
	for (size_t al = 1; al <= (4u << 20); al <<= 1) {
		size_t sizes[] = { 1, 7, al, al + 1, 3 * al / 2 + 5 };
		for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			size_t sz = sizes[k];
			void *p = NULL;
			if (al >= sizeof(void *)) {
				int e = posix_memalign(&p, al, sz);
				if (e != 0 || p == NULL || (uintptr_t)p % al)
					die("posix_memalign", p, al);
				if (malloc_usable_size(p) < sz)
					die("posix_memalign usable size", p, sz);
				memset(p, 0x5a, sz);
				free(p);
			}
			p = memalign(al, sz);
			if (p == NULL || (uintptr_t)p % al)
				die("memalign", p, al);
			memset(p, 0x5b, sz);
			p = realloc(p, sz * 3 + 1);   /* a memalign'd region reallocs */
			if (p == NULL)
				die("realloc of memalign'd", p, sz);
			free(p);
			if (sz % al == 0) {
				p = aligned_alloc(al, sz);
				if (p == NULL || (uintptr_t)p % al)
					die("aligned_alloc", p, al);
				free(p);
			}
		}
	}
	void *p = (void *)1;
	if (posix_memalign(&p, 24, 8) != EINVAL || p != (void *)1)
		die("posix_memalign(24) not EINVAL or changed the pointer", p, 24);
	if (posix_memalign(&p, 2, 8) != EINVAL)
		die("posix_memalign(2) not EINVAL", p, 2);
	/* volatile: the sizes are too big for the compiler's liking */
	volatile size_t half = SIZE_MAX / 2, big = (size_t)1 << 33, most = SIZE_MAX - 4096;
	errno = 0;
	if (calloc(half, 3) != NULL || errno != ENOMEM)
		die("calloc overflow", NULL, 0);
	errno = 0;
	if (calloc(big, big) != NULL || errno != ENOMEM)
		die("calloc overflow 2^66", NULL, 0);
	errno = 0;
	if (malloc(most) != NULL || errno != ENOMEM)
		die("malloc(SIZE_MAX - 4096)", NULL, 0);
	if (malloc_usable_size(NULL) != 0)
		die("malloc_usable_size(NULL)", NULL, 0);
	char *z = calloc(3, (1u << 20) + 1);   /* reused memory comes back zeroed */
	for (size_t i = 0; z && i < 3 * ((1u << 20) + 1); i += 512)
		if (z[i])
			die("calloc not zero", z, i);
	free(z);
}

int main(int argc, char **argv)
{
	int c;
	while ((c = getopt(argc, argv, "t:n:f:s:")) != -1) {
		if (c == 't')
			nthreads = atoi(optarg);
		else if (c == 'n')
			swaps = atol(optarg);
		else if (c == 'f')
			forks = atoi(optarg);
		else if (c == 's')
			seed0 = strtoull(optarg, NULL, 0);
	}
	if (nthreads < 1 || nthreads > MAXT)
		nthreads = 4;
	printf("stress_purge: allocator %s\n", dlsym(RTLD_DEFAULT, "jm_malloc") ? "jmalloc" : "other");
	fflush(stdout);
	pthread_t t[MAXT];
	uint64_t next = seed0 * 1000003u + 1;
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)next++);
	int children = 0;
	/* Threads are replaced as they end; the forks come while they run. */
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < forks / 3 + (round < forks % 3); i++) {
			usleep(2000);
			pid_t pid = fork();
			if (pid < 0)
				die("fork", NULL, 0);
			if (pid == 0)
				child();
			int st;
			if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				fprintf(stderr, "stress_purge: child %d: %s %d\n", (int)pid,
				    WIFSIGNALED(st) ? "signal" : "exit",
				    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
				return 1;
			}
			children++;
		}
		for (int i = 0; i < nthreads; i++) {
			pthread_join(t[i], NULL);
			if (round < 2)
				pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)next++);
		}
	}
	for (int i = 0; i < SLOTS; i++) {
		char *p = atomic_exchange(&slots[i], NULL);
		if (p) {
			check(p);
			free(p);
		}
	}
	odd_entry_points();
	printf("stress_purge: %d threads x %ld swaps x 3 rounds, %d children\n", nthreads, swaps,
	    children);
	printf("stress_purge: OK\n");
	return 0;
}
