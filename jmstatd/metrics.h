/*
 * metrics.h: what metrics.c (the Prometheus page) and http.c (the endpoint
 * that serves it) share: struct jmd_metrics, hung off struct jmd when
 * --metrics is given.
 *
 * Per-bin series are aggregated per executable name, never per pid (the
 * cardinality of bins x processes x hosts is what a fleet cannot afford).
 * A counter summed over the processes of one exe would go back when one of
 * them exits, which Prometheus reads as a counter reset; so each exe keeps
 * a carry: the last counters of its processes that are gone, added to the
 * live ones. An exe with no live process keeps its series (the carry)
 * for METRICS_EXE_KEEP_S, then is forgotten (its counters then restart
 * from zero, which Prometheus handles as the reset it is).
 *
 * Cardinality: the exes first seen in the processes of one uid have series
 * of their own up to METRICS_EXES_PER_UID (METRICS_EXES_ROOT for root);
 * the processes of that uid with more exe names are summed in one exe,
 * {exe="_other",uid="UID"}, so that a user starting programs of random
 * names cannot grow the page without bound.
 */
#ifndef JMSTATD_METRICS_H
#define JMSTATD_METRICS_H

#include "jmstatd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_EXE_KEEP_S   600.0      /* an exe without a live process is kept this long */
#define METRICS_HASH         1024u
#define METRICS_EXES_PER_UID 32u        /* exes with series of their own, per uid other than root */
#define METRICS_EXES_ROOT    256u       /* ... for root's processes */
#define METRICS_OTHER_EXE    "_other"   /* the exe the rest of a uid's are summed in */

/* The bin fields whose series are counters (fields.h's JMD_BIN_FIELDS,
 * series counter): what an exe carries of its exited processes. */
#define METRICS_COUNTER_IDX(name, type, fold, src, series, ...) JMD_IF_COUNTER_##series(MC_##name,)
enum { JMD_BIN_FIELDS(METRICS_COUNTER_IDX) MC_N };
#undef METRICS_COUNTER_IDX

/* One size class of one exe. */
struct metrics_bin {
	uint32_t size;
	struct jmd_bin live;     /* the sum over its live processes at the latest tick */
	uint64_t carry[MC_N];    /* counters of the exe's processes that are gone */
};

/* One live process, as the exe table last saw it. */
struct metrics_member {
	pid_t pid;
	uint32_t uid;            /* its process's (exe's owner may be another's: an _other) */
	uint64_t scope;          /* its process's jmd_proc_scope (its exe's may be
	                            another namespace's: a container's _other) */
	char name[JMSTAT_EXE_LEN]; /* its process's exe name (exe may be its uid's _other) */
	uint64_t start_ticks;
	uint64_t seen_gen;        /* the latest update that saw it live */
	struct metrics_exe *exe;
	uint32_t nbins;
	uint32_t *sizes;         /* [nbins] */
	uint64_t (*last)[MC_N];  /* [nbins] its counters at the latest tick */
	struct metrics_member *hnext;
};

struct metrics_exe {
	char exe[JMSTAT_EXE_LEN];  /* METRICS_OTHER_EXE when other */
	uint32_t owner;          /* the uid whose process named it first; an _other's:
	                            its user's (a container's: 0) */
	uint64_t principal;      /* the user owner counts as (jmd_proc_charge) */
	uint64_t scope;          /* jmd_proc_scope: a container's root's (labelled
	                            mntns), apart from the host root's; 0: none */
	bool other;              /* the sum of owner's processes past its cap */
	uint32_t nlive;          /* live processes at the latest tick */
	double last_live;        /* jmd.mono of the latest tick with a live process */
	struct metrics_bin *bins;  /* sorted by size */
	uint32_t nbins, cap;
	struct metrics_exe *hnext;
};

struct http_conn;

#define JMD_HTTP_CODES 9       /* statuses the endpoint answers (http.c's codes[]) */

