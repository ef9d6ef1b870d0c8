/*
 * test_segread.c: the stats-segment reader (common/segread.c).
 *
 * The parser against every case of tests/fuzz/segcases.h (valid and
 * hostile segments, each with its expected result), every counter of a
 * valid segment checked in place, the file reader against symlinks, fifos,
 * directories, wrong names, wrong owners, truncated and busy files, a
 * seqlock writer racing the reader, and the process check against
 * ourselves, a dead child, a zombie and a reused pid.
 *
 * segread.c is compiled into this test (unit tests link only the
 * allocator's test build), which also gives access to its static helpers.
 */
#include "segread.c"
#include "../fuzz/segcases.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

static char tmpdir[4096];

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

/* Every field of a valid segment lands where segread.h says. */
static void check_contents(const struct jm_seg *seg, const struct synth *p)
{
	uint64_t ncached, nrequests;
	uint32_t live = 0;
	unsigned k;

	assert_int_equal(seg->hdr.magic, JMSTAT_MAGIC);
	assert_int_equal(seg->hdr.pid, p->pid);
	assert_int_equal(seg->hdr.uid, p->uid);
	assert_int_equal(seg->hdr.start_time, p->start_time);
	assert_int_equal(seg->hdr.nbins, p->nbins);
	assert_int_equal(seg->hdr.narenas, p->narenas);
	assert_string_equal(seg->hdr.exe, "synth");
	assert_string_equal(seg->hdr.path, "/usr/bin/synth-1.0");
	for (uint32_t b = 0; b < p->nbins; b++) {
		assert_int_equal(seg->classes[b].size, synth_class_size(b));
		assert_true(seg->classes[b].regs_per_run >= 1);
	}
#define CHECK_ARENA_(name, type, unit, help) assert_int_equal(r->name, synth_arena_value(a, k++));
#define CHECK_BIN_(name, type, unit, help) assert_int_equal(rb->name, synth_bin_value(a, b, k++));
	for (uint32_t a = 0; a < p->narenas; a++) {
		const struct jmstat_arena *r = &seg->arenas[a];

		k = 0;
		assert_int_equal(r->index, a);
		JMSTAT_ARENA_COUNTERS(CHECK_ARENA_)
		for (uint32_t b = 0; b < p->nbins; b++) {
			const struct jmstat_bin *rb = &seg->bins[a * p->nbins + b];

			k = 0;
			assert_int_equal(rb->size, synth_class_size(b));
			JMSTAT_BIN_COUNTERS(CHECK_BIN_)
		}
	}
#undef CHECK_ARENA_
#undef CHECK_BIN_
	for (uint32_t t = 0; t < p->nthreads_max; t++)
		live += synth_thread_live(t);
	assert_int_equal(seg->nthreads_live, live);
	for (uint32_t b = 0; b < p->nbins; b++) {
		ncached = nrequests = 0;
		for (uint32_t t = 0; t < p->nthreads_max; t++) {
			if (!synth_thread_live(t))
				continue;
			ncached += synth_tc_ncached(t, b);
			nrequests += synth_tc_nrequests(t, b);
		}
		assert_int_equal(seg->tcache_ncached[b], ncached);
		assert_int_equal(seg->tcache_nrequests[b], nrequests);
	}
	/* The cached bytes, per arena of the thread that caches them. */
	uint64_t large_all = 0;
	for (uint32_t a = 0; a < p->narenas; a++) {
		uint64_t small = 0, large = 0;
		for (uint32_t t = 0; t < p->nthreads_max; t++) {
			if (!synth_thread_live(t) || synth_thread_arena(t, p->narenas) != a)
				continue;
			large += synth_tc_large(t);
			for (uint32_t b = 0; b < p->nbins; b++)
				small += (uint64_t)synth_tc_ncached(t, b) * synth_class_size(b);
		}
		assert_int_equal(seg->tcache_arena_small[a], small);
		assert_int_equal(seg->tcache_arena_large[a], large);
		large_all += large;
	}
	assert_int_equal(seg->tcache_large_bytes, large_all);
	assert_int_equal(seg->nsites, p->nsites_max ? p->nsites_hw : 0);
	assert_int_equal(seg->hdr.bg_wakes, 11);
	assert_int_equal(seg->hdr.bg_running, 1);
	if (p->nsites_max)
		assert_int_equal(seg->hdr.sites_dropped, 7);
	for (uint32_t i = 0; i < seg->nsites; i++) {
		const struct jmstat_site *s = &seg->sites[i];

		assert_int_equal(s->nframes, synth_site_nframes(i));
		for (uint32_t f = 0; f < s->nframes; f++)
			assert_int_equal(s->frames[f], synth_site_frame(i, f));
		assert_int_equal(s->live_bytes, synth_site_value(i, 0));
		assert_int_equal(s->live_objects, synth_site_value(i, 1));
		assert_int_equal(s->alloc_bytes, synth_site_value(i, 2));
		assert_int_equal(s->alloc_objects, synth_site_value(i, 3));
		assert_int_equal(s->samples_live, synth_site_value(i, 4));
		for (uint32_t b = 0; b <= p->nbins; b++)
			assert_int_equal(seg->site_bins[i * (p->nbins + 1) + b], synth_site_bin(i, b));
	}
	/* The module table, read with the sites. */
	assert_int_equal(seg->nmodules, p->nmodules_max ? p->nmodules : 0);
	for (uint32_t i = 0; i < seg->nmodules; i++) {
		struct jmstat_module want;

		synth_module_fill(&want, i);
		assert_memory_equal(&seg->modules[i], &want, sizeof want);
	}
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
			assert_true(err <= 0 && err >= JM_SEG_ENAME);
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
	for (int e = JM_SEG_ENAME; e <= 0; e++) {
		const char *m = jm_seg_strerror(e);

		assert_non_null(m);
		assert_true(strlen(m) > 0);
		for (int f = JM_SEG_ENAME; f < e; f++)
			assert_string_not_equal(m, jm_seg_strerror(f));
		assert_string_not_equal(m, jm_seg_strerror(-1000));
	}
	assert_non_null(strstr(jm_seg_strerror(JM_SEG_EVERSION), "newer jmalloc"));
	assert_non_null(strstr(jm_seg_strerror(JM_SEG_EVERSION), "upgrade jmstatd"));
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

/* --------------------------------------------------------- file reading */

static void seg_path(char *path, size_t size, pid_t pid)
{
	snprintf(path, size, "%s/jmalloc.%d.stats", tmpdir, (int)pid);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Writes a valid segment of ours at its proper path; returns the buffer. */
static unsigned char *write_self(char *path, size_t size, struct synth *p, size_t *len)
{
	unsigned char *buf;

	*p = synth_self(JMSTAT_NBINS, 2, 4);
	p->nsites_max = 8;
	p->nsites_hw = 5;
	assert_true(p->start_time != 0);
	buf = synth_build(p, len);
	synth_name(path, size, tmpdir, p);
	write_file(path, buf, *len);
	return buf;
}

static void test_read_path_valid(void **state)
{
	char path[4200];
	struct synth p;
	struct jm_seg seg;
	size_t len;
	unsigned char *buf = write_self(path, sizeof path, &p, &len);

	assert_int_equal(jm_seg_read_path(path, &seg), 0);
	check_contents(&seg, &p);
	assert_int_equal(jm_seg_check_process(&seg), 0);
	jm_seg_free(&seg);
	unlink(path);
	free(buf);
}

static void test_read_path_refusals(void **state)
{
	char path[4200], other[4200];
	struct synth p;
	struct jm_seg seg;
	size_t len;
	unsigned char *buf = write_self(path, sizeof path, &p, &len);

	/* Missing file: EIO with errno kept. */
	seg_path(other, sizeof other, 999999);
	errno = 0;
	assert_int_equal(jm_seg_read_path(other, &seg), JM_SEG_EIO);
	assert_int_equal(errno, ENOENT);

	/* A name that is not jmalloc.<pid>.stats. */
	snprintf(other, sizeof other, "%s/segment", tmpdir);
	write_file(other, buf, len);
	assert_int_equal(jm_seg_read_path(other, &seg), JM_SEG_ENAME);
	unlink(other);

	/* A proper name whose pid is not the header's (and all else is: the
	 * name of our own pid namespace, whichever it is). */
	{
		struct synth q = p;

		q.pid = (uint32_t)getpid() + 1;
		synth_name(other, sizeof other, tmpdir, &q);
	}
	write_file(other, buf, len);
	assert_int_equal(jm_seg_read_path(other, &seg), JM_SEG_ENAME);
	assert_null(seg.bins);
	unlink(other);

	/* A namespaced name must say the header's pid namespace and start
	 * time; a plain one, a writer of the host's namespace. */
	{
		struct synth q = p;
		unsigned char *b2;
		size_t l2;

		q.pidns = 4026532178u;
		b2 = synth_build(&q, &l2);
		snprintf(other, sizeof other, "%s/jmalloc.%u.4026532178.%llu.stats", tmpdir, q.pid,
		         (unsigned long long)q.start_time);
		write_file(other, b2, l2);
		assert_int_equal(jm_seg_read_path(other, &seg), 0);
		assert_true(seg.hdr.pidns == 4026532178u);
		jm_seg_free(&seg);
		unlink(other);
		snprintf(other, sizeof other, "%s/jmalloc.%u.4026532178.%llu.stats", tmpdir, q.pid,
		         (unsigned long long)q.start_time + 1);
		write_file(other, b2, l2);
		assert_int_equal(jm_seg_read_path(other, &seg), JM_SEG_ENAME);
		unlink(other);
		snprintf(other, sizeof other, "%s/jmalloc.%u.4026532179.%llu.stats", tmpdir, q.pid,
		         (unsigned long long)q.start_time);
		write_file(other, b2, l2);
		assert_int_equal(jm_seg_read_path(other, &seg), JM_SEG_ENAME);
		unlink(other);
		snprintf(other, sizeof other, "%s/jmalloc.%u.stats", tmpdir, q.pid);
		write_file(other, b2, l2);
		assert_int_equal(jm_seg_read_path(other, &seg), JM_SEG_ENAME);
		unlink(other);
		free(b2);
	}

	/* A symlink to a valid segment. */
	seg_path(other, sizeof other, getpid() + 2);
	assert_int_equal(symlink(path, other), 0);
	assert_int_equal(jm_seg_read_path(other, &seg), JM_SEG_ENOTREG);
	unlink(other);

	/* A fifo: the open must not block. */
	assert_int_equal(mkfifo(other, 0600), 0);
	assert_int_equal(jm_seg_read_path(other, &seg), JM_SEG_ENOTREG);
	unlink(other);

	/* A directory. */
	assert_int_equal(mkdir(other, 0700), 0);
	assert_int_equal(jm_seg_read_path(other, &seg), JM_SEG_ENOTREG);
	rmdir(other);

	/* The header's uid is not the file's owner. */
	synth_hdr(buf)->uid = (uint32_t)getuid() + 1;
	write_file(path, buf, len);
	assert_int_equal(jm_seg_read_path(path, &seg), JM_SEG_EOWNER);
	synth_hdr(buf)->uid = (uint32_t)getuid();

	/* Shorter than its header says. */
	write_file(path, buf, len - 1);
	assert_int_equal(jm_seg_read_path(path, &seg), JM_SEG_ETRUNC);

	/* An empty file (just created). */
	write_file(path, buf, 0);
	assert_int_equal(jm_seg_read_path(path, &seg), JM_SEG_ETRUNC);

	/* Sized but not yet written. */
	memset(buf, 0, len);
	write_file(path, buf, len);
	assert_int_equal(jm_seg_read_path(path, &seg), JM_SEG_EBUSY);

	unlink(path);
	free(buf);
}

/* Larger than any segment: refused before it is read. */
static void test_read_fd_too_large(void **state)
{
	char path[4200];
	struct jm_seg seg;
	int fd;

	seg_path(path, sizeof path, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)JM_SEG_MAX_SIZE + 8), 0);
	assert_int_equal(jm_seg_read_fd(fd, &seg), JM_SEG_EBOUNDS);
	close(fd);
	unlink(path);
}

