/*
 * ps.c: `jmctl ps`, the table of the processes jmstatd reads.
 *
 * One request, then the reply's processes filtered on the client (-u, -e,
 * --container) and sorted (by a process key, common/sortkeys.c): as an
 * aligned table in human units, or with --json as the daemon's reply with
 * its processes filtered and sorted. With -d it asks again every interval
 * on one connection and prints a table each time (watch mode), until -n
 * tables or SIGINT/SIGTERM.
 */
#include "jmctl.h"

#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* A name into a cell of len bytes: cut after its last whole character
 * that fits (not in the middle of one, which the table would show as
 * \xNN). */
static void cut_name(char *b, size_t len, const char *s)
{
	snprintf(b, len, "%.*s", (int)jm_text_fit(s, len - 1, INT_MAX, NULL), s);
}

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
	return jm_print_json(reply);
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
					cut_name(b, len, jm_str(p, "user"));
				else
					snprintf(b, len, "%lld", jm_int(p, "uid"));
				break;
			case PC_EXE: cut_name(b, len, jm_str(p, field)); break;
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
		               jm_frag_color(jm_num(p, "frag_ratio")));
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
