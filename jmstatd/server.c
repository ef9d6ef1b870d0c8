/*
 * server.c: the Unix socket, its clients and their bounds.
 *
 * The listening socket is either inherited from systemd (socket
 * activation, systemd.c) or bound here at the configured path (made ready
 * by sockpath.c: its directory, a stale socket removed), which is then
 * made connectable by everyone (0666): what a client sees is decided per
 * client from its SO_PEERCRED uid, not by file permissions.
 *
 * Each client is read into a line buffer that grows up to
 * JMD_MAX_REQUEST + 1 bytes; every complete line is one request, answered
 * in order with one line. The bounds, and what happens when a client breaks
 * one (the others never notice):
 * - a line longer than JMD_MAX_REQUEST: told why, then disconnected;
 * - more than JMD_MAX_CLIENTS clients, or more than JMD_MAX_CLIENTS -
 *   JMD_ROOT_CLIENTS of uids other than root, or more than JMD_UID_CLIENTS
 *   of one uid other than root: the newcomer is told why ("at its limit
 *   for your user") and disconnected. One user cannot take every slot,
 *   and root (an operator's jmctl, the monitoring) always finds one, as
 *   PostgreSQL keeps connections for its superusers;
 * - no complete request for idle_ms (JMD_IDLE_MS, --client-idle) while
 *   it has nothing in progress, or replies it has not taken for as long:
 *   closed (told why if it reads), as sshd's LoginGraceTime closes a
 *   connection that never authenticates. A subscriber that takes its
 *   updates is never idle;
 * - more than JMD_MAX_OUTPUT bytes of replies it has not read: dropped with
 *   a log line (it is not reading, so it cannot be told).
 * A client that sends requests and does not read the replies is not read
 * either: once PAUSE_WRITES replies or PAUSE_BYTES bytes of them wait in
 * its queue, its requests wait (in its line buffer, then in its socket)
 * until the queue drains to half. Without that, each read of 64 KiB of
 * pipelined requests queued thousands of small replies, whose bookkeeping
 * (a write request and a buffer each) more than doubled the 4 MiB that the
 * bound counts: a few hundred silent clients took gigabytes and kept the
 * loop busy answering them. A subscriber that does not keep up is not sent
 * the next update while the one before still waits in its queue.
 * A client whose request (`sites`, a `ps` not kept for the view, or any
 * other reply built for it) waits for its user's budget of replies built
 * (sites_cmd.c) is not
 * read either: the request stays in its line
 * buffer, the requests after it behind it, until the next tick
 * (jmd_server_tick), in the order the clients connected.
 * A client being disconnected after an error is closed once its output is
 * flushed, or after two ticks if it never reads it. A client that shuts
 * its side of the connection (end of file: `printf ... | socat`, `nc -N`)
 * after its requests gets every reply still owed, as the protocol promises
 * each request one: it is closed once they are flushed (a subscriber only
 * when its updates end), or as any client that does not take its replies.
 */
#include "commands.h"

#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define PAUSE_WRITES 64u          /* replies queued before a client is not read */
#define PAUSE_BYTES  (256u << 10) /* bytes queued before a client is not read */

/* Clients refused for the limit since the last tick (one daemon per
 * process: the loop's thread alone touches it). */
static unsigned long refusals_this_tick;

struct wreq {
	uv_write_t req;
	struct jmd_client *c;
	char *data;              /* the reply, its own; or NULL and: */
	struct jmd_blob *blob;   /* a shared one, a reference held */
	struct jmd_blob *blob2;  /* and a second after it, or NULL */
	size_t len;
};


/* ------------------------------------------------------------ clients */

static void on_client_closed(uv_handle_t *h)
{
	struct jmd_client *c = h->data;
	struct jmd *d = c->d;
	if (c->prev)
		c->prev->next = c->next;
	else
		d->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	d->nclients--;
	jmd_container_scope_put(c->scope);
	free(c->in);
	free(c);
}

static void client_close(struct jmd_client *c)
{
	if (c->closed)
		return;
	c->closed = true;
	uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

/* Stops reading; closes once the output written so far is flushed. */
static void client_finish(struct jmd_client *c)
{
	if (c->closing || c->closed)
		return;
	c->closing = true;
	c->subscribed = false;
	c->closing_tick = c->d->tick;
	uv_read_stop((uv_stream_t *)&c->pipe);
	if (c->nwrites == 0)
		client_close(c);
}

static void process_lines(struct jmd_client *c, size_t scan);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static bool backlogged(struct jmd_client *c)
{
	return c->nwrites >= PAUSE_WRITES || jmd_client_queued(c) >= PAUSE_BYTES;
}

static void on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct jmd_client *c = w->c;
	free(w->data);
	jmd_blob_put(w->blob);
	jmd_blob_put(w->blob2);
	free(w);
	c->nwrites--;
	c->d->writes--;
	c->active_ms = uv_now(c->d->loop);
	if (status < 0 && status != UV_ECANCELED) {
		jmd_debug("client %u: write failed: %s", c->id, uv_strerror(status));
		client_close(c);
		return;
	}
	if ((c->closing || (c->eof && !c->subscribed)) && c->nwrites == 0) {
		client_close(c);
		return;
	}
	if (c->paused && !c->deferred && !c->closing && !c->closed && c->nwrites <= PAUSE_WRITES / 2 &&
	    jmd_client_queued(c) <= PAUSE_BYTES / 2) {
		c->paused = false;
		process_lines(c, 0);
		if (!c->paused && !c->closing && !c->closed &&
		    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) != 0)
			client_close(c);
	}
}

