/*
 * A forked child's publication of its stats segment (stats.c) makes its
 * system calls through syscall(), not through the C library's wrappers
 * (open, ftruncate, pwrite, pwritev, madvise, close, unlink): their page
 * of libc's text was one more page fault in every child, which nothing
 * else the child ran took (docs/allocator.md, "What a fork costs"). This
 * program defines those wrappers itself, counting the calls made while a
 * child publishes, and passes them on to the kernel. Its own program: the
 * wrappers stand for the C library's for every caller in it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "jmalloc.h"

const char *jm__stats_test_path(void);

static atomic_int counting, calls;
static int seg_fd = -1;   /* the segment file's, while open */

/* Calls on the segment only: the child reads /proc/self/stat where its
 * start time cannot be taken from the clock (a fork that straddled a
 * tick), through the wrappers. */
static void count(bool segment)
{
	if (segment && atomic_load(&counting))
		atomic_fetch_add(&calls, 1);
}

static bool seg_name(const char *path)
{
	return strstr(path, JMSTAT_FILE_PREFIX) != NULL;
}

int open(const char *path, int flags, ...)
{
	int mode = 0;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, int);
		va_end(ap);
	}
	count(seg_name(path));
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
	if (fd >= 0 && seg_name(path))
		seg_fd = fd;
	return fd;
}

int ftruncate(int fd, off_t len)
{
	count(fd == seg_fd);
	return (int)syscall(SYS_ftruncate, fd, len);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	count(fd == seg_fd);
	return syscall(SYS_pwrite64, fd, buf, n, off);
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	count(fd == seg_fd);
	return syscall(SYS_pwritev, fd, iov, n, (unsigned long)off, 0UL);
}

int madvise(void *addr, size_t len, int advice)
{
	count(jm__seg != NULL && (char *)addr >= (char *)jm__seg &&
	    (char *)addr < (char *)jm__seg + jm__seg->total_size);
	return (int)syscall(SYS_madvise, addr, len, advice);
}

int close(int fd)
{
	count(fd == seg_fd);
	if (fd == seg_fd)
		seg_fd = -1;
	return (int)syscall(SYS_close, fd);
}

int unlink(const char *path)
{
	count(seg_name(path));
	return (int)syscall(SYS_unlinkat, AT_FDCWD, path, 0);
}

static int wait_child(pid_t pid)
{
	int st = -1;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* The child publishes (a file made, written, mapped and populated) and
 * removes it at its _exit: no wrapper called. */
static void test_publication_wrappers(void **state)
{
	(void)state;
	jm_free(jm_malloc(100));   /* the parent publishes */
	pid_t pid = fork();
	if (pid == 0) {
		if (!jm__stats_pending)
			_exit(2);
		atomic_store(&counting, 1);
		jm__stats_publish_child();
		void *p = jm_malloc(100);
		jm_free(p);
		atomic_store(&counting, 0);
		if (jm__stats_pending || p == NULL)
			_exit(3);
		if (access(jm__stats_test_path(), F_OK) != 0)
			_exit(4);   /* not published */
		atomic_store(&counting, 1);
		jm__stats_exit();
		atomic_store(&counting, 0);
		_exit(atomic_load(&calls) == 0 ? 0 : 10 + (atomic_load(&calls) > 50 ? 50 : atomic_load(&calls)));
	}
	assert_true(pid > 0);
	assert_int_equal(wait_child(pid), 0);
}

int main(void)
{
	setenv("JMALLOC_CONF", "background_thread:0", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publication_wrappers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
