/*
 * compat.c: glibc's malloc tuning and introspection calls, which programs
 * link (mallopt, malloc_trim, mallinfo, mallinfo2, malloc_info,
 * malloc_stats), answered by the allocator. Preloaded without them, a call
 * reached glibc's own allocator, which serves nothing here (mallinfo2 said
 * 0 bytes in use, malloc_trim gave nothing back); linked statically with
 * libjmalloc.a, any of them pulled glibc's malloc.o out of libc.a, whose
 * malloc and free collided with the allocator's: the program did not link.
 *
 * mallopt accepts every parameter and changes nothing (JMALLOC_CONF is the
 * allocator's configuration). malloc_trim purges every arena's dirty pages
 * and the kept huge regions' now, when there are more of them than
 * JM_TRIM_KEEP (4 MiB) or pad, whichever is larger, or more than pad in a
 * lone call (the process's first, or the calling thread's first in a
 * while, which flushes its cache first: below); below that it purges
 * the dirty runs that no allocation took over its last JM_TRIM_AGE (2048)
 * calls (an arena that has none is not locked, one another thread holds
 * is skipped: arena.c, jm__arenas_purge_aged), leaves the rest to the decay (the background purger returns them
 * within decay_ms), and returns whether it purged any. A program that
 * calls it after every request so keeps what its requests reuse, and
 * gives back what they have stopped using (decay_ms, 10 s, is longer than
 * many such programs run); in such a process the arenas take a run from
 * the dirty ones first (arena.c, dirty_fit), so that the runs purged are
 * the last to be faulted in again. It also counts as half a look of the calling thread's
 * cache GC (tcache.c, jm__tcache_trim): lists unused since the last look
 * give back half of what they hold. Programs tuned for glibc's malloc call it after every
 * request or every few operations (stress-ng's malloc stressor does every
 * 30 or so): each purge of the few pages that a request freed made the
 * next request fault them in again, and the walk over every bin row for
 * the totals took a quarter of the time (trim-often, tests/bench: 4.1 x
 * mimalloc's time and 7.4 x its page faults, which leaves the call to
 * glibc's own heap). glibc's pad is the free memory its trim leaves at the
 * top of the heap: here, the dirty memory it leaves in all. The figures come from the arenas' and
 * bins' counters, the same the stats segment publishes: in use is small
 * regions (curregs x size, those in thread caches included, as glibc counts
 * its tcache) plus large regions (arena) and huge regions (mapped).
 *
 * unshare and setns: the kernel refuses a new user or mount namespace to a
 * process of more than one thread (EINVAL), and the background purger is
 * one: a program that had freed a few MiB before unshare(CLONE_NEWUSER)
 * (a sandbox, a container runtime) failed. Both end the purger first (a
 * later free starts it again), then make the system call. Weak, as
 * __register_atfork is (init.c), for a static link.
 */
#include "internal.h"

#include <errno.h>
#include <linux/nsfs.h>
#include <malloc.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080   /* Linux 5.6 */
#endif

#if !defined(JM_NO_LIBC_NAMES) || !JM_NO_LIBC_NAMES

/* The dirty memory in all below which malloc_trim purges only what has
 * gone unused for JM_TRIM_AGE of its calls. */
#define JM_TRIM_KEEP ((size_t)4 << 20)
#define JM_TRIM_AGE 2048

struct totals {
	size_t mapped;   /* chunks */
	size_t small;    /* small regions handed out */
	size_t large;
	size_t huge;
	size_t dirty;
	size_t purged;
};

/* The bin rows of the arenas made only, through the arena (its rows may
 * be its own, not the segment's): an arena not made has none in the file
 * (stats.c), and reading a hole of the file's mapping allocated a page. */
static void arena_totals(unsigned i, struct totals *t)
{
	const struct jmstat_arena *a = jm__stats_arena_row(i);
	t->mapped += a->mapped;
	t->large += a->allocated_large;
	t->huge += a->allocated_huge;
	t->dirty += __atomic_load_n(&a->dirty, __ATOMIC_RELAXED);      /* arena.c, stats_dirty */
	t->purged += __atomic_load_n(&a->purged, __ATOMIC_RELAXED);
	const struct jm_arena *arena = __atomic_load_n(&jm__arenas[i], __ATOMIC_ACQUIRE);
	for (unsigned b = 0; arena != NULL && b < JM_NBINS; b++)
		t->small += (size_t)arena->bins[b].stats->curregs * jm__bin_info[b].size;
}

static struct totals totals(void)
{
	jm__tcache_inh_flush();   /* its gathered frees counted */
	struct totals t = {0};
	if (atomic_load(&jm__initialized))
		for (unsigned i = 0; i < jm__narenas; i++)
			arena_totals(i, &t);
	return t;
}

JM_EXPORT int mallopt(int param, int value)
{
	(void)param;
	(void)value;
	return 1;
}

