/*
 * pprof.c: the heap profiles that http.c serves with --pprof, in pprof's
 * format (common/pprof.h, docs/pprof.md):
 *   /pid/PID/debug/pprof/heap     /pid/PID/debug/pprof/allocs
 *   /exe/NAME/debug/pprof/heap    /exe/NAME/debug/pprof/allocs
 * (heap: inuse_space by default; allocs: alloc_space; the same samples).
 * The pid is in the path, not a query, since pprof's remote symbolization
 * drops the query; NAME is the executable name as `jmctl ps` shows it,
 * percent-encoded where it must be.
 *
 * Unsymbolized, and without any address of any process: the daemon never
 * opens a program's files (it runs as root), and a runtime address would
 * tell whoever reaches the port where each process's code is mapped
 * (ASLR). So each frame is rewritten from the segment's module table as a
 * file offset of its module: the location's address is the file offset of
 * the call (return address - 1), in a mapping of the module's path and
 * GNU build-id whose start is the file offset of its executable segment
 * (start = offset, so address - start + offset is the file offset itself,
 * and pprof, Pyroscope and Parca find the virtual address from the ELF
 * file's program headers as for any mapping). A frame outside every module
 * of the table becomes one location with no mapping and address 0.
 * pprof, given a URL, asks .../debug/pprof/symbol to name what it could
 * not (Go's net/http/pprof protocol): the answer is that no symbol is
 * served, and pprof goes on with what it has.
 *
 * A site so has the same identity (build-id, offset) in every process of
 * one binary: /exe/NAME adds the sites of every live process of that name
 * into one profile, mappings joined by build-id and file offset, equal
 * stacks summed, whoever runs them (as `jmctl ps` lists an executable).
 * Anyone may name a program as another user's service and so add its
 * (forged) sites to that profile: /uid/UID/exe/NAME/... merges only the
 * processes of NAME that user UID runs, for a scrape that must not depend
 * on what other users run.
 *
 * What one profile may cost: reading a process's sites takes the loop
 * about 0.5 ms (1,024 stacks), and every stack no other process has adds
 * to the profile (forged segments can make them all distinct: 2.3 ms and
 * 0.26 MB a process). So an /exe/NAME profile merges the oldest processes
 * first (a user who names later processes as a running service's comes
 * after it), and stops after JMD_PPROF_PROCS of them or once it holds
 * JMD_PPROF_STACKS stacks; the header X-Jmstatd-Processes says how many
 * of how many it merged.
 *
 * What many profiles may cost: HTTP tells no uid, so the socket's budget
 * per user (sites_cmd.c) cannot apply, and a client asking for the
 * profiles of 64 processes in a loop had each built anew, request after
 * request, the loop busy and root's requests waiting. So a profile is
 * built once per path and tick and served again to every request until
 * the tick ends (an /exe/ one also while younger than ten times its
 * build: however often it is asked for, building it takes a tenth of the
 * loop at most), as many paths as are asked (within PPROF_KEEP_BYTES);
 * and every build of the listener comes out of one budget a tick
 * (1/PPROF_SHARE of the interval's CPU, checked before a build): past
 * it, the request waits for the next tick (r->deferred; http.c keeps it
 * on its connection, then jmd_http_tick asks again, oldest first).
 *
 * Who may read: everyone who reaches the listener, for every process, as
 * for /metrics (TCP tells no uid). That is why it is off unless --pprof is
 * given, and why --metrics binds the loopback unless told otherwise: a
 * heap profile tells what code each process runs.
 */
#include "pprof.h"
#include "jmstatd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PPROF_SHARE      10u          /* the listener's builds take 1/this of the
                                          interval's CPU a tick, at least one build */
#define PPROF_KEEP_COST  10u          /* an /exe/ profile is also served again while
                                          younger than this many times its build */
#define PPROF_KEEP_BYTES (64u << 20)  /* profiles kept at once, bytes */
#define PPROF_BUCKETS    256u

/* The profiles built, by path: each served again until the tick ends (an
 * /exe/ profile also while younger than PPROF_KEEP_COST times what it
 * took to build). As many as the budget lets be built in a tick, whatever
 * their number, within PPROF_KEEP_BYTES. */
struct kept_profile {
	struct kept_profile *next;  /* in its bucket */
	char *path;
	size_t plen;
	pid_t pid;               /* a /pid/ profile's process (pid, start time), */
	uint64_t start_ticks;    /* ... else 0 */
	unsigned char *body;
	size_t len;
	char header[sizeof(((struct jmd_pprof_reply *)0)->header)];
	uint32_t tick;           /* d->tick when it was built */
	uint64_t until_ns;       /* also served again until then (now_ns()) */
};
static struct kept_profile *kept[PPROF_BUCKETS];
static size_t kept_bytes;
static uint64_t spent_ns;    /* CPU the listener's builds took this tick */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned bucket_of(const char *path, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)path[i]) * 16777619u;
	return h % PPROF_BUCKETS;
}

