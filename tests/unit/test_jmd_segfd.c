/*
 * test_jmd_segfd.c: what a tick costs a known, idle writer (sample.c,
 * liveness.c). At 1,000 idle processes the daemon took 3.2% of a core,
 * 30% of it opening each segment's name again every tick (an openat2, an
 * fstat, an open of /proc/self/fd/N, two closes) and 10% polling each
 * writer's pidfd. Now a known writer's file stays open between ticks
 * (jmd_proc.segfd) while its directory's watch says nothing of its name,
 * and the pidfds are asked once a slice through one epoll. The work is
 * counted (names opened), so no load can flake it; and what each name
 * stands for is still what is read: a file replaced under its name (even
 * when a hard link keeps the old one linked) is read anew when the watch
 * tells; one removed while the watch's events were lost leaves at the
 * rescan; a writer that exits, at the next tick.
 *
 * The rows of an idle writer of layout 4 are not read while its header's
 * generation stays (the file's first page and its thread rows are: 8.5
 * KiB here instead of 36 KiB), and are read at the tick after one moved;
 * a writer that changes its rows and keeps its generation (a lie) has its
 * figures shown JMD_GEN_TRUST + 1 ticks later at most (its rows' seqs are
 * checked then), one that keeps their seqs too JMD_ROWS_COPY + 1 ticks
 * later at most (the rows copied then); a writer of layout 3 is read as
 * before, its rows' seqs compared at every tick.
 */
#include "jmd_test.h"
#include "../fuzz/segsynth.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* The daemon's fstat calls, counted for one fd (-1: none), here in place
 * of libc's (the daemon's objects are linked into this program). */
static int counted_fd = -1;
static unsigned fstats_counted;

int fstat(int fd, struct stat *st)
{
	if (fd >= 0 && fd == counted_fd)
		fstats_counted++;
	return (int)syscall(SYS_fstat, fd, st);
}

static char seg_path[512];
static char tmp_path[512];

/* Writes the segment of p under its name, made anew (a rename over the
 * name, as the allocator does), its header's creation time created. */
static void write_segment(const struct synth *p, uint64_t created)
{
	size_t len;
	unsigned char *buf = synth_build(p, &len);
	synth_hdr(buf)->update_ns = created;
	synth_name(seg_path, sizeof seg_path, jmdt_dir, p);
	snprintf(tmp_path, sizeof tmp_path, "%s/building.tmp", jmdt_dir);
	int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	assert_int_equal(rename(tmp_path, seg_path), 0);
	free(buf);
}

/* A daemon whose stats directory is watched, as jmstatd's is. */
static struct jmd *watched_daemon(void)
{
	struct jmd *d = jmdt_daemon(false);
	close(d->dirfd);
	d->dirfd = -1;
	d->opt.no_containers = true;
	assert_int_equal(jmd_discover_start(d), 0);
	assert_true(d->watching);
	return d;
}

static void stop_daemon(struct jmd *d)
{
	jmd_discover_stop(d);
	uv_run(d->loop, UV_RUN_DEFAULT);
}

/* The events of the directory's watch, handled as the loop does. */
static void deliver_events(struct jmd *d)
{
	for (int i = 0; i < 4; i++)
		uv_run(d->loop, UV_RUN_NOWAIT);
}

/* The segment of self written under its name (created 1), the watch's
 * events delivered and a tick: its writer is the one live process, its
 * file kept open. */
static struct jmd_proc *first_read(struct jmd *d, const struct synth *self)
{
	write_segment(self, 1);
	deliver_events(d);
	jmd_tick(d);
	assert_int_equal(d->nlive, 1);
	struct jmd_proc *p = d->live;
	assert_non_null(p);
	assert_true(p->segfd >= 0);
	return p;
}

