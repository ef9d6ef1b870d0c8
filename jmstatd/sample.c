/*
 * sample.c: reading segments and turning counters into figures.
 *
 * Each tick reads every known segment once through the shared reader
 * (common/segread.c), which returns a validated copy or an error. A good
 * copy whose writer is alive (same pid, same start time, same uid) updates
 * that process's jmd_proc: its bins summed over arenas, its arenas, its
 * totals and, against the sample before, its rates. The tick then appends
 * one history sample per process, per uid and for the host.
 *
 * A file that does not read is skipped with one log line per file (not one
 * per interval); a live process whose file stops reading is dropped from the
 * live view. A writer that died (pid gone, or the pid now belongs to a
 * process with another start time) has its process retired to the dead
 * list and its file removed. Dead processes keep their history for
 * JMD_DEAD_KEEP_MS (at most JMD_DEAD_MAX of them).
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

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

bool jmd_visible(uint32_t owner, uid_t viewer)
{
	return viewer == 0 || owner == (uint32_t)viewer;
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

static double rate(uint64_t now, uint64_t before, double dt)
{
	return now > before ? (double)(now - before) / dt : 0.0;
}

void jmd_totals_add(struct jmd_totals *sum, const struct jmd_totals *t)
{
	sum->processes += t->processes;
	sum->allocated += t->allocated;
	sum->active += t->active;
	sum->mapped += t->mapped;
	sum->dirty += t->dirty;
	sum->small_wasted += t->small_wasted;
	sum->alloc_rate += t->alloc_rate;
	sum->free_rate += t->free_rate;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double unix_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
}

/* ------------------------------------------------------------ rings */

/* Appends a sample; once the ring holds max entries, the oldest goes.
 * The ring grows (doubling) only when full: it then holds its entries in
 * order from slot head (the oldest) round to head - 1 (the newest), and the
 * grown array takes them oldest first from slot 0, so that head = count
 * again and the new slots lie beyond it. */
static void ring_push(struct jmd_ring *r, const struct jmd_hist *h)
{
	if (r->count == r->alloc && r->alloc < r->max) {
		uint32_t n = r->alloc ? r->alloc * 2 : 16;
		if (n > r->max)
			n = r->max;
		struct jmd_hist *e = malloc((size_t)n * sizeof(*e));
		if (e) {
			for (uint32_t i = 0; i < r->count; i++)
				e[i] = r->e[(r->head + i) % r->alloc];
			free(r->e);
			r->e = e;
			r->alloc = n;
			r->head = r->count;
		}
	}
	if (r->alloc == 0)
		return;
	r->e[r->head] = *h;
	r->head = (r->head + 1) % r->alloc;
	if (r->count < r->alloc)
		r->count++;
}

/* Keeps only the valid entries, oldest first, in an exact-size array. */
static void ring_compact(struct jmd_ring *r)
{
	if (r->count == 0) {
		free(r->e);
		memset(r, 0, sizeof(*r));
		return;
	}
	struct jmd_hist *e = malloc((size_t)r->count * sizeof(*e));
	if (!e)
		return;
	uint32_t first = (r->head + r->alloc - r->count) % r->alloc;
	for (uint32_t i = 0; i < r->count; i++)
		e[i] = r->e[(first + i) % r->alloc];
	free(r->e);
	r->e = e;
	r->alloc = r->max = r->count;
	r->head = 0;
}

double jmd_tick_time(const struct jmd *d, uint32_t tick, bool *valid)
{
	*valid = tick != 0 && tick <= d->tick && d->tick - tick < d->hist_max;
	return *valid ? d->tick_time[tick % d->hist_max] : 0.0;
}

static struct jmd_uidhist *uidhist_get(struct jmd *d, uint32_t uid, bool create)
{
	for (struct jmd_uidhist *u = d->uids; u; u = u->next)
		if (u->uid == uid)
			return u;
	if (!create)
		return NULL;
	struct jmd_uidhist *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->uid = uid;
	u->ring.max = d->hist_max;
	u->next = d->uids;
	d->uids = u;
	return u;
}

const struct jmd_ring *jmd_uid_ring(struct jmd *d, uid_t viewer)
{
	struct jmd_uidhist *u = uidhist_get(d, viewer == 0 ? JMD_UID_ALL : (uint32_t)viewer, false);
	return u ? &u->ring : NULL;
}

/* ------------------------------------------------------------ pidfds */