/* A line about what a client did: root's always; other users' within one
 * budget. A client that sends a request too long is closed with a line,
 * and connects again: one python loop of nobody's wrote 10,000 lines a
 * second. */
static struct jmd_log_budget client_lines = { .about = "other users' clients" };

static void client_log(const struct jmd_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void client_log(const struct jmd_client *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->viewer == 0)
		jmd_log("%s", msg);
	else
		jmd_log_within(&client_lines, "%s", msg);
}

/* A client with more than JMD_MAX_OUTPUT bytes of replies unread is
 * dropped (it is not reading, so it cannot be told). */
static bool output_full(struct jmd_client *c)
{
	size_t queued = uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
	if (queued <= JMD_MAX_OUTPUT)
		return false;
	client_log(c, "client %u (pid %d, uid %u) dropped: %zu bytes of replies unread (limit %u)",
	           c->id, (int)c->peer_pid, (unsigned)c->uid, queued, JMD_MAX_OUTPUT);
	client_close(c);
	return true;
}

/* A reply was queued: the client's idle time counts from now, not from
 * when its request was read (the loop may have taken long to build it). */
static void reply_queued(struct jmd_client *c)
{
	c->nwrites++;
	c->d->writes++;
	uv_update_time(c->d->loop);
	c->active_ms = uv_now(c->d->loop);
}

/* Writes data (malloc'd, len bytes, its newline included), which it takes. */
static void queue_reply(struct jmd_client *c, char *data, size_t len)
{
	struct wreq *w = malloc(sizeof(*w));
	if (!w) {
		jmd_log("client %u dropped: out of memory for its reply", c->id);
		free(data);
		client_close(c);
		return;
	}
	w->c = c;
	w->data = data;
	w->blob = NULL;
	w->blob2 = NULL;
	w->len = len;
	uv_buf_t buf = uv_buf_init(data, (unsigned)len);
	int rc = uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, on_written);
	if (rc < 0) {
		jmd_debug("client %u: write failed: %s", c->id, uv_strerror(rc));
		free(data);
		free(w);
		client_close(c);
		return;
	}
	reply_queued(c);
}

void jmd_client_send(struct jmd_client *c, json_t *reply)
{
	if (!reply)
		return;
	if (c->closed || output_full(c)) {
		json_decref(reply);
		return;
	}
	char *s = json_dumps(reply, JMD_JSON_FLAGS);
	json_decref(reply);
	size_t len = s ? strlen(s) : 0;
	char *data = s ? realloc(s, len + 1) : NULL;
	if (!data) {
		jmd_log("client %u dropped: out of memory for its reply", c->id);
		free(s);
		client_close(c);
		return;
	}
	data[len] = '\n';
	queue_reply(c, data, len + 1);
}

/* Writes bufs, which lie in b and b2 (NULL: none), holding a reference
 * to each until they are written. */
static void send_blobs(struct jmd_client *c, struct jmd_blob *b, struct jmd_blob *b2,
                       const uv_buf_t *bufs, unsigned nbufs)
{
	if (c->closed || output_full(c))
		return;
	struct wreq *w = malloc(sizeof(*w));
	if (!w) {
		jmd_log("client %u dropped: out of memory for its reply", c->id);
		client_close(c);
		return;
	}
	w->c = c;
	w->data = NULL;
	w->blob = b;
	w->blob2 = b2;
	w->len = 0;
	for (unsigned i = 0; i < nbufs; i++)
		w->len += bufs[i].len;
	b->refs++;
	if (b2)
		b2->refs++;
	int rc = uv_write(&w->req, (uv_stream_t *)&c->pipe, bufs, nbufs, on_written);
	if (rc < 0) {
		jmd_debug("client %u: write failed: %s", c->id, uv_strerror(rc));
		jmd_blob_put(b);
		jmd_blob_put(b2);
		free(w);
		client_close(c);
		return;
	}
	reply_queued(c);
}

void jmd_client_send_blob(struct jmd_client *c, struct jmd_blob *b, const uv_buf_t *bufs,
                          unsigned nbufs)
{
	send_blobs(c, b, NULL, bufs, nbufs);
}

void jmd_client_send_text(struct jmd_client *c, const char *text, size_t len)
{
	if (c->closed || output_full(c))
		return;
	char *data = malloc(len + 1);
	if (!data) {
		jmd_log("client %u dropped: out of memory for its reply", c->id);
		client_close(c);
		return;
	}
	memcpy(data, text, len);
	data[len] = '\n';
	queue_reply(c, data, len + 1);
}

/* Each request is parsed once, here (jmd_request_parse): ps, the request
 * asked most, is answered from text kept per viewer and field set (ps.c),
 * built within the budget below when not kept; sites from
 * text kept per process and sample (sites_cmd.c), which may put it off to
 * the next tick (false: the line is kept, the client paused until then);
 * any other through jmd_command(), built anew for each request: for a
 * user other than root, within the budget of CPU a tick that its sites
 * replies are built in (put off to the next tick past it). Unbounded,
 * `stats` of a process of theirs with 1,024 arenas (a segment says what
 * its writer wants: a forged one is read as the allocator's own), 478 KB
 * and 12 ms of the loop each, asked on 8 connections in a loop, kept
 * root's `version` waiting 350 ms at the median, 1.1 s at worst; and
 * `history` of a full ring (3,000 samples at 200 ms) 6 ms each. */
