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
			jm_table_color(&t, t.nrows - 1, 7, jm_frag_color(1.0 - jm_num(b, "util")));
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