/* A live process's writer is checked through /proc once (its start time
 * and uid, jm_seg_check_process), and then through a pidfd: an fd that is
 * the process itself, readable once it has exited, and that never stands
 * for another process that took the pid after. So the tick checks it with
 * one poll() instead of reading two /proc files (which cost more than
 * reading the segment), and pid reuse stays exact. /proc is read again
 * every JMD_RECHECK_MS (a process may change its real uid). Without a
 * pidfd (an old kernel, a seccomp filter, the fd budget spent), the writer
 * is checked through /proc every tick as before. */

static int pidfd_get(struct jmd *d, pid_t pid)
{
#ifdef SYS_pidfd_open
	if (d->npidfds >= d->max_pidfds)
		return -1;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);   /* close-on-exec */
	if (fd >= 0)
		d->npidfds++;
	return fd;
#else
	return -1;
#endif
}

static void pidfd_put(struct jmd *d, int fd)
{
	if (fd < 0)
		return;
	close(fd);
	d->npidfds--;
}

static bool pidfd_exited(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN);
}

/* Is seg, read from the file st, the one p was sampled from? */
static bool same_writer(const struct jmd_proc *p, const struct jm_seg *seg, const struct stat *st)
{
	/* Same inode is not enough: a file system other than tmpfs gives a
	 * new file the inode of one just removed (an exec replaces the
	 * file), so the creation time in its header is compared too. */
	return p->start_ticks == seg->hdr.start_time && p->created_ns == seg->hdr.update_ns &&
	       p->dev == st->st_dev &&
	       p->ino == st->st_ino && p->nbins == seg->hdr.nbins &&
	       p->narenas == seg->hdr.narenas && p->uid == seg->hdr.uid;
}

/* Is the writer of seg alive and the process it claims to be? As
 * jm_seg_check_process(), for the writer's host pid (census.c maps a
 * writer of another pid namespace to it). p: the live process of its
 * entry, or NULL. Sets *host to the writer's host pid, and *pidfd_out to a
 * new pidfd of the writer for the caller to keep in its process, or -1. */
static int check_writer(struct jmd *d, const struct jmd_proc *p, const struct jm_seg *seg,
                        const struct stat *st, pid_t *host, int *pidfd_out)
{
	bool known = p && p->pidfd >= 0 && same_writer(p, seg, st);
	*pidfd_out = -1;
	uint32_t every = d->opt.interval_ms < JMD_RECHECK_MS ? JMD_RECHECK_MS / d->opt.interval_ms : 1;
	if (known) {
		*host = p->pid;
		if ((d->tick + (uint32_t)p->pid) % every != 0)
			return pidfd_exited(p->pidfd) ? JM_SEG_EDEAD : 0;
	} else {
		int rc = jmd_census_host_pid(d, seg->hdr.pidns, (pid_t)seg->hdr.pid,
		                             seg->hdr.start_time, host);
		if (rc != 0)
			return rc;
	}
	/* Opened before /proc is read: if the process it stands for is still
	 * running after, it is the one /proc described. */
	int fd = known ? p->pidfd : pidfd_get(d, *host);
	int rc = jm_seg_check_process_as(seg, *host);
	if (rc == 0 && fd >= 0 && pidfd_exited(fd))
		rc = JM_SEG_EDEAD;
	if (!known) {
		if (rc == 0)
			*pidfd_out = fd;
		else
			pidfd_put(d, fd);
	}
	return rc;
}

/* The soft limit on fds raised to the hard one (one pidfd per process);
 * the pidfds may take all but a reserve for clients, segments and the
 * rest. */
static void pidfd_budget(struct jmd *d)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1u << 20) ? (1u << 20)
		                                                                     : rl.rlim_max;
		if (want > rl.rlim_cur) {
			struct rlimit up = { want, rl.rlim_max };
			if (setrlimit(RLIMIT_NOFILE, &up) == 0)
				rl.rlim_cur = want;
		}
	}
	size_t cur = rl.rlim_cur == RLIM_INFINITY ? (1u << 20) : (size_t)rl.rlim_cur;
	d->max_pidfds = cur > 2048 ? cur - 1024 : cur / 2;
}

/* ------------------------------------------------------------ processes */

static void proc_free(struct jmd_proc *p)
{
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p->bins);
	free(p->bins_prev);
	free(p->arenas);
	free(p->hist.e);
	free(p);
}

