/*
 * test_jmd_labels.c: a /proc/PID/cgroup that cannot be read (labels.c)
 * and what a client is told for it (pidns.c's jmd_peer_container).
 *
 * An empty file made jmd_labels_read return -1 without setting errno, so
 * an EMFILE an earlier call had left made jmd_peer_container refuse the
 * client as "out of file descriptors" (server.c's refused_no_fds) when a
 * descriptor was free. The value returned now says which failure it was.
 * The files are this program's own cgroup file, redirected here by an
 * open() in place of libc's (the daemon's objects are linked into this
 * program): to an empty file, or failing with EMFILE.
 */
#include "jmd_test.h"

#include <sys/socket.h>
#include <sys/syscall.h>

static char own_cgroup[64];
static char empty_file[] = "/tmp/jmd_labels_XXXXXX";
static int fail_with;         /* 0: open the empty file in its place */

int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
	va_end(ap);
	if (own_cgroup[0] && strcmp(path, own_cgroup) == 0) {
		if (fail_with) {
			errno = fail_with;
			return -1;
		}
		path = empty_file;
	}
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

/* Out of descriptors: said so, and the client refused for it. */
static void no_fds_said(void **state)
{
	(void)state;
	struct jmd_labels l;
	fail_with = EMFILE;
	errno = 0;
	assert_int_equal(jmd_labels_read(getpid(), &l), -EMFILE);
	assert_int_equal(errno, EMFILE);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	char container[65];
	bool ptracer;
	errno = 0;
	assert_int_equal(jmd_peer_container(sv[0], getpid(), container, &ptracer), -1);
	assert_true(jmd_no_fds(errno));
	close(sv[0]);
	close(sv[1]);
	fail_with = 0;
}

/* An empty file after an EMFILE left in errno: an error that is not
 * "out of descriptors", and the client (in no container) accepted. */
static void empty_is_not_no_fds(void **state)
{
	(void)state;
	struct jmd_labels l;
	errno = EMFILE;
	int r = jmd_labels_read(getpid(), &l);
	assert_true(r < 0);
	assert_false(jmd_no_fds(-r));
	assert_false(jmd_no_fds(errno));
	assert_string_equal(l.container, "");
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	char container[65] = "x";
	bool ptracer = true;
	errno = EMFILE;
	assert_int_equal(jmd_peer_container(sv[0], getpid(), container, &ptracer), 0);
	assert_string_equal(container, "");
	assert_false(ptracer);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	int fd = mkstemp(empty_file);
	if (fd < 0)
		return 1;
	close(fd);
	snprintf(own_cgroup, sizeof(own_cgroup), "/proc/%d/cgroup", (int)getpid());
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_fds_said),          /* first: jmd_peer_container reads ours once */
		cmocka_unit_test(empty_is_not_no_fds),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(empty_file);
	return rc;
}
