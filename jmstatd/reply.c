/*
 * reply.c: what every reply of the protocol is built from, for the
 * commands (commands.c, ps.c, sites_cmd.c) and server.c alike: the error
 * reply, a uid's user name, the pid argument of a request, and the room a
 * reply may take in what its client has not read yet. It calls none of
 * them: the commands and the server call it.
 */
#include "commands.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ values */

json_t *jmd_error(struct jmd *d, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A message quoting the client's bytes (jansson's parse errors do)
	 * may hold invalid UTF-8, which json_string refuses: those bytes go. */
	json_t *m = json_string(msg);
	if (!m) {
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
				*p = '?';
		m = json_string(msg);
	}
	json_t *o = json_object();
	set(o, "ok", json_false());
	set(o, "error", m);
	set(o, "time", jreal(d->now));
	return o;
}

/* User names, looked up once per uid (a name service may be slow). */
const char *jmd_user_name(uint32_t uid)
{
	static struct { uint32_t uid; bool used; char name[64]; } cache[64];
	static unsigned next;
	for (unsigned i = 0; i < sizeof(cache) / sizeof(cache[0]); i++)
		if (cache[i].used && cache[i].uid == uid)
			return cache[i].name;
	unsigned i = next++ % (sizeof(cache) / sizeof(cache[0]));
	cache[i].used = true;
	cache[i].uid = uid;
	struct passwd pw, *res = NULL;
	char buf[2048];
	if (getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_name)
		snprintf(cache[i].name, sizeof(cache[i].name), "%s", res->pw_name);
	else
		snprintf(cache[i].name, sizeof(cache[i].name), "%u", uid);
	return cache[i].name;
}

/* ------------------------------------------------------------ arguments */

/* 1: absent; 0: *pid set; -1: present but not a valid pid. */
int jmd_arg_pid(json_t *req, pid_t *pid)
{
	json_t *v = json_object_get(req, "pid");
	if (!v || json_is_null(v))
		return 1;
	if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > INT32_MAX)
		return -1;
	*pid = (pid_t)json_integer_value(v);
	return 0;
}

json_t *jmd_pid_error(struct jmd *d, int rc)
{
	return rc == 1 ? jmd_error(d, "missing 'pid'") : jmd_error(d, JMD_BAD_PID);
}

/* ------------------------------------------------------------ room */

size_t jmd_client_queued(struct jmd_client *c)
{
	return uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
}

size_t jmd_client_room(struct jmd_client *c)
{
	if (!c)
		return JMD_MAX_OUTPUT;
	size_t mine = jmd_client_queued(c);
	size_t room = mine < JMD_MAX_OUTPUT ? JMD_MAX_OUTPUT - mine : 0;
	if (c->viewer == 0)
		return room;
	/* A user's subordinate uids count as that user (principal.c), as
	 * for the connections (server.c): each of its 65,536 uids had a
	 * JMD_UID_OUTPUT of its own. */
	size_t theirs = 0;
	for (struct jmd_client *o = c->d->clients; o; o = o->next)
		if (!o->closed && o->viewer != 0 && o->who == c->who)
			theirs += jmd_client_queued(o);
	size_t uid_room = theirs < JMD_UID_OUTPUT ? JMD_UID_OUTPUT - theirs : 0;
	return room < uid_room ? room : uid_room;
}

/* ------------------------------------------------------------ shared replies */

struct jmd_blob *jmd_blob_new(size_t len)
{
	struct jmd_blob *b = malloc(sizeof(*b) + len);
	if (!b)
		return NULL;
	b->refs = 1;
	b->len = len;
	return b;
}

void jmd_blob_put(struct jmd_blob *b)
{
	if (b && --b->refs == 0)
		free(b);
}

void jmd_sites_reply_free(struct jmd_proc *p)
{
	if (!p->sites_reply)
		return;
	jmd_blob_put(p->sites_reply->blob);
	free(p->sites_reply);
	p->sites_reply = NULL;
}
