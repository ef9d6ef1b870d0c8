/*
 * main.c: jmstatd's command line, start-up, signals and shutdown.
 *
 * Start-up, in order: options; the config file (a bad one stops us here);
 * the stats directory and its watch; a first tick, so that the first reply
 * already has data; the socket (inherited from systemd, or bound); then
 * READY=1 to systemd and the loop. jmstatd always runs in the foreground,
 * as systemd and container runtimes expect; --foreground is accepted for
 * compatibility and changes nothing.
 *
 * Signals: SIGTERM and SIGINT close every client, remove the socket file
 * we created and exit 0; SIGHUP reloads the config file; SIGPIPE is
 * ignored (a client that leaves mid-reply is a write error, not a death).
 */
#include "jmstatd.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
	"Usage: jmstatd [OPTION]...\n"
	"Watch the stats segments of every process running with jmalloc, keep their\n"
	"history, and answer queries (jmctl) on a Unix socket.\n"
	"\n"
	"  --socket PATH        listen on PATH (default: $JMSTATD_SOCKET, else\n"
	"                       /run/jmstatd/jmstatd.sock as root, else\n"
	"                       $XDG_RUNTIME_DIR/jmstatd.sock, else\n"
	"                       /tmp/jmstatd-UID/jmstatd.sock)\n"
	"  --stats-dir DIR      where the segments are (default: $JMALLOC_STATS_DIR,\n"
	"                       else /dev/shm), here and, as root, in every other\n"
	"                       mount namespace (each container's own); given again,\n"
	"                       another directory to read too (a shared one)\n"
	"  --no-containers      read the stats directory of this mount namespace\n"
	"                       only, not each container's\n"
	"  --interval TIME      sampling interval: 1s, 500ms, 2m, or a number of ms\n"
	"                       (default 1s; 50ms..1h)\n"
	"  --history TIME       history kept per process and per user: 10m, 1h, or a\n"
	"                       number of ms (default 10m; 1s..24h)\n"
	"  --config FILE        config file, re-read on SIGHUP\n"
	"  --check-config FILE  check FILE, list every error in it, and exit: 0 if it\n"
	"                       is good, 1 if not (with the other options, as the\n"
	"                       daemon would read it)\n"
	"  --metrics HOST:PORT  serve Prometheus metrics on http://HOST:PORT/metrics\n"
	"                       (HOST empty: 127.0.0.1; PORT 0: any free port)\n"
	"  --pprof              with --metrics, also serve heap profiles in pprof's\n"
	"                       format: /pid/PID/debug/pprof/heap and /allocs,\n"
	"                       /exe/NAME/debug/pprof/heap and /allocs (to anyone\n"
	"                       who reaches the port: they tell what code runs)\n"
	"  --metrics-token-file FILE\n"
	"                       /metrics (and every path of its listener) wants\n"
	"                       'Authorization: Bearer TOKEN', TOKEN the first line of FILE\n"
	"  --subuid-file FILE   subordinate uid ranges (default /etc/subuid): a uid\n"
	"                       in a user's range counts as that user's in every\n"
	"                       bound kept per user\n"
	"  --user-processes N   live processes tracked for each user other than root\n"
	"                       (default 1024; a user's subordinate uids count as it):\n"
	"                       the user's next ones are not, until some exit\n"
	"  --client-idle SECS   close a client that asks nothing, or takes none of its\n"
	"                       replies, for SECS seconds (default 10; subscribers that\n"
	"                       read are never idle)\n"
	"  --foreground         accepted for compatibility: jmstatd never forks\n"
	"  --verbose            log every event, not only the notable ones\n"
	"  -h, --help           show this help and exit\n"
	"  --version            show the version and exit\n"
	"\n"
	"Under systemd: Type=notify, socket activation, SIGHUP reloads the config.\n"
	"Log lines go to stderr, stamped with the local time unless stderr is the\n"
	"journal. See jmstatd(8) and jmstatd.conf(5).\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "jmstatd: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'jmstatd --help'.\n");
	return 2;
}

static bool valid_hostport(const char *s)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon[1] == '\0' || colon[1] == '-' || colon[1] == '+')
		return false;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port >= 0 && port < 65536;
}

/* A time option: digits alone are milliseconds (what --interval always
 * took), else a duration with its unit as the config file writes it
 * (500ms, 1s, 2m, 1h). 0, or -EINVAL if it is neither or not within
 * min..max ms. */
