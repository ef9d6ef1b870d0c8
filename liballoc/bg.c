/*
 * bg.c: the background purger (background_thread:1, docs/purging.md), a
 * thread that applies the decay on schedule, so that a process that has
 * gone quiet gives its dirty pages back within about decay_ms instead of
 * keeping them until its next allocator call.
 *
 * Started late and lazily: at a free that gives regions or pages back
 * (jm__bg_check, with no allocator lock held, before a cache flush hands
 * regions to their bins, before a large or huge region is freed), not at
 * initialisation: a process that never frees never has one.
 * Before, not after: pthread_create allocates on the calling thread (the
 * new thread's dtv, a calloc), and once the region being freed is back in
 * a run, that calloc could take it (a small run carved at its page), so
 * that the program's second free(p), or malloc_usable_size(p), would find
 * the purger's dtv there instead of a freed region and free it. For the
 * same reason the start sets this thread's cache aside (it holds regions
 * the program freed, which a double free must still find there), and
 * what it allocates meanwhile is a fresh mapping (JM_TLS_FRESH, huge.c),
 * never a region of a bin or a run carved from the arena's free pages:
 * the start is deferred (below), and by then those hold regions and
 * pages the program freed (a large region freed just before, whose
 * first page became the dtv's run). The calling thread marks the purger
 * as starting first, so that such an allocation does not start a second
 * one. The
 * thread blocks every signal (a program's signal handler never runs on
 * it), takes no thread cache and allocates nothing.
 *
 * Not before it is worth a thread: the first start is deferred
 * (jm__bg_deferred) until the arenas hold START_DIRTY_MIN dirty bytes
 * (counting the large or huge region being freed), or decay_ms has passed
 * since its first free that gave something back (before that, no purge
 * can be due), whichever comes first. A short program that keeps
 * little dirty (a command, a test, cfrac, whose profile's sampled pages
 * are freed and taken again all along) never pays for a thread it would
 * not use: its stack, its TLS and the pages they touch were about 6 of
 * cfrac's 118 page faults, and at exit_group it is woken to die. An idle
 * process still gives back what it freed, unless it went quiet young,
 * holding less than START_DIRTY_MIN dirty. While deferred, a check that
 * finds the start not due clears jm__bg_want, which the next free that
 * makes pages dirty sets again (jm__bg_deferred_dirtied): the arenas'
 * dirty bytes and the clock are read once per such free, not per free.
 *
 * The loop: look at every arena (under its lock, jm__arena_decay) and at
 * the kept huge regions, count a wake in the segment's header (bg_wakes),
 * then sleep BG_INTERVAL_MS (at least 100 ms: decay_ms / 20, between 100 ms
 * and 1 s) while something is dirty, or without a timeout while nothing is
 * (the next jm__bg_dirtied signals it). bg_lock is a leaf: it is taken
 * under an arena's lock, and the purger holds it while holding no other.
 *
 * fork: only the forking thread lives on in the child; the child handler
 * marks the purger absent and re-initialises its lock. The child's start
 * is deferred as the process's first one is, but counting the bytes its
 * own frees made dirty since the fork (the dirty pages it inherited are
 * shared with the parent until written, and its allocations take them
 * first), and with a shorter grace: the purger's interval since the fork
 * instead of decay_ms, so that a child
 * that frees a little and exits at once (a fork-and-exec, a worker of a
 * forking server) never pays for a thread it would not use (creating it
 * and, at exit_group, waking it to die: on a loaded machine a fork-heavy
 * program took twice as long with background_thread:1). Set-uid programs:
 * the thread is an ordinary pthread, so glibc's setuid() reaches it as it
 * reaches every thread; background_thread is not read from the
 * environment there (AT_SECURE), and the default applies.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <link.h>
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { BG_NONE, BG_STARTING, BG_RUNNING, BG_FAILED };

static pthread_mutex_t bg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;   /* jm__bg_stop's, taken first */
static pthread_cond_t bg_cond;
/* bg_cond made (with its clock) at the first start of a purger in this
 * process: a forked child makes its own there, not in its fork handler
 * (nothing signals it before: jm__bg_stop and jm__bg_dirtied only while
 * a purger runs), whose calls were pages of libc's text every child
 * faulted in. */
