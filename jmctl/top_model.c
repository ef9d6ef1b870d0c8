/*
 * top_model.c: the frame model of `jmctl top`.
 *
 * The stream from jmstatd ({"cmd":"history"} for the sparkline, then
 * {"cmd":"subscribe"}), the newest update kept as the model, the history
 * ring of the host's (or the process's) allocated and active bytes, and
 * a frame built from them as lines of text: the header, the totals, the
 * sparkline, the bins or processes sorted by the view's key and filtered
 * by `/`, with where each meter sits so that the terminal can colour it.
 * -b prints the frame as is (jm_top_print_batch); nothing here draws with curses.
 */
#include "top.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Bin sort keys of the live view (`inuse` is regions held by the program). */
const struct jm_sort_key jm_top_bin_keys[] = {
	{ "wasted", "wasted_bytes", false, true },
	{ "util",   "util",         false, false },
	{ "size",   "size",         false, false },
	{ "inuse",  "inuse",        false, true },
	{ "runs",   "curruns",      false, true },
	{ "rate",   "request_rate", false, true },
	{ NULL, NULL, false, false }
};


double jm_top_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------- history */

static void hist_add(struct top *t, double when, double allocated, double active)
{
	if (t->hn > 0) {
		int newest = (t->hhead + t->hn - 1) % HIST_MAX;

		if (when <= t->ht[newest])
			return;
	}
	int slot = (t->hhead + t->hn) % HIST_MAX;

	if (t->hn == HIST_MAX)
		t->hhead = (t->hhead + 1) % HIST_MAX;
	else
		t->hn++;
	t->ht[slot] = when;
	t->halloc[slot] = allocated;
	t->hactive[slot] = active;
}

/* The sparkline's columns: the newest at the right, each covering
 * `bucket` seconds; a column without a sample repeats the one before it,
 * columns before the first sample are gaps (-1). */
static double hist_columns(const struct top *t, int cols, double *va, double *vb,
                           double *max)
{
	double interval = t->c.interval_ms / 1000.0, now, oldest, span, bucket;

	*max = 0;
	for (int i = 0; i < cols; i++)
		va[i] = vb[i] = -1;
	if (t->hn == 0 || cols <= 0)
		return 0;
	now = t->ht[(t->hhead + t->hn - 1) % HIST_MAX];
	oldest = t->ht[t->hhead];
	span = now - oldest;
	if (span > SPARK_SPAN_S)
		span = SPARK_SPAN_S;
	bucket = span / cols;
	if (bucket < interval)
		bucket = interval;
	for (int k = 0; k < t->hn; k++) {
		int s = (t->hhead + k) % HIST_MAX;
		double age = now - t->ht[s];
		int col = cols - 1 - (int)(age / bucket + 0.5);

		if (col < 0 || col >= cols)
			continue;
		va[col] = t->halloc[s];   /* the newest sample of the bucket wins */
		vb[col] = t->hactive[s];
	}
	for (int i = 1; i < cols; i++)
		if (va[i] < 0 && va[i - 1] >= 0) {
			va[i] = va[i - 1];
			vb[i] = vb[i - 1];
		}
	for (int i = 0; i < cols; i++) {
		if (va[i] > *max)
			*max = va[i];
		if (vb[i] > *max)
			*max = vb[i];
	}
	/* The time the samples cover, not what the columns could: a daemon up
	 * 61 s has 61 s to show, however wide the line. */
	return bucket * cols < span ? bucket * cols : span;
}

static json_t *find_proc(json_t *upd, long pid)
{
	json_t *procs = json_object_get(upd, "processes"), *p;
	size_t i;

	json_array_foreach(procs, i, p)
		if (jm_int(p, "pid") == pid)
			return p;
	return NULL;
}

static void add_spark(struct top *t, struct frame *f, int width)
{
	int cols = width - 24;
	double *va, *vb, max, shown;
	char *spark, v[24], m[24], age[24];
	size_t ssize;

	if (cols > 150)
		cols = 150;
	if (cols < 8)
		return;
	va = calloc((size_t)cols * 2, sizeof(double));
	ssize = (size_t)cols * 4 + 1;
	spark = malloc(ssize);
	if (!va || !spark) {
		free(va);
		free(spark);
		return;
	}
	vb = va + cols;
	shown = hist_columns(t, cols, va, vb, &max);
	int newest = (t->hhead + t->hn - 1) % HIST_MAX;

	jm_sparkline(spark, ssize, va, cols, max, t->o->utf8);
	jm_top_frame_add(f, LINE_SPARK, "allocated  %s  %s", spark,
	          jm_fmt_bytes(v, sizeof(v), t->hn ? t->halloc[newest] : 0));
	jm_sparkline(spark, ssize, vb, cols, max, t->o->utf8);
	jm_top_frame_add(f, LINE_SPARK, "active     %s  %s", spark,
	          jm_fmt_bytes(v, sizeof(v), t->hn ? t->hactive[newest] : 0));
	jm_top_frame_add(f, LINE_PLAIN, "           last %s, scale 0 to %s", jm_fmt_age(age, sizeof(age), shown),
	          jm_fmt_bytes(m, sizeof(m), max));
	free(va);
	free(spark);
}

