/*
 * history.c: the history rings.
 *
 * Each process, each uid and the host keep a ring of samples (allocated,
 * active, mapped, alloc rate, tick) spanning --history; a ring grows as it
 * fills and, once its process is dead, is cut to what it holds. At the end
 * of each tick jmd_history_push() appends one sample per process sampled that
 * tick, one per uid (the sum of its processes) and one for the host, and
 * forgets the uids with no live process for a whole history span. The
 * time of each tick is kept beside them (jmd.tick_time).
 *
 * The uids' rings are found by a hash (jmd.uid_buckets), and one user
 * other than root has JMD_UID_RINGS of them at most, its subordinate
 * uids' included: a user given 65,536 subordinate uids (/etc/subuid, for
 * rootless containers) that ran a process under each in turn made as many
 * rings, each kept 10 minutes (about 1.3 KB each, 85 MB in all), and the
 * tick looked each live process's uid up in a list of them all. A uid
 * past the bound has no ring of its own (its `history` without a pid is
 * empty) while the user's others are kept; its processes are in the
 * host's, and each keeps its own.
 *
 * The bound is kept per jmd_proc_charge of the process whose uid makes
 * the ring, not per principal: root in a container without a user
 * namespace (Docker's default) runs processes as any host uid, none of
 * them subordinate to anyone, and each was a user of its own with a ring
 * of its own: a container going through uids made rings without bound
 * (thirteenth pass, docs/security.md). Such processes count as their
 * container's, whose uids share its 64 rings.
 */
#include "jmstatd.h"
#include "sample.h"

#include <stdlib.h>
#include <string.h>

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
void jmd_ring_compact(struct jmd_ring *r)
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

double jmd_tick_mono(const struct jmd *d, uint32_t tick, bool *valid)
{
	*valid = tick != 0 && tick <= d->tick && d->tick - tick < d->hist_max;
	return *valid ? d->tick_mono[tick % d->hist_max] : 0.0;
}

static struct jmd_uidhist **uid_bucket(struct jmd *d, uint32_t uid)
{
	return &d->uid_buckets[(uid * 2654435761u) % JMD_NBUCKETS];
}

/* Has user JMD_UID_RINGS rings already? Only when a ring would be made:
 * once per tick for each live process of a uid past the bound. */
static bool user_rings_full(const struct jmd *d, uint64_t user)
{
	uint32_t n = 0;
	for (const struct jmd_uidhist *u = d->uids; u; u = u->next)
		if (u->user == user && u->uid != JMD_UID_ALL && ++n >= JMD_UID_RINGS)
			return true;
	return false;
}

/* The ring of uid; if create, made when the charge of p (a live process
 * of uid, jmd_proc_charge) has room (the host's: p NULL, always). */
static struct jmd_uidhist *uidhist_get(struct jmd *d, uint32_t uid, bool create,
                                       const struct jmd_proc *p)
{
	for (struct jmd_uidhist *u = *uid_bucket(d, uid); u; u = u->hnext)
		if (u->uid == uid)
			return u;
	if (!create)
		return NULL;
	uint64_t user = uid == JMD_UID_ALL ? JMD_UID_ALL : jmd_proc_charge(d, p);
	if (user != 0 && user != JMD_UID_ALL && user_rings_full(d, user))
		return NULL;
	struct jmd_uidhist *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->uid = uid;
	u->user = user;
	u->ring.max = d->hist_max;
	u->next = d->uids;
	d->uids = u;
	u->hnext = *uid_bucket(d, uid);
	*uid_bucket(d, uid) = u;
	return u;
}

static void uidhist_unhash(struct jmd *d, struct jmd_uidhist *u)
{
	struct jmd_uidhist **pp = uid_bucket(d, u->uid);
	while (*pp && *pp != u)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = u->hnext;
}

const struct jmd_ring *jmd_uid_ring(struct jmd *d, jmd_viewer viewer)
{
	/* A container's client (jmd_visible): its uid's ring sums the
	 * host's processes of that uid (uid 0's, the host's root's). */
	if (viewer >> 32)
		return NULL;
	struct jmd_uidhist *u = uidhist_get(d, viewer == 0 ? JMD_UID_ALL : (uint32_t)viewer, false, NULL);
	return u ? &u->ring : NULL;
}

/* ------------------------------------------------------------ pushed each tick */

/* The sample of totals t at tick: the fields of fields.h's JMD_HIST_FIELDS. */
static struct jmd_hist hist_of(const struct jmd_totals *t, uint32_t tick)
{
	struct jmd_hist h = { .tick = tick };
#define HIST_SET_(name, type) h.name = (JMD_CTYPE_##type)t->name;
	JMD_HIST_FIELDS(HIST_SET_)
#undef HIST_SET_
	return h;
}

void jmd_history_push(struct jmd *d)
{
	struct jmd_totals host = { 0 };
	for (struct jmd_proc *p = d->live; p; p = p->next) {
		jmd_totals_add(&host, &p->tot);
		if (p->sampled_tick == d->tick) {
			struct jmd_hist h = hist_of(&p->tot, d->tick);
			ring_push(&p->hist, &h);
		}
		struct jmd_uidhist *u = uidhist_get(d, p->uid, true, p);
		if (!u)
			continue;
		if (u->last_tick != d->tick) {
			memset(&u->acc, 0, sizeof(u->acc));
			u->last_tick = d->tick;
		}
		jmd_totals_add(&u->acc, &p->tot);
	}
	d->host = host;
	struct jmd_uidhist *all = uidhist_get(d, JMD_UID_ALL, true, NULL);
	if (all) {
		all->acc = host;
		all->last_tick = d->tick;
	}
	for (struct jmd_uidhist *u = d->uids; u; u = u->next) {
		if (u->last_tick != d->tick)
			continue;
		struct jmd_hist h = hist_of(&u->acc, d->tick);
		ring_push(&u->ring, &h);
	}

	/* Uids without a live process for a whole history span. */
	for (struct jmd_uidhist **pp = &d->uids; *pp;) {
		struct jmd_uidhist *u = *pp;
		if (u->uid != JMD_UID_ALL && d->tick - u->last_tick >= d->hist_max) {
			*pp = u->next;
			uidhist_unhash(d, u);
			free(u->ring.e);
			free(u);
		} else {
			pp = &u->next;
		}
	}
}
