/*
 * systemd.c: the two things jmstatd needs from systemd, written by hand
 * (the protocols are small and stable, and this keeps libsystemd out):
 * - sd_notify: one datagram with "READY=1" (or "STOPPING=1", ...) to the
 *   AF_UNIX socket named in $NOTIFY_SOCKET, a path or, with a leading '@',
 *   an abstract name;
 * - socket activation: when $LISTEN_PID is our pid and $LISTEN_FDS >= 1,
 *   the listening sockets are fd 3 (SD_LISTEN_FDS_START) on: the Unix
 *   one for clients, and a TCP one for /metrics if given. The variables
 *   are unset once read, so that no child inherits them.
 */
#include "jmstatd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_FDS_START 3

/* The /metrics listener systemd passed (a TCP socket), or -1. Bound by
 * systemd before any user runs: a port the daemon binds itself is free
 * to any user while the daemon is not running (at a restart, or from
 * before it starts), and a user's server there was scraped by
 * Prometheus in its place, given its bearer token (--metrics-token-file)
 * with each scrape, and the daemon, finding the port taken, did not start
 * (tests/metrics/port_squat.test.sh). */
static int metrics_fd = -1;

void jmd_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
		jmd_log("NOTIFY_SOCKET is not usable: %s", path);
		return;
	}
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		jmd_log("sd_notify: socket: %s", strerror(errno));
		return;
	}
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
		jmd_log("sd_notify to %s: %s", path, strerror(errno));
	close(fd);
}

int jmd_listen_fds(void)
{
	const char *spid = getenv("LISTEN_PID");
	const char *sfds = getenv("LISTEN_FDS");
	if (!spid || !sfds)
		return -1;
	char *end;
	errno = 0;
	long pid = strtol(spid, &end, 10);
	bool ours = errno == 0 && *end == '\0' && pid == (long)getpid();
	long n = strtol(sfds, &end, 10);
	bool valid = *end == '\0' && n >= 1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (!ours)
		return -1;
	if (!valid) {
		jmd_log("LISTEN_FDS is not a count of sockets: %s", sfds);
		return -2;
	}
	for (long i = 0; i < n; i++)
		fcntl(LISTEN_FDS_START + (int)i, F_SETFD, FD_CLOEXEC);
	/* The clients' Unix socket, and the /metrics port if a socket unit
	 * holds it (jmstatd-metrics.socket), in whichever order. */
	int unix_fd = -1;
	for (long i = 0; i < n; i++) {
		int fd = LISTEN_FDS_START + (int)i;
		int type = 0, domain = 0, listening = 0;
		socklen_t len = sizeof(type), dlen = sizeof(domain), llen = sizeof(listening);
		bool stream = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
		              type == SOCK_STREAM &&
		              getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) == 0 &&
		              getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &llen) == 0 &&
		              listening;
		if (stream && domain == AF_UNIX && unix_fd < 0)
			unix_fd = fd;
		else if (stream && (domain == AF_INET || domain == AF_INET6) && metrics_fd < 0)
			metrics_fd = fd;
		else
			jmd_log("fd %d from systemd is not a listening Unix or TCP stream socket we "
			        "want: ignored", fd);
	}
	if (unix_fd < 0) {
		jmd_log("systemd passed no listening Unix stream socket");
		return -2;
	}
	return unix_fd;
}

int jmd_listen_metrics_fd(void)
{
	return metrics_fd;
}
