/*
 * Unit tests of the allocator's purging: decay, the dirty cap, kept chunks
 * and huge regions, purging without the lock and a fork during a purge
 * (test build: jm_ names only, internals reachable; test_alloc.c has the
 * rest of the arena). Each test ends with the heap-validation walker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "jmalloc.h"
#include "leader_gone.h"

static void validate(void)
{
	assert_int_equal(jm__heap_validate(), 0);
}

/* Frees p with decay off, so that its pages are unmapped, not kept: a test
 * that ends this way leaves nothing kept for the next one. */
static void free_unkept(void *p)
{
	int64_t decay_ms = jm__opt.decay_ms;
	jm__opt.decay_ms = 0;
	jm_free(p);
	jm__opt.decay_ms = decay_ms;
}

/* Purging: with decay forced, dirty pages go back and are counted. */
static void test_purge(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	void *p = jm_malloc(64 * JM_PAGE);
	memset(p, 1, 64 * JM_PAGE);
	jm_free(p);
	assert_true(a->stats->dirty >= 64 * JM_PAGE || jm__opt.decay_ms == 0);
	uint64_t purged = a->stats->purged;
	jm__huge_purge_all();
	pthread_mutex_lock(a->lock);
	jm__arena_maybe_purge(a, true);
	pthread_mutex_unlock(a->lock);
	assert_int_equal(a->stats->dirty, 0);
	assert_true(a->stats->purged >= purged + 64 * JM_PAGE || jm__opt.decay_ms == 0);
	validate();
}

static void *orphan_worker(void *arg)
{
	unsigned *index = arg;
	*index = jm__thread_arena()->index;
	char *p = jm_malloc(64 * JM_PAGE);
	memset(p, 5, 64 * JM_PAGE);
	jm_free(p);
	return NULL;
}

/* An arena whose last thread exited: the purger's pass gives its dirty
 * pages back once it has had no thread for jm__orphan_grace_ns, whatever
 * their age, and leaves those of an arena with a thread to the decay.
 * On the old library the exited thread's 64 pages, young, stayed for
 * the decay (docs/programs.md, session 32: dlloop). */
static void test_orphan_arena_purged(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	/* keep: so that p's chunk is not wholly free, for the other
	 * thread's arena to take (chunk_take_other) */
	char *keep = jm_malloc(64 * JM_PAGE);
	char *p = jm_malloc(64 * JM_PAGE);
	memset(p, 6, 64 * JM_PAGE);
	jm_free(p);
	unsigned index = 0;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, orphan_worker, &index), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_not_equal(index, a->index);   /* premise: an arena of its own */
	struct jm_arena *b = jm__arenas[index];
	assert_true(jm__opt.decay_ms > 0);       /* premise: the decay keeps them */
	assert_true(a->ndirty_pages >= 64);
	assert_true(b->ndirty_pages >= 64);
	uint64_t grace = jm__orphan_grace_ns;
	/* Within the grace: both to the decay, which keeps young pages. */
	jm__orphan_grace_ns = UINT64_MAX;
	jm__arenas_purge(jm__now_ns(), false);
	assert_true(b->ndirty_pages >= 64);
	/* Past it: the arena without a thread is purged, the other not. */
	jm__orphan_grace_ns = 0;
	jm__arenas_purge(jm__now_ns(), false);
	jm__orphan_grace_ns = grace;
	assert_int_equal(b->ndirty_pages, 0);
	assert_int_equal(b->stats->dirty, b->huge_dirty);
	assert_true(a->ndirty_pages >= 64);
	jm_free(keep);
	validate();
}

/* A forked child has only the forking thread: the arenas of the parent's
 * other threads have none there, and the child's purger gives their
 * dirty pages back as any arena's whose last thread left
 * (jm__orphan_grace_ns after the fork). The child handler cleared every
 * arena's stamp: they were arenas that never had a thread, and their
 * pages stayed for the decay. */
struct orphan_fork { unsigned index; pthread_barrier_t freed, forked; };
static void *orphan_fork_worker(void *arg)
{
	struct orphan_fork *o = arg;
	o->index = jm__thread_arena()->index;
	char *p = jm_malloc(64 * JM_PAGE);
	memset(p, 5, 64 * JM_PAGE);
	jm_free(p);
	jm__tcache_flush_all_current();
	pthread_barrier_wait(&o->freed);
	pthread_barrier_wait(&o->forked);   /* alive through the fork */
	return NULL;
}

static void test_orphan_arena_purged_fork(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	char *keep = jm_malloc(64 * JM_PAGE);   /* as test_orphan_arena_purged */
	struct orphan_fork o = { 0 };
	pthread_barrier_init(&o.freed, NULL, 2);
	pthread_barrier_init(&o.forked, NULL, 2);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, orphan_fork_worker, &o), 0);
	pthread_barrier_wait(&o.freed);
	assert_int_not_equal(o.index, a->index);   /* premise: an arena of its own */
	struct jm_arena *b = jm__arenas[o.index];
	assert_true(jm__opt.decay_ms > 0);
	assert_true(b->ndirty_pages >= 64);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		jm__orphan_grace_ns = 0;
		jm__arenas_purge(jm__now_ns(), false);
		_exit(b->ndirty_pages == 0 ? 0 : 1);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	pthread_barrier_wait(&o.forked);
	assert_int_equal(pthread_join(t, NULL), 0);
	pthread_barrier_destroy(&o.freed);
	pthread_barrier_destroy(&o.forked);
	jm_free(keep);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) != 0)
		fail_msg("in the forked child, the arena of a thread it has not kept its dirty "
		         "pages past the grace");
	validate();
}

/* Forgets the arena's dirty pages and decay history (purging them all). */
static void decay_reset(struct jm_arena *a)
{
	jm__huge_recent_forget();   /* a fresh region's room: room_for's */
	jm__tcache_flush_all_current();
	jm__huge_purge_all();
	pthread_mutex_lock(a->lock);
	jm__arena_maybe_purge(a, true);
	memset(&a->decay, 0, sizeof(a->decay));
	a->purge_ticks = 0;
	pthread_mutex_unlock(a->lock);
}

static uint64_t decay_at(struct jm_arena *a, uint64_t now)
{
	pthread_mutex_lock(a->lock);
	jm__arena_decay(a, now);
	uint64_t n = a->ndirty_pages;
	pthread_mutex_unlock(a->lock);
	jm__arena_purge_detached(a);   /* as the background purger does */
	return n;
}

/* Decay: freed pages stay while young and go along the curve, all of them
 * by decay_ms, not before; driven with made-up times (no sleeping). */
static void test_decay_schedule(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	decay_reset(a);
	assert_int_equal(a->ndirty_pages, 0);
	enum { N = 32, PAGES = 64 };
	void *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = jm_malloc(PAGES * JM_PAGE);
		memset(p[i], 1, PAGES * JM_PAGE);
	}
	uint64_t purged0 = a->stats->purged;
	/* The made-up times count from before the frees, and t0 is half a
	 * second on: every 8th run freed looks at the clock, and a look a
	 * new epoch after the first (the machine stalled 50 ms in the
	 * frees) files the pages under the real time. Counted from after
	 * the frees, and a second on, they were two seconds old at
	 * t0 + decay / 10, where 89.6% stay (smoothstep(0.2)), under the
	 * 90% checked: it failed so once at a load average of 50. */
	uint64_t tf = jm__now_ns();
	for (int i = 0; i < N; i++)
		jm_free(p[i]);
	uint64_t d0 = a->ndirty_pages;
	assert_true(d0 >= N * PAGES);
	assert_int_equal(a->stats->purged, purged0);  /* no purge on free */
	uint64_t decay = (uint64_t)jm__opt.decay_ms * 1000000u;
	uint64_t t0 = tf + 500000000u;
	/* Young: at most an epoch's share and one piece go. */
	assert_true(decay_at(a, t0) + 64 >= d0);
	assert_true(decay_at(a, t0 + decay / 10) >= d0 * 9 / 10);
	/* Half way: about half (smoothstep(0.5) = 0.5). */
	uint64_t half = decay_at(a, t0 + decay / 2);
	assert_true(half >= d0 * 3 / 10 && half <= d0 * 7 / 10);
	/* Past decay_ms: none. */
	assert_int_equal(decay_at(a, t0 + decay + decay / 100), 0);
	assert_true(a->stats->purged >= purged0 + (d0 << JM_LG_PAGE));
	assert_int_equal(a->stats->dirty, a->huge_dirty);
	validate();
}

/* Empty chunks: kept under the decay, purged whole into the retained
 * array, reused before anything is mapped; at most JM_RETAIN_CHUNKS. */
static void test_chunk_retention(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	decay_reset(a);
	enum { N = 40 };
	void *p[N];
	size_t big = JM_LARGE_MAX;   /* one per chunk */
	for (int i = 0; i < N; i++) {
		p[i] = jm_malloc(big);
		assert_non_null(p[i]);
		((char *)p[i])[0] = 1;
	}
	uint64_t chunks = a->stats->nchunks, nunmap = a->stats->nunmap;
	uint32_t kept0 = a->nretained;
	for (int i = 0; i < N; i++)
		jm_free(p[i]);
	/* Freed but young: still chunks of the arena, nothing retained yet. */
	assert_int_equal(a->stats->nchunks, chunks);
	assert_int_equal(a->nretained, kept0);
	uint64_t t0 = jm__now_ns() + 1000000000u;
	uint64_t decay = (uint64_t)jm__opt.decay_ms * 1000000u;
	decay_at(a, t0);
	assert_int_equal(decay_at(a, t0 + 2 * decay), 0);
	assert_int_equal(a->nretained, JM_RETAIN_CHUNKS);
	assert_true(a->stats->nunmap >= nunmap + N - JM_RETAIN_CHUNKS);
	assert_int_equal(a->stats->retained, (uint64_t)JM_RETAIN_CHUNKS * JM_CHUNK + a->huge_retained);
	validate();
	/* Reused: no new mapping, and it reads as zero. */
	uint64_t nmap = a->stats->nmap, nreuse = a->stats->nreuse;
	for (int i = 0; i < 4; i++) {
		p[i] = jm_calloc(1, big);
		assert_non_null(p[i]);
		for (size_t k = 0; k < big; k += JM_PAGE)
			assert_int_equal(((char *)p[i])[k], 0);
	}
	assert_int_equal(a->stats->nmap, nmap);
	assert_int_equal(a->stats->nreuse, nreuse + 4);
	assert_int_equal(a->nretained, JM_RETAIN_CHUNKS - 4);
	validate();
	for (int i = 0; i < 4; i++)
		jm_free(p[i]);
	validate();
}

/* Huge regions: kept dirty after free and taken again without a mapping;
 * purged whole by the decay and still reused (reading zero); the byte cap
 * unmaps the oldest. */
static void test_huge_retention(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	decay_reset(a);
	size_t sz = 8u << 20;
	char *p = jm_malloc(sz);
	memset(p, 7, sz);
	uint64_t nmap = a->stats->nmap, nreuse = a->stats->nreuse;
	jm_free(p);
	assert_true(a->huge_dirty >= sz);
	char *q = jm_malloc(sz - (1u << 20));   /* fits: taken whole */
	assert_ptr_equal(q, p);
	assert_int_equal(a->stats->nmap, nmap);
	assert_int_equal(a->stats->nreuse, nreuse + 1);
	jm_free(q);
	uint64_t purged = a->stats->purged;
	uint64_t decay = (uint64_t)jm__opt.decay_ms * 1000000u;
	uint64_t t0 = jm__now_ns() + 1000000000u;
	assert_true(jm__huge_decay(t0));               /* young: kept dirty */
	assert_true(a->huge_dirty >= sz);
	assert_false(jm__huge_decay(t0 + 2 * decay));  /* old: purged */
	assert_int_equal(a->huge_dirty, 0);
	assert_true(a->huge_retained >= sz);
	assert_true(a->stats->purged >= purged + sz);
	validate();
	q = jm_calloc(1, sz);
	assert_ptr_equal(q, p);
	for (size_t k = 0; k < sz; k += JM_PAGE)
		assert_int_equal(q[k], 0);
	jm_free(q);
	/* 3 x 200 MiB (not touched): beyond 512 MiB kept, the oldest goes. */
	uint64_t nunmap = a->stats->nunmap;
	void *r[3];
	for (int i = 0; i < 3; i++)
		r[i] = jm_malloc(200u << 20);
	for (int i = 0; i < 3; i++)
		jm_free(r[i]);
	assert_true(a->stats->nunmap >= nunmap + 1);
	assert_true(a->huge_dirty <= (256u << 20));
	validate();
	decay_reset(a);
	validate();
}

/* An arena that needs a chunk takes the head of a dirty kept huge region
 * of its own (its pages resident) before it maps one: sqlite3 freed a
 * 32 MiB sort buffer and then filled its page cache with 5 KiB regions,
 * and both stayed resident (203 MiB peak RSS against 170 with the buffer's
 * pages reused; tests/bench/programs.py, sqlite-file). The chunk's pages are a dirty
 * free run, the header is as a fresh chunk's, and calloc clears them. */
static void test_huge_pages_to_chunks(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	decay_reset(a);
	size_t mib = 1u << 20, sz = 10 * mib;
	char *h = jm_malloc(sz);
	memset(h, 5, sz);
	/* Whole 2 MiB blocks, with room to grow (14 MiB). */
	size_t map = ((struct jm_huge *)(jm__rtree_get((uintptr_t)h) & ~(uintptr_t)JM_RTREE_HUGE))->map_size;
	assert_true(map >= sz);
	/* Fill what free runs the arena has, so that the next runs need
	 * chunks. */
	enum { N = 4096 };
	static char *big[N];
	unsigned n = 0;
	uint64_t nchunks = a->stats->nchunks;
	while (n < N && a->stats->nchunks == nchunks)
		big[n++] = jm_malloc(JM_LARGE_MAX / 2 + JM_PAGE);
	assert_true(n < N);
	jm_free(big[--n]);   /* the chunk just made: its run is free again */
	jm__tcache_flush_all_current();
	uint64_t nmap = a->stats->nmap, mapped = a->stats->mapped;
	jm_free(h);
	assert_int_equal(a->huge_dirty, map);
	uint64_t dirty = a->stats->dirty;
	/* 4 runs of more than half a chunk: 3 more chunks, from the kept
	 * region's first 6 MiB. */
	char *r[4];
	for (int i = 0; i < 4; i++) {
		r[i] = jm_calloc(1, JM_LARGE_MAX / 2 + JM_PAGE);
		for (size_t k = 0; k < JM_LARGE_MAX / 2 + JM_PAGE; k += 512)
			assert_int_equal(r[i][k], 0);
	}
	assert_int_equal(a->stats->nmap, nmap);
	assert_int_equal(a->stats->mapped, mapped);
	assert_int_equal(a->huge_dirty, map - 3 * JM_CHUNK);
	assert_true(a->stats->dirty <= dirty);
	assert_true(((uintptr_t)r[1] & ~(uintptr_t)JM_CHUNK_MASK) == (uintptr_t)h ||
	    ((uintptr_t)r[2] & ~(uintptr_t)JM_CHUNK_MASK) == (uintptr_t)h);
	validate();
	/* What is left kept serves a huge request as before. */
	char *q = jm_malloc(map - 3 * JM_CHUNK);
	assert_ptr_equal(q, h + 3 * JM_CHUNK);
	for (size_t k = 0; k < sz - 3 * JM_CHUNK; k += JM_PAGE)
		assert_int_equal(q[k], 5);
	validate();
	free_unkept(q);
	assert_int_equal(a->huge_dirty, 0);
	for (int i = 0; i < 4; i++)
		jm_free(r[i]);
	while (n)
		jm_free(big[--n]);
	validate();
	decay_reset(a);
	validate();
}