static void test_kept_open(void **state)
{
	(void)state;
	struct jmd *d = watched_daemon();
	struct synth self = synth_self(JMSTAT_NBINS, 2, 4);
	struct jmd_proc *p = first_read(d, &self);
	assert_int_equal(p->created_ns, 1);
	assert_true(p->pidfd_watched);
	uint64_t opens = d->seg_opens;
	/* Twenty ticks, two of them rescans: the name is not opened again,
	 * and the process is sampled at each. */
	for (int i = 0; i < 20; i++) {
		uint64_t read_ns = p->read_ns;
		jmd_tick(d);
		assert_int_equal(d->nlive, 1);
		assert_ptr_equal(d->live, p);
		assert_true(p->read_ns > read_ns);
	}
	assert_int_equal(d->seg_opens, opens);
	assert_int_equal(d->nsegfds, 1);

	/* Replaced under its name while a hard link keeps the old file
	 * linked: the watch tells, and the new file is read. */
	char old_link[600];
	snprintf(old_link, sizeof old_link, "%s/old-link", jmdt_dir);
	assert_int_equal(link(seg_path, old_link), 0);
	write_segment(&self, 2);
	deliver_events(d);
	jmd_tick(d);
	assert_int_equal(d->nlive, 1);
	assert_int_equal(d->live->created_ns, 2);
	assert_int_equal(unlink(old_link), 0);

	/* Replaced again: read anew as soon as the watch tells, without
	 * waiting for the tick. */
	write_segment(&self, 3);
	deliver_events(d);
	assert_int_equal(d->nlive, 1);
	assert_int_equal(d->live->created_ns, 3);
	jmd_tick(d);
	assert_int_equal(d->live->created_ns, 3);

	/* Removed while the watch's events were lost (its queue overflowed):
	 * the rescan that follows does not find the name, and the process
	 * leaves the live view, its file closed. */
	assert_int_equal(unlink(seg_path), 0);
	d->rescan_pending = true;
	jmd_tick(d);
	assert_int_equal(d->nlive, 0);
	assert_int_equal(d->nsegfds, 0);
	deliver_events(d);
	stop_daemon(d);
}

/* The file of a known writer kept open is read without an fstat: its
 * size, type and owner are the ones taken when it was opened, and any
 * change to it through its name is an event of the watch, which closes
 * it. At 10,000 segments that fstat was 18% of the daemon's CPU (perf,
 * docs/daemon.md). It is taken again at a rescan tick only, for a change
 * through another name (a hard link elsewhere), which the watch cannot
 * tell: here a file grown through a link in another directory (whose
 * size is then not its header's) is read at the size it had until the
 * next rescan tick, which finds it bad. */
static void test_kept_no_fstat(void **state)
{
	(void)state;
	struct jmd *d = watched_daemon();
	struct synth self = synth_self(JMSTAT_NBINS, 2, 4);
	struct jmd_proc *p = first_read(d, &self);
	counted_fd = p->segfd;
	fstats_counted = 0;
	unsigned rescans = 0;
	for (int i = 0; i < 20; i++) {
		uint64_t read_ns = p->read_ns;
		jmd_tick(d);
		assert_ptr_equal(d->live, p);
		assert_true(p->read_ns > read_ns);
		rescans += d->rescan_tick;
	}
	assert_int_equal(rescans, 2);
	assert_int_equal(fstats_counted, rescans);

	/* Grown through a hard link in another directory: no event of the
	 * watch; the next rescan tick takes the new size. (The daemon read
	 * before took it at the next tick.) */
	char sub[600], link_path[700];
	snprintf(sub, sizeof sub, "%s/elsewhere", jmdt_dir);
	snprintf(link_path, sizeof link_path, "%s/seg", sub);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(link(seg_path, link_path), 0);
	off_t size = p->seg_st.st_size;
	assert_int_equal(truncate(link_path, size + 4096), 0);
	deliver_events(d);
	assert_int_equal(p->segfd, counted_fd);
	for (;;) {
		jmd_tick(d);
		if (d->rescan_tick)
			break;
		assert_ptr_equal(d->live, p);
		assert_int_equal(p->segfd, counted_fd);
	}
	/* Its size is no longer its header's: it no longer reads. */
	assert_int_equal(d->nlive, 0);
	assert_int_equal(d->nsegfds, 0);
	counted_fd = -1;
	assert_int_equal(unlink(link_path), 0);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(unlink(seg_path), 0);
	deliver_events(d);
	stop_daemon(d);
}

/* A writer that exits is seen at the next tick through the epoll of the
 * pidfds, its file removed. */