static void list_unlink(struct jmd_proc **head, struct jmd_proc *p)
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

void jmd_proc_retire(struct jmd *d, struct jmd_proc *p, const char *why)
{
	jmd_debug("process %d (%s) left the live view: %s", (int)p->pid, p->exe, why);
	if (p->entry && p->entry->proc == p)
		p->entry->proc = NULL;
	p->entry = NULL;
	for (struct jmd_proc **pp = &d->proc_buckets[proc_bucket(p->pid)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == p) {
			*pp = p->hnext;
			break;
		}
	}
	p->hnext = NULL;
	list_unlink(&d->live, p);
	d->nlive--;
	if (!d->in_tick)
		d->view_gen++;       /* in a tick: at its end */
	pidfd_put(d, p->pidfd);
	p->pidfd = -1;
	free(p->bins);
	free(p->bins_prev);
	free(p->arenas);
	p->bins = p->bins_prev = NULL;
	p->arenas = NULL;
	p->dead_since = d->now;
	ring_compact(&p->hist);
	list_push(&d->dead, p);
	d->ndead++;
}

struct jmd_proc *jmd_proc_find(struct jmd *d, pid_t pid, uid_t viewer)
{
	for (struct jmd_proc *p = d->proc_buckets[proc_bucket(pid)]; p; p = p->hnext)
		if (p->pid == pid)
			return jmd_visible(p->uid, viewer) ? p : NULL;
	return NULL;
}

/* The live process, else the latest dead one with that pid. */
struct jmd_proc *jmd_proc_find_any(struct jmd *d, pid_t pid, uid_t viewer)
{
	struct jmd_proc *p = jmd_proc_find(d, pid, viewer);
	if (p)
		return p;
	for (p = d->dead; p; p = p->next)
		if (p->pid == pid && jmd_visible(p->uid, viewer))
			return p;
	return NULL;
}

static struct jmd_proc *proc_new(struct jmd *d, const struct jm_seg *s, const struct stat *st,
                                 pid_t host)
{
	struct jmd_proc *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pidfd = -1;
	p->nbins = s->hdr.nbins;
	p->narenas = s->hdr.narenas;
	p->bins = calloc(p->nbins ? p->nbins : 1, sizeof(*p->bins));
	p->bins_prev = calloc(p->nbins ? p->nbins : 1, sizeof(*p->bins_prev));
	p->arenas = calloc(p->narenas ? p->narenas : 1, sizeof(*p->arenas));
	if (!p->bins || !p->bins_prev || !p->arenas) {
		proc_free(p);
		return NULL;
	}
	p->pid = host;
	jmd_labels_read(host, &p->labels);
	p->ns_pid = (pid_t)s->hdr.pid;
	p->created_ns = s->hdr.update_ns;
	p->pidns = s->hdr.pidns;
	p->uid = s->hdr.uid;
	p->start_ticks = s->hdr.start_time;
	p->start_time = d->boot_time + (double)s->hdr.start_time / (double)d->clk_tck;
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

/* Folds a validated copy into the process: bins over arenas, totals, rates. */
static void proc_update(struct jmd *d, struct jmd_proc *p, const struct jm_seg *s, uint64_t now)
{
	uint32_t nbins = p->nbins, narenas = p->narenas;
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
		t.active += ar->raw.active;
		t.mapped += ar->raw.mapped;
		t.dirty += ar->raw.dirty;
		t.allocated += ar->raw.allocated_large + ar->raw.allocated_huge;
		alloc_total += ar->raw.nmalloc_large + ar->raw.nmalloc_huge;
		live_objects += sub0(ar->raw.nmalloc_large, ar->raw.ndalloc_large) +
		                sub0(ar->raw.nmalloc_huge, ar->raw.ndalloc_huge);
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
				bin->nmalloc += row->nmalloc;
				bin->ndalloc += row->ndalloc;
				bin->nrequests_bins += row->nrequests;
				bin->curregs += row->curregs;
				bin->curruns += row->curruns;
				bin->nruns += row->nruns;
				bin->nfills += row->nfills;
				bin->nflushes += row->nflushes;
				bin->lock_contended += row->lock_contended;
				bin->cursampled += row->cursampled;
				struct jmd_arena *ar = &p->arenas[a];
				ar->small_handed_out += row->curregs * cl->size;
				ar->small_wasted += sub0(row->curruns * cl->regs_per_run, row->curregs) * cl->size;
			}
		}
		bin->nrequests = bin->nrequests_bins + s->tcache_nrequests[b];
		bin->cached = s->tcache_ncached[b];
		bin->inuse_runs = sub0(bin->curregs, bin->cached);
		bin->inuse = bin->inuse_runs + bin->cursampled;
		bin->capacity = bin->curruns * bin->regs_per_run;
		if (have_prev && p->bins_prev[b].size == bin->size) {
			bin->malloc_rate = rate(bin->nmalloc, p->bins_prev[b].nmalloc, dt);
			bin->request_rate = rate(bin->nrequests, p->bins_prev[b].nrequests, dt);
		} else if (p->read_ns != 0) {
			bin->malloc_rate = p->bins_prev[b].malloc_rate;
			bin->request_rate = p->bins_prev[b].request_rate;
		}
		small_alloc += bin->inuse_runs * bin->size;
		t.small_wasted += sub0(bin->capacity, bin->inuse_runs) * bin->size;
		alloc_total += bin->nrequests;
		live_objects += bin->inuse_runs;
	}
	t.allocated += small_alloc;
	for (uint32_t a = 0; a < narenas; a++) {
		struct jmd_arena *ar = &p->arenas[a];
		ar->allocated = sub0(ar->small_handed_out, s->tcache_arena_small[a]) +
		                ar->raw.allocated_large + ar->raw.allocated_huge;
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
	p->read_ns = now;
	if (d->in_tick)
		p->sampled_tick = d->tick;
	else
		d->view_gen++;       /* in a tick: at its end */
}

