/*
 * client.c: jmctl's connection to jmstatd.
 *
 * The protocol is one JSON object per line each way over a Unix stream
 * socket. Every connection starts with {"cmd":"version"}: a daemon that
 * publishes another stats-layout version, or a socket that does not answer
 * like jmstatd, is refused with a message before any command runs.
 *
 * Every failure a user can meet is turned into one line on stderr that
 * names the socket and says what to do; the table below holds them.
 */
#include "jmctl.h"
#include "jmstat.h"
#include "socket.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define JM_LINE_MAX (64u << 20)  /* refuse a reply line larger than this */

/* What jansson may hold at once. A reply line of 64 MiB is bounded, but
 * its parse is not: a line of 20 million empty objects ("[{},{},...]",
 * 60 MB) took jmctl past 4.8 GB of RSS (and a minute) before it could say
 * anything. A real reply takes about 7 times its size parsed (a ps of
 * 100,000 processes, 46 MB: 321 MiB), so 512 MiB holds the largest line
 * jmctl reads (64 MiB); past it, the parse fails and jmctl says so
 * (tests/cli/hostile_daemon.test.sh). jmctl is one thread. */
#define JM_JSON_BUDGET ((size_t)512 << 20)
#define JM_JSON_HEAD 16          /* the size of each block, before it */
static size_t json_used;
static bool json_over;           /* a parse ran out of the budget */

static void *json_budget_malloc(size_t n)
{
	if (n > JM_JSON_BUDGET - JM_JSON_HEAD || json_used > JM_JSON_BUDGET - JM_JSON_HEAD - n) {
		json_over = true;
		return NULL;
	}
	size_t *p = malloc(n + JM_JSON_HEAD);
	if (p == NULL)
		return NULL;
	p[0] = n + JM_JSON_HEAD;
	json_used += p[0];
	return (char *)p + JM_JSON_HEAD;
}

static void json_budget_free(void *q)
{
	if (q == NULL)
		return;
	size_t *p = (size_t *)(void *)((char *)q - JM_JSON_HEAD);
	json_used -= p[0];
	free(p);
}

void jm_json_budget_init(void)
{
	json_set_alloc_funcs(json_budget_malloc, json_budget_free);
}

/* The default socket, when jmctl uses it (main.c): its directory is
 * checked before connecting; passed_over says why the caller's own
 * daemon's socket was not used, for the message if the system one fails. */
static char default_path[4096];
static char passed_over[600];

void jm_client_default_socket(char *buf, size_t size)
{
	if (jm_socket_default(buf, size, passed_over, sizeof passed_over) != 0)
		snprintf(buf, size, "%s", JM_SOCKET_SYSTEM);
	snprintf(default_path, sizeof default_path, "%s", buf);
	if (passed_over[0])
		fprintf(stderr, "jmctl: %s\n", passed_over);
}

/* The messages for a failed connect(2). */
static void report_connect(const char *path, int err)
{
	struct stat st;

	/* connect(2) to a file that is not a socket says ECONNREFUSED, as a
	 * stale socket does: tell them apart. */
	if ((err == ECONNREFUSED || err == ENOTSOCK) && stat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "jmctl: cannot connect to %s: not a socket (%s): name jmstatd's "
		        "socket with --socket or JMSTATD_SOCKET (`jmctl status` shows the one in use)\n",
		        path, S_ISDIR(st.st_mode) ? "a directory" : S_ISREG(st.st_mode) ? "a regular file" :
		        "another kind of file");
		return;
	}
	switch (err) {
	case ENOENT:
	case ECONNREFUSED: {
		/* jmctl chose the system socket for a user: none of theirs either. */
		char own[4096], mine[4200] = "";
		if (strcmp(path, default_path) != 0) {
			/* A socket the user named: a jmstatd started as they
			 * would start it listens elsewhere. */
			fprintf(stderr, "jmctl: cannot connect to %s: jmstatd is not running there "
			        "(%s: start it with `jmstatd --socket %s`, or name the socket of a "
			        "running jmstatd with --socket or JMSTATD_SOCKET)\n", path,
			        err == ENOENT ? "no such socket" :
			        "a socket left by a jmstatd that stopped", path);
			break;
		}
		if (geteuid() != 0 && jm_socket_own(own, sizeof own) == 0 && strcmp(own, path) != 0)
			snprintf(mine, sizeof mine, ", nor a jmstatd of yours at %s", own);
		fprintf(stderr, "jmctl: cannot connect to %s: jmstatd is not running%s "
		        "(start it with `jmstatd` or `systemctl start jmstatd`, "
		        "or name its socket with --socket or JMSTATD_SOCKET)\n", path, mine);
		break;
	}
	case EACCES:
	case EPERM:
		fprintf(stderr, "jmctl: cannot connect to %s: permission denied "
		        "(the socket belongs to another user: run jmctl as that user "
		        "or as root, or use your own jmstatd with --socket)\n", path);
		break;
	case ENOTDIR:
		fprintf(stderr, "jmctl: cannot connect to %s: a component of the path "
		        "is not a directory (check --socket or JMSTATD_SOCKET)\n", path);
		break;
	case ENAMETOOLONG:
		fprintf(stderr, "jmctl: cannot connect to %s: socket path too long "
		        "(limit %zu bytes)\n", path,
		        sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		break;
	default:
		fprintf(stderr, "jmctl: cannot connect to %s: %s\n", path, strerror(err));
		break;
	}
}