/* The totals of the host or of one process, as "label  field  field ...";
 * with wrap > 0 the fields go on as many lines of that width as needed. */
static void add_totals(struct frame *f, const char *label, const json_t *h, bool host,
                       int wrap)
{
	char fields[8][64], a[24];
	int n = 0;

	if (host) {
		long long np = jm_int(h, "processes");

		snprintf(fields[n++], 64, "%s %lld process%s", label, np, np == 1 ? "" : "es");
	} else {
		char exe[JM_SAFE_EXE];
		snprintf(fields[n++], 64, "%s %lld (%.32s)", label, jm_int(h, "pid"),
		         jm_safe(exe, sizeof(exe), jm_str(h, "exe")));
	}
	snprintf(fields[n++], 64, "allocated %s", jm_fmt_bytes(a, sizeof(a), jm_num(h, "allocated")));
	snprintf(fields[n++], 64, "active %s", jm_fmt_bytes(a, sizeof(a), jm_num(h, "active")));
	snprintf(fields[n++], 64, "mapped %s", jm_fmt_bytes(a, sizeof(a), jm_num(h, "mapped")));
	snprintf(fields[n++], 64, "frag %s", jm_fmt_pct(a, sizeof(a), jm_num(h, "frag_ratio")));
	snprintf(fields[n++], 64, "wasted %s", jm_fmt_bytes(a, sizeof(a), jm_num(h, "small_wasted")));
	snprintf(fields[n++], 64, "alloc/s %s", jm_fmt_rate(a, sizeof(a), jm_num(h, "alloc_rate")));

	char line[LINE_MAX_BYTES];
	int len = 0, indent = (int)strlen(label) + 1;

	line[0] = '\0';
	for (int i = 0; i < n; i++) {
		int fl = (int)strlen(fields[i]);

		if (len > 0 && wrap > 0 && len + 2 + fl > wrap) {
			jm_top_frame_add(f, LINE_BOLD, "%s", line);
			len = snprintf(line, sizeof(line), "%*s%s", indent, "", fields[i]);
			continue;
		}
		len += snprintf(line + len, sizeof(line) - (size_t)len, "%s%s", len ? "  " : "", fields[i]);
	}
	jm_top_frame_add(f, LINE_BOLD, "%s", line);
}

static int meter_width(int width, int fixed)
{
	int w = width - fixed - 2;

	if (w > 50)
		w = 50;
	if (w < 10)
		w = 10;
	return w;
}

static bool bin_idle(const json_t *b)
{
	return jm_num(b, "curruns") == 0 && jm_num(b, "curregs") == 0 &&
	       jm_num(b, "request_rate") == 0 && jm_num(b, "malloc_rate") == 0;
}

