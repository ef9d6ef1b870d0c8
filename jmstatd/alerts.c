/*
 * alerts.c: the alert engine: rules, alert states, notification commands.
 *
 * Rules come from the config file (config.c splits it into sections and
 * settings; this file checks them) or, without --config, from the built-in
 * defaults (JMD_DEFAULT_RULES, the same format). Three kinds:
 * - fragmentation: a process's frag_ratio above `ratio` while its
 *   frag_bytes (active - allocated) are above `min_wasted`;
 * - growth: a process's mapped (or active, or allocated) bytes grew by more
 *   than `growth` above their lowest point in the last `window`;
 * - sparse_bin: one bin of a process whose util is below `util_below`
 *   while its runs hold more than `min_held` bytes (capacity x size).
 *
 * One alert exists per (rule, process, bin for sparse_bin), a process being
 * (pid, start time): the pointer to its jmd_proc is never kept. States:
 *
 *   (none) --condition--> pending --held `for`--> firing
 *   pending --condition gone--> (none; logged as "inactive")
 *   firing --past the clear thresholds for `clear_for`--> resolved
 *   firing --process gone, or rule removed by a reload--> resolved
 *
 * The clear thresholds give hysteresis: a firing alert stays firing until
 * its value is back past `clear` (default 10% back from the threshold) or
 * its bytes under `clear_bytes` (default 90% of the floor). A resolved
 * alert is listed for `resolved_keep` (default 10 min, at most
 * ALERTS_RESOLVED_MAX, ALERTS_RESOLVED_UID of one user's), then
 * forgotten. Every transition is one log line, and may run the rule's command (by default on firing and resolved):
 * /bin/sh -c COMMAND, spawned through uv_spawn so the loop never waits,
 * with the alert in JMALLOC_ALERT_* variables, killed after
 * `command_timeout` (with its whole process group: each command runs in
 * a session of its own); at most ALERTS_CMDS_MAX run at once. Commands
 * still running when jmstatd exits are left to finish.
 *
 * One user's processes cannot starve the others' alerts: the commands of
 * the alerts of one uid other than root run ALERTS_CMDS_UID at a time,
 * ALERTS_CMDS_ROOT slots are kept for alerts of root's processes, and a
 * command that cannot start yet waits in a queue (in order; at most
 * ALERTS_QUEUE_UID per uid, ALERTS_QUEUE_MAX in all: past that it is not
 * run, and counted as skipped), started as soon as a slot frees. The
 * transition lines of alerts of other uids' processes share a log budget
 * as the bad segments' do (jmd_log_within: a burst, then one line every
 * JMD_LOG_EVERY_MS, the count of those left out in the next): a user
 * whose processes flip in and out of alert cannot flood the log; root's
 * are always logged.
 *
 * The sites behind an alert (docs/config.md): when an alert goes pending or
 * fires, and when alerts are listed while it is active (if its reading is
 * older than ALERTS_SITES_REFRESH_S: a listing of thousands of alerts
 * must not read thousands of segments each time), the top ALERTS_SITES allocation sites of its process are read
 * from the segment (sites.c): for sparse_bin by live bytes in its bin, for
 * fragmentation in the bins with the most wasted bytes (jmd_alert_worst_bins()), for
 * growth overall. They stay raw return addresses (the daemon never opens a
 * program's files): in the `alerts` reply and in JMALLOC_ALERT_SITES;
 * jmctl symbolizes them. The top one in the firing log line is named by
 * module and file offset, from the segment's module table (jmd_site_where),
 * which still names the code once the process and its addresses are gone.
 *
 * Active alerts (pending, firing) are in a hash keyed by rule name,
 * process and bin; all alerts are in one list, oldest first. Everything
 * runs on the loop thread.
 */
#include "alerts.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ alerts */

unsigned jmd_alert_hash(const char *rule, pid_t pid, uint64_t start, uint32_t bin)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *c = rule; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ull;
	h = (h ^ (uint64_t)(uint32_t)pid) * 1099511628211ull;
	h = (h ^ start) * 1099511628211ull;
	h = (h ^ bin) * 1099511628211ull;
	return (unsigned)(h ^ (h >> 32)) % ALERTS_BUCKETS;
}

