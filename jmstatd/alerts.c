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
 * ALERTS_RESOLVED_MAX), then forgotten. Every transition is one log line,
 * and may run the rule's command (by default on firing and resolved):
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
 * as the bad segments' do (a burst, then one line every
 * ALERTS_LOG_EVERY_MS, the count of those left out in the next): a user
 * whose processes flip in and out of alert cannot flood the log; root's
 * are always logged.
 *
 * The sites behind an alert (docs/config.md): when an alert goes pending or
 * fires, and when alerts are listed while it is active (if its reading is
 * older than ALERTS_SITES_REFRESH_S: a listing of thousands of alerts
 * must not read thousands of segments each time), the top ALERTS_SITES allocation sites of its process are read
 * from the segment (sites.c): for sparse_bin by live bytes in its bin, for
 * fragmentation in the bins with the most wasted bytes (worst_bins()), for
 * growth overall. They stay raw return addresses (the daemon never opens a
 * program's files): in the `alerts` reply, in JMALLOC_ALERT_SITES, and the
 * top one in the firing log line; jmctl symbolizes them.
 *
 * Active alerts (pending, firing) are in a hash keyed by rule name,
 * process and bin; all alerts are in one list, oldest first. Everything
 * runs on the loop thread.
 */
#include "jmstatd.h"

#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALERTS_RULES_MAX      64
#define ALERTS_NAME_LEN       64
#define ALERTS_BUCKETS        1024u
#define ALERTS_RESOLVED_MAX   1000u     /* resolved alerts kept for the list */
#define ALERTS_CMDS_MAX       8u        /* commands running at once */
#define ALERTS_CMDS_ROOT      2u        /* of those, kept for alerts of root's processes */
#define ALERTS_CMDS_UID       2u        /* running at once for the processes of one other uid */
#define ALERTS_QUEUE_MAX      256u      /* commands waiting to run, in all */
#define ALERTS_QUEUE_UID      32u       /* ... for the processes of one other uid */
#define ALERTS_LOG_BURST      50        /* transition lines of other uids' alerts: a burst, */
#define ALERTS_LOG_EVERY_MS   10000     /* then one this often */
#define ALERTS_ENV_PREFIX     "JMALLOC_ALERT_"
#define ALERTS_SITES          3u        /* sites kept per alert */
#define ALERTS_ENV_FRAMES     8u        /* frames per site in JMALLOC_ALERT_SITES */
#define ALERTS_LOG_FRAMES     3u        /* frames of the top site in the firing log line */
#define ALERTS_WORST_SHARE    0.8       /* fragmentation: the worst bins holding this share of the waste */
#define ALERTS_SITES_REFRESH_S 10.0     /* a listed active alert's sites are read again after this */

/* The rules in force when jmstatd runs without --config (docs/config.md). */
const char jmd_alerts_builtin_rules[] =
	"[rule fragmentation]\n"
	"kind = fragmentation\n"
	"ratio = 0.5\n"
	"min_wasted = 64MiB\n"
	"for = 60s\n";

extern char **environ;

enum kind { KIND_FRAG, KIND_GROWTH, KIND_SPARSE };
static const char *const kind_names[] = { "fragmentation", "growth", "sparse_bin" };

enum metric { METRIC_MAPPED, METRIC_ACTIVE, METRIC_ALLOCATED };
static const char *const metric_names[] = { "mapped", "active", "allocated" };

enum state { ST_INACTIVE, ST_PENDING, ST_FIRING, ST_RESOLVED };
static const char *const state_names[] = { "inactive", "pending", "firing", "resolved" };
#define NOTIFY_DEFAULT ((1u << ST_FIRING) | (1u << ST_RESOLVED))

/* The settings a rule section may hold; which apply to which kind is
 * checked when the section ends. */
enum key {
	K_KIND, K_EXE, K_FOR, K_CLEAR_FOR, K_COMMAND, K_NOTIFY, K_RATIO, K_MIN_WASTED,
	K_GROWTH, K_WINDOW, K_METRIC, K_UTIL_BELOW, K_MIN_HELD, K_CLEAR, K_CLEAR_BYTES, K_PATH,
	K_NKEYS
};
static const struct {
	const char *name;
	unsigned kinds;          /* bit per kind; 7: every kind */
} rule_keys[K_NKEYS] = {
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

struct rule {
	char name[ALERTS_NAME_LEN];
	enum kind kind;
	char *exe;               /* fnmatch pattern on the name the process was
	                            started as; NULL: any */
	char *path;              /* fnmatch pattern on its resolved executable
	                            path (* matches / too); NULL: any */
	double threshold;        /* ratio (frag), bytes (growth), util (sparse) */
	double clear;            /* the value past which a firing alert resolves */
	char *clear_text;        /* `clear` as written, parsed once the kind is known */
	double min_bytes;        /* min_wasted (frag), min_held (sparse); 0 for growth */
	double clear_bytes;      /* a firing alert resolves under this; -1: default */
	enum metric metric;      /* growth */
	double window_s;         /* growth */
	double for_s;            /* held this long before firing */
	double clear_for_s;      /* clear this long before resolving */
	char *command;           /* NULL: the global command; "": none */
	unsigned notify;         /* bit per state that runs the command */
	unsigned set;            /* bit per enum key given */
};

struct ruleset {
	struct rule *v;
	size_t n;
	char *command;           /* the global command, NULL: none */
	unsigned notify;
	double command_timeout_s;
	double resolved_keep_s;
	unsigned global_set;     /* bit per global key given */
};

struct alert {
	unsigned id;
	char rule[ALERTS_NAME_LEN];
	enum kind kind;
	int rule_idx;            /* in the rules in force; -1 once the rule is gone */
	pid_t pid;
	uint64_t start_ticks;
	uint32_t uid;
	char exe[JMSTAT_EXE_LEN];
	char path[JMSTAT_PATH_LEN]; /* its executable file, resolved */
	char container[65];      /* its container id, "" if none (labels.c) */
	char pod[37];            /* its Kubernetes pod uid, "" if none */
	uint32_t bin_size;       /* sparse_bin: the size class; 0 otherwise */
	enum state state;
	double started;          /* unix s: went pending (or straight to firing) */
	double since;            /* unix s: the latest transition */
	double clear_since;      /* firing and clear since then; 0: not clear */
	double value;            /* at the latest evaluation */
	double threshold;
	double bytes;            /* wasted, growth or held bytes at the latest evaluation */
	char message[256];
	char reason[160];        /* why the latest transition happened ("" when it just held) */
	uint32_t seen_tick;      /* the latest tick that evaluated it */
	bool sites_taken;        /* sites[] holds a reading of the segment */
	uint32_t sites_tick;     /* the tick of the latest attempt to read them */
	double sites_time;       /* unix s of the latest reading */
	uint64_t sample_bytes;   /* the process's prof_sample at that reading */
	uint32_t nclasses;       /* size classes weighed (0: every class) */
	uint32_t class_sizes[JMD_SITE_BINS]; /* their region sizes */
	uint32_t nsites;
	struct jmd_site sites[ALERTS_SITES]; /* biggest first */
	struct alert *hnext;     /* hash chain, while pending or firing */
	struct alert *next, *prev; /* every alert, oldest first */
};

/* A command to run for an alert: waiting in the queue, then running. */
struct job {
	char *vars[32];          /* JMALLOC_ALERT_*=..., malloc'd */
	size_t nvars;
	char *command;           /* /bin/sh -c COMMAND */
	unsigned alert_id;
	uint32_t uid;            /* of the alert's process */
	struct job *next;        /* in the queue */
};

struct cmd {
	uv_process_t proc;       /* first: the handles' data point at the struct */
	uv_timer_t timer;
	struct jmd_alerts *A;
	unsigned alert_id;
	uint32_t uid;            /* of the alert's process */
	unsigned open_handles;   /* freed when both are closed */
	bool exited;
	struct cmd *next, *prev;
};

struct jmd_alerts {
	struct jmd *d;
	struct ruleset rules;    /* in force */
	struct ruleset staging;  /* being read from a config file */
	struct rule *cur;        /* the rule section being read, NULL in [global] */
	bool in_section;         /* a section was opened (globals go in [global] then) */
	bool configured;         /* some config was committed */
	struct alert *buckets[ALERTS_BUCKETS];
	struct alert *head, *tail;
	size_t nresolved;
	unsigned next_id;
	struct cmd *cmds;
	size_t ncmds;
	struct job *queue, *queue_tail; /* commands waiting for a slot, oldest first */
	size_t nqueued;
	bool stopping;
	uint64_t transitions[4]; /* per state entered */
	uint64_t cmd_ok, cmd_failed, cmd_timeout, cmd_skipped, cmd_queued;
	double log_tokens;       /* alert_log()'s budget */
	uint64_t log_last_ns;
	unsigned long log_left_out;
};

/* ------------------------------------------------------------ formatting
 * (bytes: jm_fmt_bytes(), common/format.c, as jmctl writes them) */

static const char *fmt_pct(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%.1f%%", v * 100.0);
	return buf;
}

/* A duration as a person writes it: 90 -> "1m30s", 3600 -> "1h", 0.5 ->
 * "500ms"; whole seconds from a second up. */
static const char *fmt_dur(char *buf, size_t len, double s)
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
static const char *fmt_ratio(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%.4f", v);
	char *e = buf + strlen(buf);
	while (e > buf + 1 && e[-1] == '0' && e[-2] != '.')
		*--e = '\0';
	return buf;
}

/* An alert's value or threshold in the units of its rule: bytes for
 * growth, a percentage for the ratios. */
static const char *fmt_value(char *buf, size_t len, enum kind k, double v)
{
	return k == KIND_GROWTH ? jm_fmt_bytes(buf, len, v) : fmt_pct(buf, len, v);
}

/* ------------------------------------------------------------ rules */

static void rule_free(struct rule *r)
{
	free(r->exe);
	free(r->path);
	free(r->clear_text);
	free(r->command);
}

static void ruleset_free(struct ruleset *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		rule_free(&rs->v[i]);
	free(rs->v);
	free(rs->command);
	memset(rs, 0, sizeof(*rs));
}

static void ruleset_defaults(struct ruleset *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->notify = NOTIFY_DEFAULT;
	rs->command_timeout_s = 30.0;
	rs->resolved_keep_s = 600.0;
}

static struct jmd_alerts *engine(struct jmd *d)
{
	if (!d->alerts) {
		d->alerts = calloc(1, sizeof(*d->alerts));
		if (!d->alerts)
			return NULL;
		d->alerts->d = d;
		d->alerts->next_id = 1;
		ruleset_defaults(&d->alerts->rules);
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
			if (strcmp(tok, state_names[s]) == 0)
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
	struct jmd_alerts *A = engine(d);
	if (!A)
		return;
	ruleset_free(&A->staging);
	ruleset_defaults(&A->staging);
	A->cur = NULL;
	A->in_section = false;
}

int jmd_alerts_config_section(struct jmd *d, const char *type, const char *name,
                              char *err, size_t errlen)
{
	struct jmd_alerts *A = engine(d);
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
	struct jmd_alerts *A = engine(d);
	if (!A) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	struct rule *r = A->cur;
	if (!r)
		return global_set(A, key, value, err, errlen);
	unsigned k;
	for (k = 0; k < K_NKEYS; k++)
		if (strcmp(key, rule_keys[k].name) == 0)
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
			if (strcmp(value, kind_names[i]) == 0) {
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
			if (strcmp(value, metric_names[i]) == 0) {
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
		if ((r->set & (1u << k)) && !(rule_keys[k].kinds & (1u << r->kind))) {
			snprintf(err, errlen, "rule '%s': '%s' does not apply to kind %s", r->name,
			         rule_keys[k].name, kind_names[r->kind]);
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
			         kind_names[r->kind], rule_keys[k].name);
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

/* ------------------------------------------------------------ alerts */

static unsigned alert_hash(const char *rule, pid_t pid, uint64_t start, uint32_t bin)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *c = rule; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ull;
	h = (h ^ (uint64_t)(uint32_t)pid) * 1099511628211ull;
	h = (h ^ start) * 1099511628211ull;
	h = (h ^ bin) * 1099511628211ull;
	return (unsigned)(h ^ (h >> 32)) % ALERTS_BUCKETS;
}

static struct alert *alert_find(struct jmd_alerts *A, const char *rule, pid_t pid,
                                uint64_t start, uint32_t bin)
{
	for (struct alert *a = A->buckets[alert_hash(rule, pid, start, bin)]; a; a = a->hnext)
		if (a->pid == pid && a->start_ticks == start && a->bin_size == bin &&
		    strcmp(a->rule, rule) == 0)
			return a;
	return NULL;
}

static void hash_remove(struct jmd_alerts *A, struct alert *a)
{
	struct alert **pp = &A->buckets[alert_hash(a->rule, a->pid, a->start_ticks, a->bin_size)];
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == a) {
			*pp = a->hnext;
			a->hnext = NULL;
			return;
		}
	}
}

static void list_remove(struct jmd_alerts *A, struct alert *a)
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

/* ------------------------------------------------------------ sites */

static uint64_t bin_wasted(const struct jmd_bin *b)
{
	return (b->capacity > b->inuse_runs ? b->capacity - b->inuse_runs : 0) * b->size;
}

/* The bins of p with the most wasted bytes: the fewest, at most
 * JMD_SITE_BINS, that hold ALERTS_WORST_SHARE of its small runs' waste,
 * worst first. Their indexes into classes; returns how many (0: p wastes
 * nothing in small runs). */
static uint32_t worst_bins(const struct jmd_proc *p, uint32_t *classes)
{
	uint64_t total = 0, got = 0;
	uint32_t n = 0;
	for (uint32_t b = 0; b < p->nbins; b++)
		total += bin_wasted(&p->bins[b]);
	while (n < JMD_SITE_BINS && (double)got < ALERTS_WORST_SHARE * (double)total) {
		uint32_t best = UINT32_MAX;
		uint64_t best_w = 0;
		for (uint32_t b = 0; b < p->nbins; b++) {
			uint64_t w = bin_wasted(&p->bins[b]);
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
		got += best_w;
	}
	return n;
}

/* Reads the sites behind a from p, its process, at most once a tick. */
static void take_sites(struct jmd_alerts *A, struct alert *a, const struct jmd_proc *p)
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
		n = worst_bins(p, classes);
		break;
	case KIND_GROWTH:
		break;
	}
	struct jmd_site top[ALERTS_SITES];
	uint64_t sample_bytes = 0;
	int rc = jmd_sites_top(d, p, classes, n, top, ALERTS_SITES, &sample_bytes);
	a->sites_tick = d->tick;
	if (rc < 0) {
		jmd_debug("alert %u: cannot read the sites of pid %d: %s", a->id, (int)a->pid,
		          strerror(-rc));
		return;
	}
	a->sites_taken = true;
	a->sites_time = d->now;
	a->sample_bytes = sample_bytes;
	a->nclasses = n;
	for (uint32_t k = 0; k < n; k++)
		a->class_sizes[k] = p->bins[classes[k]].size;
	a->nsites = (uint32_t)rc;
	memcpy(a->sites, top, (size_t)rc * sizeof(top[0]));
}

/* The sites as one line of text, "0x401234<0x401100<... 12.3MiB; ...":
 * frames innermost first, at most max_frames of each ("<..." when there
 * are more), at most max_sites sites. "" when none. */
static const char *sites_text(const struct alert *a, char *buf, size_t len, unsigned max_sites,
                              unsigned max_frames)
{
	size_t off = 0;
	char b[32];
	buf[0] = '\0';
	for (uint32_t i = 0; i < a->nsites && i < max_sites && off < len; i++) {
		const struct jmd_site *s = &a->sites[i];
		if (i)
			off += (size_t)snprintf(buf + off, len - off, "; ");
		for (uint32_t f = 0; f < s->nframes && f < max_frames && off < len; f++)
			off += (size_t)snprintf(buf + off, len - off, "%s0x%llx", f ? "<" : "",
			                        (unsigned long long)s->frames[f]);
		if (s->nframes > max_frames && off < len)
			off += (size_t)snprintf(buf + off, len - off, "<...");
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

/* ------------------------------------------------------------ log budget */

/* A line about an alert of uid's process: root's always, other uids'
 * within one budget (ALERTS_LOG_BURST, then one every
 * ALERTS_LOG_EVERY_MS; the rest to the verbose log, counted in the next
 * line logged). */
static void alert_log(struct jmd_alerts *A, uint32_t uid, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void alert_log(struct jmd_alerts *A, uint32_t uid, const char *fmt, ...)
{
	char msg[1536];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (uid != 0) {
		uint64_t now = uv_hrtime();
		if (A->log_last_ns)
			A->log_tokens += (double)(now - A->log_last_ns) / 1e6 / ALERTS_LOG_EVERY_MS;
		else
			A->log_tokens = ALERTS_LOG_BURST;
		if (A->log_tokens > ALERTS_LOG_BURST)
			A->log_tokens = ALERTS_LOG_BURST;
		A->log_last_ns = now;
		if (A->log_tokens < 1.0) {
			A->log_left_out++;
			jmd_debug("%s", msg);
			return;
		}
		A->log_tokens -= 1.0;
	}
	if (A->log_left_out) {
		jmd_log("%s (and %lu more lines about other users' alerts left out before this one)",
		        msg, A->log_left_out);
		A->log_left_out = 0;
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

static void cmd_close(struct cmd *c)
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
		jmd_log("alert %u: its command (pid %d) was killed by signal %d", c->alert_id,
		        p->pid, term_signal);
		A->cmd_failed++;
	} else if (status != 0) {
		jmd_log("alert %u: its command (pid %d) exited with status %lld", c->alert_id,
		        p->pid, (long long)status);
		A->cmd_failed++;
	} else {
		jmd_debug("alert %u: its command (pid %d) succeeded", c->alert_id, p->pid);
		A->cmd_ok++;
	}
	cmd_close(c);
}

static void cmd_timed_out(uv_timer_t *t)
{
	struct cmd *c = t->data;
	if (c->exited)
		return;
	jmd_log("alert %u: its command (pid %d) still runs after %gs: killing it", c->alert_id,
	        c->proc.pid, c->A->rules.command_timeout_s);
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

static void job_free(struct job *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->nvars; i++)
		free(j->vars[i]);
	free(j->command);
	free(j);
}

/* May a command for an alert of uid's process start now? */
static bool can_start(const struct jmd_alerts *A, uint32_t uid)
{
	if (A->ncmds >= ALERTS_CMDS_MAX)
		return false;
	if (uid == 0)
		return true;
	size_t others = 0, same = 0;
	for (const struct cmd *c = A->cmds; c; c = c->next) {
		if (c->uid == 0)
			continue;
		others++;
		if (c->uid == uid)
			same++;
	}
	return others < ALERTS_CMDS_MAX - ALERTS_CMDS_ROOT && same < ALERTS_CMDS_UID;
}

/* Spawns j's command; takes j. */
static void job_start(struct jmd_alerts *A, struct job *j)
{
	struct jmd *d = A->d;
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
	c->uid = j->uid;
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
		jmd_log("alert %u: cannot run its command: %s", j->alert_id, uv_strerror(rc));
		A->cmd_failed++;
		c->exited = true;
		cmd_close(c);
		goto out;
	}
	jmd_debug("alert %u: command started (pid %d)", j->alert_id, c->proc.pid);
	uv_timer_start(&c->timer, cmd_timed_out, (uint64_t)(A->rules.command_timeout_s * 1000.0), 0);
out:
	free(env);
	job_free(j);
}

/* Starts the queued commands that may start now, oldest first. */
static void queue_drain(struct jmd_alerts *A)
{
	struct job **pp = &A->queue, *prev = NULL;
	while (*pp && !A->stopping && A->ncmds < ALERTS_CMDS_MAX) {
		struct job *j = *pp;
		if (!can_start(A, j->uid)) {
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

static void run_command(struct jmd_alerts *A, const struct alert *a, const char *command,
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
	j->uid = a->uid;
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
	VAR("KIND", "%s", kind_names[a->kind]);
	VAR("STATE", "%s", state_names[a->state]);
	VAR("PREVIOUS_STATE", "%s", state_names[previous]);
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
		VAR("VALUE", "%s", fmt_ratio(val, sizeof(val), a->value));
		VAR("THRESHOLD", "%s", fmt_ratio(thr, sizeof(thr), a->threshold));
	}
	VAR("VALUE_TEXT", "%s", fmt_value(val, sizeof(val), a->kind, a->value));
	VAR("THRESHOLD_TEXT", "%s", fmt_value(thr, sizeof(thr), a->kind, a->threshold));
	VAR("BYTES", "%.0f", a->bytes);
	VAR("MESSAGE", "%s", a->message);
	VAR("REASON", "%s", a->reason);
	VAR("SITES", "%s", sites_text(a, sites, sizeof(sites), ALERTS_SITES, ALERTS_ENV_FRAMES));
#undef VAR
	if (failed || !j->command) {
		jmd_log("alert %u: its command not run: out of memory", a->id);
		A->cmd_failed++;
		job_free(j);
		return;
	}
	if (!A->queue && can_start(A, j->uid)) {
		job_start(A, j);
		return;
	}
	/* Waits for a slot, unless this uid (or everyone) has too many waiting. */
	size_t same = 0;
	for (struct job *q = A->queue; q; q = q->next)
		same += q->uid == j->uid;
	if (A->nqueued >= ALERTS_QUEUE_MAX || (j->uid != 0 && same >= ALERTS_QUEUE_UID)) {
		alert_log(A, j->uid, "alert %u: its command not run: %zu commands wait already%s",
		          a->id, j->uid != 0 && same >= ALERTS_QUEUE_UID ? same : A->nqueued,
		          j->uid != 0 && same >= ALERTS_QUEUE_UID ? " for this user's processes" : "");
		A->cmd_skipped++;
		job_free(j);
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

/* ------------------------------------------------------------ transitions */

static const struct rule *alert_rule(const struct jmd_alerts *A, const struct alert *a)
{
	return a->rule_idx >= 0 && (size_t)a->rule_idx < A->rules.n ? &A->rules.v[a->rule_idx] : NULL;
}

/* Moves a to state s, logs it, runs the command; p is a's process when it
 * is live (NULL otherwise): going pending or firing reads its sites. An
 * alert that goes inactive is freed: a is invalid afterwards. */
static void transition(struct jmd_alerts *A, struct alert *a, enum state s, const char *why,
                       const struct jmd_proc *p)
{
	struct jmd *d = A->d;
	enum state prev = a->state;
	a->state = s;
	a->since = d->now;
	a->clear_since = 0;
	snprintf(a->reason, sizeof(a->reason), "%s", why ? why : "");
	A->transitions[s]++;
	if (s == ST_PENDING || s == ST_FIRING)
		take_sites(A, a, p);
	char bin[32] = "", top[256] = "";
	if (a->bin_size)
		snprintf(bin, sizeof(bin), " bin %u", a->bin_size);
	if (s == ST_FIRING && a->nsites) {
		char text[sizeof(top) - 16];
		snprintf(top, sizeof(top), "; top site: %s",
		         sites_text(a, text, sizeof(text), 1, ALERTS_LOG_FRAMES));
	}
	char ct[32] = "";
	if (a->container[0])
		snprintf(ct, sizeof(ct), ", container %.12s", a->container);
	alert_log(A, a->uid, "alert %u %s: pid %d (%s%s)%s: %s -> %s: %s%s%s%s", a->id, a->rule,
	          (int)a->pid, a->exe, ct, bin, state_names[prev], state_names[s], a->message,
	          why ? "; " : "", why ? why : "", top);
	if (s == ST_RESOLVED || s == ST_INACTIVE)
		hash_remove(A, a);
	if (s == ST_RESOLVED)
		A->nresolved++;
	const struct rule *r = alert_rule(A, a);
	unsigned notify = r ? r->notify : A->rules.notify;
	const char *command = r && r->command ? r->command : A->rules.command;
	if (command && *command && (notify & (1u << s)))
		run_command(A, a, command, prev);
	if (s == ST_INACTIVE)
		list_remove(A, a);
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
	memcpy(a->exe, p->exe, sizeof(a->exe));
	memcpy(a->path, p->path, sizeof(a->path));
	memcpy(a->container, p->labels.container, sizeof(a->container));
	memcpy(a->pod, p->labels.pod, sizeof(a->pod));
	a->bin_size = bin;
	a->state = ST_INACTIVE;
	a->started = A->d->now;
	unsigned h = alert_hash(a->rule, a->pid, a->start_ticks, bin);
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
	struct alert *a = alert_find(A, r->name, p->pid, p->start_ticks, bin);
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
			transition(A, a, ST_FIRING, NULL, p);
		else
			transition(A, a, ST_PENDING, NULL, p);
		break;
	case ST_PENDING:
		if (!trigger)
			transition(A, a, ST_INACTIVE, "the condition cleared before it was held for long "
			           "enough", p);
		else if (d->now - a->started >= r->for_s - 0.0005)
			transition(A, a, ST_FIRING, NULL, p);
		break;
	case ST_FIRING:
		if (!clear) {
			a->clear_since = 0;
			break;
		}
		if (a->clear_since == 0)
			a->clear_since = d->now;
		if (d->now - a->clear_since >= r->clear_for_s - 0.0005)
			transition(A, a, ST_RESOLVED, clear, p);
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
	double oldest = d->now;
	double now_v = (double)(r->metric == METRIC_MAPPED ? p->tot.mapped :
	                        r->metric == METRIC_ACTIVE ? p->tot.active : p->tot.allocated);
	double low = now_v;
	const struct jmd_ring *ring = &p->hist;
	if (ring->count) {
		double since = d->now - r->window_s - 0.0005;
		for (uint32_t i = 0; i < ring->count; i++) {
			uint32_t at = (ring->head + ring->alloc - 1 - i) % ring->alloc;
			const struct jmd_hist *h = &ring->e[at];
			bool valid;
			double t = jmd_tick_time(d, h->tick, &valid);
			if (!valid || t < since)
				break;
			oldest = t;
			double v = metric_of(h, r->metric);
			if (v < low)
				low = v;
		}
	}
	*low_out = low;
	*span = d->now - oldest;
	if (p->start_time > 0 && d->now - p->start_time < *span)
		*span = d->now - p->start_time;
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
			if (!trigger && !alert_find(A, r->name, p->pid, p->start_ticks, 0))
				break;
			snprintf(msg, sizeof(msg), "fragmentation %s: %s of %s active not allocated "
			         "(rule: above %s with over %s)", fmt_pct(b1, sizeof(b1), ratio),
			         jm_fmt_bytes(b2, sizeof(b2), wasted),
			         jm_fmt_bytes(b3, sizeof(b3), (double)p->tot.active),
			         fmt_pct(b4, sizeof(b4), r->threshold),
			         jm_fmt_bytes(b5, sizeof(b5), r->min_bytes));
			const char *clear = NULL;
			if (ratio < r->clear) {
				snprintf(why, sizeof(why), "fragmentation down to %s, under %s",
				         fmt_pct(b1, sizeof(b1), ratio), fmt_pct(b2, sizeof(b2), r->clear));
				clear = why;
			} else if (wasted < r->clear_bytes) {
				snprintf(why, sizeof(why), "fragmented bytes down to %s, under %s "
				         "(fragmentation still %s)", jm_fmt_bytes(b1, sizeof(b1), wasted),
				         jm_fmt_bytes(b2, sizeof(b2), r->clear_bytes),
				         fmt_pct(b3, sizeof(b3), ratio));
				clear = why;
			}
			step(A, r, (int)i, p, 0, ratio, wasted, trigger, clear, msg);
			break;
		}
		case KIND_GROWTH: {
			double low, span, g = growth_of(d, p, r, &low, &span);
			if (g <= r->threshold && !alert_find(A, r->name, p->pid, p->start_ticks, 0))
				break;
			/* The span the growth was measured over: the window, or less
			 * for a process (or a history) younger than it. */
			snprintf(msg, sizeof(msg), "%s grew by %s in %s (from %s to %s; rule: over %s in %s)",
			         metric_names[r->metric], jm_fmt_bytes(b1, sizeof(b1), g),
			         fmt_dur(b2, sizeof(b2), span), jm_fmt_bytes(b3, sizeof(b3), low), jm_fmt_bytes(b4, sizeof(b4), low + g),
			         jm_fmt_bytes(b5, sizeof(b5), r->threshold), fmt_dur(why, sizeof(why), r->window_s));
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
				double util = jmd_util(bin->inuse_runs, bin->capacity);
				double held = (double)bin->capacity * bin->size;
				bool trigger = util < r->threshold && held > r->min_bytes;
				if (!trigger && !alert_find(A, r->name, p->pid, p->start_ticks, bin->size))
					continue;
				snprintf(msg, sizeof(msg), "bin %u B: %s of its regions in use, %s held in "
				         "runs (rule: under %s with over %s)", bin->size,
				         fmt_pct(b1, sizeof(b1), util), jm_fmt_bytes(b2, sizeof(b2), held),
				         fmt_pct(b3, sizeof(b3), r->threshold),
				         jm_fmt_bytes(b4, sizeof(b4), r->min_bytes));
				const char *clear = NULL;
				if (util > r->clear) {
					snprintf(why, sizeof(why), "use back up to %s, over %s",
					         fmt_pct(b1, sizeof(b1), util), fmt_pct(b2, sizeof(b2), r->clear));
					clear = why;
				} else if (held < r->clear_bytes) {
					snprintf(why, sizeof(why), "bytes held down to %s, under %s (use still %s)",
					         jm_fmt_bytes(b1, sizeof(b1), held),
					         jm_fmt_bytes(b2, sizeof(b2), r->clear_bytes),
					         fmt_pct(b3, sizeof(b3), util));
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
			transition(A, a, a->state == ST_PENDING ? ST_INACTIVE : ST_RESOLVED, why, NULL);
			continue;
		}
		if (a->state == ST_RESOLVED &&
		    (d->now - a->since > A->rules.resolved_keep_s ||
		     A->nresolved > ALERTS_RESOLVED_MAX))
			list_remove(A, a);
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
		ruleset_free(&A->staging);
		return;
	}
	ruleset_free(&A->rules);
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
		transition(A, a, a->state == ST_PENDING ? ST_INACTIVE : ST_RESOLVED,
		           "its rule was removed by a reload", NULL);
	}
	char rules[512];
	size_t len = 0;
	rules[0] = '\0';
	for (size_t i = 0; i < A->rules.n && len < sizeof(rules) - 1; i++)
		len += (size_t)snprintf(rules + len, sizeof(rules) - len, "%s%s (%s)", i ? ", " : "",
		                        A->rules.v[i].name, kind_names[A->rules.v[i].kind]);
	if (len >= sizeof(rules))
		len = sizeof(rules) - 1;
	jmd_log("alert rules %s: %s", d->opt.check_config ? "in the file" : "in force",
	        A->rules.n ? rules : "none");
}

/* ------------------------------------------------------------ life */

int jmd_alerts_init(struct jmd *d)
{
	return engine(d) ? 0 : -ENOMEM;
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
		cmd_close(c);
	}
}

void jmd_alerts_fini(struct jmd *d)
{
	struct jmd_alerts *A = d->alerts;
	if (!A)
		return;
	while (A->head)
		list_remove(A, A->head);
	while (A->queue) {
		struct job *j = A->queue;
		A->queue = j->next;
		job_free(j);
	}
	while (A->cmds) {        /* only if the loop did not run their close callbacks */
		struct cmd *c = A->cmds;
		A->cmds = c->next;
		free(c);
	}
	ruleset_free(&A->rules);
	ruleset_free(&A->staging);
	free(A);
	d->alerts = NULL;
}

/* ------------------------------------------------------------ views */

static json_t *sites_json(const struct alert *a)
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
		json_object_set_new(o, "live_bytes", json_integer((json_int_t)s->live_bytes));
		json_object_set_new(o, "site_live_bytes", json_integer((json_int_t)s->site_live_bytes));
		json_object_set_new(o, "error_bytes", json_integer((json_int_t)s->error_bytes));
		json_object_set_new(o, "bounded", json_boolean(s->bounded));
		json_object_set_new(o, "live_objects", json_integer((json_int_t)s->live_objects));
		json_object_set_new(o, "samples", json_integer((json_int_t)s->samples));
		for (uint32_t k = 0; k < s->nbins; k++)
			json_array_append_new(bins, json_pack("{s:I,s:I}", "size",
			                      (json_int_t)s->bins[k].size, "live_bytes",
			                      (json_int_t)s->bins[k].live_bytes));
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

json_t *jmd_alerts_list(struct jmd *d, uid_t viewer)
{
	json_t *arr = json_array();
	struct jmd_alerts *A = d->alerts;
	if (!A || !arr)
		return arr;
	for (struct alert *a = A->head; a; a = a->next) {
		if (!jmd_visible(a->uid, viewer))
			continue;
		struct jmd_proc *p = jmd_proc_find(d, a->pid, 0);
		bool alive = p && p->start_ticks == a->start_ticks;
		if (alive && (a->state == ST_PENDING || a->state == ST_FIRING) &&
		    (!a->sites_taken || d->now - a->sites_time >= ALERTS_SITES_REFRESH_S))
			take_sites(A, a, p);
		json_t *o = json_object();
		json_object_set_new(o, "id", json_integer(a->id));
		json_object_set_new(o, "rule", json_string(a->rule));
		json_object_set_new(o, "kind", json_string(kind_names[a->kind]));
		json_object_set_new(o, "state", json_string(state_names[a->state]));
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
		json_object_set_new(o, "bytes", json_integer((json_int_t)a->bytes));
		char vt[32], tt[32];
		json_object_set_new(o, "value_text", json_string(fmt_value(vt, sizeof(vt), a->kind, a->value)));
		json_object_set_new(o, "threshold_text",
		                    json_string(fmt_value(tt, sizeof(tt), a->kind, a->threshold)));
		json_object_set_new(o, "message", json_string(a->message));
		if (a->reason[0])
			json_object_set_new(o, "reason", json_string(a->reason));
		json_object_set_new(o, "alive", json_boolean(alive));
		if (a->sites_taken) {
			json_t *s = sites_json(a);
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
			jmd_text_printf(t, ",state=\"%s\"} %u\n", state_names[s], n[s]);
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
		                state_names[s], (unsigned long long)A->transitions[s]);
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
