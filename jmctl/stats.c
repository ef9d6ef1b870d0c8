/*
 * stats.c: `jmctl stats PID`, one process in detail.
 *
 * One request, then the reply as it came with --json, else the process's
 * summary, what purging did (sums over its arenas), a table of its arenas
 * and a table of its bins (idle ones hidden without -a), sorted by a bin
 * key (-s, declared here as data, common/sortkeys.h).
 */
#include "jmctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* A column of the arenas or bins table: its title, the JSON value of the
 * row it shows, and how. */
enum form { F_INT, F_BYTES, F_COUNT, F_RATE, F_UTIL };

struct column {
	struct jm_table_col head;
	const char *key;
	enum form form;
};

#define MAX_COLUMNS 16

static const struct column arena_columns[] = {
	{ { "ARENA", JM_RIGHT }, "index", F_INT },
	{ { "THREADS", JM_RIGHT }, "nthreads", F_INT },
	{ { "CHUNKS", JM_RIGHT }, "nchunks", F_INT },
	{ { "MAPPED", JM_RIGHT }, "mapped", F_BYTES },
	{ { "ACTIVE", JM_RIGHT }, "active", F_BYTES },
	{ { "LARGE", JM_RIGHT }, "allocated_large", F_BYTES },
	{ { "HUGE", JM_RIGHT }, "allocated_huge", F_BYTES },
	{ { "DIRTY", JM_RIGHT }, "dirty", F_BYTES },
	{ { "PURGED", JM_RIGHT }, "purged", F_BYTES },
	{ { "MADVISE", JM_RIGHT }, "npurge", F_INT },
	{ { "RETAINED", JM_RIGHT }, "retained", F_BYTES },
};

#define BIN_UTIL_COL 7       /* coloured by fragmentation */
static const struct column bin_columns[] = {
	{ { "BIN", JM_RIGHT }, "bin", F_INT },
	{ { "SIZE", JM_RIGHT }, "size", F_INT },
	{ { "REGS/RUN", JM_RIGHT }, "regs_per_run", F_INT },
	{ { "CURREGS", JM_RIGHT }, "curregs", F_INT },
	{ { "CACHED", JM_RIGHT }, "cached", F_INT },
	{ { "INUSE", JM_RIGHT }, "inuse", F_INT },
	{ { "CURRUNS", JM_RIGHT }, "curruns", F_INT },
	{ { "UTIL", JM_RIGHT }, "util", F_UTIL },
	{ { "WASTED", JM_RIGHT }, "wasted_bytes", F_BYTES },
	{ { "NMALLOC", JM_RIGHT }, "nmalloc", F_COUNT },
	{ { "NDALLOC", JM_RIGHT }, "ndalloc", F_COUNT },
	{ { "NREQUESTS", JM_RIGHT }, "nrequests", F_COUNT },
	{ { "MALLOC/S", JM_RIGHT }, "malloc_rate", F_RATE },
	{ { "REQ/S", JM_RIGHT }, "request_rate", F_RATE },
};

_Static_assert(sizeof(arena_columns) / sizeof(arena_columns[0]) <= MAX_COLUMNS &&
               sizeof(bin_columns) / sizeof(bin_columns[0]) <= MAX_COLUMNS, "MAX_COLUMNS");

/* A table of the columns c[0..n): their titles into heads. */
static void table_init(struct jm_table *t, struct jm_table_col *heads, const struct column *c,
                       int n)
{
	for (int i = 0; i < n; i++)
		heads[i] = c[i].head;
	jm_table_init(t, heads, n);
}

/* The row of object o in the table of the columns c[0..n). */
static void table_add(struct jm_table *t, const struct column *c, int n, const json_t *o)
{
	char buf[MAX_COLUMNS][24];
	const char *cells[MAX_COLUMNS];

	for (int i = 0; i < n; i++) {
		double v = jm_num(o, c[i].key);

		switch (c[i].form) {
		case F_INT:
			snprintf(buf[i], sizeof(buf[i]), "%lld", jm_int(o, c[i].key));
			cells[i] = buf[i];
			break;
		case F_BYTES:
			cells[i] = jm_fmt_bytes(buf[i], sizeof(buf[i]), v);
			break;
		case F_COUNT:
			cells[i] = jm_fmt_count(buf[i], sizeof(buf[i]), v);
			break;
		case F_RATE:
			cells[i] = jm_fmt_rate(buf[i], sizeof(buf[i]), v);
			break;
		case F_UTIL:
			/* A bin without runs has no utilisation: "-", not 100%. */
			if (jm_num(o, "curruns") > 0)
				jm_fmt_pct(buf[i], sizeof(buf[i]), v);
			else
				snprintf(buf[i], sizeof(buf[i]), "-");
			cells[i] = buf[i];
			break;
		}
	}
	jm_table_add(t, cells);
}

