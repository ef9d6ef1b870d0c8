/*
 * Unit tests of frees from another thread than the allocating one (test
 * build: jm_ names only, internals reachable). Each test ends with the
 * heap validator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "jmalloc.h"

static struct jm_arena *arena_of(const void *p)
{
	return ((struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK))->arena;
}

struct scratch {
	void *given;
	void *got;
	struct jm_arena *arena;
};
static void *free_given_then_malloc(void *arg)
{
	struct scratch *s = arg;
	jm_free(s->given);
	s->got = jm_malloc(1);
	s->arena = jm__thread_arena();
	jm_free(s->got);
	return NULL;
}

/* cache-scratch: a thread's first call frees a region the main thread
 * allocated next to others, then the thread allocates the same size. Its
 * cache, booted by that free, used to hand the region back to it (LIFO),
 * so that it wrote next to the main thread's regions; now the free goes
 * to the region's bin and the malloc is served from the thread's arena. */
static void test_first_free_not_cached(void **state)
{
	(void)state;
	struct scratch s = { .given = jm_malloc(1) };
	void *neighbour = jm_malloc(1);
	assert_non_null(s.given);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, free_given_then_malloc, &s), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_ptr_not_equal(s.got, s.given);
	assert_ptr_not_equal(s.arena, jm__thread_arena());  /* an arena of its own */
	assert_ptr_equal(arena_of(s.got), s.arena);
	jm_free(neighbour);
	assert_int_equal(jm__heap_validate(), 0);
}

struct only_frees {
	void **p;
	unsigned n;
	bool cached_before, cached_after;
};
static void *free_all(void *arg)
{
	struct only_frees *f = arg;
	f->cached_before = jm__tcache_current_row() != NULL;
	for (unsigned i = 0; i < f->n; i++)
		jm_free(f->p[i]);
	f->cached_after = jm__tcache_current_row() != NULL;
	return NULL;
}

/* A thread that only frees (a consumer) still gets a cache, after its
 * first frees went to the bins; the counts stay right throughout. */
static void test_only_frees_gets_cache(void **state)
{
	(void)state;
	enum { N = 300 };
	struct only_frees f = { .p = malloc(N * sizeof(void *)), .n = N };
	for (unsigned i = 0; i < N; i++)
		assert_non_null(f.p[i] = jm_malloc(48));
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, free_all, &f), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(f.cached_before);
	assert_true(f.cached_after);
	free(f.p);
	assert_int_equal(jm__heap_validate(), 0);
}

/* Eight times: empties the calling thread's list of class `bin` (its
 * last malloc fills it), then frees regions of pool from *next on until
 * the list is full and one more. Returns the list's capacity then; the
 * regions it allocated are freed. */
static uint32_t swing(unsigned bin, void **pool, unsigned n, unsigned *next)
{
	size_t size = jm__bin_info[bin].size;
	struct jmstat_tcache_bin *tb = &jm__tls_tbins[bin];
	void **held = malloc(n * sizeof(void *));
	unsigned nheld = 0;
	for (int cycle = 0; cycle < 8; cycle++) {
		unsigned k = jm__tb_ncached(tb) + 1;   /* the last one fills */
		for (unsigned i = 0; i < k && nheld < n; i++)
			held[nheld++] = jm_malloc(size);
		while (*next < n) {
			uint32_t max = tb->ncached_max, cached = jm__tb_ncached(tb);
			jm_free(pool[(*next)++]);
			if (cached == max)
				break;          /* that free found the list full */
		}
	}
	uint32_t capacity = tb->ncached_max;
	while (nheld)
		jm_free(held[--nheld]);
	free(held);
	return capacity;
}

/* A thread cache's class that swings from empty to full doubles its
 * capacity, but one fed by other threads' regions (a consumer: xmalloc,
 * whose caches held up to 4096 regions a class of the producer's) only
 * to 64 KiB or 1024 regions: to the last doubling of its start within
 * that, 1024 regions for 128 B (64 at the start), 576 for 896 B (9; as
 * docs/allocator.md says). The thread swings its list of one class: with
 * its own regions the capacity grows past that, with the main thread's
 * it stops there. */