static bool cond_ready;
static bool bg_idle;                  /* sleeping with nothing dirty */
static bool bg_kicked;
static bool bg_stopping;              /* jm__bg_stop asks the thread to end */
static _Atomic pid_t bg_tid;          /* the thread's kernel id, 0 until it runs */
_Atomic int jm__bg_state;
_Atomic int jm__bg_want;
/* Until the first start: in a forked child, the bytes its frees made
 * dirty since the fork; the time from which a free starts the purger
 * anyway. */
_Atomic bool jm__bg_deferred;
static bool in_child;
static _Atomic uint64_t child_dirtied;
static _Atomic uint64_t start_from_ns;   /* 0: decay_ms from the first check */
/* Until the first start: the bytes frees made dirty (counted up only: what
 * is taken back is not taken off), and the count at which the next look
 * at the arenas is due (start_due; 0: at the first free that makes
 * pages dirty). */
static _Atomic uint64_t dirtied_total;
static _Atomic uint64_t check_at;
/* The process whose purger this is (its pid, from the segment's header
 * at initialisation; in a forked child 0 until its first start, which
 * takes it): a raw clone() child sharing this memory (CLONE_VM) never
 * starts one (jm__bg_start). */
static _Atomic pid_t owner;
#define START_DIRTY_MIN ((uint64_t)4 << 20)
/* The most bytes made dirty between two looks at the arenas while the
 * start is deferred: pages made dirty where no count is kept (a chunk
 * moved to another arena, a large region shrunk in place) are seen within
 * this much of counted ones. */
#define START_LOOK_MAX (START_DIRTY_MIN / 4)

static void cond_init(void)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&bg_cond, &ca);
	pthread_condattr_destroy(&ca);
}

/* Tests: called by the purger after each look, before it takes bg_lock
 * to sleep, with whether dirty pages remained. */
void (*jm__test_bg_looked)(bool dirty);
/* Called (tests only) by the purger before it names itself: where its
 * starter's wait for the name runs out. */
void (*jm__test_bg_naming)(void);

static uint64_t interval_ns(void)
{
	int64_t ms = jm__opt.decay_ms / 20;
	if (ms < 100)
		ms = 100;
	if (ms > 1000)
		ms = 1000;
	return (uint64_t)ms * 1000000u;
}

/* Applies the decay everywhere once; true if dirty pages remain. */
bool jm__bg_run_once(void)
{
	uint64_t now = jm__now_ns();
	bool dirty = jm__arenas_purge(now, false);
	dirty |= jm__huge_decay(now);
	jm__stats_bg_wake();
	return dirty;
}