/* A row stuck odd (a writer stopped mid-update) gives EBUSY, after the
 * bounded retries, from the file reader too. */
static void test_read_fd_stuck_row(void **state)
{
	char path[4200];
	struct synth p;
	struct jm_seg seg;
	size_t len;
	unsigned char *buf = write_self(path, sizeof path, &p, &len);
	int fd;

	synth_bin(buf, 1, 3)->seq = 7;
	write_file(path, buf, len);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(jm_seg_read_fd(fd, &seg), JM_SEG_EBUSY);
	close(fd);

	synth_bin(buf, 1, 3)->seq = 8;
	synth_arena(buf, 1)->seq = 9;
	write_file(path, buf, len);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(jm_seg_read_fd(fd, &seg), JM_SEG_EBUSY);
	close(fd);
	unlink(path);
	free(buf);
}

/* Site rows: those above the high-water mark are not read (junk there is
 * harmless); one below it stuck odd gives EBUSY. */
static void test_read_fd_sites(void **state)
{
	char path[4200];
	struct synth p;
	struct jm_seg seg;
	size_t len;
	unsigned char *buf = write_self(path, sizeof path, &p, &len);

	memset(synth_site(buf, 5), 0xff, (size_t)(p.nsites_max - 5) * synth_hdr(buf)->site_stride);
	write_file(path, buf, len);
	assert_int_equal(jm_seg_read_path(path, &seg), 0);
	check_contents(&seg, &p);
	jm_seg_free(&seg);

	synth_site(buf, 4)->seq = 11;
	write_file(path, buf, len);
	assert_int_equal(jm_seg_read_path(path, &seg), JM_SEG_EBUSY);
	synth_site(buf, 4)->seq = 12;
	synth_site(buf, 4)->nframes = JMSTAT_SITE_FRAMES + 1;
	write_file(path, buf, len);
	assert_int_equal(jm_seg_read_path(path, &seg), JM_SEG_EBOUNDS);
	unlink(path);
	free(buf);
}

