/*
 * http.c: the Prometheus endpoint (--metrics HOST:PORT), a minimal HTTP/1.x
 * server on the libuv loop.
 *
 * It serves GET (or HEAD) /metrics, the page metrics.c renders, as
 * text/plain; version=0.0.4, and / a small HTML page linking to it; with
 * --pprof, the heap profiles of pprof.c (/pid/PID/debug/pprof/heap...),
 * each error of those a status and a one-line reason. Each connection carries one request: the
 * reply says Connection: close and the connection is closed once it is
 * written (and what the client still sends is read and dropped for up to
 * HTTP_LINGER_MS, so that it gets the reply rather than a reset). What else a client may send, and what it gets:
 * - a request head that does not parse (request line, version, header
 *   lines, control bytes: http_head.c checks it): 400;
 * - a head longer than HTTP_MAX_HEAD bytes: 431;
 * - another path: 404; another method: 405;
 * - more than HTTP_MAX_CONNS connections at once: one only waiting to
 *   close after its reply, else the oldest that has not sent a whole
 *   request (idle, or slow to send it), is closed to make room (as sshd's
 *   MaxStartups drops unauthenticated connections): a scraper sends its
 *   request at once, so only a flood of newer connections within those
 *   milliseconds could push it out; else the one whose reply has waited
 *   longest for its client to take it (a slow reader); with none to close
 *   (32 profile requests waiting for the budget get 503 first): 503. A
 *   reply that would take the bytes not yet taken by their clients past
 *   HTTP_MAX_QUEUED closes the slow readers whose replies waited longest,
 *   to fit. Before, 32 connections that asked for a page larger than the
 *   kernel buffers (a few hundred processes, which any user can run) and
 *   read none of it held the port for 30 s each, every scrape 503, and
 *   each held a copy of the page (32 of 9.4 MB: 300 MB). A local user
 *   holding connections open cannot starve the scrapes;
 * - a head not complete within HTTP_READ_TIMEOUT_MS, or a reply not taken
 *   within HTTP_WRITE_TIMEOUT_MS: closed (counted as a timeout);
 * - with --metrics-token-file, a request without the header
 *   "Authorization: Bearer TOKEN" (the file's first line): 401, as
 *   node_exporter's web config does; loopback is no boundary between the
 *   users of one host, the page names every user's processes.
 * Nothing a client does stops the daemon or delays the others for more
 * than the rendering of one page: /metrics is rendered once a tick
 * (metrics.c) and shared by the scrapes, GET / built once a tick, and
 * every reply written HTTP_CHUNK bytes at a time (write_chunk).
 *
 * HOST:PORT: an IPv4 address, [IPv6], a name (resolved once at start) or
 * nothing (":9787" binds 127.0.0.1, the loopback, the default); port 0
 * takes a free port, which the start-up log line names.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define HTTP_MAX_HEAD          8192u
#define HTTP_MAX_CONNS         32u
#define HTTP_MAX_QUEUED        (64u << 20)
#define HTTP_READ_TIMEOUT_MS   10000u
#define HTTP_WRITE_TIMEOUT_MS  30000u
#define HTTP_LINGER_MS         2000u     /* reading what a client still sends after the reply */
#define HTTP_WAIT_MS           10000u    /* a profile request waits this long for a tick
                                            with budget left, then 503 (Retry-After) */
#define HTTP_CHUNK             (64u << 10) /* bytes of a reply handed to the kernel at once */

static const unsigned codes[] = { 200, 400, 404, 405, 431, 500, 503, 401, 409 };
static const char *const reasons[] = {
	"OK", "Bad Request", "Not Found", "Method Not Allowed",
	"Request Header Fields Too Large", "Internal Server Error", "Service Unavailable",
	"Unauthorized", "Conflict",
};
enum { R_200, R_400, R_404, R_405, R_431, R_500, R_503, R_401, R_409 };
_Static_assert(sizeof(codes) / sizeof(codes[0]) == JMD_HTTP_CODES, "metrics.h counts every code");
#define HTTP_TOKEN_MAX 4096u     /* bytes of a bearer token */

static unsigned status_index(unsigned code)
{
	for (unsigned i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i] == code)
			return i;
	return R_500;
}

