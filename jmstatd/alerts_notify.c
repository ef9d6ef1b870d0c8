/*
 * alerts_notify.c: the notification commands of the alert engine.
 *
 * A transition that the rule notifies runs /bin/sh -c COMMAND with the
 * alert in JMALLOC_ALERT_* variables (jmd_alert_run_command), through
 * uv_spawn in a session of its own, killed with its process group after
 * `command_timeout`. At most ALERTS_CMDS_MAX run at once, ALERTS_CMDS_UID
 * for the processes of one uid other than root, ALERTS_CMDS_ROOT kept for
 * root's; one that cannot start yet waits in the queue (ALERTS_QUEUE_UID
 * per uid, ALERTS_QUEUE_MAX in all, past that skipped and counted) and
 * starts when a slot frees (queue_drain). Every line logged about an
 * alert goes through jmd_alert_log, within one budget for other users'
 * alerts.
 */
#include "alerts.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "segread.h"


extern char **environ;

/* ------------------------------------------------------------ log budget */

/* A line about an alert of a process of who's (jmd_proc_charge): root's
 * always, others' (a container's root's too) within one budget (jmd_log_within: a burst, then one every 10 s; the
 * rest to the verbose log, counted in the next line logged, root's
 * included). */
void jmd_alert_log(struct jmd_alerts *A, uint64_t who, const char *fmt, ...)
{
	char msg[1536];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct jmd_log_budget *b = &A->log_budget;
	if (who != 0) {
		jmd_log_within(b, "%s", msg);
	} else if (b->left_out) {
		jmd_log("%s (and %lu more lines about %s left out before this one)", msg, b->left_out,
		        b->about);
		b->left_out = 0;
	} else {
		jmd_log("%s", msg);
	}
}

/* ------------------------------------------------------------ commands */

static void queue_drain(struct jmd_alerts *A);

static void cmd_closed(uv_handle_t *h)
{
	struct cmd *c = h->data;
	if (--c->open_handles)
		return;
	struct jmd_alerts *A = c->A;
	if (c->prev)
		c->prev->next = c->next;
	else
		A->cmds = c->next;
	if (c->next)
		c->next->prev = c->prev;
	A->ncmds--;
	free(c);
	queue_drain(A);
}

void jmd_alert_cmd_close(struct cmd *c)
{
	if (!uv_is_closing((uv_handle_t *)&c->timer)) {
		uv_timer_stop(&c->timer);
		uv_close((uv_handle_t *)&c->timer, cmd_closed);
	}
	if (!uv_is_closing((uv_handle_t *)&c->proc))
		uv_close((uv_handle_t *)&c->proc, cmd_closed);
}

static void cmd_exited(uv_process_t *p, int64_t status, int term_signal)
{
	struct cmd *c = p->data;
	struct jmd_alerts *A = c->A;
	c->exited = true;
	if (term_signal) {
		jmd_alert_log(A, c->who, "alert %u: its command (pid %d) was killed by signal %d",
		              c->alert_id, p->pid, term_signal);
		A->cmd_failed++;
	} else if (status != 0) {
		jmd_alert_log(A, c->who, "alert %u: its command (pid %d) exited with status %lld",
		              c->alert_id, p->pid, (long long)status);
		A->cmd_failed++;
	} else {
		jmd_debug("alert %u: its command (pid %d) succeeded", c->alert_id, p->pid);
		A->cmd_ok++;
	}
	jmd_alert_cmd_close(c);
}

static void cmd_timed_out(uv_timer_t *t)
{
	struct cmd *c = t->data;
	if (c->exited)
		return;
	/* Ended, its exit not taken up yet: the loop held past the timeout
	 * (a long callback, a starved host) runs the timers before it reads
	 * the SIGCHLD that came meanwhile. It was "still runs after 5s:
	 * killing it", counted a timeout, for a command done in 20 ms (271
	 * of them in a 12-minute soak on a loaded host;
	 * tests/alerts/cmd_reaped). Its exit comes at this iteration's poll;
	 * the timer looks again in a second, should it not. */
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)c->proc.pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	    si.si_pid == c->proc.pid) {
		uv_timer_start(&c->timer, cmd_timed_out, 1000, 0);
		return;
	}
	jmd_alert_log(c->A, c->who, "alert %u: its command (pid %d) still runs after %gs: killing it",
	              c->alert_id, c->proc.pid, c->A->rules.command_timeout_s);
	c->A->cmd_timeout++;
	/* The command leads its own process group: end all of it. */
	if (kill(-c->proc.pid, SIGKILL) != 0)
		uv_process_kill(&c->proc, SIGKILL);
}

