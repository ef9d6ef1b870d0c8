/*
 * alerts.h: what the parts of the alert engine share (jmstatd.h has its
 * interface to the rest of the daemon).
 *
 *   alerts_rules.c   the rules: the built-in ones, a config file's rule
 *                    sections and [global] checked setting by setting
 *   alerts.c         the state machine: one alert per (rule, process, bin),
 *                    its transitions, a reload's commit
 *   alerts_notify.c  the notifications: its log lines within the log
 *                    budget; the commands, their per-uid quota, the queue,
 *                    uv_spawn with the alert in the environment
 *   alerts_view.c    what an alert shows: the sites behind it, the
 *                    `alerts` reply and the Prometheus series
 *
 * Everything runs on the loop thread.
 */
#ifndef JMSTATD_ALERTS_H
#define JMSTATD_ALERTS_H

#include "jmstatd.h"


#define ALERTS_RULES_MAX      64
#define ALERTS_NAME_LEN       64
#define ALERTS_BUCKETS        1024u
#define ALERTS_RESOLVED_MAX   1000u     /* resolved alerts kept for the list, */
#define ALERTS_RESOLVED_UID   100u      /* ... of one user's processes (the newest) */
#define ALERTS_CMDS_MAX       8u        /* commands running at once */
#define ALERTS_CMDS_ROOT      2u        /* of those, kept for alerts of root's processes */
#define ALERTS_CMDS_UID       2u        /* running at once for the processes of one other uid */
#define ALERTS_QUEUE_MAX      256u      /* commands waiting to run, in all */
#define ALERTS_QUEUE_UID      32u       /* ... for the processes of one other uid */
#define ALERTS_ENV_PREFIX     "JMALLOC_ALERT_"
#define ALERTS_SITES          3u        /* sites kept per alert */
#define ALERTS_ENV_FRAMES     8u        /* frames per site in JMALLOC_ALERT_SITES */
#define ALERTS_LOG_FRAMES     3u        /* frames of the top site in the firing log line */
#define ALERTS_WHERE_LEN      256u      /* ... named by module and offset (jmd_site_where) */
#define ALERTS_WORST_SHARE    0.8       /* fragmentation: the worst bins holding this share of the waste */
#define ALERTS_SITES_REFRESH_S 10.0     /* a listed active alert's sites are read again after this */

enum kind { KIND_FRAG, KIND_GROWTH, KIND_SPARSE };
extern const char *const jmd_alert_kind_names[];

enum metric { METRIC_MAPPED, METRIC_ACTIVE, METRIC_ALLOCATED };
extern const char *const jmd_alert_metric_names[];

enum state { ST_INACTIVE, ST_PENDING, ST_FIRING, ST_RESOLVED };
extern const char *const jmd_alert_state_names[];
#define NOTIFY_DEFAULT ((1u << ST_FIRING) | (1u << ST_RESOLVED))

/* The settings a rule section may hold; which apply to which kind is
 * checked when the section ends. */
enum key {
	K_KIND, K_EXE, K_FOR, K_CLEAR_FOR, K_COMMAND, K_NOTIFY, K_RATIO, K_MIN_WASTED,
	K_GROWTH, K_WINDOW, K_METRIC, K_UTIL_BELOW, K_MIN_HELD, K_CLEAR, K_CLEAR_BYTES, K_PATH,
	K_NKEYS
};
struct rule_key {
	const char *name;
	unsigned kinds;          /* bit per kind; 7: every kind */
};
extern const struct rule_key jmd_alert_rule_keys[K_NKEYS];

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
	uint32_t gid;            /* its process's cred_gid (the group of /proc/PID) */
	uint32_t ns_own, ns_top; /* its process's pid namespaces (jmd_visible) */
	uint64_t who;            /* whose bounds its commands and lines count
	                            against (jmd_proc_charge); 0: root's */
	char exe[JMSTAT_EXE_LEN];
	char path[JMSTAT_PATH_LEN]; /* its executable file, resolved */
	char container[65];      /* its container id, "" if none (labels.c) */
	char pod[37];            /* its Kubernetes pod uid, "" if none */
	uint32_t bin_size;       /* sparse_bin: the size class; 0 otherwise */
	enum state state;
	double started;          /* unix s: went pending (or straight to firing) */
	double since;            /* unix s: the latest transition */
	double started_mono;     /* jmd.mono of started and since: `for` and */
	double since_mono;       /* resolved_keep are measured on it */
	double clear_since;      /* jmd.mono: firing and clear since then; 0: not clear */
	double value;            /* at the latest evaluation */
	double threshold;
	double bytes;            /* wasted, growth or held bytes at the latest evaluation */
	char message[256];
	char reason[160];        /* why the latest transition happened ("" when it just held) */
	uint32_t seen_tick;      /* the latest tick that evaluated it */
	bool sites_taken;        /* sites[] holds a reading of the segment */
	uint32_t sites_tick;     /* the tick of the latest attempt to read them */
	double sites_time;       /* unix s of the latest reading */
	double sites_mono;       /* jmd.mono then */
	uint64_t sample_bytes;   /* the process's prof_sample at that reading */
	uint32_t nclasses;       /* size classes weighed (0: every class) */
	uint32_t class_sizes[JMD_SITE_BINS]; /* their region sizes */
	uint32_t nsites;
	struct jmd_site sites[ALERTS_SITES]; /* biggest first */
	char top_where[ALERTS_WHERE_LEN]; /* sites[0]'s ALERTS_LOG_FRAMES frames by module
	                            and offset, for the log ("" if unknown) */
	struct alert *hnext;     /* hash chain, while pending or firing */
	struct alert *next, *prev; /* every alert, oldest first */
};

