/*
 * alerts_view.c: what an alert shows.
 *
 * The sites behind an alert, read from its process's segment (sites.c)
 * when it goes pending or fires and when the alerts are listed (at most
 * every ALERTS_SITES_REFRESH_S): for sparse_bin by live bytes in its bin,
 * for fragmentation in the bins with the most wasted bytes
 * (jmd_alert_worst_bins), for growth overall; kept as raw return
 * addresses. And the views of the alerts: the `alerts` reply
 * (jmd_alerts_list) and the Prometheus series (jmd_alerts_metrics).
 */
#include "alerts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A figure of the alert as a JSON integer. Its bytes are what the
 * process's counters say: a forged 2^64 - 1 made a double out of the
 * range of json_int_t, whose cast is undefined (UBSan's
 * float-cast-overflow stopped the daemon). NaN is 0. */
static json_int_t json_int_of(double x)
{
	if (!(x == x))
		return 0;
	if (x >= 9223372036854775807.0)
		return INT64_MAX;
	if (x <= -9223372036854775807.0)
		return -INT64_MAX;
	return (json_int_t)x;
}

/* A count of the alert's sites: at most INT64_MAX (their sums saturate at
 * 2^64 - 1, which the cast made -1). */
static json_int_t json_u64(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v;
}

/* ------------------------------------------------------------ sites */

uint64_t jmd_alert_bin_wasted(const struct jmd_bin *b)
{
	return jmd_bin_wasted_bytes(b);        /* the bins' wasted_bytes (fields.h) */
}

/* The bins of p with the most wasted bytes: the fewest, at most
 * JMD_SITE_BINS, that hold ALERTS_WORST_SHARE of its small runs' waste,
 * worst first. Their indexes into classes; returns how many (0: p wastes
 * nothing in small runs). */
uint32_t jmd_alert_worst_bins(const struct jmd_proc *p, uint32_t *classes)
{
	uint64_t total = 0, got = 0;
	uint32_t n = 0;
	for (uint32_t b = 0; b < p->nbins; b++)
		jmd_sum_u64(&total, jmd_alert_bin_wasted(&p->bins[b]));
	while (n < JMD_SITE_BINS && (double)got < ALERTS_WORST_SHARE * (double)total) {
		uint32_t best = UINT32_MAX;
		uint64_t best_w = 0;
		for (uint32_t b = 0; b < p->nbins; b++) {
			uint64_t w = jmd_alert_bin_wasted(&p->bins[b]);
			bool taken = false;
			for (uint32_t k = 0; k < n; k++)
				taken = taken || classes[k] == b;
			if (!taken && w > best_w) {
				best = b;
				best_w = w;
			}
		}
		if (best == UINT32_MAX)
			break;
		classes[n++] = best;
		jmd_sum_u64(&got, best_w);
	}
	return n;
}

/* Reads the sites behind a from p, its process, at most once a tick. */
void jmd_alert_take_sites(struct jmd_alerts *A, struct alert *a, const struct jmd_proc *p)
{
	struct jmd *d = A->d;
	if (!p || p->pid != a->pid || p->start_ticks != a->start_ticks || a->sites_tick == d->tick)
		return;
	uint32_t classes[JMD_SITE_BINS], n = 0;
	switch (a->kind) {
	case KIND_SPARSE:
		for (uint32_t b = 0; b < p->nbins && n == 0; b++)
			if (p->bins[b].size == a->bin_size)
				classes[n++] = b;
		if (n == 0)
			return;
		break;
	case KIND_FRAG:
		/* No waste in small runs: then by their whole live bytes. */
		n = jmd_alert_worst_bins(p, classes);
		break;
	case KIND_GROWTH:
		break;
	}
	struct jmd_site top[ALERTS_SITES];
	uint64_t sample_bytes = 0;
	char where[ALERTS_WHERE_LEN];
	int rc = jmd_sites_top_where(d, p, classes, n, top, ALERTS_SITES, &sample_bytes, where,
	                             sizeof(where), ALERTS_LOG_FRAMES);
	a->sites_tick = d->tick;
	if (rc < 0) {
		jmd_debug("alert %u: cannot read the sites of pid %d: %s", a->id, (int)a->pid,
		          strerror(-rc));
		return;
	}
	a->sites_taken = true;
	a->sites_time = d->now;
	a->sites_mono = d->mono;
	a->sample_bytes = sample_bytes;
	a->nclasses = n;
	for (uint32_t k = 0; k < n; k++)
		a->class_sizes[k] = p->bins[classes[k]].size;
	a->nsites = (uint32_t)rc;
	memcpy(a->sites, top, (size_t)rc * sizeof(top[0]));
	memcpy(a->top_where, where, sizeof(where));
}

/* The sites as one line of text, "0x401234<0x401100<... 12.3MiB; ...":
 * frames innermost first, at most max_frames of each ("<..." when there
 * are more), at most max_sites sites. "" when none. With where, the top
 * site's frames are named by module and offset as read with the sites
 * (a->top_where, ALERTS_LOG_FRAMES of them), "prog+0x125a<...": the log
 * line, read when the process and its addresses may be long gone. */