struct http_conn {
	uv_tcp_t tcp;            /* first: handle.data points back here */
	uv_timer_t timer;        /* read, then write, deadline */
	struct jmd *d;
	char head[HTTP_MAX_HEAD];
	size_t len;
	bool answered;           /* a reply is queued: ignore further input */
	bool waiting;            /* its profile waits for the next tick: head[0..head_end) */
	size_t head_end;
	uint64_t started_ms;     /* uv_now() when accepted */
	bool evicted;            /* closing, or answered 503 to make room: not counted
	                            as open (counted in nevicted) */
	bool unqueued;           /* its reply no longer counted in queued (closing) */
	uint64_t answered_seq;   /* when its reply was queued: the order of replies */
	unsigned open_handles;   /* freed when both are closed */
	uv_write_t wreq;
	uv_shutdown_t sreq;
	bool writing;            /* a reply is being written: */
	char *out;               /* its head (and, of /metrics, the health series) */
	size_t out_len;
	struct jmd_blob *body;   /* /metrics' page kept for the tick: a reference */
	char *tail;              /* /metrics' own series, after the page */
	size_t tail_len;
	size_t sent, total;      /* bytes of out, body and tail written, and in all */
	size_t chunk;            /* bytes of the write under way */
	struct http_conn *next, *prev;
};

/* ------------------------------------------------------------ connections */

static void conn_closed(uv_handle_t *h)
{
	struct http_conn *c = h->data;
	if (--c->open_handles)
		return;
	struct jmd_metrics *m = c->d->metrics;
	if (c->prev)
		c->prev->next = c->next;
	else
		m->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	m->nconns--;
	if (c->evicted)
		m->nevicted--;
	free(c->out);
	free(c->tail);
	jmd_blob_put(c->body);
	free(c);
}

static void conn_close_how(struct http_conn *c, bool reset)
{
	/* In nconns until both handles are closed, which the loop does after
	 * the callbacks at hand: not counted meanwhile, or connections closed
	 * after their replies in one pass of the loop made the newcomers of
	 * that pass seem over the limit (one of them was closed unread, which
	 * its client saw as a reset). */
	struct jmd_metrics *m = c->d->metrics;
	if (!c->evicted) {
		c->evicted = true;
		m->nevicted++;
	}
	/* A reply not yet written is freed once libuv cancels its write: not
	 * counted from now, so that the newcomer it made room for fits. */
	if (c->writing && !c->unqueued) {
		m->queued -= c->total - c->sent;
		c->unqueued = true;
	}
	if (!uv_is_closing((uv_handle_t *)&c->timer)) {
		uv_timer_stop(&c->timer);
		uv_close((uv_handle_t *)&c->timer, conn_closed);
	}
	if (!uv_is_closing((uv_handle_t *)&c->tcp) &&
	    (!reset || uv_tcp_close_reset(&c->tcp, conn_closed) != 0))
		uv_close((uv_handle_t *)&c->tcp, conn_closed);
	/* Its socket is closed: libuv writes no more of the reply (its write
	 * is cancelled in the loop's next pass, the bytes untouched). Freed
	 * now: the slow readers closed to make room for the replies of one
	 * pass of the loop held a copy each until its end (32 of 9.4 MB). */
	free(c->out);
	free(c->tail);
	jmd_blob_put(c->body);
	c->out = c->tail = NULL;
	c->body = NULL;
}

static void conn_close(struct http_conn *c)
{
	conn_close_how(c, false);
}

/* Closes c with a reset: a client that did not take its reply. Closed
 * gracefully, its socket would live on in the kernel, orphaned, holding
 * what it still had to send (up to tcp_wmem's 4 MiB) until the kernel
 * gives up probing its closed window, for each connection the client
 * opened and left unread. */
static void conn_abort(struct http_conn *c)
{
	conn_close_how(c, true);
}

static void respond_text(struct http_conn *c, unsigned r, const char *msg, const char *extra);

/* The connection, other than except, whose reply has waited longest for
 * its client to take it (a slow reader), or NULL. */
static struct http_conn *oldest_writer(struct jmd_metrics *m, const struct http_conn *except)
{
	struct http_conn *w = NULL;
	for (struct http_conn *c = m->conns; c; c = c->next)
		if (c != except && !c->evicted && c->out && !uv_is_closing((uv_handle_t *)&c->tcp) &&
		    (!w || c->answered_seq < w->answered_seq))
			w = c;
	return w;
}

/* Closes slow reader w, its reply untaken: counted as a timeout. */
static void close_slow_reader(struct jmd_metrics *m, struct http_conn *w, const char *why)
{
	m->timeouts++;
	jmd_debug("metrics: a client slow to read its reply closed %s", why);
	conn_abort(w);
}

/* A request that waited for a tick: answered 503, to be asked again. */
static void respond_busy(struct http_conn *c)
{
	c->waiting = false;
	respond_text(c, R_503, "too busy: the heap profiles built a tick are within a budget; "
	             "retry\n", "Retry-After: 1\r\n");
}