/* Lines about bad segments share one budget: a burst of BAD_LOG_BURST,
 * then one more every BAD_LOG_EVERY_MS; past it they go to the verbose log
 * only, and the next line logged says how many were left out. The rule of
 * one line per file does not hold against a file that its owner keeps
 * replacing, or flips between good and bad: without the budget, one such
 * file wrote a hundred lines a second (and under journald's rate limit
 * would push the daemon's other lines out). */
#define BAD_LOG_BURST    50
#define BAD_LOG_EVERY_MS 10000

static void bad_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void bad_log(const char *fmt, ...)
{
	static double tokens = BAD_LOG_BURST;
	static uint64_t last_ns;
	static unsigned long left_out;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	uint64_t now = mono_ns();
	if (last_ns)
		tokens += (double)(now - last_ns) / 1e6 / BAD_LOG_EVERY_MS;
	if (tokens > BAD_LOG_BURST)
		tokens = BAD_LOG_BURST;
	last_ns = now;
	if (tokens < 1.0) {
		left_out++;
		jmd_debug("%s", msg);
		return;
	}
	tokens -= 1.0;
	if (left_out)
		jmd_log("%s (and %lu more lines about bad segments left out before this one)", msg,
		        left_out);
	else
		jmd_log("%s", msg);
	left_out = 0;
}

/* Why a file that does not read as a segment should go, or NULL. Anyone
 * can create a file with the name a future process of another user will
 * take (squatting): that process then publishes under another name
 * (liballoc/stats.c), and this removes the squatter's file once the
 * writer its name claims is gone, or is a process of another uid than
 * the file's owner. A file its own writer's uid left stays while that
 * writer lives: it is that user's own business. */
static const char *bad_file_orphan(struct jmd *d, const struct jmd_entry *e,
                                   const struct stat *st)
{
	pid_t host;
	uint64_t pidns = e->id.pidns ? e->id.pidns : JMSTAT_PIDNS_INIT;
	int rc = jmd_census_host_pid(d, pidns, (pid_t)e->id.pid, e->id.start, &host);
	if (rc == 0)
		rc = jm_seg_check_pid(host, e->id.pidns ? &e->id.start : NULL, (uint32_t)st->st_uid);
	switch (rc) {
	case JM_SEG_EDEAD:
	case JM_SEG_EREUSED:
		return "not a segment, and the process its name claims is gone";
	case JM_SEG_EOWNER:
		return "not a segment, and the process its name claims is another user's";
	default:
		return NULL;
	}
}

/* A file that does not read: one log line per file (per incarnation of
 * it), and only once a new file has had time to be built. */
