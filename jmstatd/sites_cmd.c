/*
 * sites_cmd.c: the `sites` command: the sampled heap profile of one
 * process (docs/sites.md), read from its segment through sites.c
 * (jmd_site_segment, as alerts and /metrics read it), the sites by live
 * bytes with their estimates bounded (jmd_sites_bound), raw return
 * addresses for the client to symbolize; cut to what the client may still
 * have unread (jmd_client_room).
 *
 * A reply of 1,024 sites is 580 KB and took 10 ms of the loop to read and
 * encode; asked without pause on a user's 32 connections, it kept root's
 * requests waiting most of a second. So the reply is built once per
 * process and sample (struct jmd_sites_reply, kept in jmd_proc) and sent
 * again as it is, cut where a client may take fewer sites (the sites'
 * text ends are kept) and shared by the clients it is written to
 * (jmd_blob); and a user other than root has replies built for a budget
 * of CPU a tick (JMD_SITES_SHARE): past it, server.c keeps the request on
 * its connection until the next tick (jmd_sites_serve says 0).
 */
#include "commands.h"
#include "pprof.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The sampled heap profile of one process (docs/sites.md), raw: return
 * addresses as the process recorded them, for the client to symbolize as
 * itself (the daemon never opens a program's ELF files). The site table is
 * read from the segment on request, not kept per tick. */

struct site_ref {
	const struct jmstat_site *row;
	const uint64_t *bins;    /* [nbins + 1] */
	uint64_t live;           /* bounded (jmd_site_bounded) */
	uint64_t objects;
	bool bounded;
};

/* By live bytes as the reply gives them (bounded): the order a client
 * that asks for the first n (`n`) takes them in, as jmctl ranks the
 * whole list. By the raw estimates until session 35, a site whose
 * bytes were brought down could come before one that holds more. */
static int by_live_bytes(const void *a, const void *b)
{
	const struct site_ref *p = a, *q = b;
	if (p->live != q->live)
		return p->live < q->live ? 1 : -1;
	const struct jmstat_site *x = p->row, *y = q->row;
	if (x->live_bytes != y->live_bytes)
		return x->live_bytes < y->live_bytes ? 1 : -1;
	return (x->alloc_bytes < y->alloc_bytes) - (x->alloc_bytes > y->alloc_bytes);
}

/* A site of the sites reply: its estimates bounded (per class,
 * jmd_sites_bound; its objects in proportion, jmd_site_bounded), with
 * "bounded" true when one was brought down, and "error_bytes" one
 * standard error of its live_bytes. */
static json_t *site_json(const struct jm_seg *seg, const struct jmd_proc *p, const struct site_ref *r,
                         const double *factor)
{
	json_t *o = json_object(), *frames = json_array(), *bins = json_array();
	char hex[24];
	for (uint32_t f = 0; f < r->row->nframes; f++) {
		snprintf(hex, sizeof(hex), "0x%" PRIx64, r->row->frames[f]);
		json_array_append_new(frames, json_string(hex));
	}
	set(o, "frames", frames);
	set(o, "id", json_string(jmd_site_name(jmd_site_id(p, r->row->frames, r->row->nframes),
	                                       hex, sizeof(hex))));
	uint64_t live = r->live;
	bool bounded = r->bounded;
	double err = jmd_site_error((double)r->row->live_bytes, r->row->samples_live,
	                            seg->hdr.sample_bytes);
	set(o, "live_bytes", jint(live));
	set(o, "error_bytes", jint(r->row->live_bytes ?
	                           jmd_scaled(live, err / (double)r->row->live_bytes) : 0));
	set(o, "bounded", json_boolean(bounded));
	if (bounded)
		set(o, "estimated_bytes", jint(r->row->live_bytes));
	set(o, "live_objects", jint(r->objects));
	set(o, "alloc_bytes", jint(r->row->alloc_bytes));
	set(o, "alloc_objects", jint(r->row->alloc_objects));
	set(o, "samples", jint(r->row->samples_live));
	/* Only the classes holding something; size 0 is large and huge. */
	for (uint32_t b = 0; b <= seg->hdr.nbins; b++) {
		if (r->bins[b] == 0)
			continue;
		json_t *e = json_object();
		set(e, "size", jint(b < seg->hdr.nbins ? seg->classes[b].size : 0));
		set(e, "live_bytes", jint(jmd_scaled(r->bins[b], factor[b])));
		json_array_append_new(bins, e);
	}
	set(o, "bins", bins);
	return o;
}

/* ------------------------------------------------------------ the reply kept */

/* A text buffer that stays failed after a failed allocation. */
struct buf {
	char *s;
	size_t len, cap;
	bool failed;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		while (cap < b->len + n)
			cap *= 2;
		char *ns = realloc(b->s, cap);
		if (!ns) {
			b->failed = true;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
}

static void put_json(struct buf *b, json_t *v, bool strip_close)
{
	char *t = v ? json_dumps(v, JMD_JSON_FLAGS) : NULL;
	json_decref(v);
	if (!t) {
		b->failed = true;
		return;
	}
	size_t n = strlen(t);
	put(b, t, strip_close && n ? n - 1 : n);
	free(t);
}

/* Reads p's sites from its segment and builds its reply: 0, or an error
 * reply in *err. */
static int sites_build(struct jmd *d, struct jmd_proc *p, json_t **err)
{
	pid_t pid = p->pid;
	struct jm_seg seg;
	int seg_err;
	int rc = jmd_site_segment(d, p, &seg, &seg_err);
	if (rc == -ESRCH) {
		*err = jmd_error(d, "no such process: %d", (int)pid);
		return rc;
	}
	if (rc != 0) {
		*err = jmd_error(d, "cannot read the segment of process %d: %s", (int)pid,
		                 seg_err ? jm_seg_strerror(seg_err) : strerror(-rc));
		return rc;
	}
	struct site_ref *refs = malloc((seg.nsites ? seg.nsites : 1) * sizeof(*refs));
	struct jmd_sites_reply *r = malloc(sizeof(*r) + (seg.nsites ? seg.nsites : 1) * sizeof(size_t));
	struct buf b = { 0 };
	if (!refs || !r)
		goto nomem;
	double factor[JMSTAT_NBINS + 1];
	for (uint32_t k = 0; k <= JMSTAT_NBINS; k++)
		factor[k] = 1.0;
	if (seg.hdr.nbins <= JMSTAT_NBINS)
		jmd_sites_bound(p, &seg, factor);
	size_t nrefs = 0;
	for (uint32_t i = 0; i < seg.nsites; i++) {
		if (seg.sites[i].nframes == 0)
			continue;
		struct site_ref *ref = &refs[nrefs++];
		ref->row = &seg.sites[i];
		ref->bins = &seg.site_bins[(size_t)i * (seg.hdr.nbins + 1)];
		jmd_site_bounded(&seg, ref->row, ref->bins, factor, &ref->live, &ref->objects,
		                 &ref->bounded);
	}
	qsort(refs, nrefs, sizeof(*refs), by_live_bytes);
	json_t *o = reply_ok(d);
	set(o, "pid", json_integer(pid));
	set(o, "exe", json_string(p->exe));
	set(o, "sample_bytes", jint(seg.hdr.sample_bytes));
	set(o, "sites_dropped", jint(seg.hdr.sites_dropped));
	set(o, "nsites", jint(nrefs));
	put_json(&b, o, true);
	put(&b, ",\"sites\":[", 10);
	r->head_len = b.len;
	for (size_t i = 0; i < nrefs; i++) {
		if (i)
			put(&b, ",", 1);
		put_json(&b, site_json(&seg, p, &refs[i], factor), false);
		r->site_end[i] = b.len;
	}
	r->tail_off = b.len;
	put(&b, "],\"modules\":", 12);
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
	put_json(&b, mods, false);
	put(&b, "}\n", 2);
	if (b.failed)
		goto nomem;
	r->blob = jmd_blob_new(b.len);
	if (!r->blob)
		goto nomem;
	memcpy(r->blob->data, b.s, b.len);
	r->read_ns = p->read_ns;
	r->now = d->now;
	r->nsites = nrefs;
	jmd_sites_reply_free(p);
	p->sites_reply = r;
	free(b.s);
	free(refs);
	jm_seg_free(&seg);
	d->sites_built++;
	return 0;
nomem:
	free(b.s);
	free(r);
	free(refs);
	jm_seg_free(&seg);
	*err = jmd_error(d, "out of memory");
	return -ENOMEM;
}

/* ------------------------------------------------------------ budgets */

/* The CPU each user (a principal: jmd_principal) other than root had
 * sites replies built for, this tick. A user's request that would build
 * one waits for the next tick once theirs passes the budget (it is
 * checked before a build, so one build a tick always goes through); a
 * reply kept is sent whatever it is. Users past the table share its last
 * slot. */
#define SITES_USERS 64u
static struct {
	uint64_t who;            /* jmd_client.who */
	uint64_t spent_ns;
} spent[SITES_USERS];
static unsigned nspent;

static uint64_t *spent_of(uint64_t who)
{
	for (unsigned i = 0; i < nspent; i++)
		if (spent[i].who == who)
			return &spent[i].spent_ns;
	if (nspent == SITES_USERS)
		return &spent[SITES_USERS - 1].spent_ns;
	spent[nspent].who = who;
	spent[nspent].spent_ns = 0;
	return &spent[nspent++].spent_ns;
}

static uint64_t budget_ns(const struct jmd *d)
{
	uint64_t b = (uint64_t)d->opt.interval_ms * 1000000u / JMD_SITES_SHARE;
	return b > 1000000u ? b : 1000000u;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool jmd_build_budget_left(struct jmd *d, uint64_t who)
{
	return who == 0 || *spent_of(who) < budget_ns(d);
}

void jmd_build_budget_charge(struct jmd *d, uint64_t who, uint64_t ns)
{
	if (who != 0)
		*spent_of(who) += ns;
}

uint64_t jmd_thread_cpu_ns(void)
{
	return cpu_ns();
}

void jmd_sites_tick(struct jmd *d)
{
	nspent = 0;
	/* A reply kept from before is sent no more (its tick is over): its
	 * memory goes now, or a user's 1,024 processes of 1,024 sites, each
	 * asked once, would keep 600 MB. */
	for (struct jmd_proc *p = d->live; p; p = p->next)
		jmd_sites_reply_free(p);
}

/* ------------------------------------------------------------ requests */

bool jmd_is_sites_request(json_t *req)
{
	json_t *cmd = json_is_object(req) ? json_object_get(req, "cmd") : NULL;
	return cmd && json_is_string(cmd) && strcmp(json_string_value(cmd), "sites") == 0;
}

/* The request's process and its reply kept, built if need be: NULL with
 * *err an error reply, or with *deferred when c's user has spent its
 * budget (c NULL: no budget). */
static struct jmd_sites_reply *sites_lookup(struct jmd *d, jmd_viewer uid, struct jmd_client *c,
                                            json_t *req, uint64_t *limit, json_t **err,
                                            bool *deferred)
{
	pid_t pid;
	*err = NULL;
	*deferred = false;
	int rc = jmd_arg_pid(req, &pid);
	if (rc != 0) {
		*err = jmd_pid_error(d, rc);
		return NULL;
	}
	*limit = UINT64_MAX;
	json_t *n = json_object_get(req, "n");
	if (n && !json_is_null(n)) {
		if (!json_is_integer(n) || json_integer_value(n) <= 0) {
			*err = jmd_error(d, "invalid 'n': expected a positive integer");
			return NULL;
		}
		*limit = (uint64_t)json_integer_value(n);
	}
	struct jmd_proc *p = jmd_proc_find(d, pid, uid);
	if (!p || !p->entry || p->entry->proc != p) {
		*err = jmd_error(d, "no such process: %d", (int)pid);
		return NULL;
	}
	struct jmd_sites_reply *r = p->sites_reply;
	if (r && r->read_ns == p->read_ns && r->now == d->now) {
		d->sites_kept++;
		return r;
	}
	uint64_t *mine = c && c->who != 0 ? spent_of(c->who) : NULL;
	if (mine && *mine >= budget_ns(d)) {
		*deferred = true;
		return NULL;
	}
	uint64_t t0 = mine ? cpu_ns() : 0;
	rc = sites_build(d, p, err);
	if (mine)
		*mine += cpu_ns() - t0;
	return rc == 0 ? p->sites_reply : NULL;
}

/* How many of r's sites the reply takes: at most limit, and what fits in
 * room (what the client may still have unread); 0 with *busy when not
 * even the first does (or, with no site, the rest). */
static size_t sites_fit(const struct jmd_sites_reply *r, uint64_t limit, size_t room, bool *busy)
{
	size_t tail = r->blob->len - r->tail_off;
	size_t k = r->nsites < limit ? r->nsites : (size_t)limit;
	while (k > 0 && r->site_end[k - 1] + tail > room)
		k--;
	*busy = r->head_len + tail > room || (k == 0 && r->nsites > 0);
	return k;
}

static json_t *busy_error(struct jmd *d)
{
	return jmd_error(d, "busy: read your earlier replies first (%u bytes unread at most)",
	                 JMD_MAX_OUTPUT);
}

int jmd_sites_serve(struct jmd_client *c, json_t *req, json_t **reply, struct jmd_blob **blob,
                    uv_buf_t *bufs, unsigned *nbufs)
{
	struct jmd *d = c->d;
	uint64_t limit;
	bool deferred;
	struct jmd_sites_reply *r = sites_lookup(d, c->viewer, c, req, &limit, reply, &deferred);
	if (deferred)
		return 0;
	if (!r)
		return 1;
	bool busy;
	size_t k = sites_fit(r, limit, jmd_client_room(c), &busy);
	if (busy) {
		*reply = busy_error(d);
		return 1;
	}
	size_t tail = r->blob->len - r->tail_off;
	size_t cut = k ? r->site_end[k - 1] : r->head_len;
	*blob = r->blob;
	if (cut == r->tail_off) {        /* every site: the whole text */
		bufs[0] = uv_buf_init(r->blob->data, (unsigned)r->blob->len);
		*nbufs = 1;
	} else {
		bufs[0] = uv_buf_init(r->blob->data, (unsigned)cut);
		bufs[1] = uv_buf_init(r->blob->data + r->tail_off, (unsigned)tail);
		*nbufs = 2;
	}
	return 2;
}

json_t *jmd_cmd_sites(struct jmd *d, jmd_viewer uid, struct jmd_client *c, json_t *req)
{
	/* The socket's clients are served by jmd_sites_serve; this is the
	 * request fuzz target's way (tests/fuzz/request_fuzz.c), as text. */
	uint64_t limit;
	json_t *err;
	bool deferred;
	struct jmd_sites_reply *r = sites_lookup(d, uid, NULL, req, &limit, &err, &deferred);
	if (!r)
		return err;
	bool busy;
	size_t k = sites_fit(r, limit, jmd_client_room(c), &busy);
	if (busy)
		return busy_error(d);
	size_t cut = k ? r->site_end[k - 1] : r->head_len;
	size_t tail = r->blob->len - r->tail_off;
	char *t = malloc(cut + tail);
	if (!t)
		return jmd_error(d, "out of memory");
	memcpy(t, r->blob->data, cut);
	memcpy(t + cut, r->blob->data + r->tail_off, tail);
	json_t *o = json_loadb(t, cut + tail, 0, NULL);
	free(t);
	return o ? o : jmd_error(d, "out of memory");
}