/* environ without JMALLOC_ALERT_*, then vars[]; NULL on no memory. */
static char **cmd_env(char **vars, size_t nvars)
{
	size_t n = 0;
	for (char **e = environ; e && *e; e++)
		n++;
	char **env = calloc(n + nvars + 1, sizeof(*env));
	if (!env)
		return NULL;
	size_t k = 0;
	for (char **e = environ; e && *e; e++)
		if (strncmp(*e, ALERTS_ENV_PREFIX, strlen(ALERTS_ENV_PREFIX)) != 0)
			env[k++] = *e;
	for (size_t i = 0; i < nvars; i++)
		env[k++] = vars[i];
	env[k] = NULL;
	return env;
}

void jmd_alert_job_free(struct job *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->nvars; i++)
		free(j->vars[i]);
	free(j->command);
	free(j);
}

/* May a command for an alert of a process of who's (jmd_proc_charge)
 * start now? Root's host processes have slots kept and no bound; root's
 * in a container are the container's, bounded as a user's: under root's,
 * a container without a user namespace held every slot and filled the
 * queue, and root's service's alert was not run
 * (tests/alerts/container_root.test.sh). */
static bool can_start(const struct jmd_alerts *A, uint64_t who)
{
	if (A->ncmds >= ALERTS_CMDS_MAX)
		return false;
	if (who == 0)
		return true;
	size_t others = 0, same = 0;
	for (const struct cmd *c = A->cmds; c; c = c->next) {
		if (c->who == 0)
			continue;
		others++;
		if (c->who == who)
			same++;
	}
	return others < ALERTS_CMDS_MAX - ALERTS_CMDS_ROOT && same < ALERTS_CMDS_UID;
}

/* The process at pid now: its start (/proc/PID/stat) and effective ids
 * (the owner of /proc/PID), both read through one open of the directory.
 * False if there is none, or it cannot tell; *gone (if not NULL) true
 * where there is none (no /proc/PID). */
static bool proc_now(pid_t pid, uint64_t *start, struct stat *owner, bool *gone)
{
	char path[32], buf[1024], state;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (gone)
		*gone = dfd < 0 && errno == ENOENT;
	if (dfd < 0)
		return false;
	bool ok = false;
	int fd = openat(dfd, "stat", O_RDONLY | O_CLOEXEC), err_no = errno;
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			ok = jm_seg_parse_stat(buf, &state, start) && fstat(dfd, owner) == 0;
		}
		err_no = EIO;
	}
	close(dfd);
	errno = err_no;      /* EMFILE, ENFILE: the caller's to tell */
	return ok;
}

/* May j's command run for the process it names? 0 if so, else why not:
 * REFUSED_REUSED or REFUSED_CREDS.
 * A process of a user's that published and then exec'd a set-uid or
 * set-gid program keeps its pid, start and file (the user's to write):
 * the daemon sees the change at its next look at /proc/PID (every second,
 * liveness.c), but an alert evaluated before that, or a command queued for
 * a slot meanwhile, ran root's command with the pid of a privileged process
 * under the name and figures the user chose (tests/alerts/setuid_command).
 * And a command queued while its process exited and its pid was given to
 * another (a user's loop of forks reaches any pid) ran with
 * JMALLOC_ALERT_PID naming that one, root's service perhaps, for a command
 * that acts on the process (tests/alerts/reused_pid_command). Both looked
 * at as the command starts (fourteenth pass, docs/security.md); a process
 * simply gone is the command's to find, and a resolved alert's command
 * runs whatever is at its pid now. */
enum { REFUSED_REUSED = 1, REFUSED_CREDS, REFUSED_NO_FDS };
static int job_refused(const struct job *j)
{
	uint64_t start;
	struct stat owner;
	if (!j->pid)
		return 0;
	if (!proc_now(j->pid, &start, &owner, NULL))
		return jmd_no_fds(errno) ? REFUSED_NO_FDS : 0;
	if (j->gone)
		return REFUSED_REUSED;   /* none there when it was queued */
	if (start != j->start)
		return j->live_state ? REFUSED_REUSED : 0;
	if (j->check_creds && (owner.st_uid != j->uid || owner.st_gid != j->gid))
		return REFUSED_CREDS;
	return 0;
}

