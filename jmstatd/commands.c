/*
 * commands.c: the protocol's commands, from a request line to a reply.
 *
 * jmd_request_parse() is the whole parser of what a client sends: one line
 * (server.c frames them) to its JSON request, parsed once; server.c then
 * answers ps from the text ps.c keeps (jmd_ps_cached) and any other
 * request through jmd_command(). jmd_request() does both, from a line to
 * its JSON reply with no I/O, so that the fuzz target
 * (tests/fuzz/request_fuzz.c) can drive it.
 *
 * Every reply is one JSON object: {"ok": true, "time": T, ...} or
 * {"ok": false, "error": "...", "time": T}, where T is the unix time of the
 * latest sample (ms precision). What a reply shows is filtered by the
 * viewer's uid (SO_PEERCRED, passed in by server.c) and, for a client in
 * a pid namespace below ours (a container's), that namespace: root sees
 * every process, anyone else only processes of their own uid (a
 * container's client only those of its namespace: jmd_visible), and a
 * pid of another answers as if unknown. The fields of a process, of its
 * totals and of a bin (PROC, HOST, BIN) come from the X-lists of
 * commands.h (JMD_PROC_FIELDS) and fields.h (JMD_TOTALS_FIELDS,
 * JMD_BIN_FIELDS), in their order, through the helpers below (ps.c writes
 * the same as text); the arena fields from jmstat.h's list.
 */
#include "commands.h"
#include "pprof.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------ objects */

