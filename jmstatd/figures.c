/*
 * figures.c: the processes the daemon samples and their figures.
 *
 * The live processes (a list, and a hash by host pid) and the dead ones,
 * whose history is all they keep; a process made from the first good read
 * of its segment (jmd_proc_new), retired when its writer or its file goes
 * (jmd_proc_retire), and each good read folded into it (jmd_proc_update): its
 * bins summed over arenas, its arenas, its totals and, against the read
 * before, its rates. sample.c decides when; this file does the sums.
 *
 * Definitions (docs/figures.md): per bin, cached = regions in live thread
 * caches, inuse_runs = curregs - cached (clamped at 0), inuse = inuse_runs +
 * sampled (the live sampled objects of the class, each on a page of its
 * own), capacity = curruns * regs_per_run, wasted = (capacity - inuse_runs)
 * * size; per process, allocated = sum(inuse_runs * size) + allocated_large
 * - large_cached (the large regions in live thread caches) +
 * allocated_huge, frag_ratio = (active - allocated) / active. An arena's
 * allocated takes off what the threads using it cache.
 */
#include "jmstatd.h"
#include "sample.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

uint32_t jmd_container_key(const char *id)
{
	if (!id || !id[0])
		return 0;
	uint32_t h = 2166136261u;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return 1 + h % (JMD_SCOPE_NS_MIN - 1);
}

/* The container scopes held (jmd_container_scope): one number per id
 * while a client of it is connected, numbered in turn and never two ids
 * the same. The scope was the 32-bit hash of the id (jmd_container_key):
 * two containers whose ids hash alike (a cgroup name is its own choice
 * under cgroup delegation, and 2^32 is within reach of a search) had one
 * scope, each one's clients seeing the other's processes and sharing its
 * kept ps replies (jmd_ps_kept: keyed by the viewer). At most a scope per
 * connected client: a list. */
struct scope_ent {
	uint32_t num;
	uint32_t refs;
	struct scope_ent *next;
	char id[65];
};
static struct scope_ent *scopes;
static uint32_t scope_last_num;         /* numbered last */
static const struct scope_ent *scope_seen; /* found last (jmd_visible) */

static struct scope_ent *scope_of(uint32_t num)
{
	if (scope_seen && scope_seen->num == num)
		return (struct scope_ent *)scope_seen;
	for (struct scope_ent *e = scopes; e; e = e->next)
		if (e->num == num)
			return (struct scope_ent *)(scope_seen = e);
	return NULL;
}

uint32_t jmd_container_scope(const char *id)
{
	if (!id || !id[0])
		return 0;
	for (struct scope_ent *e = scopes; e; e = e->next)
		if (strcmp(e->id, id) == 0) {
			e->refs++;
			return e->num;
		}
	struct scope_ent *e = calloc(1, sizeof(*e));
	if (!e)
		return 0;
	snprintf(e->id, sizeof(e->id), "%s", id);
	/* The next number not held: one comes round again only after some
	 * 3.7 billion containers' scopes, and never while held. */
	do
		scope_last_num = scope_last_num % (JMD_SCOPE_NS_MIN - 1) + 1;
	while (scope_of(scope_last_num));
	e->num = scope_last_num;
	e->refs = 1;
	e->next = scopes;
	scopes = e;
	return e->num;
}

void jmd_container_scope_put(uint32_t scope)
{
	for (struct scope_ent **pe = &scopes; *pe; pe = &(*pe)->next) {
		struct scope_ent *e = *pe;
		if (e->num != scope)
			continue;
		if (--e->refs == 0) {
			*pe = e->next;
			if (scope_seen == e)
				scope_seen = NULL;
			free(e);
		}
		return;
	}
}

bool jmd_visible(uint32_t owner, uint32_t ns_own, uint32_t ns_top, const char *container,
                 jmd_viewer viewer)
{
	uint32_t ns = (uint32_t)(viewer >> 32), uid = (uint32_t)viewer;
	if (ns != 0 && ns < JMD_SCOPE_NS_MIN) {
		const struct scope_ent *e = scope_of(ns);
		if (!e || !container || strcmp(e->id, container) != 0)
			return false;
	} else if (ns != 0 && ns != ns_own && ns != ns_top)
		return false;
	return uid == 0 || owner == uid;
}

