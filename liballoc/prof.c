/*
 * prof.c: the sampled heap profile (docs/sites.md), kept live in the stats
 * segment's site table.
 *
 * Sampling: each thread counts down the bytes it allocates
 * (jm__tls_sample_left, one subtraction and one branch on the malloc fast
 * path); when the count goes below zero, the allocation is sampled and the
 * next count is drawn from an exponential distribution of mean
 * prof_sample bytes, as tcmalloc and jemalloc do, so that no size is
 * systematically missed. An allocation of size s is then sampled with
 * probability p = 1 - exp(-s / prof_sample), and counts 1/p objects and
 * s/p bytes: the estimates are unbiased.
 *
 * A sampled allocation is served as a large region (a small one gets a
 * page of its own) or a huge one, whose run descriptor or huge record
 * remembers its site and size: free() meets it on its slow path (the fast
 * path only knows small regions) and takes it off its site's live counts.
 *
 * The stack comes from unwind.c, which reads the unwind tables (programs
 * are built without frame pointers) once per return address and then
 * from a cache; the thread is marked as sampling meanwhile, and
 * allocations nested in a sample (modules.c's) are not sampled. It is called with none of the allocator's locks held, and so is
 * modules.c's refresh of the module table, which follows. The allocator's
 * own frames are those inside its code section (jm_text, named so by the
 * Makefile), and are left out.
 *
 * Sites: rows of the segment taken in order under prof_lock, found again
 * through a private hash index; a full table is counted in the header
 * (sites_dropped), never silently. Estimated object counts are kept in
 * fixed point privately (1/1024 objects) and published rounded down.
 */
#include "internal.h"

#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_FRAMES JM_UNWIND_MAX /* ours first, then the kept ones */
#define FP_SHIFT 10

static __thread bool tls_ready;
static __thread bool tls_in_prof;
static __thread bool tls_fork_held;     /* jm__prof_postfork_child */
static __thread int64_t tls_fork_left;
static __thread uint64_t tls_rng;

/* Taken at every sample and every sampled free, by every thread: the
 * site rows are the process's, and threads that run the same code sample
 * at the same sites. Adaptive (it spins a while before it sleeps), as the
 * arenas' and bins' locks are: what it guards is short, a few hundred
 * instructions and the lines of one row, and as a plain mutex each time
 * it was found held was a futex wait and a wake. glibc-thread at 2
 * threads: 21-30k futex calls a run (2 with prof_sample:0), about 1k
 * adaptive; CPU a unit of work 1.23 x one thread's, 1.03 x adaptive
 * (docs/measurements.md, "The profile's lock"). */
/* The allocator's own lock (internal.h, jm_wlock_t), not a glibc mutex
 * since session 38: glibc's trylock and unlock with the allocator's
 * marking were some 90 instructions at each sample and again at its
 * free; this one's round trip is a compare-and-swap and an exchange. It
 * spins before it sleeps, as the adaptive mutex did. Zero (free) in .bss:
 * with an initializer it was in .data, a page of its own beside the
 * other locks in .bss, which the fork handlers write: one more page fault
 * and copy in parent and child at every fork
 * (tests/preload/fork_pages.test.sh). */
static jm_wlock_t prof_lock;
static uint32_t *site_index;      /* open addressing: row + 1, or 0 */
static uint32_t site_index_size;  /* a power of two, at least twice the rows */
static uint64_t *site_objects_fp; /* per row: live, then total, x 1024 */

/* What one sampled object of a size counts for (site_account), as
 * computed last for that size: sizes recur (a program allocates a few
 * sizes again and again, and a sampled object is freed with the size it
 * was allocated with), and the estimate, one exp() and three divisions
 * then (now a series below 64 KiB and one division: about 85 where the
 * memo misses, 125 before), was 120 of the 130 instructions of each account taken or given back.
 * Direct-mapped by size, under prof_lock, in the base memory page the
 * first sites' counts are on; an entry is the same numbers as the sum
 * it replaces (tests/unit/test_alloc.c: test_site_estimate_memo). */