static void entry_bad(struct jmd *d, struct jmd_entry *e, int err, int err_no,
                      const struct stat *st, bool not_segment)
{
	d->seg_read_errors++;
	if (e->proc) {
		char why[160];
		snprintf(why, sizeof(why), "its segment no longer reads (%s)", jm_seg_strerror(err));
		bad_log("process %d (%s) dropped: %s", (int)e->proc->pid, e->proc->exe, why);
		jmd_proc_retire(d, e->proc, why);
	}
	dev_t dev = st ? st->st_dev : 0;
	ino_t ino = st ? st->st_ino : 0;
	const char *orphan;
	if (not_segment && st && S_ISREG(st->st_mode) && err != JM_SEG_EIO && !jmd_entry_new(d, e) &&
	    (orphan = bad_file_orphan(d, e, st)) != NULL) {
		/* Under the bad-segment budget: anyone can make such files. */
		if (jmd_entry_unlink(d, e, dev, ino) == 0)
			bad_log("removed %s/%s: %s", jmd_entry_dir(d, e), e->name, orphan);
		jmd_entry_remove(d, e);
		return;
	}
	if (e->logged && e->logged_dev == dev && e->logged_ino == ino)
		return;
	if ((err == JM_SEG_EBUSY || err == JM_SEG_ETRUNC || err == JM_SEG_EMAGIC) &&
	    jmd_entry_new(d, e)) {
		jmd_discover_retry_soon(d);
		return;     /* most likely still being built */
	}
	e->logged = true;
	d->seg_rejected++;
	e->logged_dev = dev;
	e->logged_ino = ino;
	if (err == JM_SEG_EIO)
		bad_log("skipping %s/%s: %s: %s", jmd_entry_dir(d, e), e->name, jm_seg_strerror(err),
		        strerror(err_no));
	else
		bad_log("skipping %s/%s: %s", jmd_entry_dir(d, e), e->name, jm_seg_strerror(err));
}

/* Reads per uid per tick. One user's files, however many and however
 * large, get JMD_UID_FILES_TICK reads and JMD_UID_BYTES_TICK bytes a
 * tick; past either, checked after each file, its other files wait for
 * the next tick (they go first then: jmd_tick_end), so that every user's
 * processes are sampled each interval whatever one user does. Root's
 * files are not counted. Uids share slots when more than a few read at
 * once (stricter, never looser). */
#define BUDGET_SLOTS 64u
#define BUDGET_PROBE 8u
#define BUDGET_LOG_MS 10000u
struct jmd_uid_budget {
	uint32_t uid;
	uint32_t tick;           /* the tick the counts are of; another: empty */
	uint32_t files;          /* files read */
	bool logged;             /* its spending was logged this tick */
	uint64_t bytes;          /* bytes read (jm_seg_bytes_read) */
};

static struct jmd_uid_budget *budget_of(struct jmd *d, uid_t uid)
{
	if (uid == 0 || !d->budgets)
		return NULL;
	uint32_t first = (uint32_t)(uid * 2654435761u) % BUDGET_SLOTS;
	for (uint32_t i = 0; i < BUDGET_PROBE; i++) {
		struct jmd_uid_budget *b = &d->budgets[(first + i) % BUDGET_SLOTS];
		if (b->tick == d->tick && b->uid == uid)
			return b;
		if (b->tick != d->tick) {
			memset(b, 0, sizeof(*b));
			b->uid = uid;
			b->tick = d->tick;
			return b;
		}
	}
	return &d->budgets[first];
}

static bool budget_spent(struct jmd *d, struct jmd_uid_budget *b)
{
	if (!b || (b->files < JMD_UID_FILES_TICK && b->bytes < JMD_UID_BYTES_TICK))
		return false;
	/* Once a tick per uid at most, and one line every BUDGET_LOG_MS in
	 * all: its own budget, not the bad segments' (which the same files
	 * may have spent). */
	static uint64_t last_ns;
	static unsigned long left_out;
	if (!b->logged) {
		b->logged = true;
		uint64_t now = mono_ns();
		if (last_ns && now - last_ns < BUDGET_LOG_MS * 1000000ull) {
			left_out++;
		} else {
			jmd_log("uid %u: %u segment files (%.1f MiB) read this tick, its budget: the "
			        "others wait for the next tick (%lu lines like this left out before)",
			        (unsigned)b->uid, b->files, b->bytes / 1048576.0, left_out);
			left_out = 0;
			last_ns = now;
		}
	}
	return true;
}

