/*
 * alerts.c: `jmctl alerts`, the daemon's pending, firing and recently
 * resolved alerts.
 *
 * One request, then the reply as it came with --json, else a table sorted
 * by an alert key (-s, declared here as data). Under each alert that
 * carries allocation sites, the "held by:" lines: the sites' innermost
 * frames, symbolized as the calling user (sites.c, symbolize.c).
 */
#include "jmctl.h"
#include "symbolize.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const struct jm_sort_key jm_alert_keys[] = {
	{ "since",     "since",        false, true },
	{ "state",     "state",        true,  false },
	{ "rule",      "rule",         true,  false },
	{ "pid",       "pid",          false, false },
	{ "value",     "value",        false, true },
	{ NULL, NULL, false, false }
};

static const struct jm_table_col alert_cols[] = {
	{ "ID", JM_LEFT }, { "STATE", JM_LEFT }, { "RULE", JM_LEFT },
	{ "PID", JM_RIGHT }, { "EXE", JM_LEFT }, { "SINCE", JM_RIGHT },
	{ "VALUE", JM_RIGHT }, { "THRESHOLD", JM_RIGHT }, { "MESSAGE", JM_LEFT },
};

#define HELD_BY_FRAMES 3

/* The "  held by: ..." lines of one alert: its sites' frames symbolized
 * (the innermost three, more when two sites read alike so far)
 * when its process still runs (else, or if its maps cannot be read, the
 * raw addresses). Nothing for an alert without sites. */
static void print_held_by(const json_t *a)
{
	json_t *raw_sites = json_object_get(a, "sites"), *sym = NULL, *sites, *s, *f;
	char warn[256] = "", frame[512], bytes[24];
	size_t i, j;

	if (!json_is_array(raw_sites))
		return;
	if (json_array_size(raw_sites) == 0) {
		printf("  held by: %s\n", jm_int(a, "sample_bytes") == 0 ?
		       "(sampling is off in this process: JMALLOC_CONF=prof_sample)" :
		       "(no sampled allocation site yet)");
		return;
	}
	if (json_is_true(json_object_get(a, "alive"))) {
		json_t *raw = json_pack("{s:s,s:O}", "exe", jm_str(a, "exe"), "sites", raw_sites);

		if (raw)
			sym = jm_sites_symbolize(raw, (long)jm_int(a, "pid"), 0, json_array_size(raw_sites),
			                         warn, sizeof(warn));
		json_decref(raw);
		if (warn[0]) {
			fprintf(stderr, "jmctl: alert %lld: ", jm_int(a, "id"));
			jm_fputs_safe(warn, stderr);
			fputc('\n', stderr);
		}
	}
	sites = sym ? json_object_get(sym, "sites") : raw_sites;
	json_array_foreach(sites, i, s) {
		json_t *frames = json_object_get(s, "frames"), *o;
		size_t need = HELD_BY_FRAMES, k;

		/* Frames until the site differs from each other one listed (two
		 * stacks alike in their innermost frames would read the same). */
		json_array_foreach(sites, k, o) {
			json_t *of = json_object_get(o, "frames");
			size_t d = 0;
			char other[512];

			if (k == i)
				continue;
			for (; d < json_array_size(frames) && d < json_array_size(of); d++) {
				jm_frame_short(frame, sizeof(frame), json_array_get(frames, d), d == 0);
				jm_frame_short(other, sizeof(other), json_array_get(of, d), d == 0);
				if (strcmp(frame, other) != 0)
					break;
			}
			if (d + 1 > need)
				need = d + 1;
		}
		fputs("  held by: ", stdout);
		json_array_foreach(frames, j, f) {
			if (j == need)
				break;
			jm_frame_short(frame, sizeof(frame), f, j == 0);
			fputs(j ? " < " : "", stdout);
			jm_fputs_safe(frame, stdout);
		}
		printf("  %s", jm_fmt_bytes(bytes, sizeof(bytes), jm_num(s, "live_bytes")));
		if (jm_num(s, "error_bytes") > 0)
			printf(" +- %s", jm_fmt_bytes(bytes, sizeof(bytes), jm_num(s, "error_bytes")));
		printf("%s\n", json_is_true(json_object_get(s, "bounded")) ?
		       " (estimate brought down to what the process holds)" : "");
	}
	json_decref(sym);
}