static bool handle_line(struct jmd_client *c, char *line, size_t len)
{
	json_t *reply;
	json_t *req = jmd_request_parse(c->d, line, len, &reply);
	if (!req) {
		jmd_client_send(c, reply);
		return true;
	}
	unsigned mask;
	if (jmd_is_sites_request(req)) {
		struct jmd_blob *blob;
		uv_buf_t bufs[2];
		unsigned nbufs;
		int rc = jmd_sites_serve(c, req, &reply, &blob, bufs, &nbufs);
		if (rc == 0) {
			c->d->sites_deferred++;
			json_decref(req);
			return false;
		}
		if (rc == 1)
			jmd_client_send(c, reply);
		else
			jmd_client_send_blob(c, blob, bufs, nbufs);
	} else if (jmd_ps_request(req, &mask)) {
		/* Kept for the view, or built within the user's budget: the
		 * fields are theirs to choose, and a new set each time had ps
		 * built for every request, out of every budget. */
		const struct jmd_reply_cache *r = jmd_ps_kept(c->d, c->viewer, mask);
		if (!r && !jmd_build_budget_left(c->d, c->who)) {
			c->d->ps_deferred++;
			json_decref(req);
			return false;
		}
		if (!r) {
			uint64_t t0 = c->who != 0 ? jmd_thread_cpu_ns() : 0;
			r = jmd_ps_cached(c->d, c->viewer, mask);
			if (c->who != 0)
				jmd_build_budget_charge(c->d, c->who, jmd_thread_cpu_ns() - t0);
		}
		if (r)
			jmd_client_send_text(c, r->text, r->len);
		else
			jmd_client_send(c, jmd_error(c->d, "out of memory"));
	} else if (!jmd_build_budget_left(c->d, c->who)) {
		json_decref(req);
		return false;
	} else {
		uint64_t t0 = c->who != 0 ? jmd_thread_cpu_ns() : 0;
		jmd_client_send(c, jmd_command(c->d, c->viewer, c, req));
		if (c->who != 0)
			jmd_build_budget_charge(c->d, c->who, jmd_thread_cpu_ns() - t0);
	}
	json_decref(req);
	return true;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct jmd_client *c = h->data;
	if (c->in_len == c->in_cap && c->in_cap < JMD_MAX_REQUEST + 1) {
		size_t cap = c->in_cap ? c->in_cap * 2 : 4096;
		if (cap > JMD_MAX_REQUEST + 1)
			cap = JMD_MAX_REQUEST + 1;
		char *in = realloc(c->in, cap);
		if (in) {
			c->in = in;
			c->in_cap = cap;
		}
	}
	*buf = uv_buf_init(c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct jmd_client *c = s->data;
	if (nread < 0) {
		if (nread != UV_EOF)
			jmd_debug("client %u: %s", c->id, uv_strerror((int)nread));
		else
			jmd_debug("client %u left", c->id);
		if (nread == UV_EOF && !c->closing && (c->nwrites > 0 || c->subscribed)) {
			/* Shut its side only: the replies it asked for are owed
			 * (every complete line is answered: it was not paused, or
			 * it would not have been read). */
			c->eof = true;
			uv_read_stop(s);
			return;
		}
		client_close(c);
		return;
	}
	if (nread == 0 || c->closing || c->closed)
		return;
	size_t scan = c->in_len;
	c->in_len += (size_t)nread;
	process_lines(c, scan);
}

/* Answers the complete lines in c->in, in order, while the client keeps up
 * with its replies; keeps the rest. No newline in c->in[0..scan). */
static void process_lines(struct jmd_client *c, size_t scan)
{
	size_t start = 0;
	bool more = false;   /* complete lines left, for when it has caught up */
	while (!c->closing && !c->closed) {
		char *nl = memchr(c->in + scan, '\n', c->in_len - scan);
		if (!nl)
			break;
		if (backlogged(c)) {
			more = true;
			break;
		}
		size_t end = (size_t)(nl - c->in);
		c->active_ms = uv_now(c->d->loop);
		if (!handle_line(c, c->in + start, end - start)) {
			c->deferred = true;   /* until the next tick (jmd_server_tick) */
			more = true;
			break;
		}
		start = end + 1;
		scan = start;
	}
	if (c->closing || c->closed)
		return;
	if (start > 0) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
	}
	if (more || backlogged(c)) {
		if (!c->paused) {
			c->paused = true;
			uv_read_stop((uv_stream_t *)&c->pipe);
		}
		return;
	}
	if (c->in_len >= JMD_MAX_REQUEST + 1) {
		client_log(c, "client %u (pid %d, uid %u) disconnected: request longer than %u bytes",
		           c->id, (int)c->peer_pid, (unsigned)c->uid, JMD_MAX_REQUEST);
		jmd_client_send(c, jmd_error(c->d, "request too long (limit %u bytes)", JMD_MAX_REQUEST));
		client_finish(c);
	}
}

/* A client's key for the bounds (jmd_client.who), for log lines and
 * replies: one at a time (a static buffer). */
static const char *key_name(uint64_t who)
{
	static char buf[80];
	char k[40];
	jmd_key_text(k, sizeof(k), who);
	snprintf(buf, sizeof(buf), "%s%s", who & JMD_CHARGE_CONTAINER ? "the container in " : "", k);
	return buf;
}

/* The users other than root hold every slot they share: eight uids at
 * their JMD_UID_CLIENTS (busy, so never closed as idle) locked every
 * other user out of the daemon for as long as they held on. A newcomer of
 * user who (holding same) takes the oldest connection of the user that
 * holds the most, if that user holds at least two more: the slots end up
 * shared evenly (max-min fair), and users at their share cannot take each
 * other's. The connection taken is told why and closed. */