const char *jmd_alert_sites_text(const struct alert *a, char *buf, size_t len, unsigned max_sites,
                              unsigned max_frames, bool where)
{
	size_t off = 0;
	char b[32];
	buf[0] = '\0';
	for (uint32_t i = 0; i < a->nsites && i < max_sites && off < len; i++) {
		const struct jmd_site *s = &a->sites[i];
		if (i)
			off += (size_t)snprintf(buf + off, len - off, "; ");
		if (where && i == 0 && a->top_where[0]) {
			off += (size_t)snprintf(buf + off, len - off, "%s", a->top_where);
		} else {
			for (uint32_t f = 0; f < s->nframes && f < max_frames && off < len; f++)
				off += (size_t)snprintf(buf + off, len - off, "%s0x%llx", f ? "<" : "",
				                        (unsigned long long)s->frames[f]);
			if (s->nframes > max_frames && off < len)
				off += (size_t)snprintf(buf + off, len - off, "<...");
		}
		jm_fmt_bytes(b, sizeof(b), (double)s->live_bytes);
		char *sp = strchr(b, ' ');
		if (sp)
			memmove(sp, sp + 1, strlen(sp));
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, " %s", b);
		if (s->error_bytes && off < len) {
			jm_fmt_bytes(b, sizeof(b), (double)s->error_bytes);
			if ((sp = strchr(b, ' ')) != NULL)
				memmove(sp, sp + 1, strlen(sp));
			off += (size_t)snprintf(buf + off, len - off, "+-%s", b);
		}
	}
	return buf;
}

/* ------------------------------------------------------------ views */

json_t *jmd_alert_sites_json(const struct alert *a)
{
	json_t *arr = json_array(), *sizes = json_array();
	char hex[24];
	for (uint32_t i = 0; i < a->nsites; i++) {
		const struct jmd_site *s = &a->sites[i];
		json_t *o = json_object(), *frames = json_array(), *bins = json_array();
		json_object_set_new(o, "id", json_string(jmd_site_name(s->id, hex, sizeof(hex))));
		for (uint32_t f = 0; f < s->nframes; f++) {
			snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)s->frames[f]);
			json_array_append_new(frames, json_string(hex));
		}
		json_object_set_new(o, "frames", frames);
		json_object_set_new(o, "live_bytes", json_integer(json_u64(s->live_bytes)));
		json_object_set_new(o, "site_live_bytes", json_integer(json_u64(s->site_live_bytes)));
		json_object_set_new(o, "error_bytes", json_integer(json_u64(s->error_bytes)));
		json_object_set_new(o, "bounded", json_boolean(s->bounded));
		json_object_set_new(o, "live_objects", json_integer(json_u64(s->live_objects)));
		json_object_set_new(o, "samples", json_integer(json_u64(s->samples)));
		for (uint32_t k = 0; k < s->nbins; k++)
			json_array_append_new(bins, json_pack("{s:I,s:I}", "size",
			                      (json_int_t)s->bins[k].size, "live_bytes",
			                      json_u64(s->bins[k].live_bytes)));
		json_object_set_new(o, "bins", bins);
		json_array_append_new(arr, o);
	}
	for (uint32_t k = 0; k < a->nclasses; k++)
		json_array_append_new(sizes, json_integer(a->class_sizes[k]));
	json_t *o = json_object();
	json_object_set_new(o, "sites", arr);
	json_object_set_new(o, "sites_bins", sizes);
	return o;
}

json_t *jmd_alerts_list(struct jmd *d, jmd_viewer viewer)
{
	json_t *arr = json_array();
	struct jmd_alerts *A = d->alerts;
	if (!A || !arr)
		return arr;
	for (struct alert *a = A->head; a; a = a->next) {
		if (!jmd_visible(a->uid, a->ns_own, a->ns_top, a->container, viewer))
			continue;
		struct jmd_proc *p = jmd_proc_find(d, a->pid, 0);
		bool alive = p && p->start_ticks == a->start_ticks;
		if (alive && (a->state == ST_PENDING || a->state == ST_FIRING) &&
		    (!a->sites_taken || d->mono - a->sites_mono >= ALERTS_SITES_REFRESH_S))
			jmd_alert_take_sites(A, a, p);
		json_t *o = json_object();
		json_object_set_new(o, "id", json_integer(a->id));
		json_object_set_new(o, "rule", json_string(a->rule));
		json_object_set_new(o, "kind", json_string(jmd_alert_kind_names[a->kind]));
		json_object_set_new(o, "state", json_string(jmd_alert_state_names[a->state]));
		json_object_set_new(o, "pid", json_integer(a->pid));
		json_object_set_new(o, "uid", json_integer(a->uid));
		json_object_set_new(o, "exe", json_string(a->exe));
		json_object_set_new(o, "path", json_string(a->path));
		json_object_set_new(o, "container",
		                    a->container[0] ? json_string(a->container) : json_null());
		json_object_set_new(o, "pod", a->pod[0] ? json_string(a->pod) : json_null());
		if (a->bin_size)
			json_object_set_new(o, "bin_size", json_integer(a->bin_size));
		json_object_set_new(o, "since", json_real(a->since));
		json_object_set_new(o, "started", json_real(a->started));
		json_object_set_new(o, "value", json_real(a->value));
		json_object_set_new(o, "threshold", json_real(a->threshold));
		json_object_set_new(o, "bytes", json_integer(json_int_of(a->bytes)));
		char vt[32], tt[32];
		json_object_set_new(o, "value_text", json_string(jmd_alert_fmt_value(vt, sizeof(vt), a->kind, a->value)));
		json_object_set_new(o, "threshold_text",
		                    json_string(jmd_alert_fmt_value(tt, sizeof(tt), a->kind, a->threshold)));
		json_object_set_new(o, "message", json_string(a->message));
		if (a->reason[0])
			json_object_set_new(o, "reason", json_string(a->reason));
		json_object_set_new(o, "alive", json_boolean(alive));
		if (a->sites_taken) {
			json_t *s = jmd_alert_sites_json(a);
			json_object_update(o, s);
			json_decref(s);
			json_object_set_new(o, "sites_time", json_real(a->sites_time));
			json_object_set_new(o, "sample_bytes", json_integer((json_int_t)a->sample_bytes));
		}
		json_array_append_new(arr, o);
	}
	return arr;
}

