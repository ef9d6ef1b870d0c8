/*
 * commands.c: the one-shot commands, ps, stats PID and alerts.
 *
 * Each sends one request, then prints the reply: as it came with --json,
 * else as aligned tables in human units. ps is the exception on both
 * counts: it filters (-u, -e) and sorts on the client, and prints the
 * reply's processes filtered and sorted with --json too; with -d it asks
 * again every interval on one connection and prints a table each time. The
 * sort keys of each table are declared once, as data: the process keys in
 * common/sortkeys.c (top.c uses them too), the bin and alert keys here.
 * Under each alert that carries allocation sites, `alerts` prints the
 * sites' innermost frames, symbolized as the calling user (sites.c).
 */
#include "jmctl.h"
#include "symbolize.h"

#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RED    "31"
#define YELLOW "33"
#define GREEN  "32"

const struct jm_sort_key jm_bin_keys[] = {
	{ "size",      "size",         false, false },
	{ "util",      "util",         false, false },
	{ "wasted",    "wasted_bytes", false, true },
	{ "curregs",   "curregs",      false, true },
	{ "inuse",     "inuse",        false, true },
	{ "curruns",   "curruns",      false, true },
	{ "nmalloc",   "nmalloc",      false, true },
	{ "ndalloc",   "ndalloc",      false, true },
	{ "nrequests", "nrequests",    false, true },
	{ "rate",      "request_rate", false, true },
	{ NULL, NULL, false, false }
};

const struct jm_sort_key jm_alert_keys[] = {
	{ "since",     "since",        false, true },
	{ "state",     "state",        true,  false },
	{ "rule",      "rule",         true,  false },
	{ "pid",       "pid",          false, false },
	{ "value",     "value",        false, true },
	{ NULL, NULL, false, false }
};

struct sort_ctx {
	const struct jm_sort_key *key;
	const char *tie;
	bool reverse;
};

static int cmp_field(const json_t *a, const json_t *b, const char *field, bool text)
{
	if (text)
		return strcmp(jm_str(a, field), jm_str(b, field));
	double x = jm_num(a, field), y = jm_num(b, field);
	return (x > y) - (x < y);
}

static int cmp_items(const void *pa, const void *pb, void *arg)
{
	const struct sort_ctx *s = arg;
	const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	int c = cmp_field(a, b, s->key->field, s->key->text);

	if (s->key->desc)
		c = -c;
	if (s->reverse)
		c = -c;
	if (c == 0 && s->tie)
		c = cmp_field(a, b, s->tie, false);
	return c;
}

void jm_sort_json(json_t **items, size_t n, const struct jm_sort_key *k,
                  const char *tie_field, bool reverse)
{
	struct sort_ctx s = { k, tie_field, reverse };

	if (n > 1)
		qsort_r(items, n, sizeof(*items), cmp_items, &s);
}

json_t **jm_array_items(json_t *array, size_t *n)
{
	size_t count = json_is_array(array) ? json_array_size(array) : 0;
	json_t **items = calloc(count + 1, sizeof(*items));

	if (!items) {
		fputs("jmctl: out of memory\n", stderr);
		exit(JMCTL_EXIT_ERROR);
	}
	for (size_t i = 0; i < count; i++)
		items[i] = json_array_get(array, i);
	*n = count;
	return items;
}