static void kept_free(struct kept_profile *k)
{
	kept_bytes -= k->len + k->plen;
	free(k->path);
	free(k->body);
	free(k);
}

/* A profile of path[0..len) (of process pid, started at start_ticks: 0 for
 * /exe/) still to be served again, copied into *r. */
static bool kept_serve(struct jmd *d, const char *path, size_t len, pid_t pid, uint64_t start_ticks,
                       struct jmd_pprof_reply *r)
{
	for (struct kept_profile *k = kept[bucket_of(path, len)]; k; k = k->next) {
		if (k->plen != len || memcmp(k->path, path, len) != 0)
			continue;
		if (k->pid != pid || k->start_ticks != start_ticks ||
		    (k->tick != d->tick && now_ns() >= k->until_ns) ||
		    !(r->body = malloc(k->len ? k->len : 1)))
			return false;
		memcpy(r->body, k->body, k->len);
		r->len = k->len;
		r->status = 200;
		memcpy(r->header, k->header, sizeof(r->header));
		d->pprof_kept++;
		return true;
	}
	return false;
}

/* Keeps r's profile of path (pid's, or an /exe/ one built from wall time
 * t0), in place of the one of the same path; not if it would take the
 * profiles kept past PPROF_KEEP_BYTES. */
static void kept_store(struct jmd *d, const char *path, size_t len, pid_t pid, uint64_t start_ticks,
                       const struct jmd_pprof_reply *r, uint64_t t0)
{
	struct kept_profile **pp = &kept[bucket_of(path, len)];
	for (struct kept_profile **q = pp; *q; q = &(*q)->next) {
		if ((*q)->plen == len && memcmp((*q)->path, path, len) == 0) {
			struct kept_profile *old = *q;
			*q = old->next;
			kept_free(old);
			break;
		}
	}
	if (kept_bytes + r->len + len > PPROF_KEEP_BYTES)
		return;
	struct kept_profile *k = calloc(1, sizeof(*k));
	unsigned char *body = malloc(r->len ? r->len : 1);
	char *copy = strndup(path, len);
	if (!k || !body || !copy) {
		free(k);
		free(body);
		free(copy);
		return;
	}
	memcpy(body, r->body, r->len);
	k->path = copy;
	k->plen = len;
	k->pid = pid;
	k->start_ticks = start_ticks;
	k->body = body;
	k->len = r->len;
	memcpy(k->header, r->header, sizeof(k->header));
	k->tick = d->tick;
	uint64_t now = now_ns();
	k->until_ns = pid ? 0 : now + (now - t0) * PPROF_KEEP_COST;
	k->next = *pp;
	*pp = k;
	kept_bytes += r->len + len;
}

/* The tick's budget for builds: 1/PPROF_SHARE of the interval, 1 ms at
 * least. Spent: the request waits for the next tick (r->deferred). It is
 * checked before a build, so one build a tick always goes through. */
static bool over_budget(struct jmd *d, struct jmd_pprof_reply *r)
{
	uint64_t budget = (uint64_t)d->opt.interval_ms * 1000000u / PPROF_SHARE;
	if (spent_ns < (budget > 1000000u ? budget : 1000000u))
		return false;
	r->deferred = true;
	d->pprof_deferred++;
	return true;
}

void jmd_pprof_tick(struct jmd *d)
{
	(void)d;
	spent_ns = 0;
	uint64_t now = now_ns();
	for (unsigned b = 0; b < PPROF_BUCKETS; b++) {
		for (struct kept_profile **q = &kept[b]; *q;) {
			if (now < (*q)->until_ns) {
				q = &(*q)->next;
				continue;
			}
			struct kept_profile *old = *q;
			*q = old->next;
			kept_free(old);
		}
	}
}

void jmd_pprof_fini(void)
{
	for (unsigned b = 0; b < PPROF_BUCKETS; b++) {
		while (kept[b]) {
			struct kept_profile *k = kept[b];
			kept[b] = k->next;
			kept_free(k);
		}
	}
	spent_ns = 0;
}

/* The oldest first: by start time, then pid. */
static int by_age(const void *a, const void *b)
{
	const struct jmd_proc *p = *(const struct jmd_proc *const *)a;
	const struct jmd_proc *q = *(const struct jmd_proc *const *)b;
	if (p->start_ticks != q->start_ticks)
		return p->start_ticks < q->start_ticks ? -1 : 1;
	return (p->pid > q->pid) - (p->pid < q->pid);
}

