/*
 * test_segread.c: the stats-segment reader's parser (common/segread.c) and
 * process check (common/segread_proc.c); the file reader is tested by
 * test_segread_file.c.
 *
 * The parser against every case of tests/fuzz/segcases.h (valid and
 * hostile segments, each with its expected result), every counter of a
 * valid segment checked in place, the error messages and segment names;
 * the process check against ourselves, a dead child, a zombie and a reused
 * pid.
 *
 * The reader's files are compiled into this test (unit tests link only the
 * allocator's test build), which also gives access to their static helpers.
 */
#include "segread.c"
#include "segread_proc.c"
#include "../fuzz/segcases.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/wait.h>

#include "segcheck.h"

/* ----------------------------------------------------------- the parser */

static void test_cases(void **state)
{
	int failures = 0;

	for (size_t i = 0; i < SEG_NCASES; i++) {
		const struct seg_case *c = &seg_cases[i];
		struct jm_seg seg;
		size_t len, cap;
		unsigned char *buf = seg_case_build(c, &len, &cap);
		int got = jm_seg_parse(buf, len, &seg);

		if (got != c->want) {
			print_error("case %s: got %d (%s), want %d (%s)\n", c->name, got,
			            jm_seg_strerror(got), c->want, jm_seg_strerror(c->want));
			failures++;
		}
		if (got != 0) {
			/* On error the output is left zeroed. */
			assert_null(seg.classes);
			assert_null(seg.bins);
			assert_int_equal(seg.hdr.magic, 0);
		}
		jm_seg_free(&seg);
		free(buf);
	}
	assert_int_equal(failures, 0);
}

static void test_valid_contents(void **state)
{
	struct synth p = seg_case_params();
	struct jm_seg seg;
	size_t len;
	unsigned char *buf;

	p.narenas = 8;
	p.nthreads_max = 7;
	p.header_pad = 24;
	p.nsites_max = 40;
	p.nsites_hw = 33;
	buf = synth_build(&p, &len);
	assert_int_equal(jm_seg_parse(buf, len, &seg), 0);
	check_contents(&seg, &p);
	jm_seg_free(&seg);
	jm_seg_free(&seg);                 /* twice is safe */
	assert_null(seg.bins);
	free(buf);
}

/* Thread rows whose counts are all 2^64 - 1 (a writer forging its own
 * segment) sum to 2^64 - 1, not to what the addition wraps to. */
static void test_thread_sums_saturate(void **state)
{
	struct synth p = seg_case_params();
	struct jm_seg seg;
	size_t len;
	unsigned char *buf;

	p.narenas = 2;
	p.nthreads_max = 6;
	buf = synth_build(&p, &len);
	for (uint32_t t = 0; t < p.nthreads_max; t++) {
		synth_thread(buf, t)->large_cached = UINT64_MAX;
		for (uint32_t b = 0; b < p.nbins; b++)
			synth_tcache(buf, t, b)->nrequests = UINT64_MAX;
	}
	assert_int_equal(jm_seg_parse(buf, len, &seg), 0);
	assert_int_equal(seg.nthreads_live, 4);
	assert_true(seg.tcache_large_bytes == UINT64_MAX);
	for (uint32_t a = 0; a < p.narenas; a++)
		assert_true(seg.tcache_arena_large[a] == UINT64_MAX);
	for (uint32_t b = 0; b < p.nbins; b++)
		assert_true(seg.tcache_nrequests[b] == UINT64_MAX);
	jm_seg_free(&seg);
	free(buf);
}

/* A bin row not yet written (size 0) is accepted and given its size. */
static void test_bin_size_filled(void **state)
{
	struct synth p = seg_case_params();
	struct jm_seg seg;
	size_t len;
	unsigned char *buf = synth_build(&p, &len);

	synth_bin(buf, 1, 2)->size = 0;
	assert_int_equal(jm_seg_parse(buf, len, &seg), 0);
	check_contents(&seg, &p);
	jm_seg_free(&seg);
	free(buf);
}