static int parse_ms(const char *s, unsigned long min, unsigned long max, unsigned *out)
{
	double v;
	if (s[0] == '\0' || s[0] == '-' || s[0] == '+')
		return -EINVAL;
	if (strspn(s, "0123456789") == strlen(s)) {
		char *end;
		errno = 0;
		v = (double)strtoul(s, &end, 10);
		if (errno)
			return -EINVAL;
	} else {
		if (jmd_parse_duration(s, &v) != 0)
			return -EINVAL;
		v *= 1000.0;
	}
	if (v < (double)min || v > (double)max || v != (double)(unsigned long)v)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* 0: go on; 1: exit 0 (help, version); 2: bad usage. */
static int parse_options(struct jmd *d, int argc, char **argv)
{
	enum { O_SOCKET = 256, O_STATS_DIR, O_NO_CONTAINERS, O_INTERVAL, O_HISTORY, O_CONFIG, O_METRICS, O_FOREGROUND,
	       O_VERBOSE, O_HELP, O_VERSION, O_CLIENT_IDLE, O_CHECK_CONFIG, O_PPROF, O_METRICS_TOKEN,
	       O_SUBUID_FILE, O_USER_PROCESSES };
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "stats-dir", required_argument, NULL, O_STATS_DIR },
		{ "no-containers", no_argument, NULL, O_NO_CONTAINERS },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "history", required_argument, NULL, O_HISTORY },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "check-config", required_argument, NULL, O_CHECK_CONFIG },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "pprof", no_argument, NULL, O_PPROF },
		{ "foreground", no_argument, NULL, O_FOREGROUND },
		{ "client-idle", required_argument, NULL, O_CLIENT_IDLE },
		{ "metrics-token-file", required_argument, NULL, O_METRICS_TOKEN },
		{ "subuid-file", required_argument, NULL, O_SUBUID_FILE },
		{ "user-processes", required_argument, NULL, O_USER_PROCESSES },
		{ "verbose", no_argument, NULL, O_VERBOSE },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct jmd_options *o = &d->opt;
	o->interval_ms = 1000;
	o->history_ms = JMD_HISTORY_MS;
	o->uid_procs = JMD_UID_PROCS;
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case O_SOCKET:
			if (optarg[0] == '\0')
				return usage_error("--socket: empty path%s", "");
			free(o->socket_path);
			o->socket_path = strdup(optarg);
			break;
		case O_STATS_DIR:
			if (optarg[0] == '\0')
				return usage_error("--stats-dir: empty path%s", "");
			if (!o->stats_dir) {
				o->stats_dir = strdup(optarg);
			} else if (o->nextra_dirs < JMD_MAX_EXTRA_DIRS) {
				o->extra_dirs[o->nextra_dirs++] = strdup(optarg);
			} else {
				return usage_error("--stats-dir: given more than 17 times%s", "");
			}
			break;
		case O_NO_CONTAINERS:
			o->no_containers = true;
			break;
		case O_INTERVAL:
			if (parse_ms(optarg, JMD_INTERVAL_MIN, JMD_INTERVAL_MAX, &o->interval_ms) != 0)
				return usage_error("--interval: '%s' is not a time from 50ms to 1h "
				                   "(e.g. 1s, 500ms, or 200 for ms)", optarg);
			break;
		case O_HISTORY:
			if (parse_ms(optarg, JMD_HISTORY_MIN, JMD_HISTORY_MAX, &o->history_ms) != 0)
				return usage_error("--history: '%s' is not a time from 1s to 24h "
				                   "(e.g. 10m, 1h, or 600000 for ms)", optarg);
			break;
		case O_SUBUID_FILE:
			if (optarg[0] == '\0')
				return usage_error("--subuid-file: empty path%s", "");
			free(o->subuid_file);
			o->subuid_file = strdup(optarg);
			break;
		case O_METRICS_TOKEN:
			if (optarg[0] == '\0')
				return usage_error("--metrics-token-file: empty path%s", "");
			free(o->metrics_token_file);
	free(o->subuid_file);
	jmd_principal_free();
			o->metrics_token_file = strdup(optarg);
			break;
		case O_CLIENT_IDLE: {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end != '\0' || optarg[0] == '-' || v < 1 ||
			    v > 86400)
				return usage_error("--client-idle: '%s' is not a number of seconds in 1..86400",
				                   optarg);
			o->idle_ms = (unsigned)v * 1000;
			break;
		}
		case O_USER_PROCESSES: {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end != '\0' || optarg[0] == '-' || v < 1 ||
			    v > JMD_UID_PROCS_MAX)
				return usage_error("--user-processes: '%s' is not a number of processes in "
				                   "1..1000000", optarg);
			o->uid_procs = (unsigned)v;
			break;
		}
		case O_CONFIG:
			free(o->config_path);
			o->config_path = strdup(optarg);
			break;
		case O_CHECK_CONFIG:
			free(o->check_config);
			o->check_config = strdup(optarg);
			break;
		case O_METRICS:
			if (!valid_hostport(optarg))
				return usage_error("--metrics: '%s' is not HOST:PORT", optarg);
			free(o->metrics_addr);
			o->metrics_addr = strdup(optarg);
			break;
		case O_PPROF:
			o->pprof = true;
			break;
		case O_FOREGROUND:
			break;
		case O_VERBOSE:
			o->verbose = true;
			break;
		case 'h':
		case O_HELP:
			fputs(usage_text, stdout);
			return 1;
		case O_VERSION:
			printf("jmstatd %s (stats segment layout %u)\n", JM_VERSION, JMSTAT_VERSION);
			return 1;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		case '?':
			if (optopt && optopt != '?' && optopt < 256) {
				char opt[3] = { '-', (char)optopt, '\0' };
				return usage_error("unknown option '%s'", opt);
			}
			return usage_error("unknown option '%s'", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (o->pprof && !o->metrics_addr)
		return usage_error("--pprof serves on the metrics listener: give --metrics HOST:PORT too%s", "");
	if (o->metrics_token_file && !o->metrics_addr)
		return usage_error("--metrics-token-file guards the metrics listener: give --metrics "
		                   "HOST:PORT too%s", "");
	if (!o->stats_dir) {
		const char *env = getenv("JMALLOC_STATS_DIR");
		o->stats_dir = strdup(env && *env ? env : "/dev/shm");
	}
	if (!o->socket_path && jmd_default_socket_path(&o->socket_path) != 0)
		return usage_error("out of memory%s", "");
	if (!o->stats_dir || !o->socket_path)
		return usage_error("out of memory%s", "");
	return 0;
}

