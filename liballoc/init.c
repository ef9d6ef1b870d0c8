/*
 * init.c: initialisation on first use, from whichever thread or library
 * constructor calls first, and the fork handlers.
 *
 * Initialisation calls nothing that allocates (no stdio, no dlsym): options
 * come from getenv, the CPU count from a raw syscall, the secret from the
 * auxiliary vector. pthread_atfork may allocate, so it is called after the
 * allocator is marked ready.
 *
 * fork: the prepare handler takes every allocator lock (so that no other
 * thread holds one at the moment of the fork), the parent releases them, and
 * the child re-initialises them, gives itself its own stats segment and
 * forgets the other threads. Prepare handlers run in the reverse order of
 * their registration and child handlers in that order, so the allocator's
 * must be registered before any other: a handler registered earlier that
 * allocates (a library's, from its constructor, before the program's first
 * malloc) ran with every lock taken and deadlocked. __register_atfork (what
 * pthread_atfork calls) is the allocator's too: it registers the
 * allocator's handlers before passing the caller's on to the C library's.
 * They are registered at load (a constructor), not at the end of the
 * initialisation, and the prepare handler takes init_lock first even
 * before it: a fork while another thread made the process's first
 * allocation left a child whose init_lock was held by a thread it does
 * not have, and whose first malloc waited for ever; now the fork waits
 * for the initialisation to end (which takes no lock a forking thread
 * holds: the registration, under the C library's fork lock, comes after
 * init_lock is released).
 */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

_Atomic int jm__initialized;
/* A plain mutex, zero-initialised: in .bss with the allocator's other
 * locks, on the one page of its static data a fork writes (a recursive
 * one, initialised, was in .data, a page of its own: one more page fault
 * in parent and child at every fork). A recursive call is caught by the
 * initialising thread's id instead. */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic long init_owner;   /* the thread initialising, or 0 */
void (*jm__test_init_hook)(void);

/*
 * A fork from a signal handler that interrupted the allocator in the same
 * thread (a crash handler's, a SIGCHLD handler's; or _Fork, which POSIX
 * makes async-signal-safe, once it runs these handlers: rawfork.c) found
 * a lock the interrupted code held, and waited for it for ever: nothing
 * would release it until the handler returned. glibc's own malloc does the
 * same (POSIX.1-2024 no longer counts fork among the async-signal-safe
 * functions). Now a lock the calling thread holds already (glibc records
 * its owner's thread id in every mutex) is neither waited for nor
 * released after: the parent's interrupted code carries on as it was,
 * and the child, whose locks are all reset, has the structure that code
 * was changing as it was at the moment of the signal: it may exec or
 * _exit, as a child of a fork in a signal handler must, but not rely on
 * the allocator (tests/preload/raw_fork.test.sh). Others' locks are waited
 * for as before. fork_skipped is the forking thread's (init_lock, taken
 * first, keeps it to one fork at a time).
 */
#define FORK_SKIPPED_MAX 32
#define FORK_NO_OWNER_NS (2 * 1000000000LL)
/* jm_lock_t or jm_wlock_t; touched only by a fork in a signal handler */
static const void *fork_skipped[FORK_SKIPPED_MAX] JM_LARGE_BSS;
static unsigned fork_nskipped;
#if defined(__SANITIZE_THREAD__)
/* ThreadSanitizer does not see the child's locks made free: the child
 * handlers re-initialise them (and the kernel zeroes the arenas' lock area
 * in the child: MADV_WIPEONFORK, arena.c). To it, every lock the prepare
 * handler took stayed the forking thread's, and the child's next thread
 * to take one was reported as a double lock (an arena made by a child's
 * second thread: test_alloc_forkstart's test_segment_pages_used). The
 * locks a fork's prepare handler takes (after init_lock, which keeps it
 * to one fork at a time; not those of jm__heap_validate, which takes the
 * arenas' itself) are noted, and the child releases them before it
 * re-initialises them (to ThreadSanitizer, which ignores it after a fork
 * of a process with threads; in memory, before it is written anew). Not
 * in other builds. */