static bool make_room(struct jmd *d, const struct jmd_client *c, uint64_t who, size_t same)
{
	uint64_t users[JMD_MAX_CLIENTS + 64];
	uint32_t counts[JMD_MAX_CLIENTS + 64];
	size_t k = 0;
	for (const struct jmd_client *o = d->clients; o; o = o->next) {
		if (o == c || o->closing || o->closed || o->viewer == 0)
			continue;
		size_t i = 0;
		while (i < k && users[i] != o->who)
			i++;
		if (i == k) {
			if (k == sizeof(users) / sizeof(users[0]))
				continue;
			users[k] = o->who;
			counts[k++] = 0;
		}
		counts[i]++;
	}
	size_t most = 0;
	for (size_t i = 1; i < k; i++)
		if (counts[i] > counts[most])
			most = i;
	if (k == 0 || counts[most] < same + 2)
		return false;
	struct jmd_client *victim = NULL;     /* newest first: the last match is the oldest */
	for (struct jmd_client *o = d->clients; o; o = o->next)
		if (o != c && !o->closing && !o->closed && o->viewer != 0 && o->who == users[most])
			victim = o;
	if (!victim)
		return false;
	client_log(victim, "client %u (pid %d, uid %u) closed to make room for %s: "
	           "its user holds %u connections, the most", victim->id, (int)victim->peer_pid,
	           (unsigned)victim->uid, key_name(who), counts[most]);
	jmd_client_send(victim, jmd_error(d, "closed to make room for another user: "
	                                  "yours holds the most connections (%u)", counts[most]));
	client_finish(victim);
	return true;
}

/* Is newcomer c (counted in d->nclients) one too many? Says why in why,
 * in the words jmctl shows. */
static bool over_limit(struct jmd *d, const struct jmd_client *c, char *why, size_t len)
{
	if (d->nclients > JMD_MAX_CLIENTS) {
		snprintf(why, len, "too many clients (limit %u)", JMD_MAX_CLIENTS);
		return true;
	}
	if (c->viewer == 0)
		return false;
	/* A user's subordinate uids count as that user (principal.c),
	 * looked up at each client's connection. */
	uint64_t who = c->who;
	size_t others = 0, same = 0, same2 = 0;
	for (const struct jmd_client *o = d->clients; o; o = o->next) {
		if (o == c || o->closing || o->closed || o->viewer == 0)
			continue;
		others++;
		if (o->who == who || (o->who2 && o->who2 == who))
			same++;
		if (c->who2 && (o->who == c->who2 || o->who2 == c->who2))
			same2++;
	}
	if (same2 >= JMD_UID_CLIENTS) {
		snprintf(why, len, "jmstatd is at its limit for your container (%u connections "
		         "of %s)", JMD_UID_CLIENTS, key_name(c->who2));
		return true;
	}
	if (same >= JMD_UID_CLIENTS) {
		if (who & JMD_CHARGE_CONTAINER)
			snprintf(why, len, "jmstatd is at its limit for your container (%u connections "
			         "of %s)", JMD_UID_CLIENTS, key_name(who));
		else
			snprintf(why, len, "jmstatd is at its limit for your user (%u connections of uid "
			         "%u%s)", JMD_UID_CLIENTS, (unsigned)who,
			         who != c->uid ? " and its subordinate uids" : "");
		return true;
	}
	if (others >= JMD_MAX_CLIENTS - JMD_ROOT_CLIENTS && !make_room(d, c, who, same)) {
		snprintf(why, len, "jmstatd is at its limit for your user (%u connections of "
		         "users other than root)", JMD_MAX_CLIENTS - JMD_ROOT_CLIENTS);
		return true;
	}
	return false;
}

/* A client whose pid namespace or cgroup could not be read for want of
 * a file descriptor is told so (the connection is open: a reply needs
 * none more) and closed; not blamed in the log ("it has exited?"), and
 * jmctl said "did it stop?". True if it was. */
static bool refused_no_fds(struct jmd_client *c, int err_no)
{
	if (!jmd_no_fds(err_no))
		return false;
	jmd_log_no_fds(err_no, "client %u (pid %d, uid %u) refused", c->id, (int)c->peer_pid,
	               (unsigned)c->uid);
	jmd_client_send(c, jmd_error(c->d, "%s", jmd_no_fds_reply(err_no)));
	client_finish(c);
	return true;
}

