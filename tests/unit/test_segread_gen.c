/*
 * test_segread_gen.c: reading the same segment again and again
 * (jm_seg_read_fd_since, common/segread_file.c).
 *
 * jmstatd reads every segment each interval, and most processes are idle
 * between two reads. Layout 3 (and 2): while every arena and bin row keeps
 * its seq, the rows are not read again (rows_unchanged, arenas and bins
 * NULL); the first tests hold a layout 3 file to that, and to everything
 * else being read as always: a row updated (seq moved by 2), a row being
 * written (seq odd), the thread caches (plain words, no seq) and the
 * header, against a full read of the same file. Layout 4: while the
 * header's generation is the one given, the rows are not even read: the
 * file's first page and its thread rows are all the bytes read
 * (jm_seg_bytes_read); a new generation reads them; a generation that
 * lies (rows changed, generation kept) gives the rows as they were, never
 * another file's or a torn copy; a read of layout 3's generation never
 * matches layout 4's, nor the other way round.
 */
#include "segread.c"
#include "segread_file.c"
#include "../fuzz/segsynth.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

static char tmpdir[4096];
static char path[4200];

static void write_file(const unsigned char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static int read_since(uint64_t gen, unsigned flags, struct jm_seg *seg)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err;

	assert_true(fd >= 0);
	err = jm_seg_read_fd_since(fd, flags, gen, seg);
	close(fd);
	return err;
}

/* The segment every test starts from (cmocka's setup): built from p,
 * written to path and read in full into full; finish (the teardown)
 * frees both and removes the file. */
static struct synth p;
static struct jm_seg full;
static size_t len;
static unsigned char *buf;

static int start_version(uint32_t version)
{
	p = synth_self(jmstat_layout_nbins(version), 3, 4);
	p.version = version;
	p.gen = 1000;
	p.nsites_max = 8;
	p.nsites_hw = 5;
	synth_name(path, sizeof path, tmpdir, &p);
	buf = synth_build(&p, &len);
	write_file(buf, len);
	assert_int_equal(read_since(0, 0, &full), 0);
	return 0;
}

/* Layout 3: no generation in the header; the rows' seqs tell. */
static int start(void **state)
{
	return start_version(3);
}

static int start4(void **state)
{
	return start_version(4);
}

static int finish(void **state)
{
	jm_seg_free(&full);
	unlink(path);
	free(buf);
	return 0;
}

/* What a read gives besides the rows must be the same either way. */
static void assert_same_rest(const struct jm_seg *a, const struct jm_seg *b)
{
	assert_memory_equal(&a->hdr, &b->hdr, sizeof a->hdr);
	assert_memory_equal(a->classes, b->classes, a->hdr.nbins * sizeof *a->classes);
	assert_memory_equal(a->tcache_ncached, b->tcache_ncached,
	                    a->hdr.nbins * sizeof *a->tcache_ncached);
	assert_memory_equal(a->tcache_nrequests, b->tcache_nrequests,
	                    a->hdr.nbins * sizeof *a->tcache_nrequests);
	assert_int_equal(a->nthreads_live, b->nthreads_live);
	assert_int_equal(a->nsites, b->nsites);
}

static void test_unchanged(void **state)
{
	struct jm_seg again, parsed;

	assert_false(full.rows_unchanged);
	assert_non_null(full.arenas);
	assert_non_null(full.bins);
	assert_true(full.rows_gen != 0);

	/* The pure parser counts the same generation. */
	assert_int_equal(jm_seg_parse(buf, len, &parsed), 0);
	assert_int_equal(parsed.rows_gen, full.rows_gen);
	jm_seg_free(&parsed);

	assert_int_equal(read_since(full.rows_gen, 0, &again), 0);
	assert_true(again.rows_unchanged);
	assert_null(again.arenas);
	assert_null(again.bins);
	assert_int_equal(again.rows_gen, full.rows_gen);
	assert_same_rest(&full, &again);

	/* Another generation than the file's: read in full. */
	jm_seg_free(&again);
	assert_int_equal(read_since(full.rows_gen + 2, 0, &again), 0);
	assert_false(again.rows_unchanged);
	assert_non_null(again.bins);
	assert_int_equal(again.rows_gen, full.rows_gen);
	jm_seg_free(&again);
}