void jm_client_report(struct jm_client *c, int err, const char *what)
{
	switch (-err) {
	case ETIMEDOUT:
		fprintf(stderr, "jmctl: %s: jmstatd did not answer %s within %d s "
		        "(is it stuck? check its log)\n", c->path, what,
		        JMCTL_REPLY_TIMEOUT_MS / 1000);
		break;
	case EPIPE:
	case ECONNRESET:
		fprintf(stderr, "jmctl: %s: jmstatd closed the connection%s%s "
		        "(did it stop? check its log, or `systemctl status jmstatd`)\n",
		        c->path, what[0] ? " before answering " : "", what);
		break;
	case EMSGSIZE:
		fprintf(stderr, "jmctl: %s: reply to %s larger than %u MiB: "
		        "not a jmstatd socket?\n", c->path, what, JM_LINE_MAX >> 20);
		break;
	default:
		fprintf(stderr, "jmctl: %s: %s: %s\n", c->path, what, strerror(-err));
		break;
	}
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int jm_client_read_line(struct jm_client *c, int timeout_ms)
{
	long long deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;

	/* Drop the line returned last time. */
	if (c->line) {
		size_t used = strlen(c->line) + 1;

		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
		c->line = NULL;
	}
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;

		if (nl) {
			*nl = '\0';
			c->line = c->buf;
			return 0;
		}
		if (c->len >= JM_LINE_MAX)
			return -EMSGSIZE;
		if (c->cap - c->len < 4096) {
			size_t ncap = c->cap ? c->cap * 2 : 65536;
			if (ncap > JM_LINE_MAX + 4096)
				ncap = JM_LINE_MAX + 4096;   /* not 128 MiB for the last bytes */
			char *nb = realloc(c->buf, ncap);

			if (!nb)
				return -ENOMEM;
			c->buf = nb;
			c->cap = ncap;
		}
		if (deadline >= 0) {
			struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
			long long left = deadline - now_ms();
			int r;

			if (left < 0)
				left = 0;
			r = poll(&pfd, 1, (int)left);
			if (r < 0 && errno == EINTR)
				return -EINTR;
			if (r < 0)
				return -errno;
			if (r == 0)
				return -ETIMEDOUT;
		}
		ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n == 0)
			return -EPIPE;
		if (n < 0) {
			if (errno == EINTR)
				return -EINTR;
			return -errno;
		}
		c->len += (size_t)n;
	}
}

int jm_client_send(struct jm_client *c, json_t *req)
{
	/* Dumped into memory of jmctl's own (json_dumps' is jansson's, to
	 * be freed by json_budget_free). */
	size_t len = json_dumpb(req, NULL, 0, JSON_COMPACT), off = 0;
	char *line = len ? malloc(len + 2) : NULL;
	int err = 0;

	if (!line)
		return -ENOMEM;
	if (json_dumpb(req, line, len, JSON_COMPACT) != len) {
		free(line);
		return -ENOMEM;
	}
	line[len++] = '\n';
	line[len] = '\0';
	while (off < len) {
		ssize_t w = send(c->fd, line + off, len - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			err = -errno;
			break;
		}
		off += (size_t)w;
	}
	free(line);
	return err;
}