struct estimate {
	uint64_t size;           /* 0: none */
	uint64_t bytes;          /* size / p, rounded */
	uint64_t objects_fp;     /* 1 / p x 1024, rounded */
	uint32_t cls;            /* the size class, JM_NBINS for large ones */
	uint32_t unused;
};
#define MEMO_BITS 6
static struct estimate *est_memo;  /* 1 << MEMO_BITS entries */
static size_t est_memo_sample;     /* the prof_sample they were made with */

extern char __start_jm_text[], __stop_jm_text[];

/* ------------------------------------------------------ a little maths */

#define LN2 0.69314718055994530942

static double pow2i(long k)
{
	if (k < -1022)
		return 0.0;
	uint64_t bits = (uint64_t)(k + 1023) << 52;
	double d;
	__builtin_memcpy(&d, &bits, sizeof(d));
	return d;
}

/* exp(y) for y <= 0. */
static double exp_neg(double y)
{
	if (y < -700.0)
		return 0.0;
	long k = (long)(y * (1.0 / LN2)); /* the check below corrects it */
	if ((double)k * LN2 > y)
		k--;
	double r = y - (double)k * LN2; /* [0, ln 2) */
	/* The Taylor series to r^15 / 15! (under 4e-15 of the sum left out),
	 * in Horner's form with the coefficients folded at compile time: the
	 * loop that divided r by each i cost 15 divisions, 80 instructions of
	 * every sampled allocation and every sampled free. */
	double sum = 1.0 / 1307674368000.0;               /* 1/15! */
	sum = sum * r + 1.0 / 87178291200.0;
	sum = sum * r + 1.0 / 6227020800.0;
	sum = sum * r + 1.0 / 479001600.0;
	sum = sum * r + 1.0 / 39916800.0;
	sum = sum * r + 1.0 / 3628800.0;
	sum = sum * r + 1.0 / 362880.0;
	sum = sum * r + 1.0 / 40320.0;
	sum = sum * r + 1.0 / 5040.0;
	sum = sum * r + 1.0 / 720.0;
	sum = sum * r + 1.0 / 120.0;
	sum = sum * r + 1.0 / 24.0;
	sum = sum * r + 1.0 / 6.0;
	sum = sum * r + 1.0 / 2.0;
	sum = sum * r + 1.0;
	sum = sum * r + 1.0;
	return sum * pow2i(k);
}

/* ln(u) for u in (0, 1]. */
static double log_unit(double u)
{
	uint64_t bits;
	__builtin_memcpy(&bits, &u, sizeof(bits));
	long e = (long)((bits >> 52) & 0x7ff) - 1023;
	bits = (bits & ((1ULL << 52) - 1)) | (1023ULL << 52);
	double m;
	__builtin_memcpy(&m, &bits, sizeof(m)); /* [1, 2) */
	double t = (m - 1.0) / (m + 1.0), t2 = t * t;
	double s = 1.0 + t2 * (1.0 / 3 + t2 * (1.0 / 5 + t2 * (1.0 / 7 + t2 * (1.0 / 9 +
	    t2 * (1.0 / 11 + t2 * (1.0 / 13))))));
	return (double)e * LN2 + 2.0 * t * s;
}

/* 1 / prof_sample, for the prof_sample it was made with (tests change
 * it): a multiplication instead of a division at each estimate. Under
 * prof_lock, as the estimates are. */
static size_t inv_sample_of;
static double inv_sample;

/* The chance that an allocation of `size` bytes is sampled. */
static double sample_probability(size_t size)
{
	if (jm_unlikely(inv_sample_of != jm__opt.prof_sample)) {
		inv_sample_of = jm__opt.prof_sample;
		inv_sample = 1.0 / (double)jm__opt.prof_sample;
	}
	double x = (double)size * inv_sample;
	if (x < 1e-4)
		return x * (1.0 - x / 2.0);
	if (x < 0.125) {
		/* -expm1(-x), its series to x^10 / 10! (x^11 / 12! of it left
		 * out: under 3e-17 of the sum, and no cancellation): a third of
		 * exp_neg's instructions, for every size below 64 KiB at the
		 * default interval, which the memo misses when sizes vary. */
		double q = 1.0 / 3628800.0;                       /* 1/10! */
		q = q * x - 1.0 / 362880.0;
		q = q * x + 1.0 / 40320.0;
		q = q * x - 1.0 / 5040.0;
		q = q * x + 1.0 / 720.0;
		q = q * x - 1.0 / 120.0;
		q = q * x + 1.0 / 24.0;
		q = q * x - 1.0 / 6.0;
		q = q * x + 1.0 / 2.0;
		q = q * x - 1.0;
		return -(q * x);
	}
	return 1.0 - exp_neg(-x);
}