/* One row updated as the writer does (seq up by 2): read in full, with
 * the new value and the new generation. */
static void test_row_updated(void **state)
{
	struct jm_seg again;

	synth_bin(buf, 2, 4)->nmalloc += 1000;
	synth_bin(buf, 2, 4)->seq += 2;
	write_file(buf, len);
	assert_int_equal(read_since(full.rows_gen, 0, &again), 0);
	assert_false(again.rows_unchanged);
	assert_int_equal(again.rows_gen, full.rows_gen + 2);
	assert_int_equal(again.bins[2 * p.nbins + 4].nmalloc, full.bins[2 * p.nbins + 4].nmalloc + 1000);
	jm_seg_free(&again);

	synth_arena(buf, 1)->mapped += 4096;
	synth_arena(buf, 1)->seq += 2;
	write_file(buf, len);
	assert_int_equal(read_since(full.rows_gen + 2, 0, &again), 0);
	assert_false(again.rows_unchanged);
	assert_int_equal(again.arenas[1].mapped, full.arenas[1].mapped + 4096);
	jm_seg_free(&again);
}

/* A row being written (seq odd) is never taken for unchanged, even when
 * the sum of the seqs comes out the same: the file reader retries it and
 * reports it busy, as it does without a generation. */
static void test_row_odd(void **state)
{
	struct jm_seg again;

	synth_bin(buf, 0, 0)->seq += 1;
	synth_bin(buf, 0, 1)->seq -= 1;          /* the sum is unchanged */
	write_file(buf, len);
	assert_int_equal(read_since(full.rows_gen, 0, &again), JM_SEG_EBUSY);
}

/* The thread caches carry no seq: they are read every time, rows
 * unchanged or not; so are the header's counts and the sites. */
static void test_caches_and_header(void **state)
{
	struct jm_seg again, fresh;
	uint32_t t;

	for (t = 0; t < p.nthreads_max && !synth_thread_live(t); t++)
		;
	assert_true(t < p.nthreads_max);
	synth_tcache(buf, t, 3)->nrequests += 77;
	synth_tcache(buf, t, 3)->ncached_less_max += 5;
	synth_hdr(buf)->sites_dropped += 9;
	write_file(buf, len);
	assert_int_equal(read_since(full.rows_gen, 0, &again), 0);
	assert_true(again.rows_unchanged);
	assert_int_equal(again.tcache_nrequests[3], full.tcache_nrequests[3] + 77);
	assert_int_equal(again.tcache_ncached[3], full.tcache_ncached[3] + 5);
	assert_int_equal(again.hdr.sites_dropped, full.hdr.sites_dropped + 9);
	assert_int_equal(read_since(0, 0, &fresh), 0);
	assert_same_rest(&fresh, &again);
	assert_int_equal(again.nsites, p.nsites_hw);
	jm_seg_free(&fresh);
	jm_seg_free(&again);

	/* Sites skipped on request, rows unchanged or not. */
	assert_int_equal(read_since(full.rows_gen, JM_SEG_NO_SITES, &again), 0);
	assert_true(again.rows_unchanged);
	assert_int_equal(again.nsites, 0);
	assert_null(again.sites);
	assert_null(again.site_bins);
	jm_seg_free(&again);
}

