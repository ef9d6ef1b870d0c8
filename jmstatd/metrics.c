/*
 * metrics.c: the Prometheus page (text exposition format 0.0.4) that
 * http.c serves on GET /metrics, rendered from the latest tick's figures.
 *
 * The series, all named jmalloc_*, in base units, counters ending _total,
 * each family with its HELP and TYPE lines (docs/metrics.md):
 * - the daemon's health: jmalloc_up, jmalloc_build_info, sampling time and
 *   errors, segments rejected, the endpoint's own responses;
 * - host totals, without labels (jmalloc_host_*): the totals of
 *   fields.h's JMD_TOTALS_FIELDS with a host series;
 * - per process, labelled pid and exe (jmalloc_process_*): every arena
 *   counter of jmstat.h's JMSTAT_ARENA_COUNTERS, summed over the arenas,
 *   the totals of JMD_TOTALS_FIELDS with a process series (allocated,
 *   wasted, fragmentation) and a few figures of the process itself;
 * - per bin, labelled exe and size (jmalloc_bin_*), summed over the
 *   processes of that exe: every figure of fields.h's JMD_BIN_FIELDS with
 *   a series; only bins ever used are listed;
 * - the allocation sites (jmalloc_site_*), labelled exe and site: only the
 *   METRICS_SITES_PER_EXE sites of each exe holding the most estimated live
 *   bytes, a site being one call stack (raw return addresses, identical in
 *   the processes of an exe only when they share their mappings: forked
 *   workers, or no ASLR); read from the segments once a tick (sites.c),
 *   rendered by metrics_sites.c;
 * - the alerts (alerts.c).
 * A figure's series is named after Prometheus conventions rather than the
 * allocator's field names (nmalloc -> allocations_total, curregs ->
 * regions), each with a help text for operators, one name per figure: in
 * fields.h's rows for the bins and totals, in arena_names below for the
 * arena counters of the segment. The per-bin counters of an exe
 * stay monotonic as its processes come and go through the carry kept by
 * jmd_metrics_tick() (metrics.h).
 */
#include "metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ rendering */

/* Each process's {pid="...",exe="..."}, rendered once per page, with
 * container="ID" and pod="UID" for a process in a container (from its
 * cgroup, labels.c): they add no series, one process being one already,
 * and the per-exe series do not carry them. */
struct proc_row {
	const struct jmd_proc *p;
	char labels[32 + 2 * JMSTAT_EXE_LEN + 128];
};

static int by_pid(const void *a, const void *b)
{
	const struct jmd_proc *pa = ((const struct proc_row *)a)->p;
	const struct jmd_proc *pb = ((const struct proc_row *)b)->p;
	return (pa->pid > pb->pid) - (pa->pid < pb->pid);
}

static int by_exe(const void *a, const void *b)
{
	const struct metrics_exe *ea = *(const struct metrics_exe *const *)a;
	const struct metrics_exe *eb = *(const struct metrics_exe *const *)b;
	int c = strcmp(ea->exe, eb->exe);
	if (c != 0 || ea->other != eb->other)
		return c ? c : (int)ea->other - (int)eb->other;
	if (ea->owner != eb->owner)
		return (ea->owner > eb->owner) - (ea->owner < eb->owner);
	return (ea->scope > eb->scope) - (ea->scope < eb->scope);
}

static void proc_labels(struct jmd_text *t, const char *name, const struct proc_row *r)
{
	jmd_text_puts(t, name);
	jmd_text_puts(t, r->labels);
}

/* The Prometheus name and help of each arena counter of jmstat.h.
 * The segment's field names are the allocator's (nmalloc, curregs, ...);
 * an operator reads these: base units, `_total` for counters, no `n`
 * prefixes. A field of jmstat.h missing here is still exported, under a
 * name generated from its own (prom_name()), and tests/metrics/metrics.test.sh
 * fails until it is given one. A NULL name: not exported (the figure has
 * another series). */
