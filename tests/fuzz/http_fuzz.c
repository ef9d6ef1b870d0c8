/*
 * http_fuzz.c: the libFuzzer target of jmstatd's HTTP request parser (the
 * Prometheus endpoint, --metrics). Each input is what one client sends on
 * one connection. The connection is real: one end of a socketpair, opened
 * as the endpoint's uv_tcp_t (http.c's conn_new()) and read by http.c's own
 * on_read and handle() (the head checked by http_head.c), answered by its
 * respond() and closed by its shutdown and linger path, on a real daemon
 * with live synthetic processes (fuzzdaemon.h), so that GET /metrics
 * renders a real page, and with --pprof on, /pid/PID/debug/pprof/heap,
 * /exe/synth/... and the symbol POST build real profiles from their site
 * and module tables. The connection's functions are static in http.c:
 * this file includes http.c itself (and the build leaves http.c out of the
 * daemon's sources), which reaches them without an export.
 *
 * The client end sends the input, then shuts its writing side (EOF), and
 * reads until the daemon closes. What must hold (http.c's header comment):
 * - the connection is closed within the loop's turns, never left waiting
 *   for a timeout (the fuzzer's -timeout catches a hang);
 * - when the input holds a complete head (ending with an empty line)
 *   within HTTP_MAX_HEAD bytes there is exactly one reply; when it fills
 *   HTTP_MAX_HEAD bytes without one, the reply is 431; otherwise none;
 * - a reply is "HTTP/1.1 CODE REASON" with a code of the table, its head
 *   ends with an empty line and Content-Length is the length of the body
 *   (or, for HEAD /metrics, of the body left out);
 * - every connection is freed and the bytes counted as queued go back to 0.
 */
#include "fuzzdaemon.h"
#include "../../jmstatd/http.c"

#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct jmd *daemon_state;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned nlive;

	daemon_state = fuzz_daemon_start(&nlive);
	daemon_state->opt.pprof = true;   /* the heap profile paths too (pprof.c) */
	fuzz_require(jmd_metrics_init(daemon_state) == 0);
	jmd_metrics_tick(daemon_state);
	return 0;
}

/* As on_connection(), on an fd of our own instead of an accepted one. */
static void open_conn(struct jmd *d, int fd)
{
	struct http_conn *c = conn_new(d);

	fuzz_require(c != NULL);
	fuzz_require(uv_tcp_open(&c->tcp, fd) == 0);
	uv_timer_start(&c->timer, on_timeout, HTTP_READ_TIMEOUT_MS, 0);
	fuzz_require(uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0);
}

static void check_reply(const char *r, size_t len, const uint8_t *data, size_t size)
{
	unsigned code = 0;
	bool known = false;
	const char *end, *cl;
	size_t body, want;

	fuzz_require(len > 12 && memcmp(r, "HTTP/1.1 ", 9) == 0);
	for (int i = 9; i < 12; i++)
		fuzz_require(r[i] >= '0' && r[i] <= '9');
	code = (unsigned)((r[9] - '0') * 100 + (r[10] - '0') * 10 + (r[11] - '0'));
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		known = known || codes[i] == code;
	fuzz_require(known);
	end = memmem(r, len, "\r\n\r\n", 4);
	fuzz_require(end != NULL);
	body = len - (size_t)(end + 4 - r);
	cl = memmem(r, (size_t)(end - r), "\r\nContent-Length: ", 18);
	fuzz_require(cl != NULL);
	want = strtoul(cl + 18, NULL, 10);
	/* The daemon skips empty lines (LF) before a request line, as RFC
	 * 9112 asks a server to: "\nHEAD /metrics" is a HEAD. */
	while (size > 0 && *data == '\n') {
		data++;
		size--;
	}
	if (code == 200 && body == 0 && want > 0)
		fuzz_require(size >= 5 && memcmp(data, "HEAD ", 5) == 0);
	else
		fuzz_require(body == want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jmd *d = daemon_state;
	struct jmd_metrics *m = d->metrics;
	static char reply[1 << 20];
	size_t got = 0, sent = 0;
	bool eof = false, shut = false;
	int sv[2];

	if (size > 64 * 1024)
		return 0;
	fuzz_require(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	open_conn(d, sv[0]);
	/* Send while the loop reads; then EOF. */
	for (long turns = 0; m->nconns > 0 || !eof; turns++) {
		struct pollfd p = { .fd = sv[1], .events = POLLIN };

		fuzz_require(turns < 200000);
		if (sent < size) {
			ssize_t n = send(sv[1], data + sent, size - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				sent = size;   /* the daemon closed its end: it has answered */
		}
		if (sent == size && !shut) {
			shutdown(sv[1], SHUT_WR);
			shut = true;
		}
		uv_run(d->loop, UV_RUN_NOWAIT);
		if (!eof && poll(&p, 1, 0) > 0) {
			ssize_t n = recv(sv[1], reply + got, sizeof reply - got, MSG_DONTWAIT);
			if (n > 0)
				got += (size_t)n;
			else if (n == 0 || (errno != EAGAIN && errno != EINTR))
				eof = true;
			fuzz_require(got < sizeof reply);
		}
	}
	close(sv[1]);
	fuzz_require(m->conns == NULL && m->queued == 0);

	size_t end = jmd_http_head_end((const char *)data, size < HTTP_MAX_HEAD ? size : HTTP_MAX_HEAD);
	if (end) {
		static const char exe_heap[] = "GET /exe/synth/debug/pprof/heap HTTP/1.1\r\n\r\n";
		fuzz_require(got > 0);
		check_reply(reply, got, data, size);
		/* The seed of that name must reach a real profile: a gzip body. */
		if (size == sizeof(exe_heap) - 1 && memcmp(data, exe_heap, size) == 0)
			fuzz_require(memcmp(reply, "HTTP/1.1 200 ", 13) == 0 &&
			             memmem(reply, got, "\r\n\r\n\x1f\x8b", 6) != NULL);
	} else if (size >= HTTP_MAX_HEAD) {
		fuzz_require(got > 0 && memcmp(reply, "HTTP/1.1 431 ", 13) == 0);
		check_reply(reply, got, data, size);
	} else {
		fuzz_require(got == 0);
	}
	return 0;
}