struct alert *jmd_alert_find(struct jmd_alerts *A, const char *rule, pid_t pid,
                                uint64_t start, uint32_t bin)
{
	for (struct alert *a = A->buckets[jmd_alert_hash(rule, pid, start, bin)]; a; a = a->hnext)
		if (a->pid == pid && a->start_ticks == start && a->bin_size == bin &&
		    strcmp(a->rule, rule) == 0)
			return a;
	return NULL;
}

void jmd_alert_hash_remove(struct jmd_alerts *A, struct alert *a)
{
	struct alert **pp = &A->buckets[jmd_alert_hash(a->rule, a->pid, a->start_ticks, a->bin_size)];
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == a) {
			*pp = a->hnext;
			a->hnext = NULL;
			return;
		}
	}
}

void jmd_alert_list_remove(struct jmd_alerts *A, struct alert *a)
{
	if (a->prev)
		a->prev->next = a->next;
	else
		A->head = a->next;
	if (a->next)
		a->next->prev = a->prev;
	else
		A->tail = a->prev;
	if (a->state == ST_RESOLVED)
		A->nresolved--;
	free(a);
}

/* ------------------------------------------------------------ transitions */

const struct rule *jmd_alert_rule(const struct jmd_alerts *A, const struct alert *a)
{
	return a->rule_idx >= 0 && (size_t)a->rule_idx < A->rules.n ? &A->rules.v[a->rule_idx] : NULL;
}

/* Moves a to state s, logs it, runs the command; p is a's process when it
 * is live (NULL otherwise): going pending or firing reads its sites. An
 * alert that goes inactive is freed: a is invalid afterwards. */
void jmd_alert_transition(struct jmd_alerts *A, struct alert *a, enum state s, const char *why,
                       const struct jmd_proc *p)
{
	struct jmd *d = A->d;
	enum state prev = a->state;
	a->state = s;
	a->since = d->now;
	a->since_mono = d->mono;
	a->clear_since = 0;
	snprintf(a->reason, sizeof(a->reason), "%s", why ? why : "");
	A->transitions[s]++;
	if (p)
		a->gid = p->cred_gid;
	if (s == ST_PENDING || s == ST_FIRING)
		jmd_alert_take_sites(A, a, p);
	char bin[32] = "", top[ALERTS_WHERE_LEN + 64] = "";
	if (a->bin_size)
		snprintf(bin, sizeof(bin), " bin %u", a->bin_size);
	if (s == ST_FIRING && a->nsites) {
		char text[sizeof(top) - 16];
		snprintf(top, sizeof(top), "; top site: %s",
		         jmd_alert_sites_text(a, text, sizeof(text), 1, ALERTS_LOG_FRAMES, true));
	}
	char ct[32] = "";
	if (a->container[0])
		snprintf(ct, sizeof(ct), ", container %.12s", a->container);
	jmd_alert_log(A, a->who, "alert %u %s: pid %d (%s%s)%s: %s -> %s: %s%s%s%s", a->id, a->rule,
	          (int)a->pid, a->exe, ct, bin, jmd_alert_state_names[prev], jmd_alert_state_names[s], a->message,
	          why ? "; " : "", why ? why : "", top);
	if (s == ST_RESOLVED || s == ST_INACTIVE)
		jmd_alert_hash_remove(A, a);
	if (s == ST_RESOLVED)
		A->nresolved++;
	const struct rule *r = jmd_alert_rule(A, a);
	unsigned notify = r ? r->notify : A->rules.notify;
	const char *command = r && r->command ? r->command : A->rules.command;
	if (command && *command && (notify & (1u << s)))
		jmd_alert_run_command(A, a, command, prev);
	if (s == ST_INACTIVE)
		jmd_alert_list_remove(A, a);
}