/* The fields of fields.h's lists and of JMD_PROC_FIELDS, in their order. */
#define JSON_FIELD_(name, type, fold, ...) \
	set(o, #name, JMD_JSON_##type(JMD_GET(PFX_, fold, x, name)));

static void totals_fields(json_t *o, const struct jmd_totals *x)
{
#define PFX_ jmd_totals_
	JMD_TOTALS_FIELDS(JSON_FIELD_)
#undef PFX_
}

#define JSON_int(v)     json_integer(v)
#define JSON_u64(v)     jint(v)
#define JSON_time(v)    json_integer((json_int_t)(v))
#define JSON_bool(v)    json_boolean((v) != 0)
#define JSON_str(v)     json_string(v)
#define JSON_strnull(v) ((v)[0] ? json_string(v) : json_null())

/* A process in stats: its rows of JMD_PROC_FIELDS shown in ps, its totals,
 * then its rows shown in stats alone. */
static void proc_fields(struct jmd *d, json_t *o, const struct jmd_proc *p)
{
#define JSON_PS_(name, kind, show, value, ...) JMD_IF_PS_##show(set(o, #name, JSON_##kind(value));)
#define JSON_STATS_(name, kind, show, value, ...) JMD_IF_STATS_##show(set(o, #name, JSON_##kind(value));)
	JMD_PROC_FIELDS(JSON_PS_)
	totals_fields(o, &p->tot);
	JMD_PROC_FIELDS(JSON_STATS_)
#undef JSON_PS_
#undef JSON_STATS_
}

static json_t *bin_json(const struct jmd_bin *x, size_t index)
{
	json_t *o = json_object();
	set(o, "bin", jint(index));
#define PFX_ jmd_bin_
	JMD_BIN_FIELDS(JSON_FIELD_)
#undef PFX_
	return o;
}

static json_t *arena_json(const struct jmd_arena *a)
{
	json_t *o = json_object();
	set(o, "index", jint(a->raw.index));
#define ARENA_FIELD(name, type, unit, help) set(o, #name, jint(a->raw.name));
	JMSTAT_ARENA_COUNTERS(ARENA_FIELD)
#undef ARENA_FIELD
	set(o, "allocated", jint(a->allocated));
	set(o, "small_wasted", jint(a->small_wasted));
	set(o, "frag_ratio", jreal(jmd_frag_ratio(a->raw.active, a->allocated)));
	return o;
}

/* ------------------------------------------------------------ bins over processes */

/* Bins summed over processes, one per distinct region size, sorted. */
struct agg {
	struct jmd_bin *v;
	size_t n, cap;
};

static int agg_add(struct agg *g, const struct jmd_bin *b)
{
	size_t lo = 0, hi = g->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (g->v[mid].size < b->size)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == g->n || g->v[lo].size != b->size) {
		if (g->n == g->cap) {
			size_t cap = g->cap ? g->cap * 2 : 64;
			struct jmd_bin *v = realloc(g->v, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			g->v = v;
			g->cap = cap;
		}
		memmove(&g->v[lo + 1], &g->v[lo], (g->n - lo) * sizeof(*g->v));
		g->n++;
		g->v[lo] = *b;
		return 0;
	}
	jmd_bin_add(&g->v[lo], b);
	return 0;
}

static json_t *bins_json(struct jmd *d, jmd_viewer uid, const struct jmd_proc *only)
{
	json_t *arr = json_array();
	if (only) {
		for (uint32_t b = 0; b < only->nbins; b++)
			json_array_append_new(arr, bin_json(&only->bins[b], b));
		return arr;
	}
	struct agg g = { 0 };
	for (struct jmd_proc *p = d->live; p; p = p->next) {
		if (!jmd_proc_visible(p, uid))
			continue;
		for (uint32_t b = 0; b < p->nbins; b++)
			if (agg_add(&g, &p->bins[b]) != 0)
				break;
	}
	for (size_t i = 0; i < g.n; i++)
		json_array_append_new(arr, bin_json(&g.v[i], i));
	free(g.v);
	return arr;
}

/* ------------------------------------------------------------ commands */

static json_t *cmd_version(struct jmd *d, jmd_viewer uid, struct jmd_client *c, json_t *req)
{
	json_t *o = reply_ok(d);
	set(o, "version", json_string(JM_VERSION));
	set(o, "layout_version", json_integer(JMSTAT_VERSION));
	set(o, "interval_ms", json_integer(d->opt.interval_ms));
	set(o, "stats_dir", json_string(d->opt.stats_dir));
	set(o, "pid", json_integer(getpid()));
	set(o, "uid", jint(getuid()));
	set(o, "started", jreal(d->started));
	set(o, "tick_ms", jreal(d->tick_ms));
	/* The counts of the host for root (or the daemon's own user); for
	 * anyone else only their own: how many processes and clients the
	 * other users have is theirs to know ("scope" says which). */
	if (uid != 0 && uid != getuid()) {
		/* A client in a pid namespace below ours: its namespace's,
		 * as it sees them (its uid's unless its root). */
		bool scoped = (uid >> 32) != 0;
		uint64_t procs = 0, clients = 0;
		for (const struct jmd_proc *p = d->live; p; p = p->next)
			procs += jmd_proc_visible(p, uid);
		for (const struct jmd_client *k = d->clients; k; k = k->next)
			clients += (c ? k->who == c->who : k->viewer == uid) && !k->closed;
		set(o, "scope", json_string(!scoped ? "uid" : (uint32_t)(uid >> 32) < JMD_SCOPE_NS_MIN
		                                       ? "container" : "namespace"));
		set(o, "processes", jint(procs));
		set(o, "segments", jint(procs));
		set(o, "processes_untracked",
		    jint(scoped ? 0 : jmd_untracked(d, jmd_principal(d, (uint32_t)uid))));
		set(o, "segment_files_untracked",
		    jint(scoped ? 0 : jmd_files_untracked(d, jmd_principal(d, (uint32_t)uid))));
		set(o, "user_processes", jint(d->opt.uid_procs));
		set(o, "clients", jint(clients));
		return o;
	}
	set(o, "scope", json_string("host"));
	set(o, "processes", jint(d->nlive));
	set(o, "segments", jint(d->nentries));
	/* What `jmctl status` says of the segments: the ones another user's
	 * jmstatd cannot read, the ones that did not read as segments. */
	uint64_t unreadable = 0, bad = 0;
	for (const struct jmd_entry *e = d->entries; e; e = e->next) {
		if (e->ignored)
			unreadable++;
		else if (e->logged && !e->proc)
			bad++;
	}
	set(o, "segments_unreadable", jint(unreadable));
	set(o, "segments_bad", jint(bad));
	set(o, "segments_rejected", jint(d->seg_rejected));
	set(o, "processes_untracked", jint(jmd_untracked(d, JMD_UID_ALL)));
	set(o, "segment_files_untracked", jint(jmd_files_untracked(d, JMD_UID_ALL)));
	set(o, "rescanning", json_boolean(d->scan_dir != NULL));
	/* the directory watches' queues that overflowed (watch.c): each
	 * lost names, found by a rescan at the next tick. */
	set(o, "watch_overflows", jint(d->watch_overflows));
	set(o, "ticks", jint(d->tick));
	/* ps replies built as text (once per view, viewer and fields), ps
	 * requests put off to the next tick for their user's budget (ps.c,
	 * server.c). */
	set(o, "ps_built", jint(d->ps_built));
	set(o, "ps_deferred", jint(d->ps_deferred));
	/* subscribers' updates built: one per tick, viewer and pid. */
	set(o, "updates_built", jint(d->updates_built));
	/* sites replies: built (read and encoded), sent again as kept for the
	 * same sample, requests put off to the next tick (sites_cmd.c). */
	set(o, "sites_built", jint(d->sites_built));
	set(o, "sites_kept", jint(d->sites_kept));
	set(o, "sites_deferred", jint(d->sites_deferred));
	/* --pprof's profiles: built, served again as kept, requests put off
	 * to the next tick for the listener's budget (pprof.c). */
	set(o, "pprof_built", jint(d->pprof_built));
	set(o, "pprof_kept", jint(d->pprof_kept));
	set(o, "pprof_deferred", jint(d->pprof_deferred));
	set(o, "user_processes", jint(d->opt.uid_procs));
	set(o, "clients", jint(d->nclients));
	return o;
}

/* Through the text server.c sends (jmd_ps_cached): one writer of
 * the ps reply, which the request fuzz target reaches this way. */
static json_t *cmd_ps(struct jmd *d, jmd_viewer uid, struct jmd_client *c, json_t *req)
{
	unsigned mask;
	if (jmd_ps_arg_fields(req, &mask) != 0)
		return jmd_error(d, JMD_BAD_FIELDS);
	const struct jmd_reply_cache *r = jmd_ps_cached(d, uid, mask);
	json_t *o = r ? json_loadb(r->text, r->len, 0, NULL) : NULL;
	return o ? o : jmd_error(d, "out of memory");
}

static json_t *cmd_stats(struct jmd *d, jmd_viewer uid, struct jmd_client *c, json_t *req)
{
	pid_t pid;
	int rc = jmd_arg_pid(req, &pid);
	if (rc != 0)
		return jmd_pid_error(d, rc);
	struct jmd_proc *p = jmd_proc_find(d, pid, uid);
	if (!p)
		return jmd_error(d, "no such process: %d", (int)pid);
	json_t *o = reply_ok(d);
	proc_fields(d, o, p);
	json_t *arenas = json_array();
	for (uint32_t a = 0; a < p->narenas; a++)
		json_array_append_new(arenas, arena_json(&p->arenas[a]));
	set(o, "arenas", arenas);
	set(o, "bins", bins_json(d, uid, p));
	return o;
}

static json_t *cmd_bins(struct jmd *d, jmd_viewer uid, struct jmd_client *c, json_t *req)
{
	pid_t pid = 0;
	int rc = jmd_arg_pid(req, &pid);
	if (rc < 0)
		return jmd_error(d, JMD_BAD_PID);
	struct jmd_proc *p = NULL;
	if (rc == 0) {
		p = jmd_proc_find(d, pid, uid);
		if (!p)
			return jmd_error(d, "no such process: %d", (int)pid);
	}
	json_t *o = reply_ok(d);
	if (p)
		set(o, "pid", json_integer(pid));
	set(o, "bins", bins_json(d, uid, p));
	return o;
}

/* The most one history sample takes in a reply: its braces and time, and
 * 32 bytes for each field of fields.h's JMD_HIST_FIELDS, key, comma and a
 * 20-digit value; and the rest of the reply. */
#define HIST_ONE_(name, type) + 1u
#define HIST_JSON_MAX   (32u + 32u * (0u JMD_HIST_FIELDS(HIST_ONE_)))
#define HIST_REPLY_BASE 4096u

/* Who a process of history is, for the operator to tell it from another
 * that had its pid. */
static void set_who(json_t *o, const struct jmd_proc *p)
{
	set(o, "exe", json_string(p->exe));
	set(o, "uid", jint(p->uid));
	set(o, "user", json_string(jmd_user_name(p->uid)));
	set(o, "started", jreal(p->start_time));
	/* Where it ran: a root container's process that took a dead root
	 * service's host pid was told apart by its start time alone. */
	set(o, "container", p->labels.container[0] ? json_string(p->labels.container) : json_null());
	uint64_t scope = p->entry ? jmd_proc_scope(p) : p->scope;
	set(o, "mntns", scope ? json_integer((json_int_t)scope) : json_null());
	set(o, "alive", json_boolean(p->dead_since == 0));
	if (p->dead_since)
		set(o, "exited", jreal(p->dead_since));
}

/* The process of pid whose history is asked: the one started at
 * *started (to the clock tick, 10 ms: as history lists it) if given, else the live one, else the one
 * that exited last. A pid is reused: another user's process may take
 * a crashed service's pid (32,768 of them by default, gone through in
 * seconds by a loop of forks), and the operator asking the service's
 * history got that process's, with nothing to tell them apart. */
static struct jmd_proc *history_proc(struct jmd *d, pid_t pid, jmd_viewer uid, const double *started)
{
	struct jmd_proc *p = jmd_proc_find(d, pid, uid);
	if (p && (!started || fabs(p->start_time - *started) < 0.006))
		return p;
	for (p = d->dead; p; p = p->next)
		if (p->pid == pid && jmd_proc_visible(p, uid) &&
		    (!started || fabs(p->start_time - *started) < 0.006))
			return p;
	return NULL;
}

/* The other processes of pid that history keeps, newest first. */
static json_t *history_others(struct jmd *d, pid_t pid, jmd_viewer uid, const struct jmd_proc *shown)
{
	json_t *arr = json_array();
	struct jmd_proc *live = jmd_proc_find(d, pid, uid);
	if (live && live != shown) {
		json_t *e = json_object();
		set_who(e, live);
		json_array_append_new(arr, e);
	}
	for (struct jmd_proc *p = d->dead; p && json_array_size(arr) < 16; p = p->next) {
		if (p->pid != pid || p == shown || !jmd_proc_visible(p, uid))
			continue;
		json_t *e = json_object();
		set_who(e, p);
		json_array_append_new(arr, e);
	}
	return arr;
}

static json_t *cmd_history(struct jmd *d, jmd_viewer uid, struct jmd_client *c, json_t *req)
{
	pid_t pid = 0;
	int rc = jmd_arg_pid(req, &pid);
	if (rc < 0)
		return jmd_error(d, JMD_BAD_PID);
	double seconds = d->opt.history_ms / 1000.0;
	json_t *s = json_object_get(req, "seconds");
	if (s && !json_is_null(s)) {
		if (!json_is_number(s) || json_number_value(s) <= 0)
			return jmd_error(d, "invalid 'seconds': expected a positive number");
		seconds = json_number_value(s);
	}
	double started = 0;
	json_t *st = json_object_get(req, "started");
	if (st && !json_is_null(st)) {
		if (!json_is_number(st) || json_number_value(st) <= 0)
			return jmd_error(d, "invalid 'started': expected the process's start, unix s");
		started = json_number_value(st);
	}
	const struct jmd_ring *ring;
	struct jmd_proc *p = NULL;
	if (rc == 0) {
		p = history_proc(d, pid, uid, started > 0 ? &started : NULL);
		if (!p && started > 0)
			return jmd_error(d, "no such process: %d started at %.2f", (int)pid, started);
		if (!p)
			return jmd_error(d, "no such process: %d", (int)pid);
		ring = &p->hist;
	} else {
		ring = jmd_uid_ring(d, uid);
	}
	json_t *o = reply_ok(d);
	if (p) {
		set(o, "pid", json_integer(pid));
		set_who(o, p);
		set(o, "others", history_others(d, pid, uid, p));
	}
	set(o, "interval_ms", json_integer(d->opt.interval_ms));
	set(o, "history_ms", json_integer(d->opt.history_ms));
	json_t *arr = json_array();
	if (ring && ring->count) {
		uint32_t first = (ring->head + ring->alloc - ring->count) % ring->alloc;
		double since = d->mono - seconds - 0.0005;
		/* Bounded before it is built: the newest samples that fit what
		 * the client may still have unread (a day of history at 1 s is
		 * 86,400 of them). */
		size_t room = jmd_client_room(c);
		size_t fit = room > HIST_REPLY_BASE ? (room - HIST_REPLY_BASE) / HIST_JSON_MAX : 0;
		uint32_t skip = ring->count > fit ? ring->count - (uint32_t)fit : 0;
		for (uint32_t i = skip; i < ring->count; i++) {
			const struct jmd_hist *h = &ring->e[(first + i) % ring->alloc];
			bool valid;
			double t = jmd_tick_time(d, h->tick, &valid);
			if (!valid || jmd_tick_mono(d, h->tick, &valid) < since)
				continue;
			json_t *e = json_object();
			set(e, "time", jreal(t));
#define HIST_JSON_(name, type) set(e, #name, JMD_JSON_##type(h->name));
			JMD_HIST_FIELDS(HIST_JSON_)
#undef HIST_JSON_
			json_array_append_new(arr, e);
		}
	}
	set(o, "samples", arr);
	return o;
}

static json_t *cmd_alerts(struct jmd *d, jmd_viewer uid, struct jmd_client *c, json_t *req)
{
	json_t *o = reply_ok(d);
	set(o, "alerts", jmd_alerts_list(d, uid));
	return o;
}

/* The tail of a subscriber's update (after the ps reply less its closing
 * brace): for one pid ",\"pid\":N", then ",\"bins\":[...]}" (that
 * process's, or summed over the processes uid may see). */
int jmd_update_tail(struct jmd *d, jmd_viewer uid, pid_t pid, char **text, size_t *len)
{
	struct jmd_proc *p = NULL;
	if (pid) {
		p = jmd_proc_find(d, pid, uid);
		if (!p)
			return -ESRCH;
	}
	json_t *bins = bins_json(d, uid, p);
	char *b = bins ? json_dumps(bins, JMD_JSON_FLAGS) : NULL;
	json_decref(bins);
	if (!b)
		return -ENOMEM;
	struct jmd_text t = { 0 };
	if (p) {
		JMD_PUT(&t, ",\"pid\":");
		jmd_put_int(&t, pid);
	}
	JMD_PUT(&t, ",\"bins\":");
	jmd_put(&t, b, strlen(b));
	JMD_PUT(&t, "}");
	free(b);
	if (t.failed) {
		free(t.s);
		return -ENOMEM;
	}
	*text = t.s;
	*len = t.len;
	return 0;
}

/* A subscriber's update: the ps reply, then the tail above. */
int jmd_update_text(struct jmd *d, jmd_viewer uid, pid_t pid, char **text, size_t *len)
{
	char *tail;
	size_t tail_len;
	int rc = jmd_update_tail(d, uid, pid, &tail, &tail_len);
	if (rc != 0)
		return rc;
	const struct jmd_reply_cache *r = jmd_ps_cached(d, uid, JMD_PS_ALL);
	struct jmd_text t = { 0 };
	if (r) {
		jmd_put(&t, r->text, r->len - 1);            /* all but its closing brace */
		jmd_put(&t, tail, tail_len);
	}
	free(tail);
	if (!r || t.failed) {
		free(t.s);
		return -ENOMEM;
	}
	*text = t.s;
	*len = t.len;
	return 0;
}

json_t *jmd_update(struct jmd *d, jmd_viewer uid, pid_t pid)
{
	char *text;
	size_t len;
	int rc = jmd_update_text(d, uid, pid, &text, &len);
	if (rc == -ESRCH)
		return NULL;
	json_t *o = rc == 0 ? json_loadb(text, len, 0, NULL) : NULL;
	if (rc == 0)
		free(text);
	return o ? o : jmd_error(d, "out of memory");
}

static json_t *cmd_subscribe(struct jmd *d, jmd_viewer uid, struct jmd_client *c, json_t *req)
{
	pid_t pid = 0;
	int rc = jmd_arg_pid(req, &pid);
	if (rc < 0)
		return jmd_error(d, JMD_BAD_PID);
	json_t *o = jmd_update(d, uid, pid);
	if (!o)
		return jmd_error(d, "no such process: %d", (int)pid);
	if (c) {
		c->subscribed = true;
		c->sub_pid = pid;
	}
	return o;
}

static const struct {
	const char *name;
	json_t *(*fn)(struct jmd *d, jmd_viewer uid, struct jmd_client *c, json_t *req);
} commands[] = {
	{ "version", cmd_version },
	{ "ps", cmd_ps },
	{ "stats", cmd_stats },
	{ "bins", cmd_bins },
	{ "history", cmd_history },
	{ "alerts", cmd_alerts },
	{ "sites", jmd_cmd_sites },
	{ "subscribe", cmd_subscribe },
};

json_t *jmd_command(struct jmd *d, jmd_viewer uid, struct jmd_client *c, json_t *req)
{
	if (!json_is_object(req))
		return jmd_error(d, "a request must be a JSON object");
	json_t *cmd = json_object_get(req, "cmd");
	if (!cmd)
		return jmd_error(d, "missing 'cmd'");
	if (!json_is_string(cmd))
		return jmd_error(d, "'cmd' must be a string");
	const char *name = json_string_value(cmd);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].fn(d, uid, c, req);
	/* Quote the name safely: it may hold anything. */
	char shown[64];
	size_t n = 0;
	for (const char *s = name; *s && n < sizeof(shown) - 4; s++)
		shown[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	if (name[n] != '\0' && n >= sizeof(shown) - 4) {
		shown[n++] = '.';
		shown[n++] = '.';
		shown[n++] = '.';
	}
	shown[n] = '\0';
	return jmd_error(d, "unknown command '%s'", shown);
}

json_t *jmd_request_parse(struct jmd *d, const char *line, size_t len, json_t **reply)
{
	*reply = NULL;
	if (len && line[len - 1] == '\r')
		len--;
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len)
		return NULL;   /* a blank line asks nothing */
	json_error_t err;
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (!req)
		*reply = jmd_error(d, "invalid JSON: %s", err.text);
	return req;
}

json_t *jmd_request(struct jmd *d, jmd_viewer uid, struct jmd_client *c, const char *line, size_t len)
{
	json_t *reply;
	json_t *req = jmd_request_parse(d, line, len, &reply);
	if (!req)
		return reply;
	reply = jmd_command(d, uid, c, req);
	json_decref(req);
	return reply;
}
