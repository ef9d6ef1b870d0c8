/*
 * commands.h: what commands.c (dispatch and the replies built with
 * jansson), emit.c (JSON written as text), ps.c (the ps reply and its
 * cache), sites_cmd.c (the `sites` reply) and reply.c (what every reply is
 * built from) share.
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

/* reply.c */
const char *jmd_user_name(uint32_t uid);
int jmd_arg_pid(json_t *req, pid_t *pid);
#define JMD_BAD_PID "invalid 'pid': expected a positive integer"
/* The error reply for what jmd_arg_pid() returned (1: absent, -1: invalid)
 * to a command that wants a pid. */
json_t *jmd_pid_error(struct jmd *d, int rc);

/* emit.c */
void jmd_put(struct jmd_text *t, const char *s, size_t n);
#define JMD_PUT(t, lit) jmd_put((t), (lit), sizeof(lit) - 1)
void jmd_put_int(struct jmd_text *t, json_int_t v);
void jmd_put_u64(struct jmd_text *t, uint64_t v);
void jmd_put_real(struct jmd_text *t, double v);
bool jmd_utf8_valid(const char *s);
void jmd_put_str(struct jmd_text *t, const char *v);

/* A JSON value of a field of fields.h's lists, by its type: jansson's
 * (commands.c) and emit.c's (ps.c). */
#define JMD_JSON_u32(v)  jint(v)
#define JMD_JSON_u64(v)  jint(v)
#define JMD_JSON_real(v) jreal(v)
#define JMD_JSON_f32(v)  jreal(v)
#define JMD_EMIT_u32(t, v)  jmd_put_u64((t), (v))
#define JMD_EMIT_u64(t, v)  jmd_put_u64((t), (v))
#define JMD_EMIT_real(t, v) jmd_put_real((t), (v))

/* Whole seconds since p started, at the latest tick. */
static inline json_int_t jmd_proc_age(const struct jmd *d, const struct jmd_proc *p)
{
	double age = jmd_proc_age_s(d, p);
	return age > 0 ? (json_int_t)age : 0;
}

/* ps.c */
/* The fields of a process in ps, in their order (those of proc_fields()):
 * the rows of fields.h's JMD_PROC_FIELDS shown in ps, then
 * JMD_TOTALS_FIELDS. A request may ask for some of them only ("fields"):
 * a client that shows a table of a thousand processes parses half as
 * much. */
#define PF_IDX_(name, kind, show, ...) JMD_IF_PS_##show(PF_##name,)
#define PF_TIDX_(name, ...) PF_##name,
enum ps_field { JMD_PROC_FIELDS(PF_IDX_) JMD_TOTALS_FIELDS(PF_TIDX_) PF_COUNT };
#undef PF_IDX_
#undef PF_TIDX_
_Static_assert(PF_COUNT < 32, "ps's field mask is an unsigned: too many fields");
#define JMD_PS_ALL ((1u << PF_COUNT) - 1)
#define JMD_BAD_FIELDS "invalid 'fields': expected an array of names of ps's process fields"
int jmd_ps_arg_fields(json_t *req, unsigned *mask);

/* sites_cmd.c */
json_t *jmd_cmd_sites(struct jmd *d, jmd_viewer uid, struct jmd_client *c, json_t *req);

#endif