static struct alert *alert_new(struct jmd_alerts *A, const struct rule *r, int idx,
                               const struct jmd_proc *p, uint32_t bin)
{
	struct alert *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->id = A->next_id++;
	snprintf(a->rule, sizeof(a->rule), "%s", r->name);
	a->kind = r->kind;
	a->rule_idx = idx;
	a->pid = p->pid;
	a->start_ticks = p->start_ticks;
	a->uid = p->uid;
	a->ns_own = p->ns_own;
	a->ns_top = p->ns_top;
	a->gid = p->cred_gid;
	a->who = jmd_proc_charge(A->d, p);
	memcpy(a->exe, p->exe, sizeof(a->exe));
	memcpy(a->path, p->path, sizeof(a->path));
	memcpy(a->container, p->labels.container, sizeof(a->container));
	memcpy(a->pod, p->labels.pod, sizeof(a->pod));
	a->bin_size = bin;
	a->state = ST_INACTIVE;
	a->started = A->d->now;
	a->started_mono = A->d->mono;
	unsigned h = jmd_alert_hash(a->rule, a->pid, a->start_ticks, bin);
	a->hnext = A->buckets[h];
	A->buckets[h] = a;
	a->prev = A->tail;
	if (A->tail)
		A->tail->next = a;
	else
		A->head = a;
	A->tail = a;
	return a;
}

/* One evaluation of one (rule, process, bin): trigger says the alert's
 * condition holds; clear, when not NULL, that a firing alert may resolve,
 * and which figure went back past its clear threshold (the reason logged
 * with the resolve). */
static void step(struct jmd_alerts *A, const struct rule *r, int idx, const struct jmd_proc *p,
                 uint32_t bin, double value, double bytes, bool trigger, const char *clear,
                 const char *message)
{
	struct jmd *d = A->d;
	struct alert *a = jmd_alert_find(A, r->name, p->pid, p->start_ticks, bin);
	if (!a) {
		if (!trigger)
			return;
		a = alert_new(A, r, idx, p, bin);
		if (!a)
			return;
	}
	a->seen_tick = d->tick;
	a->rule_idx = idx;
	a->value = value;
	a->bytes = bytes;
	a->threshold = r->threshold;
	snprintf(a->message, sizeof(a->message), "%s", message);
	switch (a->state) {
	case ST_INACTIVE:
		if (r->for_s <= 0)
			jmd_alert_transition(A, a, ST_FIRING, NULL, p);
		else
			jmd_alert_transition(A, a, ST_PENDING, NULL, p);
		break;
	case ST_PENDING:
		if (!trigger)
			jmd_alert_transition(A, a, ST_INACTIVE, "the condition cleared before it was held for long "
			           "enough", p);
		else if (d->mono - a->started_mono >= r->for_s - 0.0005)
			jmd_alert_transition(A, a, ST_FIRING, NULL, p);
		break;
	case ST_FIRING:
		if (!clear) {
			a->clear_since = 0;
			break;
		}
		if (a->clear_since == 0)
			a->clear_since = d->mono;
		if (d->mono - a->clear_since >= r->clear_for_s - 0.0005)
			jmd_alert_transition(A, a, ST_RESOLVED, clear, p);
		break;
	case ST_RESOLVED:
		break;
	}
}

static double metric_of(const struct jmd_hist *h, enum metric m)
{
	return (double)(m == METRIC_MAPPED ? h->mapped : m == METRIC_ACTIVE ? h->active : h->allocated);
}

/* Growth of the metric: now less its lowest sample in the window; *span
 * the time from the oldest sample read in the window to now (shorter than
 * the window for a process younger than it, and never more than its age). */
