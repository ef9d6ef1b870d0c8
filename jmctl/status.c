/*
 * status.c: `jmctl status`, which daemon jmctl talks to and how it fares.
 *
 * One version request (the handshake's own reply, docs/protocol.md): the
 * socket, the daemon's pid, user, version and uptime, its stats directory
 * and interval, how long a sampling takes, and its segments: the ones it
 * reads (one per process), the ones it cannot read (another user's, when
 * jmstatd is not root) and the ones that are not segments at all.
 */
#include "jmctl.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *plural(long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

int jm_cmd_status(const struct jmctl_opts *o, int argc, char **argv)
{
	json_t *reply;
	char user[64], up[32], interval[32];
	int err;

	if (argc > 1)
		return jm_usage_error("status", "unexpected argument '%s'", argv[1]);
	err = jm_client_request(o->socket, json_pack("{s:s}", "cmd", "version"), &reply, false);
	if (err)
		return err;
	if (o->json) {
		json_object_set_new(reply, "socket", json_string(o->socket));
		json_object_set_new(reply, "socket_from", json_string(o->socket_from ? o->socket_from : ""));
		jm_print_json(reply);
		json_decref(reply);
		return 0;
	}
	long long uid = jm_int(reply, "uid");
	struct passwd *pw = json_object_get(reply, "uid") ? getpwuid((uid_t)uid) : NULL;
	if (pw)
		snprintf(user, sizeof(user), "%s", pw->pw_name);
	else if (json_object_get(reply, "uid"))
		snprintf(user, sizeof(user), "uid %lld", uid);
	else
		snprintf(user, sizeof(user), "?");
	double started = jm_num(reply, "started"), now = jm_num(reply, "time");
	if (started > 0 && now >= started)
		jm_fmt_age(up, sizeof(up), now - started);
	else
		snprintf(up, sizeof(up), "?");
	long long ms = jm_int(reply, "interval_ms");
	if (ms % 1000 == 0)
		snprintf(interval, sizeof(interval), "%llds", ms / 1000);
	else
		snprintf(interval, sizeof(interval), "%lldms", ms);

	long long procs = jm_int(reply, "processes"), segs = jm_int(reply, "segments");
	long long unreadable = jm_int(reply, "segments_unreadable");
	long long bad = jm_int(reply, "segments_bad"), clients = jm_int(reply, "clients");
	char version[256], dir[4 * 1024];   /* the daemon's words: escaped all the same */
	printf("jmstatd %s on %s (%s)\n", jm_safe(version, sizeof version, jm_str(reply, "version")),
	       o->socket, o->socket_from ? o->socket_from : "--socket");
	printf("  pid        %lld, running as %s, up %s\n", jm_int(reply, "pid"), user, up);
	printf("  stats dir  %s\n", jm_safe(dir, sizeof dir, jm_str(reply, "stats_dir")));
	printf("  interval   %s (the latest sampling took %.1f ms)\n", interval,
	       jm_num(reply, "tick_ms"));
	if (strcmp(jm_str(reply, "scope"), "uid") == 0 ||
	    strcmp(jm_str(reply, "scope"), "namespace") == 0) {
		/* A daemon of another user (root's) tells a user only of theirs. */
		printf("  segments   %lld of your processes read (the daemon counts the other "
		       "users' for root only)\n", procs);
		if (jm_int(reply, "processes_untracked") > 0)
			printf("  untracked  %lld of your processes: the daemon tracks %lld of a "
			       "user's at most (--user-processes)\n", jm_int(reply, "processes_untracked"),
			       jm_int(reply, "user_processes"));
		if (jm_int(reply, "segment_files_untracked") > 0)
			printf("  untracked  %lld of your files under segment names, neither read nor "
			       "shown: the daemon tracks %lld of a user's at most (--user-processes + "
			       "1024); a process of yours that starts meanwhile is not shown\n",
			       jm_int(reply, "segment_files_untracked"),
			       jm_int(reply, "user_processes") + 1024);
		printf("  clients    %lld of yours connected\n", clients);
		json_decref(reply);
		return 0;
	}
	printf("  segments   %lld found: %lld read (%lld live process%s)", segs,
	       segs - unreadable - bad, procs, plural(procs, "", "es"));
	printf(", %lld not readable by jmstatd's user", unreadable);
	printf(", %lld bad (not %s)\n", bad, plural(bad, "a jmalloc segment", "jmalloc segments"));
	if (unreadable > 0)
		printf("             (a jmstatd run by a user sees that user's processes; "
		       "run it as root to see everyone's)\n");
	if (jm_int(reply, "processes_untracked") > 0)
		printf("  untracked  %lld live process%s past --user-processes (%lld a user; the "
		       "log names the uids)\n", jm_int(reply, "processes_untracked"),
		       plural(jm_int(reply, "processes_untracked"), "", "es"),
		       jm_int(reply, "user_processes"));
	if (jm_int(reply, "segment_files_untracked") > 0)
		printf("  untracked  %lld file%s under segment names past a user's bound "
		       "(--user-processes + 1024), neither read nor shown (the log names the uids)\n",
		       jm_int(reply, "segment_files_untracked"),
		       plural(jm_int(reply, "segment_files_untracked"), "", "s"));
	printf("  clients    %lld connected\n", clients);
	json_decref(reply);
	return 0;
}