/* A command to run for an alert: waiting in the queue, then running. */
struct job {
	char *vars[32];          /* JMALLOC_ALERT_*=..., malloc'd */
	size_t nvars;
	char *command;           /* /bin/sh -c COMMAND */
	unsigned alert_id;
	uint64_t who;            /* the alert's who */
	pid_t pid;               /* its process, checked at its start; 0: not */
	uint64_t start;          /* that process's start in /proc/PID/stat */
	uint32_t uid, gid;       /* its effective ids when last checked in full */
	bool check_creds;        /* a process not root's: its ids checked too */
	bool live_state;         /* for a pending or firing alert */
	bool gone;               /* live_state, and no process at pid when queued */
	struct job *next;        /* in the queue */
};

struct cmd {
	uv_process_t proc;       /* first: the handles' data point at the struct */
	uv_timer_t timer;
	struct jmd_alerts *A;
	unsigned alert_id;
	uint64_t who;            /* the alert's who */
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
	struct jmd_log_budget log_budget;   /* jmd_alert_log()'s, other uids' lines */
};

/* alerts_rules.c */
const char *jmd_alert_fmt_pct(char *buf, size_t len, double v);
const char *jmd_alert_fmt_dur(char *buf, size_t len, double s);
const char *jmd_alert_fmt_ratio(char *buf, size_t len, double v);
const char *jmd_alert_fmt_value(char *buf, size_t len, enum kind k, double v);
void jmd_alert_rule_free(struct rule *r);
void jmd_alert_ruleset_free(struct ruleset *rs);
void jmd_alert_ruleset_defaults(struct ruleset *rs);
struct jmd_alerts *jmd_alert_engine(struct jmd *d);

/* alerts.c */
unsigned jmd_alert_hash(const char *rule, pid_t pid, uint64_t start, uint32_t bin);
struct alert *jmd_alert_find(struct jmd_alerts *A, const char *rule, pid_t pid,
                         uint64_t start, uint32_t bin);
void jmd_alert_hash_remove(struct jmd_alerts *A, struct alert *a);
void jmd_alert_list_remove(struct jmd_alerts *A, struct alert *a);
const struct rule *jmd_alert_rule(const struct jmd_alerts *A, const struct alert *a);
void jmd_alert_transition(struct jmd_alerts *A, struct alert *a, enum state s, const char *why,
                const struct jmd_proc *p);

/* alerts_notify.c */
void jmd_alert_log(struct jmd_alerts *A, uint64_t who, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void jmd_alert_cmd_close(struct cmd *c);
void jmd_alert_job_free(struct job *j);
void jmd_alert_run_command(struct jmd_alerts *A, const struct alert *a, const char *command,
                 enum state previous);

/* alerts_view.c */
uint64_t jmd_alert_bin_wasted(const struct jmd_bin *b);
uint32_t jmd_alert_worst_bins(const struct jmd_proc *p, uint32_t *classes);
void jmd_alert_take_sites(struct jmd_alerts *A, struct alert *a, const struct jmd_proc *p);
const char *jmd_alert_sites_text(const struct alert *a, char *buf, size_t len, unsigned max_sites,
                       unsigned max_frames, bool where);
json_t *jmd_alert_sites_json(const struct alert *a);

#endif