struct jmd_metrics {
	/* metrics.c: the exe table */
	struct metrics_exe *exes[METRICS_HASH];
	size_t nexes;
	struct metrics_member *members[METRICS_HASH];
	uint64_t gen;            /* updates of the table so far */
	double render_s;         /* how long the latest page took to render */
	struct jmd_blob *page;   /* the page past its health series, rendered (NULL: none),
	                            shared by the scrapes it is being written to */
	uint32_t page_tick;      /* ... of this tick done (jmd.tick_done: once a tick, however many scrapes) */
	struct jmd_text sites_text; /* the site families (metrics.c), rendered */
	uint32_t sites_tick;     /* ... at this tick (they read every segment:
	                            once a tick, however many scrapes) */
	struct jmd_text landing; /* GET /'s page (http.c), built ... */
	uint32_t landing_tick;   /* ... at this tick, once, however many requests */
	bool landing_valid;
	uint64_t landing_builds; /* pages built so far, and the work of the latest: */
	uint64_t landing_steps;  /* processes looked at and names compared (the tests bound it) */

	/* http.c: the endpoint */
	uv_tcp_t server;
	bool server_open;
	char addr[128];          /* what it is bound to, for logs */
	struct http_conn *conns;
	size_t nconns;
	size_t nevicted;         /* of those, closing (or answered 503 to make room),
	                            not yet gone: not counted against the limit */
	size_t queued;           /* response bytes not yet written, all connections */
	uint64_t answered_seq;   /* replies queued so far (http.c: the oldest slow reader) */
	uint64_t responses[JMD_HTTP_CODES]; /* by status: http.c's codes[] */
	uint64_t timeouts;       /* connections closed for being too slow */
	char *token;             /* --metrics-token-file's bearer token, NULL: none */
};

/* http.c: GET /'s page for this tick, built at the first request of the
 * tick and kept; NULL without memory. */
const struct jmd_text *jmd_http_landing(struct jmd *d);

/* metrics_exes.c: a member of the exe table, freed. */
void jmd_metrics_member_free(struct metrics_member *mb);

/* metrics.c and metrics_sites.c: a family's HELP and TYPE lines, a value as
 * Prometheus reads it (METRICS_VALUE_<type>: of a field of fields.h). */
static inline void family(struct jmd_text *t, const char *name, const char *type, const char *help)
{
	jmd_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A number as Prometheus reads it: integers exactly, others to the last bit. */
static inline void value(struct jmd_text *t, double v)
{
	if (!(v == v))
		jmd_text_puts(t, " NaN\n");
	else if (v >= 0 && v < 9007199254740992.0 && v == (double)(uint64_t)v)
		jmd_text_printf(t, " %llu\n", (unsigned long long)v);
	else {
		/* The shortest of %.15g and %.17g that reads back exactly. */
		char buf[40];
		snprintf(buf, sizeof(buf), "%.15g", v);
		if (strtod(buf, NULL) != v)
			snprintf(buf, sizeof(buf), "%.17g", v);
		jmd_text_printf(t, " %s\n", buf);
	}
}

/* " V\n": the common case, without printf (a page has many thousands). */
static inline void uvalue(struct jmd_text *t, uint64_t v)
{
	char buf[24];
	char *e = buf + sizeof(buf), *p = e;
	*--p = '\0';
	*--p = '\n';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	*--p = ' ';
	size_t n = (size_t)(e - p) - 1;
	if (!jmd_text_reserve(t, n))
		return;
	memcpy(t->s + t->len, p, n + 1);
	t->len += n;
}

#define METRICS_VALUE_u32(t, v)  uvalue((t), (v))
#define METRICS_VALUE_u64(t, v)  uvalue((t), (v))
#define METRICS_VALUE_real(t, v) value((t), (v))

/* A bin's series: a counter adds its exe's gone processes' carry, and
 * saturates (fields.h), a gauge is its live sum. */
#define METRICS_CARRY_none(v, carry)    (v)
#define METRICS_CARRY_gauge(v, carry)   (v)
#define METRICS_CARRY_counter(v, carry) jmd_add_u64((v), (carry))

/* metrics_sites.c: the site families, rendered at most once a tick. */
void jmd_metrics_render_sites(struct jmd *d, struct jmd_text *t);

#endif