bool jmd_proc_visible(const struct jmd_proc *p, jmd_viewer viewer)
{
	return jmd_visible(p->uid, p->ns_own, p->ns_top, p->labels.container, viewer);
}

double jmd_util(uint64_t inuse, uint64_t capacity)
{
	if (capacity == 0)
		return 1.0;
	double u = (double)inuse / (double)capacity;
	return u > 1.0 ? 1.0 : u;
}

double jmd_frag_ratio(uint64_t active, uint64_t allocated)
{
	if (active == 0 || allocated >= active)
		return 0.0;
	return (double)(active - allocated) / (double)active;
}

static uint64_t sub0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* A rate at most 2^63 a second, what JSON holds of an integer: a counter
 * a writer moved from 0 to 2^64 - 1 in 200 ms is no rate of 9.2e19/s. */
static double rate(uint64_t now, uint64_t before, double dt)
{
	double r = now > before ? (double)(now - before) / dt : 0.0;
	return r < (double)INT64_MAX ? r : (double)INT64_MAX;
}

/* ------------------------------------------------------------ processes */

void jmd_proc_free(struct jmd_proc *p)
{
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (p->segfd >= 0)
		close(p->segfd);
	free(p->bins);
	free(p->bins_prev);
	free(p->arenas);
	free(p->hist.e);
	jmd_sites_reply_free(p);
	free(p);
}

void jmd_list_unlink(struct jmd_proc **head, struct jmd_proc *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		*head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->next = p->prev = NULL;
}

static void list_push(struct jmd_proc **head, struct jmd_proc *p)
{
	p->prev = NULL;
	p->next = *head;
	if (*head)
		(*head)->prev = p;
	*head = p;
}

static unsigned proc_bucket(pid_t pid)
{
	return (unsigned)pid % JMD_NBUCKETS;
}

/* Live processes per user (a principal: a user's subordinate uids count
 * as it; a container's directory whose namespaces root owns: jmd_file_charge),
 * for --user-processes: each process is charged once, when it
 * becomes live, to the key of that moment (jmd_proc.charged), and that
 * same key is given its slot back when it leaves, whatever the
 * subordinate uid file says by then. Root's on the host are not counted. */
struct jmd_uid_count {
	uint64_t user;
	uint32_t live;
	struct jmd_uid_count *next;
};

static struct jmd_uid_count **user_slot(struct jmd_uid_count *const *buckets, uint64_t user)
{
	struct jmd_uid_count *const *pp = &buckets[(user ^ (user >> 32)) % JMD_NBUCKETS];
	while (*pp && (*pp)->user != user)
		pp = &(*pp)->next;
	return (struct jmd_uid_count **)pp;
}

uint32_t jmd_user_live(const struct jmd *d, uint64_t key)
{
	struct jmd_uid_count *c = *user_slot(d->uid_live, key);
	return c ? c->live : 0;
}

bool jmd_user_full(const struct jmd *d, const struct jmd_dir *dir, uint32_t uid)
{
	uint64_t key = jmd_file_charge(d, dir, uid);
	return key != JMD_CHARGE_NONE && jmd_user_live(d, key) >= d->opt.uid_procs;
}

void jmd_proc_charge_live(struct jmd *d, struct jmd_proc *p)
{
	if (p->charged != JMD_CHARGE_NONE)
		return;
	uint64_t key = jmd_file_charge(d, p->entry ? p->entry->dir : NULL, p->uid);
	if (key == JMD_CHARGE_NONE)
		return;
	struct jmd_uid_count **pp = user_slot(d->uid_live, key);
	if (!*pp) {
		*pp = calloc(1, sizeof(**pp));
		if (!*pp)
			return;      /* not counted: out of memory as it is */
		(*pp)->user = key;
	}
	(*pp)->live++;
	p->charged = key;
}