/* calloc from a kept dirty huge region writes zeroes only where the
 * region's pages hold something: the pages the program wrote, not the
 * ones it never touched nor the ones it only read (the shared zero page).
 * It memset the whole region, faulting in every page (100 callocs of
 * 64 MiB touched little: 0.6 s against glibc's 0.001, its fresh mapping). */
/* Whether the kernel answers PAGEMAP_SCAN (Linux 6.7), which the zeroing
 * asks; without it every page is written, as before, and only the zeroes
 * are checked. */
static bool pagemap_scan_works(void)
{
	struct { uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages,
	    inverted, mask, anyof, ret; } arg;
	uint64_t vec[3];
	static char page[4096] __attribute__((aligned(4096)));
	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	arg.start = (uintptr_t)page;
	arg.end = (uintptr_t)page + sizeof(page);
	arg.vec = (uintptr_t)vec;
	arg.vec_len = 1;
	arg.anyof = arg.ret = 1u << 3;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = ioctl(fd, _IOWR('f', 16, arg), &arg) >= 0;
	close(fd);
	return ok;
}

static void test_huge_calloc_untouched(void **state)
{
	(void)state;
	bool scan = pagemap_scan_works();
	struct jm_arena *a = jm__thread_arena();
	decay_reset(a);
	size_t sz = 16u << 20, npages = sz >> JM_LG_PAGE, written = 0;
	char *p = jm_malloc(sz);
	assert_non_null(p);
	/* 4 KiB pages where transparent huge pages are always on: a write
	 * would fault in 2 MiB. */
	madvise(p, sz, MADV_NOHUGEPAGE);
	for (size_t k = 0; k < npages; k += 4, written++)
		memset(p + (k << JM_LG_PAGE) + 100, 0x5a, 200);
	assert_int_equal(((volatile char *)p)[JM_PAGE + 7], 0);   /* read only */
	jm_free(p);
	assert_true(a->huge_dirty >= sz);                   /* kept, dirty */
	char *q = jm_calloc(1, sz);
	assert_ptr_equal(q, p);
	static unsigned char vec[(16u << 20) >> JM_LG_PAGE];
	assert_int_equal(mincore(q, sz, vec), 0);
	size_t resident = 0;
	for (size_t k = 0; k < npages; k++)
		resident += vec[k] & 1;
	if (scan)   /* else all written, as before */
		assert_true(resident <= written + 1);   /* was npages */
	for (size_t k = 0; k < sz; k += sizeof(uint64_t))
		assert_true(*(uint64_t *)(q + k) == 0);
	jm_free(q);
	decay_reset(a);
	validate();
}

/* What realloc adds to a huge region is filled with the pages of the
 * dirty kept regions that fit no request, moved there (mremap, the
 * largest first). A new region is not (it was: purge-liveset's peak RSS
 * 149 -> 139 MiB, malloc-large's 468 -> 421 MiB, but on a PVM guest a
 * page moved so costs a fault's time at its next touch: malloc-large's
 * CPU 2.69 s against 2.14 without, tcmalloc 1.93). A region made so is
 * several mappings, which mremap does not grow (EFAULT: the region was
 * unmapped, its pages lost): a region is moved at its size (and in
 * pieces, before Linux 6.17), then grown. The first test: no huge region
 * of an earlier one is kept. */
/* Two dirty kept regions of 4 and 6 MiB (their mappings, with room to
 * grow, 6 and 8), two mappings (one region if they touch), gathered into
 * a region of 2 MiB (3s) that realloc grows to 13 MiB: its mapping, 18
 * MiB with the room for the next steps, has their pages (3s) after its
 * own, and fresh ones (0s); a new region by malloc is filled so too
 * (test_huge_new_gathers). *mapped: the arena's mapped bytes before that
 * realloc, less the mappings of the three. */
static struct jm_huge *huge_of(const void *p)
{
	return (struct jm_huge *)(jm__rtree_get((uintptr_t)p) & ~(uintptr_t)JM_RTREE_HUGE);
}

/* The pages of [p, p + len) that hold v (their first byte), and that no
 * page holds anything but v or 0. */
static size_t pages_of(const char *p, size_t len, char v)
{
	size_t n = 0;
	for (size_t k = 0; k < len; k += JM_PAGE) {
		assert_true(p[k] == v || p[k] == 0);
		n += p[k] == v;
	}
	return n;
}

static char *gather_two_kept(struct jm_arena *a, uint64_t *mapped)
{
	size_t mib = 1u << 20;
	assert_int_equal(a->huge_dirty + a->huge_retained, 0);
	jm__huge_recent_forget();
	char *b = jm_malloc(2 * mib);
	memset(b, 3, 2 * mib);
	char *z1 = jm_malloc(4 * mib), *z2 = jm_malloc(6 * mib);
	memset(z1, 3, 4 * mib);
	memset(z2, 3, 6 * mib);
	size_t kept = huge_of(z1)->map_size + huge_of(z2)->map_size;
	*mapped = a->stats->mapped - kept - huge_of(b)->map_size;
	jm_free(z1);
	jm_free(z2);
	assert_int_equal(a->huge_dirty, kept);
	char *w = jm_realloc(b, 13 * mib);
	assert_non_null(w);
	assert_int_equal(a->huge_dirty, 0);
	return w;
}

/* The resident pages of the process (/proc/self/statm). */
static size_t resident_pages(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	assert_non_null(f);
	unsigned long size = 0, rss = 0;
	assert_int_equal(fscanf(f, "%lu %lu", &size, &rss), 2);
	fclose(f);
	return rss;
}

/* malloc(30 MiB), written, freed, then malloc(30 MiB + 1), written: the
 * kept region (30 MiB of whole blocks) was smaller than the request's 32
 * and could not grow where it was (the kernel packs mappings: its
 * neighbours are there), so the request was a fresh mapping and the
 * process held both (peak RSS 61 MiB, glibc 31, jemalloc 33). A fresh
 * mapping has room to grow, a quarter more address space (room_for, as
 * realloc gives), and the larger request takes its blocks where its
 * pages are. First: nothing kept. */
static void test_huge_regrow_kept(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	size_t mib = 1u << 20;
	assert_int_equal(a->huge_dirty + a->huge_retained, 0);   /* premise */
	char *x = jm_malloc(30 * mib);
	assert_non_null(x);
	memset(x, 7, 30 * mib);
	size_t map = huge_of(x)->map_size;
	uint64_t nmap = a->stats->nmap, mapped = a->stats->mapped;
	size_t rss = resident_pages();
	jm_free(x);
	char *y = jm_malloc(30 * mib + 1);
	assert_ptr_equal(y, x);
	assert_int_equal(a->stats->nmap, nmap);
	assert_int_equal(a->stats->mapped, mapped);
	assert_int_equal(y[30 * mib - 1], 7);   /* the same pages */
	memset(y, 8, 30 * mib + 1);
#ifndef JM_SANITIZED
	/* One fresh page (the last byte's), where both were resident. */
	assert_true(resident_pages() < rss + (2 * mib) / JM_PAGE);
#else
	(void)rss;
#endif
	validate();
	/* The rest of the room (38 MiB mapped), kept: taken, so that
	 * nothing stays kept (or taken whole with y, never written, if no
	 * recent request had blocks as few: tail_useless). */
	assert_true(map >= 34 * mib);
	if (huge_of(y)->map_size < map) {
		char *t = jm_malloc(map - 32 * mib);
		assert_ptr_equal(t, y + 32 * mib);
		free_unkept(t);
	}
	free_unkept(y);
	assert_int_equal(a->huge_dirty + a->huge_retained, 0);
	validate();
}

/* A huge request takes a kept region of its thread's arena before the
 * other arenas' (then the smallest): a region keeps the arena it is
 * charged to, and what realloc grows gathers only its arena's kept
 * pages. realloc-huge (tests/bench: two threads each grow a buffer to 64
 * MiB, free it and start again) peaked at 200 MiB with 49.8k faults in
 * some runs, 135 MiB and 33.4k in the others: a thread that freed its
 * buffer while the other thread's next buffer was growing into the rest
 * of that thread's kept region took its next buffer's first 2 MiB from
 * there (the smallest dirty one), so that buffer was charged to the other
 * arena, and its own freed 64 MiB, kept in its arena, was gathered by
 * neither: resident to the end, while 64 MiB of fresh pages faulted in. */
struct own_kept {
	unsigned arena;            /* the thread's */
	char *freed, *taken, *grown;
	unsigned taken_arena;      /* the arena the taken region is charged to */
};

static void *take_own_kept(void *arg)
{
	struct own_kept *o = arg;
	size_t mib = 1u << 20;
	o->arena = jm__thread_arena()->index;
	o->freed = jm_malloc(16 * mib);
	memset(o->freed, 4, 16 * mib);
	jm_free(o->freed);
	o->taken = jm_malloc(2 * mib);
	o->taken_arena = huge_of(o->taken)->arena;
	/* Grown over the rest of its region, where its pages are. */
	o->grown = jm_realloc(o->taken, 16 * mib);
	free_unkept(o->grown);
	return NULL;
}

static void test_huge_take_own_arena(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	size_t mib = 1u << 20;
	assert_int_equal(a->huge_dirty + a->huge_retained, 0);   /* premise */
	char *x = jm_malloc(8 * mib);
	memset(x, 3, 8 * mib);
	assert_int_equal(huge_of(x)->map_size, 10 * mib);   /* room_for */
	jm_free(x);
	/* x's head, live: the rest of its blocks, 8 MiB, stay kept, dirty,
	 * in this thread's arena: smaller than what the other thread frees. */
	char *head = jm_malloc(2 * mib);
	assert_ptr_equal(head, x);
	assert_int_equal(a->huge_dirty, 8 * mib);
	struct own_kept o = { 0 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, take_own_kept, &o), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_not_equal(o.arena, a->index);   /* premise */
	/* Its own freed region's head (it was: the rest of x's). */
	assert_ptr_equal(o.taken, o.freed);
	assert_int_equal(o.taken_arena, o.arena);
	assert_ptr_equal(o.grown, o.freed);
	assert_int_equal(a->huge_dirty, 8 * mib);   /* x's rest untouched */
	validate();
	/* Nothing left kept: x's rest taken, both unmapped on free. */
	char *rest = jm_malloc(8 * mib);
	assert_ptr_equal(rest, x + 2 * mib);
	free_unkept(head);
	free_unkept(rest);
	assert_int_equal(a->huge_dirty + a->huge_retained, 0);
	validate();
}

/* What the purger's start allocates (pthread_create's, JM_TLS_FRESH: a
 * fresh mapping of a block for a few hundred bytes, for the thread's
 * life) takes none of the pages of dirty kept regions: gather moved up to
 * 2 MiB of them into it, resident beside its few bytes for as long as
 * the process lived, where no request could reuse them (sqlite3, traced:
 * a 4 KiB allocation of the start took a 2 MiB block of its sort
 * buffer's kept region). First and after: nothing kept. */
static void test_huge_fresh_start_gathers_nothing(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	size_t mib = 1u << 20;
	assert_int_equal(a->huge_dirty + a->huge_retained, 0);   /* premise */
	char *v = jm_malloc(8 * mib);
	memset(v, 5, 8 * mib);
	jm_free(v);
	uint64_t dirty = a->huge_dirty;
	assert_true(dirty >= 8 * mib);
	enum jm_tls_state st = jm__tls_state;
	jm__tls_state = JM_TLS_FRESH;
	char *x = jm_malloc(4096);
	jm__tls_state = st;
	assert_non_null(x);
	assert_int_equal(a->huge_dirty, dirty);   /* fails before: 2 MiB less */
	assert_int_equal(pages_of(x, JM_CHUNK, 5), 0);
	validate();
	free_unkept(x);
	v = jm_malloc(dirty);   /* takes the kept region back whole */
	assert_int_equal(a->huge_dirty, 0);
	free_unkept(v);
	assert_int_equal(a->huge_dirty + a->huge_retained, 0);
	validate();
}

/* A dynamic array grown by copy, as std::vector grows: a new block
 * twice the size, the elements copied, the old block freed. The freed
 * block, kept, is half the next request and fits none: it stayed
 * resident beside the new one (tests/bench/vec_grow.c: peak RSS 1.84 x
 * mimalloc's). A new mapping's blocks take the pages of dirty kept
 * regions (gather). First and after: nothing kept. */
static void test_huge_new_gathers(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	size_t mib = 1u << 20;
	assert_int_equal(a->huge_dirty + a->huge_retained, 0);   /* premise */
	char *v = jm_malloc(8 * mib);
	memset(v, 5, 8 * mib);
	char *w = jm_malloc(16 * mib);
	memcpy(w, v, 8 * mib);
	memset(w + 8 * mib, 5, 8 * mib);
	jm_free(v);
	uint64_t dirty = a->huge_dirty;
	assert_true(dirty >= 8 * mib);
	uint64_t mapped = a->stats->mapped;
	char *x = jm_malloc(32 * mib);
	assert_non_null(x);
	assert_int_equal(a->huge_dirty, 0);   /* fails before: dirty */
	assert_int_equal(a->stats->mapped, mapped - dirty + huge_of(x)->map_size);
	assert_int_equal(pages_of(x, 32 * mib, 5), 8 * mib / JM_PAGE);   /* v's */
	memcpy(x, w, 16 * mib);
	validate();
	free_unkept(w);
	free_unkept(x);
	assert_int_equal(a->huge_dirty + a->huge_retained, 0);
	validate();
}

static void test_huge_gather(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	size_t mib = 1u << 20;
	uint64_t mapped;
	char *w = gather_two_kept(a, &mapped);
	/* Their mappings moved in: only w's is left. */
	struct jm_huge *h = huge_of(w);
	assert_int_equal(a->stats->mapped, mapped + h->map_size);
	assert_int_equal(pages_of(w, h->map_size, 3), 12 * mib / JM_PAGE);
	validate();
	/* w, of several mappings, grown to 20 MiB. */
	char *r = jm_realloc(w, 20 * mib);
	assert_non_null(r);
	assert_int_equal(pages_of(r, huge_of(r)->map_size, 3), 12 * mib / JM_PAGE);
	validate();
	/* A new region by calloc takes the kept pages too, cleared (it
	 * took none: the kept regions stayed resident beside every fresh
	 * mapping calloc made, the probe callocreuse's peak RSS 89 MiB
	 * against 67 by malloc; docs/programs.md, "Probes, session 30"). */
	jm_free(r);
	uint64_t dirty = a->huge_dirty;
	assert_true(dirty >= 20 * mib);
	mapped = a->stats->mapped;
	char *n = jm_calloc(1, 61 * mib);
	assert_non_null(n);
	assert_int_equal(a->huge_dirty, 0);   /* before: dirty, kept */
	assert_true(huge_of(n)->map_size >= 62 * mib);
	assert_int_equal(a->stats->mapped, mapped - dirty + huge_of(n)->map_size);
	for (size_t k = 0; k < 61 * mib; k += sizeof(uint64_t))
		assert_true(*(uint64_t *)(n + k) == 0);   /* r's 3s cleared */
	jm_free(n);
	validate();
	decay_reset(a);
	validate();
}

/* A region realloc grows past its mapping takes the pages of dirty kept
 * regions for the part it adds, as a new region does (above): a buffer
 * grown a step at a time (realloc-grow, realloc-huge in tests/bench)
 * left each finished buffer's pages resident beside the fresh ones it
 * faulted in (peak RSS 2 x glibc's). */
