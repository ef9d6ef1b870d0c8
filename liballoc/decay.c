/*
 * decay.c: how many dirty pages may stay, by how long ago they became
 * dirty (after jemalloc's decay: a smoothstep curve over decay_ms, in
 * JM_DECAY_EPOCHS epochs).
 *
 * A page freed now may stay for a while: purging it only to fault it back
 * in at the next allocation costs a madvise, a TLB shootdown and a page
 * fault per page (about 1.3 us a fault on the machines we measured). A
 * page freed decay_ms ago and not reused since is memory the process no
 * longer needs. Between the two the allowance falls along
 * 1 - smoothstep(age / decay_ms), so a burst of frees goes back gradually,
 * not all at once at decay_ms, and a process in steady churn, whose pages
 * are freed and taken again within an epoch or two, purges nearly nothing.
 *
 * The owner of a struct jm_decay (an arena for its free runs, huge.c for
 * the freed huge regions) counts the pages it makes dirty into `pending`
 * (jm__decay_dirtied), and calls jm__decay_update at most once an epoch:
 * it files the pending pages under the current epoch and returns the limit;
 * the owner purges its oldest dirty pages until it holds no more. Pages
 * taken again before they were purged are not subtracted: the limit is an
 * upper bound on what may stay, and the pages that remain are the oldest.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

/* (1 - smoothstep((i + 1) / EPOCHS)) << DECAY_SHIFT */
#define DECAY_SHIFT 24
static uint32_t h_steps[JM_DECAY_EPOCHS];
uint64_t jm__decay_interval_ns;

void jm__decay_boot(void)
{
	for (unsigned i = 0; i < JM_DECAY_EPOCHS; i++) {
		double x = (double)(i + 1) / JM_DECAY_EPOCHS;
		double s = x * x * (3.0 - 2.0 * x);
		h_steps[i] = (uint32_t)((1.0 - s) * (double)(1u << DECAY_SHIFT) + 0.5);
	}
	if (jm__opt.decay_ms > 0) {
		jm__decay_interval_ns = (uint64_t)jm__opt.decay_ms * 1000000u / JM_DECAY_EPOCHS;
		if (jm__decay_interval_ns == 0)
			jm__decay_interval_ns = 1;
	}
}

uint64_t jm__decay_update(struct jm_decay *d, uint64_t now)
{
	uint64_t iv = jm__decay_interval_ns;
	if (d->epoch_ns == 0 || iv == 0)
		d->epoch_ns = now;
	if (iv && now >= d->epoch_ns + iv) {
		uint64_t n = (now - d->epoch_ns) / iv;
		d->epoch_ns += n * iv;
		if (n >= JM_DECAY_EPOCHS) {
			memset(d->backlog, 0, sizeof(d->backlog));
		} else {
			for (uint64_t k = 0; k < n; k++) {
				d->cur = d->cur + 1 == JM_DECAY_EPOCHS ? 0 : d->cur + 1;
				d->backlog[d->cur] = 0;
			}
		}
	}
	uint64_t add = d->pending + d->backlog[d->cur];
	d->backlog[d->cur] = add > UINT32_MAX ? UINT32_MAX : (uint32_t)add;
	d->pending = 0;
	uint64_t sum = 0;
	unsigned j = d->cur;
	for (unsigned i = 0; i < JM_DECAY_EPOCHS; i++) {
		sum += (uint64_t)d->backlog[j] * h_steps[i];
		j = j == 0 ? JM_DECAY_EPOCHS - 1 : j - 1;
	}
	d->limit = sum >> DECAY_SHIFT;
	return d->limit;
}

/* Whether the decay's epoch has moved since its last update. */
bool jm__decay_due(const struct jm_decay *d, uint64_t now)
{
	return now >= d->epoch_ns + jm__decay_interval_ns;
}

/*
 * In a cgroup with a memory limit (a container's), dirty pages count
 * against the limit like live ones, and the kernel cannot reclaim them
 * without swap: at the limit it kills the process. Two threads of a
 * process limited to 256 MiB, each in turn allocating 150 MiB of 1000 B
 * objects and freeing them all, were killed under jmalloc, glibc and
 * jemalloc (the second thread's arena does not reuse the first's dirty
 * pages), not under mimalloc or tcmalloc, which purge at once. So where
 * the limit is known the hard caps (an arena's, the kept huge regions')
 * are at most a sixteenth of it each (JM_CGROUP_CAP_DIV), and at least
 * JM_CGROUP_CAP_MIN: the limit is read once, the first time a cap is
 * looked at with more than that dirty (os.c, jm__os_cgroup_limit_in).
 * Returns the bound in pages, UINT64_MAX where there is no limit.
 */
#define JM_CGROUP_CAP_DIV 16
/* Pages; 0: not read yet; CG_READING: being read (by one thread, whose
 * claim the others see: they go without the bound meanwhile, as does a
 * child forked then; the reader maps its buffers, os.c). */
#define CG_READING 1
static _Atomic uint64_t cgroup_cap;

uint64_t jm__cgroup_dirty_cap(void)
{
	uint64_t c = atomic_load_explicit(&cgroup_cap, memory_order_relaxed);
	if (c == CG_READING)
		return UINT64_MAX;
	if (c == 0) {
		uint64_t unread = 0;
		if (!atomic_compare_exchange_strong_explicit(&cgroup_cap, &unread, CG_READING,
		        memory_order_acquire, memory_order_relaxed))
			return unread == CG_READING ? UINT64_MAX : unread;
		int saved = errno;   /* on free's path: files that are not there */
		uint64_t limit = jm__os_cgroup_limit_in("");
		errno = saved;
		c = UINT64_MAX;
		if (limit) {
			c = (limit / JM_CGROUP_CAP_DIV) >> JM_LG_PAGE;
			if (c < JM_CGROUP_CAP_MIN)
				c = JM_CGROUP_CAP_MIN;
		}
		atomic_store_explicit(&cgroup_cap, c, memory_order_relaxed);
	}
	return c;
}