/* Adds p's sites to the profile. 0, or a negative errno (-ESRCH: the
 * process is gone or replaced, -ENODATA: it samples nothing). */
static int add_process(struct jmd *d, const struct jmd_proc *p, struct jm_pprof **prof, bool allocs)
{
	struct jm_seg seg;
	int rc = jmd_site_segment(d, p, &seg, NULL);
	if (rc != 0)
		return rc;
	if (seg.hdr.sample_bytes == 0 || seg.hdr.nsites_max == 0) {
		jm_seg_free(&seg);
		return -ENODATA;
	}
	if (*prof == NULL && (*prof = jm_pprof_new(seg.hdr.sample_bytes, allocs)) == NULL) {
		jm_seg_free(&seg);
		return -ENOMEM;
	}
	struct jm_pprof *pp = *prof;
	/* Each module's mapping, the program's first (pass 0; pprof takes the
	 * first mapping for the program). The copy's flags then hold the
	 * mapping id, and the copy is sorted by start for the lookups. */
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		for (uint32_t i = 0; i < seg.nmodules && rc == 0; i++) {
			struct jmstat_module *m = &seg.modules[i];
			if ((pass == 0) != ((m->flags & JMSTAT_MODULE_MAIN) != 0))
				continue;
			char id[2 * JMSTAT_BUILD_ID_MAX + 1];
			jm_pprof_hex(m->build_id, m->build_id_len, id);
			uint64_t mapping = jm_pprof_mapping(pp, m->offset, m->offset + (m->limit - m->start),
			                                    m->offset, m->path, id);
			if (mapping == 0)
				rc = -ENOMEM;
			m->flags = (uint32_t)mapping;
		}
	}
	jm_pprof_sort_modules(seg.modules, seg.nmodules);

	/* Live bytes bounded per class by what the process holds there, and
	 * live objects in the same proportion, as the sites command gives
	 * them to jmctl (jmd_sites_bound, jmd_site_bounded): a program that
	 * keeps its sampled objects and frees the others must not show a
	 * site holding more than the process (docs/sites.md). Objects were
	 * left raw until session 35: demo_fragment -a's inuse_objects said
	 * thirty-odd times what its inuse_space did (tests/pprof/bounded). */
	double factor[JMSTAT_NBINS + 1];
	if (rc == 0 && seg.hdr.nbins > JMSTAT_NBINS)
		rc = -EIO;
	if (rc == 0)
		jmd_sites_bound(p, &seg, factor);

	for (uint32_t s = 0; s < seg.nsites && rc == 0; s++) {
		const struct jmstat_site *row = &seg.sites[s];
		const uint64_t *bins = &seg.site_bins[(size_t)s * (seg.hdr.nbins + 1)];
		uint64_t locs[JMSTAT_SITE_FRAMES];
		uint32_t n = 0;
		if (row->nframes == 0)
			continue;
		uint64_t live, objects;
		jmd_site_bounded(&seg, row, bins, factor, &live, &objects, NULL);
		for (uint32_t f = 0; f < row->nframes && f < JMSTAT_SITE_FRAMES; f++) {
			uint64_t pc = row->frames[f] ? row->frames[f] - 1 : 0;
			const struct jmstat_module *m = jm_pprof_module_at(seg.modules, seg.nmodules, pc);
			uint64_t loc = m ? jm_pprof_location(pp, m->flags, pc - m->start + m->offset, NULL, 0)
			                 : jm_pprof_location(pp, 0, 0, NULL, 0);
			if (loc == 0) {
				rc = -ENOMEM;
				break;
			}
			locs[n++] = loc;
		}
		if (rc == 0 && n > 0)
			rc = jm_pprof_sample(pp, locs, n, row->alloc_objects, row->alloc_bytes,
			                     objects, live);
	}
	jm_seg_free(&seg);
	return rc;
}

/* Decodes %XX escapes of s[0..len) into out (size bytes); false if an
 * escape is bad, the name is empty or too long, or holds a NUL or '/'. */
static bool decode_name(const char *s, size_t len, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= len)
				return false;
			hi = s[i + 1] >= '0' && s[i + 1] <= '9' ? s[i + 1] - '0' :
			     (s[i + 1] | 0x20) >= 'a' && (s[i + 1] | 0x20) <= 'f' ? (s[i + 1] | 0x20) - 'a' + 10 : -1;
			lo = s[i + 2] >= '0' && s[i + 2] <= '9' ? s[i + 2] - '0' :
			     (s[i + 2] | 0x20) >= 'a' && (s[i + 2] | 0x20) <= 'f' ? (s[i + 2] | 0x20) - 'a' + 10 : -1;
			if (hi < 0 || lo < 0)
				return false;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || c == '/' || o + 1 >= size)
			return false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return o > 0;
}

