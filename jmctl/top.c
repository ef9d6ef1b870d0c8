/*
 * top.c: `jmctl top`, the live view of per-bin usage.
 *
 * One connection: {"cmd":"history"} first (to draw the sparkline of the
 * last minutes at once), then {"cmd":"subscribe"}, after which jmstatd
 * sends one update per sample interval. The newest update is the model;
 * a frame is built from it as lines of text (build_frame), then either
 * printed (-b, or when stdout is not a terminal) or drawn with curses,
 * where the meters get their colours. A frame is drawn when an update
 * arrives and -d seconds have passed since the last one, and at once after
 * a key or a resize.
 *
 * In both views one row is selected (the arrows move it, the table
 * scrolls to keep it in sight). In the process view, Enter opens the
 * selected process: a new stream for that pid (as -p), its bins and
 * sites; Esc or Backspace goes back to every process. `/` filters the
 * process view by a text found in the exe or the user. In the bins view,
 * Enter shows, below the table, the allocation sites behind the selected
 * size class, ranked by the bytes they keep wasted in it: the processes
 * wasting the most in that class are found (their stats), and each site
 * of theirs gets the share of its process's waste in the class that its
 * live bytes there hold (the objects left in sparse runs are what keeps
 * them); each with enough frames to tell it from the others shown.
 * Enter again closes them.
 *
 * The terminal is restored on every way out: q, Ctrl-C (SIGINT), SIGTERM,
 * SIGHUP, the daemon closing the stream, and exit() from anywhere (atexit).
 */
#include "jmctl.h"

#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* Bin sort keys of the live view (`inuse` is regions held by the program). */
static const struct jm_sort_key top_bin_keys[] = {
	{ "wasted", "wasted_bytes", false, true },
	{ "util",   "util",         false, false },
	{ "size",   "size",         false, false },
	{ "inuse",  "inuse",        false, true },
	{ "runs",   "curruns",      false, true },
	{ "rate",   "request_rate", false, true },
	{ NULL, NULL, false, false }
};

/* The process view's keys are ps's (jm_proc_sort_keys, common/sortkeys.c);
 * allocated is the default there. */
#define TOP_PROC_DEFAULT_KEY "allocated"

enum view { VIEW_BINS, VIEW_PROCS };

#define HIST_MAX 4096        /* samples kept for the sparkline */
#define SPARK_SPAN_S 600.0   /* the sparkline shows at most 10 minutes */
#define LINE_MAX_BYTES 2048

/* A line of a frame: text, and where the meter sits in it (for colour). */
enum line_kind { LINE_PLAIN, LINE_BOLD, LINE_TITLE, LINE_SPARK };

struct line {
	enum line_kind kind;
	int meter_off, meter_len;    /* byte range of the meter, or -1 */
	double meter_ratio;          /* utilisation the meter shows */
	char text[LINE_MAX_BYTES];
};

struct frame {
	struct line *lines;
	int n, cap;
	int nrows;                   /* table rows (bins or processes) */
	int first_row;               /* index in lines of the first table row */
};

struct top {
	const struct jmctl_opts *o;
	struct jm_client c;
	long pid;                    /* 0: all processes */
	double delay_s;
	bool batch;
	long nframes;                /* 0: until stopped */
	enum view view;
	int key[2];                  /* sort key index per view */
	bool reverse;
	bool help;                   /* show the keys line */
	int scroll;                  /* first table row shown (curses) */
	bool curses_on;

	json_t *last;                /* newest update */
	char *last_raw;              /* its text, for --json */
	double last_time;            /* its "time" */
	double last_arrival;         /* monotonic seconds it arrived */
	bool fresh;                  /* an update not yet drawn */

	int sel;                     /* the selected row of the bins view */
	long long selected_size;     /* its bin (0: none) */
	int psel;                    /* the selected row of the process view */
	long selected_pid;           /* its pid (0: none) */
	bool opened;                 /* pid was opened from the process view (Esc goes back) */
	char filter[64];             /* process view: rows whose exe or user hold it */
	bool editing;                /* the filter is being typed */
	char edit[64];               /* what is typed so far */
	char note[128];              /* a line under the header until the next key */
	json_t *sites;               /* the sites panel: [{pid, exe, bytes, site}], or NULL */
	long long sites_size;        /* its bin */
	char sites_note[256];        /* a line about it (errors, nothing found) */

	int hn, hhead;               /* history ring */
	double ht[HIST_MAX], halloc[HIST_MAX], hactive[HIST_MAX];
};