/* ------------------------------------------------------------ the loop */

/* The tick runs in slices of JMD_SLICE_MS from an idle handle, the loop
 * serving clients between them (sample.c). The next tick begins an
 * interval after this one's time (jmd.tick_stamp_ns, when its sampling
 * began) at the earliest: at once if this one took longer (the interval
 * stretches to what a tick takes, as it did when the tick ran at once),
 * else from a one-shot timer started from the loop's time brought up to
 * date. With a repeating timer, one that fired during a long tick started
 * the next at its end, and fired again an interval after it had fired,
 * not after that tick: two ticks a few ms apart, or in one millisecond,
 * two history samples with one time (tests/daemon/tick_apart.test.sh).
 *
 * While a reply is being written the slices are JMD_SLICE_WRITING_US:
 * the loop writes a client's socket once a turn, as much as its buffer
 * takes (some 200 KB), and a `ps` of 10,000 processes (1.75 MB) waited
 * for a slice of 4 ms between each such write: 224-321 ms at the median
 * while ticks ran (docs/measurements.md, session 29). A client that reads nothing costs the tick a poll of the
 * loop a slice meanwhile, until it is dropped as idle. */
static void on_tick(uv_timer_t *t);

/* After a tick, and when its timer fires: the next one now (true), or
 * its timer started. The timer's time is the loop's, whole milliseconds
 * cut down (uv_now): a timer of ms after it fires once the loop's time
 * reaches it, which a wakeup (a client's request) in the last
 * millisecond before the tick was due found up to 1 ms early. The timer
 * is checked against the due time so, and started again for the rest
 * (tests/daemon/tick_apart.test.sh, with busy clients: 49 ms apart). */
static bool tick_schedule(struct jmd *d)
{
	uint64_t due = d->tick_stamp_ns + (uint64_t)d->opt.interval_ms * 1000000u;
	uint64_t now = uv_hrtime();
	if (now >= due)
		return true;
	uv_update_time(d->loop);
	uv_timer_start(&d->tick_timer, on_tick, (due - now + 999999u) / 1000000u, 0);
	return false;
}

