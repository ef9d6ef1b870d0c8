/*
 * internal.h: prototypes of the allocator's internal functions, grouped by
 * the file that defines them, and the small inline helpers of the fast path.
 * Internal functions are named jm__*, hidden by -fvisibility=hidden.
 */
#ifndef JM_INTERNAL_H
#define JM_INTERNAL_H

#include "types.h"
#include <signal.h>
#include <stdatomic.h>
#include <sys/types.h>

#define jm_likely(x)   __builtin_expect(!!(x), 1)
#define jm_unlikely(x) __builtin_expect(!!(x), 0)
#define JM_EXPORT      __attribute__((visibility("default")))
#define JM_NOINLINE    __attribute__((noinline))
/* Code a forked child runs (its fork handlers, its publication, its
 * _exit): in a section of its own, which the linker puts together, out of
 * jm_text, instead of spread over the pages of every file's code. A new
 * process touches each page of text it runs for the first time (a fault
 * into the page cache; under a hypervisor's shadow page tables, an exit
 * as well): the child's handlers were on 8 pages of the library's text.
 * None of it is on a sampled allocation's stack (prof.c skips the frames
 * in jm_text only). */
#define JM_FORK_TEXT   __attribute__((section(".text.jm_fork")))
/* A system call made in line, for the code a forked child runs before
 * anything else of it: no call to syscall() (the library's own, interposed
 * in rawfork.c, on a page of text of its own) nor to a wrapper of libc's
 * (mremap's page, the vDSO's page): each page of text a new process runs
 * for the first time is a page fault, and a child that allocates nothing
 * and _exits (the commonest fork) took three for these alone. The
 * kernel's result, -errno on failure (errno is not set). Elsewhere than
 * x86-64, syscall() and its -1. */
#if defined(__x86_64__)
static inline long jm__sys_inline(long nr, long a1, long a2, long a3, long a4, long a5)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	long rc;
	__asm__ volatile("syscall"
	    : "=a"(rc)
	    : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8)
	    : "rcx", "r11", "memory");
	return rc;
}
#else
#define jm__sys_inline(nr, a1, a2, a3, a4, a5) syscall(nr, a1, a2, a3, a4, a5)
#endif
#define JM_COLD        __attribute__((noinline, cold))
/* On a variable the fast paths read: declared hidden, the compiler
 * addresses it from the instruction pointer, without a GOT entry (a load
 * of its address first: one instruction more at every use; in .lbss, which
 * the linker does not relax, a load from the GOT). */
#define JM_HIDDEN      __attribute__((visibility("hidden")))
/* A large zero-filled array, or one that most processes never touch,
 * goes to .lbss, which the linker places after .bss: the allocator's
 * small variables then share the page where .data ends and .bss begins,
 * which the dynamic loader writes (it zeroes the start of .bss there), so
 * that they cost no page fault, instead of lying on more pages (each a
 * fault, two where a variable is read before it is written, and 4 KiB of
 * RSS in every process). Keep .data and .bss together under a page:
 * `nm -nS liballoc/libjmalloc.so` shows them. */
#define JM_LARGE_BSS   __attribute__((section(".lbss")))

#if JM_DEBUG
#define jm_assert(c) do { if (jm_unlikely(!(c))) jm__assert_fail(#c, __FILE__, __LINE__); } while (0)
#else
#define jm_assert(c) do { (void)sizeof(c); } while (0)
#endif

