/*
 * The site rows of the sampled heap profile in the segment's file
 * (stats.c's back_rows), in their own small program: sampling on
 * (prof_sample:1, every allocation of the test's a sample), the segment in
 * a directory of its own (test build: jm_ names only, so cmocka's own
 * allocations are not sampled).
 *
 * Site rows are backed in the file (fallocate) as they are first used,
 * each step a reopen of the file. At eight rows a step, cc1plus (g++ -O2
 * on a large unit, some 590 sites) took 74 of them, 1,024 sites 128. The
 * steps now grow with what the process backed, so that many sites take
 * O(log n) steps, while a process with few sites holds no more of the
 * file than it did (2 pages of site rows for its first 14 sites, where
 * it was 3 from the 9th), and a forked child's first steps are small
 * again (it does not back half of its parent's table for one new site).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "jmalloc.h"

extern unsigned jm__stats_test_site_steps;
uint64_t jm__stats_test_site_rows(void);
extern uint64_t jm__stats_test_back_max;

static char stats_dir[64];

/* The 4 KiB pages of memory the file of the segment of pid holds. */
static long file_pages(pid_t pid)
{
	char path[128];
	struct stat st;
	snprintf(path, sizeof(path), "%s/jmalloc.%d.stats", stats_dir, (int)pid);
	return stat(path, &st) == 0 ? (long)(st.st_blocks * 512 / 4096) : -1;
}

