/*
 * socket.c: the default socket of jmstatd and jmctl, and the checks that
 * make jmctl talk only to a daemon it should (socket.h).
 *
 * Why the directory matters: /tmp is shared, so /tmp/jmstatd-UID can be
 * made by anyone first, with a socket of theirs in it that answers with
 * forged figures. A directory owned by the caller (or by root) that no
 * one else may write to is one in which only they could have bound the
 * socket. The peer's uid is checked after connecting whatever the path:
 * a socket named on the command line may still lead to anyone's daemon.
 */
#include "socket.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int put(char *buf, size_t size, const char *fmt, const char *a, unsigned u)
{
	int n = a ? snprintf(buf, size, fmt, a) : snprintf(buf, size, fmt, u);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int jm_socket_own(char *buf, size_t size)
{
	uid_t uid = geteuid();
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;

	if (uid == 0)
		return put(buf, size, "%s", JM_SOCKET_SYSTEM, 0);
	if (xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid)
		return put(buf, size, "%s/" JM_SOCKET_NAME, xdg, 0);
	return put(buf, size, "/tmp/jmstatd-%u/" JM_SOCKET_NAME, NULL, (unsigned)uid);
}

int jm_socket_dir_trusted(const char *path, uid_t uid, char *why, size_t why_size)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (why_size)
		why[0] = '\0';
	if (!slash) {
		snprintf(dir, sizeof dir, ".");
	} else if (slash == path) {
		snprintf(dir, sizeof dir, "/");
	} else {
		if ((size_t)(slash - path) >= sizeof dir)
			return -ENAMETOOLONG;
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	if (lstat(dir, &st) != 0) {
		int err = errno;
		snprintf(why, why_size, "cannot look at %s: %s", dir, strerror(err));
		return -err;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, why_size, "%s is not a directory (a symlink?), refusing", dir);
		return -EPERM;
	}
	if (st.st_uid != uid && st.st_uid != 0) {
		snprintf(why, why_size, "%s is owned by uid %u, refusing", dir, (unsigned)st.st_uid);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, why_size, "%s may be written by others (mode %04o), refusing", dir,
		         (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int jm_socket_default(char *buf, size_t size, char *passed_over, size_t passed_size)
{
	const char *env = getenv("JMSTATD_SOCKET");
	char own[4096];
	struct stat st;

	if (passed_size)
		passed_over[0] = '\0';
	if (env && env[0])
		return put(buf, size, "%s", env, 0);
	if (geteuid() != 0 && jm_socket_own(own, sizeof own) == 0 &&
	    lstat(own, &st) == 0 && S_ISSOCK(st.st_mode)) {
		char why[512];

		if (jm_socket_dir_trusted(own, geteuid(), why, sizeof why) == 0)
			return put(buf, size, "%s", own, 0);
		snprintf(passed_over, passed_size, "not using %s: %s", own, why);
	}
	return put(buf, size, "%s", JM_SOCKET_SYSTEM, 0);
}

int jm_socket_peer_uid(int fd, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return -errno;
	*uid = cred.uid;
	return 0;
}