/* A live writer's rows can stay mid-update through every retry of one
 * read: its thread preempted inside an update on a loaded host, or rows
 * that change faster than they are copied. That says nothing about the
 * process: its last sample stands, and it is dropped only when its rows
 * have not read for JMD_BUSY_GRACE_MS in a row (a file whose seqs stay
 * odd for ever is the hostile case). */
static bool busy_tolerated(struct jmd_entry *e)
{
	uint64_t now = mono_ns();
	if (!e->busy_since_ns)
		e->busy_since_ns = now;
	return now - e->busy_since_ns < (uint64_t)JMD_BUSY_GRACE_MS * 1000000u;
}

void jmd_sample_entry(struct jmd *d, struct jmd_entry *e)
{
	struct jm_seg seg;
	struct stat st;
	int fd = jmd_entry_open(d, e);
	if (fd < 0) {
		int err_no = errno;
		if (err_no == ENOENT) {
			if (e->proc)
				jmd_proc_retire(d, e->proc, "its segment was removed");
			jmd_entry_remove(d, e);
			return;
		}
		if (err_no == EACCES && geteuid() != 0) {
			if (!e->ignored)
				jmd_debug("ignoring %s: not readable by this user", e->name);
			e->ignored = true;
			return;
		}
		entry_bad(d, e, err_no == ELOOP ? JM_SEG_ENOTREG : JM_SEG_EIO, err_no, NULL, true);
		return;
	}
	if (fstat(fd, &st) != 0) {
		int err_no = errno;
		close(fd);
		entry_bad(d, e, JM_SEG_EIO, err_no, NULL, true);
		return;
	}
	struct jmd_uid_budget *budget = budget_of(d, st.st_uid);
	if (budget_spent(d, budget)) {
		close(fd);
		if (!e->deferred)
			d->seg_deferred++;
		e->deferred = true;
		return;
	}
	e->deferred = false;
	uint64_t bytes_before = jm_seg_bytes_read();
	/* The rows of a file read before are not read again while unchanged;
	 * sites.c reads the sites. */
	struct jmd_proc *known = e->proc && e->proc->dev == st.st_dev && e->proc->ino == st.st_ino
	                         ? e->proc : NULL;
	int rc = jm_seg_read_fd_since(fd, JM_SEG_NO_SITES, known ? known->rows_gen : 0, &seg);
	if (rc == 0 && seg.rows_unchanged && !same_writer(known, &seg, &st)) {
		/* Its header no longer matches what its rows were summed for. */
		jm_seg_free(&seg);
		rc = jm_seg_read_fd_since(fd, JM_SEG_NO_SITES, 0, &seg);
	}
	int err_no = errno;
	close(fd);
	if (budget) {
		budget->files++;
		budget->bytes += jm_seg_bytes_read() - bytes_before;
	}
	if (rc == 0 && !jm_seg_name_matches(&e->id, &seg.hdr)) {
		jm_seg_free(&seg);
		rc = JM_SEG_ENAME;
	}
	if (rc == JM_SEG_EBUSY && known && busy_tolerated(e)) {
		d->seg_read_errors++;
		return;     /* a busy writer: its last sample stands for now */
	}
	if (rc != 0) {
		entry_bad(d, e, rc, err_no, &st, true);
		return;
	}
	e->busy_since_ns = 0;

	int pidfd;
	pid_t host = 0;
	rc = check_writer(d, e->proc, &seg, &st, &host, &pidfd);
	if (rc == JM_SEG_EDEAD || rc == JM_SEG_EREUSED) {
		const char *why = rc == JM_SEG_EDEAD ? "its process is gone"
		                                     : "its pid now belongs to another process";
		if (e->proc)
			jmd_proc_retire(d, e->proc, why);
		jmd_entry_unlink_stale(d, e, st.st_dev, st.st_ino, why);
		jm_seg_free(&seg);
		jmd_entry_remove(d, e);
		return;
	}
	if (rc == JM_SEG_EIO) {
		/* /proc could not tell, or the writer is in a pid namespace we
		 * cannot see: nothing is known; keep what we have. */
		jmd_debug("%s: cannot check its process: %s", e->name, strerror(errno));
		jm_seg_free(&seg);
		return;
	}
	if (rc != 0) {
		jm_seg_free(&seg);
		entry_bad(d, e, rc, 0, &st, false);
		return;
	}

	struct jmd_proc *p = e->proc;
	if (p && !same_writer(p, &seg, &st)) {
		jmd_proc_retire(d, p, "a new segment replaced its own");
		p = NULL;
	}
	if (!p) {
		/* Another file may already stand for this process: one it
		 * made before an exec, in a directory the new program no
		 * longer sees (a container's /dev/shm mounted after its first
		 * process started). The file made last is the live one; the
		 * other is its old program's, left behind: removed. */
		struct jmd_proc *old = jmd_proc_find(d, host, 0);
		const char *why = "its process made a newer segment (it exec'd)";
		if (old && old->start_ticks == seg.hdr.start_time && old->created_ns > seg.hdr.update_ns) {
			jmd_entry_unlink_stale(d, e, st.st_dev, st.st_ino, why);
			pidfd_put(d, pidfd);
			jm_seg_free(&seg);
			jmd_entry_remove(d, e);
			return;
		}
		if (old) {
			struct jmd_entry *oe = old->entry;
			dev_t odev = old->dev;
			ino_t oino = old->ino;
			bool stale = old->start_ticks == seg.hdr.start_time;
			jmd_proc_retire(d, old, "a new segment replaced its own");
			if (oe && stale)    /* its entry goes when it reads it gone */
				jmd_entry_unlink_stale(d, oe, odev, oino, why);
		}
		p = proc_new(d, &seg, &st, host);
		if (!p) {
			jmd_log("out of memory tracking process %d", (int)host);
			pidfd_put(d, pidfd);
			jm_seg_free(&seg);
			return;
		}
		e->proc = p;
		p->entry = e;
	}
	if (pidfd >= 0)
		p->pidfd = pidfd;      /* -1 before: check_writer opens none otherwise */
	if (e->logged)
		jmd_debug("%s reads again", e->name);
	e->logged = false;
	proc_update(d, p, &seg, mono_ns());
	jm_seg_free(&seg);
}