static uint64_t rng_next(void)
{
	/* Seeded by the thread (its id, its TLS address) and the process's
	 * secret (from AT_RANDOM), not the clock: this is every thread's
	 * first allocation, and a first clock read is two page faults (the
	 * vDSO's data page, libc's clock_gettime). */
	if (tls_rng == 0)
		tls_rng = ((uint64_t)syscall(SYS_gettid) * 0x9e3779b97f4a7c15ULL) ^ jm__cookie ^
		    ((uint64_t)(uintptr_t)&tls_rng << 17) ^ 1;
	tls_rng ^= tls_rng >> 12;
	tls_rng ^= tls_rng << 25;
	tls_rng ^= tls_rng >> 27;
	return tls_rng * 0x2545f4914f6cdd1dULL;
}

static int64_t next_interval(void)
{
	if (jm__opt.prof_sample == 0)
		return INT64_MAX / 2;
	double u = (double)((rng_next() >> 11) + 1) * (1.0 / 9007199254740992.0); /* (0, 1] */
	double bytes = -log_unit(u) * (double)jm__opt.prof_sample;
	if (bytes > 1e18)
		bytes = 1e18;
	return (int64_t)bytes;
}


/* ---------------------------------------------------------------- sites */

/* The site table's start: a call into stats.c, taken once a sample (the
 * probe's rows and the count's are from it) and once a sampled free. */
static char *site_rows(void)
{
	/* From jm__segp: the header is any process of our uid's to rewrite. */
	return jm__stats_at(jm__segp.site_off);
}

static struct jmstat_site *site_row_in(char *rows, uint32_t i)
{
	return (struct jmstat_site *)(rows + (size_t)i * jm__segp.site_stride);
}

static struct jmstat_site *site_row(uint32_t i)
{
	return site_row_in(site_rows(), i);
}

static uint64_t *site_classes(struct jmstat_site *s)
{
	return (uint64_t *)(s + 1);
}