static void *bg_main(void *arg)
{
	(void)arg;
	/* Named by itself (prctl on its own task), before its id is seen
	 * (jm__bg_start waits for that). Its starter named it with
	 * pthread_setname_np, which writes /proc/self/task/TID/comm: that
	 * open left dentries of the thread under /proc that the kernel
	 * walks when the process is reaped, about 2 ms of the reaping
	 * parent's CPU per process on a busy machine (a short program that
	 * freed one buffer of 12 MiB and exited, spawned 300 times: 1.22 s
	 * of CPU against 0.65 without the purger; docs/programs.md,
	 * "Programs, session 31"); and at the file limit (EMFILE) or without
	 * /proc it had no name. */
	if (jm__test_bg_naming)
		jm__test_bg_naming();
	prctl(PR_SET_NAME, "jmalloc-purge", 0, 0, 0);
	atomic_store(&bg_tid, (pid_t)syscall(SYS_gettid));
	syscall(SYS_futex, &bg_tid, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	for (;;) {
		bool dirty = jm__bg_run_once();
		/* Read once, whole: a test clears it as this thread runs (read
		 * twice, a clear between the check and the call was a call of
		 * NULL; ThreadSanitizer's report in test_alloc_bgwake). */
		void (*looked)(bool) = __atomic_load_n(&jm__test_bg_looked, __ATOMIC_ACQUIRE);
		if (looked)
			looked(dirty);
		pthread_mutex_lock(&bg_lock);
		if (!dirty && !bg_kicked) {
			bg_idle = true;
			while (!bg_kicked)
				pthread_cond_wait(&bg_cond, &bg_lock);
			bg_idle = false;
		} else {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			uint64_t t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec +
			    interval_ns();
			ts.tv_sec = (time_t)(t / 1000000000u);
			ts.tv_nsec = (long)(t % 1000000000u);
			while (!bg_kicked &&
			    pthread_cond_timedwait(&bg_cond, &bg_lock, &ts) == 0)
				;
		}
		bg_kicked = false;
		bool stop = bg_stopping;
		pthread_mutex_unlock(&bg_lock);
		if (stop)
			break;
	}
	return NULL;
}

/* Ends the purger and returns once its thread is gone from the process
 * (the kernel no longer finds it: its files and fs are released), for
 * unshare and setns (compat.c), which refuse a process with more than one
 * thread for a new user or mount namespace: a program that had freed a
 * few MiB could not make one. A later free starts it again. One stopper
 * at a time (stop_lock): stress-ng's pthread stressor calls setns from up
 * to 100 threads at once, and a second stopper waited its whole 5 s for
 * the thread the first had ended (its id was 0 by then), then marked as
 * absent the purger a free had started meanwhile, which ran on beside the
 * next one started (88 s for what took 0.5 s under glibc's malloc). A
 * waiting stopper finds the purger gone, or a new one that it ends. */
void jm__bg_stop(void)
{
	if (atomic_load(&jm__bg_state) != BG_RUNNING)
		return;
	pthread_mutex_lock(&stop_lock);
	if (atomic_load(&jm__bg_state) != BG_RUNNING) {
		pthread_mutex_unlock(&stop_lock);
		return;
	}
	pthread_mutex_lock(&bg_lock);
	bg_stopping = true;
	bg_kicked = true;
	pthread_cond_signal(&bg_cond);
	pthread_mutex_unlock(&bg_lock);
	pid_t pid = (pid_t)syscall(SYS_getpid);
	struct timespec ms = {0, 1000000};
	for (int i = 0; i < 5000; i++) {   /* 5 s at most */
		pid_t tid = atomic_load(&bg_tid);
		if (tid != 0 && syscall(SYS_tgkill, pid, tid, 0) != 0)
			break;
		nanosleep(&ms, NULL);
	}
	pthread_mutex_lock(&bg_lock);
	bg_stopping = false;
	bg_kicked = false;
	bg_idle = false;
	pthread_mutex_unlock(&bg_lock);
	atomic_store(&bg_tid, 0);
	atomic_store(&jm__bg_state, BG_NONE);
	atomic_store(&jm__bg_want, 1);
	jm__stats_bg_running(false);
	pthread_mutex_unlock(&stop_lock);
}

/* Pages became dirty where there were none. Under an arena's lock: only
 * flags and a signal (a purger not started yet is wanted since init).
 * The kick is left even when the purger is not asleep: it may have looked
 * at this arena (clean) and be on its way to sleep without a timeout, its
 * look's answer "nothing dirty" already stale; finding the kick it looks
 * again. Only signalled asleep. Before, the kick was given only to a
 * sleeping purger, and one that had looked went to sleep for ever: these
 * pages, and all that the process freed after them into arenas already
 * dirty, stayed until another arena or the kept huge regions went from
 * clean to dirty, never in a process that had gone quiet
 * (test_alloc_bgwake). A purger being started (its thread may be looking
 * already, before the starter marks it running) is kicked the same way. */
void jm__bg_dirtied(void)
{
	int st = atomic_load_explicit(&jm__bg_state, memory_order_relaxed);
	if (st == BG_NONE) {
		/* While the first start is deferred, the bytes counted ask
		 * for it (jm__bg_deferred_dirtied): a thread that freed a
		 * buffer and took it back made its arena clean and dirty at
		 * every pair, and each asked for a look. */
		if (!atomic_load_explicit(&jm__bg_deferred, memory_order_relaxed))
			atomic_store_explicit(&jm__bg_want, 1, memory_order_relaxed);
		return;
	}
	if (st != BG_RUNNING && st != BG_STARTING)
		return;
	pthread_mutex_lock(&bg_lock);
	bg_kicked = true;
	if (bg_idle)
		pthread_cond_signal(&bg_cond);
	pthread_mutex_unlock(&bg_lock);
}

/* Before the first start: a free made `bytes` dirty (under an arena's
 * lock, after its row says so). The next check looks at whether the
 * start is due once the bytes counted since the last look could make it
 * due (check_at), or once its time has come (jm__bg_deferred_check);
 * not at every such free: each of those read every arena's dirty bytes, the clock and two
 * fences, and wrote the request's cache line twice, 9-12% of the CPU of
 * 16 threads freeing buffers (the probe bufworkers, docs/measurements.md,
 * session 37). The count and start_due's mark pair as a Dekker pair
 * (sequentially consistent): either start_due reads these bytes after it
 * set the mark, or this reads the mark it set. The request is written
 * only when it changes: threads freeing at once do not pass its cache
 * line back and forth. */
void jm__bg_deferred_dirtied(uint64_t bytes)
{
	if (in_child)
		atomic_fetch_add(&child_dirtied, bytes);
	uint64_t n = atomic_fetch_add(&dirtied_total, bytes) + bytes;
	if (n >= atomic_load(&check_at) &&
	    !atomic_load_explicit(&jm__bg_want, memory_order_relaxed))
		atomic_store(&jm__bg_want, 1);
}

/* A check while the start is deferred and not asked for (jm__bg_check):
 * starts the purger if the bytes counted since the last look, with the
 * `bytes` about to be freed, could make it due, or if its time has come
 * (a look set it: start_due). No fence: a count not seen yet has made
 * its request (jm__bg_deferred_dirtied). */
void jm__bg_deferred_check(uint64_t bytes)
{
	if (atomic_load_explicit(&dirtied_total, memory_order_relaxed) + bytes <
	    atomic_load_explicit(&check_at, memory_order_relaxed)) {
		uint64_t from = atomic_load_explicit(&start_from_ns, memory_order_relaxed);
		if (from == 0 || jm__now_ns() < from)
			return;
	}
	jm__bg_start(bytes);
}

/* The dirty bytes of every arena (huge regions charged to it included),
 * as their rows say, read without their locks (tests read it too). */
uint64_t jm__bg_dirty_now(void)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *a = __atomic_load_n(&jm__arenas[i], __ATOMIC_ACQUIRE);
		if (a != NULL)
			sum += __atomic_load_n(&a->stats->dirty, __ATOMIC_RELAXED);
	}
	return sum;
}