static volatile sig_atomic_t got_signal;
static bool curses_active;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void restore_terminal(void)
{
	if (curses_active) {
		curses_active = false;
		endwin();
	}
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const struct jm_sort_key *view_keys(const struct top *t)
{
	return t->view == VIEW_BINS ? top_bin_keys : jm_proc_sort_keys;
}

static int nkeys(const struct jm_sort_key *k)
{
	int n = 0;

	while (k[n].name)
		n++;
	return n;
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

/* ---------------------------------------------------------------- frame */

static struct line *frame_add(struct frame *f, enum line_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static struct line *frame_add(struct frame *f, enum line_kind kind, const char *fmt, ...)
{
	va_list ap;
	struct line *l;

	if (f->n == f->cap) {
		int ncap = f->cap ? f->cap * 2 : 64;
		struct line *nl = realloc(f->lines, sizeof(*nl) * (size_t)ncap);

		if (!nl) {
			restore_terminal();
			fputs("jmctl: out of memory\n", stderr);
			exit(JMCTL_EXIT_ERROR);
		}
		f->lines = nl;
		f->cap = ncap;
	}
	l = &f->lines[f->n++];
	l->kind = kind;
	l->meter_off = l->meter_len = -1;
	l->meter_ratio = 0;
	char raw[sizeof(l->text)];
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* A name from a process (exe, function, file) never reaches the
	 * terminal as a control byte; the callers that place a meter by
	 * column made their strings safe already, so nothing moves. */
	jm_safe(l->text, sizeof(l->text), raw);
	return l;
}

/* The process entry of pid in an update, or NULL. */
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
	frame_add(f, LINE_SPARK, "allocated  %s  %s", spark,
	          jm_fmt_bytes(v, sizeof(v), t->hn ? t->halloc[newest] : 0));
	jm_sparkline(spark, ssize, vb, cols, max, t->o->utf8);
	frame_add(f, LINE_SPARK, "active     %s  %s", spark,
	          jm_fmt_bytes(v, sizeof(v), t->hn ? t->hactive[newest] : 0));
	frame_add(f, LINE_PLAIN, "           last %s, scale 0 to %s", jm_fmt_age(age, sizeof(age), shown),
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
			frame_add(f, LINE_BOLD, "%s", line);
			len = snprintf(line, sizeof(line), "%*s%s", indent, "", fields[i]);
			continue;
		}
		len += snprintf(line + len, sizeof(line) - (size_t)len, "%s%s", len ? "  " : "", fields[i]);
	}
	frame_add(f, LINE_BOLD, "%s", line);
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
	const struct jm_sort_key *k = &top_bin_keys[t->key[VIEW_BINS]];
	size_t n, shown = 0;
	json_t **bins = jm_array_items(json_object_get(t->last, "bins"), &n);
	int mw = meter_width(width, 6 + 2 + 8 + 2 + 6 + 2 + 2 + 10 + 2 + 8);
	char meter[80];

	jm_sort_json(bins, n, k, "size", t->reverse);
	t->selected_size = 0;
	frame_add(f, LINE_TITLE, "%6s  %8s  %6s  %-*s  %10s  %8s",
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
		l = frame_add(f, LINE_PLAIN, "%6lld  %8s  %6s  %s  %10s  %8s",
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
		frame_add(f, LINE_PLAIN, "(no bin in use%s)", t->pid ? " in this process" : "");
	else
		frame_add(f, LINE_PLAIN, "%zu of %zu bins in use, sorted by %s%s", shown, n, k->name,
		          t->reverse ? " (reversed)" : "");
	free(bins);
}

/* The sites panel below the bins: each site with the bytes it keeps
 * wasted in the bin, its live bytes there, its process, and its frames,
 * as many as it takes to tell it from the other sites shown (at least
 * SITES_MIN_FRAMES). */
#define SITES_MIN_FRAMES 4
#define SITES_MAX_FRAMES 16

static void add_sites(struct top *t, struct frame *f)
{
	char a[24], b[24], c[24], text[LINE_MAX_BYTES - 16], other[LINE_MAX_BYTES - 16];
	json_t *e, *e2;
	size_t i, i2;

	frame_add(f, LINE_PLAIN, "%s", "");
	frame_add(f, LINE_BOLD, "Sites behind the %lld-byte bin, by the bytes they keep wasted in it "
	          "(estimated; Enter closes)", t->sites_size);
	if (t->sites_note[0])
		frame_add(f, LINE_PLAIN, "  %s", t->sites_note);
	json_array_foreach(t->sites, i, e) {
		json_t *frames = json_object_get(json_object_get(e, "site"), "frames"), *fr;
		size_t j, nframes = json_array_size(frames), need = SITES_MIN_FRAMES;

		/* The first frame where it differs from each other site, plus one. */
		json_array_foreach(t->sites, i2, e2) {
			json_t *of = json_object_get(json_object_get(e2, "site"), "frames");
			size_t k = 0;

			if (i2 == i)
				continue;
			for (; k < nframes && k < json_array_size(of); k++) {
				jm_frame_text(text, sizeof text, json_array_get(frames, k));
				jm_frame_text(other, sizeof other, json_array_get(of, k));
				if (strcmp(text, other) != 0)
					break;
			}
			if (k + 1 > need)
				need = k + 1;
		}
		if (need > SITES_MAX_FRAMES)
			need = SITES_MAX_FRAMES;
		frame_add(f, LINE_PLAIN, "  %s wasted, %s live in this bin (%s in all)  pid %lld (%.32s)",
		          jm_fmt_bytes(a, sizeof a, jm_num(e, "wasted")),
		          jm_fmt_bytes(b, sizeof b, jm_num(e, "bytes")),
		          jm_fmt_bytes(c, sizeof c, jm_num(json_object_get(e, "site"), "live_bytes")),
		          jm_int(e, "pid"), jm_str(e, "exe"));
		json_array_foreach(frames, j, fr) {
			if (j == need) {
				frame_add(f, LINE_PLAIN, "      ... %zu more", nframes - j);
				break;
			}
			jm_frame_text(text, sizeof text, fr);
			frame_add(f, LINE_PLAIN, "      %s", text);
		}
	}
}

static int by_entry_wasted(const void *pa, const void *pb)
{
	const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	double x = jm_num(a, "wasted"), y = jm_num(b, "wasted");

	if (x == y) {
		x = jm_num(a, "bytes");
		y = jm_num(b, "bytes");
	}
	return (x < y) - (x > y);
}

/* One process's part in the selected bin: its wasted and live bytes there. */
struct bin_share {
	long pid;
	double wasted, live;
};

static int by_share_wasted(const void *pa, const void *pb)
{
	double x = ((const struct bin_share *)pa)->wasted, y = ((const struct bin_share *)pb)->wasted;

	return (x < y) - (x > y);
}

/* Fetches the sites behind the selected bin: the -p (or opened) process,
 * or, of every process, the SITES_PROCS wasting the most in that bin
 * (their stats, among the SITES_CANDIDATES wasting the most in small
 * runs). A site's wasted bytes: its process's waste in the bin times the
 * share of the bin's live bytes that the site holds. */
#define SITES_CANDIDATES 16
#define SITES_PROCS 8
#define SITES_SHOWN 5
static void load_sites(struct top *t)
{
	json_t *procs = json_object_get(t->last, "processes");
	json_t **v, *all = json_array();
	struct bin_share share[SITES_CANDIDATES];
	size_t n, np = 0, i;
	char warn[256];
	struct jm_client c;

	json_decref(t->sites);
	t->sites = NULL;
	t->sites_note[0] = '\0';
	t->sites_size = t->selected_size;
	/* Errors are told in the panel: the client's messages to stderr
	 * would land on the curses screen. */
	int saved = dup(STDERR_FILENO), nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (saved >= 0 && nul >= 0)
		dup2(nul, STDERR_FILENO);
	if (nul >= 0)
		close(nul);
	int err = jm_client_open(&c, t->o->socket);

	if (err) {
		snprintf(t->sites_note, sizeof t->sites_note, "cannot reach jmstatd: %s", strerror(-err));
		goto restore;
	}
	if (t->pid) {
		share[np++] = (struct bin_share){ t->pid, 0, 0 };
	} else {
		v = jm_array_items(procs, &n);
		jm_sort_json(v, n, jm_sort_find(jm_proc_sort_keys, "wasted"), "pid", false);
		for (i = 0; i < n && np < SITES_CANDIDATES; i++)
			if (jm_num(v[i], "small_wasted") > 0)
				share[np++] = (struct bin_share){ (long)jm_int(v[i], "pid"), 0, 0 };
		free(v);
	}
	/* Each candidate's waste in the bin, from its stats. */
	for (i = 0; i < np; i++) {
		json_t *req = json_pack("{s:s,s:I}", "cmd", "stats", "pid", (json_int_t)share[i].pid);
		json_t *r = NULL, *b;
		size_t k;

		if (jm_client_call(&c, req, &r, false) == 0) {
			json_array_foreach(json_object_get(r, "bins"), k, b)
				if (jm_int(b, "size") == t->sites_size) {
					share[i].wasted = jm_num(b, "wasted_bytes");
					share[i].live = jm_num(b, "inuse") * (double)t->sites_size;
				}
		}
		json_decref(req);
		json_decref(r);
	}
	qsort(share, np, sizeof(share[0]), by_share_wasted);
	if (!t->pid) {
		size_t keep = 0;

		while (keep < np && keep < SITES_PROCS && share[keep].wasted > 0)
			keep++;
		np = keep;
	}
	for (i = 0; i < np; i++) {
		json_t *raw, *sym, *site;
		size_t j;

		err = jm_sites_fetch(&c, share[i].pid, &raw);
		if (err) {
			snprintf(t->sites_note, sizeof t->sites_note,
			         "cannot read the sites of pid %ld: %s", share[i].pid, strerror(-err));
			continue;
		}
		sym = jm_sites_symbolize(raw, share[i].pid, t->sites_size, SITES_SHOWN, warn, sizeof warn);
		json_decref(raw);
		if (!sym)
			continue;
		if (warn[0])
			snprintf(t->sites_note, sizeof t->sites_note, "%s", warn);
		json_array_foreach(json_object_get(sym, "sites"), j, site) {
			json_t *bins = json_object_get(site, "bins"), *bin;
			size_t k;
			double bytes = 0, wasted;

			json_array_foreach(bins, k, bin)
				if (jm_int(bin, "size") == t->sites_size)
					bytes = jm_num(bin, "live_bytes");
			wasted = share[i].live > 0 ? share[i].wasted * bytes / share[i].live : 0;
			if (wasted > share[i].wasted)
				wasted = share[i].wasted;
			json_array_append_new(all, json_pack("{s:I,s:s,s:f,s:f,s:O}", "pid",
			                                     (json_int_t)share[i].pid, "exe", jm_str(sym, "exe"),
			                                     "bytes", bytes, "wasted", wasted, "site", site));
		}
		json_decref(sym);
	}
	jm_client_close(&c);
	v = jm_array_items(all, &n);
	if (n > 1)
		qsort(v, n, sizeof *v, by_entry_wasted);
	t->sites = json_array();
	for (i = 0; i < n && i < SITES_SHOWN; i++)
		json_array_append(t->sites, v[i]);
	free(v);
	if (n == 0 && !t->sites_note[0])
		snprintf(t->sites_note, sizeof t->sites_note, np == 0 && !t->pid ?
		         "no process wastes bytes in this bin" :
		         "no sampled site holds this bin (sampling off, or nothing sampled yet)");
restore:
	json_decref(all);
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
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
	frame_add(f, LINE_TITLE, "%7s  %-8s  %-16s  %10s  %10s  %10s  %-*s  %6s  %10s  %8s%s",
	          "PID", "USER", "EXE", "ALLOCATED", "ACTIVE", "MAPPED", mw + 2, "UTIL", "FRAG",
	          "WASTED", "ALLOC/S", dirty ? "       DIRTY" : age ? "       AGE" : "");
	f->first_row = f->n;
	for (size_t i = 0; i < n; i++) {
		json_t *p = procs[i];
		char al[24], ac[24], ma[24], fr[24], wa[24], ra[24], exe[JM_SAFE_EXE], user[JM_SAFE_EXE];
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
		l = frame_add(f, LINE_PLAIN, "%7lld  %-8.8s  %-16.16s  %10s  %10s  %10s  %s  %6s  %10s  %8s%s",
		              jm_int(p, "pid"), jm_safe(user, sizeof(user), jm_str(p, "user")),
		              jm_safe(exe, sizeof(exe), jm_str(p, "exe")),
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
		frame_add(f, LINE_PLAIN, "(no process runs with jmalloc%s)",
		          t->pid ? "" : ", or none of yours");
	if (t->filter[0])
		frame_add(f, LINE_PLAIN, "%zu of %zu process%s matching '%s', sorted by %s%s", shown, n,
		          n == 1 ? "" : "es", t->filter, k->name, t->reverse ? " (reversed)" : "");
	else
		frame_add(f, LINE_PLAIN, "%zu process%s, sorted by %s%s", n, n == 1 ? "" : "es",
		          k->name, t->reverse ? " (reversed)" : "");
	free(procs);
}

static void build_frame(struct top *t, struct frame *f, int width, bool wrap)
{
	char clock[32] = "--:--:--", stale[64] = "";
	time_t sec = (time_t)t->last_time;
	struct tm tm;
	json_t *proc = t->pid ? find_proc(t->last, t->pid) : NULL;
	double since = mono_s() - t->last_arrival;
	double interval = t->c.interval_ms / 1000.0;

	f->n = 0;
	f->nrows = 0;
	f->first_row = 0;
	if (localtime_r(&sec, &tm))
		strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	if (since > 3 * interval + 1)
		snprintf(stale, sizeof(stale), "  (no update for %.0fs)", since);
	frame_add(f, LINE_BOLD, "jmctl top - %s%s  every %gs  %s view%s", clock, stale,
	          t->delay_s, t->view == VIEW_BINS ? "bins" : "process",
	          t->pid ? (t->opened ? " (Esc: all processes)" : "") : " (all processes)");
	add_totals(f, "Host:", json_object_get(t->last, "host"), true, wrap ? width : 0);
	if (t->pid) {
		if (proc)
			add_totals(f, "Process", proc, false, wrap ? width : 0);
		else
			frame_add(f, LINE_BOLD, "Process %ld: not seen in this update", t->pid);
	}
	add_spark(t, f, width);
	if (t->note[0])
		frame_add(f, LINE_BOLD, "%s", t->note);
	else
		frame_add(f, LINE_PLAIN, "%s", "");
	if (t->view == VIEW_BINS) {
		add_bins(t, f, width);
		if (t->sites)
			add_sites(t, f);
	} else
		add_procs(t, f, width);
}

/* ------------------------------------------------------------- output */

static void print_batch(struct top *t, struct frame *f, int width)
{
	build_frame(t, f, width, false);
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

enum { PAIR_GOOD = 1, PAIR_WARN, PAIR_BAD, PAIR_SPARK, PAIR_TITLE };

static int meter_pair(double ratio)
{
	return ratio >= 0.75 ? PAIR_GOOD : ratio >= 0.5 ? PAIR_WARN : PAIR_BAD;
}

/* Puts the first `cols` columns of a UTF-8 string at (y, x). */
static void put_clipped(int y, int x, const char *s, int nbytes, int cols)
{
	int bytes = 0, w = 0;

	while (bytes < nbytes && s[bytes]) {
		int len = 1;
		unsigned char ch = (unsigned char)s[bytes];

		if (ch >= 0xf0) len = 4;
		else if (ch >= 0xe0) len = 3;
		else if (ch >= 0xc0) len = 2;
		if (w + 1 > cols)
			break;
		bytes += len;
		w++;
	}
	if (bytes > 0)
		mvaddnstr(y, x, s, bytes);
}

/* The key lines at the bottom, the items wrapped to the width: the short
 * list, or with h every key. While the filter is typed, its prompt. */
static int key_lines(const struct top *t, int cols, char out[][LINE_MAX_BYTES], int max)
{
	static const char *const brief[] = {
		"q quit", "p processes/bins", "s/S sort", "r reverse", "Enter open", "/ filter",
		"h help", NULL,
	};
	static const char *const full[] = {
		"q quit", "p bins/processes", "s/S next/previous sort key", "r reverse",
		"arrows, PgUp/PgDn select", "Enter: bins view, the sites of the bin;",
		"process view, open the process", "Esc back to all processes",
		"/ filter processes by exe or user", "sort bins: w wasted u util z size i inuse n runs a rate;",
		"processes: m allocated f frag a rate", "h close", NULL,
	};
	const char *const *items = t->help ? full : brief;
	int n = 0, len = 0;

	if (t->editing) {
		snprintf(out[0], LINE_MAX_BYTES, " / filter by exe or user (Enter applies, Esc cancels): %s_",
		         t->edit);
		return 1;
	}
	out[0][0] = '\0';
	for (int i = 0; items[i] && n < max; i++) {
		int il = (int)strlen(items[i]);

		if (len > 0 && len + 2 + il > cols - 1) {
			if (++n == max)
				break;
			len = 0;
			out[n][0] = '\0';
		}
		len += snprintf(out[n] + len, LINE_MAX_BYTES - (size_t)len, "%s%s", len ? "  " : " ",
		                items[i]);
	}
	return n < max ? n + 1 : max;
}

static void draw_curses(struct top *t, struct frame *f)
{
	char keys[4][LINE_MAX_BYTES];
	int rows = LINES, cols = COLS, y = 0, head;
	int foot = key_lines(t, cols, keys, rows > 12 ? 4 : 1);
	bool color = has_colors() && t->o->color;
	int *sel = t->view == VIEW_BINS ? &t->sel : &t->psel;

	build_frame(t, f, cols, true);
	erase();
	head = f->first_row;
	/* The rows that fit below the header, leaving the last lines for keys. */
	int room = rows - head - foot - (f->n - head - f->nrows);
	if (room < 1)
		room = 1;
	/* Keep the selected row in sight. */
	if (*sel < t->scroll)
		t->scroll = *sel;
	if (*sel >= t->scroll + room)
		t->scroll = *sel - room + 1;
	if (t->scroll > f->nrows - room)
		t->scroll = f->nrows - room;
	if (t->scroll < 0)
		t->scroll = 0;
	for (int i = 0; i < f->n && y < rows - foot; i++) {
		struct line *l = &f->lines[i];
		int attr = 0;

		if (i >= head && i < head + f->nrows &&
		    (i - head < t->scroll || i - head >= t->scroll + room))
			continue;
		if (i == head + *sel && i < head + f->nrows)
			attr = A_STANDOUT;
		else if (l->kind == LINE_BOLD)
			attr = A_BOLD;
		else if (l->kind == LINE_TITLE)
			attr = A_REVERSE;
		else if (l->kind == LINE_SPARK && color)
			attr = COLOR_PAIR(PAIR_SPARK);
		attron(attr);
		if (l->kind == LINE_TITLE) {
			mvhline(y, 0, ' ', cols);
		}
		put_clipped(y, 0, l->text, (int)strlen(l->text), cols);
		attroff(attr);
		if (l->meter_off >= 0 && l->meter_off + 1 < cols) {
			/* Recolour the bars of the meter, as htop does. */
			int from = l->meter_off + 1, to = l->meter_off + l->meter_len - 1;

			if (color)
				attron(COLOR_PAIR(meter_pair(l->meter_ratio)) | A_BOLD);
			for (int x = from; x < to && x < cols; x++)
				if (l->text[x] == '|')
					mvaddch(y, x, '|');
			if (color)
				attroff(COLOR_PAIR(meter_pair(l->meter_ratio)) | A_BOLD);
		}
		y++;
	}
	attron(A_REVERSE);
	for (int k = 0; k < foot; k++) {
		mvhline(rows - foot + k, 0, ' ', cols);
		put_clipped(rows - foot + k, 0, keys[k], (int)strlen(keys[k]), cols);
	}
	attroff(A_REVERSE);
	refresh();
}

/* ---------------------------------------------------------------- keys */

static void set_key(struct top *t, const char *name)
{
	const struct jm_sort_key *k = jm_sort_find(view_keys(t), name);

	if (k)
		t->key[t->view] = (int)(k - view_keys(t));
}

static int open_process(struct top *t, long pid);

/* The filter's line editor: printable characters, Backspace, Enter
 * applies (an empty text clears the filter), Esc cancels. */
static void edit_key(struct top *t, int ch)
{
	size_t len = strlen(t->edit);

	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		snprintf(t->filter, sizeof(t->filter), "%s", t->edit);
		t->editing = false;
		t->psel = 0;
		t->scroll = 0;
	} else if (ch == 27) {
		t->editing = false;
	} else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		if (len)
			t->edit[len - 1] = '\0';
	} else if (ch >= 0x20 && ch < 0x7f && len + 1 < sizeof(t->edit)) {
		t->edit[len] = (char)ch;
		t->edit[len + 1] = '\0';
	}
}

/* Returns 1 when the key asks to quit, a negative errno when opening a
 * process failed (the message is printed), else 0. */
static int handle_key(struct top *t, int ch)
{
	int n = nkeys(view_keys(t));

	t->note[0] = '\0';
	if (t->editing) {
		edit_key(t, ch);
		return 0;
	}
	switch (ch) {
	case 'q': case 'Q': return 1;
	case '/':
		t->editing = true;
		snprintf(t->edit, sizeof(t->edit), "%s", t->filter);
		t->view = VIEW_PROCS;
		break;
	case 27: case KEY_BACKSPACE: case 127: case 8:
		if (t->opened)
			return open_process(t, 0);
		if (t->filter[0]) {
			t->filter[0] = '\0';
			t->psel = 0;
		}
		break;
	case 's': t->key[t->view] = (t->key[t->view] + 1) % n; break;
	case 'S': t->key[t->view] = (t->key[t->view] + n - 1) % n; break;
	case 'r': t->reverse = !t->reverse; break;
	case 'p': case '\t':
		t->view = t->view == VIEW_BINS ? VIEW_PROCS : VIEW_BINS;
		t->scroll = 0;
		break;
	case 'h': case '?': t->help = !t->help; break;
	case '\n': case '\r': case KEY_ENTER:
		if (t->view == VIEW_PROCS && t->selected_pid > 0 && !t->pid)
			return open_process(t, t->selected_pid);
		if (t->view == VIEW_PROCS)
			break;
		if (t->sites) {
			json_decref(t->sites);
			t->sites = NULL;
		} else if (t->selected_size > 0) {
			load_sites(t);
		}
		break;
	case 'w': set_key(t, "wasted"); break;
	case 'u': set_key(t, "util"); break;
	case 'z': set_key(t, "size"); break;
	case 'i': set_key(t, "inuse"); break;
	case 'n': set_key(t, "runs"); break;
	case 'a': set_key(t, "rate"); break;
	case 'f': set_key(t, "frag"); break;
	case 'm': set_key(t, "allocated"); break;
	case KEY_UP: case KEY_DOWN: case KEY_PPAGE: case KEY_NPAGE: case KEY_HOME: {
		int step = ch == KEY_UP ? -1 : ch == KEY_DOWN ? 1 :
		           ch == KEY_PPAGE ? -LINES / 2 : ch == KEY_NPAGE ? LINES / 2 : -1000000;

		int *sel = t->view == VIEW_BINS ? &t->sel : &t->psel;

		*sel += step;             /* the selection moves, the table follows */
		if (*sel < 0)
			*sel = 0;
		break;
	}
	case 12: /* Ctrl-L */ clearok(curscr, TRUE); break;
	default: break;
	}
	return 0;
}

/* -------------------------------------------------------------- stream */

/* Takes one update line: returns 0, or -EPROTO after printing why. */
static int take_update(struct top *t)
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
		restore_terminal();
		u = jm_client_parse(&t->c);
		if (!u)
			return -EPROTO;
	}
	if (!json_is_true(json_object_get(u, "ok"))) {
		const char *msg = jm_str(u, "error");

		if (strncmp(msg, "no such process", 15) == 0 && t->last)
			fprintf(stderr, "jmctl: process %ld is gone: it exited, or jmstatd "
			        "at %s no longer sees it\n", t->pid, t->c.path);
		else if (strncmp(msg, "no such process", 15) == 0)
			fprintf(stderr, "jmctl: %s (jmstatd at %s does not see it: "
			        "`jmctl ps` lists the processes it sees)\n", msg, t->c.path);
		else
			fprintf(stderr, "jmctl: %s: jmstatd ended the subscription: %s\n",
			        t->c.path, msg[0] ? msg : "error without a message");
		int rc = strncmp(msg, "no such process", 15) == 0 ? -ENOENT : -EPROTO;
		json_decref(u);   /* msg points into u */
		return rc;
	}
	json_decref(t->last);
	t->last = u;
	free(t->last_raw);
	t->last_raw = strdup(t->c.line);
	t->last_time = jm_num(u, "time");
	t->last_arrival = mono_s();
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
		while (err == -EINTR && !got_signal);
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
static int stream_start(struct top *t)
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
	while (err == -EINTR && !got_signal);
	if (got_signal)
		return 0;
	if (err) {
		jm_client_report(&t->c, err, "'subscribe'");
		return err;
	}
	return take_update(t);
}

/* Opens process pid from the process view (0: back to every process): a
 * new stream, the bins view of it. What goes wrong is kept off the curses
 * screen and printed once the terminal is restored. */
static int open_process(struct top *t, long pid)
{
	FILE *errs = tmpfile();
	int saved = dup(STDERR_FILENO), err;

	fflush(stderr);
	if (errs && saved >= 0)
		dup2(fileno(errs), STDERR_FILENO);
	jm_client_close(&t->c);
	t->c.fd = -1;
	json_decref(t->sites);
	t->sites = NULL;
	json_decref(t->last);
	t->last = NULL;
	t->hn = t->hhead = 0;
	t->pid = pid;
	t->opened = pid != 0;
	t->view = pid ? VIEW_BINS : VIEW_PROCS;
	t->sel = 0;
	t->scroll = 0;
	err = stream_start(t);
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	if (err) {
		char buf[1024];
		size_t got;

		restore_terminal();
		if (errs) {
			rewind(errs);
			while ((got = fread(buf, 1, sizeof(buf), errs)) > 0)
				fwrite(buf, 1, got, stderr);
		}
	}
	if (errs)
		fclose(errs);
	return err;
}

static int term_width(void)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");

	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (env && atoi(env) > 20)
		return atoi(env);
	return 100;
}

static int start_curses(struct top *t)
{
	if (!isatty(STDIN_FILENO)) {
		fputs("jmctl: top needs a terminal on its input for the live view "
		      "(use `jmctl top -b` for plain text)\n", stderr);
		return -ENOTTY;
	}
	if (!newterm(NULL, stdout, stdin)) {
		fprintf(stderr, "jmctl: cannot use the terminal '%s' (set TERM, "
		        "or use `jmctl top -b` for plain text)\n",
		        getenv("TERM") ? getenv("TERM") : "");
		return -ENOTTY;
	}
	curses_active = true;
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(50);       /* Esc goes back at once, not after a second */
	curs_set(0);
	if (has_colors()) {
		start_color();
		use_default_colors();
		init_pair(PAIR_GOOD, COLOR_GREEN, -1);
		init_pair(PAIR_WARN, COLOR_YELLOW, -1);
		init_pair(PAIR_BAD, COLOR_RED, -1);
		init_pair(PAIR_SPARK, COLOR_CYAN, -1);
	}
	t->curses_on = true;
	return 0;
}

static int parse_top(struct top *t, int argc, char **argv)
{
	const char *sortname = NULL;
	char names[512], *end;
	int c;

	opterr = 0;
	while ((c = getopt(argc, argv, ":p:d:s:bn:r")) != -1) {
		switch (c) {
		case 'p':
			t->pid = jm_parse_pid("top", optarg);
			if (t->pid < 0)
				return -EINVAL;
			break;
		case 'd':
			errno = 0;
			t->delay_s = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(t->delay_s >= 0.1) || t->delay_s > 86400)
				return jm_usage_error("top", "-d wants seconds between 0.1 and 86400, not '%s'", optarg);
			break;
		case 's': sortname = optarg; break;
		case 'b': t->batch = true; break;
		case 'n':
			errno = 0;
			t->nframes = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || t->nframes < 1)
				return jm_usage_error("top", "-n wants a number of frames >= 1, not '%s'", optarg);
			break;
		case 'r': t->reverse = true; break;
		case ':':
			return jm_usage_error("top", "option '-%c' needs an argument", optopt);
		default:
			return jm_usage_error("top", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return jm_usage_error("top", "unexpected argument '%s'", argv[optind]);
	if (sortname) {
		const struct jm_sort_key *k = jm_sort_find(top_bin_keys, sortname);

		if (k) {
			t->view = VIEW_BINS;
			t->key[VIEW_BINS] = (int)(k - top_bin_keys);
		} else if ((k = jm_sort_find(jm_proc_sort_keys, sortname))) {
			t->view = VIEW_PROCS;
			t->key[VIEW_PROCS] = (int)(k - jm_proc_sort_keys);
		} else {
			size_t off;

			jm_sort_names(names, sizeof(names), top_bin_keys);
			off = strlen(names);
			snprintf(names + off, sizeof(names) - off, "; processes: ");
			off = strlen(names);
			jm_sort_names(names + off, sizeof(names) - off, jm_proc_sort_keys);
			return jm_usage_error("top", "unknown sort key '%s' (bins: %s)", sortname, names);
		}
	}
	return 0;
}

int jm_cmd_top(const struct jmctl_opts *o, int argc, char **argv)
{
	struct top *t = calloc(1, sizeof(*t));
	struct frame f = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	double last_draw = -1e9;
	long drawn = 0;
	int err;

	if (!t) {
		fputs("jmctl: out of memory\n", stderr);
		return -ENOMEM;
	}
	t->o = o;
	t->delay_s = 1.0;
	t->key[VIEW_PROCS] = (int)(jm_sort_find(jm_proc_sort_keys, TOP_PROC_DEFAULT_KEY) - jm_proc_sort_keys);
	t->c.fd = -1;
	err = parse_top(t, argc, argv);
	if (err)
		goto out;
	if (!o->tty && !o->json)
		t->batch = true;  /* no terminal to draw on: plain frames, like top -b */

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	atexit(restore_terminal);

	err = stream_start(t);
	if (err || got_signal)
		goto out;
	if (!t->batch && !o->json) {
		err = start_curses(t);
		if (err)
			goto out;
	}

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = t->c.fd, .events = POLLIN },
			{ .fd = STDIN_FILENO, .events = POLLIN },
		};
		bool redraw = false;
		double now = mono_s();

		/* An update drawn when -d seconds (less half an interval, for the
		 * jitter of the stream) have passed since the last frame. */
		if (t->fresh && now - last_draw >= t->delay_s - t->c.interval_ms / 2000.0) {
			t->fresh = false;
			last_draw = now;
			drawn++;
			if (o->json) {
				puts(t->last_raw ? t->last_raw : "");
				fflush(stdout);
			} else if (t->curses_on) {
				draw_curses(t, &f);
			} else {
				print_batch(t, &f, term_width());
			}
			if (t->nframes && drawn >= t->nframes)
				break;
		}
		int r = poll(pfd, t->curses_on ? 2 : 1, t->curses_on ? 1000 : -1);

		if (got_signal)
			break;
		if (r < 0 && errno != EINTR) {
			err = -errno;
			restore_terminal();
			fprintf(stderr, "jmctl: poll: %s\n", strerror(errno));
			break;
		}
		if (r > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			/* Take every complete line that came; keep the newest. */
			for (;;) {
				err = jm_client_read_line(&t->c, 0);
				if (err == -ETIMEDOUT || err == -EINTR) {
					err = 0;
					break;
				}
				if (err)
					break;
				err = take_update(t);
				if (err)
					break;
			}
			if (err == -ECHILD) {
				long gone = t->pid;

				err = open_process(t, 0);
				if (err)
					break;
				snprintf(t->note, sizeof(t->note), "process %ld exited", gone);
				continue;
			}
			if (err) {
				restore_terminal();
				if (err == -EPIPE || err == -ECONNRESET)
					fprintf(stderr, "jmctl: %s: jmstatd closed the connection "
					        "(did it stop? check its log, or `systemctl status jmstatd`)\n",
					        t->c.path);
				else if (err != -EPROTO && err != -ENOENT)
					jm_client_report(&t->c, err, "'subscribe'");
				break;
			}
		}
		if (t->curses_on) {
			int ch;

			while ((ch = getch()) != ERR) {
				if (ch == KEY_RESIZE) {
					redraw = true;
					continue;
				}
				int r2 = handle_key(t, ch);
				if (r2 > 0)
					goto quit;
				if (r2 < 0) {
					err = r2;
					goto quit;
				}
				redraw = true;
			}
			/* Redraw for a key or a resize, and to show a stale stream. */
			if (redraw || mono_s() - t->last_arrival > 3 * t->c.interval_ms / 1000.0 + 1)
				draw_curses(t, &f);
		}
	}
quit:
	restore_terminal();
	if (got_signal && got_signal != SIGINT && got_signal != SIGTERM && got_signal != SIGHUP)
		err = -EINTR;
out:
	restore_terminal();
	if (t->c.fd >= 0)
		jm_client_close(&t->c);
	json_decref(t->last);
	json_decref(t->sites);
	free(t->last_raw);
	free(f.lines);
	free(t);
	return err;
}