/* A client accepted (fd, non-blocking), taken on. */
static void client_accepted(struct jmd *d, int afd)
{
	struct jmd_client *c = calloc(1, sizeof(*c));
	if (!c || uv_pipe_init(d->loop, &c->pipe, 0) != 0) {
		jmd_log("out of memory for a new client");
		free(c);
		close(afd);
		return;
	}
	c->d = d;
	c->id = ++d->next_client_id;
	c->pipe.data = c;
	c->next = d->clients;
	if (d->clients)
		d->clients->prev = c;
	d->clients = c;
	d->nclients++;
	if (uv_pipe_open(&c->pipe, afd) != 0) {
		close(afd);
		client_close(c);
		return;
	}
	uv_os_fd_t fd;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		jmd_log("client %u refused: cannot learn who it is (SO_PEERCRED): %s", c->id,
		        strerror(errno));
		client_close(c);
		return;
	}
	c->uid = cred.uid;
	c->peer_pid = cred.pid;
	/* A client in a pid namespace below ours (a container's, with the
	 * socket mounted in it) is no user of the host's: root there without
	 * a user namespace is uid 0 here, and had the host's view, root's
	 * slots and no budget; any other uid of it a host user's share. It
	 * sees its namespace's processes only, and its bounds are its
	 * container's (the key of its processes' bounds: the pid namespace
	 * just below ours it runs in or under) where root owns that (no user
	 * namespace, or a runtime's), whatever its uids and namespaces
	 * (fifteenth pass, tests/containers/socket_scope.test.sh). */
	uint32_t ns_own, ns_top, ns_owner;
	if (jmd_peer_pidns(fd, cred.pid, &ns_own, &ns_top, &ns_owner) != 0) {
		int err_no = errno;
		if (refused_no_fds(c, err_no))
			return;
		/* Within the budget of other users' clients' lines: a loop
		 * of connections whose processes exit at once is anyone's. */
		jmd_log_within(&client_lines, "client %u (pid %d, uid %u) refused: cannot tell its "
		               "pid namespace (it has exited?): %s", c->id, (int)cred.pid,
		               (unsigned)cred.uid, strerror(err_no));
		client_close(c);
		return;
	}
	/* The container its cgroup names: for a client of our pid
	 * namespace, a --pid=host container's (hostPID), whose root is uid
	 * 0 here and had the host's view, root's connections and no budget;
	 * without CAP_SYS_PTRACE (which reads any process's memory anyway:
	 * a privileged container's, a debugging one's) it now sees that
	 * container's processes only, and root's such clients share one
	 * set of bounds. And a pid namespace such a container makes was a
	 * container of its own (its clients 32 more connections and a
	 * budget each, without end): a root-owned namespace's clients in a
	 * container's cgroup count as that container too, and as their
	 * namespace (sixteenth pass, docs/security.md;
	 * tests/containers/hostpid_socket.test.sh). */
	char container[65] = "";
	bool ptracer = false;
	if ((ns_own == 0 || ns_owner == 0) &&
	    jmd_peer_container(fd, cred.pid, container, &ptracer) != 0) {
		if (refused_no_fds(c, errno))
			return;
		jmd_log_within(&client_lines, "client %u (pid %d, uid %u) refused: cannot tell its "
		               "cgroup (it has exited?)", c->id, (int)cred.pid, (unsigned)cred.uid);
		client_close(c);
		return;
	}
	uint64_t ct_key = container[0] ? JMD_CHARGE_CONTAINER | JMD_CHARGE_CGROUP |
	                                 jmd_container_key(container) : 0;
	if (ns_own) {
		c->viewer = JMD_VIEWER(cred.uid, ns_own);
		/* A user's own containers (a user namespace they made) are
		 * theirs: each pid namespace a bound of its own would let
		 * anyone make as many as they like. */
		c->who = ns_owner == 0 ? JMD_CHARGE_CONTAINER | JMD_CHARGE_PIDNS | ns_top
		                       : jmd_principal(d, c->uid);
		if (ns_owner == 0 && ct_key) {
			c->who2 = c->who;
			c->who = ct_key;
		}
	} else if (container[0] && !ptracer) {
		/* Its scope a number held for its container's id, not the
		 * id's 32-bit hash: two ids of one hash were one scope, each
		 * container's clients seeing the other's processes and kept
		 * ps replies (tests/unit/test_jmd_scope.c). */
		c->scope = jmd_container_scope(container);
		if (c->scope == 0) {
			client_close(c);
			return;
		}
		c->viewer = JMD_VIEWER(cred.uid, c->scope);
		c->who = cred.uid == 0 ? ct_key : jmd_principal(d, c->uid);
	} else {
		c->viewer = cred.uid;
		c->who = jmd_principal(d, c->uid);
	}
	c->active_ms = uv_now(d->loop);
	if (d->stopping || d->nclients > JMD_MAX_CLIENTS + 64) {
		client_close(c);
		return;
	}
	char why[192];
	if (over_limit(d, c, why, sizeof(why))) {
		/* One line per tick, and the count of the others at the next:
		 * a client connecting in a loop must not flood the log. */
		if (refusals_this_tick++ == 0)
			jmd_log("client %u (pid %d, uid %u) refused: %s", c->id, (int)c->peer_pid,
			        (unsigned)c->uid, why);
		else
			jmd_debug("client %u (pid %d, uid %u) refused: %s", c->id, (int)c->peer_pid,
			          (unsigned)c->uid, why);
		jmd_client_send(c, jmd_error(d, "%s", why));
		client_finish(c);
		return;
	}
	jmd_debug("client %u connected (pid %d, uid %u)", c->id, (int)c->peer_pid, (unsigned)c->uid);
	int rc = uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
	if (rc != 0)
		client_close(c);
}

/* The bytes of its replies the client has not read: those not written
 * yet, and those in its socket (SIOCOUTQ: the kernel wakes a writer only
 * once three quarters of the socket's buffer are read, so the first alone
 * stood still for seconds while a slow client read). */
static size_t unread(struct jmd_client *c)
{
	size_t n = jmd_client_queued(c);
	uv_os_fd_t fd;
	int out = 0;
	if (uv_fileno((const uv_handle_t *)&c->pipe, &fd) == 0 && ioctl(fd, SIOCOUTQ, &out) == 0 &&
	    out > 0)
		n += (size_t)out;
	return n;
}