static void on_timeout(uv_timer_t *t)
{
	struct http_conn *c = t->data;
	if (c->waiting) {
		respond_busy(c);   /* no tick had budget left for it within HTTP_WAIT_MS */
		return;
	}
	if (!c->writing && c->answered) {
		conn_close(c);       /* the linger after a reply is over */
		return;
	}
	c->d->metrics->timeouts++;
	jmd_debug("metrics: a client too slow to %s: closed", c->answered ? "read its reply" :
	          "send its request");
	if (c->out)
		conn_abort(c);
	else
		conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void http_metrics(struct jmd *d, struct jmd_text *t);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* The reply is sent (FIN): read and drop what the client still sends until
 * it closes, so that closing with unread input does not reset the
 * connection before the client has read the reply. */
static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct http_conn *c = req->data;
	if (status != 0 || uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timeout, HTTP_LINGER_MS, 0);
}

static void on_written(uv_write_t *req, int status);

/* The reply's next HTTP_CHUNK bytes (of out, body, tail) handed to libuv;
 * the rest after they are written (on_written). libuv writes what it is
 * given at once, as much as the kernel takes: a whole 11 MB page went in
 * one write() (the kernel copying it to the client's buffers) and 16
 * scrapes in one pass of the loop held it 1.5 s, root's requests on the
 * socket waiting for the next pass. In chunks, a pass writes at most two
 * of each connection (one completed, the next begun in on_written;
 * the next completion is handled at the next pass). */
static int write_chunk(struct http_conn *c)
{
	const char *part[3] = { c->out, c->body ? c->body->data : NULL, c->tail };
	size_t len[3] = { c->out_len, c->body ? c->body->len : 0, c->tail_len };
	uv_buf_t bufs[3];
	unsigned n = 0;
	size_t skip = c->sent, want = HTTP_CHUNK;
	for (unsigned i = 0; i < 3 && want > 0; i++) {
		if (skip >= len[i]) {
			skip -= len[i];
			continue;
		}
		size_t take = len[i] - skip < want ? len[i] - skip : want;
		bufs[n++] = uv_buf_init((char *)part[i] + skip, (unsigned)take);
		want -= take;
		skip = 0;
	}
	c->chunk = HTTP_CHUNK - want;
	c->wreq.data = c;
	return uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, n, on_written);
}

/* The reply is done with (written or not): its buffers go. */
static void reply_free(struct http_conn *c)
{
	if (!c->unqueued)
		c->d->metrics->queued -= c->total - c->sent;
	c->unqueued = false;
	c->writing = false;
	free(c->out);
	free(c->tail);
	jmd_blob_put(c->body);
	c->out = c->tail = NULL;
	c->body = NULL;
	c->out_len = c->tail_len = c->sent = c->total = 0;
}

