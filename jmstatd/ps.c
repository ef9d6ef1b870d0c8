/*
 * ps.c: the ps reply as text (through emit.c), and its cache: built at
 * most once per view (jmd.view_gen) for each viewer and set of fields,
 * which the updates of subscribers reuse.
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

/* totals_fields(), each with a comma before it. */
static void put_totals(struct jmd_text *t, const struct jmd_totals *x)
{
	JMD_PUT(t, ",\"allocated\":");
	jmd_put_u64(t, x->allocated);
	JMD_PUT(t, ",\"active\":");
	jmd_put_u64(t, x->active);
	JMD_PUT(t, ",\"mapped\":");
	jmd_put_u64(t, x->mapped);
	JMD_PUT(t, ",\"dirty\":");
	jmd_put_u64(t, x->dirty);
	JMD_PUT(t, ",\"small_wasted\":");
	jmd_put_u64(t, x->small_wasted);
	JMD_PUT(t, ",\"frag_bytes\":");
	jmd_put_u64(t, x->active > x->allocated ? x->active - x->allocated : 0);
	JMD_PUT(t, ",\"frag_ratio\":");
	jmd_put_real(t, jmd_frag_ratio(x->active, x->allocated));
	JMD_PUT(t, ",\"alloc_rate\":");
	jmd_put_real(t, x->alloc_rate);
	JMD_PUT(t, ",\"free_rate\":");
	jmd_put_real(t, x->free_rate);
}

static const char *const ps_field_names[PF_COUNT] = {
	"pid", "ns_pid", "cgroup", "container", "pod", "uid", "user", "exe", "path", "start_time", "age", "nthreads", "narenas",
	"allocated", "active", "mapped", "dirty", "small_wasted", "frag_bytes",
	"frag_ratio", "alloc_rate", "free_rate",
};

/* One process of ps, the fields in mask. */
static void put_proc(struct jmd *d, struct jmd_text *t, const struct jmd_proc *p, unsigned mask)
{
	const struct jmd_totals *x = &p->tot;
	double age = d->now - p->start_time;
	char sep = '{';
	for (unsigned f = 0; f < PF_COUNT; f++) {
		const char *str = f == PF_USER ? jmd_user_name(p->uid) : f == PF_EXE ? p->exe :
		                  f == PF_PATH ? p->path : f == PF_CONTAINER ? p->labels.container :
		                  f == PF_POD ? p->labels.pod : NULL;
		if (!(mask & (1u << f)) || (str && !jmd_utf8_valid(str)))
			continue;       /* json_string() refuses what is not UTF-8 */
		jmd_put(t, &sep, 1);
		sep = ',';
		JMD_PUT(t, "\"");
		jmd_put(t, ps_field_names[f], strlen(ps_field_names[f]));
		JMD_PUT(t, "\":");
		switch ((enum ps_field)f) {
		case PF_PID: jmd_put_int(t, p->pid); break;
		case PF_NS_PID: jmd_put_int(t, p->ns_pid); break;
		case PF_CGROUP: jmd_put_str(t, p->labels.cgroup); break;
		case PF_CONTAINER:
		case PF_POD:
			if (str[0])
				jmd_put_str(t, str);
			else
				JMD_PUT(t, "null");
			break;
		case PF_UID: jmd_put_int(t, p->uid); break;
		case PF_USER:
		case PF_EXE:
		case PF_PATH: jmd_put_str(t, str); break;
		case PF_START_TIME: jmd_put_int(t, (json_int_t)p->start_time); break;
		case PF_AGE: jmd_put_int(t, age > 0 ? (json_int_t)age : 0); break;
		case PF_NTHREADS: jmd_put_int(t, p->nthreads); break;
		case PF_NARENAS: jmd_put_int(t, p->narenas); break;
		case PF_ALLOCATED: jmd_put_u64(t, x->allocated); break;
		case PF_ACTIVE: jmd_put_u64(t, x->active); break;
		case PF_MAPPED: jmd_put_u64(t, x->mapped); break;
		case PF_DIRTY: jmd_put_u64(t, x->dirty); break;
		case PF_SMALL_WASTED: jmd_put_u64(t, x->small_wasted); break;
		case PF_FRAG_BYTES:
			jmd_put_u64(t, x->active > x->allocated ? x->active - x->allocated : 0);
			break;
		case PF_FRAG_RATIO: jmd_put_real(t, jmd_frag_ratio(x->active, x->allocated)); break;
		case PF_ALLOC_RATE: jmd_put_real(t, x->alloc_rate); break;
		case PF_FREE_RATE: jmd_put_real(t, x->free_rate); break;
		case PF_COUNT: break;
		}
	}
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
static int ps_text(struct jmd *d, uid_t uid, unsigned mask, struct jmd_text *t)
{
	struct jmd_proc **v = malloc((d->nlive ? d->nlive : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t n = 0;
	struct jmd_totals host = { 0 };
	for (struct jmd_proc *p = d->live; p; p = p->next) {
		if (!jmd_visible(p->uid, uid))
			continue;
		v[n++] = p;
		jmd_totals_add(&host, &p->tot);
	}
	qsort(v, n, sizeof(*v), by_pid);
	JMD_PUT(t, "{\"ok\":true,\"time\":");
	jmd_put_real(t, d->now);
	JMD_PUT(t, ",\"host\":{\"processes\":");
	jmd_put_u64(t, host.processes);
	put_totals(t, &host);
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

/* The ps reply for uid and those fields, built at most once per view_gen. */
const struct jmd_reply_cache *jmd_ps_cached(struct jmd *d, uid_t uid, unsigned mask)
{
	struct jmd_reply_cache *slot = NULL;
	for (unsigned i = 0; i < JMD_REPLY_CACHE; i++) {
		struct jmd_reply_cache *r = &d->ps_cache[i];
		if (r->gen != 0 && r->uid == uid && r->fields == mask) {
			if (r->gen == d->view_gen + 1)
				return r;
			slot = r;
			break;
		}
		if (!slot || r->gen < slot->gen)
			slot = r;               /* the empty or the oldest */
	}
	struct jmd_text t = { 0 };
	if (ps_text(d, uid, mask, &t) != 0) {
		free(t.s);
		return NULL;
	}
	free(slot->text);
	slot->text = t.s;
	slot->len = t.len;
	slot->uid = uid;
	slot->fields = mask;
	slot->gen = d->view_gen + 1;
	return slot;
}

const char *jmd_request_cached(struct jmd *d, uid_t uid, const char *line, size_t len,
                               size_t *text_len)
{
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	json_t *cmd = json_is_object(req) ? json_object_get(req, "cmd") : NULL;
	unsigned mask;
	bool ps = json_is_string(cmd) && strcmp(json_string_value(cmd), "ps") == 0 &&
	          jmd_ps_arg_fields(req, &mask) == 0;
	json_decref(req);
	const struct jmd_reply_cache *r = ps ? jmd_ps_cached(d, uid, mask) : NULL;
	if (!r)
		return NULL;
	*text_len = r->len;
	return r->text;
}

void jmd_commands_fini(struct jmd *d)
{
	for (unsigned i = 0; i < JMD_REPLY_CACHE; i++) {
		free(d->ps_cache[i].text);
		memset(&d->ps_cache[i], 0, sizeof(d->ps_cache[i]));
	}
}
