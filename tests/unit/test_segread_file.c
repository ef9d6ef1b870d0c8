/*
 * test_segread_file.c: the stats-segment reader's file reading
 * (common/segread_file.c): a valid segment read in place, then the reader
 * against symlinks, fifos, directories, wrong names, wrong owners,
 * truncated, too large and busy files, a pipe, the site rows, and a
 * seqlock writer racing the reader.
 *
 * The reader's files are compiled into this test (unit tests link only the
 * allocator's test build), which also gives access to their static helpers.
 */
#include "segread.c"
#include "segread_file.c"
#include "segread_proc.c"
#include "../fuzz/segcases.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include "segcheck.h"

static char tmpdir[4096];

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

/* The segment of the tests that read one of ours (cmocka's setup): a
 * valid segment built from p, written at its proper path; remove_self
 * (the teardown) removes the file and frees the buffer. */
static char path[4200];
static struct synth p;
static size_t len;
static unsigned char *buf;

static int write_self(void **state)
{
	p = synth_self(JMSTAT_NBINS, 2, 4);
	p.nsites_max = 8;
	p.nsites_hw = 5;
	assert_true(p.start_time != 0);
	buf = synth_build(&p, &len);
	synth_name(path, sizeof path, tmpdir, &p);
	write_file(path, buf, len);
	return 0;
}

static int remove_self(void **state)
{
	unlink(path);
	free(buf);
	return 0;
}

static void test_read_path_valid(void **state)
{
	struct jm_seg seg;

	assert_int_equal(jm_seg_read_path(path, &seg), 0);
	check_contents(&seg, &p);
	assert_int_equal(jm_seg_check_process(&seg), 0);
	jm_seg_free(&seg);
}

static void test_read_path_refusals(void **state)
{
	char other[4200];
	struct jm_seg seg;

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
	/* ... which a reader that maps the uid itself (JM_SEG_ANY_OWNER) takes. */
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(jm_seg_read_fd_flags(fd, JM_SEG_ANY_OWNER, &seg), 0);
	assert_int_equal(seg.hdr.uid, (uint32_t)getuid() + 1);
	jm_seg_free(&seg);
	close(fd);
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
}

/* Larger than any segment: refused before it is read. */
static void test_read_fd_too_large(void **state)
{
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
	struct jm_seg seg;
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
}

/* Site rows: those above the high-water mark are not read (junk there is
 * harmless); one below it stuck odd gives EBUSY. */
static void test_read_fd_sites(void **state)
{
	struct jm_seg seg;

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
	struct racer r;
	pthread_t th;
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
		cmocka_unit_test_setup_teardown(test_read_path_valid, write_self, remove_self),
		cmocka_unit_test_setup_teardown(test_read_path_refusals, write_self, remove_self),
		cmocka_unit_test(test_read_fd_too_large),
		cmocka_unit_test_setup_teardown(test_read_fd_stuck_row, write_self, remove_self),
		cmocka_unit_test(test_read_fd_pipe),
		cmocka_unit_test_setup_teardown(test_read_fd_sites, write_self, remove_self),
		cmocka_unit_test_setup_teardown(test_seqlock_race, write_self, remove_self),
	};

	return cmocka_run_group_tests(tests, setup_tmpdir, remove_tmpdir);
}