static void on_written(uv_write_t *req, int status)
{
	struct http_conn *c = req->data;
	if (!c->unqueued)
		c->d->metrics->queued -= c->chunk;
	c->sent += c->chunk;
	c->chunk = 0;
	if (status == 0 && !c->unqueued && c->sent < c->total &&
	    !uv_is_closing((uv_handle_t *)&c->tcp)) {
		if (write_chunk(c) == 0)
			return;
		status = -1;
	}
	reply_free(c);
	c->sreq.data = c;
	if (status != 0 || uv_is_closing((uv_handle_t *)&c->tcp) ||
	    uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
		conn_close(c);
}

/* Queues the reply, its head then (unless head_only) body, page and tail
 * (each may be NULL), and closes once written. Takes body, page and tail
 * (body is copied; page is a reference, tail malloc'd). */
static void respond_parts(struct http_conn *c, unsigned r, const char *type, const char *body,
                          size_t body_len, struct jmd_blob *page, char *tail, size_t tail_len,
                          bool head_only, const char *extra)
{
	struct jmd_metrics *m = c->d->metrics;
	c->answered = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	m->responses[r]++;
	size_t page_len = page ? page->len : 0;
	char hdr[512];
	int n = snprintf(hdr, sizeof(hdr),
	                 "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                 "Connection: close\r\nCache-Control: no-store\r\n%s\r\n",
	                 codes[r], reasons[r], type, body_len + page_len + tail_len,
	                 extra ? extra : "");
	if (head_only) {
		body_len = 0;
		jmd_blob_put(page);
		free(tail);
		page = NULL;
		tail = NULL;
		tail_len = 0;
	}
	/* Room for it among the replies not yet taken: the slow readers
	 * whose replies waited longest go. */
	size_t total = (size_t)n + body_len + (page ? page->len : 0) + tail_len;
	struct http_conn *w;
	while (m->queued + total > HTTP_MAX_QUEUED && (w = oldest_writer(m, c)))
		close_slow_reader(m, w, "to fit the replies not yet taken in their bound");
	c->out = malloc((size_t)n + body_len);
	if (!c->out) {
		jmd_blob_put(page);
		free(tail);
		conn_close(c);
		return;
	}
	memcpy(c->out, hdr, (size_t)n);
	if (body_len)
		memcpy(c->out + n, body, body_len);
	c->out_len = (size_t)n + body_len;
	c->body = page;
	c->tail = tail;
	c->tail_len = tail_len;
	c->sent = 0;
	c->total = total;
	c->writing = true;
	c->unqueued = false;
	m->queued += c->total;
	c->answered_seq = ++m->answered_seq;
	if (write_chunk(c) != 0) {
		reply_free(c);
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timeout, HTTP_WRITE_TIMEOUT_MS, 0);
}

/* Queues the reply and closes once written; body may be NULL. */
static void respond(struct http_conn *c, unsigned r, const char *type, const char *body,
                    size_t body_len, bool head_only, const char *extra)
{
	respond_parts(c, r, type, body, body_len, NULL, NULL, 0, head_only, extra);
}

static void respond_text(struct http_conn *c, unsigned r, const char *msg, const char *extra)
{
	respond(c, r, "text/plain; charset=utf-8", msg, strlen(msg), false, extra);
}

/* ------------------------------------------------------------ answering */

/* GET /: what a person who points a browser at the port sees: a link to
 * /metrics and, with --pprof, to the heap profiles of each executable
 * running now (the names /metrics shows anyway), one line per name and
 * user, in the order of the live list. Built once a tick
 * (jmd_http_landing), in time linear in the processes: two hash tables
 * of the tick's names, one keyed by name (is it run by more than one
 * user?) and one by name and uid (its line written already?); the build
 * compared every process with every other (1,000 names: 10 ms, at every
 * request of whoever reaches the port). */
struct landing_slot {
	const struct jmd_proc *p;  /* the first process of the key; NULL: empty */
	bool shared;               /* (by name) another uid runs the name too */
};

static uint64_t landing_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h ^ (h >> 29);
}

/* The slot of p's key (its name; with by_uid, name and uid) in tab
 * (mask + 1 slots, never full): where it is, or the empty one to take. */
/* Whose a process's line is: its uid, or for root's processes read from
 * a container's own directory (jmd_proc_scope), that container, which
 * /uid/0/exe/NAME leaves out (a uid/0 link for them answered 404). */
static uint64_t landing_owner(const struct jmd_proc *p)
{
	uint64_t scope = jmd_proc_scope(p);
	return scope ? JMD_CHARGE_CONTAINER | (uint32_t)scope : p->uid;
}