/* A not-regular fd (a pipe). */
static void test_read_fd_pipe(void **state)
{
	struct jm_seg seg;
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(jm_seg_read_fd(fds[0], &seg), JM_SEG_ENOTREG);
	close(fds[0]);
	close(fds[1]);
	errno = 0;
	assert_int_equal(jm_seg_read_fd(-1, &seg), JM_SEG_EIO);
	assert_int_equal(errno, EBADF);
}

/* A writer updates the bin rows of a mapped segment under the seqlock
 * (seq odd, every counter of the row set to one value, seq even) while the
 * reader reads the file: every row of every successful read must hold one
 * value throughout. */
struct racer {
	unsigned char *map;
	uint32_t nrows;
	int stop;
	uint64_t passes;         /* updates of all rows done */
};

static void race_pause(void)
{
	for (int i = 0; i < 200; i++)
		__asm__ __volatile__("" ::: "memory");
}

static void *race_writer(void *arg)
{
	struct racer *r = arg;
	struct jmstat_bin *bins = (struct jmstat_bin *)(r->map + synth_hdr(r->map)->bin_off);
	struct timespec ts = { 0, 20000 };

	for (uint64_t v = 1; !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE); v++) {
		for (uint32_t i = 0; i < r->nrows; i++) {
			struct jmstat_bin *b = &bins[i];
			uint32_t seq = b->seq;

			/* Each counter store is a release, so none passes the odd
			 * seq; slow, so that a reader lands inside updates. */
			__atomic_store_n(&b->seq, seq + 1, __ATOMIC_RELAXED);
#define RACE_SET_(name, type, unit, help) __atomic_store_n(&b->name, v, __ATOMIC_RELEASE); race_pause();
			JMSTAT_BIN_COUNTERS(RACE_SET_)
#undef RACE_SET_
			__atomic_store_n(&b->seq, seq + 2, __ATOMIC_RELEASE);
		}
		__atomic_store_n(&r->passes, v, __ATOMIC_RELEASE);
		if (v % 4 == 0)
			nanosleep(&ts, NULL);
	}
	return NULL;
}

