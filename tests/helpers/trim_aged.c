/*
 * trim_aged MODE: malloc_trim below the 4 MiB of dirty memory it keeps
 * (liballoc/compat.c), and the runs a process that trims is given
 * (liballoc/arena.c, dirty_fit). Run with JMALLOC_CONF=prof_sample:0,
 * background_thread:0 (no sampled region, no purger). Prints "ok" and
 * exits 0; a line saying what failed and 1 otherwise.
 *   aged   2 MiB of large regions written and freed stay resident through
 *          1000 malloc_trim(0) calls (each returns 0), and are purged by
 *          the call that finds them unused for 2048 calls (it returns 1):
 *          before, every call below the 4 MiB returned 0 and purged
 *          nothing, and a program that trims after every request kept
 *          the runs its requests had stopped using until the decay.
 *          (A trim first: the process's first call gives back all.)
 *   once   3 MiB of large regions and two 64 KiB buffers (the thread
 *          cache's) written and freed, then the process's one
 *          malloc_trim(0): it returns 1 and none of their pages stays
 *          resident; before, a call below the 4 MiB purged nothing (and
 *          the cached buffers not at all) until the decay.
 *   dirty  a region of 10 pages freed and purged by a trim (a clean free
 *          run of its very size), then one of 20 pages freed (a dirty
 *          run): the next malloc of 10 pages takes the dirty run, its
 *          pages resident; before, best fit took the clean one, whose
 *          pages were faulted in again.
 *   cached two regions of 12 pages freed by a thread that shares its
 *          arena (narenas:1, a second thread counted in it) wait in the
 *          arena's cache of 9 to 64 pages (arena.c, "The arena's cache"),
 *          the only dirty pages; the call that finds them unused for 2048
 *          calls purges them, as it does dirty runs: before, malloc_trim's
 *          look below the 4 MiB (compat.c, dirty_scan) read only the
 *          arenas' oldest dirty run, not the cache's, and no call of 2300
 *          returned 1 nor purged them.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t resident(void *p, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(pg - 1);
	size_t n = ((uintptr_t)p + len - a + pg - 1) / pg;
	unsigned char v[1024];
	if (n > sizeof v || mincore((void *)a, n * pg, v) != 0)
		return (size_t)-1;
	size_t r = 0;
	for (size_t i = 0; i < n; i++)
		r += v[i] & 1;
	return r;
}

static int aged(void)
{
	/* 65 pages: regions of up to 64 pages go to the thread's cache,
	 * whose lists the trims' GC returns some calls later, the run they
	 * join younger by those calls. */
	enum { N = 8, SZ = 65 << 12 };
	void *r[N];
	free(malloc(16));   /* the thread's cache */
	malloc_trim(0);     /* the lone first call: those below are not */
	for (int i = 0; i < N; i++)
		memset(r[i] = malloc(SZ), 1, SZ);
	void *hold = malloc(SZ);   /* after them: they do not join the chunk's tail */
	memset(hold, 1, SZ);
	for (int i = 0; i < N; i++)
		free(r[i]);
	size_t pages = N * (size_t)(SZ / 4096);
	for (int k = 1; k <= 1000; k++)
		if (malloc_trim(0) != 0) {
			printf("aged: malloc_trim call %d returned 1 with 2 MiB freed just now\n", k);
			return 1;
		}
	size_t res = 0;
	for (int i = 0; i < N; i++)
		res += resident(r[i], SZ);
	if (res < pages * 9 / 10) {
		printf("aged: %zu of %zu pages resident after 1000 trims (should stay)\n", res, pages);
		return 1;
	}
	int first = 0;
	for (int k = 1001; k <= 2100 && !first; k++)
		if (malloc_trim(0) == 1)
			first = k;
	res = 0;
	for (int i = 0; i < N; i++)
		res += resident(r[i], SZ);
	if (first < 2040 || res > pages / 10) {
		printf("aged: first malloc_trim to return 1: call %d (should be about 2049); "
		    "%zu of %zu pages resident after it\n", first, res, pages);
		return 1;
	}
	free(hold);
	return 0;
}

/* A thread counted in the arena (from its cache's second fill), alive
 * until main says. */
static void *sharer(void *arg)
{
	void *v[1000];
	for (int i = 0; i < 1000; i++)
		v[i] = malloc(16);
	for (int i = 0; i < 1000; i++)
		free(v[i]);
	int *fd = arg;
	char c;
	return read(fd[0], &c, 1) < 0 ? NULL : arg;
}

