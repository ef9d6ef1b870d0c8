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
		cmocka_unit_test(test_many_sites_few_steps),
	};
	return cmocka_run_group_tests(tests, NULL, remove_dir);
}
