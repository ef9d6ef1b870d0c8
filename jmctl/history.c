/*
 * history.c: `jmctl history [PID] [-n N]`, what jmstatd remembers.
 *
 * The history reply (docs/protocol.md) holds one sample per interval for
 * the last minutes: of a process (alive, or gone for less than the history
 * span), or without PID of the caller's processes summed (the host's, for
 * root). Printed oldest first, the last N samples (-n, default 30; 0: all):
 * time, allocated, active, mapped, fragmentation, allocations/s; --json
 * prints the reply as it came. A process's header says which one it is
 * (executable, user, start): a pid is reused, and the daemon may know
 * several processes that had it (a crashed service's, and whatever took
 * its pid after); those others are listed, each with the -s START that
 * asks for its history.
 */
#include "jmctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct jm_table_col hist_cols[] = {
	{ "TIME", JM_LEFT }, { "ALLOCATED", JM_RIGHT }, { "ACTIVE", JM_RIGHT },
	{ "MAPPED", JM_RIGHT }, { "FRAG", JM_RIGHT }, { "ALLOC/S", JM_RIGHT },
};

/* HH:MM:SS of unix time t, local. */
static const char *clock_of(double t, char *buf, size_t len)
{
	time_t secs = (time_t)t;
	struct tm tm;
	localtime_r(&secs, &tm);
	strftime(buf, len, "%H:%M:%S", &tm);
	return buf;
}
/* Where a process of history ran, when the daemon knows: its container
 * (the id's first 12 digits, as ps shows it), or the mount namespace of
 * a root container's directory it was read from. */
static void print_where(json_t *who)
{
	json_t *c = json_object_get(who, "container"), *m = json_object_get(who, "mntns");
	if (json_is_string(c)) {
		char id[13];
		snprintf(id, sizeof(id), "%s", json_string_value(c));
		printf(", container ");
		jm_fputs_safe(id, stdout);
	} else if (json_is_integer(m))
		printf(", container (mount namespace %lld)", (long long)json_integer_value(m));
}


int jm_cmd_history(const struct jmctl_opts *o, int argc, char **argv)
{
	long count = 30, pid = 0;
	double started = 0;
	char *end;
	json_t *reply, *req;
	int c, err;

	opterr = 0;
	while ((c = getopt(argc, argv, ":n:s:")) != -1) {
		switch (c) {
		case 's':
			errno = 0;
			started = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(started > 0))
				return jm_usage_error("history", "-s: '%s' is not a start time (unix s, as "
				                      "history lists it)", optarg);
			break;
		case 'n':
			errno = 0;
			count = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || count < 0)
				return jm_usage_error("history", "-n: '%s' is not a number (0: all)", optarg);
			break;
		case ':':
			return jm_usage_error("history", "option '-%c' needs an argument", optopt);
		default:
			return jm_usage_error("history", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		pid = jm_parse_pid("history", argv[optind++]);
		if (pid < 0)
			return -EINVAL;
	}
	if (optind < argc)
		return jm_usage_error("history", "unexpected argument '%s'", argv[optind]);
	if (started > 0 && !pid)
		return jm_usage_error("history", "-s needs a PID");
	req = json_pack("{s:s}", "cmd", "history");
	if (pid)
		json_object_set_new(req, "pid", json_integer(pid));
	if (started > 0)
		json_object_set_new(req, "started", json_real(started));
	err = jm_client_request(o->socket, req, &reply, o->json);
	if (err || !reply)
		return err;

	size_t n;
	json_t **samples = jm_array_items(json_object_get(reply, "samples"), &n);
	size_t first = count > 0 && n > (size_t)count ? n - (size_t)count : 0;
	struct jm_table t;

	if (pid) {
		char when[16];
		printf("process %ld%s, ", pid,
		       json_is_false(json_object_get(reply, "alive")) ? " (exited)" : "");
		jm_fputs_safe(jm_str(reply, "exe"), stdout);
		printf(" of ");
		jm_fputs_safe(jm_str(reply, "user"), stdout);
		printf(", started %s", clock_of(jm_num(reply, "started"), when, sizeof(when)));
		print_where(reply);
		printf(": ");
	} else
		printf("%s: ", geteuid() == 0 ? "all processes" : "your processes");
	printf("%zu sample%s", n - first, n - first == 1 ? "" : "s");
	if (first)
		printf(" (the last %ld of %zu: -n 0 shows all)", count, n);
	printf(", one every %lld ms\n", jm_int(reply, "interval_ms"));
	jm_table_init(&t, hist_cols, (int)(sizeof(hist_cols) / sizeof(hist_cols[0])));
	for (size_t i = first; i < n; i++) {
		json_t *s = samples[i];
		char tm_s[32], al[24], ac[24], ma[24], fr[24], ra[24];
		double t_s = jm_num(s, "time"), act = jm_num(s, "active"), alloc = jm_num(s, "allocated");
		time_t secs = (time_t)t_s;
		struct tm tm;

		localtime_r(&secs, &tm);
		strftime(tm_s, sizeof(tm_s), "%H:%M:%S", &tm);
		snprintf(tm_s + strlen(tm_s), sizeof(tm_s) - strlen(tm_s), ".%01d",
		         (int)((t_s - (double)secs) * 10) % 10);
		const char *cells[] = {
			tm_s,
			jm_fmt_bytes(al, sizeof(al), alloc),
			jm_fmt_bytes(ac, sizeof(ac), act),
			jm_fmt_bytes(ma, sizeof(ma), jm_num(s, "mapped")),
			jm_fmt_pct(fr, sizeof(fr), act > alloc ? (act - alloc) / act : 0.0),
			jm_fmt_rate(ra, sizeof(ra), jm_num(s, "alloc_rate")),
		};
		jm_table_add(&t, cells);
	}
	jm_table_print(&t, stdout, o->color);
	jm_table_free(&t);
	free(samples);
	size_t nothers;
	json_t **others = jm_array_items(json_object_get(reply, "others"), &nothers);
	for (size_t i = 0; i < nothers; i++) {
		char when[16];
		if (i == 0)
			printf("pid %ld was also (jmctl history %ld -s START):\n", pid, pid);
		printf("  START %.2f  ", jm_num(others[i], "started"));
		jm_fputs_safe(jm_str(others[i], "exe"), stdout);
		printf(" of ");
		jm_fputs_safe(jm_str(others[i], "user"), stdout);
		printf(", started %s", clock_of(jm_num(others[i], "started"), when, sizeof(when)));
		print_where(others[i]);
		printf("%s\n", json_is_false(json_object_get(others[i], "alive")) ? ", exited" : "");
	}
	free(others);
	json_decref(reply);
	return 0;
}