static void test_huge_realloc_gathers(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	size_t mib = 1u << 20;
	jm__huge_purge_all();   /* what earlier tests kept: clean */
	assert_int_equal(a->huge_dirty, 0);
	char *b = jm_malloc(4 * mib);
	memset(b, 5, 4 * mib);
	char *z = jm_malloc(6 * mib);
	memset(z, 3, 6 * mib);
	jm_free(z);
	uint64_t dirty = a->huge_dirty;
	assert_true(dirty >= 6 * mib);
	b = jm_realloc(b, 5 * mib);
	assert_non_null(b);
	assert_true(a->huge_dirty < dirty);
	for (size_t k = 0; k < 4 * mib; k += JM_PAGE)
		assert_int_equal(b[k], 5);
	memset(b, 7, 5 * mib);
	validate();
	jm_free(b);
	decay_reset(a);
	validate();
}

/* A region made of several mappings by gather (above) is grown by
 * realloc as any other: its pages moved, not copied into a new region.
 * mremap does not grow a range of several mappings (EFAULT), and huge.c
 * moved a region to its new, larger place with one growing mremap: each
 * realloc of a gathered region that could not grow where it was copied
 * it into a new huge allocation (test_alloc's test_realloc_growth saw one
 * more nmalloc_huge when a dirty kept region was there to gather, its
 * purge a matter of time). */
/* The mappings /proc/self/maps lists in [p, p + len). */
static int mappings_in(const char *p, size_t len)
{
	FILE *f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	int n = 0;
	unsigned long lo, hi;
	char line[512];
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 &&
		    lo < (uintptr_t)p + len && hi > (uintptr_t)p)
			n++;
	fclose(f);
	return n;
}

/* mremap, the allocator's (this program's definition comes before
 * libc's): the kernel's, unless a test asks for a kernel before 6.17 (a
 * move of a range of several mappings refused: every move of more than a
 * page, here) that is out of mappings at the fail_at-th move. */
static bool mremap_old_kernel;
static int mremap_fail_at, mremap_calls;
/* Set: a move (MREMAP_FIXED) of pages from a chunk-aligned address that
 * the radix tree still names (mremap_keyed counts them). */
static bool mremap_watch_keys;
static int mremap_keyed;
/* Set: mremap_moves counts the moves (MREMAP_FIXED), mremap_partial those
 * of pages not in whole 2 MiB blocks at congruent addresses. */
static bool mremap_watch_blocks;
static int mremap_moves, mremap_partial;
void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	void *to = va_arg(ap, void *);
	va_end(ap);
	if (mremap_watch_keys && (flags & MREMAP_FIXED) &&
	    ((uintptr_t)old & JM_CHUNK_MASK) == 0 && jm__rtree_get((uintptr_t)old) != 0)
		mremap_keyed++;
	if (mremap_watch_blocks && (flags & MREMAP_FIXED)) {
		mremap_moves++;
		if ((((uintptr_t)old | (uintptr_t)to | old_len) & JM_CHUNK_MASK) != 0)
			mremap_partial++;
	}
	if (mremap_old_kernel && (flags & MREMAP_FIXED)) {
		if (old_len > JM_PAGE) {
			errno = EFAULT;
			return MAP_FAILED;
		}
		if (++mremap_calls == mremap_fail_at) {
			errno = ENOMEM;
			return MAP_FAILED;
		}
	}
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, to);
}

/* A huge region realloc moves leaves the radix tree before its pages
 * leave its address: from then on the kernel may map a region of
 * another arena there, made under that arena's lock, whose entry the
 * move cleared when it cleared its own after the pages had gone (4
 * threads growing and freeing huge regions with decay_ms:0 aborted one
 * run in 8 on a live region: "realloc of a pointer not allocated by
 * jmalloc"). */