/* Closes the clients idle for d->opt.idle_ms: nothing asked (a request
 * begun and never finished counts as nothing), or replies not taken, for
 * that long. A subscriber whose queue is empty waits for its next update:
 * it is reading. A client is taking its replies while their bytes yet to
 * be written go down between two checks: a reply of 500 KB read at a
 * loaded machine's pace was one write not completed for --client-idle,
 * and the client closed in the middle of it. A check that comes late
 * (the loop was busy: nothing was written meanwhile, whoever was reading)
 * closes nothing, only takes note. */
/* The clients closed as idle since the last line, in one line at most
 * every JMD_LOG_EVERY_MS: a line for every check that closed one (one a
 * second at --client-idle 5) let a user's loop of clients that connect
 * and wait write the journal's lines at that pace, 167 of a soak's 5,665
 * (tests/daemon/idle_log). The clients are each in the verbose log. */
static void idle_log(struct jmd *d, uint64_t now)
{
	unsigned long n = d->idle_unlogged;
	char since[64] = "";
	if (d->idle_logged_ms)
		snprintf(since, sizeof(since), " in the last %.0f s",
		         (double)(now - d->idle_logged_ms) / 1000.0);
	jmd_log("%lu idle client%s closed%s (no request or no reply taken for %u ms)", n,
	        n == 1 ? "" : "s", since, d->opt.idle_ms);
	d->idle_unlogged = 0;
	d->idle_logged_ms = now;
}

static void on_idle_timer(uv_timer_t *t)
{
	struct jmd *d = t->data;
	uint64_t now = uv_now(d->loop);
	uint64_t every = uv_timer_get_repeat(t);
	bool late = d->idle_checked_ms != 0 && now - d->idle_checked_ms > 2 * every;
	d->idle_checked_ms = now;
	unsigned long closed = 0;
	for (struct jmd_client *c = d->clients; c; c = c->next) {
		if (c->closed || c->closing)
			continue;
		size_t queued = unread(c);
		if (queued != c->idle_queued) {
			if (queued < c->idle_queued)
				c->active_ms = now;      /* it took some */
			c->idle_queued = queued;
		}
		if (late || now - c->active_ms < d->opt.idle_ms)
			continue;
		if (c->subscribed && jmd_client_queued(c) == 0)
			continue;
		closed++;
		jmd_debug("client %u (pid %d, uid %u) closed: idle for %u ms", c->id,
		          (int)c->peer_pid, (unsigned)c->uid, d->opt.idle_ms);
		if (c->nwrites > 0) {
			client_close(c);   /* it does not read: it cannot be told */
			continue;
		}
		jmd_client_send(c, jmd_error(d, "closed: no request for %u s", d->opt.idle_ms / 1000));
		client_finish(c);
	}
	d->idle_unlogged += closed;
	if (d->idle_unlogged && (!d->idle_logged_ms || now - d->idle_logged_ms >= JMD_LOG_EVERY_MS))
		idle_log(d, now);
}

/* The parts of the subscribers' updates of a tick, each built once and
 * shared by every subscriber it goes to (written from the blob, not
 * copied): the ps reply less its closing brace, one per uid (pid 0, head);
 * the tail, one per uid and pid (jmd_update_tail). Each subscriber's
 * update was built anew and copied twice: a user's 32 subscribers of the
 * whole of their 600 processes (240 KB each) cost the daemon 30% of a
 * CPU at a 200 ms interval, in one burst at the end of each tick. */
struct shared {
	jmd_viewer uid;
	pid_t pid;
	bool head;
	int err;                 /* the tail's: -ESRCH, -ENOMEM; else blob */
	struct jmd_blob *blob;
};

static const struct shared *shared_find(const struct shared *sh, size_t n, jmd_viewer uid, pid_t pid,
                                        bool head)
{
	for (size_t i = 0; i < n; i++)
		if (sh[i].uid == uid && sh[i].head == head && (head || sh[i].pid == pid))
			return &sh[i];
	return NULL;
}

/* The head and the tail of uid's update for pid, found among the n
 * parts in sh (room for max + 2) or built there, and copied (without a
 * reference) to sh[*n] and sh[*n + 1]: 0, -ESRCH, -ENOMEM. */
static int update_parts(struct jmd *d, struct shared *sh, size_t *n, size_t max, jmd_viewer uid,
                        pid_t pid)
{
	const struct shared *head = shared_find(sh, *n, uid, 0, true);
	const struct shared *tail = shared_find(sh, *n, uid, pid, false);
	if (!tail && *n < max) {
		struct shared *t = &sh[(*n)++];
		*t = (struct shared){ .uid = uid, .pid = pid };
		char *text;
		size_t len;
		t->err = jmd_update_tail(d, uid, pid, &text, &len);
		d->updates_built++;
		if (t->err == 0) {
			t->blob = jmd_blob_new(len + 1);
			if (t->blob) {
				memcpy(t->blob->data, text, len);
				t->blob->data[len] = '\n';
			} else {
				t->err = -ENOMEM;
			}
			free(text);
		}
		tail = t;
	}
	if (!tail)
		return -ENOMEM;
	if (tail->err != 0)
		return tail->err;
	if (!head && *n < max) {
		struct shared *h = &sh[(*n)++];
		*h = (struct shared){ .uid = uid, .head = true };
		const struct jmd_reply_cache *r = jmd_ps_cached(d, uid, JMD_PS_ALL);
		h->blob = r ? jmd_blob_new(r->len - 1) : NULL;     /* all but its closing brace */
		if (h->blob)
			memcpy(h->blob->data, r->text, r->len - 1);
		h->err = h->blob ? 0 : -ENOMEM;
		head = h;
	}
	if (!head || head->err != 0)
		return -ENOMEM;
	sh[*n] = *head;
	sh[*n + 1] = *tail;
	return 0;
}