int jm_print_json(const json_t *obj)
{
	if (json_dumpf(obj, stdout, JSON_COMPACT | JSON_ENSURE_ASCII) != 0)
		return -EIO;
	fputc('\n', stdout);
	return 0;
}

void jm_print_json_line(const char *line, const json_t *obj)
{
	for (const unsigned char *s = (const unsigned char *)line; *s; s++)
		if (*s < 0x20 || *s > 0x7e) {
			jm_print_json(obj);
			return;
		}
	puts(line);
}

json_t *jm_client_parse(struct jm_client *c)
{
	json_error_t jerr;
	json_t *obj;

	json_over = false;
	obj = json_loads(c->line, 0, &jerr);
	if (!obj && json_over) {
		fprintf(stderr, "jmctl: %s: reply of %zu bytes takes more than %zu MiB to read: "
		        "not a jmstatd reply? (is this socket jmstatd's?)\n", c->path, strlen(c->line),
		        JM_JSON_BUDGET >> 20);
		return NULL;
	}
	if (!obj || !json_is_object(obj)) {
		char why[sizeof jerr.text * 4];   /* jansson quotes the text near the error */
		fprintf(stderr, "jmctl: %s: not a jmstatd reply (%s): is this socket jmstatd's?\n",
		        c->path, obj ? "not a JSON object" : jm_safe(why, sizeof why, jerr.text));
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/* Whether process pid runs as another user than the caller, who is not
 * root (jmstatd shows a client only the processes of its uid): then its
 * real uid's name (or number) in owner. */
static bool owner_other(long pid, char *owner, size_t size)
{
	char path[64], line[256];
	unsigned long uid;
	bool found = false;
	FILE *f;

	if (geteuid() == 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "Uid: %lu", &uid) == 1;
	fclose(f);
	if (!found || uid == (unsigned long)geteuid())
		return false;
	struct passwd *pw = getpwuid((uid_t)uid);
	if (pw)
		jm_safe(owner, size, pw->pw_name);
	else
		snprintf(owner, size, "%lu", uid);
	return true;
}

/* Whether pid is a kernel thread (PF_KTHREAD in /proc/PID/stat's flags),
 * which has no memory map of its own either. */
static bool kernel_thread(long pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');   /* comm may hold anything */
	unsigned long flags = 0;
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return false;
	return (flags & 0x00200000ul) != 0;  /* PF_KTHREAD */
}

/* Reads the maps file at path: whether it names libjmalloc (*mapped),
 * its lines (*nmaps, up to the one that names it). False if it cannot be
 * opened. */
static bool maps_read(const char *path, bool *mapped, size_t *nmaps)
{
	char line[4096];
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	while (!*mapped && fgets(line, sizeof(line), f)) {
		*mapped = strstr(line, "/libjmalloc") != NULL;
		(*nmaps)++;
	}
	fclose(f);
	return true;
}

/* The maps of pid's first other thread that has any (its main thread
 * ended, the process running on). */
static void other_threads_maps(long pid, bool *mapped, size_t *nmaps)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/%ld/task", pid);
	DIR *dir = opendir(path);
	if (!dir)
		return;
	struct dirent *de;
	while (*nmaps == 0 && (de = readdir(dir)) != NULL) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || tid <= 0 || tid == pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%ld/maps", pid, tid);
		(void)maps_read(path, mapped, nmaps);
	}
	closedir(dir);
}

/* Why jmstatd does not know process pid, from what /proc tells the
 * caller: no such process; one that runs without jmalloc (libjmalloc is
 * not in its maps, a static link aside); one with jmalloc but no segment
 * jmstatd reads; one of another user (its maps unreadable), whom jmstatd
 * does not show the caller; or, when its maps are unreadable otherwise,
 * the question. */