static struct landing_slot *landing_find(struct jmd_metrics *m, struct landing_slot *tab,
                                         size_t mask, uint64_t h, const struct jmd_proc *p,
                                         bool by_uid)
{
	uint64_t owner = landing_owner(p);
	if (by_uid)
		h = (h ^ (owner * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
	for (size_t i = (size_t)(h ^ (h >> 32)) & mask;; i = (i + 1) & mask) {
		m->landing_steps++;
		const struct jmd_proc *q = tab[i].p;
		if (!q || ((!by_uid || landing_owner(q) == owner) && strcmp(q->exe, p->exe) == 0))
			return &tab[i];
	}
}

static void landing_line(struct jmd_text *t, const struct jmd_proc *p, bool shared)
{
	char prefix[32] = "", who[64] = "";
	uint64_t scope = jmd_proc_scope(p);
	if (shared && scope) {      /* no path of its own: /exe/NAME merges it */
		snprintf(who, sizeof(who), " (a container's, mount namespace %llu)",
		         (unsigned long long)scope);
	} else if (shared) {
		snprintf(prefix, sizeof(prefix), "uid/%u/", (unsigned)p->uid);
		snprintf(who, sizeof(who), " (uid %u)", (unsigned)p->uid);
	}
	char url[4 * JMSTAT_EXE_LEN], html[6 * JMSTAT_EXE_LEN];
	size_t u = 0, h = 0;
	for (const unsigned char *c = (const unsigned char *)p->exe; *c; c++) {
		if (isalnum(*c) || strchr("-._~", *c))
			url[u++] = (char)*c;
		else
			u += (size_t)snprintf(url + u, 4, "%%%02X", *c);
		const char *e = *c == '<' ? "&lt;" : *c == '>' ? "&gt;" : *c == '&' ? "&amp;" :
		                *c == '"' ? "&quot;" : NULL;
		if (e) {
			memcpy(html + h, e, strlen(e));
			h += strlen(e);
		} else {
			html[h++] = (char)*c;
		}
	}
	url[u] = html[h] = '\0';
	jmd_text_printf(t, "<li>%s%s: <a href=\"%sexe/%s/debug/pprof/heap\">heap</a>, "
	                "<a href=\"%sexe/%s/debug/pprof/allocs\">allocs</a></li>\n", html,
	                who, prefix, url, prefix, url);
}

static void landing_page(struct jmd *d, struct jmd_text *t)
{
	struct jmd_metrics *m = d->metrics;
	jmd_text_puts(t, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>jmstatd</title>"
	              "</head>\n<body><h1>jmstatd " JM_VERSION "</h1>\n"
	              "<p>Memory statistics of the processes running with jmalloc on this host.</p>\n"
	              "<ul><li><a href=\"metrics\">/metrics</a>: the Prometheus page</li></ul>\n");
	if (d->opt.pprof) {
		jmd_text_puts(t, "<p>Heap profiles (pprof): <code>/pid/PID/debug/pprof/heap</code> "
		              "and <code>.../allocs</code> for one process; per executable:</p>\n<ul>\n");
		size_t n = 0, size = 16;
		for (const struct jmd_proc *p = d->live; p; p = p->next, m->landing_steps++)
			n++;
		while (size < 2 * n)
			size *= 2;
		struct landing_slot *names = calloc(size, sizeof(*names));
		struct landing_slot *lines = calloc(size, sizeof(*lines));
		if (!names || !lines) {
			free(names);
			free(lines);
			t->failed = true;
			return;
		}
		/* Which names more than one user runs: a name several users
		 * run links each user's (/exe/NAME merges them all then). */
		for (const struct jmd_proc *p = d->live; p; p = p->next) {
			struct landing_slot *s = landing_find(m, names, size - 1, landing_hash(p->exe), p,
			                                      false);
			if (!s->p)
				s->p = p;
			else if (landing_owner(s->p) != landing_owner(p))
				s->shared = true;
		}
		/* One line per name and user, at its first process. */
		for (const struct jmd_proc *p = d->live; p; p = p->next) {
			uint64_t h = landing_hash(p->exe);
			struct landing_slot *s = landing_find(m, lines, size - 1, h, p, true);
			if (s->p)
				continue;
			s->p = p;
			landing_line(t, p, landing_find(m, names, size - 1, h, p, false)->shared);
		}
		free(names);
		free(lines);
		jmd_text_puts(t, "</ul>\n");
	}
	jmd_text_puts(t, "<p>On the host, <code>jmctl ps</code>, <code>jmctl top</code> and "
	              "<code>jmctl alerts</code> show the same figures per process and per size "
	              "class.</p>\n</body></html>\n");
}

/* GET /'s page for this tick: built at the first request of a tick, kept
 * and sent again to the others (it shows the live list, which changes at
 * ticks). */
const struct jmd_text *jmd_http_landing(struct jmd *d)
{
	struct jmd_metrics *m = d->metrics;
	if (m->landing_valid && m->landing_tick == d->tick_done)
		return &m->landing;
	free(m->landing.s);
	memset(&m->landing, 0, sizeof(m->landing));
	m->landing_valid = false;
	m->landing_steps = 0;
	m->landing_builds++;
	landing_page(d, &m->landing);
	if (m->landing.failed) {
		free(m->landing.s);
		memset(&m->landing, 0, sizeof(m->landing));
		return NULL;
	}
	m->landing_valid = true;
	m->landing_tick = d->tick_done;
	return &m->landing;
}

/* Reads the bearer token of --metrics-token-file: its first line, blanks
 * around it taken off. 0, or -1 after a log line. */
static int load_token(struct jmd *d)
{
	const char *path = d->opt.metrics_token_file;
	FILE *f = fopen(path, "re");
	char buf[HTTP_TOKEN_MAX + 2];
	if (!f) {
		jmd_log("--metrics-token-file %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
		jmd_log("--metrics-token-file %s: readable by others than its owner (mode %04o): "
		        "anyone who can read it can scrape", path, (unsigned)(st.st_mode & 07777));
	bool got = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	char *t = buf;
	size_t n = got ? strcspn(buf, "\r\n") : 0;
	if (got)
		buf[n] = '\0';
	while (*t == ' ' || *t == '\t')
		t++;
	n = strlen(t);
	while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
		t[--n] = '\0';
	if (n == 0 || n > HTTP_TOKEN_MAX) {
		jmd_log("--metrics-token-file %s: no token on its first line (1 to %u bytes)", path,
		        HTTP_TOKEN_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e) {
			jmd_log("--metrics-token-file %s: the token must be printable ASCII without blanks",
			        path);
			return -1;
		}
	}
	d->metrics->token = strdup(t);
	explicit_bzero(buf, sizeof(buf));
	return d->metrics->token ? 0 : -1;
}

/* Checks a complete head (jmd_http_parse) and answers it. */
static void handle(struct http_conn *c, char *head, size_t len)
{
	struct jmd_http_head req;
	const char *bad = jmd_http_parse(head, len, &req);
	if (bad) {
		respond_text(c, R_400, bad, NULL);
		return;
	}
	const char *method = req.method, *target = req.target, *auth = req.auth;
	/* With --metrics-token-file, every path wants the token. */
	if (c->d->metrics->token && !jmd_http_token_ok(c->d->metrics->token, auth)) {
		respond_text(c, R_401, "unauthorized: this endpoint wants 'Authorization: Bearer TOKEN'\n",
		             "WWW-Authenticate: Bearer realm=\"jmstatd\"\r\n");
		return;
	}
	bool head_only = strcmp(method, "HEAD") == 0;
	size_t plen = strcspn(target, "?#");
	/* pprof POSTs the addresses it wants named to .../debug/pprof/symbol
	 * (pprof.c answers that it names none); nothing else takes a POST. */
	bool post = strcmp(method, "POST") == 0 && c->d->opt.pprof && jmd_pprof_symbol_path(target, plen);
	if (strcmp(method, "GET") != 0 && !head_only && !post) {
		respond_text(c, R_405, "method not allowed: GET or HEAD only\n", "Allow: GET, HEAD\r\n");
		return;
	}
	if (plen == 1) {
		const struct jmd_text *t = jmd_http_landing(c->d);
		if (!t)
			respond_text(c, R_500, "out of memory\n", NULL);
		else
			respond(c, R_200, "text/html; charset=utf-8", t->s, t->len, head_only, NULL);
		return;
	}
	if (c->d->opt.pprof) {
		struct jmd_pprof_reply pr;
		if (jmd_pprof_serve(c->d, target, plen, &pr)) {
			if (pr.deferred) {
				/* The tick's budget of builds is spent: the request
				 * waits for the next tick (jmd_http_tick), the
				 * connection not read meanwhile. */
				if (!c->waiting)
					uv_timer_start(&c->timer, on_timeout, HTTP_WAIT_MS, 0);
				c->waiting = true;
				uv_read_stop((uv_stream_t *)&c->tcp);
				return;
			}
			c->waiting = false;
			if (pr.status == 200 && pr.text) {
				respond(c, R_200, "text/plain; charset=utf-8", (const char *)pr.body,
				        post ? 0 : pr.len, head_only, NULL);
			} else if (pr.status == 200) {
				char extra[sizeof(pr.header) + 80];
				snprintf(extra, sizeof(extra), "Content-Disposition: attachment; "
				         "filename=\"profile.pb.gz\"\r\n%s", pr.header);
				respond(c, R_200, "application/octet-stream", (const char *)pr.body, pr.len,
				        head_only, extra);
			} else {
				char msg[sizeof(pr.reason) + 2];
				snprintf(msg, sizeof(msg), "%s\n", pr.reason);
				respond_text(c, status_index(pr.status), msg, NULL);
			}
			free(pr.body);
			return;
		}
	}
	if (plen != 8 || strncmp(target, "/metrics", 8) != 0) {
		respond_text(c, R_404, c->d->opt.pprof ?
		             "not found: jmstatd serves /metrics, /pid/PID/debug/pprof/heap|allocs, "
		             "[/uid/UID]/exe/NAME/debug/pprof/heap|allocs (and / links to /metrics)\n" :
		             "not found: jmstatd serves /metrics (and / links to it)\n", NULL);
		return;
	}
	struct jmd_text t = { 0 }, tail = { 0 };
	struct jmd_blob *page = NULL;
	/* The health series, the page kept for the tick (shared, not copied),
	 * then the endpoint's own series: metrics.c never calls back. */
	if (jmd_metrics_render(c->d, &t, &page) != 0 || (http_metrics(c->d, &tail), tail.failed)) {
		free(t.s);
		free(tail.s);
		jmd_blob_put(page);
		respond_text(c, R_500, "out of memory rendering the metrics\n", NULL);
		return;
	}
	respond_parts(c, R_200, "text/plain; version=0.0.4; charset=utf-8", t.s, t.len, page, tail.s,
	              tail.len, head_only, NULL);
	free(t.s);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char discard[65536];
	struct http_conn *c = h->data;
	if (c->answered) {
		*buf = uv_buf_init(discard, sizeof(discard));
		return;
	}
	/* What is left of the head buffer; on_read answers 431 once it is full. */
	size_t room = sizeof(c->head) - c->len;
	*buf = uv_buf_init(c->head + c->len, (unsigned)room);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct http_conn *c = s->data;
	if (c->answered) {
		if (n < 0)
			conn_close(c);   /* the client closed after the reply */
		return;
	}
	if (n < 0) {
		conn_close(c);     /* EOF or error before a whole request */
		return;
	}
	c->len += (size_t)n;
	size_t end = jmd_http_head_end(c->head, c->len);
	if (end) {
		char head[HTTP_MAX_HEAD + 1];
		memcpy(head, c->head, end);
		c->head_end = end;
		handle(c, head, end);
		return;
	}
	if (c->len >= sizeof(c->head))
		respond_text(c, R_431, "request head too large (limit 8192 bytes)\n", NULL);
}

/* Closes one connection to make room for newcomer c: one lingering after
 * its reply, else the oldest that has not sent a whole request. Such a connection costs the daemon nothing to drop and
 * its client nothing it was owed. Else the oldest whose profile waits for
 * a tick is answered 503 (Retry-After): 32 requests waiting for the
 * budget do not shut the port to a scrape of /metrics. Else the slow
 * reader whose reply has waited longest: 32 connections that ask and
 * never read do not either (a scraper reads its reply at once). */
static void make_room(struct jmd_metrics *m, struct http_conn *newcomer)
{
	struct http_conn *victim = NULL, *waiter = NULL;
	for (struct http_conn *c = m->conns; c; c = c->next) {
		if (c == newcomer || c->evicted || uv_is_closing((uv_handle_t *)&c->tcp))
			continue;
		if (c->answered && !c->writing) {
			victim = c;      /* lingering: its reply is sent */
			break;
		}
		if (c->waiting && (!waiter || c->started_ms <= waiter->started_ms))
			waiter = c;
		else if (!c->answered && !c->waiting && (!victim || c->started_ms < victim->started_ms))
			victim = c;
	}
	if (!victim && waiter) {
		jmd_debug("metrics: a request waiting for the budget answered 503 to make room");
		waiter->evicted = true;
		m->nevicted++;
		respond_busy(waiter);
		return;
	}
	if (!victim && (victim = oldest_writer(m, newcomer)) != NULL) {
		close_slow_reader(m, victim, "to make room");
		return;
	}
	if (!victim)
		return;
	if (!victim->answered)
		m->timeouts++;
	jmd_debug("metrics: a connection %s closed to make room",
	          victim->answered ? "lingering after its reply" : "without a request");
	/* In nconns until its handles are closed: the newcomer is let in now. */
	victim->evicted = true;
	m->nevicted++;
	conn_close(victim);
}

/* A connection of d's endpoint, its handles initialised (not yet open), in
 * the list; NULL without memory. */
static struct http_conn *conn_new(struct jmd *d)
{
	struct jmd_metrics *m = d->metrics;
	struct http_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->d = d;
	uv_tcp_init(d->loop, &c->tcp);
	uv_timer_init(d->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->open_handles = 2;
	c->next = m->conns;
	if (m->conns)
		m->conns->prev = c;
	m->conns = c;
	m->nconns++;
	return c;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct jmd *d = server->data;
	struct jmd_metrics *m = d->metrics;
	if (status < 0) {
		if (jmd_no_fds(-status))
			jmd_log_no_fds(-status, "metrics: a connection closed unanswered");
		else
			jmd_log("metrics: accept failed: %s", uv_strerror(status));
		return;
	}
	struct http_conn *c = conn_new(d);
	if (!c) {
		/* Not accepted: libuv stops accepting until the next accept. With
		 * no memory for 9 KiB, the daemon has worse troubles; say so. */
		jmd_log("metrics: out of memory for a connection");
		return;
	}
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		conn_close(c);
		return;
	}
	c->started_ms = uv_now(d->loop);
	if (m->nconns - m->nevicted > HTTP_MAX_CONNS)
		make_room(m, c);
	if (m->nconns - m->nevicted > HTTP_MAX_CONNS || m->queued > HTTP_MAX_QUEUED) {
		respond_text(c, R_503, "too busy: too many connections\n", "Retry-After: 1\r\n");
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	uv_timer_start(&c->timer, on_timeout, HTTP_READ_TIMEOUT_MS, 0);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
		conn_close(c);
}

/* ------------------------------------------------------------ start, stop */

static int resolve(const char *spec, struct sockaddr_storage *ss)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	int port = atoi(colon + 1);
	if (host[0] == '\0')
		snprintf(host, sizeof(host), "127.0.0.1");
	else if (strcmp(host, "*") == 0)
		snprintf(host, sizeof(host), "0.0.0.0");
	size_t hl = strlen(host);
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		memmove(host, host + 1, hl - 1);
		return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0 ? 0 : -EINVAL;
	}
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0 && strchr(host, ':') == NULL)
		return 0;
	if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0 && strchr(host, ':'))
		return 0;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 || !res) {
		jmd_log("--metrics %s: cannot resolve '%s': %s", spec, host, gai_strerror(rc));
		return -ENOENT;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	freeaddrinfo(res);
	return 0;
}

int jmd_http_start(struct jmd *d)
{
	struct jmd_metrics *m = d->metrics;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (m && d->opt.metrics_token_file && load_token(d) != 0)
		return -EINVAL;
	if (!m || resolve(d->opt.metrics_addr, &ss) != 0) {
		jmd_log("--metrics %s: not an address to listen on", d->opt.metrics_addr);
		return -EINVAL;
	}
	uv_tcp_init(d->loop, &m->server);
	m->server.data = d;
	m->server_open = true;
	/* systemd's socket (jmstatd-metrics.socket) if it passed one: a port
	 * held since boot, which no user can take while we restart. */
	int mfd = jmd_listen_metrics_fd();
	int rc = mfd >= 0 ? uv_tcp_open(&m->server, mfd)
	                  : uv_tcp_bind(&m->server, (const struct sockaddr *)&ss, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&m->server, 128, on_connection);
	if (rc == 0 && mfd >= 0)
		jmd_log("--metrics: listening on the socket passed by systemd");
	if (rc != 0) {
		jmd_log("--metrics %s: cannot listen: %s", d->opt.metrics_addr, uv_strerror(rc));
		return rc;
	}
	struct sockaddr_storage got;
	int len = sizeof(got);
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (uv_tcp_getsockname(&m->server, (struct sockaddr *)&got, &len) == 0) {
		if (got.ss_family == AF_INET6) {
			uv_ip6_name((struct sockaddr_in6 *)&got, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in6 *)&got)->sin6_port);
		} else {
			uv_ip4_name((struct sockaddr_in *)&got, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in *)&got)->sin_port);
		}
	}
	snprintf(m->addr, sizeof(m->addr), got.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, port);
	jmd_log("metrics: serving http://%s/metrics", m->addr);
	if (d->opt.pprof)
		jmd_log("metrics: serving heap profiles of every process to whoever reaches "
		        "http://%s/ (/pid/PID/debug/pprof/heap, /exe/NAME/debug/pprof/heap)", m->addr);
	return 0;
}