static void test_exe_terminated(void **state)
{
	struct synth p = seg_case_params();
	struct jm_seg seg;
	size_t len;
	unsigned char *buf = synth_build(&p, &len);

	memset(synth_hdr(buf)->exe, 'x', JMSTAT_EXE_LEN);
	assert_int_equal(jm_seg_parse(buf, len, &seg), 0);
	assert_int_equal(strlen(seg.hdr.exe), JMSTAT_EXE_LEN - 1);
	jm_seg_free(&seg);
	memset(synth_hdr(buf)->path, 'y', JMSTAT_PATH_LEN);
	assert_int_equal(jm_seg_parse(buf, len, &seg), 0);
	assert_int_equal(strlen(seg.hdr.path), JMSTAT_PATH_LEN - 1);
	jm_seg_free(&seg);
	free(buf);
}

/* Every prefix of a valid segment is refused, none crashes. */
static void test_every_truncation(void **state)
{
	struct synth p = seg_case_params();
	struct jm_seg seg;
	size_t len;
	unsigned char *buf = synth_build(&p, &len);

	for (size_t l = 0; l < len; l++) {
		int err = jm_seg_parse(buf, l, &seg);

		assert_int_equal(err, JM_SEG_ETRUNC);
	}
	free(buf);
}

/* Every single-byte change of the header is either refused or harmless. */
static void test_header_bytes(void **state)
{
	struct synth p = seg_case_params();
	struct jm_seg seg;
	size_t len;
	unsigned char *buf = synth_build(&p, &len);

	for (size_t i = 0; i < sizeof(struct jmstat_header); i++) {
		for (int v = 0; v < 256; v += 17) {
			unsigned char old = buf[i];
			int err;

			buf[i] = (unsigned char)v;
			err = jm_seg_parse(buf, len, &seg);
			assert_true(err <= 0 && err >= JM_SEG_ENAME);   /* the parser's codes */
			if (err == 0) {
				assert_true(seg.hdr.nbins <= JM_SEG_MAX_NBINS);
				jm_seg_free(&seg);
			}
			buf[i] = old;
		}
	}
	free(buf);
}

static void test_strerror(void **state)
{
	for (int e = JM_SEG_EOLDVERSION; e <= 0; e++) {
		const char *m = jm_seg_strerror(e);

		assert_non_null(m);
		assert_true(strlen(m) > 0);
		for (int f = JM_SEG_EOLDVERSION; f < e; f++)
			assert_string_not_equal(m, jm_seg_strerror(f));
		assert_string_not_equal(m, jm_seg_strerror(-1000));
	}
	assert_non_null(strstr(jm_seg_strerror(JM_SEG_EVERSION), "newer jmalloc"));
	assert_non_null(strstr(jm_seg_strerror(JM_SEG_EVERSION), "upgrade jmstatd"));
	/* After an upgrade, a process started before it: no "upgrade jmstatd". */
	assert_non_null(strstr(jm_seg_strerror(JM_SEG_EOLDVERSION), "older"));
	assert_null(strstr(jm_seg_strerror(JM_SEG_EOLDVERSION), "upgrade jmstatd"));
	assert_non_null(jm_seg_strerror(1));
	assert_non_null(jm_seg_strerror(INT32_MIN));
}