static void test_writer_exits(void **state)
{
	(void)state;
	struct jmd *d = watched_daemon();
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		/* Gone with the test, whatever it asserts. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(0);
		for (;;)
			pause();
	}
	struct synth p = synth_self(JMSTAT_NBINS, 2, 4);
	p.pid = (uint32_t)child;
	p.start_time = synth_start_time(child);
	write_segment(&p, 1);
	deliver_events(d);
	jmd_tick(d);
	jmd_tick(d);
	assert_int_equal(d->nlive, 1);
	assert_true(d->live->pidfd_watched);
	assert_false(d->live->exited);
	assert_int_equal(kill(child, SIGKILL), 0);
	assert_int_equal(waitpid(child, NULL, 0), child);
	jmd_tick(d);
	assert_int_equal(d->nlive, 0);
	assert_int_equal(d->nsegfds, 0);
	assert_int_equal(d->npidfds, 0);
	assert_int_equal(access(seg_path, F_OK), -1);
	deliver_events(d);
	stop_daemon(d);
}

/* The fold of a read into its process (jmd_proc_update): skipped for a
 * read whose rows and thread caches are as they were, its process's rates
 * all 0, and what it shows is then exactly what the full fold gives. */
static void fold(struct jmd *d, struct jmd_proc *p, const struct jm_seg *s, uint64_t now,
                 bool full)
{
	if (full)
		p->still = false;
	jmd_proc_update(d, p, s, now);
}

static void assert_same(const struct jmd_proc *a, const struct jmd_proc *b)
{
	assert_memory_equal(a->bins, b->bins, a->nbins * sizeof(*a->bins));
	assert_memory_equal(a->arenas, b->arenas, a->narenas * sizeof(*a->arenas));
	assert_memory_equal(&a->tot, &b->tot, sizeof(a->tot));
	assert_int_equal(a->alloc_total, b->alloc_total);
	assert_int_equal(a->free_total, b->free_total);
	assert_int_equal(a->read_ns, b->read_ns);
}

static void test_still_fold(void **state)
{
	(void)state;
	struct jmd *d = jmdt_daemon(false);
	struct synth self = synth_self(JMSTAT_NBINS, 2, 4);
	size_t len;
	unsigned char *buf = synth_build(&self, &len);
	struct jm_seg seg;
	assert_int_equal(jm_seg_parse(buf, len, &seg), 0);
	struct stat st = { .st_dev = 1, .st_ino = 1 };
	struct jmd_proc *p = jmd_proc_new(d, &seg, &st, getpid());
	struct jmd_proc *q = jmd_proc_new(d, &seg, &st, getpid() + 1);
	assert_non_null(p);
	assert_non_null(q);
	const uint64_t s1 = 1000000000ull;
	/* Two full reads: counters unchanged, every rate 0. */
	fold(d, p, &seg, s1, true);
	fold(d, q, &seg, s1, true);
	fold(d, p, &seg, 2 * s1, false);
	fold(d, q, &seg, 2 * s1, true);
	assert_true(p->still);
	assert_same(p, q);

	/* Rows unchanged, caches the same: not folded (the bins are not
	 * even swapped), the same figures. */
	struct jm_seg idle = seg;
	idle.rows_unchanged = true;
	idle.arenas = NULL;
	idle.bins = NULL;
	struct jmd_bin *bins = p->bins;
	fold(d, p, &idle, 3 * s1, false);
	fold(d, q, &idle, 3 * s1, true);
	assert_ptr_equal(p->bins, bins);
	assert_same(p, q);

	/* A thread cache moved: folded, its rates no longer 0. */
	seg.tcache_ncached[3] += 5;
	seg.tcache_nrequests[3] += 7;
	seg.tcache_arena_small[1] += 64;
	fold(d, p, &idle, 4 * s1, false);
	fold(d, q, &idle, 4 * s1, true);
	assert_ptr_not_equal(p->bins, bins);
	assert_false(p->still);
	assert_same(p, q);
	assert_int_equal(p->bins[3].cached, seg.tcache_ncached[3]);

	/* Still again only after a fold whose rates are all 0. */
	fold(d, p, &idle, 5 * s1, false);
	fold(d, q, &idle, 5 * s1, true);
	assert_true(p->still);
	assert_same(p, q);
	bins = p->bins;
	fold(d, p, &idle, 6 * s1, false);
	fold(d, q, &idle, 6 * s1, true);
	assert_ptr_equal(p->bins, bins);
	assert_same(p, q);

	jmd_proc_retire(d, p, "test");
	jmd_proc_retire(d, q, "test");
	jm_seg_free(&seg);
	free(buf);
}

/* The segment file at seg_path, mapped shared: changed in place, as its
 * writer changes it (no event of the directory's watch). */
static unsigned char *map_segment(size_t *len)
{
	int fd = open(seg_path, O_RDWR | O_CLOEXEC);
	struct stat st;
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	close(fd);
	*len = (size_t)st.st_size;
	return m;
}

/* A tick 2 ms after the one before at least: rates are computed over
 * 1 ms or more (jmd_proc_update), kept from the sample before otherwise. */
static void tick(struct jmd *d)
{
	usleep(2000);
	jmd_tick(d);
}

/* Segment bytes read by one tick. */
static uint64_t tick_bytes(struct jmd *d)
{
	uint64_t before = jm_seg_bytes_read();
	tick(d);
	return jm_seg_bytes_read() - before;
}

/* A row published by the writer: nmalloc of bin (a, b) up by n, its seq
 * by 2, and, unless it lies, the header's generation by 1. */
static void publish(unsigned char *m, uint32_t a, uint32_t b, uint64_t n, bool lie)
{
	synth_bin(m, a, b)->seq++;
	synth_bin(m, a, b)->nmalloc += n;
	synth_bin(m, a, b)->seq++;
	if (!lie)
		jmstat_gen_bump(synth_hdr(m));
}

static void test_gen_skips_rows(void **state)
{
	(void)state;
	struct jmd *d = watched_daemon();
	struct synth self = synth_self(JMSTAT_NBINS, 8, 4);
	self.gen = 7;
	write_segment(&self, 1);
	deliver_events(d);
	/* Read, then read with rates 0: still, the rows trusted from now. */
	for (int i = 0; i < 3; i++)
		tick(d);
	assert_int_equal(d->nlive, 1);
	struct jmd_proc *p = d->live;
	assert_true(p->still);
	const uint64_t head = JMSTAT_PAGE_SIZE + (uint64_t)self.nthreads_max * synth_stride(&self);
	const uint64_t rows = (uint64_t)self.narenas * self.nbins * sizeof(struct jmstat_bin);
	size_t len;
	unsigned char *m = map_segment(&len);
	const uint64_t nmalloc = p->bins[5].nmalloc;

	/* Idle: the first page and the thread rows, no row. */
	uint32_t skips = p->gen_skips;
	assert_true(skips < JMD_GEN_TRUST);
	assert_int_equal(tick_bytes(d), head);
	assert_int_equal(p->gen_skips, skips + 1);

	/* A row published: read at the next tick, then checked at the one
	 * after (its rates are not 0), then trusted again. */
	publish(m, 3, 5, 10, false);
	assert_true(tick_bytes(d) > head + rows);
	assert_int_equal(p->bins[5].nmalloc, nmalloc + 10);
	assert_false(p->still);
	assert_true(tick_bytes(d) > rows);
	assert_int_equal(p->copy_skips, 1);
	assert_true(p->still);
	assert_int_equal(tick_bytes(d), head);

	/* A lie: the row changed, the generation kept. Not seen at the next
	 * tick, seen within JMD_GEN_TRUST + 1 ticks of it. */
	publish(m, 3, 5, 100, true);
	unsigned ticks = 1;
	assert_int_equal(tick_bytes(d), head);
	assert_int_equal(p->bins[5].nmalloc, nmalloc + 10);
	while (p->bins[5].nmalloc == nmalloc + 10 && ticks <= JMD_GEN_TRUST + 1) {
		tick(d);
		ticks++;
	}
	assert_int_equal(p->bins[5].nmalloc, nmalloc + 110);
	assert_true(ticks <= JMD_GEN_TRUST + 1);
	assert_ptr_equal(d->live, p);

	/* Still, a read of the rows every JMD_GEN_TRUST + 1 ticks at most. */
	for (int i = 0; i < 3; i++)
		tick(d);
	unsigned full = 0;
	for (unsigned i = 0; i < 2 * (JMD_GEN_TRUST + 1); i++)
		full += tick_bytes(d) > head;
	assert_int_equal(full, 2);

	/* A lie of the seqs too: the row changed, its seq and the generation
	 * kept. Copied, and so seen, within JMD_ROWS_COPY + 1 ticks. */
	synth_bin(m, 3, 5)->nmalloc += 1000;
	ticks = 0;
	while (p->bins[5].nmalloc == nmalloc + 110 && ticks <= JMD_ROWS_COPY + 1) {
		tick(d);
		ticks++;
	}
	assert_int_equal(p->bins[5].nmalloc, nmalloc + 1110);
	assert_true(ticks <= JMD_ROWS_COPY + 1);
	munmap(m, len);

	/* Layout 3 (an older libjmalloc): no generation; its rows' seqs are
	 * read every tick, and a row published shows at the next. */
	self.version = 3;
	self.nbins = JMSTAT_NBINS_V4;
	write_segment(&self, 2);
	deliver_events(d);
	for (int i = 0; i < 3; i++)
		tick(d);
	assert_int_equal(d->nlive, 1);
	p = d->live;
	assert_int_equal(p->created_ns, 2);
	assert_true(p->still);
	m = map_segment(&len);
	assert_true(tick_bytes(d) > rows);
	assert_int_equal(p->bins[5].nmalloc, nmalloc);
	publish(m, 3, 5, 1000, true);
	tick(d);
	assert_int_equal(p->bins[5].nmalloc, nmalloc + 1000);
	munmap(m, len);
	assert_int_equal(unlink(seg_path), 0);
	deliver_events(d);
	stop_daemon(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kept_open),
		cmocka_unit_test(test_kept_no_fstat),
		cmocka_unit_test(test_writer_exits),
		cmocka_unit_test(test_still_fold),
		cmocka_unit_test(test_gen_skips_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