/* Parses "-s KEY [-r] [-a]" for a one-shot command. */
static int parse_sort_opts(const char *cmd, int argc, char **argv,
                           const struct jm_sort_key *keys,
                           const struct jm_sort_key **key, bool *reverse,
                           bool *all, const char **operand)
{
	const char *optstring = all ? ":s:ra" : ":s:r";
	char names[256];
	int c;

	opterr = 0;
	while ((c = getopt(argc, argv, optstring)) != -1) {
		switch (c) {
		case 's':
			*key = jm_sort_find(keys, optarg);
			if (!*key)
				return jm_usage_error(cmd, "unknown sort key '%s' (keys: %s)", optarg,
				                      jm_sort_names(names, sizeof(names), keys));
			break;
		case 'r': *reverse = true; break;
		case 'a': *all = true; break;
		case ':':
			return jm_usage_error(cmd, "option '-%c' needs an argument", optopt);
		default:
			return jm_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (operand) {
		if (optind >= argc)
			return jm_usage_error(cmd, "missing the process id");
		*operand = argv[optind++];
	}
	if (optind < argc)
		return jm_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	return 0;
}

static const char *frag_color(double frag)
{
	return frag >= 0.5 ? RED : frag >= 0.25 ? YELLOW : NULL;
}

/* ------------------------------------------------------------------ ps */

/* The table's columns: always the first nine; the column of the sort key
 * is added when it is not one of them (-s dirty, -s wasted), so that the
 * order is visible. */
enum ps_col { PC_PID, PC_USER, PC_EXE, PC_ALLOCATED, PC_ACTIVE, PC_MAPPED, PC_FRAG, PC_RATE,
              PC_AGE, PC_DIRTY, PC_WASTED, PC_CONTAINER, PC_N };

static const struct {
	struct jm_table_col col;
	const char *field;       /* the process field it shows */
} ps_cols[PC_N] = {
	[PC_PID] = { { "PID", JM_RIGHT }, "pid" },
	[PC_USER] = { { "USER", JM_LEFT }, "user" },
	[PC_EXE] = { { "EXE", JM_LEFT }, "exe" },
	[PC_ALLOCATED] = { { "ALLOCATED", JM_RIGHT }, "allocated" },
	[PC_ACTIVE] = { { "ACTIVE", JM_RIGHT }, "active" },
	[PC_MAPPED] = { { "MAPPED", JM_RIGHT }, "mapped" },
	[PC_FRAG] = { { "FRAG", JM_RIGHT }, "frag_ratio" },
	[PC_RATE] = { { "ALLOC/S", JM_RIGHT }, "alloc_rate" },
	[PC_AGE] = { { "AGE", JM_RIGHT }, "age" },
	[PC_DIRTY] = { { "DIRTY", JM_RIGHT }, "dirty" },
	[PC_WASTED] = { { "WASTED", JM_RIGHT }, "small_wasted" },
	[PC_CONTAINER] = { { "CONTAINER", JM_LEFT }, "container" },
};
#define PS_CONTAINER_LEN 12      /* the short id, as docker ps shows it */
#define PS_BASE_COLS PC_DIRTY

struct ps_opts {
	const struct jm_sort_key *key;
	bool reverse;
	const char *user;        /* -u: a user name or uid; NULL: everyone's */
	const char *exe;         /* -e: an exe name or glob pattern; NULL: any */
	const char *container;   /* --container: a container id or its prefix */
	double delay;            /* -d: seconds between tables; 0: one table */
	long count;              /* -n: tables to print; 0: until interrupted */
};

static int parse_ps_opts(int argc, char **argv, struct ps_opts *po)
{
	char names[256], *end;
	int c;

	static const struct option longopts[] = {
		{ "container", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:ru:e:d:n:", longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			if (!optarg[0] || strspn(optarg, "0123456789abcdef") != strlen(optarg))
				return jm_usage_error("ps", "--container: '%s' is not a container id (hex "
				                      "digits, or the first of them)", optarg);
			po->container = optarg;
			break;
		case 's':
			po->key = jm_sort_find(jm_proc_sort_keys, optarg);
			if (!po->key)
				return jm_usage_error("ps", "unknown sort key '%s' (keys: %s)", optarg,
				                      jm_sort_names(names, sizeof(names), jm_proc_sort_keys));
			break;
		case 'r': po->reverse = true; break;
		case 'u': po->user = optarg; break;
		case 'e': po->exe = optarg; break;
		case 'd':
			errno = 0;
			po->delay = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(po->delay >= 0.1 && po->delay <= 86400))
				return jm_usage_error("ps", "-d: '%s' is not a number of seconds from 0.1 to 86400",
				                      optarg);
			break;
		case 'n':
			errno = 0;
			po->count = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || po->count < 1)
				return jm_usage_error("ps", "-n: '%s' is not a positive number", optarg);
			break;
		case ':':
			if (optopt == 'C')
				return jm_usage_error("ps", "option '--container' needs an argument");
			return jm_usage_error("ps", "option '-%c' needs an argument", optopt);
		default:
			return jm_usage_error("ps", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return jm_usage_error("ps", "unexpected argument '%s'", argv[optind]);
	if (po->count && !po->delay)
		return jm_usage_error("ps", "-n needs -d (a table every SECS seconds)");
	return 0;
}

/* Whether process p passes -u and -e. */
static bool ps_match(const json_t *p, const struct ps_opts *po)
{
	if (po->user) {
		char uid[24];

		snprintf(uid, sizeof(uid), "%lld", jm_int(p, "uid"));
		if (strcmp(po->user, jm_str(p, "user")) != 0 && strcmp(po->user, uid) != 0)
			return false;
	}
	if (po->exe && fnmatch(po->exe, jm_str(p, "exe"), 0) != 0)
		return false;
	if (po->container && strncmp(jm_str(p, "container"), po->container, strlen(po->container)) != 0)
		return false;
	return true;
}

/* The reply's processes that pass the filters, sorted; *n their count. */
static json_t **ps_select(json_t *reply, const struct ps_opts *po, size_t *n)
{
	size_t all, k = 0;
	json_t **procs = jm_array_items(json_object_get(reply, "processes"), &all);

	for (size_t i = 0; i < all; i++)
		if (ps_match(procs[i], po))
			procs[k++] = procs[i];
	procs[k] = NULL;
	*n = k;
	jm_sort_json(procs, k, po->key, "pid", po->reverse);
	return procs;
}

/* --json: the daemon's reply with its processes filtered and in the
 * order asked, on one line (the other fields as they came). */
static int ps_print_json(json_t *reply, json_t **procs, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append(arr, procs[i]);
	json_object_set_new(reply, "processes", arr);
	if (json_dumpf(reply, stdout, JSON_COMPACT) != 0)
		return -EIO;
	fputc('\n', stdout);
	return 0;
}

static void ps_print_table(const struct jmctl_opts *o, const struct ps_opts *po,
                           json_t **procs, size_t n)
{
	struct jm_table_col cols[PC_N];
	enum ps_col shown[PC_N];
	int ncols = 0;
	struct jm_table t;
	bool containers = false;

	for (size_t i = 0; i < n && !containers; i++)
		containers = jm_str(procs[i], "container")[0] != '\0';
	for (int c = 0; c < PC_N; c++) {
		if (c == PC_EXE && containers) {    /* after EXE: where it runs */
			shown[ncols] = PC_CONTAINER;
			cols[ncols++] = ps_cols[PC_CONTAINER].col;
		}
		if (c == PC_CONTAINER)
			continue;
		if (c < PS_BASE_COLS || strcmp(ps_cols[c].field, po->key->field) == 0) {
			shown[ncols] = (enum ps_col)c;
			cols[ncols++] = ps_cols[c].col;
		}
	}
	jm_table_init(&t, cols, ncols);
	for (size_t i = 0; i < n; i++) {
		json_t *p = procs[i];
		char cell[PC_N][32];
		const char *cells[PC_N];

		for (int k = 0; k < ncols; k++) {
			char *b = cell[k];
			size_t len = sizeof(cell[k]);
			const char *field = ps_cols[shown[k]].field;

			switch (shown[k]) {
			case PC_PID: snprintf(b, len, "%lld", jm_int(p, field)); break;
			case PC_USER:
				if (jm_str(p, "user")[0])
					snprintf(b, len, "%s", jm_str(p, "user"));
				else
					snprintf(b, len, "%lld", jm_int(p, "uid"));
				break;
			case PC_EXE: snprintf(b, len, "%s", jm_str(p, field)); break;
			case PC_CONTAINER:
				snprintf(b, len, "%.*s", PS_CONTAINER_LEN,
				         jm_str(p, field)[0] ? jm_str(p, field) : "-");
				break;
			case PC_FRAG: jm_fmt_pct(b, len, jm_num(p, field)); break;
			case PC_RATE: jm_fmt_rate(b, len, jm_num(p, field)); break;
			case PC_AGE: jm_fmt_age(b, len, jm_num(p, field)); break;
			default: jm_fmt_bytes(b, len, jm_num(p, field)); break;
			}
			cells[k] = b;
		}
		jm_table_add(&t, cells);
		jm_table_color(&t, t.nrows - 1, containers ? PC_FRAG + 1 : PC_FRAG,
		               frag_color(jm_num(p, "frag_ratio")));
	}
	jm_table_print(&t, stdout, o->color);
	jm_table_free(&t);
}

/* What the table asks the daemon for: what it shows, filters and sorts by
 * (a thousand processes' full reply took more time to parse than all the
 * rest). --json asks for everything. */
static json_t *ps_request(const struct jmctl_opts *o, const struct ps_opts *po)
{
	json_t *req = json_pack("{s:s}", "cmd", "ps");

	if (!o->json)
		json_object_set_new(req, "fields",
		                    json_pack("[ssssssssssss]", "pid", "uid", "user", "exe", "container",
		                              "allocated", "active", "mapped", "frag_ratio", "alloc_rate",
		                              "age", po->key->field));
	return req;
}

/* One table (or JSON line) from a reply. */
static int ps_print(const struct jmctl_opts *o, const struct ps_opts *po, json_t *reply,
                    bool header)
{
	size_t n;
	json_t **procs = ps_select(reply, po, &n);
	int err = 0;

	if (o->json) {
		err = ps_print_json(reply, procs, n);
	} else {
		if (header) {
			char when[32];
			time_t now = (time_t)jm_num(reply, "time");
			struct tm tm;

			if (now <= 0)
				now = time(NULL);
			localtime_r(&now, &tm);
			strftime(when, sizeof(when), "%H:%M:%S", &tm);
			printf("jmctl ps - %s, %zu process%s%s%s%s%s, sorted by %s%s\n", when, n,
			       n == 1 ? "" : "es", po->user ? " of user " : "", po->user ? po->user : "",
			       po->exe ? " matching " : "", po->exe ? po->exe : "", po->key->name,
			       po->reverse ? " (reversed)" : "");
		}
		ps_print_table(o, po, procs, n);
		if (n == 0 && o->tty && !header && !po->user && !po->exe)
			printf("(no process runs with jmalloc, or none of yours: start one with "
			       "LD_PRELOAD=/path/to/libjmalloc.so)\n");
	}
	free(procs);
	return err;
}

static volatile sig_atomic_t ps_interrupted;

static void ps_on_signal(int sig)
{
	(void)sig;
	ps_interrupted = 1;
}

/* -d SECS: a table per interval on one connection (a new one each time
 * from PS_WATCH_RECONNECT_S up), as `top -b` prints frames, until -n
 * tables or SIGINT/SIGTERM. */
#define PS_WATCH_RECONNECT_S 1.0
static int ps_watch(const struct jmctl_opts *o, const struct ps_opts *po)
{
	struct jm_client c;
	struct sigaction sa = { .sa_handler = ps_on_signal };
	int err = jm_client_open(&c, o->socket);

	if (err)
		return err;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (long i = 0; !ps_interrupted && (po->count == 0 || i < po->count); i++) {
		json_t *reply, *req = ps_request(o, po);

		if (i > 0) {
			struct timespec ts = { (time_t)po->delay,
			                       (long)((po->delay - (double)(time_t)po->delay) * 1e9) };
			while (nanosleep(&ts, &ts) != 0 && !ps_interrupted)
				;
			if (ps_interrupted)
				break;
		}
		/* jmstatd closes a client that asks nothing for a while (10 s by
		 * default, --client-idle): a long interval asks on a new
		 * connection each time. */
		if (i > 0 && po->delay >= PS_WATCH_RECONNECT_S) {
			jm_client_close(&c);
			err = jm_client_open(&c, o->socket);
			if (err) {
				json_decref(req);
				return err;
			}
		}
		err = jm_client_call(&c, req, &reply, false);
		json_decref(req);
		if (err)
			break;
		if (i > 0 && !o->json)
			putchar('\n');
		err = ps_print(o, po, reply, true);
		json_decref(reply);
		if (err || fflush(stdout) != 0)
			break;
	}
	jm_client_close(&c);
	return err;
}

int jm_cmd_ps(const struct jmctl_opts *o, int argc, char **argv)
{
	struct ps_opts po = { .key = &jm_proc_sort_keys[0] };
	json_t *reply;
	int err;

	err = parse_ps_opts(argc, argv, &po);
	if (err)
		return err;
	if (po.delay > 0)
		return ps_watch(o, &po);
	err = jm_client_request(o->socket, ps_request(o, &po), &reply, false);
	if (err)
		return err;
	err = ps_print(o, &po, reply, false);
	json_decref(reply);
	return err;
}

/* --------------------------------------------------------------- stats */

static const struct jm_table_col arena_cols[] = {
	{ "ARENA", JM_RIGHT }, { "THREADS", JM_RIGHT }, { "CHUNKS", JM_RIGHT },
	{ "MAPPED", JM_RIGHT }, { "ACTIVE", JM_RIGHT }, { "LARGE", JM_RIGHT }, { "HUGE", JM_RIGHT }, { "DIRTY", JM_RIGHT },
	{ "PURGED", JM_RIGHT }, { "MADVISE", JM_RIGHT }, { "RETAINED", JM_RIGHT },
};

static const struct jm_table_col bin_cols[] = {
	{ "BIN", JM_RIGHT }, { "SIZE", JM_RIGHT }, { "REGS/RUN", JM_RIGHT },
	{ "CURREGS", JM_RIGHT }, { "CACHED", JM_RIGHT }, { "INUSE", JM_RIGHT }, { "CURRUNS", JM_RIGHT },
	{ "UTIL", JM_RIGHT }, { "WASTED", JM_RIGHT }, { "NMALLOC", JM_RIGHT },
	{ "NDALLOC", JM_RIGHT }, { "NREQUESTS", JM_RIGHT }, { "MALLOC/S", JM_RIGHT },
	{ "REQ/S", JM_RIGHT },
};

static void print_process_summary(const json_t *p)
{
	char a[24], b[24], c[24], d[24], e[24], f[24], g[24], h[24];
	const char *user = jm_str(p, "user");

	char exe[JM_SAFE_EXE], who[JM_SAFE_EXE];
	printf("process %lld (%s)  user %s  threads %lld  arenas %lld  age %s\n",
	       jm_int(p, "pid"), jm_safe(exe, sizeof(exe), jm_str(p, "exe")),
	       jm_safe(who, sizeof(who), user[0] ? user : "?"),
	       jm_int(p, "nthreads"), jm_int(p, "narenas"),
	       jm_fmt_age(a, sizeof(a), jm_num(p, "age")));
	printf("allocated %s  active %s  mapped %s  dirty %s\n",
	       jm_fmt_bytes(b, sizeof(b), jm_num(p, "allocated")),
	       jm_fmt_bytes(c, sizeof(c), jm_num(p, "active")),
	       jm_fmt_bytes(d, sizeof(d), jm_num(p, "mapped")),
	       jm_fmt_bytes(e, sizeof(e), jm_num(p, "dirty")));
	printf("fragmentation %s  wasted in small runs %s  allocations/s %s  frees/s %s\n",
	       jm_fmt_pct(f, sizeof(f), jm_num(p, "frag_ratio")),
	       jm_fmt_bytes(g, sizeof(g), jm_num(p, "small_wasted")),
	       jm_fmt_rate(h, sizeof(h), jm_num(p, "alloc_rate")),
	       jm_fmt_rate(a, sizeof(a), jm_num(p, "free_rate")));
	if (jm_str(p, "path")[0])
		printf("path %s\n", jm_str(p, "path"));
}

/* What purging did (docs/purging.md): sums over the arenas. */
static void print_purging(const json_t *p)
{
	json_t *arenas = json_object_get(p, "arenas");
	double purged = 0, retained = 0, npurge = 0, nunmap = 0, nreuse = 0, ncap = 0;
	size_t i;
	json_t *a;
	json_array_foreach(arenas, i, a) {
		purged += jm_num(a, "purged");
		retained += jm_num(a, "retained");
		npurge += jm_num(a, "npurge");
		nunmap += jm_num(a, "nunmap");
		nreuse += jm_num(a, "nreuse");
		ncap += jm_num(a, "npurge_cap");
	}
	char b1[24], b2[24];
	printf("purged %s in %.0f madvise calls (%.0f forced by the cap)  retained %s  "
	       "reused %.0f  unmapped %.0f  background purger %s",
	       jm_fmt_bytes(b1, sizeof(b1), purged), npurge, ncap,
	       jm_fmt_bytes(b2, sizeof(b2), retained), nreuse, nunmap,
	       json_is_true(json_object_get(p, "bg_running")) ? "running" : "off");
	if (json_is_true(json_object_get(p, "bg_running")))
		printf(" (%lld wake%s)", jm_int(p, "bg_wakes"), jm_int(p, "bg_wakes") == 1 ? "" : "s");
	printf("\n");
}

static void print_arenas(const struct jmctl_opts *o, json_t *arenas, bool all)
{
	size_t n, shown = 0, in_use = 0;
	json_t **items = jm_array_items(arenas, &n);
	struct jm_table t;

	jm_table_init(&t, arena_cols, (int)(sizeof(arena_cols) / sizeof(arena_cols[0])));
	for (size_t i = 0; i < n; i++) {
		json_t *a = items[i];
		char idx[24], th[24], ch[24], m[24], ac[24], l[24], h[24], d[24], p[24], np[24], r[24];
		bool used = jm_num(a, "mapped") != 0 || jm_num(a, "nthreads") != 0;

		in_use += used;
		if (!all && !used)
			continue;
		snprintf(idx, sizeof(idx), "%lld", jm_int(a, "index"));
		snprintf(th, sizeof(th), "%lld", jm_int(a, "nthreads"));
		snprintf(ch, sizeof(ch), "%lld", jm_int(a, "nchunks"));
		snprintf(np, sizeof(np), "%lld", jm_int(a, "npurge"));
		const char *cells[] = {
			idx, th, ch,
			jm_fmt_bytes(m, sizeof(m), jm_num(a, "mapped")),
			jm_fmt_bytes(ac, sizeof(ac), jm_num(a, "active")),
			jm_fmt_bytes(l, sizeof(l), jm_num(a, "allocated_large")),
			jm_fmt_bytes(h, sizeof(h), jm_num(a, "allocated_huge")),
			jm_fmt_bytes(d, sizeof(d), jm_num(a, "dirty")),
			jm_fmt_bytes(p, sizeof(p), jm_num(a, "purged")),
			np,
			jm_fmt_bytes(r, sizeof(r), jm_num(a, "retained")),
		};
		jm_table_add(&t, cells);
		shown++;
	}
	printf("\narenas: %zu in use of %zu%s\n", in_use, n,
	       all || shown == n ? "" : " (-a lists all)");
	jm_table_print(&t, stdout, o->color);
	jm_table_free(&t);
	free(items);
}

/* A bin that never served an allocation and holds nothing is idle. */
static bool bin_idle(const json_t *b)
{
	return jm_num(b, "nmalloc") == 0 && jm_num(b, "curruns") == 0 &&
	       jm_num(b, "nrequests") == 0 && jm_num(b, "curregs") == 0 &&
	       jm_num(b, "inuse") == 0;
}

static void print_bins(const struct jmctl_opts *o, json_t *bins, bool all,
                       const struct jm_sort_key *key, bool reverse)
{
	size_t n, shown = 0, in_use = 0;
	json_t **items = jm_array_items(bins, &n);
	struct jm_table t;

	jm_sort_json(items, n, key, "size", reverse);
	jm_table_init(&t, bin_cols, (int)(sizeof(bin_cols) / sizeof(bin_cols[0])));
	for (size_t i = 0; i < n; i++) {
		json_t *b = items[i];
		char bi[24], sz[24], rpr[24], cr[24], ca[24], iu[24], cu[24], ut[24], wa[24],
		     nm[24], nd[24], nr[24], mr[24], rr[24];

		in_use += !bin_idle(b);
		if (!all && bin_idle(b))
			continue;
		snprintf(bi, sizeof(bi), "%lld", jm_int(b, "bin"));
		snprintf(sz, sizeof(sz), "%lld", jm_int(b, "size"));
		snprintf(rpr, sizeof(rpr), "%lld", jm_int(b, "regs_per_run"));
		snprintf(cr, sizeof(cr), "%lld", jm_int(b, "curregs"));
		snprintf(ca, sizeof(ca), "%lld", jm_int(b, "cached"));
		snprintf(iu, sizeof(iu), "%lld", jm_int(b, "inuse"));
		snprintf(cu, sizeof(cu), "%lld", jm_int(b, "curruns"));
		/* A bin without runs has no utilisation: "-", not 100%. */
		if (jm_num(b, "curruns") > 0)
			jm_fmt_pct(ut, sizeof(ut), jm_num(b, "util"));
		else
			snprintf(ut, sizeof(ut), "-");
		const char *cells[] = {
			bi, sz, rpr, cr, ca, iu, cu, ut,
			jm_fmt_bytes(wa, sizeof(wa), jm_num(b, "wasted_bytes")),
			jm_fmt_count(nm, sizeof(nm), jm_num(b, "nmalloc")),
			jm_fmt_count(nd, sizeof(nd), jm_num(b, "ndalloc")),
			jm_fmt_count(nr, sizeof(nr), jm_num(b, "nrequests")),
			jm_fmt_rate(mr, sizeof(mr), jm_num(b, "malloc_rate")),
			jm_fmt_rate(rr, sizeof(rr), jm_num(b, "request_rate")),
		};
		jm_table_add(&t, cells);
		if (jm_num(b, "curruns") > 0)
			jm_table_color(&t, t.nrows - 1, 7, frag_color(1.0 - jm_num(b, "util")));
		shown++;
	}
	printf("\nbins: %zu in use of %zu%s\n", in_use, n,
	       all || shown == n ? "" : " (-a lists all)");
	jm_table_print(&t, stdout, o->color);
	jm_table_free(&t);
	free(items);
}

int jm_cmd_stats(const struct jmctl_opts *o, int argc, char **argv)
{
	const struct jm_sort_key *key = &jm_bin_keys[0];
	bool reverse = false, all = false;
	const char *arg = NULL;
	json_t *reply;
	long pid;
	int err;

	err = parse_sort_opts("stats", argc, argv, jm_bin_keys, &key, &reverse, &all, &arg);
	if (err)
		return err;
	pid = jm_parse_pid("stats", arg);
	if (pid < 0)
		return -EINVAL;
	err = jm_client_request(o->socket, json_pack("{s:s,s:I}", "cmd", "stats", "pid", (json_int_t)pid), &reply, o->json);
	if (err || !reply)
		return err;
	print_process_summary(reply);
	print_purging(reply);
	print_arenas(o, json_object_get(reply, "arenas"), all);
	print_bins(o, json_object_get(reply, "bins"), all, key, reverse);
	json_decref(reply);
	return 0;
}

/* -------------------------------------------------------------- alerts */

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
		if (warn[0])
			fprintf(stderr, "jmctl: alert %lld: %s\n", jm_int(a, "id"), warn);
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

	err = parse_sort_opts("alerts", argc, argv, jm_alert_keys, &key, &reverse, NULL, NULL);
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
		               strcmp(state, "firing") == 0 ? RED :
		               strcmp(state, "pending") == 0 ? YELLOW : GREEN);
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