static void add_bins(struct top *t, struct frame *f, int width)
{
	const struct jm_sort_key *k = &jm_top_bin_keys[t->key[VIEW_BINS]];
	size_t n, shown = 0;
	json_t **bins = jm_array_items(json_object_get(t->last, "bins"), &n);
	int mw = meter_width(width, 6 + 2 + 8 + 2 + 6 + 2 + 2 + 10 + 2 + 8);
	char meter[80];

	jm_sort_json(bins, n, k, "size", t->reverse);
	t->selected_size = 0;
	jm_top_frame_add(f, LINE_TITLE, "%6s  %8s  %6s  %-*s  %10s  %8s",
	          "SIZE", "INUSE", "RUNS", mw + 2, "UTIL", "WASTED", "ALLOC/S");
	f->first_row = f->n;
	for (size_t i = 0; i < n; i++) {
		json_t *b = bins[i];
		char in[24], ru[24], wa[24], ra[24];
		struct line *l;

		if (bin_idle(b))
			continue;
		/* A bin without runs has no utilisation to show. */
		double util = jm_num(b, "curruns") > 0 ? jm_num(b, "util") : -1.0;

		jm_meter(meter, sizeof(meter), util, mw);
		l = jm_top_frame_add(f, LINE_PLAIN, "%6lld  %8s  %6s  %s  %10s  %8s",
		              jm_int(b, "size"),
		              jm_fmt_count(in, sizeof(in), jm_num(b, "inuse")),
		              jm_fmt_count(ru, sizeof(ru), jm_num(b, "curruns")),
		              meter,
		              jm_fmt_bytes(wa, sizeof(wa), jm_num(b, "wasted_bytes")),
		              jm_fmt_rate(ra, sizeof(ra), jm_num(b, "request_rate")));
		l->meter_off = 6 + 2 + 8 + 2 + 6 + 2;
		l->meter_len = mw + 2;
		l->meter_ratio = util < 0 ? 1.0 : util;
		/* The selection: row sel, or the last row when sel is beyond. */
		if ((int)shown <= t->sel)
			t->selected_size = jm_int(b, "size");
		shown++;
	}
	f->nrows = (int)shown;
	if (t->sel >= (int)shown)
		t->sel = shown ? (int)shown - 1 : 0;
	if (shown == 0)
		jm_top_frame_add(f, LINE_PLAIN, "(no bin in use%s)", t->pid ? " in this process" : "");
	else
		jm_top_frame_add(f, LINE_PLAIN, "%zu of %zu bins in use, sorted by %s%s", shown, n, k->name,
		          t->reverse ? " (reversed)" : "");
	free(bins);
}

/* Whether process p passes the `/` filter: its exe or its user holds it. */
static bool proc_match(const struct top *t, const json_t *p)
{
	char uid[24];

	if (!t->filter[0])
		return true;
	snprintf(uid, sizeof(uid), "%lld", jm_int(p, "uid"));
	return strstr(jm_str(p, "exe"), t->filter) || strstr(jm_str(p, "user"), t->filter) ||
	       strcmp(uid, t->filter) == 0;
}

#define PROC_FIXED (7 + 2 + 8 + 2 + 16 + 2 + 10 + 2 + 10 + 2 + 10 + 2)

static void add_procs(struct top *t, struct frame *f, int width)
{
	const struct jm_sort_key *k = &jm_proc_sort_keys[t->key[VIEW_PROCS]];
	size_t n, shown = 0;
	json_t **procs = jm_array_items(json_object_get(t->last, "processes"), &n);
	int mw = meter_width(width, PROC_FIXED + 2 + 2 + 6 + 2 + 10 + 2 + 8);
	char meter[80];

	/* Sorted by a figure the columns do not show (dirty, age): it is added,
	 * last, so that the order can be seen. */
	bool dirty = strcmp(k->field, "dirty") == 0, age = strcmp(k->field, "age") == 0;

	jm_sort_json(procs, n, k, "pid", t->reverse);
	t->selected_pid = 0;
	jm_top_frame_add(f, LINE_TITLE, "%7s  %-8s  %-16s  %10s  %10s  %10s  %-*s  %6s  %10s  %8s%s",
	          "PID", "USER", "EXE", "ALLOCATED", "ACTIVE", "MAPPED", mw + 2, "UTIL", "FRAG",
	          "WASTED", "ALLOC/S", dirty ? "       DIRTY" : age ? "       AGE" : "");
	f->first_row = f->n;
	for (size_t i = 0; i < n; i++) {
		json_t *p = procs[i];
		char al[24], ac[24], ma[24], fr[24], wa[24], ra[24], exe[JM_SAFE_EXE], user[JM_SAFE_EXE];
		char upad[8 * 4 + 1 + 8 + 1], epad[16 * 4 + 1 + 16 + 1];
		struct line *l;
		double util = jm_num(p, "active") > 0 ? 1.0 - jm_num(p, "frag_ratio") : 1.0;
		char ex[24] = "", extra[32] = "";

		if (!proc_match(t, p))
			continue;
		if (dirty)
			snprintf(extra, sizeof(extra), "  %10s", jm_fmt_bytes(ex, sizeof(ex), jm_num(p, "dirty")));
		else if (age)
			snprintf(extra, sizeof(extra), "  %8s", jm_fmt_age(ex, sizeof(ex), jm_num(p, "age")));
		jm_meter(meter, sizeof(meter), util, mw);
		/* USER and EXE cut and padded to their columns, not bytes: a
		 * wide character is two, and half a character is no name. */
		jm_safe(user, sizeof(user), jm_str(p, "user"));
		jm_safe(exe, sizeof(exe), jm_str(p, "exe"));
		l = jm_top_frame_add(f, LINE_PLAIN, "%7lld  %s  %s  %10s  %10s  %10s  %s  %6s  %10s  %8s%s",
		              jm_int(p, "pid"), jm_text_pad(upad, sizeof(upad), user, 8),
		              jm_text_pad(epad, sizeof(epad), exe, 16),
		              jm_fmt_bytes(al, sizeof(al), jm_num(p, "allocated")),
		              jm_fmt_bytes(ac, sizeof(ac), jm_num(p, "active")),
		              jm_fmt_bytes(ma, sizeof(ma), jm_num(p, "mapped")),
		              meter,
		              jm_fmt_pct(fr, sizeof(fr), jm_num(p, "frag_ratio")),
		              jm_fmt_bytes(wa, sizeof(wa), jm_num(p, "small_wasted")),
		              jm_fmt_rate(ra, sizeof(ra), jm_num(p, "alloc_rate")), extra);
		l->meter_off = PROC_FIXED;
		l->meter_len = mw + 2;
		l->meter_ratio = util;
		/* The selection: row psel, or the last row when psel is beyond. */
		if ((int)shown <= t->psel)
			t->selected_pid = (long)jm_int(p, "pid");
		shown++;
	}
	f->nrows = (int)shown;
	if (t->psel >= (int)shown)
		t->psel = shown ? (int)shown - 1 : 0;
	if (n == 0)
		jm_top_frame_add(f, LINE_PLAIN, "(no process runs with jmalloc%s)",
		          t->pid ? "" : ", or none of yours");
	if (t->filter[0])
		jm_top_frame_add(f, LINE_PLAIN, "%zu of %zu process%s matching '%s', sorted by %s%s", shown, n,
		          n == 1 ? "" : "es", t->filter, k->name, t->reverse ? " (reversed)" : "");
	else
		jm_top_frame_add(f, LINE_PLAIN, "%zu process%s, sorted by %s%s", n, n == 1 ? "" : "es",
		          k->name, t->reverse ? " (reversed)" : "");
	free(procs);
}

