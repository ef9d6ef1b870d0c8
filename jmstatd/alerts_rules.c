/*
 * alerts_rules.c: the alert rules and their checks.
 *
 * The rules come from the config file (config.c splits it into sections
 * and settings and hands them here, one by one, between
 * jmd_alerts_config_begin() and jmd_alerts_config_commit(), alerts.c) or,
 * without --config, from the built-in text below in the same format. Each
 * setting is checked as it comes and each section when it ends, with the
 * error a person can act on; the rules go into the staging ruleset, which
 * the commit puts in force or drops. Also the few formatters of values in
 * the units of a rule that the log lines and commands share.
 */
#include "alerts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The rules in force when jmstatd runs without --config (docs/config.md). */
const char jmd_alerts_builtin_rules[] =
	"[rule fragmentation]\n"
	"kind = fragmentation\n"
	"ratio = 0.5\n"
	"min_wasted = 64MiB\n"
	"for = 60s\n";

const char *const jmd_alert_kind_names[] = { "fragmentation", "growth", "sparse_bin" };
const char *const jmd_alert_metric_names[] = { "mapped", "active", "allocated" };
const char *const jmd_alert_state_names[] = { "inactive", "pending", "firing", "resolved" };

const struct rule_key jmd_alert_rule_keys[K_NKEYS] = {
	[K_KIND] = { "kind", 7 },
	[K_EXE] = { "exe", 7 },
	[K_FOR] = { "for", 7 },
	[K_CLEAR_FOR] = { "clear_for", 7 },
	[K_COMMAND] = { "command", 7 },
	[K_NOTIFY] = { "notify", 7 },
	[K_RATIO] = { "ratio", 1u << KIND_FRAG },
	[K_MIN_WASTED] = { "min_wasted", 1u << KIND_FRAG },
	[K_GROWTH] = { "growth", 1u << KIND_GROWTH },
	[K_WINDOW] = { "window", 1u << KIND_GROWTH },
	[K_METRIC] = { "metric", 1u << KIND_GROWTH },
	[K_UTIL_BELOW] = { "util_below", 1u << KIND_SPARSE },
	[K_MIN_HELD] = { "min_held", 1u << KIND_SPARSE },
	[K_CLEAR] = { "clear", 7 },
	[K_CLEAR_BYTES] = { "clear_bytes", (1u << KIND_FRAG) | (1u << KIND_SPARSE) },
	[K_PATH] = { "path", 7 },
};

/* ------------------------------------------------------------ formatting
 * (bytes: jm_fmt_bytes(), common/format.c, as jmctl writes them) */

const char *jmd_alert_fmt_pct(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%.1f%%", v * 100.0);
	return buf;
}

/* A duration as a person writes it: 90 -> "1m30s", 3600 -> "1h", 0.5 ->
 * "500ms"; whole seconds from a second up. */
const char *jmd_alert_fmt_dur(char *buf, size_t len, double s)
{
	if (s < 1.0) {
		snprintf(buf, len, "%.0fms", s * 1000.0);
		return buf;
	}
	uint64_t n = (uint64_t)(s + 0.5), h = n / 3600, m = n / 60 % 60, sec = n % 60;
	if (h)
		snprintf(buf, len, m || sec ? (sec ? "%lluh%llum%llus" : "%lluh%llum") : "%lluh",
		         (unsigned long long)h, (unsigned long long)m, (unsigned long long)sec);
	else if (m)
		snprintf(buf, len, sec ? "%llum%llus" : "%llum", (unsigned long long)m,
		         (unsigned long long)sec);
	else
		snprintf(buf, len, "%llus", (unsigned long long)sec);
	return buf;
}

/* A ratio for a script: "0.5", "0.5734" (4 decimals, never an exponent). */
const char *jmd_alert_fmt_ratio(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%.4f", v);
	char *e = buf + strlen(buf);
	while (e > buf + 1 && e[-1] == '0' && e[-2] != '.')
		*--e = '\0';
	return buf;
}

/* An alert's value or threshold in the units of its rule: bytes for
 * growth, a percentage for the ratios. */
const char *jmd_alert_fmt_value(char *buf, size_t len, enum kind k, double v)
{
	return k == KIND_GROWTH ? jm_fmt_bytes(buf, len, v) : jmd_alert_fmt_pct(buf, len, v);
}

/* ------------------------------------------------------------ rules */

void jmd_alert_rule_free(struct rule *r)
{
	free(r->exe);
	free(r->path);
	free(r->clear_text);
	free(r->command);
}

void jmd_alert_ruleset_free(struct ruleset *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		jmd_alert_rule_free(&rs->v[i]);
	free(rs->v);
	free(rs->command);
	memset(rs, 0, sizeof(*rs));
}