/* A tick ended: the profiles kept go, the budget is new, and the requests
 * that waited for it are handled again, oldest first (the list is newest
 * first); those the new budget does not reach wait on. */
void jmd_http_tick(struct jmd *d)
{
	struct jmd_metrics *m = d->metrics;
	jmd_pprof_tick(d);
	if (!m)
		return;
	struct http_conn *last = m->conns;
	while (last && last->next)
		last = last->next;
	for (struct http_conn *c = last; c; c = c->prev) {
		if (!c->waiting || c->answered || uv_is_closing((uv_handle_t *)&c->tcp))
			continue;
		char head[HTTP_MAX_HEAD + 1];
		memcpy(head, c->head, c->head_end);
		handle(c, head, c->head_end);
	}
}

void jmd_http_stop(struct jmd *d)
{
	struct jmd_metrics *m = d->metrics;
	if (!m)
		return;
	if (m->server_open && !uv_is_closing((uv_handle_t *)&m->server))
		uv_close((uv_handle_t *)&m->server, NULL);
	for (struct http_conn *c = m->conns; c; c = c->next)
		conn_close(c);
}

/* The endpoint's own series (responses by code, timeouts), after the page. */
static void http_metrics(struct jmd *d, struct jmd_text *t)
{
	struct jmd_metrics *m = d->metrics;
	jmd_text_puts(t, "# HELP jmalloc_http_responses_total Responses of the metrics endpoint, "
	                 "by status code.\n# TYPE jmalloc_http_responses_total counter\n");
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		jmd_text_printf(t, "jmalloc_http_responses_total{code=\"%u\"} %llu\n", codes[i],
		                (unsigned long long)(m ? m->responses[i] : 0));
	jmd_text_puts(t, "# HELP jmalloc_http_timeouts_total Metrics clients closed for being too "
	                 "slow.\n# TYPE jmalloc_http_timeouts_total counter\n");
	jmd_text_printf(t, "jmalloc_http_timeouts_total %llu\n",
	                (unsigned long long)(m ? m->timeouts : 0));
}