/* Layout 4: the generation of the header, read before the rows. */
static void test_gen_unchanged(void **state)
{
	struct jm_seg again;
	uint64_t before;

	assert_int_equal(full.hdr.version, 4);
	assert_int_equal(full.rows_gen, 1000 | JM_SEG_GEN_TAG);
	/* Unchanged: the first page (header, classes) and the thread rows
	 * below nthreads_hw, nothing of the arena and bin rows. */
	before = jm_seg_bytes_read();
	assert_int_equal(read_since(full.rows_gen, JM_SEG_NO_SITES, &again), 0);
	assert_int_equal(jm_seg_bytes_read() - before,
	                 JMSTAT_PAGE_SIZE + (uint64_t)p.nthreads_max * synth_stride(&p));
	assert_true(again.rows_unchanged);
	assert_null(again.arenas);
	assert_null(again.bins);
	assert_int_equal(again.rows_gen, full.rows_gen);
	assert_memory_equal(&again.hdr, &full.hdr, sizeof again.hdr);
	assert_int_equal(again.nsites, 0);
	jm_seg_free(&again);

	/* A full read costs the rows besides (the comparison: a read of
	 * unchanged rows costs what a full one did before layout 4). */
	before = jm_seg_bytes_read();
	assert_int_equal(read_since(0, JM_SEG_NO_SITES, &again), 0);
	assert_true(jm_seg_bytes_read() - before >=
	            synth_bin_off(&p) + (uint64_t)p.narenas * p.nbins * sizeof(struct jmstat_bin));
	assert_false(again.rows_unchanged);
	jm_seg_free(&again);

	/* With the sites: read as always, the rows still not. */
	assert_int_equal(read_since(full.rows_gen, 0, &again), 0);
	assert_true(again.rows_unchanged);
	assert_int_equal(again.nsites, p.nsites_hw);
	assert_same_rest(&full, &again);
	jm_seg_free(&again);
}

/* A row published (seq up by 2, then the generation up by 1): read in
 * full, the new value and generation; the thread caches, without a
 * generation, are read whatever it says. */
static void test_gen_moved(void **state)
{
	struct jm_seg again;
	uint32_t t;

	synth_bin(buf, 2, 4)->nmalloc += 1000;
	synth_bin(buf, 2, 4)->seq += 2;
	synth_hdr(buf)->gen++;
	for (t = 0; t < p.nthreads_max && !synth_thread_live(t); t++)
		;
	synth_tcache(buf, t, 3)->nrequests += 77;
	write_file(buf, len);
	assert_int_equal(read_since(full.rows_gen, 0, &again), 0);
	assert_false(again.rows_unchanged);
	assert_int_equal(again.rows_gen, 1001 | JM_SEG_GEN_TAG);
	assert_int_equal(again.bins[2 * p.nbins + 4].nmalloc, full.bins[2 * p.nbins + 4].nmalloc + 1000);
	assert_int_equal(again.tcache_nrequests[3], full.tcache_nrequests[3] + 77);
	jm_seg_free(&again);

	/* Only a cache moved: rows not read, the cache's new count is. */
	synth_tcache(buf, t, 3)->nrequests += 5;
	write_file(buf, len);
	assert_int_equal(read_since(1001 | JM_SEG_GEN_TAG, 0, &again), 0);
	assert_true(again.rows_unchanged);
	assert_int_equal(again.tcache_nrequests[3], full.tcache_nrequests[3] + 82);
	jm_seg_free(&again);
}

/* A writer that lies (a row changed, the generation kept): the reader
 * that trusts it gets rows_unchanged, the rows it has: a delay, which
 * jmstatd bounds (JMD_GEN_TRUST, test_jmd_segfd.c); and a read without
 * a generation sees the change. Its odd rows are not seen either. */