/* ------------------------------------------------------------ the tick */

static void history_push(struct jmd *d)
{
	struct jmd_totals host = { 0 };
	for (struct jmd_proc *p = d->live; p; p = p->next) {
		jmd_totals_add(&host, &p->tot);
		if (p->sampled_tick == d->tick) {
			struct jmd_hist h = { p->tot.allocated, p->tot.active, p->tot.mapped,
			                      (float)p->tot.alloc_rate, d->tick };
			ring_push(&p->hist, &h);
		}
		struct jmd_uidhist *u = uidhist_get(d, p->uid, true);
		if (!u)
			continue;
		if (u->last_tick != d->tick) {
			memset(&u->acc, 0, sizeof(u->acc));
			u->last_tick = d->tick;
		}
		jmd_totals_add(&u->acc, &p->tot);
	}
	d->host = host;
	struct jmd_uidhist *all = uidhist_get(d, JMD_UID_ALL, true);
	if (all) {
		all->acc = host;
		all->last_tick = d->tick;
	}
	for (struct jmd_uidhist *u = d->uids; u; u = u->next) {
		if (u->last_tick != d->tick)
			continue;
		struct jmd_hist h = { u->acc.allocated, u->acc.active, u->acc.mapped,
		                      (float)u->acc.alloc_rate, d->tick };
		ring_push(&u->ring, &h);
	}

	/* Uids without a live process for a whole history span. */
	for (struct jmd_uidhist **pp = &d->uids; *pp;) {
		struct jmd_uidhist *u = *pp;
		if (u->uid != JMD_UID_ALL && d->tick - u->last_tick >= d->hist_max) {
			*pp = u->next;
			free(u->ring.e);
			free(u);
		} else {
			pp = &u->next;
		}
	}
}

static void dead_expire(struct jmd *d)
{
	size_t kept = 0;
	struct jmd_proc *next;
	for (struct jmd_proc *p = d->dead; p; p = next) {
		next = p->next;
		kept++;
		if (kept > JMD_DEAD_MAX || (d->now - p->dead_since) * 1000.0 > JMD_DEAD_KEEP_MS) {
			list_unlink(&d->dead, p);
			d->ndead--;
			proc_free(p);
		}
	}
}

/* A tick in slices: the loop serves clients between them, so that a
 * request waits for one slice at most, not for a sampling pass of
 * thousands of segments. Meanwhile what was sampled this tick and what was
 * not yet are side by side; the ps reply kept from the tick before stays
 * in use until the end (jmd.view_gen moves then), and a reply's time is
 * the tick's. The entry the pass goes on with is jmd.tick_next, which
 * jmd_entry_remove() moves on when it goes; entries found meanwhile are
 * added before it (they were read when found). */