_Atomic unsigned long jm__bg_looks;

/* Whether the deferred first start is due, `bytes` about to be freed. The
 * request is cleared first: a free that makes pages dirty meanwhile sets
 * it again after they are counted, so that it is not lost. */
static bool start_due(uint64_t bytes)
{
	atomic_fetch_add_explicit(&jm__bg_looks, 1, memory_order_relaxed);
	atomic_store(&jm__bg_want, 0);
	atomic_thread_fence(memory_order_seq_cst);
	uint64_t counted = atomic_load(&dirtied_total);
	uint64_t dirty = in_child ? atomic_load(&child_dirtied) : jm__bg_dirty_now();
	uint64_t now = jm__now_ns(), from = atomic_load(&start_from_ns);
	if (from == 0) {
		from = now + (uint64_t)jm__opt.decay_ms * 1000000u;
		atomic_store(&start_from_ns, from);
	}
	if (dirty + bytes < START_DIRTY_MIN && now < from) {
		/* The next look once frees have counted what could make the
		 * start due (at most START_LOOK_MAX on), from after this free
		 * (its `bytes` are counted next). A free that counted its
		 * bytes after the count was read may have read the mark before
		 * it was set: looked at again, the request is made. */
		uint64_t room = START_DIRTY_MIN - dirty - bytes;
		uint64_t at = counted + bytes + (room < START_LOOK_MAX ? room : START_LOOK_MAX);
		atomic_store(&check_at, at);
		if (atomic_load(&dirtied_total) >= at)
			atomic_store(&jm__bg_want, 1);
		return false;
	}
	atomic_store(&jm__bg_want, 1);
	return true;
}

/* Whether this free was called from the dynamic linker's code, looked at
 * in the first FROM_LD_FRAMES return addresses of this stack. glibc frees
 * a thread's DTV there (_dl_deallocate_tls) holding its stack cache's
 * lock: when a thread ends (a detached one, in its own teardown) or is
 * joined. pthread_create takes that lock: a start there waited for it for
 * ever, and so did every thread that made or ended a thread after it
 * (python3's test_multiprocessing_fork hung in a forked child; a child
 * making 3000 threads on stacks of its own hung every time). The text of
 * ld.so, from the auxiliary vector, is read once; a static program has
 * none (AT_BASE 0): stack_cache_held() below answers for it. */
