/*
 * metrics_sites.c: the allocation-site families of /metrics
 * (jmalloc_site_*), labelled exe, uid and site: the segments of the live
 * processes read once a tick (sites.c), the same stack in several
 * processes of one exe summed as one site, the METRICS_SITES_PER_EXE
 * holding the most estimated live bytes of each exe kept; rendered once a
 * tick into jmd_metrics.sites_text, however many scrapes. An exe is a
 * name and a uid, as for the bins (metrics_exes.c): another user's
 * program of the same name, its sites forged, cannot push a service's
 * sites out of its top.
 */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_SITES_PER_EXE  5      /* site series per exe (docs/metrics.md) */
#define METRICS_SITES_PER_PROC 16     /* sites of each process considered */

/* One site of one exe: the same stack in several of its processes is one. */
struct site_row {
	const char *exe;         /* the process's exe (valid while rendering) */
	uint32_t uid;            /* and its uid: the two name the exe */
	uint64_t scope;          /* and jmd_proc_scope (a container's root's: mntns) */
	uint64_t id;
	uint64_t live_bytes;     /* summed over the exe's processes */
	uint64_t live_objects;
	pid_t pid;               /* the process holding the most of it */
	uint64_t pid_bytes;
	uint32_t nframes;
	uint64_t frames[JMSTAT_SITE_FRAMES];
};

/* The order of exes: name, uid, then scope. */
static int exe_cmp(const struct site_row *x, const struct site_row *y)
{
	int c = strcmp(x->exe, y->exe);
	if (c)
		return c;
	if (x->uid != y->uid)
		return (x->uid > y->uid) - (x->uid < y->uid);
	return (x->scope > y->scope) - (x->scope < y->scope);
}

static int by_exe_id(const void *a, const void *b)
{
	const struct site_row *x = a, *y = b;
	int c = exe_cmp(x, y);
	if (c)
		return c;
	return (x->id > y->id) - (x->id < y->id);
}

static int by_exe_bytes(const void *a, const void *b)
{
	const struct site_row *x = a, *y = b;
	int c = exe_cmp(x, y);
	if (c)
		return c;
	if (x->live_bytes != y->live_bytes)
		return x->live_bytes < y->live_bytes ? 1 : -1;
	return (x->id > y->id) - (x->id < y->id);
}

static void site_labels(struct jmd_text *t, const char *name, const struct site_row *r)
{
	char id[24];
	jmd_text_printf(t, "%s{exe=", name);
	jmd_text_label(t, r->exe);
	jmd_text_printf(t, ",uid=\"%u\"", r->uid);
	if (r->scope)
		jmd_text_printf(t, ",mntns=\"%llu\"", (unsigned long long)r->scope);
	jmd_text_printf(t, ",site=\"%s\"", jmd_site_name(r->id, id, sizeof(id)));
}

/* A family of the rows v[0..n), each row's live objects or live bytes. */
static void live_family(struct jmd_text *t, const char *name, const char *help,
                        const struct site_row *v, size_t n, bool objects)
{
	family(t, name, "gauge", help);
	for (size_t i = 0; i < n; i++) {
		site_labels(t, name, &v[i]);
		jmd_text_puts(t, "}");
		uvalue(t, objects ? v[i].live_objects : v[i].live_bytes);
	}
}

/* The site families into t, from every live process's segment. */
static void sites_build(struct jmd *d, struct jmd_text *t)
{
	size_t n = 0, cap = d->nlive * METRICS_SITES_PER_PROC;
	struct site_row *v = malloc((cap ? cap : 1) * sizeof(*v));
	struct jmd_site top[METRICS_SITES_PER_PROC];
	if (!v) {
		t->failed = true;
		return;
	}
	for (const struct jmd_proc *p = d->live; p && n + METRICS_SITES_PER_PROC <= cap; p = p->next) {
		int k = jmd_sites_top(d, p, NULL, 0, top, METRICS_SITES_PER_PROC, NULL);
		for (int i = 0; i < k; i++) {
			struct site_row *r = &v[n++];
			r->exe = p->exe;
			r->uid = p->uid;
			r->scope = jmd_proc_scope(p);
			r->id = top[i].id;
			r->live_bytes = r->pid_bytes = top[i].live_bytes;
			r->live_objects = top[i].live_objects;
			r->pid = p->pid;
			r->nframes = top[i].nframes;
			memcpy(r->frames, top[i].frames, sizeof(r->frames));
		}
	}
	/* The same stack in processes of one exe: one site. */
	qsort(v, n, sizeof(*v), by_exe_id);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		struct site_row *r = &v[m - (m > 0)];
		if (m > 0 && r->id == v[i].id && exe_cmp(r, &v[i]) == 0 &&
		    r->nframes == v[i].nframes &&
		    memcmp(r->frames, v[i].frames, r->nframes * sizeof(r->frames[0])) == 0) {
			jmd_sum_u64(&r->live_bytes, v[i].live_bytes);
			jmd_sum_u64(&r->live_objects, v[i].live_objects);
			if (v[i].pid_bytes > r->pid_bytes) {
				r->pid = v[i].pid;
				r->pid_bytes = v[i].pid_bytes;
			}
			continue;
		}
		v[m++] = v[i];
	}
	/* The top few of each exe. */
	qsort(v, m, sizeof(*v), by_exe_bytes);
	n = 0;
	for (size_t i = 0, rank = 0; i < m; i++) {
		rank = i > 0 && exe_cmp(&v[i], &v[i - 1]) == 0 ? rank + 1 : 0;
		if (rank < METRICS_SITES_PER_EXE)
			v[n++] = v[i];
	}

	live_family(t, "jmalloc_site_live_bytes",
	            "Estimated bytes live from an allocation site (one call stack of the sampled "
	            "heap profile), summed over the processes of an executable; only the 5 sites "
	            "of each executable holding the most.", v, n, false);
	live_family(t, "jmalloc_site_live_objects",
	            "Estimated objects live from an allocation site (as jmalloc_site_live_bytes).",
	            v, n, true);
	/* No frames here: code addresses of every process would tell anyone
	 * who can reach the port where ASLR put their code. */
	family(t, "jmalloc_site_info", "gauge",
	       "1 for each site listed: the process holding the most of it "
	       "(jmctl sites PID shows the site, symbolized, under the same id).");
	for (size_t i = 0; i < n; i++) {
		site_labels(t, "jmalloc_site_info", &v[i]);
		jmd_text_printf(t, ",pid=\"%d\"} 1\n", (int)v[i].pid);
	}
	free(v);
}

void jmd_metrics_render_sites(struct jmd *d, struct jmd_text *t)
{
	struct jmd_metrics *m = d->metrics;
	if (!m)
		return;
	if (m->sites_tick != d->tick_done || m->sites_text.failed || !m->sites_text.s) {
		m->sites_text.len = 0;
		m->sites_text.failed = false;
		if (m->sites_text.s)
			m->sites_text.s[0] = '\0';
		sites_build(d, &m->sites_text);
		m->sites_tick = d->tick_done;
	}
	if (m->sites_text.failed)
		t->failed = true;
	else if (m->sites_text.s)
		jmd_text_puts(t, m->sites_text.s);
}