void jmd_server_tick(struct jmd *d)
{
	if (refusals_this_tick > 1)
		jmd_log("%lu more clients refused: too many clients, or too many of their user",
		        refusals_this_tick - 1);
	refusals_this_tick = 0;
	/* The clients whose sites request waited for this tick, in the order
	 * they connected (the list is newest first), while their user's new
	 * budget lasts: a client put off again goes on waiting. */
	jmd_sites_tick(d);
	struct jmd_client *last = d->clients;
	while (last && last->next)
		last = last->next;
	for (struct jmd_client *c = last; c; c = c->prev) {
		if (!c->deferred)
			continue;
		c->deferred = false;
		if (c->closing || c->closed)
			continue;
		c->active_ms = uv_now(d->loop);
		process_lines(c, 0);
		/* Backlogged: on_written() reads it again once it drains. */
		if (!c->closing && !c->closed && !c->deferred && c->paused && !backlogged(c)) {
			c->paused = false;
			if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) != 0)
				client_close(c);
		}
	}
	/* Two parts a subscriber at most, and the two copied after them. */
	size_t max = 2 * d->nclients;
	struct shared *sh = calloc(max + 2, sizeof(*sh));
	size_t nsh = 0;
	for (struct jmd_client *c = d->clients; c; c = c->next) {
		if (c->closed)
			continue;
		if (c->closing) {
			if (d->tick - c->closing_tick >= 2)
				client_close(c);
			continue;
		}
		if (!c->subscribed || jmd_client_queued(c) > 0)
			continue;   /* a subscriber still to take the last update skips this one */
		int rc = sh ? update_parts(d, sh, &nsh, max, c->viewer, c->sub_pid) : -ENOMEM;
		if (rc == 0) {
			const struct shared *head = &sh[nsh], *tail = &sh[nsh + 1];
			uv_buf_t bufs[2] = {
				uv_buf_init(head->blob->data, (unsigned)head->blob->len),
				uv_buf_init(tail->blob->data, (unsigned)tail->blob->len),
			};
			send_blobs(c, head->blob, tail->blob, bufs, 2);
		} else if (rc == -ESRCH) {
			c->subscribed = false;
			jmd_client_send(c, jmd_error(d, "no such process: %d", (int)c->sub_pid));
		} else {
			jmd_client_send(c, jmd_error(d, "out of memory"));
		}
	}
	for (size_t i = 0; i < nsh; i++)
		jmd_blob_put(sh[i].blob);
	free(sh);
}

/* ------------------------------------------------------------ accepting */

/* Clients are accepted here, not by uv_listen: out of descriptors, libuv
 * (1.44) takes each waiting connection with a spare descriptor of its own
 * and closes it unanswered, and tells its callback nothing: 14 of 440
 * jmctl runs in a soak at the limit said "jmstatd closed the connection
 * before answering 'version' (did it stop? ...)", and the log said
 * nothing of them. Here the spare is the daemon's (jmd.accept_spare): a
 * connection that cannot be accepted is taken with it, told that jmstatd
 * is out of descriptors and what to do (as one accepted whose namespace
 * cannot be read), and counted under the limit's line
 * (tests/daemon/fd_limit). At most ACCEPT_BURST a pass of the loop. */
#define ACCEPT_BURST 64
#define ACCEPT_PAUSE_MS 100

static void accept_resume(uv_timer_t *t)
{
	struct jmd *d = t->data;
	if (d->accept_poll_open)
		uv_poll_start(&d->accept_poll, UV_READABLE, d->accept_cb);
}

/* Nothing to take the next connection with: listen again in a while,
 * rather than spin on it. */
static void accept_pause(struct jmd *d)
{
	uv_poll_stop(&d->accept_poll);
	uv_timer_start(&d->accept_timer, accept_resume, ACCEPT_PAUSE_MS, 0);
}

/* The waiting connection, taken with the spare descriptor, told why it
 * is refused: 1 if one was (or the next may be: EINTR, ECONNABORTED), 0
 * if none was waiting, -1 if there was no descriptor to take it with.
 * Out of descriptors, accept4 fails with EMFILE before it looks at the
 * queue: after a client accepted with the last free descriptor the
 * next call says EMFILE with no connection waiting. That was taken for
 * one not accepted, "no spare descriptor" logged and listening paused
 * 100 ms after every client at the limit (tests/daemon/fd_limit_accept). */
static int accept_refuse(struct jmd *d, int lfd, int err_no)
{
	if (d->accept_spare < 0)
		d->accept_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (d->accept_spare < 0)
		return -1;
	close(d->accept_spare);
	d->accept_spare = -1;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	int accept_errno = errno;
	if (fd >= 0) {
		json_t *r = jmd_error(d, "%s", jmd_no_fds_reply(err_no));
		char *line = r ? json_dumps(r, JMD_JSON_FLAGS) : NULL;
		json_decref(r);
		if (line) {
			struct iovec iov[2] = { { line, strlen(line) }, { "\n", 1 } };
			ssize_t w = writev(fd, iov, 2);   /* a fresh socket's buffer takes it */
			(void)w;
			free(line);
		}
		/* What it sent already, read: closed with it unread, the
		 * client's read after the reply would be a reset. */
		char buf[4096];
		for (int i = 0; i < 16 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
			;
		shutdown(fd, SHUT_WR);
		close(fd);
		jmd_log_no_fds(err_no, "a client refused before it was accepted");
	}
	d->accept_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 || accept_errno == EINTR || accept_errno == ECONNABORTED)
		return 1;
	return accept_errno == EAGAIN || accept_errno == EWOULDBLOCK ? 0 : -1;
}

