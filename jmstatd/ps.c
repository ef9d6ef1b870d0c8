/*
 * ps.c: the ps reply as text (through emit.c), and its cache: built at
 * most once per view (jmd.view_gen) for each viewer and set of fields,
 * which the updates of subscribers reuse. Its fields are those of
 * fields.h's JMD_PROC_FIELDS (those shown in ps) and JMD_TOTALS_FIELDS, as
 * commands.c's replies give them, byte for byte.
 */
#include "commands.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int by_pid(const void *a, const void *b)
{
	const struct jmd_proc *pa = *(const struct jmd_proc *const *)a;
	const struct jmd_proc *pb = *(const struct jmd_proc *const *)b;
	return (pa->pid > pb->pid) - (pa->pid < pb->pid);
}

/* The fields of a process and of its totals (fields.h), in
 * their order, as commands.c's proc_fields() gives them. */
#define PF_NAME_(name, kind, show, ...) JMD_IF_PS_##show(#name,)
#define PF_TNAME_(name, ...) #name,
static const char *const ps_field_names[PF_COUNT] = {
	JMD_PROC_FIELDS(PF_NAME_) JMD_TOTALS_FIELDS(PF_TNAME_)
};
#undef PF_NAME_
#undef PF_TNAME_

/* Puts *sep (then a comma) and "key":. */
static void put_key(struct jmd_text *t, char *sep, const char *key)
{
	jmd_put(t, sep, 1);
	*sep = ',';
	JMD_PUT(t, "\"");
	jmd_put(t, key, strlen(key));
	JMD_PUT(t, "\":");
}

static void put_int(struct jmd_text *t, char *sep, const char *key, json_int_t v)
{
	put_key(t, sep, key);
	jmd_put_int(t, v);
}

static void put_time(struct jmd_text *t, char *sep, const char *key, double v)
{
	put_int(t, sep, key, (json_int_t)v);
}

/* json_string() refuses what is not UTF-8, and the key is left out. */
static void put_str(struct jmd_text *t, char *sep, const char *key, const char *v)
{
	if (!jmd_utf8_valid(v))
		return;
	put_key(t, sep, key);
	jmd_put_str(t, v);
}

static void put_strnull(struct jmd_text *t, char *sep, const char *key, const char *v)
{
	if (!jmd_utf8_valid(v))
		return;
	put_key(t, sep, key);
	if (v[0])
		jmd_put_str(t, v);
	else
		JMD_PUT(t, "null");
}