struct fed {
	unsigned bin, n;       /* the class swung, the regions of the pool */
	void **given;          /* the main thread's regions, or NULL: own */
	struct jm_arena *arena;
	uint32_t start, end;   /* capacity before and after */
	unsigned used;         /* of given: freed by the thread */
};
static void *fed_thread(void *arg)
{
	struct fed *f = arg;
	size_t size = jm__bin_info[f->bin].size;
	void **pool = f->given;
	unsigned npool = 0;
	jm_free(jm_malloc(size));   /* boots the cache */
	if (pool == NULL) {
		pool = malloc(f->n * sizeof(void *));
		for (; npool < f->n; npool++)
			pool[npool] = jm_malloc(size);
	}
	f->arena = jm__thread_arena();
	f->start = jm__tls_tbins[f->bin].ncached_max;
	unsigned next = 0;
	f->end = swing(f->bin, pool, f->n, &next);
	f->used = next;
	if (f->given == NULL) {
		while (next < f->n)
			jm_free(pool[next++]);
		free(pool);
	}
	return NULL;
}

static void check_consumer_cache_bounded(size_t size, unsigned n, uint32_t start, uint32_t fed_max)
{
	unsigned bin = jm__size2bin(size);
	assert_int_equal(jm__bin_info[bin].size, size);
	void **given = malloc(n * sizeof(void *));
	for (unsigned i = 0; i < n; i++)
		assert_non_null(given[i] = jm_malloc(size));
	struct fed own = { .bin = bin, .n = n }, fed = { .bin = bin, .n = n, .given = given };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, fed_thread, &own), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(pthread_create(&t, NULL, fed_thread, &fed), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_ptr_not_equal(fed.arena, arena_of(given[0]));
	assert_int_equal(own.start, start);
	assert_true(own.end > fed_max);     /* the swing grows a cache */
	assert_int_equal(fed.start, own.start);
	assert_int_equal(fed.end, fed_max);  /* the bound's last doubling when fed */
	for (unsigned i = fed.used; i < n; i++)
		jm_free(given[i]);
	free(given);
	assert_int_equal(jm__heap_validate(), 0);
}

static void test_consumer_cache_bounded(void **state)
{
	(void)state;
	check_consumer_cache_bounded(128, 20000, 64, 1024);
	check_consumer_cache_bounded(896, 8000, 9, 576);
}

/* A thread whose cache fills mostly with the regions of one other arena,
 * of a lower index (a consumer of another thread's allocations: larson,
 * sh8bench, xmalloc), moves to that arena, so that the two threads' free
 * pages serve both (sh8bench's peak RSS 13.2 -> 10.2 MiB). The arenas'
 * thread counts follow it, also at its exit; its cache's classes grow
 * there only as a consumer's do. */
struct mover {
	void **given;
	unsigned n;
	struct jm_arena *before, *after;
	uint64_t nthreads_to;   /* the arena moved to, while the thread lives */
	uint32_t shared_max;    /* its cache's capacity of 64 B after swings */
};
static void *move_thread(void *arg)
{
	struct mover *m = arg;
	void *mine = jm_malloc(64);   /* boots the cache in its own arena */
	m->before = jm__thread_arena();
	for (unsigned i = 0; i < m->n; i++)
		jm_free(m->given[i]);
	jm_free(mine);
	m->after = jm__thread_arena();
	m->nthreads_to = m->after->stats->nthreads;
	/* Its cache, in an arena shared with the thread it consumes from,
	 * swings on regions of that arena: it grows only to 1024 regions. */
	enum { N = 8192 };
	void **pool = malloc(N * sizeof(void *));
	unsigned next = 0;
	for (unsigned i = 0; i < N; i++)
		pool[i] = jm_malloc(64);
	m->shared_max = swing(jm__size2bin(64), pool, N, &next);
	while (next < N)
		jm_free(pool[next++]);
	free(pool);
	return NULL;
}

static void test_consumer_moves_to_producer(void **state)
{
	(void)state;
	struct jm_arena *mine = jm__thread_arena();
	struct mover m = { .n = 4096 };
	m.given = malloc(m.n * sizeof(void *));
	for (unsigned i = 0; i < m.n; i++)
		assert_non_null(m.given[i] = jm_malloc(64));
	assert_ptr_equal(arena_of(m.given[0]), mine);
	uint64_t threads_before = mine->stats->nthreads;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, move_thread, &m), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(m.before->index > mine->index);
	assert_ptr_equal(m.after, mine);
	assert_int_equal(m.nthreads_to, threads_before + 1);
	assert_int_equal(mine->stats->nthreads, threads_before);
	assert_int_equal(m.before->stats->nthreads, 0);
	assert_int_equal(m.shared_max, 1024);
	free(m.given);
	assert_int_equal(jm__heap_validate(), 0);
}