static void test_huge_move_key_first(void **state)
{
	(void)state;
	size_t mib = 1u << 20;
	char *w = jm_malloc(8 * mib);
	assert_non_null(w);
	memset(w, 7, 8 * mib);
	struct jm_huge *h = (struct jm_huge *)(jm__rtree_get((uintptr_t)w) & ~(uintptr_t)JM_RTREE_HUGE);
	/* A page after its mapping: it must move. */
	void *block = mmap(w + h->map_size, JM_PAGE, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	mremap_keyed = 0;
	mremap_watch_keys = true;
	char *r = jm_realloc(w, 12 * mib);
	mremap_watch_keys = false;
	assert_non_null(r);
	assert_ptr_not_equal(r, w);
	assert_int_equal(mremap_keyed, 0);
	assert_int_equal(jm__rtree_get((uintptr_t)w), 0);
	assert_int_equal(r[0], 7);
	assert_int_equal(r[8 * mib - 1], 7);
	if (block != MAP_FAILED)
		munmap(block, JM_PAGE);
	validate();
	free_unkept(r);
	validate();
}

static void test_huge_gathered_realloc(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	size_t mib = 1u << 20;
	uint64_t mapped;
	char *w = gather_two_kept(a, &mapped);   /* its 2 MiB, their 10, fresh */
	assert_true(mappings_in(w, 13 * mib) >= 2);   /* premise */
	for (size_t k = 0; k < 13 * mib; k += JM_PAGE)
		w[k] = (char)(k >> JM_LG_PAGE);
	/* A page after its mapping (ours, or somebody's already): it must
	 * move. */
	struct jm_huge *hw = (struct jm_huge *)(jm__rtree_get((uintptr_t)w) & ~(uintptr_t)JM_RTREE_HUGE);
	void *block = mmap(w + hw->map_size, JM_PAGE, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	uint64_t nmalloc = a->stats->nmalloc_huge;
	char *r = jm_realloc(w, hw->map_size + mib);
	assert_non_null(r);
	assert_ptr_not_equal(r, w);
	assert_int_equal(a->stats->nmalloc_huge, nmalloc);   /* moved, not copied */
	for (size_t k = 0; k < 13 * mib; k += JM_PAGE)
		assert_int_equal(r[k], (char)(k >> JM_LG_PAGE));
	validate();
	/* Before Linux 6.17, a page at a time, and one page the kernel will
	 * not move (out of mappings): it is copied, the rest moved. */
	struct jm_huge *h = (struct jm_huge *)(jm__rtree_get((uintptr_t)r) & ~(uintptr_t)JM_RTREE_HUGE);
	size_t room = h->map_size;   /* 14 MiB and room to grow */
	if (block != MAP_FAILED)
		munmap(block, JM_PAGE);
	block = mmap(r + room, JM_PAGE, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	mremap_old_kernel = true;
	mremap_calls = 0;
	mremap_fail_at = 1000;
	w = jm_realloc(r, room + mib);
	mremap_old_kernel = false;
	assert_non_null(w);
	assert_ptr_not_equal(w, r);
	assert_true(mremap_calls > 1000);
	assert_int_equal(a->stats->nmalloc_huge, nmalloc);
	for (size_t k = 0; k < 13 * mib; k += JM_PAGE)
		assert_int_equal(w[k], (char)(k >> JM_LG_PAGE));
	r = w;
	if (block != MAP_FAILED)
		munmap(block, JM_PAGE);
	validate();
	free_unkept(r);
	assert_int_equal(a->huge_dirty + a->huge_retained, 0);
	validate();
}

/* calloc's new region takes the pages of dirty kept regions (gather),
 * cleared where they are held (jm__os_zero_dirty), when any of them were
 * moved. A move the kernel refused part way (a region's pages moved a
 * piece at a time, the kernel out of mappings at the third: before Linux
 * 6.17 a page at a time, as mremap_old_kernel does) left the pages it had
 * moved in the new region but counted none moved: with no other piece,
 * calloc cleared nothing and returned the kept region's bytes (5s) in its
 * first two pages. Nothing kept before and after. */
static void test_huge_calloc_gather_cut(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	size_t mib = 1u << 20;
	assert_int_equal(a->huge_dirty + a->huge_retained, 0);   /* premise */
	char *v = jm_malloc(8 * mib);
	assert_non_null(v);
	memset(v, 5, 8 * mib);
	jm_free(v);
	assert_true(a->huge_dirty >= 8 * mib);
	mremap_old_kernel = true;
	mremap_calls = 0;
	mremap_fail_at = 3;
	char *n = jm_calloc(1, 32 * mib);
	mremap_old_kernel = false;
	assert_non_null(n);
	assert_int_equal(mremap_calls, 3);   /* premise: 2 pages moved, then refused */
	assert_int_equal(a->huge_dirty, 0);   /* taken out of the kept regions */
	for (size_t k = 0; k < 32 * mib; k += sizeof(uint64_t))
		if (*(uint64_t *)(n + k) != 0)
			fail_msg("calloc's byte %zu is %d, not 0", k, n[k]);
	validate();
	free_unkept(n);
	assert_int_equal(a->huge_dirty + a->huge_retained, 0);
	validate();
}

/* Huge regions are mapped, split, merged and moved in whole 2 MiB blocks
 * at aligned addresses. Under a hypervisor that shadows the guest's page
 * tables (PVM), a page that mremap moved one entry at a time (a partial
 * block, or a place not congruent modulo 2 MiB) costs a fault's time
 * (12-20 us) at its next touch, a page of a whole block moved 23 ns:
 * malloc-large's kept regions, their sizes the program's in pages, were
 * gathered into new ones 81k pages a run so (1.6 s of user time on
 * 2.2). */
static void test_huge_whole_blocks(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	size_t mib = 1u << 20;
	jm__huge_purge_all();   /* what earlier tests kept: clean, not gathered */
	char *w = jm_malloc(2 * mib);
	/* Live between w and x, y: w, carved from a kept region as they
	 * are, would grow into them where they are (grow_into_kept). */
	char *sep = jm_malloc(2 * mib);
	char *x = jm_malloc(3 * mib + JM_PAGE), *y = jm_malloc(5 * mib - JM_PAGE);
	struct jm_huge *h = (struct jm_huge *)(jm__rtree_get((uintptr_t)x) & ~(uintptr_t)JM_RTREE_HUGE);
	assert_int_equal(h->map_size & JM_CHUNK_MASK, 0);
	memset(x, 3, 3 * mib + JM_PAGE);
	memset(y, 3, 5 * mib - JM_PAGE);
	jm_free(x);
	jm_free(y);
	mremap_moves = mremap_partial = 0;
	mremap_watch_blocks = true;
	w = jm_realloc(w, 13 * mib + 5 * JM_PAGE);   /* gathers both */
	assert_non_null(w);
	memset(w, 4, 13 * mib + 5 * JM_PAGE);
	char *r = jm_realloc(w, 29 * mib);   /* moved, or grown in place */
	mremap_watch_blocks = false;
	assert_non_null(r);
	assert_true(mremap_moves >= 1);
	assert_int_equal(mremap_partial, 0);
	h = (struct jm_huge *)(jm__rtree_get((uintptr_t)r) & ~(uintptr_t)JM_RTREE_HUGE);
	assert_int_equal(h->map_size & JM_CHUNK_MASK, 0);
	for (size_t k = 0; k < 13 * mib; k += JM_PAGE)
		assert_int_equal(r[k], 4);
	jm_free(r);
	jm_free(sep);
	validate();
	decay_reset(a);
	validate();
}

/* Kept huge regions are split and merged: a request takes its blocks,
 * the head of a larger kept region (the tail stays kept, a region of its
 * own), and a freed region merges with a kept
 * neighbour of its arena, so that a program replacing big buffers of
 * varied sizes reuses their pages (purge-liveset: peak RSS 166 -> 149 MiB,
 * faults 41k -> 37k). Neither maps anything. */
static void test_huge_split_merge(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	decay_reset(a);
	size_t mib = 1u << 20;
	char *x = jm_malloc(8 * mib);
	assert_non_null(x);
	memset(x, 1, 8 * mib);
	jm_free(x);                                 /* kept, dirty */
	uint64_t nmap = a->stats->nmap;
	char *head = jm_malloc(2 * mib);            /* split: x's head */
	assert_ptr_equal(head, x);
	char *tail = jm_malloc(6 * mib);            /* the tail, whole */
	assert_ptr_equal(tail, x + 2 * mib);
	validate();
	jm_free(head);
	jm_free(tail);                              /* merged with head */
	validate();
	char *all = jm_malloc(8 * mib);
	assert_ptr_equal(all, x);
	assert_int_equal(a->stats->nmap, nmap);
	for (size_t k = 0; k < 8 * mib; k += JM_PAGE)
		assert_int_equal(all[k], 1);            /* the same pages */
	jm_free(all);
	validate();
	decay_reset(a);
	validate();
}

/* A request takes only its blocks of a larger kept region, even one
 * within twice its size (taken whole before: the rest stayed resident
 * in the live region, fitting nothing; malloc-large's peak RSS 5% less
 * without, over 5 seeds), and the rest stays kept where it is; a region
 * realloc grows takes the kept region after it where it is (no syscall,
 * no page moved: realloc-huge's peak RSS and faults 10% less). */
static void test_huge_take_blocks(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	decay_reset(a);
	size_t mib = 1u << 20;
	char *x = jm_malloc(16 * mib);
	assert_non_null(x);
	memset(x, 1, 16 * mib);
	jm_free(x);                                 /* kept, the only dirty one */
	uint64_t nmap = a->stats->nmap;
	char *p = jm_malloc(9 * mib);               /* 10 MiB of it */
	char *q = jm_malloc(5 * mib);               /* the next 6, not a mapping */
	assert_non_null(p);
	assert_ptr_equal(q, p + 10 * mib);
	assert_int_equal(a->stats->nmap, nmap);
	validate();
	memset(p, 2, 9 * mib);
	memset(q, 3, 5 * mib);
	jm_free(q);                                 /* kept, right after p */
	uint64_t dirty = a->huge_dirty;
	char *r = jm_realloc(p, 13 * mib);          /* grows over it in place */
	assert_ptr_equal(r, p);
	assert_int_equal(a->stats->nmap, nmap);
	assert_true(a->huge_dirty < dirty);
	for (size_t k = 0; k < 9 * mib; k += JM_PAGE)
		assert_int_equal(r[k], 2);
	for (size_t k = 10 * mib; k < 13 * mib; k += JM_PAGE)
		assert_int_equal(r[k], 3);              /* q's pages, where they were */
	validate();
	jm_free(r);
	validate();
	decay_reset(a);
	validate();
}

/* Pages of [p, p + len) resident (mincore). */
static size_t resident_in(const char *p, size_t len)
{
	unsigned char vec[1024];
	size_t n = 0;
	assert_true(len <= sizeof(vec) * JM_PAGE);
	assert_int_equal(mincore((void *)p, len, vec), 0);
	for (size_t i = 0; i < len / JM_PAGE; i++)
		n += vec[i] & 1;
	return n;
}

static int64_t saved_decay_ms;
static int decay_teardown(void **state)
{
	(void)state;
	jm__opt.decay_ms = saved_decay_ms;   /* also after a failure */
	return 0;
}

/* The fixture of the tests of dirty kept huge regions: what earlier
 * tests kept released, the thread's arena's decay state reset and
 * decay_ms -1 (only the test purges); after the test (also after a
 * failure), decay_ms put back, the state reset again and the heap
 * checked. */
static int huge_kept_setup(void **state)
{
	(void)state;
	jm__huge_release_kept();
	decay_reset(jm__thread_arena());
	saved_decay_ms = jm__opt.decay_ms;
	jm__opt.decay_ms = -1;
	return 0;
}

static int huge_kept_teardown(void **state)
{
	decay_teardown(state);
	decay_reset(jm__thread_arena());
	validate();
	return 0;
}

/* After 128 requests of 6 MiB (the recent ones) and no region kept, a
 * request of 4 MiB + 1: a fresh region with room for 6 MiB. */
static char *region_with_room(void)
{
	size_t mib = 1u << 20;
	for (int i = 0; i < 128; i++)
		jm_free(jm_malloc(6 * mib));
	jm__huge_release_kept();
	char *x = jm_malloc(4 * mib + 1);
	assert_non_null(x);
	assert_int_equal(huge_of(x)->map_size, 6 * mib);
	return x;
}

/* A dirty kept region reused by ever smaller requests, each written at
 * its two ends only (an aligned buffer's first and last bytes): every
 * occupant left its last page resident past the next one's end, and the
 * region gathered them for its whole life (the `aligned` workload: 70
 * MiB of its 160 MiB peak RSS). Every 8th reuse, the slack past the
 * request is looked at: its pieces with few resident pages are purged
 * (counted) when they hold 8 pages or more in all (a purge is a madvise
 * and a TLB shootdown: purging 1..7 pages at each look was 3.1k calls in
 * `aligned`, 1.4k now), and fewer wait for a later look; a piece an
 * occupant wrote through is kept. decay_ms -1: the region stays dirty
 * and kept whatever the time. */
static void test_huge_sparse_slack(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	size_t mib = 1u << 20, k64 = 64u << 10;
	char *x = jm_malloc(4 * mib);
	assert_non_null(x);
	x[0] = 1;
	jm_free(x);     /* the only dirty kept region (it may have merged
	                   with a purged one before it: its start is the
	                   first reuse's) */
	uint64_t npurge = a->stats->npurge, purged = a->stats->purged;
	/* 7 reuses: none looked at; the first 3 leave their last page. */
	char *base = NULL;
	for (size_t i = 1; i <= 7; i++) {
		char *y = jm_malloc(4 * mib - i * k64);
		assert_non_null(y);
		if (base == NULL)
			base = y;
		assert_ptr_equal(y, base);
		/* Whole (x's room past its 4 MiB was never written: a tail
		 * smaller than the request's blocks, tail_useless), or split
		 * if x merged with a purged region before it. */
		assert_true(huge_of(y)->map_size == 6 * mib || huge_of(y)->map_size == 4 * mib);
		y[0] = 2;
		if (i <= 3)
			y[4 * mib - i * k64 - 1] = 2;
		jm_free(y);
	}
	/* The 8th looks at its slack, 512 KiB with 3 pages resident: too
	 * few to be worth a purge, they stay. */
	char *y = jm_malloc(4 * mib - 8 * k64);
	assert_ptr_equal(y, base);
	assert_int_equal(a->stats->npurge, npurge);
#ifndef JM_SANITIZED
	assert_int_equal(resident_in(base + 4 * mib - 8 * k64, 8 * k64), 3);
#endif
	jm_free(y);
	/* 7 more leave theirs; the 16th's slack (1 MiB, two sparse pieces
	 * with 10 pages) is purged, one madvise. */
	for (size_t i = 9; i <= 15; i++) {
		y = jm_malloc(4 * mib - i * k64);
		assert_ptr_equal(y, base);
		y[0] = 2;
		y[4 * mib - i * k64 - 1] = 2;
		jm_free(y);
	}
	assert_int_equal(a->stats->npurge, npurge);
#ifndef JM_SANITIZED
	assert_int_equal(resident_in(base + 4 * mib - 16 * k64, 16 * k64), 10);
#endif
	y = jm_malloc(4 * mib - 16 * k64);
	assert_ptr_equal(y, base);
	assert_int_equal(a->stats->npurge, npurge + 1);
	assert_int_equal(a->stats->purged, purged + 16 * k64);
#ifndef JM_SANITIZED
	assert_int_equal(resident_in(base + 4 * mib - 16 * k64, 16 * k64), 0);
#endif
	assert_int_equal(y[0], 2);         /* its own pages stay */
	validate();
	jm_free(y);
	/* Written through, then 8 smaller reuses: the slack is dense, kept. */
	y = jm_malloc(4 * mib);
	assert_ptr_equal(y, base);
	memset(y, 3, 4 * mib);
	jm_free(y);
	npurge = a->stats->npurge;
	for (size_t i = 1; i <= 8; i++) {
		y = jm_malloc(2 * mib + JM_PAGE);
		assert_ptr_equal(y, base);
		y[2 * mib] = 4;
		jm_free(y);
	}
	assert_int_equal(a->stats->npurge, npurge);
#ifndef JM_SANITIZED
	assert_int_equal(resident_in(base + 2 * mib + JM_PAGE, 2 * mib - JM_PAGE),
	    (2 * mib - JM_PAGE) / JM_PAGE);
#endif
	assert_int_equal(base[4 * mib - 1], 3);   /* the same pages */
}

/* Requests of 2 MiB + 1 and 4 MiB + 1 by turns (the probe big2m1): a
 * kept 6 MiB region, its last 2 MiB written at most in a page, given to
 * a 2 MiB + 1 request was split into its 4 MiB and a 2 MiB tail that
 * fitted no request, which the next fresh mapping gathered (mremap),
 * and the next 4 MiB + 1 request found only 4 MiB regions: a fresh 6
 * MiB map and two mremap calls a request (docs/programs.md, "Probes,
 * session 30"). A tail smaller than the request's blocks, of which at
 * most a 64th may have been written since its last purge, is taken
 * whole if no request of the last 64 (to 128) had as few blocks. */
static void test_huge_untouched_tail_whole(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	size_t mib = 1u << 20;
	char *x = region_with_room();
	x[0] = 1;
	x[4 * mib] = 1;          /* the one page past 4 MiB */
	jm_free(x);
	assert_int_equal(a->huge_dirty, 6 * mib);
	char *y = jm_malloc(2 * mib + 1);
	assert_ptr_equal(y, x);
	assert_int_equal(huge_of(y)->map_size, 6 * mib);   /* before: 4 */
	assert_int_equal(a->huge_dirty, 0);                /* before: 2 MiB */
	uint64_t nmap = a->stats->nmap;
	y[0] = 2;
	y[2 * mib] = 2;
	jm_free(y);
	char *z = jm_malloc(4 * mib + 1);   /* the same region, no map */
	assert_ptr_equal(z, x);
	assert_int_equal(a->stats->nmap, nmap);
	assert_int_equal(z[4 * mib], 1);
	validate();
	jm_free(z);
	/* Written past 4 MiB (more than a 64th of the tail): split as
	 * before, the tail's pages kept for another request. */
	z = jm_malloc(4 * mib + mib / 2);
	assert_ptr_equal(z, x);
	memset(z, 3, 4 * mib + mib / 2);
	jm_free(z);
	y = jm_malloc(2 * mib + 1);
	assert_ptr_equal(y, x);
	assert_int_equal(huge_of(y)->map_size, 4 * mib);
	assert_int_equal(a->huge_dirty, 2 * mib);
	validate();
	jm_free(y);
}

/* A region with room (4 MiB + 1 in 6 MiB) shrunk by a page keeps its
 * mapping: the tail went when the mapping was a third more than the new
 * size's own blocks (4 MiB), a madvise and a munmap, and the next growth
 * by a page mapped it again (an mremap), at every such pair. Shrunk to
 * less than that room's share (2 MiB + 1: a region grown to it would have
 * 4 MiB), the tail goes. */
static int shrink_tail_gone;
static void count_tail_gone(void)
{
	shrink_tail_gone++;
}

static void test_huge_shrink_page_keeps_room(void **state)
{
	(void)state;
	size_t mib = 1u << 20;
	char *x = region_with_room();
	memset(x, 1, 4 * mib + 1);
	shrink_tail_gone = 0;
	jm__test_huge_tail_gone = count_tail_gone;
	for (int i = 0; i < 4; i++) {
		assert_ptr_equal(jm_realloc(x, 4 * mib), x);     /* a page less */
		assert_int_equal(huge_of(x)->map_size, 6 * mib);  /* before: 4 */
		assert_ptr_equal(jm_realloc(x, 4 * mib + 1), x);  /* a page more */
		assert_int_equal(huge_of(x)->map_size, 6 * mib);
	}
	assert_int_equal(shrink_tail_gone, 0);                     /* before: 4 */
	assert_ptr_equal(jm_realloc(x, 2 * mib + 1), x);
	assert_int_equal(huge_of(x)->map_size, 4 * mib);
	assert_int_equal(shrink_tail_gone, 1);
	jm__test_huge_tail_gone = NULL;
	validate();
	jm_free(x);
	validate();
}

/* A region realloc shrank in place without purging (its blocks still
 * most of its mapping) was written past its new size: how far it may have
 * been written (touched) kept the larger size. It counted only the new
 * one at the free, and the next request of half of it took the region
 * whole, its 1.5 MiB written tail "untouched" (tail_useless), resident
 * for the request's life. */
static void test_huge_shrunk_touched(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	size_t mib = 1u << 20;
	char *x = region_with_room();
	char *g = jm_realloc(x, 5 * mib + mib / 2);   /* grown in its room */
	assert_ptr_equal(g, x);
	memset(x, 3, 5 * mib + mib / 2);
	char *s = jm_realloc(x, 4 * mib + 1);          /* shrunk, not purged */
	assert_ptr_equal(s, x);
	assert_int_equal(huge_of(x)->map_size, 6 * mib);
	jm_free(x);
	char *y = jm_malloc(2 * mib + 1);
	assert_ptr_equal(y, x);
	/* Split (its tail written through): the tail kept for another. */
	assert_int_equal(huge_of(y)->map_size, 4 * mib);   /* before: 6 */
	assert_int_equal(a->huge_dirty, 2 * mib);          /* before: 0 */
	validate();
	jm_free(y);
}

/* A sampled huge region is cut in place as any other is, its pages past
 * the new size's blocks given back, its sample (site and size) kept: it
 * was kept whole, and nearly every buffer of a few MiB is sampled (1 -
 * exp(-4) at 2 MiB): an 8 MiB one written and cut to 3 MiB held its 8.
 * A cut of less than a quarter leaves it as it is, without a call to
 * jm__huge_ralloc (realloc-grow took 3 x the time with one at each step
 * within a page in the first version). */
static unsigned sampled_resizes;
static void count_resize(void)
{
	sampled_resizes++;
}

static void test_huge_sampled_cut(void **state)
{
	(void)state;
	size_t mib = 1u << 20;
	char *s;
	/* A site set by hand (no row: sampling is off here, and prof.c
	 * leaves the profile alone), taken off before the free. */
	char *x = jm_malloc(8 * mib);
	assert_non_null(x);
	memset(x, 7, 8 * mib);
	huge_of(x)->prof_site = 1;
	huge_of(x)->prof_size = 8 * mib;
	huge_of(x)->prof_now = 8 * mib;
	size_t map = huge_of(x)->map_size;
	/* A cut of less than a quarter (a size within its last page, as a
	 * buffer grown a step at a time asks for) returns at once. */
	sampled_resizes = 0;
	jm__test_huge_grown = count_resize;
	s = jm_realloc(x, 8 * mib - 100);
	assert_ptr_equal(s, x);
	s = jm_realloc(x, 7 * mib);
	assert_ptr_equal(s, x);
	jm__test_huge_grown = NULL;
	assert_int_equal(sampled_resizes, 0);
	assert_int_equal(jm_malloc_usable_size(x), 8 * mib);
	s = jm_realloc(x, 3 * mib);
	assert_ptr_equal(s, x);
	assert_int_equal(jm_malloc_usable_size(x), 3 * mib);   /* before: 8 */
	assert_true(huge_of(x)->map_size < map);
	assert_int_equal(huge_of(x)->prof_site, 1);
	assert_int_equal(huge_of(x)->prof_size, 8 * mib);   /* its weight's */
	assert_int_equal(huge_of(x)->prof_now, 3 * mib);    /* its site's bytes' */
	assert_int_equal(x[3 * mib - 1], 7);
	s = jm_realloc(x, 100000);             /* a large size: in place too */
	assert_ptr_equal(s, x);
	assert_int_equal(jm_malloc_usable_size(x), 25 * JM_PAGE);
	assert_int_equal(huge_of(x)->map_size, 2 * mib);
	assert_int_equal(x[99999], 7);
	huge_of(x)->prof_site = 0;
	jm_free(x);
	validate();
}

/* A fresh region has room up to the largest blocks of the recent
 * requests (if at most half as much again as its own), and a kept region split for a
 * request keeps such room if it is address space: kept, it then serves
 * any of them where it is. 1, 2 and 4 MiB + 1 requests, 16 live (the
 * probe big2m1): a 2 MiB + 1 request's region was 4 MiB, fitted no 4 MiB +
 * 1 request (6 MiB), and each of those that found only such regions kept
 * mapped a fresh one and gathered them into it (140 mmap and 245 mremap
 * in 20000 requests). */
static void test_huge_room_for_recent(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	size_t mib = 1u << 20;
	char *big = jm_malloc(4 * mib + 1);   /* 6 MiB of blocks */
	assert_non_null(big);
	char *b = jm_malloc(2 * mib + 1);     /* 4 MiB of blocks */
	assert_non_null(b);
	assert_int_equal(huge_of(b)->map_size, 6 * mib);   /* before: 4 */
	jm_free(big);
	jm_free(b);
	jm__huge_release_kept();
	char *x = jm_malloc(6 * mib + 1);     /* 8 MiB */
	assert_non_null(x);
	assert_int_equal(huge_of(x)->map_size, 8 * mib);
	x[0] = 1;
	/* The recent requests: 2 and 4 MiB + 1 (4 and 6 MiB of blocks),
	 * three windows of 64. */
	for (int i = 0; i < 192; i++)
		jm_free(jm_malloc(i & 1 ? 4 * mib + 1 : 2 * mib + 1));
	jm__huge_release_kept();
	jm_free(x);
	jm__huge_purge_all();   /* nothing in it written since */
	/* Kept, 8 MiB: a 2 MiB + 1 request takes 6 MiB of it, and the 2 MiB
	 * left fit none of the recent requests: whole. */
	char *c = jm_malloc(2 * mib + 1);
	assert_ptr_equal(c, x);
	assert_int_equal(huge_of(c)->map_size, 8 * mib);   /* before: 4 */
	c[2 * mib] = 2;
	jm_free(c);
	uint64_t nmap = a->stats->nmap;
	char *d = jm_malloc(4 * mib + 1);     /* the same region, no map */
	assert_ptr_equal(d, x);
	assert_int_equal(a->stats->nmap, nmap);
	assert_int_equal(d[2 * mib], 2);
	validate();
	jm_free(d);
	jm__huge_release_kept();
}

/* A fresh region's room (room_for, and fresh_for's up to the recent
 * requests' largest) is address space that may not be there to have: a
 * limit of it set after the allocator read the limits once (as_limited:
 * prlimit on a running process, a sandbox's setrlimit), or strict
 * overcommit. The request's own blocks are mapped then, before any kept
 * region or empty chunk is given back for room (map_or_release): with 21
 * MiB of address space left after a 24 MiB request, malloc(16 MiB)
 * tried a fresh 24 MiB mapping, unmapped what the arenas kept to have it
 * and returned with errno ENOMEM, or NULL where that was not enough. In
 * a child: the limit is the process's. */
static void test_huge_room_not_had(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	skip();   /* the sanitizer's shadow takes terabytes of address space */
#endif
	size_t mib = 1u << 20;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		jm__huge_release_kept();
		jm__huge_recent_forget();
		char *big = jm_malloc(24 * mib);   /* live: 24 MiB of recent blocks */
		if (big == NULL)
			_exit(2);
		big[0] = 1;
		char line[256];
		unsigned long vm_kb = 0;
		FILE *f = fopen("/proc/self/status", "r");
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "VmSize: %lu kB", &vm_kb) == 1)
				break;
		if (f)
			fclose(f);
		if (vm_kb == 0)
			_exit(3);
		struct rlimit rl = { vm_kb * 1024 + 21 * mib, vm_kb * 1024 + 21 * mib };
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			_exit(4);
		errno = 1234;
		char *p = jm_malloc(16 * mib);
		int e = errno;
		if (p == NULL)
			_exit(5);
		p[16 * mib - 1] = 1;
		size_t map = huge_of(p)->map_size;
		if (map != 16 * mib || e != 1234) {
			fprintf(stderr, "malloc(16 MiB) with 21 MiB of address space left: a "
			        "mapping of %zu MiB, errno %d\n", map / mib, e);
			_exit(6);
		}
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 5)
		fail_msg("malloc(16 MiB) returned NULL with 21 MiB of address space left");
	if (WEXITSTATUS(st) == 6)
		fail_msg("its room tried first: the kept regions and empty chunks unmapped "
		         "to have it, errno left ENOMEM");
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* A request aligned to 2 MiB and a small fraction of its block (the
 * probe memalignbig: 1 KB..200 KB aligned to 1..4 MiB, its first and
 * last bytes written): each occupant of a kept region left its last page
 * past the next smaller one's end, and the region gathered up to 50 of
 * them for its life, kept or live: 113 MiB peak RSS where tcmalloc held
 * 29. A dirty region reused by a request of a quarter of it or less has
 * what earlier occupants may have written past the request purged at
 * once (one madvise, counted); a larger request keeps them for the
 * sparse look (test_huge_sparse_slack). */
static void test_huge_sliver_slack_purged(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	size_t mib = 1u << 20, k = 1u << 10;
	char *p = jm_memalign(2 * mib, 160 * k);
	assert_non_null(p);
	assert_int_equal(huge_of(p)->map_size, 2 * mib);
	p[0] = 1;
	p[160 * k - 1] = 1;
	jm_free(p);
	uint64_t npurge = a->stats->npurge, purged = a->stats->purged;
	char *q = jm_memalign(2 * mib, 40 * k);
	assert_ptr_equal(q, p);
	assert_int_equal(a->stats->npurge, npurge + 1);
	assert_int_equal(a->stats->purged, purged + 120 * k);
#ifndef JM_SANITIZED
	assert_int_equal(resident_in(q + 40 * k, 120 * k), 0);   /* before: 1 */
	assert_int_equal(resident_in(q, 40 * k), 1);             /* its own stays */
#endif
	assert_int_equal(q[0], 1);
	q[40 * k - 1] = 2;
	validate();
	jm_free(q);
	/* A larger one: nothing past it was written, nothing purged. */
	q = jm_memalign(2 * mib, 100 * k);
	assert_ptr_equal(q, p);
	assert_int_equal(a->stats->npurge, npurge + 1);
	validate();
	jm_free(q);
}

/* A region realloc grows gathers the tail of a larger dirty kept region
 * of which nothing past its first 32 MiB was written (the room of its
 * fresh mapping, 40 MiB): how far the grown region may have been written
 * (touched) counts the piece's written part, none; it wrapped below zero
 * (the written part less the piece's start), and the region's next
 * reuse by a small request purged 2^64 bytes (a segfault in
 * api_align's test_named_cases, one run in 12). */
static void test_huge_gather_touched(void **state)
{
	(void)state;
	size_t mib = 1u << 20;
	char *b = jm_malloc(2 * mib);
	assert_non_null(b);
	memset(b, 5, 2 * mib);
	char *x = jm_malloc(32 * mib);
	assert_non_null(x);
	assert_int_equal(huge_of(x)->map_size, 40 * mib);
	x[0] = 6;
	jm_free(x);
	char *r = jm_realloc(b, 4 * mib + JM_PAGE);   /* 2 MiB to fill */
	assert_non_null(r);
	assert_true(huge_of(r)->touched <= huge_of(r)->map_size);
	for (size_t i = 0; i < 2 * mib; i += JM_PAGE)
		assert_int_equal(r[i], 5);
	validate();
	free_unkept(r);
}

/* A region of 205-256 MiB: its fresh mapping has a quarter more room
 * (room_for), up to 320 MiB, above the 256 MiB a kept region may have
 * (HUGE_DIRTY_CAP), and it was unmapped at its free: the next request of
 * its size mapped and faulted it in again. Kept now, without the room.
 * First: nothing kept (a kept region of 210 MiB would serve it). */
static void test_huge_kept_by_blocks(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	size_t mib = 1u << 20;
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		skip();   /* no room under a limit of address space */
	assert_int_equal(a->huge_dirty + a->huge_retained, 0);   /* premise */
	saved_decay_ms = jm__opt.decay_ms;
	char *x = jm_malloc(210 * mib);
	assert_non_null(x);
	assert_true(huge_of(x)->map_size > 256 * mib);   /* premise: fresh, room */
	x[0] = 1;
	x[210 * mib - 1] = 2;
	uint64_t nmap = a->stats->nmap, nunmap = a->stats->nunmap;
	jm_free(x);
	assert_int_equal(a->stats->nunmap, nunmap);       /* kept */
	assert_true(a->huge_dirty >= 210 * mib);
	char *y = jm_malloc(210 * mib);
	assert_ptr_equal(y, x);
	assert_int_equal(a->stats->nmap, nmap);
	assert_int_equal(huge_of(y)->map_size, 210 * mib);
	assert_int_equal(y[210 * mib - 1], 2);            /* the same pages */
	validate();
	free_unkept(y);   /* 210 MiB kept would crowd later tests */
	assert_int_equal(a->stats->nunmap, nunmap + 1);
	validate();
}

/* A fork while a kept huge region's purge is counted in its arena but
 * the region not yet marked purged (the purging thread waits for
 * huge_lock, which the fork's prepare handler holds): the child must see
 * it purged, as its arena's counters do. It took it for dirty, so that
 * the arena's dirty and retained bytes no longer matched the regions and
 * the next purge in the child took the bytes off dirty a second time. */
static pid_t purge_fork_child = -1;
static void fork_in_purge(void)
{
	jm__test_huge_purged = NULL;
	purge_fork_child = fork();
	if (purge_fork_child != 0)
		return;
	struct jm_arena *a = jm__thread_arena();
	int bad = jm__heap_validate();
	jm__huge_purge_all();
	bad += jm__heap_validate();
	if (a->stats->dirty > ((uint64_t)1 << 48) || a->huge_dirty != 0)
		bad++;
	_exit(bad ? 1 : 0);
}

static void test_huge_purge_fork(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	decay_reset(a);
	void *p = jm_malloc(8u << 20);
	assert_non_null(p);
	jm_free(p);
	assert_true(a->huge_dirty >= (8u << 20));
	jm__test_huge_purged = fork_in_purge;
	jm__huge_purge_all();
	jm__test_huge_purged = NULL;
	assert_true(purge_fork_child > 0);
	int st = -1;
	assert_int_equal(waitpid(purge_fork_child, &st, 0), purge_fork_child);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(a->huge_dirty, 0);
	validate();
	decay_reset(a);
}

/* A fork while a freed huge region is being kept (its free charged, the
 * region not yet on the kept list): the child must see the region and its
 * arena's dirty bytes agree. The bytes were charged dirty before the
 * region was listed, outside huge_lock, so that a child forked between
 * (from any thread) counted dirty bytes no region held (a ring stress
 * with a forking thread: "kept huge dirty 62758912, regions say
 * 59568128"), never purged nor reused; the child now counts its kept
 * bytes from the list. */
static pid_t keep_fork_child = -1;
static void fork_in_keep(void)
{
	jm__test_huge_keeping = NULL;
	keep_fork_child = fork();
	if (keep_fork_child != 0)
		return;
	int bad = jm__heap_validate();
	jm__huge_purge_all();
	bad += jm__heap_validate();
	_exit(bad ? 1 : 0);
}

static void test_huge_keep_fork(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	decay_reset(a);
	void *p = jm_malloc(8u << 20);
	assert_non_null(p);
	jm__test_huge_keeping = fork_in_keep;
	jm_free(p);
	jm__test_huge_keeping = NULL;
	assert_true(keep_fork_child > 0);
	int st = -1;
	assert_int_equal(waitpid(keep_fork_child, &st, 0), keep_fork_child);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_true(a->huge_dirty >= (8u << 20));
	validate();
	decay_reset(a);
}

/* A fork while a realloc resizes a huge region where it is (into the
 * kept region after it, test_huge_take_blocks; within its mapping; a
 * shrink), once the resize is counted: the child must see the record's
 * new size with its arena's counters (set after them, a child's
 * allocated_huge and its records disagreed). */
static pid_t grow_fork_child = -1;
static void fork_in_grow(void)
{
	jm__test_huge_grown = NULL;
	grow_fork_child = fork();
	if (grow_fork_child != 0)
		return;
	_exit(jm__heap_validate() ? 1 : 0);
}

static void test_huge_grow_fork(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	decay_reset(a);
	size_t mib = 1u << 20;
	char *x = jm_malloc(16 * mib);
	assert_non_null(x);
	memset(x, 1, 16 * mib);
	jm_free(x);
	char *p = jm_malloc(9 * mib), *q = jm_malloc(5 * mib);
	assert_ptr_equal(q, p + 10 * mib);
	jm_free(q);                                 /* kept, right after p */
	grow_fork_child = -1;
	jm__test_huge_grown = fork_in_grow;
	char *r = jm_realloc(p, 13 * mib);
	jm__test_huge_grown = NULL;
	assert_ptr_equal(r, p);
	assert_true(grow_fork_child > 0);
	int st = -1;
	assert_int_equal(waitpid(grow_fork_child, &st, 0), grow_fork_child);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	validate();
	/* Grown within its mapping, and shrunk: the same. */
	const size_t sizes[] = { 14 * mib, 5 * mib };
	for (int i = 0; i < 2; i++) {
		grow_fork_child = -1;
		jm__test_huge_grown = fork_in_grow;
		assert_ptr_equal(jm_realloc(r, sizes[i]), r);
		jm__test_huge_grown = NULL;
		assert_true(grow_fork_child > 0);
		st = -1;
		assert_int_equal(waitpid(grow_fork_child, &st, 0), grow_fork_child);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	validate();
	jm_free(r);
	validate();
	decay_reset(a);
}

/* A fork while a realloc shrinks a huge region where it is, once the
 * tail it gives up has gone: the child must find the whole mapping its
 * record names mapped (msync fails with ENOMEM over a hole). The tail was
 * unmapped before the record said so: a child forked between kept a
 * record larger than its mapping, whose free kept (and whose reuse
 * handed out) address space that was not the region's, or another
 * mapping the kernel put there since. */
static pid_t shrink_fork_child = -1;
static char *shrink_fork_ptr;
static void fork_in_shrink(void)
{
	jm__test_huge_tail_gone = NULL;
	shrink_fork_child = fork();
	if (shrink_fork_child != 0)
		return;
	uintptr_t v = jm__rtree_get((uintptr_t)shrink_fork_ptr);
	if (!(v & JM_RTREE_HUGE))
		_exit(2);
	struct jm_huge *h = (struct jm_huge *)(v & ~(uintptr_t)JM_RTREE_HUGE);
	if (msync(h->addr, h->map_size, MS_ASYNC) != 0)
		_exit(3);
	_exit(jm__heap_validate() ? 1 : 0);
}

static void test_huge_shrink_fork(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	decay_reset(a);
	size_t mib = 1u << 20;
	char *r = jm_malloc(14 * mib);
	assert_non_null(r);
	memset(r, 1, 14 * mib);
	struct jm_huge *h = huge_of(r);
	size_t map = h->map_size;   /* 14 MiB, more if a fresh mapping */
	assert_true(map >= 14 * mib);
	uint64_t mapped = a->stats->mapped;
	shrink_fork_child = -1;
	shrink_fork_ptr = r;
	jm__test_huge_tail_gone = fork_in_shrink;
	assert_ptr_equal(jm_realloc(r, 5 * mib), r);   /* 6 MiB kept: the tail goes */
	jm__test_huge_tail_gone = NULL;
	assert_true(shrink_fork_child > 0);
	int st = -1;
	assert_int_equal(waitpid(shrink_fork_child, &st, 0), shrink_fork_child);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(h->map_size, 6 * mib);
	assert_int_equal(h->size, 5 * mib);
	assert_int_equal(a->stats->mapped, mapped - (map - 6 * mib));
	assert_int_equal(msync(r, 6 * mib, MS_ASYNC), 0);
	assert_int_equal(r[5 * mib - 1], 1);
	validate();
	jm_free(r);
	validate();
	decay_reset(a);
}

/* Purging does not hold the arena's lock: the pieces it purges are taken
 * off the free lists (runs) or out of the radix tree (empty chunks) and
 * marked, the lock is released for the madvise, and they are filed back
 * after it. While it purges, the lock is free and the heap is valid; a
 * fork then leaves the child with every piece filed back (its purging
 * thread is gone), also the empty chunks being purged. */
static int purging_calls, purging_locked, purging_errors, purging_chunks;
static pid_t purging_child = -1;
static void while_purging(struct jm_arena *a)
{
	purging_calls++;
	if (pthread_mutex_trylock(a->lock) == 0)
		pthread_mutex_unlock(a->lock);
	else
		purging_locked++;
	purging_errors += jm__heap_validate();
	purging_chunks += (int)a->ninflight;
	if (purging_child >= 0)
		return;
	purging_child = fork();
	if (purging_child == 0) {
		bool bad = jm__heap_validate() != 0 || a->purging != NULL || a->ninflight != 0 ||
		    a->ndirty_pages != 0;
		_exit(bad ? 1 : 0);
	}
}

static void test_purge_unlocked(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	decay_reset(a);
	void *whole = jm_malloc(JM_LARGE_MAX);          /* a chunk of its own */
	void *part = jm_malloc(300 * JM_PAGE);
	assert_non_null(whole);
	assert_non_null(part);
	memset(whole, 1, JM_LARGE_MAX);
	memset(part, 1, 300 * JM_PAGE);
	jm_free(whole);
	jm_free(part);
	uint64_t t0 = jm__now_ns() + 1000000000u;
	uint64_t decay = (uint64_t)jm__opt.decay_ms * 1000000u;
	jm__test_arena_purging = while_purging;
	decay_at(a, t0);
	assert_int_equal(decay_at(a, t0 + 2 * decay), 0);
	jm__test_arena_purging = NULL;
	assert_true(purging_calls > 0);
	assert_int_equal(purging_locked, 0);
	assert_int_equal(purging_errors, 0);
	assert_true(purging_chunks > 0);
	assert_null(a->purging);
	assert_int_equal(a->ninflight, 0);
	assert_true(purging_child > 0);
	int st = -1;
	assert_int_equal(waitpid(purging_child, &st, 0), purging_child);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	validate();
}

/* The hard cap: however young, an arena's dirty pages never exceed
 * max(256 MiB, its active bytes); the free that crosses it counts them
 * again on what the kernel has (PAGEMAP_SCAN), and purges what is still
 * over. Regions never written are not resident: crossing the cap with
 * them purges nothing (it purged the oldest chunks, at 28 of the frees
 * here), and the count is what is resident, none. Where
 * the kernel cannot say (before Linux 6.7), they are purged. (The
 * regions are not touched: no memory is used.) */
static void test_dirty_cap(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	decay_reset(a);
	enum { N = 160 };
	void **p = malloc(N * sizeof(void *));
	for (int i = 0; i < N; i++) {
		p[i] = jm_malloc(JM_LARGE_MAX);
		assert_non_null(p[i]);
	}
	/* Where transparent huge pages are always on, a chunk's header
	 * faulted its whole 2 MiB in: resident, counted. */
	size_t resident = 0;
	for (int i = 0; i < N; i++)
		resident += resident_in(p[i], JM_LARGE_MAX);
	uint64_t ncap = a->stats->npurge_cap, npurge = a->stats->npurge;
	uint64_t purged = a->stats->purged;
	for (int i = 0; i < N; i++)
		jm_free(p[i]);
	free(p);
	uint64_t cap = ((uint64_t)256 << 20) >> JM_LG_PAGE;
	uint64_t active = a->stats->active >> JM_LG_PAGE;
	assert_true((uint64_t)N * (JM_LARGE_MAX >> JM_LG_PAGE) > cap);   /* premise */
	assert_true(a->ndirty_pages <= (active > cap ? active : cap));
	if (pagemap_scan_works() && resident == 0) {
		assert_int_equal(a->stats->npurge_cap, ncap);
		assert_int_equal(a->stats->npurge, npurge);
		assert_int_equal(a->stats->purged, purged);
		assert_true(a->ndirty_pages < cap / 2);
		assert_int_equal(a->stats->dirty, (a->ndirty_pages << JM_LG_PAGE) + a->huge_dirty);
	} else if (!pagemap_scan_works()) {
		assert_true(a->stats->npurge_cap > ncap);
	}
	validate();
	decay_reset(a);
}

/* A fresh huge mapping purges the arena's wholly free chunks, oldest
 * first, for as many pages, while the arena's dirty pages are above the
 * floor (jm__fresh_floor, lowered here to 4 chunks): 12 chunks each
 * wholly a freed large region, and one chunk whose large region is freed
 * beside a live small one (not wholly free: not purged). A fresh 8 MiB
 * mapping purged 5 whole chunks; a 32 MiB one those over the floor; a
 * third, with the arena at the floor, none. Both were left dirty for the decay: 1.5M small objects freed,
 * then 128 MiB of buffers mapped, peak RSS 258 MiB against glibc's 141
 * (the probe smallthenhuge). */
static void test_huge_fresh_purges_free_chunks(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	jm__huge_release_kept();   /* no kept region serves the requests */
	decay_reset(a);
	enum { N = 12 };
	uint64_t floor = jm__fresh_floor;
	jm__fresh_floor = 4 * JM_CHUNK_PAGES;
	void *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = jm_malloc(JM_LARGE_MAX);
		assert_non_null(p[i]);
		memset(p[i], 1, JM_LARGE_MAX);
	}
	/* A chunk of its own for a large region and a small one beside it. */
	void *part = jm_malloc(JM_LARGE_MAX - 64 * JM_PAGE);
	memset(part, 1, JM_LARGE_MAX - 64 * JM_PAGE);
	void *small = jm_malloc(JM_PAGE * 8);
	memset(small, 1, JM_PAGE * 8);
	jm_free(part);
	for (int i = 0; i < N; i++)
		jm_free(p[i]);
	uint64_t dirty0 = a->ndirty_pages, npurge0 = a->stats->npurge;
	assert_true(dirty0 >= (uint64_t)N * (JM_LARGE_MAX >> JM_LG_PAGE));   /* premise */
	char *h = jm_malloc((size_t)8 << 20);
	assert_non_null(h);
	h[0] = 1;
	uint64_t dirty1 = a->ndirty_pages;
	/* 5 chunks (of 511 free pages each) for the mapping's 2048 pages. */
	uint64_t per = JM_LARGE_MAX >> JM_LG_PAGE;
	assert_int_equal(a->stats->npurge - npurge0, ((((uint64_t)8 << 20) >> JM_LG_PAGE) + per - 1) / per);
	assert_true(dirty0 - dirty1 >= ((uint64_t)8 << 20) >> JM_LG_PAGE);
	assert_true(dirty0 - dirty1 < ((uint64_t)8 << 20 >> JM_LG_PAGE) + 2 * JM_CHUNK_PAGES);
	/* Down to the floor: the next fresh mapping purges what is over it
	 * and no more; the one after, nothing. */
	char *h2 = jm_malloc((size_t)32 << 20);
	assert_non_null(h2);
	assert_true(a->ndirty_pages + per > jm__fresh_floor);   /* a chunk under it at most */
	uint64_t dirty2 = a->ndirty_pages, npurge2 = a->stats->npurge;
	char *h3 = jm_malloc((size_t)16 << 20);
	assert_non_null(h3);
	assert_int_equal(a->stats->npurge, npurge2);
	assert_int_equal(a->ndirty_pages, dirty2);
	/* The partly used chunk's free pages are still dirty. */
	assert_true(a->ndirty_pages >= (JM_LARGE_MAX - 64 * JM_PAGE) >> JM_LG_PAGE);
	jm_free(h);
	jm_free(h2);
	jm_free(h3);
	jm_free(small);
	jm__fresh_floor = floor;
	validate();
	decay_reset(a);
	jm__huge_release_kept();
}

/* A fresh huge mapping looks for wholly free chunks only while there is
 * one to find. 120 freed regions of 80 pages, each between two live ones
 * (dirty runs of 80 pages, no chunk wholly free), far over the floor: the
 * mapping looked at none of them (it walked all 120, up to 4096, at every
 * fresh mapping: the probe hugemid spent 65% of its CPU there). Then a
 * wholly free chunk freed first (the oldest) and 120 runs as before: the
 * look ends at it, the one run it purges. */
static void test_huge_fresh_looks_while_whole(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	jm__huge_release_kept();
	decay_reset(a);
	enum { N = 240, RP = 80 };
	uint64_t floor = jm__fresh_floor;
	jm__fresh_floor = 4 * JM_CHUNK_PAGES;
	char **r = malloc(N * sizeof(char *));
	for (int round = 0; round < 2; round++) {
		void *whole = NULL;
		if (round == 1) {
			whole = jm_malloc(JM_LARGE_MAX);
			assert_non_null(whole);
			memset(whole, 1, JM_LARGE_MAX);
		}
		for (int i = 0; i < N; i++) {
			r[i] = jm_malloc(RP * JM_PAGE);
			assert_non_null(r[i]);
			memset(r[i], 1, RP * JM_PAGE);
		}
		if (whole)
			jm_free(whole);
		for (int i = 0; i < N; i += 2)
			jm_free(r[i]);
		uint64_t dirty0 = a->ndirty_pages, npurge0 = a->stats->npurge;
		assert_true(dirty0 >= (uint64_t)(N / 2) * RP);                 /* premise */
		assert_true(dirty0 > jm__fresh_floor + JM_CHUNK_PAGES + 2048);  /* premise */
		jm__fresh_looked = 12345;
		char *h = jm_malloc((size_t)8 << 20);
		assert_non_null(h);
		h[0] = 1;
		if (round == 0) {
			assert_int_equal(jm__fresh_looked, 0);
			assert_int_equal(a->stats->npurge, npurge0);
			assert_int_equal(a->ndirty_pages, dirty0);
		} else {
			assert_int_equal(jm__fresh_looked, 1);
			assert_int_equal(a->stats->npurge - npurge0, 1);
			assert_int_equal(dirty0 - a->ndirty_pages, JM_LARGE_MAX >> JM_LG_PAGE);
		}
		jm_free(h);
		for (int i = 1; i < N; i += 2)
			jm_free(r[i]);
		validate();
		decay_reset(a);
		jm__huge_release_kept();
	}
	free(r);
	jm__fresh_floor = floor;
}

/* The mappings that gather's moves make stay bounded. Each piece of a
 * kept region moved into a fresh one by mremap is a mapping (VMA) of its
 * own, which merges with nothing: 40,000 live regions replaced at random
 * reached vm.max_map_count (65,530), where munmap and every mmap fail.
 * Here 3,000 live regions of 2..8 MiB (a byte written at each end)
 * replaced at random 30,000 times, with gather's bound lowered to 512
 * mappings over the start's: /proc/self/maps ends within 2,048 of the
 * start (1,313 more here; 3,521 more without the bound, where moves made
 * most of them; the rest are holes that fresh mappings filled, whose
 * neighbours' kernel records differ). */
static void test_huge_gather_maps_bounded(void **state)
{
	(void)state;
#if defined(__SANITIZE_THREAD__)
	/* ThreadSanitizer maps shadow memory for each region mapped, a few
	 * mappings of its own each: 240 at the start, 8,612 at the end, the
	 * live regions' shadow, not the moves. */
	skip();
#endif
	enum { N = 3000, STEPS = 30000 };
	jm__huge_release_kept();
	long start = jm__os_count_maps();
	assert_true(start > 0);
	size_t gate = jm__huge_gather_maps;
	jm__huge_gather_maps = (size_t)start + 512;
	char **v = calloc(N, sizeof(char *));
	assert_non_null(v);
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < N + STEPS; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		int k = i < N ? i : (int)(x % N);
		jm_free(v[k]);
		size_t n = ((size_t)2 << 20) + (size_t)(x >> 20) % ((size_t)6 << 20);
		v[k] = jm_malloc(n);
		assert_non_null(v[k]);
		v[k][0] = 1;
		v[k][n - 1] = 2;
	}
	long end = jm__os_count_maps();
	print_message("maps: %ld at the start, %ld at the end\n", start, end);
	assert_true(end > 0);
	assert_true(end < start + 2048);
	for (int k = 0; k < N; k++)
		jm_free(v[k]);
	free(v);
	jm__huge_gather_maps = gate;
	validate();
	jm__huge_release_kept();
}