void jmd_alert_ruleset_defaults(struct ruleset *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->notify = NOTIFY_DEFAULT;
	rs->command_timeout_s = 30.0;
	rs->resolved_keep_s = 600.0;
}

struct jmd_alerts *jmd_alert_engine(struct jmd *d)
{
	if (!d->alerts) {
		d->alerts = calloc(1, sizeof(*d->alerts));
		if (!d->alerts)
			return NULL;
		d->alerts->d = d;
		d->alerts->next_id = 1;
		d->alerts->log_budget.about = "other users' alerts";
		jmd_alert_ruleset_defaults(&d->alerts->rules);
	}
	return d->alerts;
}

static int parse_notify(const char *v, unsigned *out, char *err, size_t errlen)
{
	unsigned mask = 0;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", v);
	char *save = NULL;
	for (char *tok = strtok_r(buf, " ,\t", &save); tok; tok = strtok_r(NULL, " ,\t", &save)) {
		unsigned s;
		for (s = ST_PENDING; s <= ST_RESOLVED; s++)
			if (strcmp(tok, jmd_alert_state_names[s]) == 0)
				break;
		if (s > ST_RESOLVED && strcmp(tok, "none") != 0) {
			snprintf(err, errlen, "notify: '%.40s' is not pending, firing, resolved or none",
			         tok);
			return -EINVAL;
		}
		if (s <= ST_RESOLVED)
			mask |= 1u << s;
	}
	*out = mask;
	return 0;
}