/* One pass over the arenas made (an arena not made has nothing dirty:
 * its row is never written): the dirty bytes of all, and whether any has
 * a dirty run that no allocation took over the last JM_TRIM_AGE calls
 * (its oldest run's stamp, arena.c's dirty_oldest, or its cache's oldest
 * region's, ac_oldest; gen is the count
 * before this call). Both read without a lock, as the purge's own look
 * does. A call that finds nothing to give back so costs a look at each
 * arena's record and row, not a second walk over the arenas' rows in the
 * segment and a third over their records (trim-requests: 8 threads that
 * each trim after every request of 24 objects). */
static size_t dirty_scan(uint64_t gen, bool *aged)
{
	size_t dirty = 0;
	uint64_t before = gen >= JM_TRIM_AGE ? gen - JM_TRIM_AGE + 1 : 0;
	bool old = false;
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *a = __atomic_load_n(&jm__arenas[i], __ATOMIC_ACQUIRE);
		if (a == NULL)
			continue;
		dirty += __atomic_load_n(&a->stats->dirty, __ATOMIC_RELAXED);
		uint64_t oldest = __atomic_load_n(&a->dirty_oldest, __ATOMIC_RELAXED);
		old |= oldest != 0 && oldest < before;
		/* The arena's cache of 9 to 64 pages: dirty pages too, with a
		 * stamp of their own (jm__arenas_purge_aged reads both). */
		uint64_t cached = __atomic_load_n(&a->ac_oldest, __ATOMIC_RELAXED);
		old |= cached != 0 && cached < before;
	}
	*aged = old;
	return dirty;
}

JM_EXPORT int malloc_trim(size_t pad)
{
	if (!atomic_load(&jm__initialized))
		return 0;
	size_t dirty, before, after;
	/* A lone call (the process's first, or the thread's first in a
	 * while: tcache.c, jm__tcache_trim_lone) is a program asking for its
	 * memory back after a phase, not after every request: it gives back
	 * all but pad, the calling thread's cache first, as glibc's does. It
	 * kept up to 4 MiB dirty (and 1 MiB of large regions and the small
	 * lists in the cache): a program that freed 3 MiB and trimmed once
	 * got nothing back until the decay (tests/preload/trim_aged.test.sh,
	 * once). */
	uint64_t gen = __atomic_fetch_add(&jm__trim_gen, 1, __ATOMIC_RELAXED);
	bool lone = gen == 0;
	lone |= jm__tcache_trim_lone();
	if (lone)
		jm__tcache_flush_all_current();
	jm__tcache_trim();
	bool aged;
	dirty = dirty_scan(gen + 1, &aged);
	if (dirty <= (lone || pad > JM_TRIM_KEEP ? pad : JM_TRIM_KEEP))
		return aged ? jm__arenas_purge_aged(JM_TRIM_AGE) : 0;
	jm__arenas_dirty_purged(&dirty, &before);
	jm__huge_purge_all();
	jm__arenas_purge(0, true);
	jm__arenas_dirty_purged(&dirty, &after);
	return after != before;
}

JM_EXPORT struct mallinfo2 mallinfo2(void)
{
	struct totals t = totals();
	struct mallinfo2 m = {0};
	size_t inuse = t.small + t.large;
	m.arena = t.mapped;
	m.hblks = 0;
	m.hblkhd = t.huge;
	m.uordblks = inuse;
	m.fordblks = t.mapped > inuse ? t.mapped - inuse : 0;
	m.keepcost = 0;
	return m;
}

JM_EXPORT struct mallinfo mallinfo(void)
{
	struct mallinfo2 m2 = mallinfo2();
	struct mallinfo m = {0};
	m.arena = (int)m2.arena;
	m.hblkhd = (int)m2.hblkhd;
	m.uordblks = (int)m2.uordblks;
	m.fordblks = (int)m2.fordblks;
	return m;
}

JM_EXPORT int malloc_info(int options, FILE *fp)
{
	if (options != 0) {
		errno = EINVAL;
		return -1;
	}
	struct totals t = totals();
	fprintf(fp, "<malloc version=\"jmalloc-1\">\n"
	    "<total type=\"mapped\" size=\"%zu\"/>\n"
	    "<total type=\"small\" size=\"%zu\"/>\n"
	    "<total type=\"large\" size=\"%zu\"/>\n"
	    "<total type=\"huge\" size=\"%zu\"/>\n"
	    "<total type=\"dirty\" size=\"%zu\"/>\n"
	    "<system type=\"current\" size=\"%zu\"/>\n"
	    "</malloc>\n", t.mapped, t.small, t.large, t.huge, t.dirty, t.mapped + t.huge);
	return 0;
}

/* What a process needs to be alone in for unshare: the new user and mount
 * namespaces imply CLONE_FS (and a user namespace CLONE_THREAD). */