void jm_top_build_frame(struct top *t, struct frame *f, int width, bool wrap)
{
	char clock[32] = "--:--:--", stale[64] = "";
	time_t sec = (time_t)t->last_time;
	struct tm tm;
	json_t *proc = t->pid ? find_proc(t->last, t->pid) : NULL;
	double since = jm_top_now() - t->last_arrival;
	double interval = t->c.interval_ms / 1000.0;

	f->n = 0;
	f->nrows = 0;
	f->first_row = 0;
	if (localtime_r(&sec, &tm))
		strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	if (since > 3 * interval + 1)
		snprintf(stale, sizeof(stale), "  (no update for %.0fs)", since);
	jm_top_frame_add(f, LINE_BOLD, "jmctl top - %s%s  every %gs  %s view%s", clock, stale,
	          t->delay_s, t->view == VIEW_BINS ? "bins" : "process",
	          t->pid ? (t->opened ? " (Esc: all processes)" : "") : " (all processes)");
	add_totals(f, "Host:", json_object_get(t->last, "host"), true, wrap ? width : 0);
	if (t->pid) {
		if (proc)
			add_totals(f, "Process", proc, false, wrap ? width : 0);
		else
			jm_top_frame_add(f, LINE_BOLD, "Process %ld: not seen in this update", t->pid);
	}
	add_spark(t, f, width);
	if (t->note[0])
		jm_top_frame_add(f, LINE_BOLD, "%s", t->note);
	else
		jm_top_frame_add(f, LINE_PLAIN, "%s", "");
	if (t->view == VIEW_BINS) {
		add_bins(t, f, width);
		if (t->sites)
			jm_top_add_sites(t, f);
	} else
		add_procs(t, f, width);
}

/* ------------------------------------------------------------- output */

void jm_top_print_batch(struct top *t, struct frame *f, int width)
{
	jm_top_build_frame(t, f, width, false);
	for (int i = 0; i < f->n; i++) {
		char *s = f->lines[i].text;
		size_t len = strlen(s);

		while (len && s[len - 1] == ' ')
			s[--len] = '\0';
		puts(s);
	}
	putchar('\n');
	fflush(stdout);
}

/* -------------------------------------------------------------- stream */