/* Threads in a ring, each freeing what the one before it allocated
 * (small regions, and large ones the thread caches keep), so that they
 * move to their producers' arenas while others exit mid-stream and the
 * first forks: the heap of every forked child, taken while threads move
 * and flush, and of the parent at the end, is whole, and the arenas'
 * thread counts come back to where they were. */
#define RING 4
#define RING_Q 512
struct ring_q {
	pthread_mutex_t m;
	void *v[RING_Q];
	unsigned h, t;
};
static struct ring_q ring[RING];
static int ring_child_bad;

static void *ring_thread(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg, seed = id + 1;
	struct ring_q *out = &ring[id], *in = &ring[(id + RING - 1) % RING];
	unsigned n = id == RING - 1 ? 10000 : 40000;  /* the last exits early */
	for (unsigned i = 0; i < n; i++) {
		size_t sz = (seed = seed * 1103515245u + 12345u) >> 16;
		sz = sz % 8 == 0 ? 4096 * (4 + sz % 5) : 16 + sz % 1000;
		void *p = jm_malloc(sz);
		pthread_mutex_lock(&out->m);
		if (out->h - out->t < RING_Q) {
			out->v[out->h++ % RING_Q] = p;
			p = NULL;
		}
		pthread_mutex_unlock(&out->m);
		jm_free(p);
		for (int k = 0; k < 2; k++) {
			void *g = NULL;
			pthread_mutex_lock(&in->m);
			if (in->h != in->t)
				g = in->v[in->t++ % RING_Q];
			pthread_mutex_unlock(&in->m);
			jm_free(g);
		}
		if (id == 0 && i % 8000 == 7999) {
			pid_t pid = fork();
			if (pid == 0) {
				for (int j = 0; j < 200; j++)
					jm_free(jm_malloc(1 + (size_t)j * 97));
				_exit(jm__heap_validate() == 0 ? 0 : 1);
			}
			int st = 0;
			if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
				__atomic_add_fetch(&ring_child_bad, 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

static uint64_t threads_counted(void)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < jm__narenas; i++)
		if (jm__arenas[i])
			n += jm__arenas[i]->stats->nthreads;
	return n;
}

static void test_ring_moves_fork(void **state)
{
	(void)state;
	uint64_t before = threads_counted();
	for (unsigned i = 0; i < RING; i++)
		pthread_mutex_init(&ring[i].m, NULL);
	for (int round = 0; round < 2; round++) {
		pthread_t t[RING];
		for (unsigned i = 0; i < RING; i++)
			assert_int_equal(pthread_create(&t[i], NULL, ring_thread, (void *)(uintptr_t)i), 0);
		for (unsigned i = 0; i < RING; i++)
			assert_int_equal(pthread_join(t[i], NULL), 0);
		for (unsigned i = 0; i < RING; i++)
			while (ring[i].h != ring[i].t)
				jm_free(ring[i].v[ring[i].t++ % RING_Q]);
		assert_int_equal(ring_child_bad, 0);
		assert_int_equal(threads_counted(), before);
		assert_int_equal(jm__heap_validate(), 0);
	}
}

/* A thread without a cache (tcache:0, junk:1) is counted out of its
 * arena at its exit too: the exit hook was only set for a thread whose
 * first call found it new, and tcache:0 marked it cacheless before that,
 * so that every such thread stayed counted (31 of 31 threads in a ring
 * stress), in the arena rows readers show and in the live counts an
 * arena is chosen by (a new thread went to the arena of fewest threads
 * counted, not to the one the exited thread left). */
static void *cacheless_thread(void *arg)
{
	(void)arg;
	jm_free(jm_malloc(64));
	jm_free(jm_malloc(20000));
	return NULL;
}

static void test_cacheless_thread_exit_counted(void **state)
{
	(void)state;
	uint64_t before = threads_counted();
	bool tcache = jm__opt.tcache;
	jm__opt.tcache = false;
	for (int i = 0; i < 3; i++) {
		pthread_t t;
		assert_int_equal(pthread_create(&t, NULL, cacheless_thread, NULL), 0);
		assert_int_equal(pthread_join(t, NULL), 0);
	}
	jm__opt.tcache = tcache;
	assert_int_equal(threads_counted(), before);
	assert_int_equal(jm__heap_validate(), 0);
}

/* A thread's lists are flushed when it exits whatever their rows' counts
 * say: the count is the one cache word of the stats segment the allocator
 * reads back, and any process of the owner's uid may write it
 * (docs/security.md). One that read 0 left the list unflushed at the
 * thread's exit, and its regions allocated for ever (the row's next thread
 * starts an empty list). */
struct zeroed {
	struct jm_arena *arena;
	unsigned bin;
	uint64_t curregs_before;
};
static void *zeroed_count_thread(void *arg)
{
	struct zeroed *z = arg;
	jm_free(jm_malloc(4096));      /* a cache and an arena, class 48 untouched */
	z->arena = jm__thread_arena();
	z->bin = jm__size2bin(48);
	z->curregs_before = z->arena->bins[z->bin].stats->curregs;
	enum { N = 20 };
	void *p[N];
	for (int i = 0; i < N; i++)
		p[i] = jm_malloc(48);
	for (int i = 0; i < N; i++)
		jm_free(p[i]);
	struct jmstat_tcache_bin *tb = &jm__tls_tbins[z->bin];
	assert_true(*jm__tb_head(tb) != 0);
	/* A count that does not match the list (the private one, which
	 * the allocator goes by, and the row's). */
	tb->ncached_less_max = (uint32_t)-(int32_t)jm__tb_max(tb);   /* reads 0 */
	jm__tb_priv(tb)->ncached_less_max = tb->ncached_less_max;
	assert_int_equal(jm__tb_ncached(tb), 0);
	return NULL;
}
static void test_exit_flushes_whatever_count(void **state)
{
	(void)state;
	struct zeroed z;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, zeroed_count_thread, &z), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(z.arena->bins[z.bin].stats->curregs, z.curregs_before);
	assert_int_equal(jm__heap_validate(), 0);
}

/* many-threads: a thread's cache holds at most its share of all threads'
 * (tcache.c: 32 MiB among the live threads), also after bursts that grew
 * it. With 32 live threads that is 1 MiB; a burst of 2000 regions of
 * each of 512, 1024 and 2048 bytes, allocated then freed, 12 times,
 * left 4 MiB in a cache of 4 MiB per thread. */
enum { PARKED = 31, CAP_BURST = 2000 };
static pthread_barrier_t parked_go, parked_done;
static void *parked_thread(void *arg)
{
	(void)arg;
	jm_free(jm_malloc(64));   /* a live thread, with an arena */
	pthread_barrier_wait(&parked_go);
	pthread_barrier_wait(&parked_done);
	return NULL;
}
struct capped {
	uint64_t cached;     /* bytes in the thread's cache after its bursts */
	unsigned live;       /* live threads then */
};
static void *burst_thread(void *arg)
{
	struct capped *c = arg;
	static const size_t sizes[] = { 512, 1024, 2048 };
	void **p = malloc(3 * CAP_BURST * sizeof(void *));
	for (int round = 0; round < 12; round++) {
		for (unsigned i = 0; i < 3 * CAP_BURST; i++)
			p[i] = jm_malloc(sizes[i % 3]);
		for (unsigned i = 0; i < 3 * CAP_BURST; i++)
			jm_free(p[i]);
	}
	free(p);
	c->cached = 0;
	for (unsigned b = 0; b < JM_NBINS; b++)
		c->cached += (uint64_t)jm__tb_ncached(&jm__tls_tbins[b]) * jm__bin_info[b].size;
	c->live = jm__arena_live_threads();
	return NULL;
}

static void test_cache_share_of_total(void **state)
{
	(void)state;
	pthread_t parked[PARKED], t;
	assert_int_equal(pthread_barrier_init(&parked_go, NULL, PARKED + 1), 0);
	assert_int_equal(pthread_barrier_init(&parked_done, NULL, PARKED + 1), 0);
	for (int i = 0; i < PARKED; i++)
		assert_int_equal(pthread_create(&parked[i], NULL, parked_thread, NULL), 0);
	pthread_barrier_wait(&parked_go);
	struct capped c;
	assert_int_equal(pthread_create(&t, NULL, burst_thread, &c), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	pthread_barrier_wait(&parked_done);
	for (int i = 0; i < PARKED; i++)
		assert_int_equal(pthread_join(parked[i], NULL), 0);
	pthread_barrier_destroy(&parked_go);
	pthread_barrier_destroy(&parked_done);
	assert_true(c.live >= PARKED + 1);
	assert_true(c.cached > 0);
	assert_true(c.cached <= (32u << 20) / c.live);
	assert_int_equal(jm__heap_validate(), 0);
}

/* Aligned requests of up to 32 KiB are small regions (malloc.c): the
 * classes of one region a run (8, 16, 24, 32 KiB) have their runs placed
 * at their alignment, and an aligned request never takes the next class's
 * region. Threads with and without a cache mix aligned requests through
 * every entry point with plain ones of the page classes (whose empty lists
 * borrow the next class's regions), hand a quarter of what they free to
 * another thread (flushes of mixed arenas, moves between arenas), and
 * exit while others run; a forked child goes on. Every pointer has its
 * alignment and is the only owner of its bytes (a stamp at both ends,
 * checked at its free), and the heap validates (runs at their class's
 * alignment). Deterministic in what each thread asks, bounded (2 x 4
 * threads x 3000 requests). */
enum { AL_THREADS = 4, AL_OPS = 3000, AL_SLOTS = 96, AL_MAIL = 256 };
struct al_obj {
	void *p;
	size_t size;
};
static struct {
	pthread_mutex_t m;
	struct al_obj v[AL_MAIL];
	unsigned h, t;
} al_mail[AL_THREADS];
static unsigned al_bad;
static pthread_barrier_t al_booted;

static uint64_t al_stamp(const void *p, size_t size)
{
	return ((uintptr_t)p * 0x9e3779b97f4a7c15ULL) ^ size;
}

static void al_write(void *p, size_t size)
{
	uint64_t st = al_stamp(p, size);
	memcpy(p, &st, sizeof(st));
	memcpy((char *)p + size - sizeof(st), &st, sizeof(st));
}

static void al_free(struct al_obj o)
{
	if (o.p == NULL)
		return;
	uint64_t st = al_stamp(o.p, o.size), a, b;
	memcpy(&a, o.p, sizeof(a));
	memcpy(&b, (char *)o.p + o.size - sizeof(b), sizeof(b));
	if (a != st || b != st)
		__atomic_add_fetch(&al_bad, 1, __ATOMIC_RELAXED);
	jm_free(o.p);
}

/* One aligned or plain request; its size rounded up to 8 bytes (the stamp). */
static struct al_obj al_request(uint64_t *x)
{
	static const size_t plain[] = { 8192, 16384, 16385, 20480, 24576, 28672, 32768 };
	static const size_t fixed[] = { 0, 1, 100, 4096, 8192, 12288, 16384, 20000, 24576, 32768 };
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	uint64_t r = *x;
	size_t align = (size_t)32 << (r % 12);   /* 32 B .. 64 KiB */
	size_t size;
	switch ((r >> 8) % 4) {
	case 0: size = fixed[(r >> 12) % 10]; break;
	case 1: size = align - 8 + ((r >> 12) % 3) * 8; break;   /* around it */
	case 2: size = (r >> 12) % 33000; break;
	default: size = plain[(r >> 12) % 7]; break;
	}
	size_t want = size < 16 ? 16 : (size + 7) & ~(size_t)7;
	void *p = NULL;
	switch ((r >> 20) % 6) {
	case 0: if (jm_posix_memalign(&p, align, want) != 0) p = NULL; break;
	case 1: p = jm_aligned_alloc(align, want); break;
	case 2: p = jm_memalign(align, want); break;
	case 3: p = jm_valloc(want); align = 4096; break;
	case 4: p = jm_pvalloc(want); align = 4096; break;
	default: p = jm_malloc(want); align = 16; break;
	}
	if (p == NULL || (uintptr_t)p % align != 0 || jm_malloc_usable_size(p) < want)
		__atomic_add_fetch(&al_bad, 1, __ATOMIC_RELAXED);
	else
		al_write(p, want);
	return (struct al_obj){ p, p ? want : 0 };
}

static void al_work(unsigned self, uint64_t seed, bool threads)
{
	struct al_obj slot[AL_SLOTS] = { { 0 } };
	uint64_t x = seed * 0x2545f4914f6cdd1dULL + 1;
	for (unsigned i = 0; i < AL_OPS; i++) {
		unsigned k = (unsigned)(x % AL_SLOTS);
		struct al_obj old = slot[k];
		slot[k] = al_request(&x);
		if (threads && old.p && x % 4 == 0) {
			unsigned to = (self + 1 + (unsigned)(x >> 32) % (AL_THREADS - 1)) % AL_THREADS;
			pthread_mutex_lock(&al_mail[to].m);
			if (al_mail[to].h - al_mail[to].t < AL_MAIL) {
				al_mail[to].v[al_mail[to].h++ % AL_MAIL] = old;
				old.p = NULL;
			}
			pthread_mutex_unlock(&al_mail[to].m);
		}
		al_free(old);
		if (threads && i % 16 == 0) {
			pthread_mutex_lock(&al_mail[self].m);
			while (al_mail[self].h != al_mail[self].t)
				al_free(al_mail[self].v[al_mail[self].t++ % AL_MAIL]);
			pthread_mutex_unlock(&al_mail[self].m);
		}
	}
	for (unsigned k = 0; k < AL_SLOTS; k++)
		al_free(slot[k]);
}

static void *al_thread(void *arg)
{
	unsigned self = (unsigned)(uintptr_t)arg;
	jm_free(jm_malloc(1));   /* booted: with or without a cache */
	pthread_barrier_wait(&al_booted);
	al_work(self % AL_THREADS, self, true);
	return NULL;
}

static void test_aligned_small_threads(void **state)
{
	(void)state;
	for (unsigned i = 0; i < AL_THREADS; i++)
		pthread_mutex_init(&al_mail[i].m, NULL);
	bool tcache = jm__opt.tcache;
	for (unsigned round = 0; round < 2; round++) {
		pthread_t t[AL_THREADS];
		assert_int_equal(pthread_barrier_init(&al_booted, NULL, 2), 0);
		for (unsigned i = 0; i < AL_THREADS; i++) {
			/* Thread 0 of each round has no cache (tcache:0). */
			jm__opt.tcache = i != 0 && tcache;
			assert_int_equal(pthread_create(&t[i], NULL, al_thread,
			    (void *)(uintptr_t)(round * AL_THREADS + i)), 0);
			pthread_barrier_wait(&al_booted);
		}
		jm__opt.tcache = tcache;
		for (unsigned i = 0; i < AL_THREADS; i++)
			assert_int_equal(pthread_join(t[i], NULL), 0);
		/* Not before the joins: the last thread to wait may be in
		 * pthread_barrier_wait still (ThreadSanitizer reports the
		 * destroy as a race with its wait). */
		pthread_barrier_destroy(&al_booted);
		for (unsigned i = 0; i < AL_THREADS; i++)
			while (al_mail[i].h != al_mail[i].t)
				al_free(al_mail[i].v[al_mail[i].t++ % AL_MAIL]);
		assert_int_equal(al_bad, 0);
		assert_int_equal(jm__heap_validate(), 0);
	}
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		al_work(0, 99, false);
		_exit(al_bad != 0 || jm__heap_validate() != 0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	al_work(0, 7, false);
	assert_int_equal(al_bad, 0);
	assert_int_equal(jm__heap_validate(), 0);
}

/* A thread whose first call is a malloc is counted in its arena (arena.c:
 * a new thread takes the arena of fewest counted threads) from its second
 * fill on (tcache.c, CLAIM_FILLS), not from its cache's boot: a thread
 * that allocated a region and waits (thread-churn's creators, blocked in
 * pthread_join after pthread_create's allocation) leaves its arena to the
 * next thread, where each creator had kept one from its children (and
 * once a creator ended, its arena, cold for the children's classes, was
 * the next child's: 56 pages warmed, docs/measurements.md). A thread that
 * allocates as they do keeps its arena to itself, and of two threads that
 * took one arena before either was counted, the second to be counted
 * moves. (A thread that freed first is counted from its boot, in an arena
 * of its own: test_first_free_not_cached.) */
enum { HEAVY_SIZES = 24, HEAVY_EACH = 40 };
struct churner {
	pthread_barrier_t *started, *go;   /* NULL: none */
	pthread_barrier_t *ended;          /* after the work, before the exit */
	bool heavy_first;                  /* allocate before `started` */
	struct jm_arena *first, *last;     /* of its first and its last region */
};
static void heavy_work(struct churner *c)
{
	void *p[HEAVY_SIZES * HEAVY_EACH];
	for (unsigned i = 0; i < HEAVY_SIZES * HEAVY_EACH; i++)
		assert_non_null(p[i] = jm_malloc(16 + 16 * (i % HEAVY_SIZES)));
	c->last = arena_of(p[HEAVY_SIZES * HEAVY_EACH - 1]);
	for (unsigned i = 0; i < HEAVY_SIZES * HEAVY_EACH; i++)
		jm_free(p[i]);
}
static void *churn_thread(void *arg)
{
	struct churner *c = arg;
	void *one = jm_malloc(64);   /* boots the cache: one fill */
	c->first = arena_of(one);
	if (c->heavy_first)
		heavy_work(c);
	if (c->started)
		pthread_barrier_wait(c->started);
	if (c->go)
		pthread_barrier_wait(c->go);
	if (!c->heavy_first)
		heavy_work(c);
	if (c->ended)
		pthread_barrier_wait(c->ended);
	jm_free(one);
	return NULL;
}

static void test_light_thread_not_counted(void **state)
{
	(void)state;
	jm_free(jm_malloc(64));
	struct jm_arena *mine = jm__thread_arena();   /* counted */
	pthread_barrier_t started, go;
	pthread_barrier_init(&started, NULL, 2);
	pthread_barrier_init(&go, NULL, 2);

	/* A light thread waits; a thread that allocates starts, ends. */
	struct churner light = { .started = &started, .go = &go };
	struct churner child = { .heavy_first = true };
	pthread_t tl, tc;
	assert_int_equal(pthread_create(&tl, NULL, churn_thread, &light), 0);
	pthread_barrier_wait(&started);
	assert_int_equal(pthread_create(&tc, NULL, churn_thread, &child), 0);
	assert_int_equal(pthread_join(tc, NULL), 0);
	assert_ptr_not_equal(light.first, mine);
	assert_ptr_equal(child.first, light.first);   /* the light one's arena */
	assert_ptr_equal(child.last, light.first);
	pthread_barrier_wait(&go);
	assert_int_equal(pthread_join(tl, NULL), 0);
	assert_ptr_equal(light.last, light.first);

	/* A thread that allocated waits: the next one takes another arena. */
	struct churner heavy = { .heavy_first = true, .started = &started, .go = &go };
	child = (struct churner){ .heavy_first = true };
	struct jm_arena *before;
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, churn_thread, &heavy), 0);
	pthread_barrier_wait(&started);
	before = heavy.last;
	assert_int_equal(pthread_create(&tc, NULL, churn_thread, &child), 0);
	assert_int_equal(pthread_join(tc, NULL), 0);
	assert_ptr_not_equal(child.first, before);
	assert_ptr_not_equal(child.last, before);
	pthread_barrier_wait(&go);
	assert_int_equal(pthread_join(th, NULL), 0);

	/* Two threads boot their caches before either is counted, then
	 * both allocate while both live: two arenas. */
	pthread_barrier_t both, ended;
	pthread_barrier_init(&both, NULL, 3);
	pthread_barrier_init(&ended, NULL, 2);
	struct churner a = { .started = &both, .ended = &ended };
	struct churner b = { .started = &both, .ended = &ended };
	pthread_t ta, tb;
	assert_int_equal(pthread_create(&ta, NULL, churn_thread, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, churn_thread, &b), 0);
	pthread_barrier_wait(&both);   /* both booted, neither counted */
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(pthread_join(tb, NULL), 0);
	assert_ptr_equal(a.first, b.first);   /* one arena at their boots */
	assert_ptr_not_equal(a.last, b.last);
	pthread_barrier_destroy(&both);
	pthread_barrier_destroy(&ended);
	pthread_barrier_destroy(&started);
	pthread_barrier_destroy(&go);
	(void)mine;
	assert_int_equal(jm__heap_validate(), 0);
}

int main(void)
{
	setenv("JMALLOC_CONF", "prof_sample:0,background_thread:0", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_free_not_cached),
		cmocka_unit_test(test_only_frees_gets_cache),
		cmocka_unit_test(test_consumer_cache_bounded),
		cmocka_unit_test(test_consumer_moves_to_producer),
		cmocka_unit_test(test_ring_moves_fork),
		cmocka_unit_test(test_cacheless_thread_exit_counted),
		cmocka_unit_test(test_exit_flushes_whatever_count),
		cmocka_unit_test(test_cache_share_of_total),
		cmocka_unit_test(test_aligned_small_threads),
		cmocka_unit_test(test_light_thread_not_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