static void on_listen_ready(uv_poll_t *h, int status, int events)
{
	struct jmd *d = h->data;
	uv_os_fd_t lfd;
	if (status < 0 || uv_fileno((const uv_handle_t *)&d->server, &lfd) != 0) {
		accept_pause(d);
		return;
	}
	for (int i = 0; i < ACCEPT_BURST; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0) {
			client_accepted(d, fd);
			continue;
		}
		int err_no = errno;
		if (err_no == EAGAIN || err_no == EWOULDBLOCK)
			return;
		if (err_no == EINTR || err_no == ECONNABORTED)
			continue;
		if (jmd_no_fds(err_no)) {
			int r = accept_refuse(d, lfd, err_no);
			if (r > 0)
				continue;
			if (r == 0)
				return;   /* none waiting */
		}
		if (jmd_no_fds(err_no))
			jmd_log_no_fds(err_no, "clients not accepted (no spare descriptor)");
		else
			jmd_log("accepting a client failed: %s", strerror(err_no));
		accept_pause(d);
		return;
	}
}

/* ------------------------------------------------------------ the socket */

int jmd_server_start(struct jmd *d)
{
	int rc = uv_pipe_init(d->loop, &d->server, 0);
	if (rc != 0)
		return rc;
	d->server.data = d;
	d->server_open = true;

	int fd = jmd_listen_fds();
	if (fd < -1)
		return -EINVAL;
	if (fd >= 0) {
		rc = uv_pipe_open(&d->server, fd);
		if (rc != 0) {
			jmd_log("cannot use the socket passed by systemd: %s", uv_strerror(rc));
			return rc;
		}
		d->activated = true;
		jmd_log("listening on the socket passed by systemd");
		int mfd = jmd_listen_metrics_fd();
		if (mfd >= 0 && !d->opt.metrics_addr) {
			jmd_log("systemd passed a TCP socket (fd %d) but --metrics is not given: "
			        "closed", mfd);
			close(mfd);
		}
	} else {
		const char *path = d->opt.socket_path;
		if ((rc = jmd_socket_prepare(path)) != 0)
			return rc;
		/* Created 0666 at once: no moment where a client finds it
		 * but may not connect. */
		mode_t old_umask = umask(0111);
		rc = uv_pipe_bind(&d->server, path);
		umask(old_umask);
		if (rc != 0) {
			jmd_log("cannot bind %s: %s%s", path, uv_strerror(rc),
			        rc == UV_EACCES ? " (name a socket in a directory jmstatd's user may "
			                          "write with --socket)" : "");
			return rc;
		}
		d->socket_bound = true;
	}
	if (d->opt.idle_ms == 0)
		d->opt.idle_ms = JMD_IDLE_MS;
	uint64_t every = d->opt.idle_ms / 4 > 100 ? d->opt.idle_ms / 4 : 100;
	if ((rc = uv_timer_init(d->loop, &d->idle_timer)) != 0)
		return rc;
	d->idle_timer.data = d;
	d->idle_timer_open = true;
	uv_timer_start(&d->idle_timer, on_idle_timer, every, every);
	uv_unref((uv_handle_t *)&d->idle_timer);
	uv_os_fd_t lfd;
	if ((rc = uv_fileno((const uv_handle_t *)&d->server, &lfd)) != 0)
		return rc;
	if (listen(lfd, 128) != 0) {
		rc = -errno;
		jmd_log("cannot listen: %s", strerror(errno));
		return rc;
	}
	d->accept_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	d->accept_cb = on_listen_ready;
	if ((rc = uv_timer_init(d->loop, &d->accept_timer)) != 0)
		return rc;
	d->accept_timer.data = d;
	d->accept_timer_open = true;
	if ((rc = uv_poll_init(d->loop, &d->accept_poll, lfd)) != 0)
		return rc;
	d->accept_poll.data = d;
	d->accept_poll_open = true;
	if ((rc = uv_poll_start(&d->accept_poll, UV_READABLE, on_listen_ready)) != 0) {
		jmd_log("cannot listen: %s", uv_strerror(rc));
		return rc;
	}
	if (!d->activated)
		jmd_log("listening on %s", d->opt.socket_path);
	return 0;
}

void jmd_server_stop(struct jmd *d)
{
	if (d->idle_unlogged && d->loop)
		idle_log(d, uv_now(d->loop));
	for (struct jmd_client *c = d->clients; c; c = c->next)
		client_close(c);
	if (d->idle_timer_open) {
		uv_timer_stop(&d->idle_timer);
		uv_close((uv_handle_t *)&d->idle_timer, NULL);
		d->idle_timer_open = false;
	}
	/* The poll of the listening socket goes before the socket. */
	if (d->accept_poll_open) {
		uv_close((uv_handle_t *)&d->accept_poll, NULL);
		d->accept_poll_open = false;
	}
	if (d->accept_timer_open) {
		uv_close((uv_handle_t *)&d->accept_timer, NULL);
		d->accept_timer_open = false;
	}
	if (d->accept_spare >= 0) {
		close(d->accept_spare);
		d->accept_spare = -1;
	}
	if (d->server_open) {
		uv_close((uv_handle_t *)&d->server, NULL);
		d->server_open = false;
	}
	if (d->socket_bound) {
		unlink(d->opt.socket_path);
		d->socket_bound = false;
	}
}