/* Takes one update line: returns 0, or -EPROTO after printing why. */
int jm_top_take_update(struct top *t)
{
	json_t *u = json_loads(t->c.line, 0, NULL), *src;

	/* A process opened from the process view exits: back to the list
	 * (the caller reopens every process), the live view stays. */
	if (t->opened && t->curses_on && json_is_object(u) && !json_is_true(json_object_get(u, "ok")) &&
	    strncmp(jm_str(u, "error"), "no such process", 15) == 0) {
		json_decref(u);
		return -ECHILD;
	}
	if (!u || !json_is_object(u) || !json_is_true(json_object_get(u, "ok"))) {
		/* The message must reach a restored terminal, not the curses screen. */
		json_decref(u);
		jm_top_restore_terminal();
		u = jm_client_parse(&t->c);
		if (!u)
			return -EPROTO;
	}
	if (!json_is_true(json_object_get(u, "ok"))) {
		const char *msg = jm_str(u, "error");
		char shown[1024];   /* the daemon's words, which may quote a process's */
		jm_safe(shown, sizeof shown, msg);

		if (strncmp(msg, "no such process", 15) == 0 && t->last)
			fprintf(stderr, "jmctl: process %ld is gone: it exited, or jmstatd "
			        "at %s no longer sees it\n", t->pid, t->c.path);
		else if (strncmp(msg, "no such process", 15) == 0 && t->pid)
			jm_client_report_no_process(&t->c, t->pid);
		else if (strncmp(msg, "no such process", 15) == 0)
			fprintf(stderr, "jmctl: %s (jmstatd at %s does not see it: "
			        "`jmctl ps` lists the processes it sees)\n", shown, t->c.path);
		else
			fprintf(stderr, "jmctl: %s: jmstatd ended the subscription: %s\n",
			        t->c.path, msg[0] ? shown : "error without a message");
		int rc = strncmp(msg, "no such process", 15) == 0 ? -ENOENT : -EPROTO;
		json_decref(u);   /* msg points into u */
		return rc;
	}
	json_decref(t->last);
	t->last = u;
	free(t->last_raw);
	t->last_raw = strdup(t->c.line);
	t->last_time = jm_num(u, "time");
	t->last_arrival = jm_top_now();
	t->fresh = true;
	src = t->pid ? find_proc(u, t->pid) : json_object_get(u, "host");
	if (src)
		hist_add(t, t->last_time, jm_num(src, "allocated"), jm_num(src, "active"));
	return 0;
}

/* Asks for the history (for the sparkline); a failure only leaves it empty. */
static int load_history(struct top *t)
{
	json_t *req = json_pack("{s:s,s:i}", "cmd", "history", "seconds", (int)SPARK_SPAN_S);
	json_t *r, *s;
	size_t i;
	int err;

	if (t->pid)
		json_object_set_new(req, "pid", json_integer(t->pid));
	err = jm_client_send(&t->c, req);
	json_decref(req);
	if (!err)
		do
			err = jm_client_read_line(&t->c, JMCTL_REPLY_TIMEOUT_MS);
		while (err == -EINTR && !jm_top_signal);
	if (err) {
		jm_client_report(&t->c, err, "'history'");
		return err;
	}
	r = json_loads(t->c.line, 0, NULL);
	json_array_foreach(json_object_get(r, "samples"), i, s)
		hist_add(t, jm_num(s, "time"), jm_num(s, "allocated"), jm_num(s, "active"));
	json_decref(r);
	return 0;
}

/* The stream of t->pid (0: every process) on a new connection: the
 * history for the sparkline, the subscription, its first update. */
int jm_top_stream_start(struct top *t)
{
	json_t *req;
	int err = jm_client_open(&t->c, t->o->socket);

	if (err)
		return err;
	if (!t->o->json) {
		err = load_history(t);
		if (err)
			return err;
	}
	req = json_pack("{s:s}", "cmd", "subscribe");
	if (t->pid)
		json_object_set_new(req, "pid", json_integer(t->pid));
	err = jm_client_send(&t->c, req);
	json_decref(req);
	if (err) {
		jm_client_report(&t->c, err, "'subscribe'");
		return err;
	}
	/* The first update comes at once: a daemon that stays silent is stuck. */
	do
		err = jm_client_read_line(&t->c, JMCTL_REPLY_TIMEOUT_MS);
	while (err == -EINTR && !jm_top_signal);
	if (jm_top_signal)
		return 0;
	if (err) {
		jm_client_report(&t->c, err, "'subscribe'");
		return err;
	}
	return jm_top_take_update(t);
}