/* Spawns j's command; takes j. */
static void job_start(struct jmd_alerts *A, struct job *j)
{
	struct jmd *d = A->d;
	int why = job_refused(j);
	if (why == REFUSED_NO_FDS) {
		jmd_log_no_fds(errno, "alert %u: its command not run (its process cannot be looked "
		               "at)", j->alert_id);
		A->cmd_failed++;
		jmd_alert_job_free(j);
		return;
	}
	if (why) {
		if (why == REFUSED_REUSED)
			jmd_alert_log(A, j->who, "alert %u: its command not run: its pid %d now names "
			              "another process", j->alert_id, (int)j->pid);
		else
			jmd_alert_log(A, j->who, "alert %u: its command not run: process %d now runs with "
			              "other credentials than its segment's (a set-uid or set-gid program?)",
			              j->alert_id, (int)j->pid);
		A->cmd_skipped++;
		jmd_alert_job_free(j);
		return;
	}
	char **env = cmd_env(j->vars, j->nvars);
	struct cmd *c = env ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		jmd_log("alert %u: its command not run: out of memory", j->alert_id);
		A->cmd_failed++;
		goto out;
	}
	char *args[] = { "/bin/sh", "-c", j->command, NULL };
	uv_stdio_container_t stdio[3] = {
		{ .flags = UV_IGNORE },
		{ .flags = UV_INHERIT_FD, .data.fd = STDOUT_FILENO },
		{ .flags = UV_INHERIT_FD, .data.fd = STDERR_FILENO },
	};
	uv_process_options_t o = {
		.exit_cb = cmd_exited,
		.file = args[0],
		.args = args,
		.env = env,
		.stdio_count = 3,
		.stdio = stdio,
		.flags = UV_PROCESS_DETACHED,   /* its own session: a timeout kills the group */
	};
	c->A = A;
	c->alert_id = j->alert_id;
	c->who = j->who;
	c->proc.data = c;
	c->timer.data = c;
	int rc = uv_spawn(d->loop, &c->proc, &o);
	c->next = A->cmds;
	if (A->cmds)
		A->cmds->prev = c;
	A->cmds = c;
	A->ncmds++;
	uv_timer_init(d->loop, &c->timer);
	c->open_handles = 2;
	if (rc != 0) {
		/* Out of descriptors (uv_spawn's pipe): a line for every
		 * command was 13 in two minutes of a soak at the limit, each
		 * "too many open files"; under the limit's line, one every
		 * 10 s naming it (tests/alerts/cmd_fd_limit). */
		if (jmd_no_fds(-rc))
			jmd_log_no_fds(-rc, "alert %u: its command not run", j->alert_id);
		else
			jmd_log("alert %u: cannot run its command: %s", j->alert_id, uv_strerror(rc));
		A->cmd_failed++;
		c->exited = true;
		jmd_alert_cmd_close(c);
		goto out;
	}
	jmd_debug("alert %u: command started (pid %d)", j->alert_id, c->proc.pid);
	uv_timer_start(&c->timer, cmd_timed_out, (uint64_t)(A->rules.command_timeout_s * 1000.0), 0);
out:
	free(env);
	jmd_alert_job_free(j);
}