static uint64_t hash_frames(void *const *frames, int n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (int i = 0; i < n; i++) {
		h ^= (uint64_t)(uintptr_t)frames[i];
		h *= 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h ? h : 1;
}

/* Doubles the index (from SITE_INDEX_MIN slots), the rows taken so far
 * placed again by their hash. It grows with the rows, so that a process
 * with a few sites has them in a few lines of one page: an index sized for
 * the whole table at once (2 x JM_MAX_SITES slots) spread its first sites
 * over as many pages, each read (a fault) before written (another).
 * The old index stays (base memory is never freed): at most the final
 * index's size again. Under prof_lock; false if out of memory. */
#define SITE_INDEX_MIN 64
static bool site_index_grow(void)
{
	uint32_t size = site_index_size ? 2 * site_index_size : SITE_INDEX_MIN;
	uint32_t *idx = jm__base_alloc(size * sizeof(*idx));
	if (idx == NULL)
		return false;
	/* Written before it is read: base memory is zero, but a fresh page
	 * read first maps the zero page (a page fault) and faults again at
	 * the first store. */
	memset(idx, 0, size * sizeof(*idx));
	for (uint32_t r = 0; r < jm__segp.nsites_hw; r++) {
		uint32_t i = (uint32_t)site_row(r)->hash & (size - 1);
		while (idx[i] != 0)
			i = (i + 1) & (size - 1);
		idx[i] = r + 1;
	}
	site_index = idx;
	site_index_size = size;
	return true;
}

/* Whether row s holds these frames: a loop, not memcmp (a call into libc
 * of 18 instructions a sample for a few words that hardly ever differ,
 * the hash being equal). */
static bool same_frames(const struct jmstat_site *s, void *const *frames, int n)
{
	for (int f = 0; f < n; f++)
		if (s->frames[f] != (uintptr_t)frames[f])
			return false;
	return true;
}

/* The row of this stack (h: its hash_frames(), computed before the lock
 * is taken), taken if new, and its place in *row_out; -1 if the table is
 * full. Under prof_lock. */
static long site_find(void *const *frames, int n, uint64_t h, struct jmstat_site **row_out)
{
	/* The first index (256 bytes), then the memo and the counts (2 + 16
	 * KiB), from the base memory's current page, which the first sites'
	 * share. */
	if (2 * (jm__segp.nsites_hw + 1) > site_index_size && !site_index_grow())
		return -1;
	if (site_objects_fp == NULL) {
		size_t memo = sizeof(struct estimate) << MEMO_BITS;
		char *m = jm__base_alloc(memo + (size_t)jm__segp.nsites_max * 2 * sizeof(uint64_t));
		if (m == NULL)
			return -1;
		est_memo = (struct estimate *)m; /* zero: empty */
		est_memo_sample = jm__opt.prof_sample;
		site_objects_fp = (uint64_t *)(m + memo);
	}
	char *rows = site_rows();
	for (uint32_t probe = 0, i = (uint32_t)h & (site_index_size - 1);
	     probe < site_index_size; probe++, i = (i + 1) & (site_index_size - 1)) {
		uint32_t row = site_index[i];
		if (row == 0) {
			uint32_t r = jm__segp.nsites_hw;
			if (r >= jm__segp.nsites_max || !jm__stats_reserve_sites(r + 1))
				return -1;
			struct jmstat_site *s = site_row(r);
			jm__row_begin(&s->seq);
			s->hash = h;
			for (int f = 0; f < n; f++)
				s->frames[f] = (uintptr_t)frames[f];
			s->nframes = (uint32_t)n;
			jm__row_end(&s->seq);
			jm__segp.nsites_hw = r + 1;
			__atomic_store_n(&jm__seg->nsites_hw, r + 1, __ATOMIC_RELEASE);
			site_index[i] = r + 1;
			*row_out = s;
			return r;
		}
		struct jmstat_site *s = site_row_in(rows, row - 1);
		if (s->hash == h && s->nframes == (uint32_t)n && same_frames(s, frames, n)) {
			*row_out = s;
			return row - 1;
		}
	}
	return -1;
}

static void estimate_of(size_t size, struct estimate *e)
{
	/* One division: 1 / p, then its multiples (each was a division of
	 * its own, 20 cycles' latency apiece at every sampled size the memo
	 * does not hold: most of them in glibc-thread). */
	double inv_p = 1.0 / sample_probability(size);
	e->size = size;
	e->bytes = (uint64_t)((double)size * inv_p + 0.5);
	e->objects_fp = (uint64_t)((1 << FP_SHIFT) * inv_p + 0.5);
	e->cls = size <= JM_SMALL_MAX ? jm__size2bin(size) : JM_NBINS;
}

/* estimate_of(size): the memo's entry, made there if it is not, or tmp
 * (no memo yet). Under prof_lock. */
static const struct estimate *site_estimate(size_t size, struct estimate *tmp)
{
	struct estimate *e = tmp;
	if (est_memo != NULL && size != 0) {
		if (est_memo_sample != jm__opt.prof_sample) {
			memset(est_memo, 0, sizeof(*est_memo) << MEMO_BITS);
			est_memo_sample = jm__opt.prof_sample;
		}
		e = &est_memo[(uint64_t)size * 0x9e3779b97f4a7c15ULL >> (64 - MEMO_BITS)];
		if (e->size == size)
			return e;
	}
	estimate_of(size, e);
	return e;
}

#ifdef JM_TEST
/* For tests: the lock the site rows are written under. */
jm_wlock_t *jm__test_prof_lock(void);
jm_wlock_t *jm__test_prof_lock(void) { return &prof_lock; }

double jm__test_sample_probability(size_t size);
double jm__test_sample_probability(size_t size) { return sample_probability(size); }

/* For tests: what site_account counts for size (memo: through the memo,
 * which it makes if there is none yet; else computed). */
void jm__test_site_estimate(size_t size, bool memo, uint64_t *bytes, uint64_t *objects_fp,
    unsigned *cls);
void jm__test_site_estimate(size_t size, bool memo, uint64_t *bytes, uint64_t *objects_fp,
    unsigned *cls)
{
	jm__wlock_lock(&prof_lock);
	if (memo && est_memo == NULL) {
		est_memo = jm__base_alloc(sizeof(struct estimate) << MEMO_BITS);
		est_memo_sample = jm__opt.prof_sample;
	}
	struct estimate tmp;
	const struct estimate *e = &tmp;
	if (memo)
		e = site_estimate(size, &tmp);
	else
		estimate_of(size, &tmp);
	*bytes = e->bytes;
	*objects_fp = e->objects_fp;
	*cls = e->cls;
	jm__wlock_unlock(&prof_lock);
}
#endif

/* What one sampled object counts for at its site: the weight of the size
 * it was sampled at (1/p objects: its chance of being sampled was that
 * size's), and as bytes that weight times the size it has now, which
 * realloc changes in place (a buffer cut from 8 MiB to 3 MiB stands for
 * buffers of 3 MiB, not 8), in the class of that size; a huge region's
 * in the large ones' (allocated_huge is what bounds that class, jmstatd's
 * jmd_sites_bound, whatever the size). The same numbers for the same
 * three sizes, so that its free takes off what was added. Under
 * prof_lock. */
struct account {
	uint64_t bytes;
	uint64_t objects_fp;
	unsigned cls;
};

static void account_at(const struct estimate *e, size_t sampled, size_t now, bool huge,
    struct account *a)
{
	a->objects_fp = e->objects_fp;
	a->bytes = e->bytes;
	a->cls = e->cls;
	if (now != sampled && sampled != 0) {
		/* e->bytes x now / sampled, rounded (in a double, which the
		 * add and the take-off compute alike: 128-bit integer
		 * divisions were a third of a resize's instructions). */
		double b = (double)e->bytes * (double)now / (double)sampled + 0.5;
		a->bytes = b < 1.8446744073709552e19 ? (uint64_t)b : UINT64_MAX;
		if (!huge)
			a->cls = now <= JM_SMALL_MAX ? jm__size2bin(now) : JM_NBINS;
	}
	if (huge)
		a->cls = JM_NBINS;
}

static void account_of(size_t sampled, size_t now, bool huge, struct account *a)
{
	struct estimate tmp;
	account_at(site_estimate(sampled, &tmp), sampled, now, huge, a);
}

/* Adds (sign 1) or takes off (sign -1) one sampled object at row `row`,
 * s. */
static void site_account(uint32_t row, struct jmstat_site *s, const struct account *a, int sign)
{
	uint64_t bytes = a->bytes, objects_fp = a->objects_fp;
	unsigned cls = a->cls;
	uint64_t *fp = &site_objects_fp[2 * (size_t)row];
	jm__row_begin(&s->seq);
	if (sign > 0) {
		s->live_bytes += bytes;
		s->alloc_bytes += bytes;
		site_classes(s)[cls] += bytes;
		fp[0] += objects_fp;
		fp[1] += objects_fp;
		s->samples_live++;
	} else {
		s->live_bytes -= bytes;
		site_classes(s)[cls] -= bytes;
		fp[0] -= objects_fp;
		s->samples_live--;
	}
	s->live_objects = fp[0] >> FP_SHIFT;
	s->alloc_objects = fp[1] >> FP_SHIFT;
	jm__row_end(&s->seq);
}

/* --------------------------------------------------------------- hooks */

static int own_frames(void *const *frames, int n)
{
	int skip = 0;
	while (skip < n && (char *)frames[skip] >= __start_jm_text &&
	    (char *)frames[skip] < __stop_jm_text)
		skip++;
	return skip;
}

/* A forked child's first allocation on its forking thread
 * (jm__prof_postfork_child): it publishes, and its budget is what it was,
 * this allocation counted against it; true if that budget covers it (not
 * to be sampled). Out of line: its frame is not on the path of every
 * sample, nor a sample's frames on its own (a child's first allocation in
 * a signal handler on a small alternate stack: tests/preload/sigaltstack). */
JM_FORK_TEXT static JM_NOINLINE bool fork_budget_back(size_t size)
{
	tls_fork_held = false;
	if (jm__stats_pending)
		jm__stats_publish_child();
	jm__tls_sample_left = tls_fork_left - (int64_t)size;
	return jm__tls_sample_left >= 0;
}

/* Whether the program's constructors have run (this file's, prof_ctor).
 * A static program (linked with libjmalloc.a: no dynamic loader, AT_BASE
 * 0) allocates inside its C library's own initialisation, before them:
 * _dl_non_dynamic_init's _dl_find_object_init takes 160 bytes, and the
 * unwinder of a sample taken there called _dl_find_object on the tables
 * it was making: SIGSEGV, 1 process start in 3,300 under the default
 * prof_sample (tests/daemon/setuid's static programs, once at load 20),
 * every one under prof_sample:1. Such a program's allocations are not
 * sampled until its constructors run. A dynamic program's are: its
 * loader allocates with a malloc of its own until the C library is
 * relocated and initialised, and unwinding works from there on. */
static bool ctors_ran;

__attribute__((constructor)) static void prof_ctor(void)
{
	ctors_ran = true;
}

/* Not sampled yet: a static program before its constructors. */
static JM_NOINLINE bool static_early(void)
{
	return getauxval(AT_BASE) == 0;
}

/* Whether the allocation of `size` bytes the sampling budget picked is
 * to be sampled: not while sampling (an allocation of the unwinder's),
 * nor with sampling off, nor in a static program's C library before its
 * constructors (above), nor on the thread's first allocation when the
 * first interval it draws covers it. Draws the next interval. */
static bool sample_this(size_t size)
{
	if (jm_unlikely(tls_fork_held) && fork_budget_back(size))
		return false;
	if (tls_in_prof || jm__opt.prof_sample == 0 || jm__segp.nsites_max == 0 ||
	    (jm_unlikely(!ctors_ran) && static_early())) {
		jm__tls_sample_left = next_interval();
		return false;
	}
	if (!tls_ready) {
		/* The thread's first allocation: draw its first interval, and
		 * count this allocation against it like any other. */
		tls_ready = true;
		jm__unwind_thread_start();
		jm__tls_sample_left = next_interval() - (int64_t)size;
		if (jm__tls_sample_left >= 0)
			return false;
	}
	jm__tls_sample_left = next_interval();
	return true;
}

/* The calling stack, without our frames: its first frame in *first.
 * Inline: a frame of its own was one more for every stack to walk (75
 * instructions a sample, callgrind glibc-thread). */
static inline __attribute__((always_inline)) int stack_here(void **frames, void *const **first)
{
	int n = jm__unwind(frames, MAX_FRAMES);
	int skip = own_frames(frames, n);
	*first = frames + skip;
	/* Before the site is published: the modules its frames are in. */
	jm__modules_refresh();
	return n - skip < JMSTAT_SITE_FRAMES ? n - skip : JMSTAT_SITE_FRAMES;
}

/* Counts p, `size` bytes, at the site of the stack `first` and marks it
 * sampled. */
static void record(void *p, size_t size, void *const *first, int depth)
{
	uint32_t site = 0;
	if (depth > 0) {
		uint64_t h = hash_frames(first, depth);
		struct jmstat_site *s;
		jm__wlock_lock(&prof_lock);
		long row = site_find(first, depth, h, &s);
		if (row >= 0) {
			site = (uint32_t)row + 1;
			/* Marked first, its class's count without the
			 * generation: the row's end bumps it for both. Whether
			 * p is huge from the marking's radix tree read (it was
			 * read here too, before). */
			bool huge = jm__mark_sampled(p, site, size, false);
			struct account a;
			account_of(size, size, huge, &a);
			site_account((uint32_t)row, s, &a, 1);
			jm__wlock_unlock(&prof_lock);
			return;
		}
		jm__seg->sites_dropped++;
		jm__wlock_unlock(&prof_lock);
	}
	jm__mark_sampled(p, site, size, true);
}

static JM_NOINLINE void *prof_alloc_sampled(size_t size, size_t align, bool zero)
{
	void *frames[MAX_FRAMES];
	void *const *first;
	tls_in_prof = true;
	int depth = stack_here(frames, &first);
	void *p = jm__alloc_sampled(size, align, zero);
	if (p != NULL)
		record(p, size, first, depth);
	tls_in_prof = false;
	return p;
}

/* The allocation the sampling budget picked: the unwinder's frames (the
 * stack to walk) only in prof_alloc_sampled, for a sample, not on the
 * path of an allocation that is not sampled or that publishes a forked
 * child's segment (sample_this). */
JM_NOINLINE void *jm__prof_alloc(size_t size, size_t align, bool zero)
{
	jm__ensure_init();
	if (!sample_this(size))
		return jm__alloc_plain(size, align, zero);
	return prof_alloc_sampled(size, align, zero);
}

/* A huge region that realloc grew into a new mapping (huge.c moved its
 * pages, or grew its mapping), `size` bytes now: counted against the
 * sampling budget as the allocation of that size it stands for, and
 * sampled at the calling stack if the budget picks it. The caller took
 * back the region's earlier sample, if it had one. */
JM_NOINLINE void jm__prof_regrown(void *p, size_t size)
{
	if (!jm__prof_take(size) || !sample_this(size))
		return;
	void *frames[MAX_FRAMES];
	void *const *first;
	tls_in_prof = true;
	int depth = stack_here(frames, &first);
	record(p, size, first, depth);
	tls_in_prof = false;
}

/* A sampled object freed (or moved: the caller samples it again): its
 * site (row + 1) gives back what it counted, from the size it was sampled
 * at and the size it has now. */
void jm__prof_free(uint32_t site, size_t sampled, size_t now, bool huge)
{
	struct account a;
	jm__wlock_lock(&prof_lock);
	account_of(sampled, now, huge, &a);
	site_account(site - 1, site_row(site - 1), &a, -1);
	jm__wlock_unlock(&prof_lock);
}

/* A sampled object that realloc resized in place, from `from` bytes to
 * `to`: its site's live bytes (and their class) follow, its weight stays
 * that of the size it was sampled at. Until session 35 the site kept the
 * size it was sampled at until the free (an 8 MiB buffer cut to 3 MiB
 * showed 8 in jmctl sites and the pprof profiles: test_alloc_sites's
 * test_sampled_resized). What it grows by counts as allocated too (its
 * site's alloc_bytes), so that no site shows more live than allocated. */
void jm__prof_resize(uint32_t site, size_t sampled, size_t from, size_t to, bool huge)
{
	struct account was, now;
	jm__wlock_lock(&prof_lock);
	if (site > jm__segp.nsites_hw) {
		/* No such row: a test's region marked by hand
		 * (test_alloc_purge's test_huge_sampled_cut, sampling off). */
		jm__wlock_unlock(&prof_lock);
		return;
	}
	struct estimate tmp;
	const struct estimate *e = site_estimate(sampled, &tmp);
	account_at(e, sampled, from, huge, &was);
	account_at(e, sampled, to, huge, &now);
	struct jmstat_site *s = site_row(site - 1);
	jm__row_begin(&s->seq);
	s->live_bytes = s->live_bytes - was.bytes + now.bytes;
	site_classes(s)[was.cls] -= was.bytes;
	site_classes(s)[now.cls] += now.bytes;
	if (now.bytes > was.bytes)
		s->alloc_bytes += now.bytes - was.bytes;
	jm__row_end(&s->seq);
	jm__wlock_unlock(&prof_lock);
}

/* Before any sample (the initialisation, init.c). */
void jm__prof_init(void)
{
	atomic_store_explicit(&prof_lock.word, 0, memory_order_relaxed);
}

void jm__prof_prefork(void)
{
	jm__modules_prefork();
	jm__fork_wlock(&prof_lock);
}

void jm__prof_postfork_parent(void)
{
	jm__fork_wunlock(&prof_lock);
	jm__modules_postfork_parent();
}

/* A forked child publishes its segment at its first allocator slow path
 * (stats.c); one whose allocations its inherited thread cache serves (a
 * pre-forked worker's small requests) took none and was never shown. The
 * forking thread's sampling budget, which the malloc fast path counts
 * down, is made to run out at its next allocation instead, which comes to
 * sample_this; what it was is given back there. A fast path that tested
 * for a pending publication would cost every allocation. */
JM_FORK_TEXT void jm__prof_postfork_child(void)
{
	atomic_store_explicit(&prof_lock.word, 0, memory_order_relaxed);
	jm__modules_postfork_child();
	if (jm__stats_pending && !tls_fork_held) {
		tls_fork_held = true;
		tls_fork_left = jm__tls_sample_left;
		jm__tls_sample_left = -1;
	}
}