#define JM_ALONE_FLAGS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_FS | CLONE_THREAD | \
			CLONE_SIGHAND | CLONE_VM)

JM_EXPORT __attribute__((weak)) int unshare(int flags)
{
	if (flags & JM_ALONE_FLAGS)
		jm__bg_stop();
	if (flags & (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWTIME))
		jm__stats_ns_changed();   /* a forked child's segment reads them */
	return (int)syscall(SYS_unshare, flags);
}

/* nstype 0 takes whatever namespace fd is: the kernel says which
 * (NS_GET_NSTYPE), and the purger is ended only for a user or mount one,
 * or where it cannot say (a pidfd, a kernel before 4.11). stress-ng's
 * pthread stressor joins its own UTS namespace from every thread, and each
 * call waited for the purger to die. */
JM_EXPORT __attribute__((weak)) int setns(int fd, int nstype)
{
	int type = nstype;
	if (type == 0) {
		int saved = errno;
		type = ioctl(fd, NS_GET_NSTYPE);
		errno = saved;
	}
	if (type <= 0 || (type & (CLONE_NEWUSER | CLONE_NEWNS)))
		jm__bg_stop();
	if (type <= 0 || (type & (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWTIME)))
		jm__stats_ns_changed();
	return (int)syscall(SYS_setns, fd, nstype);
}

/* clone() without CLONE_VM makes a process of a copy of this memory, as
 * fork does, but glibc runs no fork handler around it: the child had the
 * allocator's locks as other threads held them, and no stats segment at
 * all (it is mapped MADV_DONTFORK, stats.c), where its thread cache's
 * lists are: its first small allocation was a SIGSEGV. Around such a
 * clone the allocator's own handlers run (not the program's: glibc runs
 * none), the child's before its function. With CLONE_VM the child shares
 * this memory and the segment, as vfork's does: nothing to do (bg.c keeps
 * it from starting a purger of its own). glibc's __clone makes it; weak,
 * for a static link (libc.a's clone then wins, as before). A child made by
 * the system call through syscall(), or by _Fork, gets them in rawfork.c.
 * When the child's function returns, it ends as a program's last thread
 * does. */
struct clone_start {
	int (*fn)(void *);
	void *arg;
};

static int clone_child(void *p)
{
	/* The parent's frame, copied with the rest of its memory. */
	struct clone_start s = *(struct clone_start *)p;
	jm__fork_child();
	int rc = s.fn(s.arg);
	/* glibc's clone ends the child with exit, the thread's: a purger
	 * the child started (it frees as a forked child does) would keep
	 * the process alive for ever. As when a program's last thread
	 * returns (tcache.c): the purger ends first, and with it the
	 * process, unless the child made threads of its own that still
	 * allocate; then so does its segment. */
	if (jm__arena_live_threads() <= 1) {
		jm__bg_stop();
		jm__stats_exit();
	}
	return rc;
}

extern int __clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);

JM_EXPORT __attribute__((weak)) int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	pid_t *parent_tid = va_arg(ap, pid_t *);
	void *tls = va_arg(ap, void *);
	pid_t *child_tid = va_arg(ap, pid_t *);
	va_end(ap);
	if (flags & CLONE_VM)
		return __clone(fn, stack, flags, arg, parent_tid, tls, child_tid);
	struct clone_start s = { fn, arg };
	jm__fork_prepare();
	int rc = __clone(clone_child, stack, flags, &s, parent_tid, tls, child_tid);
	int saved = errno;
	jm__fork_parent();
	errno = saved;
	return rc;
}

/* _exit and _Exit end the process without its destructors: its segment
 * stayed behind until jmstatd or a later process of its user removed it
 * (one start in 8 looks, and checks each dead pid's file: 6 system calls
 * a file). A forked child that ends so (shells' subshells, servers'
 * workers, fork-churn) removes its own, one unlink. Not in a vfork child
 * or posix_spawn's, whose memory is its parent's: the segment is not its
 * own (jm__stats_exit compares the pids). libc's own calls (exit, abort)
 * do not come here. Weak, for a static link. */
JM_FORK_TEXT static __attribute__((noreturn)) void exit_now(int status)
{
	jm__stats_exit();
	for (;;)
		(void)jm__sys_inline(SYS_exit_group, status, 0, 0, 0, 0);   /* internal.h */
}

JM_EXPORT __attribute__((weak)) void _exit(int status) { exit_now(status); }
JM_EXPORT __attribute__((weak)) void _Exit(int status) { exit_now(status); }

JM_EXPORT void malloc_stats(void)
{
	struct totals t = totals();
	fprintf(stderr, "jmalloc:\nsystem bytes     = %10zu\nin use bytes     = %10zu\n"
	    "Total (incl. mmap):\nsystem bytes     = %10zu\nin use bytes     = %10zu\n",
	    t.mapped, t.small + t.large, t.mapped + t.huge, t.small + t.large + t.huge);
}

#endif