static double growth_of(struct jmd *d, const struct jmd_proc *p, const struct rule *r,
                        double *low_out, double *span)
{
	double oldest = d->mono;
	double now_v = (double)(r->metric == METRIC_MAPPED ? p->tot.mapped :
	                        r->metric == METRIC_ACTIVE ? p->tot.active : p->tot.allocated);
	double low = now_v;
	const struct jmd_ring *ring = &p->hist;
	if (ring->count) {
		double since = d->mono - r->window_s - 0.0005;
		for (uint32_t i = 0; i < ring->count; i++) {
			uint32_t at = (ring->head + ring->alloc - 1 - i) % ring->alloc;
			const struct jmd_hist *h = &ring->e[at];
			bool valid;
			double t = jmd_tick_mono(d, h->tick, &valid);
			if (!valid || t < since)
				break;
			oldest = t;
			double v = metric_of(h, r->metric);
			if (v < low)
				low = v;
		}
	}
	*low_out = low;
	*span = d->mono - oldest;
	if (p->start_time > 0 && jmd_proc_age_s(d, p) < *span)
		*span = jmd_proc_age_s(d, p);
	if (*span < 0)
		*span = 0;
	return now_v - low;
}

void jmd_alerts_evaluate(struct jmd *d, const struct jmd_proc *p)
{
	struct jmd_alerts *A = d->alerts;
	if (!A)
		return;
	char msg[256], why[160], b1[32], b2[32], b3[32], b4[32], b5[32];
	for (size_t i = 0; i < A->rules.n; i++) {
		const struct rule *r = &A->rules.v[i];
		if (r->exe && fnmatch(r->exe, p->exe, 0) != 0)
			continue;
		if (r->path && fnmatch(r->path, p->path, 0) != 0)
			continue;
		switch (r->kind) {
		case KIND_FRAG: {
			double ratio = jmd_frag_ratio(p->tot.active, p->tot.allocated);
			double wasted = p->tot.active > p->tot.allocated ?
			                (double)(p->tot.active - p->tot.allocated) : 0.0;
			bool trigger = ratio > r->threshold && wasted > r->min_bytes;
			/* The message only for an alert there is or will be: formatted
			 * for every process every tick, it was most of this function. */
			if (!trigger && !jmd_alert_find(A, r->name, p->pid, p->start_ticks, 0))
				break;
			snprintf(msg, sizeof(msg), "fragmentation %s: %s of %s active not allocated "
			         "(rule: above %s with over %s)", jmd_alert_fmt_pct(b1, sizeof(b1), ratio),
			         jm_fmt_bytes(b2, sizeof(b2), wasted),
			         jm_fmt_bytes(b3, sizeof(b3), (double)p->tot.active),
			         jmd_alert_fmt_pct(b4, sizeof(b4), r->threshold),
			         jm_fmt_bytes(b5, sizeof(b5), r->min_bytes));
			const char *clear = NULL;
			if (ratio < r->clear) {
				snprintf(why, sizeof(why), "fragmentation down to %s, under %s",
				         jmd_alert_fmt_pct(b1, sizeof(b1), ratio), jmd_alert_fmt_pct(b2, sizeof(b2), r->clear));
				clear = why;
			} else if (wasted < r->clear_bytes) {
				snprintf(why, sizeof(why), "fragmented bytes down to %s, under %s "
				         "(fragmentation still %s)", jm_fmt_bytes(b1, sizeof(b1), wasted),
				         jm_fmt_bytes(b2, sizeof(b2), r->clear_bytes),
				         jmd_alert_fmt_pct(b3, sizeof(b3), ratio));
				clear = why;
			}
			step(A, r, (int)i, p, 0, ratio, wasted, trigger, clear, msg);
			break;
		}
		case KIND_GROWTH: {
			double low, span, g = growth_of(d, p, r, &low, &span);
			if (g <= r->threshold && !jmd_alert_find(A, r->name, p->pid, p->start_ticks, 0))
				break;
			/* The span the growth was measured over: the window, or less
			 * for a process (or a history) younger than it. */
			snprintf(msg, sizeof(msg), "%s grew by %s in %s (from %s to %s; rule: over %s in %s)",
			         jmd_alert_metric_names[r->metric], jm_fmt_bytes(b1, sizeof(b1), g),
			         jmd_alert_fmt_dur(b2, sizeof(b2), span), jm_fmt_bytes(b3, sizeof(b3), low), jm_fmt_bytes(b4, sizeof(b4), low + g),
			         jm_fmt_bytes(b5, sizeof(b5), r->threshold), jmd_alert_fmt_dur(why, sizeof(why), r->window_s));
			const char *clear = NULL;
			if (g < r->clear) {
				snprintf(why, sizeof(why), "growth down to %s, under %s",
				         jm_fmt_bytes(b1, sizeof(b1), g), jm_fmt_bytes(b2, sizeof(b2), r->clear));
				clear = why;
			}
			step(A, r, (int)i, p, 0, g, g, g > r->threshold, clear, msg);
			break;
		}
		case KIND_SPARSE:
			for (uint32_t b = 0; b < p->nbins; b++) {
				const struct jmd_bin *bin = &p->bins[b];
				double util = jmd_bin_util(bin);
				double held = (double)bin->capacity * bin->size;
				bool trigger = util < r->threshold && held > r->min_bytes;
				if (!trigger && !jmd_alert_find(A, r->name, p->pid, p->start_ticks, bin->size))
					continue;
				snprintf(msg, sizeof(msg), "bin %u B: %s of its regions in use, %s held in "
				         "runs (rule: under %s with over %s)", bin->size,
				         jmd_alert_fmt_pct(b1, sizeof(b1), util), jm_fmt_bytes(b2, sizeof(b2), held),
				         jmd_alert_fmt_pct(b3, sizeof(b3), r->threshold),
				         jm_fmt_bytes(b4, sizeof(b4), r->min_bytes));
				const char *clear = NULL;
				if (util > r->clear) {
					snprintf(why, sizeof(why), "use back up to %s, over %s",
					         jmd_alert_fmt_pct(b1, sizeof(b1), util), jmd_alert_fmt_pct(b2, sizeof(b2), r->clear));
					clear = why;
				} else if (held < r->clear_bytes) {
					snprintf(why, sizeof(why), "bytes held down to %s, under %s (use still %s)",
					         jm_fmt_bytes(b1, sizeof(b1), held),
					         jm_fmt_bytes(b2, sizeof(b2), r->clear_bytes),
					         jmd_alert_fmt_pct(b3, sizeof(b3), util));
					clear = why;
				}
				step(A, r, (int)i, p, bin->size, util, held, trigger, clear, msg);
			}
			break;
		}
	}
}