void jmd_tick_begin(struct jmd *d)
{
	d->tick_t0 = uv_hrtime();
	d->tick++;
	d->now = unix_now_ms();
	d->tick_time[d->tick % d->hist_max] = d->now;

	d->in_tick = true;
	if (d->tick % JMD_RESCAN_TICKS == 1 || d->rescan_pending)
		jmd_discover_rescan(d);
	d->tick_next = d->entries;
}

bool jmd_tick_slice(struct jmd *d, uint64_t budget_ns)
{
	uint64_t t0 = uv_hrtime();
	unsigned n = 0;
	struct jmd_entry *e;
	while ((e = d->tick_next) != NULL) {
		d->tick_next = e->next;
		if (!e->ignored)
			jmd_sample_entry(d, e);
		if (++n % 16 == 0 && uv_hrtime() - t0 >= budget_ns)
			break;
	}
	return d->tick_next != NULL;
}

void jmd_tick_end(struct jmd *d)
{
	d->in_tick = false;
	d->view_gen++;
	/* Files put off for their owner's budget are read first next tick. */
	struct jmd_entry *next;
	for (struct jmd_entry *e = d->entries; e; e = next) {
		next = e->next;
		if (e->deferred)
			jmd_entry_to_front(d, e);
	}

	history_push(d);
	for (struct jmd_proc *p = d->live; p; p = p->next)
		jmd_alerts_evaluate(d, p);
	jmd_alerts_tick_done(d);
	jmd_metrics_tick(d);
	dead_expire(d);

	d->tick_ms = (double)(uv_hrtime() - d->tick_t0) / 1e6;
	if (d->tick_ms > d->opt.interval_ms && !d->late) {
		jmd_log("sampling %zu segment%s took %.0f ms, more than the %u ms interval: "
		        "the interval is stretched", d->nentries, d->nentries == 1 ? "" : "s",
		        d->tick_ms, d->opt.interval_ms);
		d->late = true;
	} else if (d->late && d->tick_ms < 0.8 * d->opt.interval_ms) {
		jmd_log("sampling takes %.0f ms again, within the %u ms interval",
		        d->tick_ms, d->opt.interval_ms);
		d->late = false;
	}
}

void jmd_tick(struct jmd *d)
{
	jmd_tick_begin(d);
	while (jmd_tick_slice(d, UINT64_MAX))
		;
	jmd_tick_end(d);
}

/* ------------------------------------------------------------ setup */

static double read_boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	double bt = 0.0;
	if (!f)
		return bt;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;
		if (sscanf(line, "btime %llu", &v) == 1) {
			bt = (double)v;
			break;
		}
	}
	fclose(f);
	return bt;
}

int jmd_sample_init(struct jmd *d)
{
	d->clk_tck = sysconf(_SC_CLK_TCK);
	if (d->clk_tck <= 0)
		d->clk_tck = 100;
	d->boot_time = read_boot_time();
	jmd_census_init(d);
	pidfd_budget(d);
	d->hist_max = (d->opt.history_ms + d->opt.interval_ms - 1) / d->opt.interval_ms + 1;
	d->tick_time = calloc(d->hist_max, sizeof(*d->tick_time));
	d->budgets = calloc(BUDGET_SLOTS, sizeof(*d->budgets));
	if (!d->tick_time || !d->budgets)
		return -ENOMEM;
	d->now = unix_now_ms();
	return 0;
}

void jmd_sample_fini(struct jmd *d)
{
	free(d->budgets);
	d->budgets = NULL;
	while (d->live) {
		struct jmd_proc *p = d->live;
		list_unlink(&d->live, p);
		proc_free(p);
	}
	d->nlive = 0;
	memset(d->proc_buckets, 0, sizeof(d->proc_buckets));
	while (d->dead) {
		struct jmd_proc *p = d->dead;
		list_unlink(&d->dead, p);
		proc_free(p);
	}
	d->ndead = 0;
	while (d->uids) {
		struct jmd_uidhist *u = d->uids;
		d->uids = u->next;
		free(u->ring.e);
		free(u);
	}
	free(d->tick_time);
	d->tick_time = NULL;
	jmd_census_fini(d);
}