static void print_process_summary(const json_t *p)
{
	char a[24], b[24], c[24], d[24], e[24], f[24], g[24], h[24];
	const char *user = jm_str(p, "user");

	char exe[JM_SAFE_EXE], who[JM_SAFE_EXE], path[4 * 4096 + 1];
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
		printf("path %s\n", jm_safe(path, sizeof(path), jm_str(p, "path")));
}

/* What purging did (docs/purging.md): sums over the arenas. */
static void print_purging(const json_t *p)
{
	json_t *arenas = json_object_get(p, "arenas");
	uint64_t purged = 0, retained = 0, npurge = 0, nunmap = 0, nreuse = 0, ncap = 0;
	size_t i;
	json_t *a;
	json_array_foreach(arenas, i, a) {
		jm_count_add(&purged, jm_count(a, "purged"));
		jm_count_add(&retained, jm_count(a, "retained"));
		jm_count_add(&npurge, jm_count(a, "npurge"));
		jm_count_add(&nunmap, jm_count(a, "nunmap"));
		jm_count_add(&nreuse, jm_count(a, "nreuse"));
		jm_count_add(&ncap, jm_count(a, "npurge_cap"));
	}
	char b1[24], b2[24];
	printf("purged %s in %llu madvise calls (%llu forced by the cap)  retained %s  "
	       "reused %llu  unmapped %llu  background purger %s",
	       jm_fmt_bytes(b1, sizeof(b1), (double)purged), (unsigned long long)npurge,
	       (unsigned long long)ncap, jm_fmt_bytes(b2, sizeof(b2), (double)retained),
	       (unsigned long long)nreuse, (unsigned long long)nunmap,
	       json_is_true(json_object_get(p, "bg_running")) ? "running" : "off");
	if (json_is_true(json_object_get(p, "bg_running")))
		printf(" (%lld wake%s)", jm_int(p, "bg_wakes"), jm_int(p, "bg_wakes") == 1 ? "" : "s");
	printf("\n");
}

/* The count line of a table of n rows (shown of them, in_use in use) and
 * the table; frees both. */
static void print_section(const struct jmctl_opts *o, const char *what, size_t in_use, size_t n,
                          size_t shown, bool all, struct jm_table *t, json_t **items)
{
	printf("\n%s: %zu in use of %zu%s\n", what, in_use, n,
	       all || shown == n ? "" : " (-a lists all)");
	jm_table_print(t, stdout, o->color);
	jm_table_free(t);
	free(items);
}

static void print_arenas(const struct jmctl_opts *o, json_t *arenas, bool all)
{
	const int ncols = (int)(sizeof(arena_columns) / sizeof(arena_columns[0]));
	struct jm_table_col heads[MAX_COLUMNS];
	size_t n, shown = 0, in_use = 0;
	json_t **items = jm_array_items(arenas, &n);
	struct jm_table t;

	table_init(&t, heads, arena_columns, ncols);
	for (size_t i = 0; i < n; i++) {
		json_t *a = items[i];
		bool used = jm_num(a, "mapped") != 0 || jm_num(a, "nthreads") != 0;

		in_use += used;
		if (!all && !used)
			continue;
		table_add(&t, arena_columns, ncols, a);
		shown++;
	}
	print_section(o, "arenas", in_use, n, shown, all, &t, items);
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
	const int ncols = (int)(sizeof(bin_columns) / sizeof(bin_columns[0]));
	struct jm_table_col heads[MAX_COLUMNS];
	size_t n, shown = 0, in_use = 0;
	json_t **items = jm_array_items(bins, &n);
	struct jm_table t;

	jm_sort_json(items, n, key, "size", reverse);
	table_init(&t, heads, bin_columns, ncols);
	for (size_t i = 0; i < n; i++) {
		json_t *b = items[i];

		in_use += !bin_idle(b);
		if (!all && bin_idle(b))
			continue;
		table_add(&t, bin_columns, ncols, b);
		if (jm_num(b, "curruns") > 0)
			jm_table_color(&t, t.nrows - 1, BIN_UTIL_COL, jm_frag_color(1.0 - jm_num(b, "util")));
		shown++;
	}
	print_section(o, "bins", in_use, n, shown, all, &t, items);
}

int jm_cmd_stats(const struct jmctl_opts *o, int argc, char **argv)
{
	const struct jm_sort_key *key = &jm_bin_keys[0];
	bool reverse = false, all = false;
	const char *arg = NULL;
	json_t *reply;
	long pid;
	int err;

	err = jm_parse_sort_opts("stats", argc, argv, jm_bin_keys, &key, &reverse, &all, &arg);
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