void jmd_alerts_tick_done(struct jmd *d)
{
	struct jmd_alerts *A = d->alerts;
	if (!A)
		return;
	struct alert *next;
	for (struct alert *a = A->head; a; a = next) {
		next = a->next;
		if ((a->state == ST_PENDING || a->state == ST_FIRING) && a->seen_tick != d->tick) {
			/* Not evaluated this tick: its process is gone, or a reload
			 * changed the rule's exe pattern. */
			struct jmd_proc *p = jmd_proc_find(d, a->pid, 0);
			const char *why = p && p->start_ticks == a->start_ticks ?
			                  "the process no longer matches the rule" : "the process is gone";
			jmd_alert_transition(A, a, a->state == ST_PENDING ? ST_INACTIVE : ST_RESOLVED, why, NULL);
			continue;
		}
		if (a->state == ST_RESOLVED && d->mono - a->since_mono > A->rules.resolved_keep_s)
			jmd_alert_list_remove(A, a);
	}
	/* The resolved kept, newest first: ALERTS_RESOLVED_UID of one user's
	 * processes (its subordinate uids' included) and ALERTS_RESOLVED_MAX
	 * in all, that shared fairly (jmd_tally_level). One user's churn of
	 * short-lived processes that each fire (1,100 of nobody's) pushed
	 * every other resolved alert out of the list, root's service's
	 * included; then eleven users' together still did. */
	static struct jmd_tally count, keep;
	size_t kept = 0;
	struct alert *prev;
	if (!A->nresolved)
		return;
	memset(&count, 0, sizeof(count));
	for (struct alert *a = A->tail; a; a = a->prev) {
		uint32_t *n = a->state == ST_RESOLVED ? jmd_tally(&count, a->who) : NULL;
		if (n)
			++*n;
	}
	uint32_t level = jmd_tally_level(&count, ALERTS_RESOLVED_UID, ALERTS_RESOLVED_MAX);
	memset(&keep, 0, sizeof(keep));
	for (struct alert *a = A->tail; a && A->nresolved; a = prev) {
		prev = a->prev;
		if (a->state != ST_RESOLVED)
			continue;
		uint32_t *n = jmd_tally(&keep, a->who);
		if (!n || ++*n > level || ++kept > ALERTS_RESOLVED_MAX)
			jmd_alert_list_remove(A, a);
	}
}