/* ---- util.c: diagnostics without the heap, clocks, small file reads */
void jm__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void jm__fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void jm__assert_fail(const char *cond, const char *file, int line);
_Noreturn void jm__report_misuse(const char *what, const void *ptr);
int jm__format(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
uint64_t jm__now_ns(void);
uint64_t jm__now_ns_child(void);   /* the same, in a forked child's handler */
ssize_t jm__read_file(const char *path, char *buf, size_t len);
void jm__signals_async(sigset_t *set);   /* all but a fault's or a trap's */

/* ---- options.c */
extern struct jm_options jm__opt;
void jm__options_init(void);

/* ---- decay.c: the allowance of dirty pages by age */
extern uint64_t jm__decay_interval_ns;  /* decay_ms / JM_DECAY_EPOCHS; 0: no decay */
void jm__decay_boot(void);
uint64_t jm__decay_update(struct jm_decay *d, uint64_t now);
bool jm__decay_due(const struct jm_decay *d, uint64_t now);
/* The hard caps' bound in a memory-limited cgroup: pages, at least
 * JM_CGROUP_CAP_MIN; UINT64_MAX without a limit. A cap is bounded by it
 * only above JM_CGROUP_CAP_MIN dirty pages (where it is read, once). */
#define JM_CGROUP_CAP_MIN (((uint64_t)4 << 20) >> JM_LG_PAGE)
uint64_t jm__cgroup_dirty_cap(void);

/* ---- sizeclass.c */
extern struct jm_bin_info jm__bin_info[JM_NBINS];
/* By class: the log2 of its regions' alignment, its size's largest
 * power-of-two divisor: at most a page where a run holds several regions
 * (runs start on a page), and whole where it holds one (8, 16, 24 and 32
 * KiB: the run is placed at that alignment where there is room for it,
 * else anywhere, so such a region may have less), so that a small request
 * aligned to up to 32 KiB is a small region (malloc.c). */
extern uint8_t jm__bin_lg_align[JM_NBINS] JM_HIDDEN;
/* By size in quanta, rounded up, up to JM_SIZE_DIRECT_MAX: the size
 * class; above, by size in 128-byte steps (every class above 1 KiB is a
 * multiple of 256): 2049 bytes for quanta up to 32 KiB put the allocator's
 * locks on two pages, which a fork writes (fork_pages.test.sh). */
#define JM_LG_BIG_STEP 7
extern uint8_t jm__size2bin_tab[(1024 >> JM_LG_QUANTUM) + 1] JM_HIDDEN;
extern uint8_t jm__size2bin_big[(JM_SMALL_MAX >> JM_LG_BIG_STEP) + 1] JM_HIDDEN;
/* By size in bytes, up to JM_SIZE_DIRECT_MAX (most requests): the byte
 * offset of the size's class in a thread's cache (class x sizeof(struct
 * jmstat_tcache_bin)), which malloc's fast path indexes with the size as
 * it is and adds to the cache's address as it is (two instructions fewer
 * than rounding to quanta, one fewer than scaling a class). 2 KiB, on the
 * pages of small variables with the quantum table (startup.test.sh). */
#define JM_SIZE_DIRECT_MAX 1024
extern uint16_t jm__size2tbin_direct[JM_SIZE_DIRECT_MAX + 1] JM_HIDDEN;
void jm__sizeclass_init(void);
/* A page-map entry: `bin` is a small run's class, a large run's arena
 * index. */
static inline uint64_t jm__pm_make(unsigned kind, unsigned bin, size_t start)
{
	uint64_t off = (uint64_t)start << JM_LG_PAGE;
	if (kind == JM_PM_LARGE)
		return JM_PM_LARGE | ((uint64_t)bin << 21) | off;
	uint64_t div = bin == 0 ? JM_PM_DIV_C0 : jm__bin_info[bin].div_magic;
	return (div << 32) | ((uint64_t)(bin * sizeof(struct jmstat_tcache_bin)) << 21) | off;
}
/* Writes v to the n page-map entries from p: two entries a 16-byte store,
 * eight a turn. A large run's entries were written one a turn (4-5
 * instructions a page, ~590 a region of the probe simdbig's, at its
 * alloc and again at its free, 40% of that probe's instructions). No
 * one reads a run's entries while it is written but a misuse. */
static inline void jm__pm_fill(uint64_t *p, size_t n, uint64_t v)
{
	typedef uint64_t jm_pm2 __attribute__((vector_size(16), aligned(8)));
	const jm_pm2 w = {v, v};
	uint64_t *end = p + n;
	for (; end - p >= 8; p += 8) {
		*(jm_pm2 *)p = w;
		*(jm_pm2 *)(p + 2) = w;
		*(jm_pm2 *)(p + 4) = w;
		*(jm_pm2 *)(p + 6) = w;
	}
	for (; end - p >= 2; p += 2)
		*(jm_pm2 *)p = w;
	if (p < end)
		*p = v;
}
/* The free fast path's word of a page of a small run of class `bin` that
 * starts at page `start` of chunk c (types.h, pagefast). */
static inline uint64_t jm__pf_make(const struct jm_chunk *c, unsigned bin, size_t start)
{
	uint32_t run = (uint32_t)((uintptr_t)c + ((uintptr_t)start << JM_LG_PAGE));
	if (bin == 0)   /* u - (run - 1) >= 1 = JM_PM_DIV_C0: never taken */
		return (uint32_t)(run - 1);
	return ((uint64_t)(bin * sizeof(struct jmstat_tcache_bin)) << 32) |
	    (uint32_t)(run * jm__bin_info[bin].div_magic);
}
/* Whether u, in a small run whose page-map entry is pm, is not a
 * region's start (the slow paths' test; free's fast one is on pagefast). */
static inline bool jm__pm_inside(uint64_t pm, uintptr_t u)
{
	uint32_t div = JM_PM_DIV(pm);
	if (jm_unlikely(div == JM_PM_DIV_SLOW)) {
		if (JM_PM_BIN(pm) == 0)
			return (u & 7) != 0;
		div = jm__bin_info[JM_PM_BIN(pm)].div_magic;
	}
	if (div == JM_PM_DIV_C0)
		return (u & 7) != 0;
	return JM_PM_OFFSET(pm, u) * div >= div;
}
/* The page-map word and fast word of a page of a small run (pm, pf as
 * jm__pm_make and jm__pf_make give them) whose frees go to the slow path
 * (types.h, JM_PM_DIV_SLOW). */
static inline uint64_t jm__pm_slow(uint64_t pm)
{
	return (pm & 0xffffffffu) | ((uint64_t)JM_PM_DIV_SLOW << 32);
}
static inline uint64_t jm__pf_slow(const struct jm_chunk *c, size_t start)
{
	uint32_t run = (uint32_t)((uintptr_t)c + ((uintptr_t)start << JM_LG_PAGE));
	return (uint32_t)(2 * run - 2);
}
/* Whether pm, a page-map word, is a small run's of the class whose
 * jm__pm_make(JM_PM_SMALL, class, 0) >> 21 is pm_class (the flushes'
 * test: the divisor and the row's offset), its pages' frees sent to the
 * slow path or not. */
static inline bool jm__pm_class_is(uint64_t pm, uint64_t pm_class)
{
	return jm_likely(pm >> 21 == pm_class) ||
	    (pm >> 21 == ((pm_class & 0x7ffu) | ((uint64_t)JM_PM_DIV_SLOW << 11)));
}
/* Whether `off`, an offset in a small run (below its bytes, at most
 * 2^15), is a region's start in a class whose div_magic is `magic`
 * (ceil(2^32 / size)): then the low half of off x magic is below magic,
 * and its high half is the region's index (*idx). One multiplication for
 * both, exact for every class and offset (tests/unit/test_alloc); 64-bit
 * operands, so that a flush's loop zero-extends nothing. */
static inline bool jm__run_region(uint64_t off, uint64_t magic, uint64_t *idx)
{
	uint64_t prod = off * magic;   /* below 2^47 */
	*idx = prod >> 32;
	return (uint32_t)prod < magic;
}
/* For a size above JM_SIZE_DIRECT_MAX, up to JM_SMALL_MAX. */
static inline unsigned jm__size2bin_above(size_t size)
{
	return __atomic_load_n(&jm__size2bin_big[(size + ((size_t)1 << JM_LG_BIG_STEP) - 1) >> JM_LG_BIG_STEP],
	                       __ATOMIC_RELAXED);
}
/* For a size up to JM_SMALL_MAX. */
static inline unsigned jm__size2bin(size_t size)
{
	if (size <= 8)
		return 0;
	if (size <= JM_SIZE_DIRECT_MAX)
		return __atomic_load_n(&jm__size2bin_tab[(size + JM_QUANTUM - 1) >> JM_LG_QUANTUM],
		                       __ATOMIC_RELAXED);
	return jm__size2bin_above(size);
}


/* ---- os.c: pages from the kernel */
void *jm__os_map(size_t size);
void *jm__os_map_aligned(size_t size, size_t align);
void jm__os_thp(void *addr, size_t size, bool data);
uint64_t jm__os_cgroup_limit_in(const char *root);
void jm__os_unmap(void *addr, size_t size);
void jm__os_purge(void *addr, size_t size);
void jm__os_zero_dirty(void *addr, size_t size);
int jm__os_pagemap_open(void);     /* -1 if there is none */
void jm__os_pagemap_close(int fd);
bool jm__os_held(int fd, void *addr, size_t npages, uint64_t *bits);
long jm__os_count_maps(void);     /* lines of /proc/thread-self/maps, or -1 */
ssize_t jm__os_exe_path(char *buf, size_t n);  /* /proc/thread-self/exe's target, or -1 */
uint64_t jm__os_map_limit(void);  /* min(RLIMIT_AS, RLIMIT_DATA), or UINT64_MAX */
unsigned jm__os_ncpus(void);
void *jm__base_alloc(size_t size);   /* metadata, never freed, zeroed */
void *jm__base_alloc_end(size_t size, size_t end);   /* ... ending end bytes
                                                         before a page boundary */
void jm__base_prefork(void);
void jm__base_postfork_parent(void);
void jm__base_postfork_child(void);

/* ---- rtree.c: address -> chunk or huge record */
#define JM_RTREE_HUGE 1u
extern _Atomic(uintptr_t) *jm__rtree_root[];
bool jm__rtree_set(uintptr_t chunk, uintptr_t value);
void jm__rtree_clear(uintptr_t chunk);
void jm__rtree_lock(void);
void jm__rtree_unlock(void);
void jm__rtree_child_reinit(void);
void jm__rtree_chunk_range(uintptr_t *lo, uintptr_t *hi);

/* A byte per 2 MiB of the 47-bit user address space, 1 where a chunk of
 * ours lives (rtree.c maps it with the first chunk); jm__chunk_map_len is
 * its length then, 0 before, so that every lookup is out of range. The
 * writer stores them with atomic stores under its lock; readers read them
 * plainly (a byte and an aligned word: single-copy atomic), which lets the
 * compiler compare them in memory: free's fast path tests the chunk in
 * five instructions. */
extern uint8_t *jm__chunk_map JM_HIDDEN;
extern size_t jm__chunk_map_len JM_HIDDEN;
#define JM_CHUNK_MAP_LEN ((size_t)1 << (47 - JM_LG_CHUNK))

/* Whether the chunk of index idx (an address >> JM_LG_CHUNK) is ours:
 * idx below the map's length (one comparison: also every address above
 * 2^47) and its byte set. */
static inline bool jm__chunk_idx_ours(uintptr_t idx)
{
	if (jm_unlikely(idx >= jm__chunk_map_len))
		return false;
	return jm__chunk_map[idx] != 0;
}

/* Whether u (any address) is in a chunk of ours. */
static inline bool jm__in_chunk(uintptr_t u)
{
	return jm__chunk_idx_ours(u >> JM_LG_CHUNK);
}

/* Whether a chunk of ours starts at `chunk` (2 MiB-aligned). */
static inline bool jm__is_chunk(uintptr_t chunk)
{
	return jm__chunk_idx_ours(chunk >> JM_LG_CHUNK);
}

/* What lives at a 2 MiB-aligned address: a chunk (its address), a huge
 * region (its record | JM_RTREE_HUGE), or nothing (0). A chunk is in the
 * chunk map only (rtree.c), or in the tree where the map could not be
 * mapped; the tree holds the huge regions. */
static inline uintptr_t jm__rtree_get(uintptr_t chunk)
{
	if (jm_unlikely(chunk >> 47))
		return 0;
	if (jm__is_chunk(chunk))
		return chunk;
	_Atomic(uintptr_t) *leaf = __atomic_load_n(
	    &jm__rtree_root[chunk >> (JM_LG_CHUNK + 13)], __ATOMIC_ACQUIRE);
	if (jm_unlikely(leaf == NULL))
		return 0;
	return atomic_load_explicit(&leaf[(chunk >> JM_LG_CHUNK) & 8191],
	    memory_order_acquire);
}

/* ---- the lock this thread is taking or releasing (init.c, jm__fork_lock)
 * glibc takes a lock, then writes its owner, and clears the owner before
 * it releases it: a fork from a signal handler that interrupted this
 * thread between the two finds the lock held with no owner, as it finds
 * one that another thread is taking or releasing. Every pthread_mutex_lock,
 * _trylock and _unlock of the allocator's code (these macros) marks its
 * lock in the thread for the call, the mark before it restored after (a
 * handler that allocates nests its own): two stores and a load, no
 * system call, async-signal-safe; malloc's and free's fast paths take no
 * lock. A wait for a lock held by another thread is marked apart (below). */
extern __thread pthread_mutex_t *jm__tls_lock_op;
#define JM_MARKED_MUTEX_OP(op)                                                 \
static inline int jm__marked_##op(pthread_mutex_t *l)                          \
{                                                                              \
	pthread_mutex_t *was = jm__tls_lock_op;                                \
	jm__tls_lock_op = l;                                                   \
	__atomic_signal_fence(__ATOMIC_SEQ_CST);                               \
	int rc = op(l);                                                        \
	__atomic_signal_fence(__ATOMIC_SEQ_CST);                               \
	jm__tls_lock_op = was;                                                 \
	return rc;                                                             \
}
JM_MARKED_MUTEX_OP(pthread_mutex_trylock)
JM_MARKED_MUTEX_OP(pthread_mutex_unlock)
/* A taking is a trylock, marked so; if that fails, the wait for the lock
 * is marked apart (the lock's address + 1, not its own): while it waits,
 * the lock is another thread's, which may hold it with no owner itself
 * (preempted between its two steps), and a fork from a signal handler
 * that landed in the wait waits for that thread as for any other's, up
 * to the 2 s (taken for this thread's then: the wait may have ended in
 * its own taking). Marked as its own, it went on at once while the other
 * thread changed what the lock keeps, and the child aborted at its first
 * malloc (test_fork_lock_waited_not_own). */
static inline int jm__marked_pthread_mutex_lock(pthread_mutex_t *l)
{
	pthread_mutex_t *was = jm__tls_lock_op;
	jm__tls_lock_op = l;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	int rc = pthread_mutex_trylock(l);
	if (rc != 0) {
		jm__tls_lock_op = (pthread_mutex_t *)((uintptr_t)l | 1);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		rc = pthread_mutex_lock(l);
	}
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	jm__tls_lock_op = was;
	return rc;
}
#define pthread_mutex_lock(l)    jm__marked_pthread_mutex_lock(l)
#define pthread_mutex_trylock(l) jm__marked_pthread_mutex_trylock(l)
#define pthread_mutex_unlock(l)  jm__marked_pthread_mutex_unlock(l)

/* ---- lock helpers (contention counted in the given stats field) */
static inline void jm__lock(jm_lock_t *l, uint64_t *contended)
{
	if (jm_unlikely(pthread_mutex_trylock(l) != 0)) {
		pthread_mutex_lock(l);
		(*contended)++;
	}
}
static inline void jm__unlock(jm_lock_t *l) { pthread_mutex_unlock(l); }
void jm__lock_init(jm_lock_t *l);
/* ---- a lock of the allocator's own (the heap profile's: prof.c)
 * One 32-bit word: 0 free, else the holder's thread id (jm__tls_tid),
 * with JM_WLOCK_WAITERS set once a thread may sleep on it (a futex wait;
 * the release wakes one). The taking is one compare-and-swap and the
 * release one exchange (glibc's trylock and unlock, with the marking
 * above, were some 90 instructions a round trip); the holder is in the
 * word from the instruction that takes it, so a fork from a signal
 * handler knows the lock for its own thread's with no window and no
 * marking (init.c, jm__fork_wlock). It spins a while before it sleeps,
 * as glibc's adaptive mutex does (JM_WLOCK_SPINS). Not recursive. To
 * ThreadSanitizer, the acquire and release of the word order what the
 * lock guards. */
typedef struct { _Atomic uint32_t word; } jm_wlock_t;
#define JM_WLOCK_WAITERS 0x40000000u
#define JM_WLOCK_SPINS   100
extern __thread uint32_t jm__tls_tid;   /* 0 until asked (init.c) */
uint32_t jm__tid_slow(void);
static inline uint32_t jm__tid(void)
{
	uint32_t t = jm__tls_tid;
	return jm_likely(t != 0) ? t : jm__tid_slow();
}
void jm__wlock_wait(jm_wlock_t *l, uint32_t self);
void jm__wlock_wake(jm_wlock_t *l);
static inline bool jm__wlock_trylock(jm_wlock_t *l, uint32_t self)
{
	uint32_t free_ = 0;
	return atomic_compare_exchange_strong_explicit(&l->word, &free_, self,
	    memory_order_acquire, memory_order_relaxed);
}
static inline void jm__wlock_lock(jm_wlock_t *l)
{
	uint32_t self = jm__tid();
	if (jm_unlikely(!jm__wlock_trylock(l, self)))
		jm__wlock_wait(l, self);
}
static inline void jm__wlock_unlock(jm_wlock_t *l)
{
	if (jm_unlikely(atomic_exchange_explicit(&l->word, 0, memory_order_release) &
	    JM_WLOCK_WAITERS))
		jm__wlock_wake(l);
}
/* Its fork handlers' locking, as jm__fork_lock's below. */
void jm__fork_wlock(jm_wlock_t *l);
void jm__fork_wunlock(jm_wlock_t *l);

/* The fork handlers' locking (init.c): a lock the calling thread holds
 * already (a fork from a signal handler that interrupted the allocator in
 * this thread) is left as it is, not waited for, and not released after. */
void jm__fork_lock(jm_lock_t *l);
void jm__fork_unlock(jm_lock_t *l);
/* A child forked so, when that thread held one (init.c): its allocator
 * is off; what comes to a slow path aborts with a message. */
extern bool jm__fork_tainted;
_Noreturn void jm__fork_tainted_abort(void);

/* Seqlock around the update of a stats row, by its only writer. The end
 * of an update also moves the segment's generation (jmstat.h: header.gen),
 * which tells a reader that some row changed: every row update is on a
 * slow path (a fill, a flush, a large or huge region, a purge, a sampled
 * site, the module table), none on the fast path of malloc and free. */
extern struct jmstat_header *jm__seg;
static inline void jm__row_begin(uint32_t *seq)
{
	atomic_store_explicit((_Atomic uint32_t *)seq, *seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}
static inline void jm__row_end(uint32_t *seq)
{
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit((_Atomic uint32_t *)seq, *seq + 1, memory_order_relaxed);
	jmstat_gen_bump(jm__seg);
}

/* ---- arena.c: arenas, chunks, page runs, large regions, purging */
extern struct jm_arena **jm__arenas;
extern unsigned jm__narenas;
void jm__arenas_init(unsigned n);
struct jm_arena *jm__arena_get(unsigned index);
struct jm_arena *jm__arena_for_thread(uint32_t tid, bool count);
struct jm_arena *jm__arena_thread_claim(void);
extern uint64_t jm__trim_gen;
bool jm__arenas_purge_aged(uint64_t age);
void jm__arena_thread_exit(void);
unsigned jm__arena_live_threads(void);
/* The threads counted in arena i (arena.c: a thread that allocated once,
 * such as a main thread that made threads and waits for them, is not);
 * read without the lock. */
extern unsigned *jm__arena_threads;
static inline unsigned jm__arena_nthreads(unsigned i)
{
	return __atomic_load_n(&jm__arena_threads[i], __ATOMIC_RELAXED);
}
bool jm__arena_thread_move(struct jm_arena *to);
void jm__arena_postfork_threads(void);
struct jm_run *jm__arena_run_alloc(struct jm_arena *a, size_t npages, size_t align_pages,
    uint8_t state, bool *was_dirty);
void jm__arena_run_free(struct jm_arena *a, struct jm_chunk *c, struct jm_run *run);
void jm__arena_runs_free(struct jm_arena *a, struct jm_run *list);
void *jm__large_alloc(struct jm_arena *a, size_t size, size_t align, bool zero);
void jm__large_free(struct jm_chunk *c, void *ptr, uint64_t pm);
/* Gives a's cache of regions of 9 to 64 pages back to its free runs (the
 * unit tests of the arena's runs, which take its lock). */
void jm__arena_cache_flush(struct jm_arena *a);
void *jm__large_ralloc_inplace(struct jm_chunk *c, void *ptr, uint64_t pm, size_t size);
size_t jm__large_usable(struct jm_chunk *c, uint64_t pm);
void jm__arena_maybe_purge(struct jm_arena *a, bool force);
void jm__arena_purge_to(struct jm_arena *a, uint64_t target); /* a's lock held */
void jm__arena_purge_detached(struct jm_arena *a);  /* with its lock not held */
void jm__arena_offset_fresh(struct jm_arena *a, uint64_t pages);  /* huge.c: a fresh mapping */
extern _Atomic size_t jm__huge_gather_maps;  /* huge.c: gather stops past these mappings (0: vm.max_map_count / 8; tests set it) */
extern uint64_t jm__fresh_floor;  /* pages; 32 MiB's (tests lower it) */
#ifdef JM_TEST
extern unsigned jm__fresh_looked; /* dirty runs the last fresh mapping looked at (tests) */
#endif
extern void (*jm__test_arena_purging)(struct jm_arena *a); /* tests: while it purges */
extern uint64_t jm__dirty_cap_min;  /* pages; 256 MiB's (tests lower it) */
bool jm__arena_decay(struct jm_arena *a, uint64_t now);
bool jm__arenas_purge(uint64_t now, bool all);
/* The dirty and purged bytes of all arenas' rows (the kept huge regions
 * charged to them counted), read without their locks: malloc_trim's. */
void jm__arenas_dirty_purged(size_t *dirty, size_t *purged);
extern uint64_t jm__orphan_grace_ns;  /* a thread-less arena's dirty pages go after this (tests lower it) */
bool jm__arenas_release(void);   /* on ENOMEM under a limit: unmaps empty chunks */
void jm__arena_prefork(void);
void jm__arena_postfork_parent(void);
void jm__arena_postfork_child(void);
/* The record of page `page` of chunk c (a run's first or last page: the
 * header's pages have none), and back (types.h, struct jm_chunk). */
static inline struct jm_run *jm__chunk_run(const struct jm_chunk *c, size_t page)
{
	jm_assert(page >= JM_CHUNK_HDR_PAGES && page < JM_CHUNK_PAGES);
	/* The offset of the header's pages taken from the displacement (as
	 * &c->runs[page - JM_CHUNK_HDR_PAGES], it was an instruction more
	 * in the flush's loop: the compiler subtracted, then shifted). */
	return (struct jm_run *)((uintptr_t)c + offsetof(struct jm_chunk, runs) -
	    JM_CHUNK_HDR_PAGES * sizeof(struct jm_run) + page * sizeof(struct jm_run));
}
static inline size_t jm__run_page(const struct jm_chunk *c, const struct jm_run *r)
{
	return (size_t)(r - c->runs) + JM_CHUNK_HDR_PAGES;
}
static inline void *jm__run_addr(struct jm_chunk *c, struct jm_run *r)
{
	return (char *)c + (jm__run_page(c, r) << JM_LG_PAGE);
}

/* ---- bin.c: small regions from runs */
void *jm__bin_alloc_one(struct jm_arena *a, unsigned binind);
unsigned jm__bin_fill(struct jm_arena *a, unsigned binind, uintptr_t *head, unsigned n);
unsigned jm__bin_free_list(void *list, unsigned binind, bool scattered);
void jm__bin_free_batch(void **ptrs, unsigned n, unsigned binind);
void jm__bin_free_one(struct jm_chunk *c, void *ptr, uint64_t pm);
/* The same, leaving the region unwritten (a forked child's free of its
 * parent's region: bin.c). */
void jm__bin_free_inherited(struct jm_chunk *c, void *ptr, uint64_t pm);
void jm__bin_free_unmarked(struct jm_chunk *c, void *ptr, uint64_t pm);
/* n of them, of class binind, from an array (tcache.c's batch). */
void jm__bin_free_inherited_array(void **ptrs, unsigned n, unsigned binind);
bool jm__bin_region_is_free(struct jm_chunk *c, void *ptr, uint64_t pm);
void jm__bin_sampled(struct jm_arena *a, unsigned binind, int delta, bool bump);

/* ---- huge.c */
void *jm__huge_alloc(size_t size, size_t align, bool zero);
/* Unmaps the kept huge regions not being purged; false if there were none
 * (huge.c: on ENOMEM; tests). */
bool jm__huge_release_kept(void);
/* Forgets the sizes of the recent huge requests (tests). */
void jm__huge_recent_forget(void);
void *jm__huge_take_chunk(struct jm_arena *a);   /* a's lock held */
void jm__huge_free(struct jm_huge *h, void *ptr);
void *jm__huge_ralloc(struct jm_huge *h, void *ptr, size_t size);
extern void (*jm__test_huge_purged)(void);
extern void (*jm__test_huge_keeping)(void);
extern void (*jm__test_huge_grown)(void);
extern void (*jm__test_huge_tail_gone)(void);
bool jm__huge_decay(uint64_t now);
void jm__huge_purge_all(void);
bool jm__huge_kept_bytes(uint64_t *dirty, uint64_t *clean);
/* What a pointer the radix tree does not name is, for the report of its
 * misuse (error path only). */
enum jm_unnamed { JM_UNNAMED_FOREIGN, JM_UNNAMED_INSIDE_HUGE, JM_UNNAMED_FREED_HUGE };
enum jm_unnamed jm__huge_unnamed(const void *ptr);
void jm__huge_prefork(void);
void jm__huge_postfork_parent(void);
void jm__huge_postfork_child(void);

/* ---- tcache.c */
/* The cache of a thread that has none, and its private words JM_TB_PRIVATE
 * bytes after it (every list empty), in one zeroed object of .lbss
 * (tcache.c): one object, so that the distance holds wherever the linker
 * puts it (a static link puts the program's .data and .bss between two
 * objects of the library). */
struct jm_none_cache {
	struct jmstat_tcache_bin rows[JM_NBINS + 1];
	char gap[JM_TB_PRIVATE - (JM_NBINS + 1) * sizeof(struct jmstat_tcache_bin)];
	struct jm_tbin_private priv[JM_NBINS + 1];
};
extern struct jm_none_cache jm__none_cache;
#define jm__tcache_none (jm__none_cache.rows)
/* The byte offset, from a thread's cache rows, of the row malloc's fast
 * path takes for sizes up to 8 (class 0's, whose list only the slow path
 * pops: internal.h's *0 helpers): the one past the last, whose list head
 * is always 0, in every cache (its word is the 8 bytes after the rows,
 * unused in a thread row's stride: stats.c; jm__tcache_none has the row). */
#define JM_TBIN_EMPTY (JM_NBINS * (unsigned)sizeof(struct jmstat_tcache_bin))
/* The count less capacity of each of its rows: full (free's fast path
 * adds one, 1 > 0, and its slow path sets it back). Threads without a
 * cache share the rows and race on them, but each only adds one and sets
 * it back: never below 0, never far above. 0, so that the rows are zeros
 * of .lbss like their private words. */
#define JM_TCACHE_NONE_FULL 0u
/* What the fast paths read, in one thread-local block (one address
 * computation for both). Malloc's cache and free's are the same but
 * while a forked process's thread has its cache set aside (tcache.c,
 * "forked"): free's is then jm__tcache_none, so that its frees come to
 * the slow path, and malloc's fast path still pops the cache's lists. */
struct jm_tls {
	struct jmstat_tcache_bin *tbins;  /* malloc's: the thread's cache, or jm__tcache_none */
	int64_t sample_left;              /* bytes until the next sampled one */
	struct jmstat_tcache_bin *fbins;  /* free's: tbins, or jm__tcache_none (set aside) */
};
extern __thread struct jm_tls jm__tls;
#define jm__tls_tbins (jm__tls.tbins)
#define jm__tls_fbins (jm__tls.fbins)
#define jm__tls_sample_left (jm__tls.sample_left)
/* Both fast paths' caches at once (every change but a set-aside's). */
static inline void jm__tls_set_bins(struct jmstat_tcache_bin *tbins)
{
	jm__tls.tbins = tbins;
	jm__tls.fbins = tbins;
}
/* Where a thread stands with its cache (jm__tls_state). */
enum jm_tls_state {
	JM_TLS_NEW = 0,        /* no allocation yet: the first one boots the cache */
	JM_TLS_CACHED = 1,     /* has a cache (jm__tls_tbins) */
	JM_TLS_EXITING = 2,    /* its cache is gone: allocates from its arena */
	JM_TLS_NO_CACHE = 3,   /* has none by configuration (tcache:0, junk:1) */
	JM_TLS_FRESH = 4,      /* starting the purger (bg.c): no cache, and each
	                          allocation a fresh mapping (huge.c) */
};
extern __thread enum jm_tls_state jm__tls_state;
/* Pages the calling thread's runs took that were not resident (fresh or
 * purged: each a page fault and 4 KiB more RSS), since its cache last
 * looked for idle lists (tcache.c, sweep_idle); counted by
 * jm__arena_run_alloc. */
extern __thread uint32_t jm__tls_fresh_pages;
extern uintptr_t jm__cookie JM_HIDDEN;

/*
 * The free lists of the thread cache, small bins and cached large regions
 * alike, run through the free regions themselves: word 0 is the next
 * region (0 ends the list), word 1 the cookie, the region's address xor
 * jm__cookie (a per-process secret), so that one load tells a free region
 * from one in use (free's double-free check). A region handed out has its
 * cookie word cleared. Every list operation goes through these.
 *
 * Class 0 (8 B) has no word 1: its link carries a tag in its top 16 bits
 * instead (jm__flist0_tag: bit 63 set, then 15 bits of its address xor
 * the secret; addresses are below 2^48), and a region handed out has
 * word 0 cleared. Its lists are the *0 helpers' (or a helper's c0
 * argument); malloc's and free's fast paths never see class 0 (malloc's
 * table sends sizes up to 8 to a row that is always empty, free's page
 * word fails its test on a class-0 page: malloc.c), so that they read
 * and write word 1 as before. A tag also matches an 8 B object in use
 * one time in 2^15 when its top bit is set (a negative integer, a
 * double): free then looks for the region in the thread's own list and
 * in its run, and when it is in neither holds it aside with nothing of
 * it written (malloc.c, free_in_chunk; tcache.c, "8 B regions freed a
 * second time"): a double free of an 8 B region sitting in another
 * thread's cache is reported by that list's pop or flush, not at the free
 * (docs/allocator.md, "The 8 B class", "Misuse gaps, session 35").
 */
#define JM_FLIST_PTR   (((uintptr_t)1 << 48) - 1)   /* a link's address bits */
#define JM_FLIST_TAG   (~JM_FLIST_PTR)              /* class 0's tag bits */
static inline uintptr_t jm__flist_cookie(const void *p)
{
	return (uintptr_t)p ^ jm__cookie;
}

/* Class 0's tag of region p (in the link word's top 16 bits), from its
 * cookie (jm__flist_cookie). */
static inline uintptr_t jm__flist0_tag_of(uintptr_t cookie)
{
	return ((cookie >> 3) << 48) | ((uintptr_t)1 << 63);
}
static inline uintptr_t jm__flist0_tag(const void *p)
{
	return jm__flist0_tag_of(jm__flist_cookie(p));
}

/* Whether p carries a free region's cookie, cookie being
 * jm__flist_cookie(p) (free's fast path computes it once for this and
 * the push). */
static inline bool jm__flist_has_cookie(const void *p, uintptr_t cookie)
{
	return ((const uintptr_t *)p)[1] == cookie;
}

static inline bool jm__flist_is_free(const void *p)
{
	return jm__flist_has_cookie(p, jm__flist_cookie(p));
}

/* Whether the class-0 region p carries its tag (free, or a false match). */
static inline bool jm__flist0_is_free(const void *p)
{
	return (((const uintptr_t *)p)[0] & JM_FLIST_TAG) == jm__flist0_tag(p);
}

static inline bool jm__flist_is_free_c(const void *p, bool c0)
{
	return c0 ? jm__flist0_is_free(p) : jm__flist_is_free(p);
}

/* Puts p, whose cookie is cookie, at the front of the list *head. */
static inline void jm__flist_push_cookie(uintptr_t *head, void *p, uintptr_t cookie)
{
	uintptr_t *w = p;
	w[0] = *head;
	w[1] = cookie;
	*head = (uintptr_t)p;
}

/* Puts p at the front of the list *head. */
static inline void jm__flist_push(uintptr_t *head, void *p)
{
	jm__flist_push_cookie(head, p, jm__flist_cookie(p));
}

/* The same for a class-0 list. */
static inline void jm__flist0_push(uintptr_t *head, void *p)
{
	uintptr_t *w = p;
	w[0] = *head | jm__flist0_tag(p);
	*head = (uintptr_t)p;
}

static inline void jm__flist_push_c(uintptr_t *head, void *p, bool c0)
{
	if (c0)
		jm__flist0_push(head, p);
	else
		jm__flist_push(head, p);
}

/* Builds a list front to back: stores p at *tail (the list's head, or
 * the word 0 of the region before p), gives p its cookie (cookie is
 * jm__cookie, read once by the caller), and returns where the next region
 * goes (p's word 0). The caller ends the list with jm__flist_end. */
static inline uintptr_t *jm__flist_append(uintptr_t *tail, void *p, uintptr_t cookie)
{
	uintptr_t *w = p;
	*tail = (uintptr_t)w;
	w[1] = (uintptr_t)w ^ cookie;
	return &w[0];
}

/* The same for a class-0 list: *tail keeps its tag bits (0 in a list's
 * head, which starts at 0), p's word 0 gets its own. */
static inline uintptr_t *jm__flist0_append(uintptr_t *tail, void *p)
{
	uintptr_t *w = p;
	*tail = (*tail & JM_FLIST_TAG) | (uintptr_t)w;
	w[0] = jm__flist0_tag(w);
	return &w[0];
}

static inline uintptr_t *jm__flist_append_c(uintptr_t *tail, void *p, uintptr_t cookie, bool c0)
{
	return c0 ? jm__flist0_append(tail, p) : jm__flist_append(tail, p, cookie);
}

/* Ends a list built by the appends with `rest` (0, or another list):
 * class 0's last region keeps its tag; another class's word 0 is
 * whatever it held before (the appends do not write it). */
static inline void jm__flist_end(uintptr_t *tail, uintptr_t rest, bool c0)
{
	*tail = c0 ? (*tail & JM_FLIST_TAG) | rest : rest;
}

/* jm__flist_append for n >= 1 regions of `size` bytes that follow one
 * another from p, in address order: each region's word 0 is simply the
 * next one's address (one instruction a region fewer than appending
 * them one by one). Returns where the region after them goes. */
static inline uintptr_t *jm__flist_append_seq(uintptr_t *tail, char *p, size_t n, size_t size,
    uintptr_t cookie)
{
	char *last = p + (n - 1) * size;
	*tail = (uintptr_t)p;
	for (; p < last; p += size) {
		uintptr_t *w = (uintptr_t *)p;
		w[0] = (uintptr_t)(p + size);
		w[1] = (uintptr_t)p ^ cookie;
	}
	((uintptr_t *)last)[1] = (uintptr_t)last ^ cookie;
	return (uintptr_t *)last;
}

/* The same for class 0 (8 B regions). */
static inline uintptr_t *jm__flist0_append_seq(uintptr_t *tail, char *p, size_t n)
{
	char *last = p + (n - 1) * 8;
	*tail = (*tail & JM_FLIST_TAG) | (uintptr_t)p;
	for (; p < last; p += 8)
		*(uintptr_t *)p = (uintptr_t)(p + 8) | jm__flist0_tag(p);
	*(uintptr_t *)last = jm__flist0_tag(last);
	return (uintptr_t *)last;
}

/* Takes the first region off the list *head, its cookie cleared; NULL
 * when the list is empty. Not for class 0 (jm__flist0_pop). */
static inline void *jm__flist_pop(uintptr_t *head)
{
	uintptr_t *w = (uintptr_t *)*head;
	if (w) {
		*head = w[0];
		w[1] = 0;
	}
	return w;
}

/* The same for class 0: the link's tag taken off, word 0 cleared. */
static inline void *jm__flist0_pop(uintptr_t *head)
{
	uintptr_t *w = (uintptr_t *)*head;
	if (w) {
		*head = w[0] & JM_FLIST_PTR;
		w[0] = 0;
	}
	return w;
}

static inline void *jm__flist_pop_c(uintptr_t *head, bool c0)
{
	return c0 ? jm__flist0_pop(head) : jm__flist_pop(head);
}

/* The region after p in its list, or NULL (any class). */
static inline void *jm__flist_next(const void *p)
{
	return (void *)(((const uintptr_t *)p)[0] & JM_FLIST_PTR);
}

/* Ends the list at p (any class: a class-0 region keeps its tag). */
static inline void jm__flist_cut(void *p)
{
	((uintptr_t *)p)[0] &= JM_FLIST_TAG;
}

/* Clears the cookie of a region handed out without a pop (taken from a
 * bin, or leaving a list that is dropped whole). */
static inline void jm__flist_clear_cookie(void *p)
{
	((uintptr_t *)p)[1] = 0;
}

static inline void jm__flist_clear_cookie_c(void *p, bool c0)
{
	((uintptr_t *)p)[c0 ? 0 : 1] = 0;
}
/* A cache row's count of regions is stored less its capacity (jmstat.h),
 * in the row for readers and in the private words for the allocator:
 * free's fast path adds one to each in memory and tests a full list by
 * the flags of the private one's addition, with no load of the capacity
 * (two instructions fewer; on a full list the slow path takes the one
 * back); the none cache's rows and private words hold
 * JM_TCACHE_NONE_FULL. The row's count and capacity are set together, in
 * one 8-byte store, so that a reader never adds one to the other's old
 * value. */
/* A cache row's private words (types.h, struct jm_tbin_private). */
static inline struct jm_tbin_private *jm__tb_priv(const struct jmstat_tcache_bin *tb)
{
	return (struct jm_tbin_private *)((char *)(uintptr_t)tb + JM_TB_PRIVATE);
}
/* The head of its free list: every list operation's `head`. */
static inline uintptr_t *jm__tb_head(const struct jmstat_tcache_bin *tb)
{
	return &jm__tb_priv(tb)->head;
}
/* Its capacity, the private copy: the row's is for readers. */
static inline uint32_t jm__tb_max(const struct jmstat_tcache_bin *tb)
{
	return jm__tb_priv(tb)->ncached_max;
}
/* Its count, the private copy, which free's fast path tests and the GC
 * and the idle sweep read; the row's is for readers (a writer of the
 * segment may set it: the list took 2^31 frees before its flush when it
 * was the one tested, docs/security.md). Both are changed together,
 * by jm__tb_inc and jm__tb_dec or, on the fast paths, by two
 * instructions. */
static inline uint32_t jm__tb_ncached(const struct jmstat_tcache_bin *tb)
{
	return jm__tb_priv(tb)->ncached_less_max + jm__tb_max(tb);
}
static inline bool jm__tb_full(const struct jmstat_tcache_bin *tb)
{
	return (int32_t)jm__tb_priv(tb)->ncached_less_max >= 0;
}
static inline void jm__tb_inc(struct jmstat_tcache_bin *tb)
{
	tb->ncached_less_max++;
	jm__tb_priv(tb)->ncached_less_max++;
}
static inline void jm__tb_dec(struct jmstat_tcache_bin *tb)
{
	tb->ncached_less_max--;
	jm__tb_priv(tb)->ncached_less_max--;
}
static inline void jm__tb_set(struct jmstat_tcache_bin *tb, uint32_t ncached, uint32_t max)
{
	_Static_assert(offsetof(struct jmstat_tcache_bin, ncached_max) ==
	    offsetof(struct jmstat_tcache_bin, ncached_less_max) + 4 &&
	    offsetof(struct jmstat_tcache_bin, ncached_less_max) % 8 == 0,
	    "count and capacity share an aligned 8-byte word");
	uint64_t w = (uint64_t)(ncached - max) | (uint64_t)max << 32;
	__atomic_store_n((uint64_t *)&tb->ncached_less_max, w, __ATOMIC_RELAXED);
	jm__tb_priv(tb)->ncached_less_max = ncached - max;
	jm__tb_priv(tb)->ncached_max = max;
}
void *jm__tcache_alloc_slow(struct jmstat_tcache_bin *tbins, unsigned binind);
unsigned jm__tcache_flush_some(struct jmstat_tcache_bin *tb, unsigned binind, unsigned keep);
void jm__tcache_slow_run_free(struct jm_chunk *c, void *ptr, uint64_t pm);
/* 8 B regions freed again while another thread's list may hold them
 * (tcache.c): held, and reported where that list gives them out. */
extern int64_t jm__c0_pop_max JM_HIDDEN;
void jm__tcache_c0_hold(void *ptr);
void jm__tcache_c0_check(const void *p);
struct jmstat_tcache_bin *jm__tcache_boot(void);
bool jm__thread_freed_first(void);
struct jm_arena *jm__thread_arena(void);
void jm__tcache_check_double_free(void *ptr, unsigned binind);
/* Whether the small region ptr of class binind is in the thread's own
 * list or free in its run. */
bool jm__tcache_small_freed(void *ptr, unsigned binind);
void jm__tcache_init_global(void);
void jm__tcache_free_full(struct jmstat_tcache_bin *tb, unsigned binind, void *ptr);
/* A forked child's frees (tcache.c, "forked"): the forks that made this
 * process; the calling thread's cache rows, also while they are set aside
 * (jm__tls_fbins is then jm__tcache_none); and a small region's free
 * while they are: NULL when it went to its run, else the rows to push it
 * on (jm__tcache_none: not set aside). */
extern uint16_t jm__fork_depth JM_HIDDEN;
struct jmstat_tcache_bin *jm__tcache_own_bins(void);
struct jmstat_tcache_bin *jm__tcache_forked_free(struct jm_chunk *c, void *ptr, uint64_t pm);
bool jm__tcache_inh_free(void *ptr);
/* The calling thread's gathered frees of its parent's regions sent to
 * their runs (tcache.c, "inherited frees, batched"). */
void jm__tcache_inh_flush(void);
/* Buffers of such frees taken (tcache.c): while one is, a free of a
 * small region that does not go through one looks in them first
 * (jm__tcache_inh_check: another thread's holding it is a double free). */
extern uint32_t jm__inh_taken JM_HIDDEN;
void jm__tcache_inh_check(void *ptr, unsigned binind);
void jm__tcache_gc(void);
void *jm__tcache_large_alloc(size_t npages);
void *jm__tcache_large_alloc_aligned(size_t npages, size_t align);
bool jm__tcache_large_free(void *ptr, size_t npages, unsigned arena_index);
void jm__tcache_large_flush_current(void);
void jm__tcache_prefork(void);
void jm__tcache_postfork_parent(void);
void jm__tcache_postfork_child(void);
struct jmstat_thread *jm__tcache_current_row(void);
void jm__tcache_flush_all_current(void);
void jm__tcache_trim(void);
bool jm__tcache_trim_lone(void);

/* ---- stats.c: the segment writer */
struct jmstat_header;
extern struct jmstat_header *jm__seg;
/* The segment's layout and the counts the allocator keeps in it, as the
 * allocator made them: private memory, the only copy it reads. Any
 * process of the owner's uid may write the file, so nothing read back from
 * it places a write or bounds a loop (docs/security.md): the header's and
 * rows' copies are written, never read. Set at initialisation; a forked
 * child inherits it with the snapshot it publishes. */
struct jm_seg_geom {
	uint64_t arena_off, bin_off, thread_off, site_off, module_off;
	uint32_t thread_stride, site_stride, module_size;
	uint32_t narenas, nthreads_max, nsites_max, nmodules_max;
	uint32_t nthreads_hw;    /* thread rows handed out so far: rows_lock */
	uint32_t nsites_hw;      /* site rows used: prof.c's prof_lock */
	uint32_t nmodules;       /* module rows in use: modules.c's mod_lock */
	uint32_t pid;            /* the process the segment stands for */
	uint64_t pidns, mntns;   /* as read_identity found them */
};
extern struct jm_seg_geom jm__segp;
/* Where the segment's byte `off` is mapped (stats.c: the private table of
 * the thread caches lies between the thread rows and the site rows). */
char *jm__stats_at(uint64_t off);
void jm__stats_init(void);
struct jmstat_arena *jm__stats_arena_row(unsigned index);
struct jmstat_bin *jm__stats_bin_row(unsigned arena, unsigned bin);
struct jmstat_bin *jm__stats_arena_bins(unsigned arena);   /* backed, or private */
struct jmstat_thread *jm__stats_thread_row_get(void);
void jm__stats_thread_row_put(struct jmstat_thread *row);
size_t jm__stats_thread_row_size(void);
void jm__stats_postfork_child(struct jmstat_thread *keep);
void jm__stats_postfork_uninit(void);
extern bool jm__stats_pending;       /* a forked child has yet to publish */
bool jm__stats_reserve_sites(uint32_t rows);
bool jm__stats_reserve_modules(uint32_t rows);
void jm__stats_publish_child(void);
extern bool jm__stats_retry_due;     /* unpublished for want of room: try again */
void jm__stats_retry(void);
/* A forked child that publishes from its parent's snapshot owes its arena
 * rows their thread counts (1 for the forking thread's arena, 0 for the
 * others) and its header the purger's fields (0): written at its
 * publication, not in its fork handler into the snapshot's page, which
 * the parent shares (stats.c, "owed"). Whatever changes them before the
 * publication settles them first. */
extern unsigned jm__stats_owed;   /* 0, or 1 + that arena's index (JM_MAX_ARENAS: none) */
bool jm__stats_owe(const struct jm_arena *mine);
void jm__stats_settle_slow(void);
static inline void jm__stats_settle(void)
{
	if (jm_unlikely(__atomic_load_n(&jm__stats_owed, __ATOMIC_ACQUIRE) != 0))
		jm__stats_settle_slow();
}
void jm__stats_ns_changed(void);       /* unshare, setns: read them again */
uint64_t jm__stats_start_tick(uint64_t before_ns, uint64_t after_ns, unsigned long hz);
uint64_t jm__stats_fork_start(void);
void jm__stats_prefork(void);
void jm__stats_prefork_snapshot(void);   /* last in prefork: every lock held */
void jm__stats_postfork_parent(void);
void jm__stats_exit(void);
void jm__stats_bg_wake(void);
void jm__stats_bg_running(bool running);

/* ---- bg.c: the background purger */
extern _Atomic int jm__bg_state;
extern _Atomic int jm__bg_want;
extern _Atomic bool jm__bg_deferred;
void jm__bg_dirtied(void);
extern void (*jm__test_bg_looked)(bool dirty);   /* tests: after each look */
extern void (*jm__test_bg_naming)(void);   /* tests: before it names itself */
void jm__bg_deferred_dirtied(uint64_t bytes);
void jm__bg_deferred_check(uint64_t bytes);
extern _Atomic unsigned long jm__bg_looks;   /* tests: looks at the arenas before the start */
uint64_t jm__bg_dirty_now(void);
void jm__bg_init(void);
void jm__bg_start(uint64_t bytes);
bool jm__bg_running(void);
void jm__bg_stop(void);
bool jm__bg_run_once(void);
void jm__bg_postfork_child(void);
/* Starts the purger if it is wanted and not started yet: before a free
 * gives regions or pages back (bg.c says why before), on slow paths that
 * hold no allocator lock. */
static inline void jm__bg_check(uint64_t bytes)
{
	if (jm_unlikely(atomic_load_explicit(&jm__bg_want, memory_order_relaxed)))
		jm__bg_start(bytes);
	/* While the start is deferred: due at the free that brings the
	 * arenas to 4 MiB dirty (the region about to be freed counted), or
	 * at the first after its time, not at the next one. */
	else if (jm_unlikely(atomic_load_explicit(&jm__bg_deferred, memory_order_relaxed)))
		jm__bg_deferred_check(bytes);
}

/* ---- init.c */
extern _Atomic int jm__initialized;
void jm__init_slow(void);
/* Called (tests only) inside the first initialisation, its lock held. */
extern void (*jm__test_init_hook)(void);
/* The allocator's fork handlers, for clone() (compat.c). */
void jm__fork_prepare(void);
void jm__fork_parent(void);
void jm__fork_child(void);
static inline void jm__ensure_init(void)
{
	if (jm_unlikely(!atomic_load_explicit(&jm__initialized, memory_order_acquire)))
		jm__init_slow();
}

/* ---- prof.c: the sampled heap profile */
void *jm__prof_alloc(size_t size, size_t align, bool zero);
void jm__prof_regrown(void *p, size_t size);
void jm__prof_free(uint32_t site, size_t sampled, size_t now, bool huge);
void jm__prof_resize(uint32_t site, size_t sampled, size_t from, size_t to, bool huge);
void jm__prof_init(void);
void jm__prof_prefork(void);
void jm__prof_postfork_parent(void);
void jm__prof_postfork_child(void);
/* Counts an allocation against the thread's sampling budget; true when
 * this one is to be sampled. */
static inline bool jm__prof_take(size_t size)
{
	if (jm_unlikely(size > (size_t)PTRDIFF_MAX))
		return false; /* fails with ENOMEM anyway */
	return jm_unlikely((jm__tls_sample_left -= (int64_t)size) < 0);
}

/* ---- modules.c: the module table of the segment */
void jm__modules_refresh(void);
void jm__modules_changed(void);
void jm__modules_prefork(void);
void jm__modules_postfork_parent(void);
void jm__modules_postfork_child(void);

/* ---- unwind.c: stacks of sampled allocations */
#define JM_UNWIND_MAX (JMSTAT_SITE_FRAMES + 8)
int jm__unwind(void **frames, int max);
void jm__unwind_thread_start(void);
void jm__unwind_counts(uint64_t *taken, uint64_t *fast);   /* JM_TEST */
void jm__unwind_cache_pages(unsigned *with_entries, unsigned *resident);
unsigned jm__unwind_cache_get(uintptr_t pc);
size_t jm__unwind_cache_slots(void);

/* ---- validate.c: the heap walker tests call; 0 or the violations */
int jm__heap_validate(void);

/* ---- malloc.c: the entry points, also under the jm_ names */
void *jm__alloc_slow(size_t size);
void *jm__alloc_counted(size_t size, bool zero);
void jm__free_slow(void *ptr);
void *jm__alloc_plain(size_t size, size_t align, bool zero);   /* unsampled */
void *jm__alloc_sampled(size_t size, size_t align, bool zero); /* large or huge */
bool jm__mark_sampled(void *ptr, uint32_t site, size_t size, bool bump);
void *jm__new(size_t size);                                     /* _Znwm */
void *jm__new_aligned(size_t size, size_t align);               /* NULL: failed */
void jm__free(void *ptr);                                       /* jm_free, hidden */

/* ---- cxx.c: C++'s operator new and delete; a new that found no memory */
void *jm__new_failed(size_t size);

#endif