/* The process's mappings and page map read by a thread of a process whose
 * main thread ended (pthread_exit): /proc/self is the main thread's
 * entry, whose maps read empty and whose pagemap cannot be opened once
 * it has gone, so gather's bound on the mappings counted none (0 lines:
 * moves never stopped, up to vm.max_map_count, where munmap fails) and
 * the dirty recount and calloc's look at the pages had no page map. Read
 * through /proc/thread-self. In a child: its main thread ends. */
static int leader_pipe[2];

static void *leader_gone_reader(void *arg)
{
	(void)arg;
	/* The main thread gone: its /proc entry a zombie's. */
	leader_gone_wait();
	long r[2];
	r[0] = jm__os_count_maps();
	int fd = jm__os_pagemap_open();
	r[1] = fd;
	jm__os_pagemap_close(fd);
	ssize_t w = write(leader_pipe[1], r, sizeof(r));
	_exit(w == (ssize_t)sizeof(r) ? 0 : 1);
}

static void test_os_maps_leader_gone(void **state)
{
	(void)state;
#if defined(__SANITIZE_THREAD__)
	skip();   /* no thread started in the child of a process of several (TSan) */
#endif
	assert_int_equal(pipe(leader_pipe), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(leader_pipe[0]);
		pthread_t t;
		if (pthread_create(&t, NULL, leader_gone_reader, NULL) != 0)
			_exit(2);
		pthread_exit(NULL);
	}
	close(leader_pipe[1]);
	long r[2] = { -2, -2 };
	ssize_t n;
	while ((n = read(leader_pipe[0], r, sizeof(r))) < 0 && errno == EINTR)
		;
	close(leader_pipe[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(n, (ssize_t)sizeof(r));
	print_message("main thread gone: %ld mappings, page map fd %ld\n", r[0], r[1]);
	assert_true(r[0] > 0);
	assert_true(r[1] >= 0);
}

/* Past the cap, written pages: the largest dirty runs are purged first,
 * down to an eighth below the cap, in one pass. 256 runs of 12 pages
 * freed first (the oldest, each between two live ones), then 7 of 256
 * pages (each a chunk's free run with the rest of its chunk): the cap,
 * lowered to 4096 pages, is crossed by the 5th of those, and 512 pages
 * over the low mark go in 3 pieces of 256, the last two frees crossing
 * nothing. They went in pieces of 12 pages, the oldest, one madvise
 * each, at each of the 3 frees past the cap. */
static void test_dirty_cap_pieces(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	decay_reset(a);
	enum { SMALL = 256, SP = 12, BIG = 7, BP = 256, CAP = 4096 };
	char **s = malloc(2 * SMALL * sizeof(char *)), *b[BIG];
	for (int i = 0; i < 2 * SMALL; i++) {
		s[i] = jm_malloc(SP * JM_PAGE);
		memset(s[i], 1, SP * JM_PAGE);
	}
	for (int i = 0; i < BIG; i++) {
		b[i] = jm_malloc(BP * JM_PAGE);
		memset(b[i], 1, BP * JM_PAGE);
	}
	uint64_t cap_min = jm__dirty_cap_min;
	jm__dirty_cap_min = CAP;
	for (int i = 0; i < 2 * SMALL; i += 2)
		jm_free(s[i]);
	assert_int_equal(a->ndirty_pages, SMALL * SP);
	uint64_t ncap = a->stats->npurge_cap, npurge = a->stats->npurge;
	for (int i = 0; i < BIG; i++)
		jm_free(b[i]);
	assert_true(a->stats->active >> JM_LG_PAGE < CAP);   /* premise: the cap is CAP */
	assert_int_equal(a->stats->npurge_cap, ncap + 1);
	assert_int_equal(a->stats->npurge - npurge, 3);
	assert_int_equal(a->ndirty_pages, SMALL * SP + (BIG - 3) * BP);
	jm__dirty_cap_min = cap_min;
	jm__arena_purge_detached(a);
	validate();
	for (int i = 1; i < 2 * SMALL; i += 2)
		jm_free(s[i]);
	free(s);
	decay_reset(a);
	validate();
}

/* The recount asks the kernel (PAGEMAP_SCAN) under the arena's lock: a
 * library preloaded before this one that wraps ioctl and allocates in it
 * would take the lock again (a deadlock), as the commit that made the
 * page map's open and close system calls says of those. This test
 * build's ioctl is this one (the library is linked in statically): it
 * counts the calls made while an arena's lock is held, and makes the
 * system call. */
static unsigned ioctl_under_lock;
int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	for (unsigned i = 0; jm__arenas != NULL && i < jm__narenas; i++) {
		struct jm_arena *a = jm__arenas[i];
		if (a == NULL)
			continue;
		if (pthread_mutex_trylock(a->lock) == 0)
			pthread_mutex_unlock(a->lock);
		else
			ioctl_under_lock++;
	}
	return (int)syscall(SYS_ioctl, fd, req, arg);
}

static void test_dirty_cap_no_libc_call(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	decay_reset(a);
	enum { N = 8, P = 128 };
	char *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = jm_malloc(P * JM_PAGE);
		assert_non_null(p[i]);
		memset(p[i], 1, P * JM_PAGE);
	}
	uint64_t cap_min = jm__dirty_cap_min;
	jm__dirty_cap_min = (N / 2) * P;
	uint32_t pass = a->held_pass;
	uint64_t ncap = a->stats->npurge_cap;
	ioctl_under_lock = 0;
	for (int i = 0; i < N; i++)
		jm_free(p[i]);
	jm__dirty_cap_min = cap_min;
	unsigned calls = ioctl_under_lock;
	assert_true(a->held_pass != pass || a->stats->npurge_cap != ncap);   /* premise: crossed */
	decay_reset(a);
	validate();
	if (a->held_pass == pass)
		skip();   /* no /proc/self/pagemap: no recount */
	assert_int_equal(calls, 0);
}