struct prom_field {
	const char *field;
	const char *name;        /* after the family's prefix */
	const char *help;
};

static const struct prom_field arena_names[] = {
	{ "mapped", "mapped_bytes",
	  "Memory the allocator has mapped from the kernel for the process (chunks and huge "
	  "regions), in bytes." },
	{ "active", "active_bytes",
	  "Bytes in pages that hold objects (small runs in use and large regions): what the heap "
	  "occupies." },
	{ "allocated_large", "allocated_large_bytes",
	  "Bytes in large allocations (from a page to a chunk) in use." },
	{ "allocated_huge", "allocated_huge_bytes",
	  "Bytes in huge allocations (over a chunk, mapped directly) in use." },
	{ "dirty", "dirty_bytes",
	  "Bytes of freed pages not yet given back to the kernel (they are purged after the decay "
	  "time)." },
	{ "purged", "purged_bytes_total", "Bytes given back to the kernel by purging dirty pages." },
	{ "npurge", "purges_total", "Purges (madvise calls giving pages back to the kernel)." },
	{ "nmalloc_large", "large_allocations_total", "Large allocations (from a page to a chunk)." },
	{ "ndalloc_large", "large_frees_total", "Frees of large allocations." },
	{ "nmalloc_huge", "huge_allocations_total", "Huge allocations (over a chunk, mapped directly)." },
	{ "ndalloc_huge", "huge_frees_total", "Frees of huge allocations." },
	{ "nchunks", "chunks", "Chunks (2 MiB each) the allocator holds for the process." },
	{ "nthreads", NULL, NULL },      /* jmalloc_process_threads */
	{ "lock_contended", "arena_lock_contentions_total",
	  "Times a thread waited for an arena's lock; a high rate means too few arenas for the "
	  "threads (JMALLOC_CONF narenas)." },
	{ "retained", "retained_bytes",
	  "Address space kept mapped for reuse with nothing resident (purged empty chunks and "
	  "freed huge regions), in bytes." },
	{ "nmap", "maps_total", "Chunks and huge regions mapped from the kernel." },
	{ "nunmap", "unmaps_total", "Chunks and huge regions unmapped (beyond what is kept)." },
	{ "nreuse", "reuses_total",
	  "Chunks and huge regions taken from the kept ones instead of mapped: a high rate "
	  "against maps_total means reuse works." },
	{ "npurge_cap", "cap_purges_total",
	  "Purges forced by the dirty cap rather than by age; a steady rate means the process "
	  "frees faster than the decay lets go." },
};

/* The name and help of a field: from the table, or generated (prefix, the
 * field's name, _bytes for bytes, _total for a counter). false: not exported. */