void jmd_alerts_metrics(struct jmd *d, struct jmd_text *t)
{
	struct jmd_alerts *A = d->alerts;
	if (!A)
		return;
	jmd_text_puts(t, "# HELP jmalloc_alerts Alerts of each rule in force, by state.\n"
	                 "# TYPE jmalloc_alerts gauge\n");
	for (size_t i = 0; i < A->rules.n; i++) {
		unsigned n[4] = { 0 };
		for (const struct alert *a = A->head; a; a = a->next)
			if (a->rule_idx == (int)i)
				n[a->state]++;
		for (unsigned s = ST_PENDING; s <= ST_FIRING; s++) {
			jmd_text_puts(t, "jmalloc_alerts{rule=");
			jmd_text_label(t, A->rules.v[i].name);
			jmd_text_printf(t, ",state=\"%s\"} %u\n", jmd_alert_state_names[s], n[s]);
		}
	}
	jmd_text_puts(t, "# HELP jmalloc_alert_state Each pending (1) or firing (2) alert.\n"
	                 "# TYPE jmalloc_alert_state gauge\n");
	for (const struct alert *a = A->head; a; a = a->next) {
		if (a->state != ST_PENDING && a->state != ST_FIRING)
			continue;
		jmd_text_puts(t, "jmalloc_alert_state{rule=");
		jmd_text_label(t, a->rule);
		jmd_text_printf(t, ",pid=\"%d\",exe=", (int)a->pid);
		jmd_text_label(t, a->exe);
		if (a->container[0]) {
			jmd_text_puts(t, ",container=");
			jmd_text_label(t, a->container);
		}
		if (a->pod[0]) {
			jmd_text_puts(t, ",pod=");
			jmd_text_label(t, a->pod);
		}
		if (a->bin_size)
			jmd_text_printf(t, ",size=\"%u\"", a->bin_size);
		jmd_text_printf(t, "} %d\n", a->state == ST_FIRING ? 2 : 1);
	}
	jmd_text_puts(t, "# HELP jmalloc_alert_transitions_total Alert transitions, by the state "
	                 "entered.\n# TYPE jmalloc_alert_transitions_total counter\n");
	for (unsigned s = ST_INACTIVE; s <= ST_RESOLVED; s++)
		jmd_text_printf(t, "jmalloc_alert_transitions_total{state=\"%s\"} %llu\n",
		                jmd_alert_state_names[s], (unsigned long long)A->transitions[s]);
	jmd_text_puts(t, "# HELP jmalloc_alert_commands_total Alert commands, by result.\n"
	                 "# TYPE jmalloc_alert_commands_total counter\n");
	jmd_text_printf(t, "jmalloc_alert_commands_total{result=\"ok\"} %llu\n"
	                   "jmalloc_alert_commands_total{result=\"failed\"} %llu\n"
	                   "jmalloc_alert_commands_total{result=\"timeout\"} %llu\n"
	                   "jmalloc_alert_commands_total{result=\"skipped\"} %llu\n",
	                (unsigned long long)A->cmd_ok, (unsigned long long)A->cmd_failed,
	                (unsigned long long)A->cmd_timeout, (unsigned long long)A->cmd_skipped);
	jmd_text_puts(t, "# HELP jmalloc_alert_commands_queued_total Alert commands that waited for "
	                 "a free slot before they ran.\n"
	                 "# TYPE jmalloc_alert_commands_queued_total counter\n");
	jmd_text_printf(t, "jmalloc_alert_commands_queued_total %llu\n",
	                (unsigned long long)A->cmd_queued);
	jmd_text_puts(t, "# HELP jmalloc_alert_commands_waiting Alert commands waiting for a free "
	                 "slot now.\n# TYPE jmalloc_alert_commands_waiting gauge\n");
	jmd_text_printf(t, "jmalloc_alert_commands_waiting %zu\n", A->nqueued);
}