/* A free that reaches the arena now: a region of 17 to 64 pages goes to
 * the thread's cache (its class lists) once the cache is up, and nothing
 * was dirty until a flush. */
static void free_to_arena(void *p)
{
	jm_free(p);
	jm__tcache_flush_all_current();
}

/* The bytes of [p, p + n) that are not v. */
static size_t bytes_not(const char *p, size_t n, char v)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += p[i] != v;
	return k;
}

/* The dirty count is the pages that may be resident, whatever order the
 * pieces of a free run were freed and purged in: a piece freed beside a
 * clean (purged) free run on its left counted that run's pages as dirty
 * too (a run kept one dirty prefix), and a purge of part of a run purges
 * its last dirty pages, past a clean piece. Checked against mincore. */
static void test_dirty_exact(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	enum { P = 64 };
	const size_t len = P * JM_PAGE;
	/* The thread's cache up (a small allocation boots it), whatever ran
	 * before: the frees go through its class lists as a program's do. */
	jm_free(jm_malloc(64));
	for (int round = 0; round < 2; round++) {
		decay_reset(a);
		assert_int_equal(a->ndirty_pages, 0);
		char *x = jm_malloc(len), *y = jm_malloc(len), *z = jm_malloc(len);
		assert_ptr_equal(y, x + len);   /* premise: one free run, carved in order */
		assert_ptr_equal(z, y + len);
		memset(x, 1, 3 * len);
		char *clean = round == 0 ? x : y;   /* freed and purged first */
		free_to_arena(clean);
		decay_reset(a);
		assert_int_equal(resident_in(clean, len), 0);
		/* Round 0: [x clean][y][z]; round 1: [x][y clean][z]. */
		free_to_arena(z);
		free_to_arena(round == 0 ? y : x);
		assert_int_equal(resident_in(x, 3 * len), 2 * P);
		assert_int_equal(a->ndirty_pages, 2 * P);
		assert_int_equal(a->stats->dirty, (2 * P << JM_LG_PAGE) + a->huge_dirty);
		validate();
		/* Half of them purged: z's, the last dirty ones. */
		uint64_t purged = a->stats->purged;
		pthread_mutex_lock(a->lock);
		jm__arena_purge_to(a, P);
		pthread_mutex_unlock(a->lock);
		jm__arena_purge_detached(a);
		assert_int_equal(a->ndirty_pages, P);
		assert_int_equal(a->stats->purged, purged + (P << JM_LG_PAGE));
		assert_int_equal(resident_in(z, len), 0);
		assert_int_equal(resident_in(x, 3 * len), P);
		validate();
		/* What the dirty pages' run serves comes back dirty, not zeroed,
		 * but for the words the cache's list wrote at the freed region's
		 * start (link, cookie, size: its link, the list's only one, is
		 * 0); the rest of the run reads zero. */
		char *again = jm_malloc(3 * len);
		assert_ptr_equal(again, x);
		assert_int_equal(a->ndirty_pages, 0);
		const size_t words = 3 * sizeof(uintptr_t);
		char *kept = again + (round == 0 ? len : 0);
		assert_int_equal(bytes_not(kept + words, len - words, 1), 0);
		assert_int_equal(bytes_not(again + (round == 0 ? 0 : len), len, 0), 0);
		assert_int_equal(bytes_not(again + 2 * len, len, 0), 0);
		jm_free(again);
		decay_reset(a);
	}
	validate();
}

