/*
 * prefork: a pre-forked server, as nginx's master and workers, Apache's
 * prefork MPM and postgres's postmaster and backends are. The parent
 * builds a heap the workers inherit (8000 objects of 16..2048 bytes: its
 * configuration, caches, parsed files; about 8 MiB), then forks THREADS x
 * 2 workers; each serves 100000 x SCALE requests, each request a dozen
 * small objects and a 4..16 KiB buffer allocated, written, checked and
 * freed, and one in 16 replaces one of the inherited objects (a worker's
 * cache entry going stale: the parent's object freed in the child and a
 * new one made), then exits through exit() as a worker does. Three
 * generations of workers, as after two reloads; the parent replaces a
 * tenth of its objects between them. What it measures, against fork-churn
 * (short children that only exit): what a long-lived child pays for its
 * inherited heap: the allocator pages it writes that the fork shared (each
 * a fault and a copy: metadata of runs it frees into, its thread cache),
 * its own start (a child's first allocations, publishing), its resting
 * RSS (jmtime's peak is the largest process's), and the children's faults
 * counted with the parent's.
 */
#include "bench_main.h"

#include <sys/wait.h>

#define OBJECTS 8000
#define GENERATIONS 3

static unsigned char *obj[OBJECTS];
static size_t obj_size[OBJECTS];
static uint64_t obj_tag[OBJECTS];

static void make(int i, uint64_t *rng, uint64_t tag)
{
	obj_size[i] = rng_range(rng, 16, 2048);
	obj[i] = xmalloc(obj_size[i]);
	memset(obj[i], (int)(tag & 0xff), obj_size[i]);
	obj_tag[i] = tag;
	tag_fill(obj[i], obj_size[i], tag);
}

static void worker(long requests, uint64_t seed)
{
	uint64_t rng = rng_seed(seed);
	void *pool[16];
	size_t pool_size[16];
	for (long r = 0; r < requests; r++) {
		int n = (int)rng_range(&rng, 8, 16);
		for (int k = 0; k < n; k++) {
			pool_size[k] = rng_range(&rng, 16, 512);
			pool[k] = xmalloc(pool_size[k]);
			tag_fill(pool[k], pool_size[k], (uint64_t)r * 16 + (uint64_t)k);
		}
		size_t blen = rng_range(&rng, 4096, 16384);
		unsigned char *buf = xmalloc(blen);
		memset(buf, (int)(r & 0xff), blen);
		/* Read the shared heap: the reply comes from it. */
		int i = (int)(rng_next(&rng) % OBJECTS);
		tag_check(obj[i], obj_size[i], obj_tag[i]);
		memcpy(buf, obj[i], obj_size[i] < blen ? obj_size[i] : blen);
		if (r % 16 == 0) {
			free(obj[i]);
			make(i, &rng, seed * 1000003u + (uint64_t)r);
		}
		for (int k = n - 1; k >= 0; k--) {
			tag_check(pool[k], pool_size[k], (uint64_t)r * 16 + (uint64_t)k);
			free(pool[k]);
		}
		free(buf);
	}
	for (int i = 0; i < OBJECTS; i++)
		tag_check(obj[i], obj_size[i], obj_tag[i]);
}

static int bench_main(int threads, double scale)
{
	uint64_t rng = rng_seed(12345);
	int workers = threads * 2;
	long requests = scaled(100000, scale, 200);
	for (int i = 0; i < OBJECTS; i++)
		make(i, &rng, (uint64_t)i * 2654435761u);
	for (int g = 0; g < GENERATIONS; g++) {
		for (int w = 0; w < workers; w++) {
			pid_t pid = fork();
			if (pid < 0)
				bench_fail("fork failed");
			if (pid == 0) {
				worker(requests, (uint64_t)(g * workers + w) + 1);
				exit(0);
			}
		}
		for (int w = 0; w < workers; w++) {
			int status;
			if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
				bench_fail("a worker failed (status %#x)", status);
		}
		for (int i = g; i < OBJECTS; i += 10) {
			tag_check(obj[i], obj_size[i], obj_tag[i]);
			free(obj[i]);
			make(i, &rng, (uint64_t)(g + 1) * 7919u + (uint64_t)i);
		}
	}
	for (int i = 0; i < OBJECTS; i++) {
		tag_check(obj[i], obj_size[i], obj_tag[i]);
		free(obj[i]);
	}
	printf("prefork: %d generations of %d workers, %ld requests each\n", GENERATIONS, workers, requests);
	return 0;
}