static int cached_work(void)
{
	enum { N = 3, SZ = 12 << 12 };
	void *r[N], *v[1000];
	for (int i = 0; i < 1000; i++)   /* the thread's cache, counted in the arena */
		v[i] = malloc(16);
	for (int i = 0; i < 1000; i++)
		free(v[i]);
	malloc_trim(0);     /* the lone first call: those below are not */
	for (int i = 0; i < N; i++)
		memset(r[i] = malloc(SZ), 1, SZ);
	void *hold = malloc(SZ);   /* after them: they do not join the chunk's tail */
	memset(hold, 1, SZ);
	/* What the start left dirty (the threads' small runs), aged and
	 * purged: the regions below are then the only dirty pages. */
	for (int k = 0; k < 2100; k++)
		malloc_trim(0);
	/* The first stays in the thread's cache (one a thread where threads
	 * share the arena), the others go to the arena's. */
	for (int i = 0; i < N; i++)
		free(r[i]);
	size_t pages = (N - 1) * (size_t)(SZ / 4096);
	int first = 0;
	for (int k = 1; k <= 2300 && !first; k++)
		if (malloc_trim(0) == 1)
			first = k;
	size_t res = 0;
	for (int i = 1; i < N; i++)
		res += resident(r[i], SZ);
	int bad = first < 2040 || res != 0;
	if (bad)
		printf("cached: first malloc_trim to return 1: call %d (should be about 2049); "
		    "%zu of %zu pages of the regions in the arena's cache resident after it\n",
		    first, res, pages);
	free(hold);
	return bad;
}

static void *worker(void *arg)
{
	*(int *)arg = cached_work();
	return NULL;
}

/* In two threads of the program's: the main thread's first allocation
 * may come before the allocator counts threads (its start). */
static int cached(void)
{
	int fd[2], bad = 1;
	pthread_t t, w;
	if (pipe(fd) != 0 || pthread_create(&t, NULL, sharer, fd) != 0) {
		printf("cached: no pipe or thread\n");
		return 1;
	}
	if (pthread_create(&w, NULL, worker, &bad) != 0 || pthread_join(w, NULL) != 0) {
		printf("cached: no worker thread\n");
		bad = 1;
	}
	if (write(fd[1], "x", 1) != 1 || pthread_join(t, NULL) != 0)
		bad = 1;
	return bad;
}

static int once(void)
{
	enum { N = 12, SZ = 256 << 10, BUF = 64 << 10 };
	void *r[N], *b[2];
	free(malloc(16));   /* the thread's cache */
	for (int i = 0; i < N; i++)
		memset(r[i] = malloc(SZ), 1, SZ);
	for (int i = 0; i < 2; i++)
		memset(b[i] = malloc(BUF), 1, BUF);
	void *hold = malloc(SZ);
	memset(hold, 1, SZ);
	for (int i = 0; i < N; i++)
		free(r[i]);
	for (int i = 0; i < 2; i++)
		free(b[i]);
	int rc = malloc_trim(0);
	size_t res = 0, resb = 0;
	for (int i = 0; i < N; i++)
		res += resident(r[i], SZ);
	for (int i = 0; i < 2; i++)
		resb += resident(b[i], BUF);
	if (rc != 1 || res != 0 || resb != 0) {
		printf("once: malloc_trim(0) after 3 MiB freed returned %d; %zu of %d pages of the "
		    "large regions and %zu of %d of the buffers resident after it\n",
		    rc, res, N * (SZ / 4096), resb, 2 * (BUF / 4096));
		return 1;
	}
	free(hold);
	return 0;
}

static int dirty(void)
{
	/* BIG of 65 pages: a region of 11 to 64 would stay in the thread's
	 * cache, not a dirty run of the arena's. */
	enum { SMALL = 40 << 10, BIG = 65 << 12, NB = 24, BLOCK = 256 << 10 };
	char *g0 = malloc(SMALL), *x = malloc(SMALL), *g1 = malloc(SMALL);
	char *y = malloc(BIG), *g2 = malloc(SMALL);
	memset(g0, 1, SMALL);
	memset(x, 1, SMALL);
	memset(g1, 1, SMALL);
	memset(y, 1, BIG);
	memset(g2, 1, SMALL);
	void *b[NB];   /* 6 MiB: a trim purges every dirty page */
	for (int i = 0; i < NB; i++)
		memset(b[i] = malloc(BLOCK), 2, BLOCK);
	free(x);
	for (int i = 0; i < NB; i++)
		free(b[i]);
	if (malloc_trim(0) != 1 || resident(x, SMALL) != 0) {
		printf("dirty: a trim of 6 MiB did not purge the freed region (%zu pages resident)\n",
		    resident(x, SMALL));
		return 1;
	}
	free(y);
	char *p = malloc(SMALL);
	size_t res = resident(p, SMALL);
	if (p == x || res != SMALL / 4096) {
		printf("dirty: malloc of 10 pages took %s, %zu of its pages resident "
		    "(should take the dirty run)\n", p == x ? "the purged run" : "another run", res);
		return 1;
	}
	free(p);
	free(g0);
	free(g1);
	free(g2);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: trim_aged aged|once|dirty|cached\n");
		return 2;
	}
	int bad = strcmp(argv[1], "aged") == 0 ? aged() : strcmp(argv[1], "once") == 0 ? once() :
	    strcmp(argv[1], "dirty") == 0 ? dirty() : strcmp(argv[1], "cached") == 0 ? cached() : 2;
	if (bad == 0)
		puts("ok");
	return bad;
}