#define TSAN_FORK_LOCKS_MAX (JM_MAX_ARENAS * (1 + JM_NBINS) + 64)
static jm_lock_t *tsan_fork_taken[TSAN_FORK_LOCKS_MAX];
static unsigned tsan_fork_ntaken;
static bool tsan_forking;
static void fork_taken(jm_lock_t *l)
{
	if (tsan_forking && tsan_fork_ntaken < TSAN_FORK_LOCKS_MAX)
		tsan_fork_taken[tsan_fork_ntaken++] = l;
}
static bool fork_is_skipped(const void *l);
static void fork_noting(void)
{
	tsan_forking = true;
	if (!fork_is_skipped(&init_lock))
		fork_taken(&init_lock);
}
static void fork_child_released(void)
{
	for (unsigned i = 0; i < tsan_fork_ntaken; i++)
		pthread_mutex_unlock(tsan_fork_taken[i]);
	tsan_fork_ntaken = 0;
	tsan_forking = false;
}
static void fork_parent_released(void)
{
	tsan_fork_ntaken = 0;
	tsan_forking = false;
}
#else
static inline void fork_taken(jm_lock_t *l) { (void)l; }
static inline void fork_noting(void) {}
static inline void fork_child_released(void) {}
static inline void fork_parent_released(void) {}
#endif
#ifdef JM_TEST
unsigned jm__test_fork_naps;   /* the waits of jm__fork_lock (tests) */
unsigned jm__test_fork_skipped_reset(void);
unsigned jm__test_fork_skipped_reset(void)
{
	unsigned n = fork_nskipped;
	fork_nskipped = 0;
	return n;
}
#endif

__thread pthread_mutex_t *jm__tls_lock_op;

static void fork_skip(const void *l)
{
	if (fork_nskipped == FORK_SKIPPED_MAX)
		jm__fatal("fork in a signal handler: too many locks held");
	fork_skipped[fork_nskipped++] = l;
}

/*
 * A lock held with no owner (glibc takes a lock, then writes its owner,
 * and clears the owner before it releases it) is held by a thread between
 * the two: another one, there for a few instructions more unless it is
 * preempted (it stays off the CPU for tens of milliseconds on a loaded
 * machine or a throttled cgroup: 20 ms of no owner were taken for this
 * thread's, and the child of an ordinary fork aborted at its first
 * malloc), or this one, interrupted there by the signal whose handler
 * forks, for ever. This thread's own is the lock it marked
 * (jm__tls_lock_op, internal.h: set around each of the allocator's takings
 * and releasings), taken for its own at once; another's is waited for, up
 * to FORK_NO_OWNER_NS, then taken for this thread's. 3a32077 waited those
 * 2 s whatever: a fork in a signal handler that landed in this thread's
 * taking or releasing of a lock (3-5% of raw_fork's signals:
 * tests/preload/raw_fork.test.sh, 300 forks, took 20-36 s instead of 2)
 * waited 2 s; d8f1618 read /proc/self/task to tell, at once only while no
 * other thread of the process ran or could (test_fork_lock_own_no_owner:
 * beside a thread that computes, it waited its 2 s).
 */
void jm__fork_lock(jm_lock_t *l)
{
	if (pthread_mutex_trylock(l) == 0) {
		fork_taken(l);
		return;
	}
	int saved = errno;
	int self = (int)syscall(SYS_gettid);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int owner = __atomic_load_n(&l->__data.__owner, __ATOMIC_RELAXED);
		if (owner == self)
			break;
		if (owner != 0) {
			pthread_mutex_lock(l);
			fork_taken(l);
			errno = saved;
			return;
		}
		if (jm__tls_lock_op == l)
			break;   /* this thread's taking or releasing, interrupted */
		struct timespec ts = { 0, 100 * 1000 };
		nanosleep(&ts, NULL);
#ifdef JM_TEST
		jm__test_fork_naps++;
#endif
		if (pthread_mutex_trylock(l) == 0) {
			fork_taken(l);
			errno = saved;
			return;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000000000LL + (t.tv_nsec - t0.tv_nsec) >= FORK_NO_OWNER_NS)
			break;
	}
	errno = saved;
	fork_skip(l);
}