static void test_pid_from_name(void **state)
{
	static const char *const bad[] = {
		"", "jmalloc.", "jmalloc..stats", "jmalloc.0.stats", "jmalloc.012.stats",
		"jmalloc.-1.stats", "jmalloc.+1.stats", "jmalloc. 1.stats", "jmalloc.1 .stats",
		"jmalloc.1.stats.tmp", "jmalloc.1.stat", "Jmalloc.1.stats", "xjmalloc.1.stats",
		"jmalloc.2147483648.stats", "jmalloc.99999999999999999999999.stats",
		"jmalloc.12a.stats", "jmalloc.1.stats/", "jmalloc.0x10.stats",
		/* the namespaced forms: pidns and start both, no zero, no leading
		 * zero, a tag of lower-case hex only, nothing after */
		"jmalloc.1.4026532178.stats", "jmalloc.1.0.5.stats", "jmalloc.1.4026532178.0.stats",
		"jmalloc.1.04026532178.5.stats", "jmalloc.1.4026532178.05.stats",
		"jmalloc.1.4026532178.5..stats", "jmalloc.1.4026532178.5.0.stats",
		"jmalloc.1.4026532178.5.8000000000000000.1.stats",
		"jmalloc.1.4026532178.5.8ABC.stats", "jmalloc.1.4026532178.5.g.stats",
		"jmalloc.1.4026532178.5.10000000000000000.stats",
		"jmalloc.1.18446744073709551616.5.stats", "jmalloc.1.4026532178.5.stats.x",
	};
	pid_t pid = 7;
	struct jmstat_name nm;

	assert_int_equal(jmstat_name_parse("jmalloc.1.4026532178.172636.stats", &nm), 0);
	assert_int_equal(nm.pid, 1);
	assert_true(nm.pidns == 4026532178u && nm.start == 172636 && nm.tag == 0);
	assert_int_equal(jmstat_name_parse("jmalloc.77.4026531836.9.f00dfeedcafe1234.stats", &nm), 0);
	assert_true(nm.pid == 77 && nm.pidns == JMSTAT_PIDNS_INIT && nm.start == 9 &&
	            nm.tag == 0xf00dfeedcafe1234ull);
	assert_int_equal(jmstat_name_parse("jmalloc.5.stats", &nm), 0);
	assert_true(nm.pid == 5 && nm.pidns == 0 && nm.start == 0 && nm.tag == 0);
	assert_int_equal(jmstat_name_parse("jmalloc.1.18446744073709551615.18446744073709551615."
	                                   "ffffffffffffffff.stats", &nm), 0);
	assert_true(strlen("jmalloc.2147483647.18446744073709551615.18446744073709551615."
	                   "ffffffffffffffff.stats") < JMSTAT_NAME_MAX);
	assert_int_equal(jm_seg_pid_from_name("jmalloc.3.4026532178.5.stats", &pid), 0);
	assert_int_equal(pid, 3);

	assert_int_equal(jm_seg_pid_from_name("jmalloc.1.stats", &pid), 0);
	assert_int_equal(pid, 1);
	assert_int_equal(jm_seg_pid_from_name("jmalloc.2147483647.stats", &pid), 0);
	assert_int_equal(pid, 2147483647);
	assert_int_equal(jm_seg_pid_from_name("jmalloc.40960.stats", &pid), 0);
	assert_int_equal(pid, 40960);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		pid = 7;
		if (jm_seg_pid_from_name(bad[i], &pid) != JM_SEG_ENAME)
			fail_msg("name \"%s\" accepted", bad[i]);
		assert_int_equal(pid, 7);
	}
}

/* A name and its header must agree: pid, and the namespace and start time
 * a namespaced name gives; a plain name is a writer of the host's pid
 * namespace (or of one it could not tell). */
static void test_name_matches(void **state)
{
	struct jmstat_header h = { .pid = 1, .pidns = 4026532178u, .start_time = 500 };
	struct jmstat_name nm;

	assert_int_equal(jmstat_name_parse("jmalloc.1.4026532178.500.stats", &nm), 0);
	assert_true(jm_seg_name_matches(&nm, &h));
	assert_int_equal(jmstat_name_parse("jmalloc.1.4026532178.500.abcdef0123456789.stats", &nm), 0);
	assert_true(jm_seg_name_matches(&nm, &h));
	assert_int_equal(jmstat_name_parse("jmalloc.1.4026532178.501.stats", &nm), 0);
	assert_false(jm_seg_name_matches(&nm, &h));
	assert_int_equal(jmstat_name_parse("jmalloc.1.4026532179.500.stats", &nm), 0);
	assert_false(jm_seg_name_matches(&nm, &h));
	assert_int_equal(jmstat_name_parse("jmalloc.2.4026532178.500.stats", &nm), 0);
	assert_false(jm_seg_name_matches(&nm, &h));
	/* a container's pid 1 under a plain name: the host's pid 1 it is not */
	assert_int_equal(jmstat_name_parse("jmalloc.1.stats", &nm), 0);
	assert_false(jm_seg_name_matches(&nm, &h));
	h.pidns = JMSTAT_PIDNS_INIT;
	assert_true(jm_seg_name_matches(&nm, &h));
	h.pidns = 0;
	assert_true(jm_seg_name_matches(&nm, &h));
}