/* ------------------------------------------------------------ commit */

void jmd_alerts_config_commit(struct jmd *d, bool apply)
{
	struct jmd_alerts *A = d->alerts;
	if (!A)
		return;
	A->cur = NULL;
	if (!apply) {
		jmd_alert_ruleset_free(&A->staging);
		return;
	}
	jmd_alert_ruleset_free(&A->rules);
	A->rules = A->staging;
	memset(&A->staging, 0, sizeof(A->staging));
	A->configured = true;
	for (size_t i = 0; i < A->rules.n; i++)
		if (!(A->rules.v[i].set & (1u << K_NOTIFY)))
			A->rules.v[i].notify = A->rules.notify;
	/* Alerts follow their rule by name; those whose rule is gone (or
	 * changed kind) end now. */
	struct alert *next;
	for (struct alert *a = A->head; a; a = next) {
		next = a->next;
		a->rule_idx = -1;
		for (size_t i = 0; i < A->rules.n; i++)
			if (strcmp(A->rules.v[i].name, a->rule) == 0 && A->rules.v[i].kind == a->kind)
				a->rule_idx = (int)i;
		if (a->rule_idx >= 0 || a->state == ST_RESOLVED)
			continue;
		jmd_alert_transition(A, a, a->state == ST_PENDING ? ST_INACTIVE : ST_RESOLVED,
		           "its rule was removed by a reload", NULL);
	}
	char rules[512];
	size_t len = 0;
	rules[0] = '\0';
	for (size_t i = 0; i < A->rules.n && len < sizeof(rules) - 1; i++)
		len += (size_t)snprintf(rules + len, sizeof(rules) - len, "%s%s (%s)", i ? ", " : "",
		                        A->rules.v[i].name, jmd_alert_kind_names[A->rules.v[i].kind]);
	if (len >= sizeof(rules))
		len = sizeof(rules) - 1;
	jmd_log("alert rules %s: %s", d->opt.check_config ? "in the file" : "in force",
	        A->rules.n ? rules : "none");
}

/* ------------------------------------------------------------ life */

int jmd_alerts_init(struct jmd *d)
{
	return jmd_alert_engine(d) ? 0 : -ENOMEM;
}

void jmd_alerts_stop(struct jmd *d)
{
	struct jmd_alerts *A = d->alerts;
	if (!A)
		return;
	A->stopping = true;
	for (struct cmd *c = A->cmds; c; c = c->next) {
		if (!c->exited)
			jmd_log("alert %u: leaving its command (pid %d) running at exit", c->alert_id,
			        c->proc.pid);
		jmd_alert_cmd_close(c);
	}
}

void jmd_alerts_fini(struct jmd *d)
{
	struct jmd_alerts *A = d->alerts;
	if (!A)
		return;
	while (A->head)
		jmd_alert_list_remove(A, A->head);
	while (A->queue) {
		struct job *j = A->queue;
		A->queue = j->next;
		jmd_alert_job_free(j);
	}
	while (A->cmds) {        /* only if the loop did not run their close callbacks */
		struct cmd *c = A->cmds;
		A->cmds = c->next;
		free(c);
	}
	jmd_alert_ruleset_free(&A->rules);
	jmd_alert_ruleset_free(&A->staging);
	free(A);
	d->alerts = NULL;
}