static int set_string(char **dst, const char *v)
{
	char *s = strdup(v);
	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

void jmd_alerts_config_begin(struct jmd *d)
{
	struct jmd_alerts *A = jmd_alert_engine(d);
	if (!A)
		return;
	jmd_alert_ruleset_free(&A->staging);
	jmd_alert_ruleset_defaults(&A->staging);
	A->cur = NULL;
	A->in_section = false;
}

int jmd_alerts_config_section(struct jmd *d, const char *type, const char *name,
                              char *err, size_t errlen)
{
	struct jmd_alerts *A = jmd_alert_engine(d);
	if (!A) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	A->in_section = true;
	A->cur = NULL;
	if (strcmp(type, "global") == 0) {
		if (name) {
			snprintf(err, errlen, "[global] takes no name");
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(type, "rule") != 0) {
		snprintf(err, errlen, "unknown section '[%.40s]': expected [rule NAME] or [global]", type);
		return -EINVAL;
	}
	if (!name || !*name) {
		snprintf(err, errlen, "a rule needs a name: [rule NAME]");
		return -EINVAL;
	}
	if (strlen(name) >= ALERTS_NAME_LEN) {
		snprintf(err, errlen, "rule name longer than %d characters", ALERTS_NAME_LEN - 1);
		return -EINVAL;
	}
	struct ruleset *rs = &A->staging;
	for (size_t i = 0; i < rs->n; i++) {
		if (strcmp(rs->v[i].name, name) == 0) {
			snprintf(err, errlen, "rule '%s' defined twice", name);
			return -EINVAL;
		}
	}
	if (rs->n >= ALERTS_RULES_MAX) {
		snprintf(err, errlen, "more than %d rules", ALERTS_RULES_MAX);
		return -EINVAL;
	}
	struct rule *v = realloc(rs->v, (rs->n + 1) * sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rs->v = v;
	A->cur = &rs->v[rs->n++];
	memset(A->cur, 0, sizeof(*A->cur));
	snprintf(A->cur->name, sizeof(A->cur->name), "%s", name);
	A->cur->clear_bytes = -1;
	return 0;
}

static int global_set(struct jmd_alerts *A, const char *key, const char *value,
                      char *err, size_t errlen)
{
	struct ruleset *rs = &A->staging;
	static const char *const keys[] = { "command", "notify", "command_timeout", "resolved_keep" };
	unsigned k;
	for (k = 0; k < 4; k++)
		if (strcmp(key, keys[k]) == 0)
			break;
	if (k == 4) {
		if (A->in_section)
			snprintf(err, errlen, "unknown setting '%.40s' in [global] (command, notify, "
			         "command_timeout, resolved_keep)", key);
		else
			snprintf(err, errlen, "unknown setting '%.40s' (global settings: command, "
			         "notify, command_timeout, resolved_keep; rules go in [rule NAME] "
			         "sections)", key);
		return -EINVAL;
	}
	if (rs->global_set & (1u << k)) {
		snprintf(err, errlen, "'%s' set twice", key);
		return -EINVAL;
	}
	rs->global_set |= 1u << k;
	double v;
	switch (k) {
	case 0:
		if (set_string(&rs->command, value) != 0)
			goto nomem;
		return 0;
	case 1:
		return parse_notify(value, &rs->notify, err, errlen);
	case 2:
		if (jmd_parse_duration(value, &v) != 0 || v < 0.1 || v > 86400) {
			snprintf(err, errlen, "command_timeout: '%.40s' is not a duration in "
			         "100ms..24h (e.g. 30s)", value);
			return -EINVAL;
		}
		rs->command_timeout_s = v;
		return 0;
	default:
		if (jmd_parse_duration(value, &v) != 0 || v > 86400) {
			snprintf(err, errlen, "resolved_keep: '%.40s' is not a duration up to 24h "
			         "(e.g. 10m)", value);
			return -EINVAL;
		}
		rs->resolved_keep_s = v;
		return 0;
	}
nomem:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

int jmd_alerts_config_set(struct jmd *d, const char *key, const char *value,
                          char *err, size_t errlen)
{
	struct jmd_alerts *A = jmd_alert_engine(d);
	if (!A) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	struct rule *r = A->cur;
	if (!r)
		return global_set(A, key, value, err, errlen);
	unsigned k;
	for (k = 0; k < K_NKEYS; k++)
		if (strcmp(key, jmd_alert_rule_keys[k].name) == 0)
			break;
	if (k == K_NKEYS) {
		snprintf(err, errlen, "rule '%s': unknown setting '%.40s'", r->name, key);
		return -EINVAL;
	}
	if (r->set & (1u << k)) {
		snprintf(err, errlen, "rule '%s': '%s' set twice", r->name, key);
		return -EINVAL;
	}
	r->set |= 1u << k;
	if (*value == '\0' && k != K_COMMAND && k != K_NOTIFY) {
		snprintf(err, errlen, "rule '%s': '%s' needs a value", r->name, key);
		return -EINVAL;
	}
	double v;
	switch ((enum key)k) {
	case K_KIND:
		for (unsigned i = 0; i < 3; i++) {
			if (strcmp(value, jmd_alert_kind_names[i]) == 0) {
				r->kind = (enum kind)i;
				return 0;
			}
		}
		snprintf(err, errlen, "rule '%s': kind '%.40s' is not fragmentation, growth or "
		         "sparse_bin", r->name, value);
		return -EINVAL;
	case K_EXE:
		if (strlen(value) >= 256) {
			snprintf(err, errlen, "rule '%s': exe pattern too long", r->name);
			return -EINVAL;
		}
		return set_string(&r->exe, value) == 0 ? 0 : -ENOMEM;
	case K_PATH:
		if (strlen(value) >= JMSTAT_PATH_LEN) {
			snprintf(err, errlen, "rule '%s': path pattern too long", r->name);
			return -EINVAL;
		}
		return set_string(&r->path, value) == 0 ? 0 : -ENOMEM;
	case K_FOR:
	case K_CLEAR_FOR:
	case K_WINDOW:
		if (jmd_parse_duration(value, &v) != 0 || v > 7 * 86400.0) {
			snprintf(err, errlen, "rule '%s': %s: '%.40s' is not a duration (e.g. 500ms, "
			         "30s, 10m, 1h)", r->name, key, value);
			return -EINVAL;
		}
		if (k == K_FOR)
			r->for_s = v;
		else if (k == K_CLEAR_FOR)
			r->clear_for_s = v;
		else
			r->window_s = v;
		return 0;
	case K_COMMAND:
		return set_string(&r->command, value) == 0 ? 0 : -ENOMEM;
	case K_NOTIFY:
		return parse_notify(value, &r->notify, err, errlen);
	case K_RATIO:
	case K_UTIL_BELOW:
		if (jmd_parse_ratio(value, &v) != 0 || v <= 0.0 || v >= 1.0) {
			snprintf(err, errlen, "rule '%s': %s: '%.40s' is not a ratio between 0 and 1 "
			         "(e.g. 0.5 or 50%%)", r->name, key, value);
			return -EINVAL;
		}
		r->threshold = v;
		return 0;
	case K_MIN_WASTED:
	case K_MIN_HELD:
	case K_GROWTH:
	case K_CLEAR_BYTES:
		if (jmd_parse_bytes(value, &v) != 0) {
			snprintf(err, errlen, "rule '%s': %s: '%.40s' is not a size in bytes (e.g. "
			         "64MiB, 1GiB, 500kB)", r->name, key, value);
			return -EINVAL;
		}
		if (k == K_GROWTH && v <= 0) {
			snprintf(err, errlen, "rule '%s': growth must be above 0", r->name);
			return -EINVAL;
		}
		if (k == K_GROWTH)
			r->threshold = v;
		else if (k == K_CLEAR_BYTES)
			r->clear_bytes = v;
		else
			r->min_bytes = v;
		return 0;
	case K_METRIC:
		for (unsigned i = 0; i < 3; i++) {
			if (strcmp(value, jmd_alert_metric_names[i]) == 0) {
				r->metric = (enum metric)i;
				return 0;
			}
		}
		snprintf(err, errlen, "rule '%s': metric '%.40s' is not mapped, active or allocated",
		         r->name, value);
		return -EINVAL;
	case K_CLEAR:
		return set_string(&r->clear_text, value) == 0 ? 0 : -ENOMEM;
	case K_NKEYS:
		break;
	}
	return -EINVAL;
}

/* Checks the rule section that ends: what its kind needs, nothing it does
 * not take, and the defaults. */
int jmd_alerts_config_section_end(struct jmd *d, char *err, size_t errlen)
{
	struct jmd_alerts *A = d->alerts;
	struct rule *r = A ? A->cur : NULL;
	if (!r)
		return 0;
	A->cur = NULL;
	if (!(r->set & (1u << K_KIND))) {
		snprintf(err, errlen, "rule '%s': missing 'kind' (fragmentation, growth or "
		         "sparse_bin)", r->name);
		return -EINVAL;
	}
	for (unsigned k = 0; k < K_NKEYS; k++) {
		if ((r->set & (1u << k)) && !(jmd_alert_rule_keys[k].kinds & (1u << r->kind))) {
			snprintf(err, errlen, "rule '%s': '%s' does not apply to kind %s", r->name,
			         jmd_alert_rule_keys[k].name, jmd_alert_kind_names[r->kind]);
			return -EINVAL;
		}
	}
	static const enum key required[3][2] = {
		[KIND_FRAG] = { K_RATIO, K_RATIO },
		[KIND_GROWTH] = { K_GROWTH, K_WINDOW },
		[KIND_SPARSE] = { K_UTIL_BELOW, K_UTIL_BELOW },
	};
	for (unsigned i = 0; i < 2; i++) {
		enum key k = required[r->kind][i];
		if (!(r->set & (1u << k))) {
			snprintf(err, errlen, "rule '%s': kind %s needs '%s'", r->name,
			         jmd_alert_kind_names[r->kind], jmd_alert_rule_keys[k].name);
			return -EINVAL;
		}
	}
	switch (r->kind) {
	case KIND_FRAG:
		if (!(r->set & (1u << K_MIN_WASTED)))
			r->min_bytes = 10.0 * 1048576.0;
		r->clear = r->threshold * 0.9;
		break;
	case KIND_GROWTH: {
		double hist_s = d->opt.history_ms / 1000.0;
		double tick_s = d->opt.interval_ms / 1000.0;
		if (r->window_s > hist_s || r->window_s < tick_s) {
			snprintf(err, errlen, "rule '%s': window must be between the interval (%gs) and "
			         "the history jmstatd keeps (%gs)", r->name, tick_s, hist_s);
			return -EINVAL;
		}
		r->clear = r->threshold * 0.9;
		break;
	}
	case KIND_SPARSE:
		if (!(r->set & (1u << K_MIN_HELD)))
			r->min_bytes = 10.0 * 1048576.0;
		r->clear = r->threshold * 1.1 < 1.0 ? r->threshold * 1.1 : 1.0;
		break;
	}
	if (r->clear_text) {
		double v;
		int rc = r->kind == KIND_GROWTH ? jmd_parse_bytes(r->clear_text, &v)
		                                : jmd_parse_ratio(r->clear_text, &v);
		if (rc != 0) {
			snprintf(err, errlen, "rule '%s': clear: '%.40s' is not %s", r->name, r->clear_text,
			         r->kind == KIND_GROWTH ? "a size in bytes" : "a ratio between 0 and 1");
			return -EINVAL;
		}
		bool wrong = r->kind == KIND_SPARSE ? v < r->threshold : v > r->threshold;
		if (wrong) {
			snprintf(err, errlen, "rule '%s': clear must be %s the threshold (it sets the "
			         "hysteresis)", r->name, r->kind == KIND_SPARSE ? "at or above" :
			         "at or below");
			return -EINVAL;
		}
		r->clear = v;
	}
	if (r->kind != KIND_GROWTH) {
		if (r->clear_bytes < 0)
			r->clear_bytes = r->min_bytes * 0.9;
		else if (r->clear_bytes > r->min_bytes) {
			snprintf(err, errlen, "rule '%s': clear_bytes must be at or below the byte floor",
			         r->name);
			return -EINVAL;
		}
	}
	return 0;
}