/* ------------------------------------------------------ process checks */

static struct jm_seg self_seg(void)
{
	struct jm_seg seg;

	memset(&seg, 0, sizeof seg);
	seg.hdr.pid = (uint32_t)getpid();
	seg.hdr.uid = (uint32_t)getuid();
	seg.hdr.start_time = synth_start_time(0);
	return seg;
}

static void test_check_self(void **state)
{
	struct jm_seg seg = self_seg();

	assert_int_equal(jm_seg_check_process(&seg), 0);
	seg.hdr.start_time++;
	assert_int_equal(jm_seg_check_process(&seg), JM_SEG_EREUSED);
	seg.hdr.start_time--;
	seg.hdr.uid++;
	assert_int_equal(jm_seg_check_process(&seg), JM_SEG_EOWNER);
	seg.hdr.pid = 0;
	assert_int_equal(jm_seg_check_process(&seg), JM_SEG_EDEAD);
}

/* pid 1 is alive but is not us: our start time is not its. */
static void test_check_reused(void **state)
{
	struct jm_seg seg = self_seg();

	seg.hdr.pid = 1;
	if (synth_start_time(1) == seg.hdr.start_time)
		skip();
	assert_int_equal(jm_seg_check_process(&seg), JM_SEG_EREUSED);
}

static void test_check_dead_and_zombie(void **state)
{
	struct jm_seg seg = self_seg();
	siginfo_t si;
	int pipefd[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[1]);
		(void)!read(pipefd[0], &c, 1);    /* wait for the parent to look */
		_exit(0);
	}
	close(pipefd[0]);
	seg.hdr.pid = (uint32_t)pid;
	seg.hdr.start_time = synth_start_time(pid);
	assert_true(seg.hdr.start_time != 0);
	assert_int_equal(jm_seg_check_process(&seg), 0);

	/* Let it exit, and wait without reaping: a zombie. */
	close(pipefd[1]);
	memset(&si, 0, sizeof si);
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	assert_int_equal(jm_seg_check_process(&seg), JM_SEG_EDEAD);

	/* Reaped: gone. */
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(jm_seg_check_process(&seg), JM_SEG_EDEAD);
}

static void test_parse_stat(void **state)
{
	char st;
	uint64_t t;

	assert_true(jm_seg_parse_stat("12 (a) b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242 9 9",
	                       &st, &t));
	assert_int_equal(st, 'S');
	assert_int_equal(t, 424242);
	assert_false(jm_seg_parse_stat("12 (a) S 1 2 3", &st, &t));
	assert_false(jm_seg_parse_stat("no paren at all", &st, &t));
	assert_false(jm_seg_parse_stat("1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 x", &st, &t));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_valid_contents),
		cmocka_unit_test(test_bin_size_filled),
		cmocka_unit_test(test_thread_sums_saturate),
		cmocka_unit_test(test_exe_terminated),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_header_bytes),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_pid_from_name),
		cmocka_unit_test(test_name_matches),
		cmocka_unit_test(test_check_self),
		cmocka_unit_test(test_check_reused),
		cmocka_unit_test(test_check_dead_and_zombie),
		cmocka_unit_test(test_parse_stat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