static void test_seqlock_race(void **state)
{
	char path[4200];
	struct synth p;
	struct racer r;
	pthread_t th;
	size_t len;
	unsigned char *buf = write_self(path, sizeof path, &p, &len);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int ok = 0, busy = 0, reads;
	uint64_t last = 0, changes = 0;

	assert_true(fd >= 0);
	r.map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(r.map != MAP_FAILED);
	r.nrows = p.narenas * p.nbins;
	r.stop = 0;
	r.passes = 0;
	for (uint32_t j = 0; j < r.nrows; j++) {   /* one value per row */
		struct jmstat_bin *b = (struct jmstat_bin *)(r.map + synth_hdr(r.map)->bin_off) + j;
#define RACE_ZERO_(name, type, unit, help) b->name = 0;
		JMSTAT_BIN_COUNTERS(RACE_ZERO_)
#undef RACE_ZERO_
	}
	assert_int_equal(pthread_create(&th, NULL, race_writer, &r), 0);
	/* Read while the writer runs: at least 2000 reads and 2000 passes. */
	for (reads = 0; reads < 2000 || __atomic_load_n(&r.passes, __ATOMIC_ACQUIRE) < 2000; reads++) {
		struct jm_seg seg;
		int err = jm_seg_read_fd(fd, &seg);

		if (err == JM_SEG_EBUSY) {
			busy++;
			continue;
		}
		assert_int_equal(err, 0);
		ok++;
		for (uint32_t j = 0; j < r.nrows; j++) {
			const struct jmstat_bin *b = &seg.bins[j];
			uint64_t v = b->nmalloc;

			assert_true((b->seq & 1) == 0);
#define RACE_CHECK_(name, type, unit, help) assert_int_equal(b->name, v);
			JMSTAT_BIN_COUNTERS(RACE_CHECK_)
#undef RACE_CHECK_
		}
		changes += seg.bins[0].nmalloc != last;
		last = seg.bins[0].nmalloc;
		jm_seg_free(&seg);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	print_message("seqlock race: %d reads, %d consistent (%llu saw a new value), %d busy\n",
	              reads, ok, (unsigned long long)changes, busy);
	assert_true(ok > 0);
	munmap(r.map, len);
	close(fd);
	unlink(path);
	free(buf);
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

	assert_true(parse_stat("12 (a) b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242 9 9",
	                       &st, &t));
	assert_int_equal(st, 'S');
	assert_int_equal(t, 424242);
	assert_false(parse_stat("12 (a) S 1 2 3", &st, &t));
	assert_false(parse_stat("no paren at all", &st, &t));
	assert_false(parse_stat("1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 x", &st, &t));
}

static int setup_tmpdir(void **state)
{
	const char *base = getenv("JM_TMP");

	snprintf(tmpdir, sizeof tmpdir, "%s/segread.XXXXXX", base && *base ? base : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_valid_contents),
		cmocka_unit_test(test_bin_size_filled),
		cmocka_unit_test(test_exe_terminated),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_header_bytes),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_pid_from_name),
		cmocka_unit_test(test_name_matches),
		cmocka_unit_test(test_read_path_valid),
		cmocka_unit_test(test_read_path_refusals),
		cmocka_unit_test(test_read_fd_too_large),
		cmocka_unit_test(test_read_fd_stuck_row),
		cmocka_unit_test(test_read_fd_pipe),
		cmocka_unit_test(test_read_fd_sites),
		cmocka_unit_test(test_seqlock_race),
		cmocka_unit_test(test_check_self),
		cmocka_unit_test(test_check_reused),
		cmocka_unit_test(test_check_dead_and_zombie),
		cmocka_unit_test(test_parse_stat),
	};

	return cmocka_run_group_tests(tests, setup_tmpdir, remove_tmpdir);
}
