/*
 * metrics_exes.c: the per-exe table behind /metrics' per-bin series
 * (metrics.h says why): each tick (jmd_metrics_tick) the live processes'
 * bins are folded into their exe's, a process that is gone leaves its last
 * counters in its exe's carry, and an exe without a live process is
 * forgotten after METRICS_EXE_KEEP_S. The cap of exes per uid
 * (METRICS_EXES_PER_UID) sums the rest of a uid's into {exe="_other"}.
 *
 * An exe is a name and a uid (labelled uid): anyone may name a program
 * as another user's service, and when the table was keyed by the name
 * alone, nobody's "nginx" was summed into the series of www-data's (its
 * figures added, its own counters' fall a reset of that series, its
 * forged sites ranked among the service's).
 */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

static unsigned str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (unsigned)(h ^ (h >> 32)) % METRICS_HASH;
}

static unsigned member_hash(pid_t pid, uint64_t start)
{
	uint64_t h = ((uint64_t)(uint32_t)pid * 0x9e3779b97f4a7c15ull) ^ (start * 0xc2b2ae3d27d4eb4full);
	return (unsigned)(h ^ (h >> 29)) % METRICS_HASH;
}

static struct metrics_exe *exe_new(struct jmd_metrics *m, const char *name, uint32_t owner,
                                   uint64_t principal, uint64_t scope,
                                   bool other)
{
	struct metrics_exe *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	snprintf(e->exe, sizeof(e->exe), "%s", name);
	e->owner = owner;
	e->principal = principal;
	e->scope = scope;
	e->other = other;
	unsigned h = str_hash(name);
	e->hnext = m->exes[h];
	m->exes[h] = e;
	m->nexes++;
	return e;
}

/* The exe p's bin counters are summed in: its exe's, or its uid's
 * _other once that uid has named METRICS_EXES_PER_UID exes. */
static struct metrics_exe *exe_get(const struct jmd *d, struct jmd_metrics *m,
                                   const struct jmd_proc *p)
{
	uint64_t scope = jmd_proc_scope(p);
	for (struct metrics_exe *e = m->exes[str_hash(p->exe)]; e; e = e->hnext)
		if (!e->other && e->owner == p->uid && e->scope == scope && strcmp(e->exe, p->exe) == 0)
			return e;
	/* The cap is per user: a user's subordinate uids count as that user
	 * (principal.c), and share its _other. Root's processes in a
	 * container's own directory count as that container (a user's cap):
	 * root in a container without a user namespace is uid 0 on the host,
	 * and its processes took root's 256 names, root's services started
	 * later summed in _other (tests/metrics/container_exes.test.sh).
	 * And their series are the container's (scope, labelled mntns): a
	 * container's process named as root's host service was summed into
	 * that service's series, its sites ranked among the service's
	 * (tests/metrics/container_scope.test.sh). Their rest goes to the
	 * container's _other. */
	uint64_t who = jmd_proc_charge(d, p);
	/* A container's rest is one _other, labelled uid 0 (the container is
	 * root's: its runtime's) and its mntns, whatever uids it runs: root
	 * there (no user namespace) runs processes as any host uid, and an
	 * _other of each uid past the cap gave it a set of series per uid,
	 * without bound (thirteenth pass, tests/metrics/container_uids). */
	uint32_t label = who & JMD_CHARGE_CONTAINER ? 0 : (uint32_t)who;
	size_t owned = 0;
	for (unsigned h = 0; h < METRICS_HASH; h++)
		for (const struct metrics_exe *e = m->exes[h]; e; e = e->hnext)
			owned += !e->other && e->principal == who;
	if (owned < (who == 0 ? METRICS_EXES_ROOT : METRICS_EXES_PER_UID))
		return exe_new(m, p->exe, p->uid, who, scope, false);
	/* And one _other a container, whatever mount namespaces its root
	 * makes (CAP_SYS_ADMIN), labelled with the first's mntns: one set
	 * of series per namespace before, as many as it liked (fifteenth
	 * pass, tests/containers/hostpid_ns.test.sh). */
	for (struct metrics_exe *e = m->exes[str_hash(METRICS_OTHER_EXE)]; e; e = e->hnext)
		if (e->other && e->owner == label &&
		    (who & JMD_CHARGE_CONTAINER ? e->principal == who : e->scope == scope))
			return e;
	return exe_new(m, METRICS_OTHER_EXE, label, who & JMD_CHARGE_CONTAINER ? who : label, scope,
	               true);
}

static struct metrics_bin *exe_bin(struct metrics_exe *e, uint32_t size)
{
	uint32_t lo = 0, hi = e->nbins;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (e->bins[mid].size < size)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < e->nbins && e->bins[lo].size == size)
		return &e->bins[lo];
	if (e->nbins == e->cap) {
		uint32_t cap = e->cap ? e->cap * 2 : 64;
		struct metrics_bin *v = realloc(e->bins, cap * sizeof(*v));
		if (!v)
			return NULL;
		e->bins = v;
		e->cap = cap;
	}
	memmove(&e->bins[lo + 1], &e->bins[lo], (e->nbins - lo) * sizeof(*e->bins));
	e->nbins++;
	memset(&e->bins[lo], 0, sizeof(e->bins[lo]));
	e->bins[lo].size = e->bins[lo].live.size = size;
	return &e->bins[lo];
}