static void on_tick_slice(uv_idle_t *h)
{
	struct jmd *d = h->data;
	uint64_t budget = d->writes ? JMD_SLICE_WRITING_US * 1000ull : JMD_SLICE_MS * 1000000ull;
	if (jmd_tick_slice(d, budget))
		return;
	jmd_tick_end(d);
	jmd_server_tick(d);
	jmd_http_tick(d);
	if (!d->stopping && tick_schedule(d)) {
		jmd_tick_begin(d);
		return;
	}
	uv_idle_stop(h);
}

static void on_tick(uv_timer_t *t)
{
	struct jmd *d = t->data;
	if (uv_is_active((uv_handle_t *)&d->tick_idle) || !tick_schedule(d))
		return;
	jmd_tick_begin(d);
	uv_idle_start(&d->tick_idle, on_tick_slice);
}

static void shutdown_daemon(struct jmd *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	jmd_sd_notify("STOPPING=1");
	uv_timer_stop(&d->tick_timer);
	uv_close((uv_handle_t *)&d->tick_timer, NULL);
	uv_idle_stop(&d->tick_idle);
	uv_close((uv_handle_t *)&d->tick_idle, NULL);
	uv_close((uv_handle_t *)&d->sig_term, NULL);
	uv_close((uv_handle_t *)&d->sig_int, NULL);
	uv_close((uv_handle_t *)&d->sig_hup, NULL);
	jmd_discover_stop(d);
	jmd_server_stop(d);
	jmd_http_stop(d);
	jmd_alerts_stop(d);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct jmd *d = h->data;
	if (signum == SIGHUP) {
		if (!d->opt.config_path) {
			jmd_log("SIGHUP: no config file to reload");
			return;
		}
		jmd_sd_notify("RELOADING=1");
		int rc = jmd_config_reload(d, d->opt.config_path);
		if (rc == 0)
			jmd_log("SIGHUP: reloaded %s", d->opt.config_path);
		else if (rc == -EMFILE || rc == -ENFILE)
			/* Rate-limited with the daemon's other lines about its
			 * descriptors: a SIGHUP sent in a loop at the limit
			 * wrote two lines each. Nothing was read: the config
			 * in force is untouched. */
			jmd_log_no_fds(-rc, "SIGHUP: %s not read; the previous config stays in force "
			               "(send SIGHUP again once descriptors are free)",
			               d->opt.config_path);
		else
			jmd_log("SIGHUP: %s refused; the previous config stays in force",
			        d->opt.config_path);
		jmd_sd_notify("READY=1");
		return;
	}
	jmd_log("%s: closing %zu client%s and exiting", signum == SIGTERM ? "SIGTERM" : "SIGINT",
	        d->nclients, d->nclients == 1 ? "" : "s");
	shutdown_daemon(d);
}

static int start_signal(struct jmd *d, uv_signal_t *h, int signum)
{
	int rc = uv_signal_init(d->loop, h);
	if (rc == 0) {
		h->data = d;
		rc = uv_signal_start(h, on_signal, signum);
	}
	return rc;
}

/* The signal handles closed, those opened, when the daemon stops before
 * its loop runs (it is static: one never opened has no loop). */
static void stop_signals(struct jmd *d)
{
	uv_signal_t *h[] = { &d->sig_term, &d->sig_int, &d->sig_hup };
	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++)
		if (h[i]->loop && !uv_is_closing((uv_handle_t *)h[i]))
			uv_close((uv_handle_t *)h[i], NULL);
}

static void free_options(struct jmd_options *o)
{
	free(o->socket_path);
	free(o->stats_dir);
	for (unsigned i = 0; i < o->nextra_dirs; i++)
		free(o->extra_dirs[i]);
	free(o->config_path);
	free(o->metrics_addr);
	free(o->metrics_token_file);
	free(o->subuid_file);
	jmd_principal_free();
	free(o->check_config);
}

/* --check-config FILE: every error of FILE on stderr (FILE:LINE: why),
 * then one line on stdout: exit 0 if it is good, 1 if not. */
static int check_config(struct jmd *d)
{
	const char *path = d->opt.check_config;
	jmd_log_set_plain();
	int rc = jmd_config_load(d, path);
	jmd_alerts_fini(d);
	if (rc == 0) {
		printf("%s: good\n", path);
		return 0;
	}
	if (d->config_errors)
		printf("%s: %u error%s\n", path, d->config_errors, d->config_errors == 1 ? "" : "s");
	else
		printf("%s: cannot be read\n", path);
	return 1;
}