/* The totals' fields in mask (all for the host's), each after *sep. */
static void put_totals(struct jmd_text *t, char *sep, const struct jmd_totals *x, unsigned mask)
{
#define PUT_TOTAL_(name, type, fold, ...)                                              \
	if (mask & (1u << PF_##name)) {                                                \
		put_key(t, sep, #name);                                                \
		JMD_EMIT_##type(t, JMD_GET(jmd_totals_, fold, x, name));               \
	}
	JMD_TOTALS_FIELDS(PUT_TOTAL_)
#undef PUT_TOTAL_
}

/* One process of ps, the fields in mask. */
static void put_proc(struct jmd *d, struct jmd_text *t, const struct jmd_proc *p, unsigned mask)
{
	char sep = '{';
#define PUT_PROC_(name, kind, show, value, ...)                                        \
	JMD_IF_PS_##show(if (mask & (1u << PF_##name))                                 \
		put_##kind(t, &sep, #name, value);)
	JMD_PROC_FIELDS(PUT_PROC_)
#undef PUT_PROC_
	put_totals(t, &sep, &p->tot, mask);
	if (sep == '{')
		JMD_PUT(t, "{");
	JMD_PUT(t, "}");
}

/* "fields" of a ps request: 0 and *mask set (absent: every field), or -1. */
int jmd_ps_arg_fields(json_t *req, unsigned *mask)
{
	json_t *v = json_object_get(req, "fields"), *name;
	size_t i;
	*mask = JMD_PS_ALL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return -1;
	*mask = 0;
	json_array_foreach(v, i, name) {
		unsigned f = 0;
		while (f < PF_COUNT && !(json_is_string(name) &&
		                         strcmp(json_string_value(name), ps_field_names[f]) == 0))
			f++;
		if (f == PF_COUNT)
			return -1;
		*mask |= 1u << f;
	}
	return 0;
}


/* The ps reply as text into t: "ok", "time", "host" (the totals of the
 * processes uid may see) and "processes" (those, by pid, with the fields
 * in mask). */
static int ps_text(struct jmd *d, jmd_viewer uid, unsigned mask, struct jmd_text *t)
{
	struct jmd_proc **v = malloc((d->nlive ? d->nlive : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t n = 0;
	struct jmd_totals host = { 0 };
	for (struct jmd_proc *p = d->live; p; p = p->next) {
		if (!jmd_proc_visible(p, uid))
			continue;
		v[n++] = p;
		jmd_totals_add(&host, &p->tot);
	}
	qsort(v, n, sizeof(*v), by_pid);
	JMD_PUT(t, "{\"ok\":true,\"time\":");
	jmd_put_real(t, d->now);
	JMD_PUT(t, ",\"host\":{\"processes\":");
	jmd_put_u64(t, host.processes);
	char sep = ',';
	put_totals(t, &sep, &host, JMD_PS_ALL);
	JMD_PUT(t, "},\"processes\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			JMD_PUT(t, ",");
		put_proc(d, t, v[i], mask);
	}
	JMD_PUT(t, "]}");
	free(v);
	return t->failed ? -ENOMEM : 0;
}

/* The ps reply kept for uid and those fields in this view, or NULL. */
const struct jmd_reply_cache *jmd_ps_kept(struct jmd *d, jmd_viewer uid, unsigned mask)
{
	for (unsigned i = 0; i < JMD_REPLY_CACHE; i++) {
		const struct jmd_reply_cache *r = &d->ps_cache[i];
		if (r->gen == d->view_gen + 1 && r->uid == uid && r->fields == mask)
			return r;
	}
	return NULL;
}

/* The ps reply for uid and those fields, built at most once per view_gen.
 * Its slot: the one it had, else the empty or oldest one, except that a
 * uid holding JMD_REPLY_CACHE_UID slots already takes the oldest of its
 * own. A user asking ps with a new set of fields each time (the fields
 * are theirs to choose: 2^22 sets) took every slot in turn, and root's
 * reply, kept for the tick, was built again at each of root's requests. */
const struct jmd_reply_cache *jmd_ps_cached(struct jmd *d, jmd_viewer uid, unsigned mask)
{
	struct jmd_reply_cache *slot = NULL, *own = NULL;
	unsigned nown = 0;
	for (unsigned i = 0; i < JMD_REPLY_CACHE; i++) {
		struct jmd_reply_cache *r = &d->ps_cache[i];
		if (r->gen != 0 && r->uid == uid && r->fields == mask) {
			if (r->gen == d->view_gen + 1)
				return r;
			slot = own = r;
			nown = JMD_REPLY_CACHE_UID;
			break;
		}
		if (r->gen != 0 && r->uid == uid) {
			nown++;
			if (!own || r->gen < own->gen)
				own = r;
		}
		if (!slot || r->gen < slot->gen)
			slot = r;               /* the empty or the oldest */
	}
	if (nown >= JMD_REPLY_CACHE_UID)
		slot = own;
	struct jmd_text t = { 0 };
	if (ps_text(d, uid, mask, &t) != 0) {
		free(t.s);
		return NULL;
	}
	d->ps_built++;
	free(slot->text);
	slot->text = t.s;
	slot->len = t.len;
	slot->uid = uid;
	slot->fields = mask;
	slot->gen = d->view_gen + 1;
	return slot;
}

bool jmd_ps_request(json_t *req, unsigned *mask)
{
	json_t *cmd = json_is_object(req) ? json_object_get(req, "cmd") : NULL;
	return json_is_string(cmd) && strcmp(json_string_value(cmd), "ps") == 0 &&
	       jmd_ps_arg_fields(req, mask) == 0;
}

void jmd_commands_fini(struct jmd *d)
{
	for (unsigned i = 0; i < JMD_REPLY_CACHE; i++) {
		free(d->ps_cache[i].text);
		memset(&d->ps_cache[i], 0, sizeof(d->ps_cache[i]));
	}
}