static bool prom_name(const struct prom_field *tab, size_t ntab, char *buf, size_t len,
                      const char **help, const char *prefix, const char *field,
                      const char *type, const char *unit, const char *text)
{
	for (size_t i = 0; i < ntab; i++) {
		if (strcmp(tab[i].field, field) != 0)
			continue;
		if (!tab[i].name)
			return false;
		snprintf(buf, len, "%s%s", prefix, tab[i].name);
		*help = tab[i].help;
		return true;
	}
	snprintf(buf, len, "%s%s%s%s", prefix, field, strcmp(unit, "bytes") == 0 ? "_bytes" : "",
	         strcmp(type, "counter") == 0 ? "_total" : "");
	*help = text;
	return true;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void render_health(struct jmd *d, struct jmd_text *t)
{
	family(t, "jmalloc_up", "gauge", "1 while jmstatd can read its stats directory; 0 means no process is watched (the log says why).");
	jmd_text_printf(t, "jmalloc_up %d\n", d->scan_failed_logged ? 0 : 1);
	family(t, "jmalloc_build_info", "gauge", "Always 1; the labels give jmstatd's version and the stats-segment layout it reads.");
	jmd_text_printf(t, "jmalloc_build_info{version=\"%s\",layout=\"%u\"} 1\n", JM_VERSION,
	                JMSTAT_VERSION);
	family(t, "jmalloc_segment_read_errors_total", "counter",
	       "Reads of a process's stats segment that gave no sample (each failed read, each "
	       "interval): a steady rate means a segment jmstatd cannot use.");
	jmd_text_puts(t, "jmalloc_segment_read_errors_total");
	uvalue(t, d->seg_read_errors);
	family(t, "jmalloc_segments_rejected_total", "counter",
	       "Segment files skipped as not jmalloc's (garbage, truncated, hostile), one per file; the log names each.");
	jmd_text_puts(t, "jmalloc_segments_rejected_total");
	uvalue(t, d->seg_rejected);
	family(t, "jmalloc_processes_untracked", "gauge",
	       "Processes running with jmalloc that jmstatd does not track: their user had --user-processes tracked already (the log names the uid).");
	jmd_text_puts(t, "jmalloc_processes_untracked");
	uvalue(t, jmd_untracked(d, JMD_UID_ALL));
	family(t, "jmalloc_processes_untracked_total", "counter",
	       "Segment files of live processes left untracked for --user-processes, one each time a file is.");
	jmd_text_puts(t, "jmalloc_processes_untracked_total");
	uvalue(t, d->procs_untracked);
	family(t, "jmalloc_segment_files_untracked", "gauge",
	       "Files under segment names jmstatd neither reads nor shows: their user had --user-processes + 1024 such files tracked already, at the latest rescan (the log names the uid).");
	jmd_text_puts(t, "jmalloc_segment_files_untracked");
	uvalue(t, jmd_files_untracked(d, JMD_UID_ALL));
	family(t, "jmalloc_sample_duration_seconds", "gauge",
	       "How long reading every process's segment took at the latest interval; above the interval, jmstatd falls behind.");
	jmd_text_puts(t, "jmalloc_sample_duration_seconds");
	value(t, d->tick_ms / 1000.0);
	family(t, "jmalloc_sample_interval_seconds", "gauge", "How often jmstatd reads the segments (--interval).");
	jmd_text_puts(t, "jmalloc_sample_interval_seconds");
	value(t, d->opt.interval_ms / 1000.0);
	family(t, "jmalloc_samples_total", "counter", "Intervals sampled since jmstatd started.");
	jmd_text_puts(t, "jmalloc_samples_total");
	uvalue(t, d->tick);
	family(t, "jmalloc_last_sample_time_seconds", "gauge",
	       "When the figures on this page were read (Unix time).");
	jmd_text_printf(t, "jmalloc_last_sample_time_seconds %.3f\n", d->now);
	family(t, "jmalloc_segments", "gauge", "Segment files jmstatd watches (one per process running with jmalloc, plus any it skips).");
	jmd_text_puts(t, "jmalloc_segments");
	uvalue(t, d->nentries);
	family(t, "jmalloc_clients", "gauge", "Clients connected to jmstatd's socket (jmctl and others).");
	jmd_text_puts(t, "jmalloc_clients");
	uvalue(t, d->nclients);
	family(t, "jmalloc_metrics_render_seconds", "gauge",
	       "How long the previous scrape of this page took jmstatd to render.");
	jmd_text_puts(t, "jmalloc_metrics_render_seconds");
	value(t, d->metrics ? d->metrics->render_s : 0.0);
	family(t, "jmalloc_bin_exes", "gauge",
	       "Executables with size-class series on this page (running, or gone for less than 10 minutes).");
	jmd_text_puts(t, "jmalloc_bin_exes");
	uvalue(t, d->metrics ? d->metrics->nexes : 0);
}

static void render_host(struct jmd *d, struct jmd_text *t)
{
	const struct jmd_totals *h = &d->host;
	family(t, "jmalloc_host_processes", "gauge", "Processes running with jmalloc on this host.");
	jmd_text_puts(t, "jmalloc_host_processes");
	uvalue(t, d->nlive);
	/* The totals of fields.h with a host series. */
#define METRICS_HOST(name, type, fold, src, series, prom, help, proc_help)             \
	JMD_IF_HOST_##series(                                                          \
	family(t, "jmalloc_host_" #prom, "gauge", help);                               \
	jmd_text_puts(t, "jmalloc_host_" #prom);                                       \
	METRICS_VALUE_##type(t, JMD_GET(jmd_totals_, fold, h, name));)
	JMD_TOTALS_FIELDS(METRICS_HOST)
#undef METRICS_HOST
}

static void render_processes(struct jmd *d, struct jmd_text *t)
{
	size_t n = 0;
	struct proc_row *v = malloc((d->nlive ? d->nlive : 1) * sizeof(*v));
	if (!v) {
		t->failed = true;
		return;
	}
	for (const struct jmd_proc *p = d->live; p && n < d->nlive; p = p->next) {
		struct proc_row *r = &v[n++];
		r->p = p;
		char exe[2 * JMSTAT_EXE_LEN];
		size_t k = 0;
		for (const char *c = p->exe; *c && k + 2 < sizeof(exe); c++) {
			if (*c == '\\' || *c == '"')
				exe[k++] = '\\';
			exe[k++] = *c;
		}
		exe[k] = '\0';
		int len = snprintf(r->labels, sizeof(r->labels), "{pid=\"%d\",exe=\"%s\"", (int)p->pid, exe);
		if (p->labels.container[0] && len > 0 && (size_t)len < sizeof(r->labels))
			len += snprintf(r->labels + len, sizeof(r->labels) - (size_t)len,
			                ",container=\"%s\"", p->labels.container);
		if (p->labels.pod[0] && len > 0 && (size_t)len < sizeof(r->labels))
			len += snprintf(r->labels + len, sizeof(r->labels) - (size_t)len, ",pod=\"%s\"",
			                p->labels.pod);
		if (len > 0 && (size_t)len < sizeof(r->labels) - 1)
			snprintf(r->labels + len, sizeof(r->labels) - (size_t)len, "}");
	}
	qsort(v, n, sizeof(*v), by_pid);

	char name[96], help[320];
	const char *text;
	/* Every arena counter of jmstat.h, summed over the process's arenas. */
#define METRICS_ARENA(field, type, unit, desc)                                        \
	if (prom_name(arena_names, NELEM(arena_names), name, sizeof(name), &text,      \
	              "jmalloc_process_", #field, #type, #unit, desc)) {               \
		snprintf(help, sizeof(help), "%s", text);                              \
		family(t, name, #type, help);                                          \
		for (size_t i = 0; i < n; i++) {                                       \
			uint64_t sum = 0;                                              \
			for (uint32_t a = 0; a < v[i].p->narenas; a++)                 \
				jmd_sum_u64(&sum, v[i].p->arenas[a].raw.field);        \
			proc_labels(t, name, &v[i]);                                   \
			uvalue(t, sum);                                                \
		}                                                                      \
	}
	JMSTAT_ARENA_COUNTERS(METRICS_ARENA)
#undef METRICS_ARENA

	/* The executable file of each process, resolved: exe is the name it
	 * was started as (a link's name), path what the link points to. */
	family(t, "jmalloc_process_info", "gauge",
	       "1 for each process: exe is the name it was started as (what ps shows), path its "
	       "executable file, resolved.");
	for (size_t i = 0; i < n; i++) {
		jmd_text_printf(t, "jmalloc_process_info{pid=\"%d\",exe=", (int)v[i].p->pid);
		jmd_text_label(t, v[i].p->exe);
		jmd_text_puts(t, ",path=");
		jmd_text_label(t, v[i].p->path);
		if (v[i].p->labels.container[0]) {
			jmd_text_puts(t, ",container=");
			jmd_text_label(t, v[i].p->labels.container);
		}
		if (v[i].p->labels.pod[0]) {
			jmd_text_puts(t, ",pod=");
			jmd_text_label(t, v[i].p->labels.pod);
		}
		if (v[i].p->labels.cgroup[0]) {
			jmd_text_puts(t, ",cgroup=");
			jmd_text_label(t, v[i].p->labels.cgroup);
		}
		jmd_text_puts(t, "} 1\n");
	}
	/* The totals of fields.h with a series per process. */
#define METRICS_PROC(name, type, fold, src, series, prom, host_help, help)             \
	JMD_IF_PROC_##series(                                                          \
	family(t, "jmalloc_process_" #prom, "gauge", help);                            \
	for (size_t i = 0; i < n; i++) {                                               \
		proc_labels(t, "jmalloc_process_" #prom, &v[i]);                       \
		METRICS_VALUE_##type(t, JMD_GET(jmd_totals_, fold, &v[i].p->tot, name)); \
	})
	JMD_TOTALS_FIELDS(METRICS_PROC)
#undef METRICS_PROC
	/* The process's own figures of fields.h with a series. */
#define METRICS_OWN(name, kind, show, value, series, prom, help)                      \
	JMD_IF_SERIES_##series(                                                       \
	family(t, "jmalloc_process_" #prom, #series, help);                           \
	for (size_t i = 0; i < n; i++) {                                              \
		const struct jmd_proc *p = v[i].p;                                    \
		proc_labels(t, "jmalloc_process_" #prom, &v[i]);                      \
		METRICS_OWN_##kind(t, value);                                         \
	})
#define METRICS_OWN_int(t, v)  uvalue((t), (uint64_t)(v))
#define METRICS_OWN_u64(t, v)  uvalue((t), (v))
#define METRICS_OWN_bool(t, v) uvalue((t), (v))
#define METRICS_OWN_time(t, v) jmd_text_printf((t), " %.3f\n", (v))
	JMD_PROC_FIELDS(METRICS_OWN)
#undef METRICS_OWN
	free(v);
}

/* A bin its exe has used: a figure with a series, live or carried, not 0. */
static bool bin_used(const struct metrics_bin *b)
{
	for (unsigned k = 0; k < MC_N; k++)
		if (b->carry[k])
			return true;
#define METRICS_USED(name, type, fold, src, series, ...) \
	JMD_IF_SERIES_##series(JMD_IF_STORED_##fold(if (b->live.name) return true;))
	JMD_BIN_FIELDS(METRICS_USED)
#undef METRICS_USED
	return false;
}

static void bin_labels(struct jmd_text *t, const char *name, const struct metrics_exe *e,
                       const struct metrics_bin *b)
{
	jmd_text_printf(t, "%s{exe=", name);
	jmd_text_label(t, e->exe);
	jmd_text_printf(t, ",uid=\"%u\"", e->owner);
	if (e->scope)
		jmd_text_printf(t, ",mntns=\"%llu\"", (unsigned long long)e->scope);
	jmd_text_printf(t, ",size=\"%u\"}", b->size);
}

static void render_bins(struct jmd *d, struct jmd_text *t)
{
	struct jmd_metrics *m = d->metrics;
	if (!m)
		return;
	const struct metrics_exe **v = malloc((m->nexes ? m->nexes : 1) * sizeof(*v));
	if (!v) {
		t->failed = true;
		return;
	}
	size_t n = 0;
	for (unsigned h = 0; h < METRICS_HASH; h++)
		for (const struct metrics_exe *e = m->exes[h]; e && n < m->nexes; e = e->hnext)
			v[n++] = e;
	qsort(v, n, sizeof(*v), by_exe);

	/* Every bin figure of fields.h with a series, summed over the exe's
	 * processes; a counter includes those of its processes that are gone. */
#define METRICS_BIN(name, type, fold, src, series, prom, help)                        \
	JMD_IF_SERIES_##series(                                                       \
	family(t, "jmalloc_bin_" #prom, #series, help);                               \
	for (size_t i = 0; i < n; i++)                                                \
		for (uint32_t b = 0; b < v[i]->nbins; b++) {                          \
			const struct metrics_bin *mb = &v[i]->bins[b];                \
			if (!bin_used(mb))                                            \
				continue;                                             \
			bin_labels(t, "jmalloc_bin_" #prom, v[i], mb);                \
			METRICS_VALUE_##type(t, METRICS_CARRY_##series(JMD_GET(jmd_bin_, fold, &mb->live, name), \
			                                               mb->carry[MC_##name])); \
		})
	JMD_BIN_FIELDS(METRICS_BIN)
#undef METRICS_BIN
	free(v);
}

/* The page past its health series: the figures of the latest tick. */
static void render_body(struct jmd *d, struct jmd_text *t)
{
	jmd_metrics_tick(d);
	render_host(d, t);
	render_processes(d, t);
	render_bins(d, t);
	jmd_metrics_render_sites(d, t);
	jmd_alerts_metrics(d, t);
}

/* The health series are written for each scrape; the rest of the page
 * changes only at a tick, and with a thousand processes took 0.4-0.7 s
 * of the loop to write (11 MB): scraped in a loop by whoever reaches the
 * port, it kept root's requests waiting seconds. So it is written once
 * per tick, at the first scrape after it, and kept (m->page); each scrape
 * is given a reference to it (*body), not a copy: copying 11 MB twice a
 * scrape was most of a scrape's cost. Without the table (d->metrics NULL)
 * the whole page goes to t and *body is NULL. */
int jmd_metrics_render(struct jmd *d, struct jmd_text *t, struct jmd_blob **body)
{
	struct jmd_metrics *m = d->metrics;
	*body = NULL;
	render_health(d, t);
	if (!m) {
		render_body(d, t);
		return t->failed ? -ENOMEM : 0;
	}
	if (!m->page || m->page_tick != d->tick_done) {
		uint64_t t0 = uv_hrtime();
		jmd_blob_put(m->page);
		m->page = NULL;
		struct jmd_text page = { 0 };
		render_body(d, &page);
		m->render_s = (double)(uv_hrtime() - t0) / 1e9;
		m->page = page.failed ? NULL : jmd_blob_new(page.len);
		if (m->page)
			memcpy(m->page->data, page.s, page.len);
		free(page.s);
		if (!m->page)
			return -ENOMEM;
		m->page_tick = d->tick_done;
	}
	if (t->failed)
		return -ENOMEM;
	m->page->refs++;
	*body = m->page;
	return 0;
}

/* ------------------------------------------------------------ life */

int jmd_metrics_init(struct jmd *d)
{
	if (d->metrics)
		return 0;
	d->metrics = calloc(1, sizeof(*d->metrics));
	return d->metrics ? 0 : -ENOMEM;
}

void jmd_metrics_fini(struct jmd *d)
{
	struct jmd_metrics *m = d->metrics;
	if (!m)
		return;
	if (m->token) {
		explicit_bzero(m->token, strlen(m->token));
		free(m->token);
	}
	for (unsigned h = 0; h < METRICS_HASH; h++) {
		while (m->members[h]) {
			struct metrics_member *mb = m->members[h];
			m->members[h] = mb->hnext;
			jmd_metrics_member_free(mb);
		}
		while (m->exes[h]) {
			struct metrics_exe *e = m->exes[h];
			m->exes[h] = e->hnext;
			free(e->bins);
			free(e);
		}
	}
	free(m->sites_text.s);
	jmd_blob_put(m->page);
	free(m->landing.s);
	free(m);
	d->metrics = NULL;
}