int main(int argc, char **argv)
{
	static struct jmd daemon;
	struct jmd *d = &daemon;
	uv_loop_t loop;
	int status = 1;

	signal(SIGPIPE, SIG_IGN);
	d->dirfd = -1;
	d->accept_spare = -1;
	jmd_log_init();
	int rc = parse_options(d, argc, argv);
	if (rc != 0) {
		free_options(&d->opt);
		return rc == 1 ? 0 : 2;
	}
	jmd_log_set_verbose(d->opt.verbose);
	if (d->opt.check_config) {
		status = check_config(d);
		free_options(&d->opt);
		return status;
	}
	if (jmd_config_start(d) != 0) {
		if (d->opt.config_path && d->config_errors)
			jmd_log("%s: %u error%s: not started (fix the file; `jmstatd --check-config "
			        "%s` checks it without starting)", d->opt.config_path, d->config_errors,
			        d->config_errors == 1 ? "" : "s", d->opt.config_path);
		else if (d->opt.config_path)
			jmd_log("not started: --config names a file jmstatd cannot read");
		free_options(&d->opt);
		return 1;
	}
	if (uv_loop_init(&loop) != 0) {
		jmd_log("cannot create the event loop");
		free_options(&d->opt);
		return 1;
	}
	d->loop = &loop;
	if (jmd_sample_init(d) != 0 || jmd_alerts_init(d) != 0 ||
	    (d->opt.metrics_addr && jmd_metrics_init(d) != 0))
		goto out_loop;
	if (jmd_discover_start(d) != 0)
		goto out_loop;
	/* SIGTERM, SIGINT and SIGHUP are handled (by the loop, once it runs)
	 * before the socket is connectable: one sent as soon as a client can
	 * connect, during the first tick (1.4 s under the sanitizer), killed
	 * the daemon, which left its socket file behind
	 * (tests/daemon/cmdline.test.sh). */
	if (start_signal(d, &d->sig_term, SIGTERM) != 0 || start_signal(d, &d->sig_int, SIGINT) != 0 ||
	    start_signal(d, &d->sig_hup, SIGHUP) != 0) {
		jmd_log("cannot handle signals");
		goto out_handles;
	}
	/* Listening (and its log line) before the first tick, whose alert
	 * transitions are logged: the lines come in the order things happen.
	 * No client is served before the first tick is done: the loop does
	 * not run until then, so the first reply already has data. */
	if (jmd_server_start(d) != 0)
		goto out_handles;
	if (d->opt.metrics_addr && jmd_http_start(d) != 0)
		goto out_handles;
	char interval[32];
	if (d->opt.interval_ms % 1000 == 0)
		snprintf(interval, sizeof(interval), "%us", d->opt.interval_ms / 1000);
	else
		snprintf(interval, sizeof(interval), "%ums", d->opt.interval_ms);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	d->started = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	jmd_log("started: pid %d, version %s, stats dir %s, interval %s, %zu segment%s found",
	        (int)getpid(), JM_VERSION, d->opt.stats_dir, interval, d->nentries,
	        d->nentries == 1 ? "" : "s");
	jmd_tick(d);

	uv_timer_init(d->loop, &d->tick_timer);
	d->tick_timer.data = d;
	uv_idle_init(d->loop, &d->tick_idle);
	d->tick_idle.data = d;
	if (tick_schedule(d))
		on_tick(&d->tick_timer);

	char status_msg[128];
	snprintf(status_msg, sizeof(status_msg), "READY=1\nSTATUS=watching %s\nMAINPID=%d",
	         d->opt.stats_dir, (int)getpid());
	jmd_sd_notify(status_msg);

	uv_run(d->loop, UV_RUN_DEFAULT);
	status = 0;
	goto out_loop;

out_handles:
	stop_signals(d);
	jmd_discover_stop(d);
	jmd_server_stop(d);
	jmd_http_stop(d);
	uv_run(d->loop, UV_RUN_DEFAULT);
out_loop:
	jmd_discover_stop(d);
	if (uv_loop_close(d->loop) != 0)
		jmd_log("event loop closed with handles still open");
	jmd_alerts_fini(d);
	jmd_metrics_fini(d);
	jmd_pprof_fini();
	jmd_entries_free(d);
	jmd_sample_fini(d);
	jmd_commands_fini(d);
	free_options(&d->opt);
	return status;
}
