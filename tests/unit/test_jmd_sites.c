/*
 * test_jmd_sites.c: the bound and the error of the sites' estimates
 * (jmstatd/sites.c, docs/sites.md):
 * - jmd_sites_bound: per size class, the sites' estimates are scaled down
 *   to what the process holds in that class (its bins' exact inuse x
 *   size; for large and huge, its large and huge bytes less the pages of
 *   its sampled small objects), never up; classes that fit keep 1;
 * - jmd_site_bounded: a site's bytes so scaled, and its objects class by
 *   class as its bytes;
 * - jmd_site_error: one standard error, about sqrt(samples) x sample_bytes
 *   for objects much smaller than the period, about 0 for those much
 *   larger (sampled almost surely), 0 without samples.
 */
#include "jmd_test.h"

#include <math.h>

#define NBINS 3

static void test_bound(void **state)
{
	(void)state;
	struct jmd_proc *p = jmdt_proc_new(42, 7, "t", NBINS);
	struct jmd_arena arena;
	memset(&arena, 0, sizeof(arena));
	arena.raw.allocated_large = 10 * 4096;   /* 2 of its pages hold sampled small objects */
	arena.raw.allocated_huge = 0;
	p->arenas = &arena;
	p->narenas = 1;
	p->bins[0].inuse = 100;                   /* 16 B: 1600 B held */
	p->bins[1].inuse = 1000;                  /* 32 B: 32000 B held */
	p->bins[1].cursampled = 2;
	p->bins[2].inuse = 0;                     /* 48 B: nothing */

	struct jmstat_site sites[3];
	uint64_t bins[3 * (NBINS + 1)];
	memset(sites, 0, sizeof(sites));
	memset(bins, 0, sizeof(bins));
	struct jm_seg seg;
	memset(&seg, 0, sizeof(seg));
	seg.hdr.nbins = NBINS;
	seg.hdr.page_size = 4096;
	seg.sites = sites;
	seg.site_bins = bins;
	seg.nsites = 3;
	sites[0].nframes = 1;
	sites[1].nframes = 1;
	sites[2].nframes = 0;                     /* unused: not counted */
	bins[0 * (NBINS + 1) + 0] = 3200;         /* class 16: twice what is held */
	bins[1 * (NBINS + 1) + 0] = 3200;
	bins[0 * (NBINS + 1) + 1] = 1000;         /* class 32: fits */
	bins[1 * (NBINS + 1) + 2] = 500;          /* class 48: nothing held */
	bins[0 * (NBINS + 1) + 3] = 4 * 4096;     /* large: 8 pages held, 16 estimated */
	bins[1 * (NBINS + 1) + 3] = 12 * 4096;
	bins[2 * (NBINS + 1) + 0] = 1 << 30;      /* the unused row */

	double f[NBINS + 1];
	jmd_sites_bound(p, &seg, f);
	assert_true(fabs(f[0] - 1600.0 / 6400.0) < 1e-12);
	assert_true(f[1] == 1.0);
	assert_true(f[2] == 0.0);
	assert_true(fabs(f[3] - 8.0 / 16.0) < 1e-12);

	p->arenas = NULL;
	p->narenas = 0;
	jmdt_proc_free(p);
}

/* A site's objects brought down class by class as its bytes are
 * (jmd_site_bounded): shared among its classes as its bytes over their
 * region size, each share scaled by its class's factor; a site that no
 * bound touches keeps the row's count. */
