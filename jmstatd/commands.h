/*
 * commands.h: what commands.c (dispatch and the replies built with
 * jansson), emit.c (JSON written as text), ps.c (the ps reply and its
 * cache) and sites_cmd.c (the `sites` reply) share.
 */
#ifndef JMSTATD_COMMANDS_H
#define JMSTATD_COMMANDS_H

#include "jmstatd.h"

/* The values of the replies built with jansson: integers clamped to what
 * JSON holds, reals never NaN or infinite, and {"ok": true, "time": T}. */
static inline json_t *jint(uint64_t v)
{
	return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static inline json_t *jreal(double v)
{
	if (!(v == v) || v > 1e300 || v < -1e300)
		v = 0.0;
	return json_real(v);
}

static inline void set(json_t *o, const char *key, json_t *v)
{
	json_object_set_new(o, key, v);
}

static inline json_t *reply_ok(struct jmd *d)
{
	json_t *o = json_object();
	set(o, "ok", json_true());
	set(o, "time", jreal(d->now));
	return o;
}

/* commands.c */
const char *jmd_user_name(uint32_t uid);
int jmd_arg_pid(json_t *req, pid_t *pid);
#define JMD_BAD_PID "invalid 'pid': expected a positive integer"

/* emit.c */
void jmd_put(struct jmd_text *t, const char *s, size_t n);
#define JMD_PUT(t, lit) jmd_put((t), (lit), sizeof(lit) - 1)
void jmd_put_int(struct jmd_text *t, json_int_t v);
void jmd_put_u64(struct jmd_text *t, uint64_t v);
void jmd_put_real(struct jmd_text *t, double v);
bool jmd_utf8_valid(const char *s);
void jmd_put_str(struct jmd_text *t, const char *v);

/* ps.c */
/* The fields of a process in ps, in their order (those of proc_fields());
 * a request may ask for some of them only ("fields"): a client that shows
 * a table of a thousand processes parses half as much. */
enum ps_field {
	PF_PID, PF_NS_PID, PF_CGROUP, PF_CONTAINER, PF_POD, PF_UID, PF_USER, PF_EXE, PF_PATH, PF_START_TIME, PF_AGE, PF_NTHREADS,
	PF_NARENAS,
	PF_ALLOCATED, PF_ACTIVE, PF_MAPPED, PF_DIRTY, PF_SMALL_WASTED, PF_FRAG_BYTES,
	PF_FRAG_RATIO, PF_ALLOC_RATE, PF_FREE_RATE, PF_COUNT
};
#define JMD_PS_ALL ((1u << PF_COUNT) - 1)
#define JMD_BAD_FIELDS "invalid 'fields': expected an array of names of ps's process fields"
int jmd_ps_arg_fields(json_t *req, unsigned *mask);
const struct jmd_reply_cache *jmd_ps_cached(struct jmd *d, uid_t uid, unsigned mask);

/* sites_cmd.c */
json_t *jmd_cmd_sites(struct jmd *d, uid_t uid, struct jmd_client *c, json_t *req);

#endif