/* The dirty map under random churn: large allocations (aligned or not,
 * zeroed or not), frees, in-place reallocs that grow into or shrink
 * beside free runs, partial purges of random depth (their pieces now and
 * then left detached while allocations go on) and whole purges, with
 * decay off so that only the test purges (fixed seed: the same steps each
 * run). After each step the validator (a free run's ndirty is its count
 * in the map, the dirty list's sum the arena's) and a look at every page
 * of a free run the map has clear in the chunks used: it must read zero,
 * or an allocation that takes it unzeroed (calloc) hands out old bytes.
 * Every page handed out gets a word written at its start; a zeroed
 * allocation is checked for zero at every page's start. */
static uint64_t churn_rng = 0x9e3779b97f4a7c15ULL;
static uint64_t churn_next(void)
{
	churn_rng ^= churn_rng << 13;
	churn_rng ^= churn_rng >> 7;
	churn_rng ^= churn_rng << 17;
	return churn_rng;
}

/* The churns' in-place realloc of the large region p of old pages (NULL:
 * nothing): shrunk one time in three, else grown by up to 64 pages, within
 * usable. Its new pages, or 0 if it stayed as it was. */
static size_t churn_ralloc(char *p, size_t old, size_t usable)
{
	if (p == NULL)
		return 0;
	size_t npages;
	if (churn_next() % 3 == 0)
		npages = 1 + churn_next() % old;
	else
		npages = old + 1 + churn_next() % 64;
	if (npages > usable)
		return 0;
	struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
	char *q = jm__large_ralloc_inplace(c, p,
	    c->pagemap[((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE], npages << JM_LG_PAGE);
	if (q == NULL)
		return 0;
	assert_ptr_equal(q, p);
	return npages;
}

static void pages_write(char *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		*(uint64_t *)(p + i * JM_PAGE) = 0xa5a5a5a5a5a5a5a5ULL ^ i;
}

static void clean_pages_zero(struct jm_chunk **chunks, size_t nchunks)
{
	for (size_t k = 0; k < nchunks; k++) {
		struct jm_chunk *c = chunks[k];
		if (jm__rtree_get((uintptr_t)c) != (uintptr_t)c)
			continue;   /* purged whole and kept, or reused */
		for (size_t p = c->hdr_pages; p < JM_CHUNK_PAGES;) {
			struct jm_run *r = jm__chunk_run(c, p);
			size_t n = r->npages;
			assert_true(n > 0);
			if (r->state == JM_RUN_FREE) {
				for (size_t i = p; i < p + n; i++) {
					if ((c->dirtymap[i >> 6] >> (i & 63)) & 1)
						continue;
					const uint64_t *w = (const uint64_t *)((char *)c + (i << JM_LG_PAGE));
					if (*w != 0)
						fail_msg("chunk %p page %zu: clean in the dirty map, reads %#llx",
						    (void *)c, i, (unsigned long long)*w);
				}
			}
			p += n;
		}
	}
}

static void test_dirty_map_churn(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	enum { LIVE = 48, STEPS = 1500, MAXCHUNKS = 64 };
	struct { char *p; size_t npages; } live[LIVE] = { { 0 } };
	struct jm_chunk *chunks[MAXCHUNKS];
	size_t nchunks = 0, nlive = 0, ncalloc = 0, ngrow = 0, npartial = 0;
	decay_reset(a);
	saved_decay_ms = jm__opt.decay_ms;
	jm__opt.decay_ms = -1;   /* only the test purges */
	const size_t usable = JM_CHUNK_PAGES - JM_CHUNK_HDR_PAGES;
	for (int step = 0; step < STEPS; step++) {
		uint64_t x = churn_next();
		unsigned op = (unsigned)(x % 100);
		size_t slot = (size_t)(churn_next() % LIVE);
		if (op < 45) {   /* allocate */
			if (live[slot].p != NULL)
				continue;
			unsigned kind = (unsigned)(churn_next() % 20);
			size_t npages = kind < 10 ? 1 + churn_next() % 16 :
			    kind < 17 ? 17 + churn_next() % 112 : 129 + churn_next() % 250;
			size_t align_pages = 1;
			if (churn_next() % 4 == 0)
				align_pages = (size_t)1 << (1 + churn_next() % 5);   /* 2..32 pages */
			if (npages + 2 * align_pages > usable)
				align_pages = 1;
			bool zero = churn_next() % 2;
			char *p = jm__large_alloc(a, npages << JM_LG_PAGE,
			    align_pages > 1 ? align_pages << JM_LG_PAGE : 0, zero);
			assert_non_null(p);
			assert_int_equal((uintptr_t)p % (align_pages << JM_LG_PAGE), 0);
			if (zero) {
				ncalloc++;
				for (size_t i = 0; i < npages; i++)
					if (*(uint64_t *)(p + i * JM_PAGE) != 0)
						fail_msg("step %d: zeroed region %p, page %zu of %zu reads %#llx",
						    step, (void *)p, i, npages,
						    (unsigned long long)*(uint64_t *)(p + i * JM_PAGE));
			}
			pages_write(p, 0, npages);
			live[slot].p = p;
			live[slot].npages = npages;
			nlive++;
			struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
			bool seen = false;
			for (size_t k = 0; k < nchunks && !seen; k++)
				seen = chunks[k] == c;
			if (!seen) {
				assert_true(nchunks < MAXCHUNKS);
				chunks[nchunks++] = c;
			}
		} else if (op < 75) {   /* free */
			if (live[slot].p == NULL)
				continue;
			struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)live[slot].p & ~(uintptr_t)JM_CHUNK_MASK);
			jm__large_free(c, live[slot].p,
			    c->pagemap[((uintptr_t)live[slot].p & JM_CHUNK_MASK) >> JM_LG_PAGE]);
			live[slot].p = NULL;
			nlive--;
		} else if (op < 88) {   /* realloc in place: grow or shrink */
			char *p = live[slot].p;
			size_t old = live[slot].npages, npages = churn_ralloc(p, old, usable);
			if (npages == 0)
				continue;
			if (npages > old) {
				ngrow++;
				pages_write(p, old, npages);
			}
			live[slot].npages = npages;
		} else if (op < 97) {   /* a partial purge, its pieces purged now or later */
			pthread_mutex_lock(a->lock);
			uint64_t nd = a->ndirty_pages;
			jm__arena_purge_to(a, nd ? churn_next() % nd : 0);
			pthread_mutex_unlock(a->lock);
			npartial++;
			if (churn_next() % 2)
				jm__arena_purge_detached(a);
		} else {   /* everything */
			pthread_mutex_lock(a->lock);
			jm__arena_maybe_purge(a, true);
			pthread_mutex_unlock(a->lock);
		}
		validate();
		clean_pages_zero(chunks, nchunks);
	}
	for (size_t i = 0; i < LIVE; i++)
		if (live[i].p != NULL) {
			struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)live[i].p & ~(uintptr_t)JM_CHUNK_MASK);
			jm__large_free(c, live[i].p,
			    c->pagemap[((uintptr_t)live[i].p & JM_CHUNK_MASK) >> JM_LG_PAGE]);
		}
	jm__opt.decay_ms = saved_decay_ms;
	decay_reset(a);
	validate();
	/* The steps did what they are for. */
	assert_true(ncalloc > 100 && ngrow > 10 && npartial > 100);
	(void)nlive;
}

/* The dirty cap's recount under churn: the cap lowered to CC_CAP pages
 * (jm__dirty_cap_min), the decay's epoch held off so that only the cap
 * and the test purge. Large regions are written at some of their pages
 * only (the first, the last, one in 4 of the rest: the others stay as
 * they were, untouched or purged, and the recount clears them), freed,
 * grown and shrunk in place, zeroed or not, with partial purges; and
 * while a purge's madvise runs with the lock released
 * (jm__test_arena_purging), regions kept aside for it are freed until
 * the cap is crossed again (a recount and a pass with runs detached),
 * and a small region taken and freed beside them. After each step, and
 * in the hook: the validator (each run's count is its map's), every page
 * of a free run whose bit is clear reads zero, a zeroed allocation reads
 * zero at every page, and the dirty count is within the cap. Fixed seed:
 * the same steps each run. */
enum { CC_CAP = 1024, CC_LIVE = 64, CC_SPARE = 4, CC_MAXCHUNKS = 64 };
static struct jm_chunk *cc_chunks[CC_MAXCHUNKS];
static size_t cc_nchunks, cc_ncalloc;
static char *cc_spare[CC_SPARE];
static bool cc_in_hook;
static unsigned cc_hook_calls, cc_hook_crossings;
static uint64_t cc_saved_cap = 0;