static void test_gen_lie(void **state)
{
	struct jm_seg again;

	synth_bin(buf, 1, 1)->nmalloc += 50;
	synth_bin(buf, 1, 1)->seq += 2;
	synth_arena(buf, 0)->seq += 1;         /* mid-update, for good */
	write_file(buf, len);
	assert_int_equal(read_since(full.rows_gen, 0, &again), 0);
	assert_true(again.rows_unchanged);
	assert_null(again.bins);
	jm_seg_free(&again);
	assert_int_equal(read_since(0, 0, &again), JM_SEG_EBUSY);
	synth_arena(buf, 0)->seq += 1;
	write_file(buf, len);
	assert_int_equal(read_since(0, 0, &again), 0);
	assert_int_equal(again.bins[1 * p.nbins + 1].nmalloc, full.bins[1 * p.nbins + 1].nmalloc + 50);
	assert_int_equal(again.rows_gen, full.rows_gen);
	jm_seg_free(&again);
}

/* The version field is the writer's too: a file that says layout 3 is
 * read by its seqs whatever its generation, and a generation given from a
 * layout 3 read is never taken for a layout 4 header's (the tag): it is
 * checked against the rows' seqs; nor the other way round, whatever the
 * numbers. */
static void test_gen_versions(void **state)
{
	struct jm_seg again, three;

	synth_hdr(buf)->version = 3;
	write_file(buf, len);
	assert_int_equal(read_since(0, 0, &three), 0);
	assert_true(three.rows_gen != 0);
	assert_int_equal(three.rows_gen & JM_SEG_GEN_TAG, 0);
	/* The generation of the layout 4 read: not a layout 3 one. */
	assert_int_equal(read_since(full.rows_gen, 0, &again), 0);
	assert_false(again.rows_unchanged);
	jm_seg_free(&again);
	/* Layout 4 again, its gen the layout 3 read's number: taken for
	 * the seqs' sum it is (the rows read, not copied), not for a
	 * generation; the read's generation is the header's. */
	synth_hdr(buf)->version = 4;
	synth_hdr(buf)->gen = three.rows_gen;
	write_file(buf, len);
	assert_int_equal(read_since(three.rows_gen, 0, &again), 0);
	assert_true(again.rows_unchanged);
	assert_int_equal(again.rows_seqs, three.rows_gen);
	assert_int_equal(again.rows_gen, three.rows_gen | JM_SEG_GEN_TAG);
	jm_seg_free(&again);
	synth_bin(buf, 0, 0)->seq += 2;
	write_file(buf, len);
	assert_int_equal(read_since(three.rows_gen, 0, &again), 0);
	assert_false(again.rows_unchanged);
	assert_int_equal(again.rows_seqs, three.rows_gen + 2);
	jm_seg_free(&again);
	jm_seg_free(&three);
}

/* Layout 4, a generation checked against the seqs (what jmstatd does
 * every JMD_GEN_TRUST reads): the rows are read, not copied, while their
 * seqs are the same; a lie of the generation is seen by this read. */
static void test_gen_checked(void **state)
{
	struct jm_seg again;
	uint64_t before;

	assert_true(full.rows_seqs != 0);
	assert_int_equal(full.rows_seqs & JM_SEG_GEN_TAG, 0);
	before = jm_seg_bytes_read();
	assert_int_equal(read_since(full.rows_seqs, JM_SEG_NO_SITES, &again), 0);
	assert_true(jm_seg_bytes_read() - before >= (uint64_t)p.narenas * p.nbins * sizeof(struct jmstat_bin));
	assert_true(again.rows_unchanged);
	assert_null(again.bins);
	assert_int_equal(again.rows_gen, full.rows_gen);
	assert_int_equal(again.rows_seqs, full.rows_seqs);
	jm_seg_free(&again);

	synth_bin(buf, 2, 7)->nmalloc += 3;
	synth_bin(buf, 2, 7)->seq += 2;       /* the generation kept: a lie */
	write_file(buf, len);
	assert_int_equal(read_since(full.rows_gen, 0, &again), 0);
	assert_true(again.rows_unchanged);
	jm_seg_free(&again);
	assert_int_equal(read_since(full.rows_seqs, 0, &again), 0);
	assert_false(again.rows_unchanged);
	assert_int_equal(again.bins[2 * p.nbins + 7].nmalloc, full.bins[2 * p.nbins + 7].nmalloc + 3);
	assert_int_equal(again.rows_seqs, full.rows_seqs + 2);
	assert_int_equal(again.rows_gen, full.rows_gen);
	jm_seg_free(&again);
}