#define FROM_LD_FRAMES 12
static bool freed_from_ld_so(void)
{
	static _Atomic uintptr_t text_lo, text_hi;
	static _Atomic bool known;
	if (!atomic_load_explicit(&known, memory_order_acquire)) {
		uintptr_t base = getauxval(AT_BASE), lo = 0, hi = 0;
		const ElfW(Ehdr) *e = (const ElfW(Ehdr) *)base;
		if (base != 0 && memcmp(e->e_ident, ELFMAG, SELFMAG) == 0) {
			const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(base + e->e_phoff);
			for (unsigned i = 0; i < e->e_phnum; i++) {
				if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_X)) {
					lo = base + ph[i].p_vaddr;
					hi = lo + ph[i].p_memsz;
					break;
				}
			}
		}
		atomic_store_explicit(&text_lo, lo, memory_order_relaxed);
		atomic_store_explicit(&text_hi, hi, memory_order_relaxed);
		atomic_store_explicit(&known, true, memory_order_release);
	}
	uintptr_t lo = atomic_load_explicit(&text_lo, memory_order_relaxed);
	uintptr_t hi = atomic_load_explicit(&text_hi, memory_order_relaxed);
	if (lo == hi)
		return false;
	void *frames[FROM_LD_FRAMES];
	int n = jm__unwind(frames, FROM_LD_FRAMES);
	for (int i = 0; i < n; i++)
		if ((uintptr_t)frames[i] - lo < hi - lo)
			return true;
	return false;
}

/* Whether glibc's stack cache's lock is held, in a static program: there
 * glibc 2.34 and later keep it in a global of the program's own,
 * _dl_stack_cache_lock (in a dynamic one it is a member of ld.so's
 * _rtld_global, and the reference below stays 0; freed_from_ld_so answers
 * there). A static program has no ld.so, and its _dl_deallocate_tls is
 * in its own text: a free from a thread's teardown started the purger,
 * whose pthread_create waited for the lock this thread held, for ever
 * (tests/preload/thread_teardown: a static program linked with
 * libjmalloc.a hung in 2 runs of 3). Held by this thread, the word is
 * not 0: no race, the start is never made under it. Held by another
 * thread for a moment, the start waits for the next free that gives
 * something back, as under ld.so's frees. An older glibc (its lock a
 * static of libpthread's) or another C library has no such symbol, and
 * nothing is looked at. */
extern int _dl_stack_cache_lock __attribute__((weak));
static bool stack_cache_held(void)
{
	return &_dl_stack_cache_lock != NULL &&
	    __atomic_load_n(&_dl_stack_cache_lock, __ATOMIC_RELAXED) != 0;
}

/* Starts the purger before a free of `bytes` (0 if not known); called with
 * no allocator lock held. errno is the caller's again after (bg_start):
 * the wait for the purger's name ends in ETIMEDOUT when the new thread is
 * not scheduled within 10 ms (a loaded machine), and the free that
 * started it returned with errno ETIMEDOUT (tests/api api_malloc's
 * test_free_null, once in a group's run at load 25). */
static void bg_start(uint64_t bytes);
void jm__bg_start(uint64_t bytes)
{
	int saved = errno;
	bg_start(bytes);
	errno = saved;
}