static struct jm_chunk *chunk_of(const void *p)
{
	return (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
}

static void large_free_at(char *p)
{
	struct jm_chunk *c = chunk_of(p);
	jm__large_free(c, p, c->pagemap[((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE]);
}

static void cc_write_some(char *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (i == from || i + 1 == to || churn_next() % 4 == 0)
			*(uint64_t *)(p + i * JM_PAGE) = 0xa5a5a5a5a5a5a5a5ULL ^ i;
}

static char *cc_alloc(struct jm_arena *a, size_t npages, bool zero)
{
	char *p = jm__large_alloc(a, npages << JM_LG_PAGE, 0, zero);
	assert_non_null(p);
	if (zero) {
		cc_ncalloc++;
		for (size_t i = 0; i < npages; i++)
			if (*(uint64_t *)(p + i * JM_PAGE) != 0)
				fail_msg("zeroed region %p, page %zu of %zu reads %#llx", (void *)p, i, npages,
				    (unsigned long long)*(uint64_t *)(p + i * JM_PAGE));
	}
	struct jm_chunk *c = chunk_of(p);
	bool seen = false;
	for (size_t k = 0; k < cc_nchunks && !seen; k++)
		seen = cc_chunks[k] == c;
	if (!seen) {
		assert_true(cc_nchunks < CC_MAXCHUNKS);
		cc_chunks[cc_nchunks++] = c;
	}
	cc_write_some(p, 0, npages);
	return p;
}

static void cc_check(struct jm_arena *a)
{
	assert_int_equal(jm__heap_validate(), 0);
	clean_pages_zero(cc_chunks, cc_nchunks);
	uint64_t active = a->stats->active >> JM_LG_PAGE;
	assert_true(a->ndirty_pages <= (active > CC_CAP ? active : CC_CAP));
}

static void cc_while_purging(struct jm_arena *a)
{
	if (cc_in_hook)
		return;
	cc_in_hook = true;
	cc_hook_calls++;
	uint32_t pass = a->held_pass;
	uint64_t ncap = a->stats->npurge_cap;
	for (int i = 0; i < CC_SPARE && pass == a->held_pass && ncap == a->stats->npurge_cap; i++)
		if (cc_spare[i] != NULL) {
			large_free_at(cc_spare[i]);
			cc_spare[i] = NULL;
		}
	cc_hook_crossings += pass != a->held_pass || ncap != a->stats->npurge_cap;
	large_free_at(cc_alloc(a, 1 + churn_next() % 8, churn_next() % 2));
	cc_check(a);
	cc_in_hook = false;
}

static int cap_churn_teardown(void **state)
{
	(void)state;
	jm__test_arena_purging = NULL;   /* also after a failure */
	cc_in_hook = false;
	if (cc_saved_cap)
		jm__dirty_cap_min = cc_saved_cap;
	return 0;
}

static void test_dirty_cap_churn(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	if (jm__opt.decay_ms <= 0)
		skip();
	enum { STEPS = 1200 };
	struct { char *p; size_t npages; } live[CC_LIVE] = { { 0 } };
	const size_t usable = JM_CHUNK_PAGES - JM_CHUNK_HDR_PAGES;
	unsigned crossings = 0, nfree = 0, npartial = 0;
	decay_reset(a);
	churn_rng = 0x2545f4914f6cdd1dULL;
	cc_nchunks = cc_ncalloc = 0;
	cc_hook_calls = cc_hook_crossings = 0;
	cc_saved_cap = jm__dirty_cap_min;
	jm__dirty_cap_min = CC_CAP;
	a->decay.epoch_ns = UINT64_MAX / 2;   /* never due: no decay purges */
	jm__test_arena_purging = cc_while_purging;
	for (int step = 0; step < STEPS; step++) {
		uint32_t pass = a->held_pass;
		uint64_t ncap = a->stats->npurge_cap;
		for (int i = 0; i < CC_SPARE; i++)
			if (cc_spare[i] == NULL)
				cc_spare[i] = cc_alloc(a, 100 + churn_next() % 60, false);
		/* Phases of 150 steps that grow the live set and shrink it:
		 * the shrinking ones cross the cap. */
		bool grow = (step / 150) % 2 == 0;
		unsigned op = (unsigned)(churn_next() % 100);
		size_t slot = (size_t)(churn_next() % CC_LIVE);
		bool want = op < (grow ? 70u : 15u);   /* a free slot, else a used one */
		for (size_t k = 0; k < CC_LIVE && (live[slot].p == NULL) != want; k++)
			slot = (slot + 1) % CC_LIVE;
		if (op < (grow ? 70u : 15u)) {   /* allocate */
			if (live[slot].p != NULL)
				continue;
			unsigned kind = (unsigned)(churn_next() % 20);
			size_t npages = kind < 10 ? 1 + churn_next() % 16 :
			    kind < 17 ? 17 + churn_next() % 112 : 129 + churn_next() % 250;
			live[slot].p = cc_alloc(a, npages, churn_next() % 2);
			live[slot].npages = npages;
		} else if (op < 85) {   /* free */
			if (live[slot].p == NULL)
				continue;
			large_free_at(live[slot].p);
			live[slot].p = NULL;
			nfree++;
		} else if (op < 99) {   /* realloc in place: grow or shrink */
			char *p = live[slot].p;
			size_t old = live[slot].npages, npages = churn_ralloc(p, old, usable);
			if (npages == 0)
				continue;
			if (npages > old)
				cc_write_some(p, old, npages);
			live[slot].npages = npages;
		} else {   /* a partial purge, its pieces purged now */
			pthread_mutex_lock(a->lock);
			uint64_t nd = a->ndirty_pages;
			jm__arena_purge_to(a, nd ? churn_next() % nd : 0);
			pthread_mutex_unlock(a->lock);
			jm__arena_purge_detached(a);
			npartial++;
		}
		crossings += pass != a->held_pass || ncap != a->stats->npurge_cap;
		cc_check(a);
	}
	jm__test_arena_purging = NULL;
	for (size_t i = 0; i < CC_LIVE; i++)
		if (live[i].p != NULL)
			large_free_at(live[i].p);
	for (int i = 0; i < CC_SPARE; i++)
		if (cc_spare[i] != NULL) {
			large_free_at(cc_spare[i]);
			cc_spare[i] = NULL;
		}
	jm__dirty_cap_min = cc_saved_cap;
	decay_reset(a);
	validate();
	/* The steps did what they are for. */
	print_message("cap churn: %u crossings, %u in the hook (of %u calls), %zu zeroed, %u frees, %u partial purges\n",
	    crossings, cc_hook_crossings, cc_hook_calls, cc_ncalloc, nfree, npartial);
	assert_true(crossings >= 10 && cc_hook_crossings >= 5 && cc_ncalloc > 100);
}

/* Locked pages (mlock, mlockall) are not purged: madvise refuses them
 * (EINVAL), and a purged run or chunk is taken as reading zero, so a
 * calloc that took them handed out their old bytes (mlockall, a 600 KiB
 * region freed with decay_ms:0 and calloc'ed again: 610304 bytes not
 * zero). Such pages are zeroed instead. */
static void test_purge_locked(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	enum { P = 16 };
	const size_t len = P * JM_PAGE;
	decay_reset(a);
	char *p = jm__large_alloc(a, len, 0, false);
	assert_non_null(p);
	memset(p, 0xab, len);
	if (mlock(p, len) != 0) {
		jm__large_free((struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK), p,
		    ((struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK))
		        ->pagemap[((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE]);
		skip();   /* no RLIMIT_MEMLOCK room */
	}
	struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
	jm__large_free(c, p, c->pagemap[((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE]);
	decay_reset(a);   /* purges every dirty page, these among them */
	assert_int_equal(a->ndirty_pages, 0);
	/* Free and clean in the dirty map, or in a retained chunk: zero. */
	size_t bad = 0;
	for (size_t i = 0; i < len; i++)
		bad += ((volatile char *)p)[i] != 0;
	munlock(p, len);
	assert_int_equal(bad, 0);
	validate();
}

/* A call of jm__arenas_purge_aged in a thread of its own; whether it
 * returned within 10 s while the caller holds an arena's lock (it should
 * not wait for it: a bound on a hang, not a timing). */
struct aged_call {
	uint64_t age;
	bool ret;
};

static void *aged_thread(void *arg)
{
	struct aged_call *c = arg;
	c->ret = jm__arenas_purge_aged(c->age);
	return NULL;
}

static bool aged_returns(struct aged_call *c, jm_lock_t *held)
{
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, aged_thread, c), 0);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	if (pthread_timedjoin_np(t, NULL, &until) == 0)
		return true;
	pthread_mutex_unlock(held);
	pthread_join(t, NULL);
	pthread_mutex_lock(held);
	return false;
}

/* malloc_trim below its floor (jm__arenas_purge_aged) does not take the
 * lock of an arena that has no dirty run old enough (its oldest stamp is
 * read without the lock), nor wait for one another thread holds: that
 * arena's aged runs are purged by a later call. On the old code every
 * call after the 2048th locked every arena: both calls below waited for
 * the lock this thread held. */
static void test_trim_aged_unlocked(void **state)
{
	(void)state;
	struct jm_arena *a = jm__thread_arena();
	enum { P = 16 };
	uint64_t gen0 = jm__trim_gen;
	decay_reset(a);
	jm__trim_gen = (uint64_t)1 << 20;
	char *p = jm__large_alloc(a, P * JM_PAGE, 0, false);
	char *hold = jm__large_alloc(a, P * JM_PAGE, 0, false);
	assert_non_null(p);
	assert_non_null(hold);
	memset(p, 1, P * JM_PAGE);
	memset(hold, 1, P * JM_PAGE);
	struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
	jm__large_free(c, p, c->pagemap[((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE]);
	jm__arena_cache_flush(a);   /* a dirty run, not a cached region */
	uint64_t nd = a->ndirty_pages;
	assert_true(nd >= P);
	assert_int_equal(a->dirty_oldest, ((uint64_t)1 << 20) + 1);

	/* Young: the arena is not locked. */
	jm__trim_gen += 10;
	struct aged_call call = { .age = 2048 };
	pthread_mutex_lock(a->lock);
	bool returned = aged_returns(&call, a->lock);
	pthread_mutex_unlock(a->lock);
	assert_true(returned);
	assert_int_equal(a->ndirty_pages, nd);

	/* Aged, the lock held: skipped, purged by the next call. */
	jm__trim_gen += 4096;
	pthread_mutex_lock(a->lock);
	returned = aged_returns(&call, a->lock);
	uint64_t nd_held = a->ndirty_pages;
	pthread_mutex_unlock(a->lock);
	assert_true(returned);
	assert_int_equal(nd_held, nd);
	assert_true(jm__arenas_purge_aged(2048));
	assert_int_equal(a->ndirty_pages, 0);
	assert_int_equal(a->dirty_oldest, 0);

	jm__trim_gen = gen0;
	c = (struct jm_chunk *)((uintptr_t)hold & ~(uintptr_t)JM_CHUNK_MASK);
	jm__large_free(c, hold, c->pagemap[((uintptr_t)hold & JM_CHUNK_MASK) >> JM_LG_PAGE]);
	decay_reset(a);
	validate();
}

/* malloc_trim reads the arenas' dirty and purged bytes without their
 * locks (jm__arenas_dirty_purged) while other threads free and purge:
 * their stores and its loads are whole (relaxed atomics). Read plainly
 * beside the atomic store of dirty (stats_dirty) and the plain additions
 * to purged, a data race: under SANITIZE=thread this test fails on the
 * old code (compat.c's dirty_purged). Plain, it checks that the sums
 * read are those of the rows once the reader is done. */
static atomic_bool dp_stop;

static void *dp_reader(void *arg)
{
	size_t *reads = arg;
	size_t dirty, purged;
	/* At least once: on a loaded machine the thread may first run
	 * after the writer's 200 rounds are done (reads 0, a failure in
	 * make check T=unit's ASan build at 3 tests at a time). */
	do {
		jm__arenas_dirty_purged(&dirty, &purged);
		(*reads)++;
	} while (!atomic_load(&dp_stop));
	return NULL;
}

static void test_dirty_purged_unlocked(void **state)
{
	(void)state;
	size_t reads = 0;
	pthread_t t;
	atomic_store(&dp_stop, false);
	assert_int_equal(pthread_create(&t, NULL, dp_reader, &reads), 0);
	size_t purged0, dirty;
	jm__arenas_dirty_purged(&dirty, &purged0);
	for (int i = 0; i < 200; i++) {
		char *p = jm_malloc(64 << 10);
		assert_non_null(p);
		memset(p, 1, 64 << 10);
		jm_free(p);
		jm__tcache_flush_all_current();
		jm__arenas_purge(0, true);
	}
	atomic_store(&dp_stop, true);
	pthread_join(t, NULL);
	size_t purged;
	jm__arenas_dirty_purged(&dirty, &purged);
	assert_true(reads > 0);
	assert_true(purged > purged0);
	validate();
}

/* Writes text to root + path, making the directories on the way. */
static void put_file(const char *root, const char *path, const char *text)
{
	char name[512];
	snprintf(name, sizeof(name), "%s%s", root, path);
	for (char *q = name + strlen(root) + 1; (q = strchr(q, '/')) != NULL; q++) {
		*q = '\0';
		(void)mkdir(name, 0755);
		*q = '/';
	}
	FILE *f = fopen(name, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The cgroup's memory limit (os.c, jm__os_cgroup_limit_in) from a tree of
 * files laid out as /proc and /sys/fs/cgroup: cgroup v2 (memory.max and
 * memory.high, "max" where none), v1 (the memory controller among others,
 * memory.limit_in_bytes, v1's "none" a number above the machine's
 * memory), the least of the cgroup's and its ancestors', none where
 * nothing can be read or the files hold no number. */
static void test_cgroup_limit(void **state)
{
	(void)state;
	char root[] = "/tmp/jm-cgroup-XXXXXX";
	assert_non_null(mkdtemp(root));
	/* v2: the limit is the parent's; the cgroup's own is "max". */
	put_file(root, "/proc/self/cgroup", "0::/pods/a/app\n");
	put_file(root, "/sys/fs/cgroup/pods/a/app/memory.max", "max\n");
	put_file(root, "/sys/fs/cgroup/pods/a/memory.max", "268435456\n");
	put_file(root, "/sys/fs/cgroup/pods/memory.max", "536870912\n");
	assert_int_equal(jm__os_cgroup_limit_in(root), 268435456);
	/* memory.high below memory.max: the high one. */
	put_file(root, "/sys/fs/cgroup/pods/a/app/memory.high", "200000000\n");
	assert_int_equal(jm__os_cgroup_limit_in(root), 200000000);
	put_file(root, "/sys/fs/cgroup/pods/a/app/memory.high", "max\n");
	/* No limit anywhere: none. */
	put_file(root, "/sys/fs/cgroup/pods/a/memory.max", "max\n");
	put_file(root, "/sys/fs/cgroup/pods/memory.max", "max\n");
	assert_int_equal(jm__os_cgroup_limit_in(root), 0);
	/* v1 (hybrid: a v2 line without the controller beside it); the
	 * cgroup's own limit the least; then v1's "unlimited". */
	put_file(root, "/proc/self/cgroup",
	    "9:pids:/\n4:cpu,memory:/jobs/b\n0::/\n");
	put_file(root, "/sys/fs/cgroup/memory/jobs/b/memory.limit_in_bytes", "134217728\n");
	put_file(root, "/sys/fs/cgroup/memory/jobs/memory.limit_in_bytes", "9223372036854771712\n");
	assert_int_equal(jm__os_cgroup_limit_in(root), 134217728);
	put_file(root, "/sys/fs/cgroup/memory/jobs/b/memory.limit_in_bytes", "9223372036854771712\n");
	assert_int_equal(jm__os_cgroup_limit_in(root), 0);
	/* The limit at the root of the container's view (no cgroup
	 * namespace: the path names a cgroup its mount does not show). */
	put_file(root, "/proc/self/cgroup", "4:memory:/host/slice/c1\n");
	put_file(root, "/sys/fs/cgroup/memory/memory.limit_in_bytes", "100000000\n");
	assert_int_equal(jm__os_cgroup_limit_in(root), 100000000);
	/* Garbage: no number, no limit. */
	put_file(root, "/sys/fs/cgroup/memory/memory.limit_in_bytes", "lots\n");
	assert_int_equal(jm__os_cgroup_limit_in(root), 0);
	put_file(root, "/proc/self/cgroup", "garbage without colons\n::\n");
	assert_int_equal(jm__os_cgroup_limit_in(root), 0);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	/* Sampled allocations are served as pages of their own: off here,
	 * where exact sizes are checked; no background purger: the tests
	 * drive purging themselves. */
	setenv("JMALLOC_CONF", "prof_sample:0,background_thread:0", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_huge_pages_to_chunks),    /* first: nothing kept */
		cmocka_unit_test(test_huge_move_key_first),     /* nothing kept */
		cmocka_unit_test(test_huge_gathered_realloc),   /* nothing kept */
		cmocka_unit_test_teardown(test_huge_kept_by_blocks, decay_teardown), /* nothing kept */
		cmocka_unit_test(test_huge_regrow_kept),   /* nothing kept */
		cmocka_unit_test(test_huge_take_own_arena),   /* nothing kept */
		cmocka_unit_test(test_huge_new_gathers),   /* nothing kept */
		cmocka_unit_test(test_huge_fresh_start_gathers_nothing),   /* nothing kept */
		cmocka_unit_test(test_huge_calloc_gather_cut),   /* nothing kept */
		cmocka_unit_test(test_huge_gather),   /* then: nothing kept */
		cmocka_unit_test(test_huge_realloc_gathers),
		cmocka_unit_test(test_huge_whole_blocks),
		cmocka_unit_test(test_purge),
		cmocka_unit_test(test_orphan_arena_purged),
		cmocka_unit_test(test_orphan_arena_purged_fork),
		cmocka_unit_test(test_decay_schedule),
		cmocka_unit_test(test_chunk_retention),
		cmocka_unit_test(test_huge_retention),
		cmocka_unit_test(test_huge_split_merge),
		cmocka_unit_test(test_huge_take_blocks),
		cmocka_unit_test_setup_teardown(test_huge_sparse_slack, huge_kept_setup, huge_kept_teardown),
		cmocka_unit_test_setup_teardown(test_huge_untouched_tail_whole, huge_kept_setup, huge_kept_teardown),
		cmocka_unit_test_setup_teardown(test_huge_shrunk_touched, huge_kept_setup, huge_kept_teardown),
		cmocka_unit_test_setup_teardown(test_huge_shrink_page_keeps_room, huge_kept_setup, huge_kept_teardown),
		cmocka_unit_test_setup_teardown(test_huge_sampled_cut, huge_kept_setup, huge_kept_teardown),
		cmocka_unit_test_setup_teardown(test_huge_room_for_recent, huge_kept_setup, huge_kept_teardown),
		cmocka_unit_test(test_huge_room_not_had),
		cmocka_unit_test_setup_teardown(test_huge_sliver_slack_purged, huge_kept_setup, huge_kept_teardown),
		cmocka_unit_test_setup_teardown(test_huge_gather_touched, huge_kept_setup, huge_kept_teardown),
		cmocka_unit_test(test_huge_calloc_untouched),
		cmocka_unit_test(test_dirty_cap),
		cmocka_unit_test(test_dirty_cap_pieces),
		cmocka_unit_test(test_dirty_cap_no_libc_call),
		cmocka_unit_test(test_cgroup_limit),
		cmocka_unit_test(test_huge_purge_fork),
		cmocka_unit_test(test_huge_keep_fork),
		cmocka_unit_test(test_huge_grow_fork),
		cmocka_unit_test(test_huge_shrink_fork),
		cmocka_unit_test(test_purge_unlocked),
		cmocka_unit_test(test_dirty_exact),
		cmocka_unit_test_teardown(test_dirty_map_churn, decay_teardown),
		cmocka_unit_test(test_purge_locked),
		cmocka_unit_test(test_trim_aged_unlocked),
		cmocka_unit_test(test_dirty_purged_unlocked),
		cmocka_unit_test_teardown(test_dirty_cap_churn, cap_churn_teardown),
		cmocka_unit_test(test_huge_fresh_purges_free_chunks),
		cmocka_unit_test(test_huge_fresh_looks_while_whole),
		cmocka_unit_test(test_huge_gather_maps_bounded),
		cmocka_unit_test(test_os_maps_leader_gone),
	};
	/* The main thread runs without a thread cache, as it did when only
	 * a small allocation booted one: these tests drive the arena's runs
	 * and its purging, and the first large allocation now boots a cache
	 * whose lists would take their frees of up to 64 pages. */
	jm__ensure_init();
	if (jm__tls_state == JM_TLS_NEW)
		jm__tls_state = JM_TLS_NO_CACHE;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