void jm_client_report_no_process(const struct jm_client *c, long pid)
{
	char path[64], comm[64] = "", line[4096], owner[64];
	FILE *f;
	bool mapped = false;

	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "jmctl: no process %ld is running\n", pid);
		return;
	}
	if (fgets(line, sizeof(line), f)) {
		/* comm is the process's to name (prctl PR_SET_NAME: 15 bytes
		 * of anything, enough for an OSC 52 that writes root's
		 * clipboard): escaped as every name from a process is. */
		line[strcspn(line, "\n")] = '\0';
		jm_safe(comm, sizeof(comm), line);
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%ld/maps", pid);
	size_t nmaps = 0;
	bool readable = maps_read(path, &mapped, &nmaps);
	/* Empty, the process may still run: its main thread ended
	 * (pthread_exit), whose maps are then empty, the others running
	 * on: theirs say (tests/cli/leader_exited). */
	if (readable && nmaps == 0)
		other_threads_maps(pid, &mapped, &nmaps);
	if (readable && nmaps == 0 && !kernel_thread(pid)) {
		/* No memory at all: it has exited (a zombie its parent has not
		 * reaped, or on its way out), which jmctl took for a process
		 * without jmalloc ("start it with LD_PRELOAD"): a pid from a
		 * listing a moment old (tests/cli/exited_pid). */
		fprintf(stderr, "jmctl: pid %ld (%s) has exited (its parent has not reaped it "
		        "yet): jmstatd shows live processes only\n", pid, comm);
		return;
	}
	if (!readable && owner_other(pid, owner, sizeof owner))
		fprintf(stderr, "jmctl: pid %ld (%s) is a process of user %s: jmstatd shows each "
		        "user only their own processes (run jmctl as %s%s)\n", pid, comm, owner,
		        owner, strcmp(owner, "root") == 0 ? "" : " or as root");
	else if (!readable)
		fprintf(stderr, "jmctl: no segment for pid %ld (%s): is it running with the "
		        "allocator? (jmstatd at %s does not see it; `jmctl ps` lists the processes "
		        "it sees)\n", pid, comm, c->path);
	else if (!mapped)
		fprintf(stderr, "jmctl: pid %ld (%s) runs without jmalloc: libjmalloc is not in its "
		        "memory maps (start it with LD_PRELOAD=/path/to/libjmalloc.so)\n", pid, comm);
	else
		fprintf(stderr, "jmctl: pid %ld (%s) runs with jmalloc, but jmstatd at %s has no "
		        "segment of it: its stats may be off (JMALLOC_CONF=stats:0), in another "
		        "JMALLOC_STATS_DIR than jmstatd's, or not readable by jmstatd's user\n",
		        pid, comm, c->path);
}

int jm_client_call(struct jm_client *c, json_t *req, json_t **reply, bool print_raw)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	char what[64];
	json_t *obj;
	int err;

	*reply = NULL;
	snprintf(what, sizeof(what), "'%s'", cmd ? cmd : "?");
	err = jm_client_send(c, req);
	/* A daemon that refuses us (at its limit) says why and closes: the
	 * line may already wait even when our request could not be sent. */
	if (err == 0 || err == -EPIPE || err == -ECONNRESET) {
		int rerr;
		do
			rerr = jm_client_read_line(c, err ? 1000 : JMCTL_REPLY_TIMEOUT_MS);
		while (rerr == -EINTR);
		if (err == 0 || rerr == 0)
			err = rerr;
	}
	if (err) {
		jm_client_report(c, err, what);
		return err;
	}
	/* Parsed before it is printed: a line that is not JSON is not put
	 * on the caller's terminal (it may hold any byte). */
	obj = jm_client_parse(c);
	if (!obj)
		return -EPROTO;
	if (print_raw) {
		jm_print_json_line(c->line, obj);
		fflush(stdout);
	}
	if (!json_is_true(json_object_get(obj, "ok"))) {
		const char *msg = json_string_value(json_object_get(obj, "error"));

		if (!msg)
			msg = "error without a message";
		/* The daemon's words, which may quote a process's: escaped. */
		char shown[1024];
		jm_safe(shown, sizeof shown, msg);
		if (strncmp(msg, "jmstatd is at its limit", 23) == 0) {
			fprintf(stderr, "jmctl: %s: %s: try again once some of your connections "
			        "are closed\n", c->path, shown);
			err = -EBUSY;
		} else if (strncmp(msg, "no such process", 15) == 0) {
			json_t *pid = json_object_get(req, "pid");

			if (json_is_integer(pid))
				jm_client_report_no_process(c, (long)json_integer_value(pid));
			else
				fprintf(stderr, "jmctl: %s (jmstatd at %s does not see it: "
				        "`jmctl ps` lists the processes it sees)\n", shown, c->path);
			err = -ENOENT;
		} else {
			fprintf(stderr, "jmctl: %s: jmstatd refused %s: %s\n", c->path, what, shown);
			err = -EPROTO;
		}
		json_decref(obj);
		return err;
	}
	*reply = obj;
	return 0;
}