/* Starts the queued commands that may start now, oldest first. */
static void queue_drain(struct jmd_alerts *A)
{
	struct job **pp = &A->queue, *prev = NULL;
	while (*pp && !A->stopping && A->ncmds < ALERTS_CMDS_MAX) {
		struct job *j = *pp;
		if (!can_start(A, j->who)) {
			prev = j;
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		if (A->queue_tail == j)
			A->queue_tail = prev;
		A->nqueued--;
		job_start(A, j);
	}
}

void jmd_alert_run_command(struct jmd_alerts *A, const struct alert *a, const char *command,
                        enum state previous)
{
	struct jmd *d = A->d;
	if (!d->loop || A->stopping)
		return;
	struct job *j = calloc(1, sizeof(*j));
	char sites[1024], host[256], val[32], thr[32];
	char *failed = j ? NULL : "out of memory";
	if (!j) {
		jmd_log("alert %u: its command not run: out of memory", a->id);
		A->cmd_failed++;
		return;
	}
	j->alert_id = a->id;
	/* Counted as its user's: a user's subordinate uids share its slots
	 * and its queue (principal.c); root's in a container, the
	 * container's directory's (jmd_proc_charge). */
	j->who = a->who;
	/* Its process is looked at again when the command starts
	 * (job_refused): which process the pid is now, read here. */
	if (a->pid > 0) {
		struct stat owner;
		bool live = a->state == ST_PENDING || a->state == ST_FIRING, gone;
		if (proc_now(a->pid, &j->start, &owner, &gone)) {
			j->pid = a->pid;
			j->uid = a->uid;
			j->gid = a->gid;
			j->check_creds = a->uid != 0;
			j->live_state = live;
		} else if (jmd_no_fds(errno)) {
			/* Out of descriptors: it cannot be told which process
			 * the pid is, now or when the command starts (a command
			 * queued for a slot ran with no look at its process once
			 * descriptors were free: its pid another's by then, or
			 * a set-uid program's). Not run, as one that could not
			 * be spawned for want of them. */
			jmd_log_no_fds(errno, "alert %u: its command not run (its process cannot be "
			               "looked at)", a->id);
			A->cmd_failed++;
			jmd_alert_job_free(j);
			return;
		} else if (gone && live) {
			/* Exited before the daemon saw it go (just before
			 * a tick): a process at its pid when the command
			 * starts is another (it ran unchecked, with
			 * JMALLOC_ALERT_PID naming that one:
			 * test_queued_gone_pid_reused). */
			j->pid = a->pid;
			j->gone = true;
			j->live_state = true;
		}
	}
	j->command = strdup(command);
#define VAR(name, ...)                                                         \
	do {                                                                   \
		if (asprintf(&j->vars[j->nvars], ALERTS_ENV_PREFIX name "=" __VA_ARGS__) < 0) \
			failed = "out of memory";                              \
		else                                                           \
			j->nvars++;                                            \
	} while (0)
	VAR("ID", "%u", a->id);
	VAR("RULE", "%s", a->rule);
	VAR("KIND", "%s", jmd_alert_kind_names[a->kind]);
	VAR("STATE", "%s", jmd_alert_state_names[a->state]);
	VAR("PREVIOUS_STATE", "%s", jmd_alert_state_names[previous]);
	VAR("PID", "%d", (int)a->pid);
	VAR("EXE", "%s", a->exe);
	VAR("PATH", "%s", a->path);
	VAR("CONTAINER", "%s", a->container);
	VAR("POD", "%s", a->pod);
	VAR("UID", "%u", a->uid);
	VAR("BIN_SIZE", "%u", a->bin_size);
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	VAR("HOST", "%s", host);
	VAR("SINCE", "%lld", (long long)a->since);
	VAR("STARTED", "%lld", (long long)a->started);
	/* Integers for the byte figures, so that shell arithmetic takes them. */
	if (a->kind == KIND_GROWTH) {
		VAR("VALUE", "%.0f", a->value);
		VAR("THRESHOLD", "%.0f", a->threshold);
	} else {
		VAR("VALUE", "%s", jmd_alert_fmt_ratio(val, sizeof(val), a->value));
		VAR("THRESHOLD", "%s", jmd_alert_fmt_ratio(thr, sizeof(thr), a->threshold));
	}
	VAR("VALUE_TEXT", "%s", jmd_alert_fmt_value(val, sizeof(val), a->kind, a->value));
	VAR("THRESHOLD_TEXT", "%s", jmd_alert_fmt_value(thr, sizeof(thr), a->kind, a->threshold));
	VAR("BYTES", "%.0f", a->bytes);
	VAR("MESSAGE", "%s", a->message);
	VAR("REASON", "%s", a->reason);
	VAR("SITES", "%s", jmd_alert_sites_text(a, sites, sizeof(sites), ALERTS_SITES, ALERTS_ENV_FRAMES, false));
#undef VAR
	if (failed || !j->command) {
		jmd_log("alert %u: its command not run: out of memory", a->id);
		A->cmd_failed++;
		jmd_alert_job_free(j);
		return;
	}
	if (!A->queue && can_start(A, j->who)) {
		job_start(A, j);
		return;
	}
	/* Waits for a slot, unless this uid (or everyone) has too many waiting. */
	size_t same = 0;
	for (struct job *q = A->queue; q; q = q->next)
		same += q->who == j->who;
	if (A->nqueued >= ALERTS_QUEUE_MAX || (j->who != 0 && same >= ALERTS_QUEUE_UID)) {
		jmd_alert_log(A, j->who, "alert %u: its command not run: %zu commands wait already%s",
		          a->id, j->who != 0 && same >= ALERTS_QUEUE_UID ? same : A->nqueued,
		          j->who != 0 && same >= ALERTS_QUEUE_UID ? " for this user's processes" : "");
		A->cmd_skipped++;
		jmd_alert_job_free(j);
		return;
	}
	if (A->queue_tail)
		A->queue_tail->next = j;
	else
		A->queue = j;
	A->queue_tail = j;
	A->nqueued++;
	A->cmd_queued++;
	jmd_debug("alert %u: its command waits for a slot (%zu waiting)", a->id, A->nqueued);
	queue_drain(A);
}