/* An alert's value or threshold in the units of its rule: the daemon's
 * text (FIELD_text), else bytes for growth and a percentage for ratios. */
static void alert_value(char *buf, size_t size, const json_t *a, const char *field)
{
	char key[32];
	double v = jm_num(a, field);

	snprintf(key, sizeof(key), "%s_text", field);
	if (jm_str(a, key)[0])
		snprintf(buf, size, "%s", jm_str(a, key));
	else if (strcmp(jm_str(a, "kind"), "growth") == 0)
		jm_fmt_bytes(buf, size, v);
	else
		snprintf(buf, size, "%.1f%%", v * 100.0);
}

int jm_cmd_alerts(const struct jmctl_opts *o, int argc, char **argv)
{
	const struct jm_sort_key *key = &jm_alert_keys[0];
	bool reverse = false;
	json_t *reply;
	int err;

	err = jm_parse_sort_opts("alerts", argc, argv, jm_alert_keys, &key, &reverse, NULL, NULL);
	if (err)
		return err;
	err = jm_client_request(o->socket, json_pack("{s:s}", "cmd", "alerts"), &reply, o->json);
	if (err || !reply)
		return err;

	size_t n;
	json_t **alerts = jm_array_items(json_object_get(reply, "alerts"), &n);
	double now = jm_num(reply, "time");
	struct jm_table t;

	if (now <= 0)
		now = (double)time(NULL);
	jm_sort_json(alerts, n, key, "since", reverse);
	jm_table_init(&t, alert_cols, (int)(sizeof(alert_cols) / sizeof(alert_cols[0])));
	for (size_t i = 0; i < n; i++) {
		json_t *a = alerts[i];
		json_t *id = json_object_get(a, "id");
		char ids[32], pid[24], since[32], val[32], thr[32];
		const char *state = jm_str(a, "state");

		if (json_is_string(id))
			snprintf(ids, sizeof(ids), "%s", json_string_value(id));
		else
			snprintf(ids, sizeof(ids), "%lld", jm_int(a, "id"));
		if (jm_int(a, "pid") > 0)
			snprintf(pid, sizeof(pid), "%lld", jm_int(a, "pid"));
		else
			snprintf(pid, sizeof(pid), "-");
		jm_fmt_age(since, sizeof(since) - 4, now - jm_num(a, "since"));
		strcat(since, " ago");
		alert_value(val, sizeof(val), a, "value");
		alert_value(thr, sizeof(thr), a, "threshold");
		char msg[512];
		if (jm_str(a, "reason")[0])
			snprintf(msg, sizeof(msg), "%s; %s", jm_str(a, "message"), jm_str(a, "reason"));
		else
			snprintf(msg, sizeof(msg), "%s", jm_str(a, "message"));
		const char *cells[] = {
			ids, state, jm_str(a, "rule"), pid, jm_str(a, "exe"), since,
			val, thr, msg,
		};
		jm_table_add(&t, cells);
		jm_table_color(&t, t.nrows - 1, 1,
		               strcmp(state, "firing") == 0 ? JM_RED :
		               strcmp(state, "pending") == 0 ? JM_YELLOW : JM_GREEN);
	}
	if (n == 0) {
		printf("no alerts (pending, firing or recently resolved)\n");
	} else {
		/* The table, a line per row, each followed by its alert's sites. */
		char *text = NULL, *line, *save = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&text, &len);

		if (!mem) {
			fputs("jmctl: out of memory\n", stderr);
			exit(JMCTL_EXIT_ERROR);
		}
		jm_table_print(&t, mem, o->color);
		fclose(mem);
		line = strtok_r(text, "\n", &save);
		for (size_t row = 0; line; row++, line = strtok_r(NULL, "\n", &save)) {
			puts(line);
			if (row > 0 && row <= n)
				print_held_by(alerts[row - 1]);
		}
		free(text);
	}
	jm_table_free(&t);
	free(alerts);
	json_decref(reply);
	return 0;
}