static void set_error(struct jmd_pprof_reply *r, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_error(struct jmd_pprof_reply *r, unsigned status, const char *fmt, ...)
{
	va_list ap;
	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

static int encode(struct jm_pprof *prof, struct jmd_pprof_reply *r)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int rc = jm_pprof_encode(prof, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, &r->body, &r->len);
	if (rc != 0)
		set_error(r, 500, "cannot encode the profile: %s", strerror(-rc));
	else
		r->status = 200;
	return rc;
}

static const char symbol[] = "/debug/pprof/symbol";

/* Is p one of /exe/NAME's processes (want_uid < 0), or of
 * /uid/UID/exe/NAME's? Root's processes read from a container's own
 * directory are not root's there: root in a container without a user
 * namespace is uid 0 on the host, and its processes named as root's
 * service were merged into /uid/0/exe/ of that service, the path a
 * scrape names so as not to depend on what others run
 * (tests/pprof/container_uid.test.sh). */
static bool exe_wanted(const struct jmd_proc *p, const char *name, long want_uid)
{
	return strcmp(p->exe, name) == 0 &&
	       (want_uid < 0 || (p->uid == (uid_t)want_uid && jmd_proc_scope(p) == 0));
}

/* The length of a leading "/uid/DIGITS" followed by "/exe/" (its uid in
 * *uid), else 0. */
static size_t uid_prefix(const char *path, size_t len, long *uid)
{
	size_t i = 5;
	long v = 0;
	if (len < 5 || memcmp(path, "/uid/", 5) != 0)
		return 0;
	for (; i < len && path[i] >= '0' && path[i] <= '9'; i++) {
		if ((i > 5 && v == 0) || v > 999999999)      /* a leading 0; 10 digits */
			return 0;
		v = v * 10 + (path[i] - '0');
	}
	if (i == 5 || v > (long)UINT32_MAX || len - i < 5 || memcmp(path + i, "/exe/", 5) != 0)
		return 0;
	*uid = v;
	return i;
}

bool jmd_pprof_symbol_path(const char *path, size_t len)
{
	size_t sl = sizeof(symbol) - 1;
	long uid;
	size_t skip = uid_prefix(path, len, &uid);
	path += skip;
	len -= skip;
	return len > 5 + sl && (memcmp(path, "/pid/", 5) == 0 || memcmp(path, "/exe/", 5) == 0) &&
	       memcmp(path + len - sl, symbol, sl) == 0 && memchr(path + 5, '/', len - 5 - sl) == NULL;
}

bool jmd_pprof_serve(struct jmd *d, const char *path, size_t len, struct jmd_pprof_reply *r)
{
	static const char heap[] = "/debug/pprof/heap", allocs[] = "/debug/pprof/allocs";
	memset(r, 0, sizeof(*r));
	if (jmd_pprof_symbol_path(path, len)) {
		/* pprof's remote symbolization (net/http/pprof's protocol): a GET
		 * asks whether symbols are served, a POST names addresses. The
		 * daemon names none (it opens no program's file): an empty
		 * answer, after which pprof symbolizes from local files. */
		static const char none[] = "num_symbols: 0\n";
		r->status = 200;
		r->body = malloc(sizeof(none));
		if (!r->body) {
			set_error(r, 500, "out of memory");
			return true;
		}
		memcpy(r->body, none, sizeof(none) - 1);
		r->len = sizeof(none) - 1;
		r->text = true;
		return true;
	}
	bool by_pid;
	long want_uid = -1;
	size_t skip = uid_prefix(path, len, &want_uid);
	path += skip;
	len -= skip;
	if (len > 5 && memcmp(path, "/pid/", 5) == 0)
		by_pid = true;
	else if (len > 5 && memcmp(path, "/exe/", 5) == 0)
		by_pid = false;
	else
		return false;
	const char *key = path + 5;
	const char *slash = memchr(key, '/', len - 5);
	size_t klen = slash ? (size_t)(slash - key) : len - 5;
	size_t rest = len - 5 - klen;
	bool want_allocs;
	if (slash && rest == sizeof(heap) - 1 && memcmp(slash, heap, rest) == 0)
		want_allocs = false;
	else if (slash && rest == sizeof(allocs) - 1 && memcmp(slash, allocs, rest) == 0)
		want_allocs = true;
	else {
		set_error(r, 404, "not found: the profiles are /%s/%s/debug/pprof/heap and .../allocs",
		          by_pid ? "pid" : "exe", by_pid ? "PID" : "NAME");
		return true;
	}

	struct jm_pprof *prof = NULL;
	if (by_pid) {
		long pid = 0;
		for (size_t i = 0; i < klen; i++) {
			if (key[i] < '0' || key[i] > '9' || (i == 0 && key[i] == '0') || pid > 99999999) {
				set_error(r, 400, "bad request: PID must be a process id in decimal");
				return true;
			}
			pid = pid * 10 + (key[i] - '0');
		}
		struct jmd_proc *p = klen ? jmd_proc_find(d, (pid_t)pid, 0) : NULL;
		if (!p) {
			set_error(r, 404, "no process %ld publishes a stats segment", pid);
			return true;
		}
		const char *whole = path - skip;
		size_t whole_len = len + skip;
		if (kept_serve(d, whole, whole_len, p->pid, p->start_ticks, r) || over_budget(d, r))
			return true;
		uint64_t c0 = cpu_ns();
		int rc = add_process(d, p, &prof, want_allocs);
		if (rc == -ENODATA)
			set_error(r, 404, "process %ld samples no allocations (prof_sample:0)", pid);
		else if (rc == -ESRCH)
			set_error(r, 404, "no process %ld publishes a stats segment", pid);
		else if (rc == -ENOMEM)
			set_error(r, 500, "out of memory building the profile of process %ld", pid);
		else if (rc != 0)
			set_error(r, 503, "cannot read the segment of process %ld now", pid);
		else if (encode(prof, r) == 0)
			kept_store(d, whole, whole_len, p->pid, p->start_ticks, r, 0);
		jm_pprof_free(prof);
		spent_ns += cpu_ns() - c0;
		d->pprof_built++;
		return true;
	}

	char name[JMSTAT_EXE_LEN];
	if (!decode_name(key, klen, name, sizeof(name))) {
		set_error(r, 400, "bad request: NAME must be an executable name as jmctl ps shows "
		          "it (percent-encoded, at most %d bytes)", JMSTAT_EXE_LEN - 1);
		return true;
	}
	const char *whole = path - skip;
	size_t whole_len = len + skip;
	if (kept_serve(d, whole, whole_len, 0, 0, r))
		return true;
	uint64_t t0 = now_ns();
	size_t live = 0;
	for (struct jmd_proc *p = d->live; p; p = p->next)
		live += exe_wanted(p, name, want_uid);
	if (live == 0) {
		set_error(r, 404, "no live process of exe %s", name);
		return true;
	}
	if (over_budget(d, r))
		return true;
	uint64_t c0 = cpu_ns();
	struct jmd_proc **procs = malloc(live * sizeof(*procs));
	if (!procs) {
		set_error(r, 500, "out of memory building the profile of exe %s", name);
		return true;
	}
	size_t n = 0;
	for (struct jmd_proc *p = d->live; p && n < live; p = p->next)
		if (exe_wanted(p, name, want_uid))
			procs[n++] = p;
	qsort(procs, n, sizeof(*procs), by_age);
	unsigned read = 0, sampling = 0, merged = 0;
	int rc = 0;
	for (size_t i = 0; i < n && rc != -ENOMEM; i++) {
		if (merged >= JMD_PPROF_PROCS || (prof && jm_pprof_nsamples(prof) >= JMD_PPROF_STACKS))
			break;
		rc = add_process(d, procs[i], &prof, want_allocs);
		if (rc == 0)
			read++;
		if (rc != -ENODATA) {
			sampling++;
			merged++;
		}
	}
	free(procs);
	if (rc == -ENOMEM)
		set_error(r, 500, "out of memory building the profile of exe %s", name);
	else if (sampling == 0)
		set_error(r, 404, "no process of exe %s samples allocations (prof_sample:0)", name);
	else if (read == 0)
		set_error(r, 503, "cannot read the segments of exe %s now", name);
	else if (encode(prof, r) == 0) {
		snprintf(r->header, sizeof(r->header), "X-Jmstatd-Processes: %u of %zu\r\n", read, n);
		if (read < n)
			jmd_debug("/exe/%s: %u of its %zu processes merged (at most %u processes, %u "
			          "stacks)", name, read, n, JMD_PPROF_PROCS, JMD_PPROF_STACKS);
		kept_store(d, whole, whole_len, 0, 0, r, t0);
	}
	jm_pprof_free(prof);
	spent_ns += cpu_ns() - c0;
	d->pprof_built++;
	return true;
}
