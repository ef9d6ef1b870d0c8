/*
 * sockpath.c: the daemon's socket file, before server.c binds it: its
 * default path (JMSTATD_SOCKET, else the one common/socket.c names for our
 * user), its directory (/run/jmstatd for root, a private /tmp/jmstatd-UID
 * for anyone else, created if missing) and a stale socket left by a
 * jmstatd that died, removed (one a live daemon answers on is not).
 */
#include "jmstatd.h"
#include "socket.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int jmd_default_socket_path(char **out)
{
	char buf[4096];
	const char *env = getenv("JMSTATD_SOCKET");
	if (env && *env)
		snprintf(buf, sizeof(buf), "%s", env);
	else if (jm_socket_own(buf, sizeof(buf)) != 0)
		return -ENAMETOOLONG;
	*out = strdup(buf);
	return *out ? 0 : -ENOMEM;
}

/* The default directories are created if missing: /run/jmstatd for root,
 * /tmp/jmstatd-UID (0700, ours, not a symlink) for anyone else. */
static int prepare_dir(const char *path)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	char tmpdir[64];
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/jmstatd-%u", (unsigned)geteuid());
	bool private_tmp = strcmp(dir, tmpdir) == 0;
	if (strcmp(dir, JM_SOCKET_SYSTEM_DIR) != 0 && !private_tmp) {
		/* A directory named by the user is theirs to make (libuv's
		 * bind would call a missing one "permission denied"). */
		struct stat st;
		int err = stat(dir, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
		if (err == ENOENT || err == ENOTDIR) {
			jmd_log("cannot listen on %s: %s %s (create the directory, or name "
			        "another socket with --socket)", path, dir,
			        err == ENOENT ? "does not exist" : "is not a directory");
			return -err;
		}
		return 0;
	}
	if (mkdir(dir, private_tmp ? 0700 : 0755) != 0 && errno != EEXIST) {
		jmd_log("cannot create %s: %s", dir, strerror(errno));
		return -errno;
	}
	if (private_tmp) {
		struct stat st;
		if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
		    (st.st_mode & 077) != 0) {
			jmd_log("refusing %s: not a private directory (0700) of uid %u", dir,
			        (unsigned)geteuid());
			return -EPERM;
		}
	}
	return 0;
}

/* A socket file left by a jmstatd that died is removed; one that a live
 * daemon answers on is not. */
static int clear_stale(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		jmd_log("%s exists and is not a socket: not touching it", path);
		return -EEXIST;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int err = errno;
	close(fd);
	if (rc == 0) {
		jmd_log("another jmstatd is listening on %s (stop it first, or name another "
		        "socket with --socket)", path);
		return -EADDRINUSE;
	}
	if (err != ECONNREFUSED) {
		jmd_log("cannot tell whether %s is in use: %s", path, strerror(err));
		return -err;
	}
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	jmd_debug("removed the stale socket %s", path);
	return 0;
}

int jmd_socket_prepare(const char *path)
{
	int rc;
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		jmd_log("socket path too long (limit %zu bytes): %s",
		        sizeof(((struct sockaddr_un *)0)->sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	if ((rc = prepare_dir(path)) != 0 || (rc = clear_stale(path)) != 0)
		return rc;
	return 0;
}