static bool fork_is_skipped(const void *l)
{
	for (unsigned i = 0; i < fork_nskipped; i++)
		if (fork_skipped[i] == l)
			return true;
	return false;
}

void jm__fork_unlock(jm_lock_t *l)
{
	if (!fork_is_skipped(l))
		pthread_mutex_unlock(l);
}

/* ---- the allocator's own lock (internal.h, jm_wlock_t) */
__thread uint32_t jm__tls_tid;

uint32_t jm__tid_slow(void)
{
	uint32_t t = (uint32_t)syscall(SYS_gettid);
	jm__tls_tid = t;
	return t;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Found held: a while spinning (the holder is most often on another CPU
 * for a few hundred instructions), then asleep on the word with
 * JM_WLOCK_WAITERS set (Drepper's "Futexes Are Tricky", mutex 3). A
 * thread that slept takes the lock with the flag set, not knowing
 * whether others sleep still: at worst one wake too many. */
#ifdef JM_TEST
_Atomic unsigned jm__test_wlock_spins;   /* the spins of jm__wlock_wait (tests) */
#endif
void jm__wlock_wait(jm_wlock_t *l, uint32_t self)
{
	for (int i = 0; i < JM_WLOCK_SPINS; i++) {
#ifdef JM_TEST
		atomic_fetch_add_explicit(&jm__test_wlock_spins, 1, memory_order_relaxed);
#endif
		cpu_relax();
		uint32_t c = atomic_load_explicit(&l->word, memory_order_relaxed);
		if (c == 0 && jm__wlock_trylock(l, self))
			return;
		if (c & JM_WLOCK_WAITERS)
			break;   /* others sleep on it already */
	}
	int saved = errno;
	for (;;) {
		uint32_t c = atomic_load_explicit(&l->word, memory_order_relaxed);
		if (c == 0) {
			if (atomic_compare_exchange_strong_explicit(&l->word, &c,
			    self | JM_WLOCK_WAITERS, memory_order_acquire,
			    memory_order_relaxed))
				break;
			continue;
		}
		if (!(c & JM_WLOCK_WAITERS) &&
		    !atomic_compare_exchange_strong_explicit(&l->word, &c,
		    c | JM_WLOCK_WAITERS, memory_order_relaxed, memory_order_relaxed))
			continue;
		syscall(SYS_futex, &l->word, FUTEX_WAIT_PRIVATE, c | JM_WLOCK_WAITERS,
		    NULL, NULL, 0);
	}
	errno = saved;
}

void jm__wlock_wake(jm_wlock_t *l)
{
	int saved = errno;
	syscall(SYS_futex, &l->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	errno = saved;
}

/* As jm__fork_lock: the holder is in the word from the instruction that
 * took it, so a lock this thread holds (a fork from a signal handler that
 * interrupted it) is known at once, and one it was waiting for is
 * another's, waited for. There is no taken-but-no-owner state. */
void jm__fork_wlock(jm_wlock_t *l)
{
	uint32_t self = jm__tid();
	if (jm__wlock_trylock(l, self))
		return;
	if ((atomic_load_explicit(&l->word, memory_order_relaxed) & ~JM_WLOCK_WAITERS) == self) {
		fork_skip(l);
		return;
	}
	jm__wlock_lock(l);
}

void jm__fork_wunlock(jm_wlock_t *l)
{
	if (!fork_is_skipped(l))
		jm__wlock_unlock(l);
}

static void prefork(void)
{
	jm__fork_lock(&init_lock);
	fork_noting();
	if (!atomic_load(&jm__initialized))
		return;
	jm__prof_prefork();
	jm__stats_prefork();
	jm__tcache_prefork();
	jm__arena_prefork();
	jm__huge_prefork();
	jm__rtree_lock();
	jm__base_prefork();
	jm__stats_prefork_snapshot();   /* every row at rest */
}

static void postfork_parent(void)
{
	if (atomic_load(&jm__initialized)) {
		jm__base_postfork_parent();
		jm__rtree_unlock();
		jm__huge_postfork_parent();
		jm__arena_postfork_parent();
		jm__tcache_postfork_parent();
		jm__stats_postfork_parent();
		jm__prof_postfork_parent();
	}
	jm__fork_unlock(&init_lock);
	if (fork_nskipped)
		fork_nskipped = 0;
	fork_parent_released();
}

JM_FORK_TEXT static void postfork_child(void)
{
	fork_child_released();
	jm__tls_tid = 0;   /* the child's thread has an id of its own */
	init_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	bool skipped = fork_nskipped != 0;
	if (skipped)
		fork_nskipped = 0;
	if (!atomic_load(&jm__initialized)) {
		if (skipped) {
			/* Forked in a signal handler that interrupted the
			 * initialisation: the segment it had mapped is not
			 * the child's (its _exit took a SIGSEGV there), and
			 * the rest is half made. */
			jm__stats_postfork_uninit();
			jm__fork_tainted = true;
		}
		return;
	}
	/* The segment first: the others write their rows in it. */
	jm__stats_postfork_child(jm__tcache_current_row());
	jm__base_postfork_child();
	jm__rtree_child_reinit();
	jm__huge_postfork_child();
	jm__arena_postfork_child();
	jm__tcache_postfork_child();
	jm__prof_postfork_child();
	jm__bg_postfork_child();
	if (skipped) {
		/* Forked in a signal handler that interrupted the allocator:
		 * what that code was changing is half done here. The child
		 * may exec or _exit; its next allocation, free or realloc is
		 * reported and aborts rather than work on it (malloc and
		 * calloc find no cache and not initialised, free a full
		 * cache: each comes to a slow path that tests fork_tainted). */
		jm__fork_tainted = true;
		jm__tls_set_bins(jm__tcache_none);
		atomic_store(&jm__initialized, 0);
	}
}

/* The same handlers around a clone() that makes a process of a copy of
 * this memory, as fork does (compat.c). */
void jm__fork_prepare(void) { prefork(); }
void jm__fork_parent(void) { postfork_parent(); }
void jm__fork_child(void) { postfork_child(); }

/* Once. pthread_atfork may allocate: the allocator, initialised then if
 * it was not, does not register them again. */
static void register_fork_handlers(void)
{
	static _Atomic bool registered;
	if (!atomic_exchange(&registered, true))
		pthread_atfork(prefork, postfork_parent, postfork_child);
}

/* errno is the caller's when this returns: the initialisation's system
 * calls fail as a matter of course (an absent stats directory, a stale
 * segment's dead pid), and an allocation that succeeds leaves errno alone. */
bool jm__fork_tainted;

_Noreturn void jm__fork_tainted_abort(void)
{
	jm__fatal("the allocator is used in a child forked by a signal handler that "
	    "interrupted it (such a child may exec or _exit, nothing more)");
}

void jm__init_slow(void)
{
	if (jm__fork_tainted)
		jm__fork_tainted_abort();
	int saved = errno;
	long tid = syscall(SYS_gettid);
	if (atomic_load(&init_owner) == tid)
		jm__fatal("recursive call into malloc during initialisation");
	pthread_mutex_lock(&init_lock);
	if (atomic_load(&jm__initialized)) {
		pthread_mutex_unlock(&init_lock);
		errno = saved;
		return;
	}
	atomic_store(&init_owner, tid);
	/* Asynchronous signals wait for the end of the initialisation (0.3-1
	 * ms: the segment's file and mapping): a handler that allocates, run
	 * in its midst, found init_owner its own and aborted the process (a
	 * program that arms a timer or a SIGCHLD handler before its first
	 * malloc). Held back, it runs when the mask is put back, on an
	 * initialised allocator. Faults and traps (SIGSEGV, SIGBUS, SIGILL,
	 * SIGFPE, SIGTRAP, SIGSYS) are not held: the kernel would kill the
	 * process for one blocked. The kernel's 8-byte mask, not a sigset_t
	 * (128 bytes of stack on a signal handler's sigaltstack). */
	uint64_t held = ~(uint64_t)0, before = 0;
	held &= ~((1ULL << (SIGSEGV - 1)) | (1ULL << (SIGBUS - 1)) | (1ULL << (SIGILL - 1)) |
		  (1ULL << (SIGFPE - 1)) | (1ULL << (SIGTRAP - 1)) | (1ULL << (SIGSYS - 1)));
	bool masked = syscall(SYS_rt_sigprocmask, SIG_BLOCK, &held, &before, sizeof(held)) == 0;
	if (jm__test_init_hook)
		jm__test_init_hook();

	jm__options_init();
	if (jm__opt.decay_ms <= 0)
		jm__opt.background_thread = false; /* nothing to do on schedule */
	jm__decay_boot();
	jm__sizeclass_init();
	unsigned n = jm__opt.narenas;
	if (n == 0)
		n = 4 * jm__os_ncpus();
	if (n > JM_MAX_ARENAS)
		n = JM_MAX_ARENAS;
	jm__arenas_init(n);
	const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
	uintptr_t secret = 0x9e3779b97f4a7c15ULL;
	if (rnd)
		memcpy(&secret, rnd + 8, sizeof(secret));
	jm__cookie = secret | 1; /* odd: never equal to an aligned address */
	jm__stats_init();
	jm__prof_init();
	jm__tcache_init_global();
	/* Started at a later free that gives something back (bg.c). */
	jm__bg_init();

	atomic_store_explicit(&jm__initialized, 1, memory_order_release);
	atomic_store(&init_owner, 0);
	pthread_mutex_unlock(&init_lock);
	if (masked)
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &before, NULL, sizeof(before));
	register_fork_handlers();
	errno = saved;
}

/* At load, before any thread but the main one can allocate in most
 * programs; here too when the allocator was first used before (another
 * library's constructor). */
__attribute__((constructor)) static void jm_ctor(void)
{
	register_fork_handlers();
}

#if !defined(JM_NO_LIBC_NAMES) || !JM_NO_LIBC_NAMES
int __register_atfork(void (*prepare)(void), void (*parent)(void),
		      void (*child)(void), void *dso_handle);
/* Weak: a program linked statically with libjmalloc.a takes glibc's, whose
 * file a fork pulls in with the fork handlers' list (two strong ones would
 * not link). */
JM_EXPORT __attribute__((weak)) int __register_atfork(void (*prepare)(void), void (*parent)(void),
				void (*child)(void), void *dso_handle)
{
	static int (*_Atomic next)(void (*)(void), void (*)(void), void (*)(void), void *);
	register_fork_handlers();
	int (*f)(void (*)(void), void (*)(void), void (*)(void), void *) =
		atomic_load_explicit(&next, memory_order_acquire);
	if (f == NULL) {
		f = (int (*)(void (*)(void), void (*)(void), void (*)(void), void *))
			dlsym(RTLD_NEXT, "__register_atfork");
		if (f == NULL)
			return ENOMEM;
		atomic_store_explicit(&next, f, memory_order_release);
	}
	return f(prepare, parent, child, dso_handle);
}
#endif

__attribute__((destructor)) static void jm_fini(void)
{
	if (atomic_load(&jm__initialized))
		jm__stats_exit();
}