static void test_site_bounded(void **state)
{
	(void)state;
	struct jmstat_class classes[NBINS] = { { .size = 16 }, { .size = 32 }, { .size = 48 } };
	struct jm_seg seg;
	memset(&seg, 0, sizeof(seg));
	seg.hdr.nbins = NBINS;
	seg.classes = classes;
	struct jmstat_site row;
	memset(&row, 0, sizeof(row));
	/* 1000 objects of 16 B and 1000 of 48 B: 16000 and 48000 bytes. */
	uint64_t bins[NBINS + 1] = { 16000, 0, 48000, 0 };
	row.live_objects = 2000;
	row.live_bytes = 64000;
	double f[NBINS + 1] = { 1.0, 1.0, 0.1, 1.0 };
	uint64_t live, objects;
	bool bounded;
	jmd_site_bounded(&seg, &row, bins, f, &live, &objects, &bounded);
	assert_true(bounded);
	assert_int_equal(live, 16000 + 4800);
	/* 1000 + 100; by the bytes' ratio (20800 / 64000) it was 650. */
	assert_int_equal(objects, 1100);
	f[0] = 0.5;
	f[2] = 1.0;
	jmd_site_bounded(&seg, &row, bins, f, &live, &objects, &bounded);
	assert_int_equal(live, 8000 + 48000);
	assert_int_equal(objects, 1500);          /* by the bytes' ratio: 1750 */
	/* Large bytes count as objects of the least large size. */
	uint64_t big[NBINS + 1] = { 0, 0, 0, 49 * 1000 };
	row.live_objects = 1000;
	f[3] = 0.25;
	jmd_site_bounded(&seg, &row, big, f, &live, &objects, &bounded);
	assert_int_equal(live, 12250);
	assert_int_equal(objects, 250);
	/* One object brought down by less than itself (vips' 2.22 MiB
	 * buffer, sampled once, bounded to 2.01 MiB held): its bytes are
	 * still live, so is it; a count of 0 is what jmctl showed. */
	uint64_t one[NBINS + 1] = { 0, 0, 0, 2330000 };
	row.live_objects = 1;
	f[3] = 0.905;
	jmd_site_bounded(&seg, &row, one, f, &live, &objects, &bounded);
	assert_true(bounded);
	assert_int_equal(live, 2108650);
	assert_int_equal(objects, 1);
	/* Nor does a site of several classes lose its last one. */
	uint64_t two[NBINS + 1] = { 16, 0, 0, 2330000 };
	row.live_objects = 2;
	f[0] = 0.1;
	f[3] = 0.1;
	jmd_site_bounded(&seg, &row, two, f, &live, &objects, &bounded);
	assert_int_equal(live, 1 + 233000);
	assert_int_equal(objects, 1);
	f[0] = 1.0;
	/* Nothing brought down: the row's count, exactly. */
	f[0] = f[1] = f[2] = f[3] = 1.0;
	row.live_objects = 2001;
	jmd_site_bounded(&seg, &row, bins, f, &live, &objects, &bounded);
	assert_false(bounded);
	assert_int_equal(live, 64000);
	assert_int_equal(objects, 2001);
	/* A factor below 1 in a class the site has nothing in: not bounded. */
	f[1] = 0.0;
	jmd_site_bounded(&seg, &row, bins, f, &live, &objects, &bounded);
	assert_false(bounded);
	assert_int_equal(objects, 2001);
}

static void test_error(void **state)
{
	(void)state;
	const uint64_t S = 524288;
	/* 100 samples of 64-byte objects: each weighs about S. */
	double e = jmd_site_error(100.0 * S, 100, S);
	assert_true(fabs(e - 10.0 * S) < 0.01 * 10.0 * S);
	/* Huge objects: sampled almost surely, no error to speak of. */
	e = jmd_site_error(4.0 * 64 * 1048576, 4, S);
	assert_true(e < 1.0);
	/* Nothing sampled: nothing to say. */
	assert_true(jmd_site_error(0, 0, S) == 0);
	assert_true(jmd_site_error(1000, 3, 0) == 0);
	/* Objects of the period's size: in between. */
	e = jmd_site_error(100.0 * S / (1 - exp(-1.0)), 100, S);
	double want = 10.0 * S / (1 - exp(-1.0)) * sqrt(exp(-1.0));
	assert_true(fabs(e - want) < 0.01 * want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_site_bounded),
		cmocka_unit_test(test_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