/* A bin row's cursampled moves outside its seq (liballoc/bin.c: one
 * atomic add at a sample and at its free, then the header's generation):
 * a read checked by the rows' seqs (jmstatd's, for a process whose
 * figures move, and every JMD_GEN_TRUST reads) must still see it move,
 * and not record the header's new generation for the rows it kept (the
 * next reads, trusting that generation, kept the old count until the
 * rows were copied again, up to JMD_ROWS_COPY reads later). A move up in
 * one row and down in another, the sum the same, is seen too. */
static void test_sampled_moved(void **state)
{
	struct jm_seg again, next;

	synth_bin(buf, 1, 3)->cursampled += 1;
	synth_hdr(buf)->gen++;
	write_file(buf, len);
	assert_int_equal(read_since(full.rows_seqs, 0, &again), 0);
	assert_false(again.rows_unchanged);
	assert_non_null(again.bins);
	assert_int_equal(again.bins[1 * p.nbins + 3].cursampled, full.bins[1 * p.nbins + 3].cursampled + 1);
	assert_int_equal(again.rows_gen, 1001 | JM_SEG_GEN_TAG);
	assert_true(again.rows_seqs != 0 && again.rows_seqs != full.rows_seqs);
	assert_int_equal(again.rows_seqs & JM_SEG_GEN_TAG, 0);

	synth_bin(buf, 1, 3)->cursampled -= 1;
	synth_bin(buf, 2, 5)->cursampled += 1;
	synth_hdr(buf)->gen++;
	write_file(buf, len);
	assert_int_equal(read_since(again.rows_seqs, 0, &next), 0);
	assert_false(next.rows_unchanged);
	assert_int_equal(next.bins[2 * p.nbins + 5].cursampled, full.bins[2 * p.nbins + 5].cursampled + 1);
	/* Unchanged since: taken as such. */
	jm_seg_free(&again);
	assert_int_equal(read_since(next.rows_seqs, 0, &again), 0);
	assert_true(again.rows_unchanged);
	assert_int_equal(again.rows_seqs, next.rows_seqs);
	jm_seg_free(&again);
	jm_seg_free(&next);

	/* The pure parser counts the same. */
	struct jm_seg parsed;
	assert_int_equal(read_since(0, 0, &again), 0);
	assert_int_equal(jm_seg_parse(buf, len, &parsed), 0);
	assert_int_equal(parsed.rows_seqs, again.rows_seqs);
	jm_seg_free(&parsed);
	jm_seg_free(&again);
}

static int setup_tmpdir(void **state)
{
	const char *base = getenv("JM_TMP");

	snprintf(tmpdir, sizeof tmpdir, "%s/segread_gen.XXXXXX", base && *base ? base : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unchanged, start, finish),
		cmocka_unit_test_setup_teardown(test_row_updated, start, finish),
		cmocka_unit_test_setup_teardown(test_row_odd, start, finish),
		cmocka_unit_test_setup_teardown(test_caches_and_header, start, finish),
		cmocka_unit_test_setup_teardown(test_gen_unchanged, start4, finish),
		cmocka_unit_test_setup_teardown(test_gen_moved, start4, finish),
		cmocka_unit_test_setup_teardown(test_gen_lie, start4, finish),
		cmocka_unit_test_setup_teardown(test_gen_versions, start4, finish),
		cmocka_unit_test_setup_teardown(test_gen_checked, start4, finish),
		cmocka_unit_test_setup_teardown(test_sampled_moved, start4, finish),
	};

	return cmocka_run_group_tests(tests, setup_tmpdir, remove_tmpdir);
}