static int wait_child(pid_t pid)
{
	int st = -1;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* One allocation from each of 2^DEPTH distinct call stacks (a path of
 * DEPTH calls through left() or right(), as tests/helpers/site_fill.c),
 * each sampled: one site per path. The empty asm after each call keeps
 * it from being a tail call. */
#define DEPTH 10
static void descend(int depth, unsigned path);

__attribute__((noinline)) static void left(int depth, unsigned path)
{
	descend(depth, path);
	__asm__ volatile("");
}

__attribute__((noinline)) static void right(int depth, unsigned path)
{
	descend(depth, path);
	__asm__ volatile("");
}

__attribute__((noinline)) static void descend(int depth, unsigned path)
{
	if (depth == 0) {
		void *p = jm_malloc(64);
		assert_non_null(p);
		jm_free(p);
		return;
	}
	if (path & 1)
		left(depth - 1, path >> 1);
	else
		right(depth - 1, path >> 1);
	__asm__ volatile("");
}

/* New sites until the table has `rows` (paths taken in turn). */
static unsigned next_path;
static void sites_up_to(uint32_t rows)
{
	while (jm__seg->nsites_hw < rows) {
		uint32_t hw = jm__seg->nsites_hw;
		descend(DEPTH, next_path++);
		assert_int_equal(jm__seg->nsites_hw, hw + 1);
	}
}

/* The pages `rows` site rows take from the section's start. */
static long row_pages(uint64_t rows)
{
	return (long)((rows * jm__seg->site_stride + 4095) / 4096);
}

/* On tmpfs (where segments live: /dev/shm) a file's blocks are the pages
 * it holds; on a disk file system they count the extent tree's blocks
 * too, so the file is judged there only by the rows backed. */
static bool on_tmpfs;

/* A few sites hold what they held: the first site's rows (2 pages) hold
 * the next sites too (14 at layout 4's 576-byte rows, 12 at layout 5's
 * 640; at 8 rows a step the 9th took a third page), and up to 21 (19)
 * sites take 3 pages (4 before). */
static void test_few_sites_small(void **state)
{
	(void)state;
	jm_free(jm_malloc(100));   /* published, and the first site */
	assert_int_equal(jm__seg->nsites_hw, 1);
	assert_true(jm__seg->nsites_max >= 1 << DEPTH);
	unsigned n2 = (unsigned)(2 * 4096 / jm__seg->site_stride);
	unsigned n3 = (unsigned)(3 * 4096 / jm__seg->site_stride);
	long first = file_pages(getpid());
	assert_int_equal(row_pages(jm__stats_test_site_rows()), 2);
	sites_up_to(n2);
	long at14 = file_pages(getpid());
	assert_int_equal(jm__stats_test_site_steps, 1);
	sites_up_to(n3);
	long at21 = file_pages(getpid());
	print_message("the file's pages: %ld at 1 site, %ld at %u, %ld at %u; %u steps, "
	    "%llu rows backed\n", first, at14, n2, at21, n3, jm__stats_test_site_steps,
	    (unsigned long long)jm__stats_test_site_rows());
	assert_int_equal(jm__stats_test_site_steps, 2);
	assert_int_equal(row_pages(jm__stats_test_site_rows()), 3);
	if (on_tmpfs) {
		assert_int_equal(at14, first);
		assert_int_equal(at21, first + 1);
	}
}

/* 1,024 sites (the whole table) in 12 steps (128 at 8 rows a step), the
 * rows backed beyond those used half of them at most; a forked child of a
 * process with 600 sites that makes one more backs 8 rows (2 pages at
 * most), not 300; where a large step finds no room, the least is taken. */
static void test_many_sites_few_steps(void **state)
{
	(void)state;
	long before = file_pages(getpid());
	sites_up_to(600);
	long at600 = file_pages(getpid());
	uint64_t rows = jm__stats_test_site_rows();
	print_message("600 sites: %u steps, %llu rows backed, the file %ld pages more than "
	    "at 21\n", jm__stats_test_site_steps, (unsigned long long)rows, at600 - before);
	assert_true(jm__stats_test_site_steps <= 11);
	assert_true(rows >= 600 && rows <= 900);
	if (on_tmpfs)
		assert_true(at600 - before <= row_pages(900) - 3);

	pid_t pid = fork();
	if (pid == 0) {
		jm__stats_publish_child();
		long child = file_pages(getpid());
		if (child < 0)
			_exit(2);
		descend(DEPTH, next_path++);
		if (jm__seg->nsites_hw != 601)
			_exit(3);
		if (row_pages(jm__stats_test_site_rows()) > row_pages(600) + 2)
			_exit(4);
		long after = file_pages(getpid());
		if (on_tmpfs && after - child > 2)
			_exit(5);
		/* A file system with room for 3 pages at a time: the steps
		 * that would take more take the least (8 rows) instead, and
		 * every site has its row. */
		jm__stats_test_back_max = 3 * 4096;
		uint64_t dropped = jm__seg->sites_dropped;
		for (uint32_t hw = 601; hw < 700; hw++) {
			descend(DEPTH, next_path++);
			if (jm__seg->nsites_hw != hw + 1)
				_exit(6);
		}
		if (jm__seg->sites_dropped != dropped ||
		    jm__stats_test_site_rows() > 700 + 8 + 4096 / jm__seg->site_stride)
			_exit(7);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(wait_child(pid), 0);

	sites_up_to(1 << DEPTH);
	print_message("1024 sites: %u steps\n", jm__stats_test_site_steps);
	assert_true(jm__stats_test_site_steps <= 12);
}

/* The site row (row + 1 = site) of the segment, and its live bytes by
 * class (JM_NBINS: large and huge). */
static struct jmstat_site *row_of(uint32_t site)
{
	assert_true(site > 0);
	return (struct jmstat_site *)(jm__stats_at(jm__segp.site_off) +
	    (size_t)(site - 1) * jm__segp.site_stride);
}

static uint64_t row_class(uint32_t site, unsigned cls)
{
	return ((const uint64_t *)(row_of(site) + 1))[cls];
}

static struct jm_run *run_of(const void *p)
{
	struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
	return jm__chunk_run(c, JM_PM_START(c->pagemap[((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE]));
}

static struct jm_huge *huge_of(const void *p)
{
	uintptr_t e = jm__rtree_get((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
	assert_true(e & JM_RTREE_HUGE);
	return (struct jm_huge *)(e & ~(uintptr_t)JM_RTREE_HUGE);
}

static uint64_t cursampled(unsigned cls)
{
	return __atomic_load_n(&jm__thread_arena()->bins[cls].stats->cursampled, __ATOMIC_ACQUIRE);
}

/* Its site holds `bytes` live, all in class cls, one object. */
static void site_holds(uint32_t site, uint64_t bytes, unsigned cls)
{
	struct jmstat_site *r = row_of(site);
	uint64_t sum = 0;
	for (unsigned b = 0; b <= JM_NBINS; b++)
		sum += row_class(site, b);
	if (r->live_bytes != bytes || row_class(site, cls) != bytes || sum != bytes ||
	    r->live_objects != (bytes ? 1 : 0) || r->samples_live != (bytes ? 1 : 0) ||
	    r->alloc_bytes < r->live_bytes)
		fail_msg("site %u: live %llu (want %llu), class %u %llu, classes %llu, objects %llu, "
		    "samples %llu, allocated %llu", site, (unsigned long long)r->live_bytes,
		    (unsigned long long)bytes, cls, (unsigned long long)row_class(site, cls),
		    (unsigned long long)sum, (unsigned long long)r->live_objects,
		    (unsigned long long)r->samples_live, (unsigned long long)r->alloc_bytes);
}

/* A sampled region that realloc resizes in place is counted at its site
 * at its new size (every allocation sampled here, at weight 1: a site's
 * live bytes are its objects' sizes), in the class of that size, and its
 * free takes it all off; a small size's cursampled follows it. Until
 * session 35 its site kept the size it was sampled at until its free: a
 * 1 MiB region cut to 600000 B in place showed 1 MiB; an 8 MiB huge one
 * cut to 3 MiB, 8; one grown within its pages, the smaller size. */
static void test_sampled_resized(void **state)
{
	(void)state;
	size_t mib = 1u << 20;
	/* Large, cut in place (a quarter to a half), then grown within
	 * its run, then cut by less than a quarter (kept whole). */
	char *p = jm_malloc(mib);
	assert_non_null(p);
	uint32_t s = run_of(p)->prof_site;
	site_holds(s, mib, JM_NBINS);
	assert_ptr_equal(jm_realloc(p, 600000), p);
	site_holds(s, 600000, JM_NBINS);                /* before: 1 MiB */
	assert_ptr_equal(jm_realloc(p, 602000), p);     /* 147 pages: 602112 */
	site_holds(s, 602000, JM_NBINS);
	assert_ptr_equal(jm_realloc(p, 500000), p);
	site_holds(s, 500000, JM_NBINS);
	jm_free(p);
	site_holds(s, 0, JM_NBINS);

	/* Large cut in place to a small size: its class, and cursampled. */
	unsigned c30 = jm__size2bin(30000);
	uint64_t before30 = cursampled(c30);
	p = jm_malloc(40000);                           /* 10 pages */
	assert_non_null(p);
	s = run_of(p)->prof_site;
	assert_ptr_equal(jm_realloc(p, 30000), p);
	site_holds(s, 30000, c30);
	assert_int_equal(cursampled(c30), before30 + 1);
	jm_free(p);
	site_holds(s, 0, c30);
	assert_int_equal(cursampled(c30), before30);

	/* Small (a page of its own), grown within its page. */
	unsigned c100 = jm__size2bin(100), c3000 = jm__size2bin(3000);
	uint64_t before100 = cursampled(c100), before3000 = cursampled(c3000);
	p = jm_malloc(100);
	assert_non_null(p);
	s = run_of(p)->prof_site;
	site_holds(s, 100, c100);
	assert_int_equal(cursampled(c100), before100 + 1);
	assert_ptr_equal(jm_realloc(p, 3000), p);
	site_holds(s, 3000, c3000);                     /* before: 100, its class */
	assert_int_equal(row_class(s, c100), 0);
	assert_int_equal(cursampled(c100), before100);
	assert_int_equal(cursampled(c3000), before3000 + 1);
	jm_free(p);
	site_holds(s, 0, c3000);
	assert_int_equal(cursampled(c3000), before3000);

	/* Huge: cut in place, grown within its mapping, cut by less than a
	 * quarter, cut to a large size; always the large class. */
	p = jm_malloc(8 * mib);
	assert_non_null(p);
	s = huge_of(p)->prof_site;
	site_holds(s, 8 * mib, JM_NBINS);
	assert_ptr_equal(jm_realloc(p, 3 * mib), p);
	site_holds(s, 3 * mib, JM_NBINS);               /* before: 8 MiB */
	size_t map = huge_of(p)->map_size;
	if (huge_of(p)->size < map) {
		size_t up = huge_of(p)->size + JM_PAGE;
		char *q = jm_realloc(p, up);
		if (q == p && huge_of(p)->map_size == map && huge_of(p)->prof_site == s)
			site_holds(s, up, JM_NBINS);
		p = q;
		s = huge_of(p)->prof_site;
	}
	if (s) {
		size_t cut = huge_of(p)->size - 100;
		assert_ptr_equal(jm_realloc(p, cut), p);
		site_holds(s, cut, JM_NBINS);
		assert_ptr_equal(jm_realloc(p, 100000), p);
		site_holds(s, 100000, JM_NBINS);
	}
	jm_free(p);
	if (s)
		site_holds(s, 0, JM_NBINS);
}

/* Two threads sampling at the same sites at once (prof.c's record: the
 * row's place found under the profile's lock, whether the region is huge
 * from its marking), their objects freed by the main thread. Each
 * thread's first allocation (at a site of its own) may be served huge
 * (jm__alloc_sampled on a fresh thread), which counts in the large
 * ones' class whatever its size; the others are a page of their own
 * (100 bytes: class c100), then one huge region each (8 MiB). */
#define CONC_N 200
struct conc {
	pthread_barrier_t *go;
	void *first;
	void *small[CONC_N];
	void *huge;
};

__attribute__((noinline)) static void *conc_first(void)
{
	void *p = jm_malloc(100);
	__asm__ volatile("");
	return p;
}

__attribute__((noinline)) static void *conc_small(void)
{
	void *p = jm_malloc(100);
	__asm__ volatile("");
	return p;
}

__attribute__((noinline)) static void *conc_huge(void)
{
	void *p = jm_malloc(8u << 20);
	__asm__ volatile("");
	return p;
}

static void *conc_thread(void *arg)
{
	struct conc *c = arg;
	c->first = conc_first();
	pthread_barrier_wait(c->go);
	for (int i = 0; i < CONC_N; i++)
		c->small[i] = conc_small();
	c->huge = conc_huge();
	return NULL;
}

static bool is_huge(const void *p)
{
	return (jm__rtree_get((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK) & JM_RTREE_HUGE) != 0;
}

static uint32_t site_of(const void *p)
{
	return is_huge(p) ? huge_of(p)->prof_site : run_of(p)->prof_site;
}

/* Its site holds `objects` objects, `bytes` live, all in class cls. */
static void site_holds_n(uint32_t site, uint64_t objects, uint64_t bytes, unsigned cls)
{
	struct jmstat_site *r = row_of(site);
	uint64_t sum = 0;
	for (unsigned b = 0; b <= JM_NBINS; b++)
		sum += row_class(site, b);
	if (r->live_bytes != bytes || row_class(site, cls) != bytes || sum != bytes ||
	    r->live_objects != objects || r->samples_live != objects)
		fail_msg("site %u: live %llu (want %llu), class %u %llu, classes %llu, objects %llu, "
		    "samples %llu (want %llu)", site, (unsigned long long)r->live_bytes,
		    (unsigned long long)bytes, cls, (unsigned long long)row_class(site, cls),
		    (unsigned long long)sum, (unsigned long long)r->live_objects,
		    (unsigned long long)r->samples_live, (unsigned long long)objects);
}

static void test_concurrent_same_site(void **state)
{
	(void)state;
	pthread_barrier_t go;
	assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
	struct conc c[2];
	pthread_t t[2];
	for (int i = 0; i < 2; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].go = &go;
		assert_int_equal(pthread_create(&t[i], NULL, conc_thread, &c[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&go);

	unsigned c100 = jm__size2bin(100);
	uint32_t s = site_of(c[0].small[0]), sh = site_of(c[0].huge), sf = site_of(c[0].first);
	assert_true(s != 0 && sh != 0 && sf != 0);
	assert_true(s != sh && s != sf && sh != sf);
	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < CONC_N; k++) {
			assert_false(is_huge(c[i].small[k]));
			assert_int_equal(site_of(c[i].small[k]), s);
		}
		assert_true(is_huge(c[i].huge));
		assert_int_equal(site_of(c[i].huge), sh);
		assert_int_equal(site_of(c[i].first), sf);
	}
	site_holds_n(s, 2 * CONC_N, 2 * CONC_N * 100, c100);
	site_holds_n(sh, 2, 2 * (8u << 20), JM_NBINS);
	/* The first ones: huge or not, each in its class. */
	uint64_t first_huge = 0, first_small = 0;
	for (int i = 0; i < 2; i++)
		*(is_huge(c[i].first) ? &first_huge : &first_small) += 100;
	assert_int_equal(row_class(sf, JM_NBINS), first_huge);
	assert_int_equal(row_class(sf, c100), first_small);
	assert_int_equal(row_of(sf)->samples_live, 2);

	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < CONC_N; k++)
			jm_free(c[i].small[k]);
		jm_free(c[i].huge);
		jm_free(c[i].first);
	}
	site_holds_n(s, 0, 0, c100);
	site_holds_n(sh, 0, 0, JM_NBINS);
	site_holds_n(sf, 0, 0, c100);
	assert_true(row_of(s)->alloc_bytes >= 2 * CONC_N * 100);
}

static int remove_dir(void **state)
{
	(void)state;
	DIR *d = opendir(stats_dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	rmdir(stats_dir);
	return 0;
}

int main(void)
{
	setenv("JMALLOC_CONF", "prof_sample:1,background_thread:0", 1);
	/* On /dev/shm where it is tmpfs, as segments are. */
	struct statfs sf;
	on_tmpfs = statfs("/dev/shm", &sf) == 0 && sf.f_type == TMPFS_MAGIC;
	snprintf(stats_dir, sizeof(stats_dir), on_tmpfs ? "/dev/shm/jm-sites.XXXXXX" :
	    "/tmp/jm-sites.XXXXXX");
	if (mkdtemp(stats_dir) == NULL) {
		on_tmpfs = false;
		snprintf(stats_dir, sizeof(stats_dir), "/tmp/jm-sites.XXXXXX");
		if (mkdtemp(stats_dir) == NULL)
			return 1;
	}
	setenv("JMALLOC_STATS_DIR", stats_dir, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_few_sites_small),
		cmocka_unit_test(test_sampled_resized),   /* before the table is full */
		cmocka_unit_test(test_concurrent_same_site),
		cmocka_unit_test(test_many_sites_few_steps),
	};
	return cmocka_run_group_tests(tests, NULL, remove_dir);
}