static void user_release(struct jmd *d, struct jmd_proc *p)
{
	if (p->charged == JMD_CHARGE_NONE)
		return;
	struct jmd_uid_count **pp = user_slot(d->uid_live, p->charged);
	p->charged = JMD_CHARGE_NONE;
	if (!*pp)
		return;
	if (--(*pp)->live == 0) {
		struct jmd_uid_count *c = *pp;
		*pp = c->next;
		free(c);
	}
}

void jmd_user_counts_free(struct jmd *d)
{
	for (size_t i = 0; i < JMD_NBUCKETS; i++) {
		while (d->uid_live[i]) {
			struct jmd_uid_count *c = d->uid_live[i];
			d->uid_live[i] = c->next;
			free(c);
		}
	}
}

uint64_t jmd_untracked(const struct jmd *d, uint32_t user)
{
	uint64_t n = 0;
	for (const struct jmd_entry *e = d->entries; e; e = e->next)
		n += e->untracked && !e->proc && !e->logged &&
		     (user == JMD_UID_ALL || (e->owner != 0 && jmd_principal(d, e->owner) == user));
	return n;
}

void jmd_proc_retire(struct jmd *d, struct jmd_proc *p, const char *why)
{
	jmd_debug("process %d (%s) left the live view: %s", (int)p->pid, p->exe, why);
	if (p->entry && p->entry->proc == p)
		p->entry->proc = NULL;
	p->entry = NULL;
	user_release(d, p);
	for (struct jmd_proc **pp = &d->proc_buckets[proc_bucket(p->pid)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == p) {
			*pp = p->hnext;
			break;
		}
	}
	p->hnext = NULL;
	jmd_list_unlink(&d->live, p);
	d->nlive--;
	if (!d->in_tick)
		d->view_gen++;       /* in a tick: at its end */
	jmd_proc_pidfd_put(d, p);
	jmd_segfd_put(d, p);
	jmd_sites_reply_free(p);
	free(p->bins);
	free(p->bins_prev);
	free(p->arenas);
	p->bins = p->bins_prev = NULL;
	p->arenas = NULL;
	p->dead_since = d->now;
	p->dead_mono = d->mono;
	jmd_ring_compact(&p->hist);
	list_push(&d->dead, p);
	d->ndead++;
}

struct jmd_proc *jmd_proc_find(struct jmd *d, pid_t pid, jmd_viewer viewer)
{
	for (struct jmd_proc *p = d->proc_buckets[proc_bucket(pid)]; p; p = p->hnext)
		if (p->pid == pid)
			return jmd_proc_visible(p, viewer) ? p : NULL;
	return NULL;
}