static void bg_start(uint64_t bytes)
{
	if (atomic_load_explicit(&jm__bg_deferred, memory_order_relaxed)) {
		if (!start_due(bytes))
			return;
		atomic_store_explicit(&jm__bg_deferred, false, memory_order_relaxed);
	}
	/* Not from a signal handler on an alternate stack (sigaltstack, often
	 * 8 KiB): pthread_create takes 3 KiB of it, more than a malloc may
	 * (docs/allocator.md); a later free starts it. */
	stack_t ss;
	if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK))
		return;
	/* Not from a free of the dynamic linker's, nor under glibc's stack
	 * cache's lock in a static program (above): the request stays, and
	 * the next free that gives something back starts it. */
	if (atomic_load_explicit(&jm__bg_state, memory_order_relaxed) == BG_NONE &&
	    (stack_cache_held() || freed_from_ld_so()))
		return;
	/* Only in the process the allocator was made or forked in. A child
	 * of clone(CLONE_VM) without CLONE_THREAD shares this memory but is
	 * another process: a purger it made would be a thread of that
	 * process, which glibc's clone ends with exit (the thread's, not the
	 * process's) when its function returns, so that it lived on for
	 * ever, its one thread the purger, which blocks every signal. Its
	 * parent starts the purger at its next free; one that has started
	 * already is the parent's, and purges the memory they share. */
	pid_t me = (pid_t)syscall(SYS_getpid), was = 0;
	if (!atomic_compare_exchange_strong(&owner, &was, me) && was != me) {
		atomic_store_explicit(&jm__bg_want, 0, memory_order_relaxed);
		return;
	}
	atomic_store_explicit(&jm__bg_want, 0, memory_order_relaxed);
	int expect = BG_NONE;
	if (!atomic_compare_exchange_strong(&jm__bg_state, &expect, BG_STARTING))
		return;
	if (!cond_ready) {
		cond_init();
		cond_ready = true;
	}
	/* What pthread_create allocates is a fresh mapping, not this
	 * thread's cache nor its arena's free memory (the arena first, so
	 * that a new thread gets its exit hook as usual). */
	jm__thread_arena();
	struct jmstat_tcache_bin *tbins = jm__tls_tbins, *fbins = jm__tls_fbins;
	enum jm_tls_state tls_state = jm__tls_state;
	jm__tls_set_bins(jm__tcache_none);
	jm__tls_state = JM_TLS_FRESH;
	/* The purger takes none of the program's signals, but for faults
	 * and traps: the kernel kills a process whose thread faults with the
	 * signal blocked, and the purger reads and writes the arenas' rows
	 * in the segment, whose pages another process of the uid may take
	 * away (stats.c, seg_bus: a SIGBUS there is handled, on any thread
	 * that does not block it). It blocked them all: a segment cut while
	 * the program's threads slept killed it at the purger's next look
	 * (tests/preload/seg_sigbus.test.sh). As init.c holds signals. */
	sigset_t all, old;
	jm__signals_async(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64u << 10);
	pthread_t t;
	int rc = pthread_create(&t, &attr, bg_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	jm__tls_tbins = tbins;
	jm__tls_fbins = fbins;
	jm__tls_state = tls_state;
	if (rc != 0) {
		atomic_store(&jm__bg_state, BG_FAILED);
		return;
	}
	/* Until it has named itself (bg_main), as when its starter named
	 * it: a purger found running is found by its name. Bounded (1 s):
	 * a thread that is not scheduled for that long is left to it. */
	for (int i = 0; i < 100 && atomic_load(&bg_tid) == 0; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		syscall(SYS_futex, &bg_tid, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
	}
	atomic_store(&jm__bg_state, BG_RUNNING);
	jm__stats_bg_running(true);
}

/* At initialisation: a purger wanted, its start deferred (above). */
void jm__bg_init(void)
{
	bool on = jm__opt.background_thread;
	in_child = false;
	/* Set at the first check: no clock read at start (util.c's clock
	 * and the vDSO's page are page faults a short program need not
	 * take). */
	atomic_store(&start_from_ns, 0);
	atomic_store(&check_at, 0);
	atomic_store(&owner, (pid_t)jm__segp.pid);
	atomic_store(&jm__bg_deferred, on);
	atomic_store(&jm__bg_want, on);
}

bool jm__bg_running(void)
{
	return atomic_load(&jm__bg_state) == BG_RUNNING;
}

JM_FORK_TEXT void jm__bg_postfork_child(void)
{
	bg_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	stop_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	cond_ready = false;   /* the parent's may have had a waiter */
	bg_idle = false;
	bg_kicked = false;
	bg_stopping = false;
	atomic_store(&bg_tid, 0);
	atomic_store(&jm__bg_state, BG_NONE);
	/* The child starts its own at a free that gives something back
	 * (the parent's dirty pages are its too), once it has dirtied enough
	 * or is old enough (above). */
	in_child = true;
	atomic_store(&owner, 0);   /* no system call at every fork: taken at the first start */
	atomic_store(&child_dirtied, 0);
	atomic_store(&start_from_ns, jm__now_ns_child() + interval_ns());
	atomic_store(&check_at, 0);
	atomic_store(&jm__bg_deferred, jm__opt.background_thread);
	atomic_store(&jm__bg_want, jm__opt.background_thread);
	jm__stats_bg_running(false);
}
