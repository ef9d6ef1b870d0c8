/*
 * sites_cmd.c: the `sites` command: the sampled heap profile of one
 * process (docs/sites.md), read from its segment on request through
 * sites.c (jmd_site_segment, as alerts and /metrics read it), the sites by
 * live bytes with their estimates bounded (jmd_sites_bound), raw return
 * addresses for the client to symbolize; cut to what the client may still
 * have unread (jmd_client_room).
 */
#include "commands.h"
#include "pprof.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The sampled heap profile of one process (docs/sites.md), raw: return
 * addresses as the process recorded them, for the client to symbolize as
 * itself (the daemon never opens a program's ELF files). The site table is
 * read from the segment on request, not kept per tick. */

/* The most one site takes in a reply: its frames as hex strings, every
 * size class with bytes, its figures and keys; and the rest of a reply. */
#define SITE_JSON_MAX   (JMSTAT_SITE_FRAMES * 22 + (JMSTAT_NBINS + 1) * 48 + 256)
#define SITE_REPLY_BASE 4096u

struct site_ref {
	const struct jmstat_site *row;
	const uint64_t *bins;    /* [nbins + 1] */
};

static int by_live_bytes(const void *a, const void *b)
{
	const struct jmstat_site *x = ((const struct site_ref *)a)->row;
	const struct jmstat_site *y = ((const struct site_ref *)b)->row;
	if (x->live_bytes != y->live_bytes)
		return x->live_bytes < y->live_bytes ? 1 : -1;
	return (x->alloc_bytes < y->alloc_bytes) - (x->alloc_bytes > y->alloc_bytes);
}

/* A site of the sites reply: its estimates bounded by factor (per class,
 * jmd_sites_bound), with "bounded" true when one was brought down, and
 * "error_bytes" one standard error of its live_bytes. */
static json_t *site_json(const struct jm_seg *seg, const struct site_ref *r, const double *factor)
{
	json_t *o = json_object(), *frames = json_array(), *bins = json_array();
	char hex[24];
	for (uint32_t f = 0; f < r->row->nframes; f++) {
		snprintf(hex, sizeof(hex), "0x%" PRIx64, r->row->frames[f]);
		json_array_append_new(frames, json_string(hex));
	}
	set(o, "frames", frames);
	set(o, "id", json_string(jmd_site_name(jmd_site_id(r->row->frames, r->row->nframes),
	                                       hex, sizeof(hex))));
	uint64_t live = 0;
	bool bounded = false;
	for (uint32_t b = 0; b <= seg->hdr.nbins; b++) {
		live += (uint64_t)((double)r->bins[b] * factor[b]);
		bounded |= r->bins[b] && factor[b] < 1.0;
	}
	double err = jmd_site_error((double)r->row->live_bytes, r->row->samples_live,
	                            seg->hdr.sample_bytes);
	set(o, "live_bytes", jint(live));
	set(o, "error_bytes", jint(r->row->live_bytes ?
	                           (uint64_t)(err * (double)live / (double)r->row->live_bytes) : 0));
	set(o, "bounded", json_boolean(bounded));
	if (bounded)
		set(o, "estimated_bytes", jint(r->row->live_bytes));
	set(o, "live_objects", jint(r->row->live_objects));
	set(o, "alloc_bytes", jint(r->row->alloc_bytes));
	set(o, "alloc_objects", jint(r->row->alloc_objects));
	set(o, "samples", jint(r->row->samples_live));
	/* Only the classes holding something; size 0 is large and huge. */
	for (uint32_t b = 0; b <= seg->hdr.nbins; b++) {
		if (r->bins[b] == 0)
			continue;
		json_t *e = json_object();
		set(e, "size", jint(b < seg->hdr.nbins ? seg->classes[b].size : 0));
		set(e, "live_bytes", jint((uint64_t)((double)r->bins[b] * factor[b])));
		json_array_append_new(bins, e);
	}
	set(o, "bins", bins);
	return o;
}

json_t *jmd_cmd_sites(struct jmd *d, uid_t uid, struct jmd_client *c, json_t *req)
{
	pid_t pid;
	int rc = jmd_arg_pid(req, &pid);
	if (rc != 0)
		return jmd_pid_error(d, rc);
	uint64_t limit = UINT64_MAX;
	json_t *n = json_object_get(req, "n");
	if (n && !json_is_null(n)) {
		if (!json_is_integer(n) || json_integer_value(n) <= 0)
			return jmd_error(d, "invalid 'n': expected a positive integer");
		limit = (uint64_t)json_integer_value(n);
	}
	struct jmd_proc *p = jmd_proc_find(d, pid, uid);
	if (!p)
		return jmd_error(d, "no such process: %d", (int)pid);

	/* Read through sites.c, which shows the file only if it is still the
	 * process this viewer was allowed to see. */
	struct jm_seg seg;
	int seg_err;
	rc = jmd_site_segment(d, p, &seg, &seg_err);
	if (rc == -ESRCH)
		return jmd_error(d, "no such process: %d", (int)pid);
	if (rc != 0)
		return jmd_error(d, "cannot read the segment of process %d: %s", (int)pid,
		                 seg_err ? jm_seg_strerror(seg_err) : strerror(-rc));

	struct site_ref *refs = malloc((seg.nsites ? seg.nsites : 1) * sizeof(*refs));
	if (!refs) {
		jm_seg_free(&seg);
		return jmd_error(d, "out of memory");
	}
	size_t nrefs = 0;
	for (uint32_t i = 0; i < seg.nsites; i++) {
		if (seg.sites[i].nframes == 0)
			continue;
		refs[nrefs].row = &seg.sites[i];
		refs[nrefs].bins = &seg.site_bins[(size_t)i * (seg.hdr.nbins + 1)];
		nrefs++;
	}
	qsort(refs, nrefs, sizeof(*refs), by_live_bytes);
	/* Bounded before it is built: the sites that fit what the client may
	 * still have unread (jmd_client_room), at their largest; none fit
	 * while its earlier replies wait. */
	size_t room = jmd_client_room(c);
	uint64_t fit = room > SITE_REPLY_BASE ? (room - SITE_REPLY_BASE) / SITE_JSON_MAX : 0;
	if (fit == 0) {
		free(refs);
		jm_seg_free(&seg);
		return jmd_error(d, "busy: read your earlier replies first (%u bytes unread at most)",
		                 JMD_MAX_OUTPUT);
	}
	if (limit > fit)
		limit = fit;
	json_t *o = reply_ok(d);
	set(o, "pid", json_integer(pid));
	set(o, "exe", json_string(p->exe));
	set(o, "sample_bytes", jint(seg.hdr.sample_bytes));
	set(o, "sites_dropped", jint(seg.hdr.sites_dropped));
	set(o, "nsites", jint(nrefs));
	double factor[JMSTAT_NBINS + 1];
	for (uint32_t b = 0; b <= JMSTAT_NBINS; b++)
		factor[b] = 1.0;
	if (seg.hdr.nbins <= JMSTAT_NBINS)
		jmd_sites_bound(p, &seg, factor);
	json_t *arr = json_array();
	for (size_t i = 0; i < nrefs && i < limit; i++)
		json_array_append_new(arr, site_json(&seg, &refs[i], factor));
	set(o, "sites", arr);
	/* The modules the frames are in (the segment's module table): where
	 * each executable segment is, its file and build-id, for a client that
	 * writes the profile in pprof's format. */
	json_t *mods = json_array();
	char hex[24];
	for (uint32_t i = 0; i < seg.nmodules; i++) {
		const struct jmstat_module *m = &seg.modules[i];
		char id[2 * JMSTAT_BUILD_ID_MAX + 1];
		json_t *mo = json_object();
		jm_pprof_hex(m->build_id, m->build_id_len, id);
		set(mo, "path", json_string(m->path));
		set(mo, "build_id", json_string(id));
		snprintf(hex, sizeof(hex), "0x%" PRIx64, m->start);
		set(mo, "start", json_string(hex));
		snprintf(hex, sizeof(hex), "0x%" PRIx64, m->limit);
		set(mo, "limit", json_string(hex));
		snprintf(hex, sizeof(hex), "0x%" PRIx64, m->offset);
		set(mo, "offset", json_string(hex));
		set(mo, "main", json_boolean(m->flags & JMSTAT_MODULE_MAIN));
		json_array_append_new(mods, mo);
	}
	set(o, "modules", mods);
	free(refs);
	jm_seg_free(&seg);
	return o;
}