/* The live process, else the latest dead one with that pid. */
struct jmd_proc *jmd_proc_new(struct jmd *d, const struct jm_seg *s, const struct stat *st,
                              pid_t host)
{
	struct jmd_proc *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pidfd = -1;
	p->segfd = -1;
	p->nbins = s->hdr.nbins;
	p->narenas = s->hdr.narenas;
	p->bins = calloc(p->nbins ? p->nbins : 1, sizeof(*p->bins));
	p->bins_prev = calloc(p->nbins ? p->nbins : 1, sizeof(*p->bins_prev));
	p->arenas = calloc(p->narenas ? p->narenas : 1, sizeof(*p->arenas));
	if (!p->bins || !p->bins_prev || !p->arenas) {
		jmd_proc_free(p);
		return NULL;
	}
	p->pid = host;
	/* Out of descriptors, its cgroup or pid namespace cannot be read: it
	 * kept no container labels, and a client in its container's pid
	 * namespace did not see it, as long as it lived (a soak at the
	 * limit). Read again at its next read (jmd_proc_where_again). */
	int r = jmd_labels_read(host, &p->labels);
	int no_fds = r < 0 && jmd_no_fds(-r) ? -r : 0;
	if (jmd_pidns_of(host, &p->ns_own, &p->ns_top) < 0 && jmd_no_fds(errno))
		no_fds = errno;
	if (no_fds) {
		p->where_unread = true;   /* read again soon: sample.c */
		jmd_log_no_fds(no_fds, "process %d's cgroup and pid namespace not read (read once "
		               "a descriptor is free)", (int)host);
	}
	p->ns_pid = (pid_t)s->hdr.pid;
	p->created_ns = s->hdr.update_ns;
	p->pidns = s->hdr.pidns;
	p->uid = s->hdr.uid;
	p->start_ticks = s->hdr.start_time;
	/* When it started as we see it: a writer in a time namespace sees
	 * its start shifted by the namespace's boot-time offset. */
	char stat[1024], state;
	uint64_t ticks = s->hdr.start_time;
	if (jmd_proc_file(host, "stat", stat, sizeof(stat)) < 0 ||
	    !jm_seg_parse_stat(stat, &state, &ticks))
		ticks = s->hdr.start_time;
	p->start_time = d->boot_time + (double)ticks / (double)d->clk_tck;
	/* The name is the writer's to choose: keep printable ASCII only. */
	for (size_t i = 0; i < sizeof(p->exe) - 1 && s->hdr.exe[i]; i++) {
		unsigned char ch = (unsigned char)s->hdr.exe[i];
		p->exe[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	for (size_t i = 0; i < sizeof(p->path) - 1 && s->hdr.path[i]; i++) {
		unsigned char ch = (unsigned char)s->hdr.path[i];
		p->path[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	p->dev = st->st_dev;
	p->ino = st->st_ino;
	p->hist.max = d->hist_max;
	p->charged = JMD_CHARGE_NONE;   /* jmd_proc_charge_live, once its entry is set */
	list_push(&d->live, p);
	d->nlive++;
	unsigned b = proc_bucket(host);
	p->hnext = d->proc_buckets[b];
	d->proc_buckets[b] = p;
	if (p->ns_pid != p->pid)
		jmd_debug("process %d (%s, uid %u; pid %d in pid namespace %llu) is live", (int)p->pid,
		          p->exe, p->uid, (int)p->ns_pid, (unsigned long long)p->pidns);
	else
		jmd_debug("process %d (%s, uid %u) is live", (int)p->pid, p->exe, p->uid);
	return p;
}

/* p's cgroup and pid namespace, not read when it became live for want of
 * a descriptor (jmd_proc_new), read now at a read of its segment that
 * found host its writer: kept if it still is after (a pid read by name
 * could be another process's by then), else its next read finds it gone.
 * Until then its labels are empty (tests/daemon/fd_limit_where). */
void jmd_proc_where_again(struct jmd *d, struct jmd_proc *p, const struct jm_seg *s, pid_t host)
{
	struct jmd_labels l;
	uint32_t own, top;
	int r = jmd_labels_read(host, &l);
	if ((r < 0 && jmd_no_fds(-r)) ||
	    (jmd_pidns_of(host, &own, &top) < 0 && jmd_no_fds(errno)))
		return;
	if (!jmd_writer_still(s, host, p->pidfd))
		return;
	p->labels = l;
	p->ns_own = own;
	p->ns_top = top;
	p->where_unread = false;
	if (!d->in_tick)
		d->view_gen++;       /* in a tick: at its end */
	jmd_debug("process %d (%s): its cgroup and pid namespace read now that a descriptor is free",
	          (int)p->pid, p->exe);
}

/* Would folding s into p give what p shows already? Its rows as they were
 * (rows_unchanged), its threads' caches as they were, and every rate of
 * its latest sample 0 (a rate against an unchanged counter is 0): then
 * every bin, arena and total comes out the same, and is not computed again
 * (the whole fold was 8% of the daemon's time at 1,000 idle processes,
 * most of it copying bins). */
static bool proc_still(const struct jmd_proc *p, const struct jm_seg *s)
{
	if (!s->rows_unchanged || !p->still || p->read_ns == 0)
		return false;
	for (uint32_t b = 0; b < p->nbins; b++) {
		const struct jmd_bin *bin = &p->bins[b];
		if (bin->cached != s->tcache_ncached[b] ||
		    bin->nrequests - bin->nrequests_bins != s->tcache_nrequests[b])
			return false;
	}
	for (uint32_t a = 0; a < p->narenas; a++)
		if (p->arenas[a].tc_small != s->tcache_arena_small[a] ||
		    p->arenas[a].tc_large != s->tcache_arena_large[a])
			return false;
	return true;
}

/* Folds a validated copy into the process: bins over arenas, totals, rates.
 * The fields of fold arena are summed from the rows as fields.h says; the
 * others of fold calc are computed here. */
void jmd_proc_update(struct jmd *d, struct jmd_proc *p, const struct jm_seg *s, uint64_t now)
{
	/* Every bin counter of the segment (jmstat.h) is a field of a bin:
	 * one added there fails to compile here until JMD_BIN_FIELDS has a
	 * row of its name (fold arena, src the counter), so that it is
	 * shown. */
#define SEG_BIN_SHOWN_(name, type, unit, help) (void)sizeof(((struct jmd_bin *)0)->name);
	JMSTAT_BIN_COUNTERS(SEG_BIN_SHOWN_)
#undef SEG_BIN_SHOWN_
	uint32_t nbins = p->nbins, narenas = p->narenas;
	/* What the next read may skip (sample.c). */
	p->copy_skips = s->rows_unchanged ? p->copy_skips + 1 : 0;
	p->gen_skips = s->rows_unchanged && s->rows_seqs == 0 ? p->gen_skips + 1 : 0;
	if (s->rows_seqs != 0)
		p->rows_seqs = s->rows_seqs;
	if (proc_still(p, s)) {
		p->nthreads = s->nthreads_live;
		p->bg_wakes = s->hdr.bg_wakes;
		p->bg_running = s->hdr.bg_running;
		p->rows_gen = s->rows_gen;
		goto read;
	}
	struct jmd_bin *old = p->bins;
	p->bins = p->bins_prev;
	p->bins_prev = old;
	bool have_prev = p->read_ns != 0 && now > p->read_ns;
	double dt = have_prev ? (double)(now - p->read_ns) / 1e9 : 0.0;
	if (dt < 0.001)
		have_prev = false;

	struct jmd_totals t = { .processes = 1 };
	uint64_t small_alloc = 0, live_objects = 0, alloc_total = 0;

	/* Rows unchanged since the sample before (an idle process): what is
	 * summed from them is as it was; only the thread caches are new. */
	bool rows = !s->rows_unchanged;
	for (uint32_t a = 0; a < narenas; a++) {
		struct jmd_arena *ar = &p->arenas[a];
		if (rows) {
			ar->raw = s->arenas[a];
			ar->large_handed_out = ar->raw.allocated_large;
			ar->small_handed_out = 0;
			ar->small_wasted = 0;
		}
		/* The thread caches move while the rows stay: from the figures
		 * as read each time. */
		ar->raw.allocated_large = sub0(ar->large_handed_out, s->tcache_arena_large[a]);
		ar->tc_large = s->tcache_arena_large[a];
#define TOTALS_ARENA_(name, type, fold, src, ...) JMD_IF_ARENA_##fold(jmd_sum_u64(&t.name, ar->raw.src);)
		JMD_TOTALS_FIELDS(TOTALS_ARENA_)
#undef TOTALS_ARENA_
		jmd_sum_u64(&t.allocated, jmd_add_u64(ar->raw.allocated_large, ar->raw.allocated_huge));
		jmd_sum_u64(&alloc_total, jmd_add_u64(ar->raw.nmalloc_large, ar->raw.nmalloc_huge));
		jmd_sum_u64(&live_objects, jmd_add_u64(sub0(ar->raw.nmalloc_large, ar->raw.ndalloc_large),
		                                       sub0(ar->raw.nmalloc_huge, ar->raw.ndalloc_huge)));
	}

	for (uint32_t b = 0; b < nbins; b++) {
		struct jmd_bin *bin = &p->bins[b];
		const struct jmstat_class *cl = &s->classes[b];
		if (!rows) {
			*bin = p->bins_prev[b];
		} else {
			memset(bin, 0, sizeof(*bin));
			bin->size = cl->size;
			bin->regs_per_run = cl->regs_per_run;
			bin->run_size = cl->run_size;
			for (uint32_t a = 0; a < narenas; a++) {
				const struct jmstat_bin *row = &s->bins[(size_t)a * nbins + b];
#define BIN_ARENA_(name, type, fold, src, ...) JMD_IF_ARENA_##fold(jmd_sum_##type(&bin->name, row->src);)
				JMD_BIN_FIELDS(BIN_ARENA_)
#undef BIN_ARENA_
				jmd_sum_u64(&bin->nrequests_bins, row->nrequests);
				struct jmd_arena *ar = &p->arenas[a];
				jmd_sum_u64(&ar->small_handed_out, jmd_mul_u64(row->curregs, cl->size));
				jmd_sum_u64(&ar->small_wasted,
				            jmd_mul_u64(sub0(jmd_mul_u64(row->curruns, cl->regs_per_run),
				                             row->curregs), cl->size));
			}
		}
		bin->nrequests = jmd_add_u64(bin->nrequests_bins, s->tcache_nrequests[b]);
		bin->cached = s->tcache_ncached[b];
		bin->inuse_runs = sub0(bin->curregs, bin->cached);
		bin->inuse = jmd_add_u64(bin->inuse_runs, bin->cursampled);
		bin->capacity = jmd_mul_u64(bin->curruns, bin->regs_per_run);
		if (have_prev && p->bins_prev[b].size == bin->size) {
			bin->malloc_rate = rate(bin->nmalloc, p->bins_prev[b].nmalloc, dt);
			bin->request_rate = rate(bin->nrequests, p->bins_prev[b].nrequests, dt);
		} else if (p->read_ns != 0) {
			bin->malloc_rate = p->bins_prev[b].malloc_rate;
			bin->request_rate = p->bins_prev[b].request_rate;
		}
		jmd_sum_u64(&small_alloc, jmd_mul_u64(bin->inuse_runs, bin->size));
		jmd_sum_u64(&t.small_wasted, jmd_bin_wasted_bytes(bin));
		jmd_sum_u64(&alloc_total, bin->nrequests);
		jmd_sum_u64(&live_objects, bin->inuse_runs);
	}
	jmd_sum_u64(&t.allocated, small_alloc);
	for (uint32_t a = 0; a < narenas; a++) {
		struct jmd_arena *ar = &p->arenas[a];
		ar->allocated = jmd_add_u64(sub0(ar->small_handed_out, s->tcache_arena_small[a]),
		                            jmd_add_u64(ar->raw.allocated_large, ar->raw.allocated_huge));
		ar->tc_small = s->tcache_arena_small[a];
	}

	uint64_t free_total = sub0(alloc_total, live_objects);
	if (have_prev) {
		t.alloc_rate = rate(alloc_total, p->alloc_total, dt);
		t.free_rate = rate(free_total, p->free_total, dt);
	} else if (p->read_ns != 0) {
		t.alloc_rate = p->tot.alloc_rate;
		t.free_rate = p->tot.free_rate;
	}
	p->alloc_total = alloc_total;
	p->free_total = free_total;
	p->tot = t;
	p->nthreads = s->nthreads_live;
	p->bg_wakes = s->hdr.bg_wakes;
	p->bg_running = s->hdr.bg_running;
	p->rows_gen = s->rows_gen;
	p->still = t.alloc_rate == 0.0 && t.free_rate == 0.0;
	for (uint32_t b = 0; b < nbins && p->still; b++)
		p->still = p->bins[b].malloc_rate == 0.0 && p->bins[b].request_rate == 0.0;
read:
	p->read_ns = now;
	if (d->in_tick)
		p->sampled_tick = d->tick;
	else
		d->view_gen++;       /* in a tick: at its end */
}