int jm_client_request(const char *path, json_t *req, json_t **reply, bool print_raw)
{
	struct jm_client c;
	int err;

	*reply = NULL;
	err = jm_client_open(&c, path);
	if (err == 0) {
		err = jm_client_call(&c, req, reply, print_raw);
		jm_client_close(&c);
	}
	json_decref(req);
	if (err || print_raw) {
		json_decref(*reply);
		*reply = NULL;
	}
	return err;
}

int jm_client_open(struct jm_client *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_t *req = NULL, *reply = NULL;
	int err;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->path = path;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		report_connect(path, ENAMETOOLONG);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* Whom to trust (socket.h): when jmctl chose the path itself, a
	 * socket where only the caller or root could have made it. */
	struct stat st;
	char why[600];
	if (strcmp(path, default_path) == 0 && lstat(path, &st) == 0 &&
	    jm_socket_dir_trusted(path, geteuid(), why, sizeof why) != 0) {
		fprintf(stderr, "jmctl: not using %s: %s (a socket there may be anyone's)\n", path, why);
		return -EPERM;
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = -errno;
		report_connect(path, errno);
		return err;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		report_connect(path, errno);
		goto fail_close;
	}
	uid_t peer;
	err = jm_socket_peer_uid(c->fd, &peer);
	if (err == 0 && peer != 0 && peer != geteuid()) {
		fprintf(stderr, "jmctl: %s: the daemon there runs as uid %u, neither root nor you: "
		        "refusing (it could show you anything)\n", path, (unsigned)peer);
		err = -EPERM;
	}
	if (err)
		goto fail_close;

	/* The handshake: is this jmstatd, and does it speak our layout? */
	req = json_pack("{s:s}", "cmd", "version");
	err = jm_client_call(c, req, &reply, false);
	json_decref(req);
	if (err)
		goto fail_close;
	json_t *lv = json_object_get(reply, "layout_version");
	if (!json_is_integer(lv)) {
		fprintf(stderr, "jmctl: %s: jmstatd's version reply has no "
		        "layout_version: not a jmstatd this jmctl can talk to "
		        "(install jmctl and jmstatd from the same release)\n", path);
		err = -EPROTO;
		goto fail_reply;
	}
	c->layout_version = (int)json_integer_value(lv);
	if (c->layout_version != (int)JMSTAT_VERSION) {
		char v[256];
		jm_safe(v, sizeof v, jm_str(reply, "version"));

		fprintf(stderr, "jmctl: %s: jmstatd %s speaks stats layout version %d, "
		        "this jmctl %s knows version %u (install jmctl and jmstatd "
		        "from the same release)\n", path, v[0] ? v : "(unknown)",
		        c->layout_version, JM_VERSION, JMSTAT_VERSION);
		err = -EPROTO;
		goto fail_reply;
	}
	/* 50 ms to 1 h, as jmstatd's --interval takes; anything else is not a
	 * daemon's (top waits an interval and 10 s for each update). */
	long long interval = jm_int(reply, "interval_ms");
	c->interval_ms = interval >= 1 && interval <= 3600000 ? (int)interval : 1000;
	json_decref(reply);
	return 0;

fail_reply:
	json_decref(reply);
fail_close:
	jm_client_close(c);
	return err;
}

void jm_client_close(struct jm_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->line = NULL;
	c->len = c->cap = 0;
}