void jmd_metrics_member_free(struct metrics_member *mb)
{
	free(mb->sizes);
	free(mb->last);
	free(mb);
}

static struct metrics_member *member_get(const struct jmd *d, struct jmd_metrics *m,
                                         const struct jmd_proc *p)
{
	unsigned h = member_hash(p->pid, p->start_ticks);
	for (struct metrics_member *mb = m->members[h]; mb; mb = mb->hnext)
		if (mb->pid == p->pid && mb->start_ticks == p->start_ticks &&
		    mb->uid == p->uid && mb->scope == jmd_proc_scope(p) &&
		    strcmp(mb->name, p->exe) == 0 &&
		    mb->nbins == p->nbins)
			return mb;
	struct metrics_member *mb = calloc(1, sizeof(*mb));
	if (!mb)
		return NULL;
	snprintf(mb->name, sizeof(mb->name), "%s", p->exe);
	mb->exe = exe_get(d, m, p);
	mb->sizes = calloc(p->nbins ? p->nbins : 1, sizeof(*mb->sizes));
	mb->last = calloc(p->nbins ? p->nbins : 1, sizeof(*mb->last));
	if (!mb->exe || !mb->sizes || !mb->last) {
		jmd_metrics_member_free(mb);
		return NULL;
	}
	mb->pid = p->pid;
	mb->uid = p->uid;
	mb->scope = jmd_proc_scope(p);
	mb->start_ticks = p->start_ticks;
	mb->nbins = p->nbins;
	mb->hnext = m->members[h];
	m->members[h] = mb;
	return mb;
}

/* Adds a departed member's last counters to its exe's carry. */
static void member_retire(struct metrics_member *mb)
{
	for (uint32_t b = 0; b < mb->nbins; b++) {
		struct metrics_bin *eb = exe_bin(mb->exe, mb->sizes[b]);
		if (!eb)
			continue;
		for (unsigned k = 0; k < MC_N; k++)
			jmd_sum_u64(&eb->carry[k], mb->last[b][k]);
	}
}

/* Brings the exe table to the live list as it is now: at every tick, and
 * before each page (a process may have left between ticks). */
void jmd_metrics_tick(struct jmd *d)
{
	struct jmd_metrics *m = d->metrics;
	if (!m)
		return;
	m->gen++;
	for (unsigned h = 0; h < METRICS_HASH; h++) {
		for (struct metrics_exe *e = m->exes[h]; e; e = e->hnext) {
			e->nlive = 0;
			for (uint32_t b = 0; b < e->nbins; b++) {
				memset(&e->bins[b].live, 0, sizeof(e->bins[b].live));
				e->bins[b].live.size = e->bins[b].size;
			}
		}
	}
	for (const struct jmd_proc *p = d->live; p; p = p->next) {
		struct metrics_member *mb = member_get(d, m, p);
		if (!mb)
			continue;
		mb->seen_gen = m->gen;
		struct metrics_exe *e = mb->exe;
		e->nlive++;
		e->last_live = d->mono;
		for (uint32_t b = 0; b < p->nbins; b++) {
			const struct jmd_bin *bin = &p->bins[b];
			struct metrics_bin *eb = exe_bin(e, bin->size);
			mb->sizes[b] = bin->size;
#define METRICS_COPY(name, type, fold, src, series, ...) \
	JMD_IF_COUNTER_##series(mb->last[b][MC_##name] = bin->name;)
			JMD_BIN_FIELDS(METRICS_COPY)
#undef METRICS_COPY
			if (eb)
				jmd_bin_add(&eb->live, bin);
		}
	}
	/* Members not seen: their process is gone. */
	for (unsigned h = 0; h < METRICS_HASH; h++) {
		for (struct metrics_member **pp = &m->members[h]; *pp;) {
			struct metrics_member *mb = *pp;
			if (mb->seen_gen == m->gen) {
				pp = &mb->hnext;
				continue;
			}
			member_retire(mb);
			*pp = mb->hnext;
			jmd_metrics_member_free(mb);
		}
	}
	/* Exes without a live process for METRICS_EXE_KEEP_S. No member points
	 * to them: a member's exe has a live process this tick. */
	for (unsigned h = 0; h < METRICS_HASH; h++) {
		for (struct metrics_exe **pp = &m->exes[h]; *pp;) {
			struct metrics_exe *e = *pp;
			if (e->nlive == 0 && d->mono - e->last_live > METRICS_EXE_KEEP_S) {
				*pp = e->hnext;
				free(e->bins);
				free(e);
				m->nexes--;
			} else {
				pp = &e->hnext;
			}
		}
	}
}
