/*
 * Unit tests of the sampled stacks' unwinder (liballoc/unwind.c): the fast
 * walk, from the cache, gives exactly the frames the slow one (libgcc's)
 * gives, at several depths and from several call sites; and after the
 * first stacks the cache serves nearly all of them; the slow walk (the
 * allocator's own reading of the unwind tables) gives what libgcc's
 * (glibc's backtrace()) gives, also through a frame whose CFA is rbp-based
 * (a variable length array), also when that frame's size changes from
 * one call to the next; the return addresses
 * of one piece of code fill a page or two of the cache, not one page each;
 * a process's first stacks take one page of it (a small table), and the
 * cache grows to its full size with what it holds when that fills.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>

#include "internal.h"
#include "jmalloc.h"

#define DEPTH_MAX 12

__attribute__((noipa)) static int take(void **frames)
{
	return jm__unwind(frames, JM_UNWIND_MAX);
}

/* A chain of real frames: a recursion that touches its locals after
 * each call, so that it is neither a tail call nor folded. Returns the
 * number of frames taken. */
static _Thread_local volatile unsigned sink;   /* unsigned: sums wrap without undefined
                                                 * behaviour; per thread: test_counts_per_thread
                                                 * walks from two threads at once (a race under
                                                 * ThreadSanitizer) */

__attribute__((noipa)) static int chain(int depth, void **frames, volatile char *pad)
{
	volatile char local[48];
	local[0] = (char)depth;
	int n = depth == 0 ? take(frames) : chain(depth - 1, frames, local);
	sink += local[0] + pad[0];
	return n;
}

__attribute__((noipa)) static int other_site(int depth, void **frames)
{
	volatile char pad[1] = { 0 };
	int n = chain(depth, frames, pad);
	sink += pad[0];
	return n;
}

/* The same stack taken 101 times from one call instruction (the loop body
 * has no branch, so that the compiler has no reason to peel it): the first
 * through the slow unwinder, the others through the cache. */
static void *taken_frames[101][JM_UNWIND_MAX];
static int taken_n[101];

__attribute__((noipa)) static int same_stack_100(int depth, int (*site)(int, void **), void **first)
{
	memset(taken_frames, 0, sizeof(taken_frames));
#pragma GCC unroll 1
	for (int rep = 0; rep <= 100; rep++)
		taken_n[rep] = site(depth, taken_frames[rep]);
	for (int rep = 1; rep <= 100; rep++) {
		assert_int_equal(taken_n[rep], taken_n[0]);
		assert_memory_equal(taken_frames[rep], taken_frames[0], (size_t)taken_n[0] * sizeof(void *));
	}
	memcpy(first, taken_frames[0], sizeof(taken_frames[0]));
	return taken_n[0];
}

__attribute__((noipa)) static int site_a(int depth, void **frames)
{
	volatile char pad[1] = { 0 };
	int n = chain(depth, frames, pad);
	sink += pad[0];
	return n;
}

static void test_fast_equals_slow(void **state)
{
	(void)state;
	void *a[JM_UNWIND_MAX], *b[JM_UNWIND_MAX];
	for (int depth = 0; depth <= DEPTH_MAX; depth++) {
		int na = same_stack_100(depth, site_a, a);
		int nb = same_stack_100(depth, other_site, b);
		/* take, chain x (depth + 1), then the site and this test's
		 * frames, then the same outer frames (cmocka, main, libc). */
		assert_true(na >= depth + 6);
		assert_int_equal(nb, na);
		assert_memory_equal(a, b, (size_t)(depth + 2) * sizeof(void *));
		assert_ptr_not_equal(a[depth + 2], b[depth + 2]);
		assert_memory_equal(a + na - 4, b + nb - 4, 4 * sizeof(void *));
	}
	uint64_t taken, fast;
	jm__unwind_counts(&taken, &fast);
	assert_true(taken >= 2 * 101 * (DEPTH_MAX + 1));
	/* All but the first stack of each shape and the periodic checks. */
	assert_true(fast * 10 >= taken * 9);
}

/* Stacks of every depth around the limit, on a thread of its own (its
 * outermost frame, clone3's, is met by every stack of the thread): one
 * whose last return address (clone3's) fell at JM_UNWIND_MAX - 1, its end
 * (0) the entry after, was taken as cut short, and that address put in
 * the cache without its K_END mark; against the mark the complete stacks
 * had put there, it became never cached, and every later stack of every
 * thread went the slow way (mariadbd under a recursive CTE: 300k samples,
 * 4 from the cache, the server's CPU 1.8 x). */
static void *limit_frames[JM_UNWIND_MAX];
static uint64_t limit_fast;

__attribute__((noipa)) static void *limit_thread(void *arg)
{
	(void)arg;
	volatile char pad[1] = { 0 };
	/* 64 stacks at each depth: one of them the slow way (the periodic
	 * check), whatever the cache holds. */
	for (int depth = 0; depth <= JM_UNWIND_MAX + 4; depth++)
		for (int rep = 0; rep < 64; rep++)
			chain(depth, limit_frames, pad);
	uint64_t taken, fast0, fast;
	jm__unwind_counts(&taken, &fast0);
#pragma GCC unroll 1
	for (int rep = 0; rep < 20; rep++)
		chain(2, limit_frames, pad);
	jm__unwind_counts(&taken, &fast);
	limit_fast = fast - fast0;
	return NULL;
}

static void test_depth_limit_cached(void **state)
{
	(void)state;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, limit_thread, NULL), 0);
	pthread_join(t, NULL);
	assert_true(limit_fast >= 18);  /* all but the periodic checks */
}

/* The counts are the calling thread's, and so is the countdown to the
 * periodic check: a thread's 1,000 stacks count 1,000 there, nothing in
 * another thread's (they were process-wide counters, each stack a lock
 * xadd on two shared lines: two threads sampling at once bounced them),
 * and the check comes every 256 of them whatever the other threads take
 * (3 or 4 times in 1,000). */
struct count_run {
	uint64_t taken, fast;
};

__attribute__((noipa)) static void *count_thread(void *arg)
{
	struct count_run *r = arg;
	void *frames[JM_UNWIND_MAX];
	volatile char pad[1] = { 0 };
	uint64_t taken0, fast0, taken, fast;
	jm__unwind_counts(&taken0, &fast0);
#pragma GCC unroll 1
	for (int rep = 0; rep < 1000; rep++)
		chain(2, frames, pad);
	jm__unwind_counts(&taken, &fast);
	r->taken = taken - taken0;
	r->fast = fast - fast0;
	return NULL;
}

static void test_counts_per_thread(void **state)
{
	(void)state;
	uint64_t taken0, fast0, taken, fast;
	jm__unwind_counts(&taken0, &fast0);
	struct count_run runs[3];
	pthread_t t[3];
	/* One alone, then two at once. */
	assert_int_equal(pthread_create(&t[0], NULL, count_thread, &runs[0]), 0);
	pthread_join(t[0], NULL);
	for (int i = 1; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, count_thread, &runs[i]), 0);
	for (int i = 1; i < 3; i++)
		pthread_join(t[i], NULL);
	jm__unwind_counts(&taken, &fast);
	assert_int_equal(taken, taken0);
	assert_int_equal(fast, fast0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(runs[i].taken, 1000);
		/* The thread's first stack may go the slow way (its thread
		 * function's return address), and the checks. */
		assert_true(runs[i].fast + 3 <= 1000);
		assert_true(runs[i].fast + 5 >= 1000);
	}
}

/* Both stacks from the same frame: jm__unwind's and glibc's backtrace()
 * (libgcc's unwinder); index 0 of each is its own call site here. */
static void *bt_ours[JM_UNWIND_MAX], *bt_libgcc[JM_UNWIND_MAX + 1];
static int bt_nours, bt_nlibgcc;

__attribute__((noipa)) static void both_stacks(void)
{
	bt_nours = jm__unwind(bt_ours, JM_UNWIND_MAX);
	bt_nlibgcc = backtrace(bt_libgcc, JM_UNWIND_MAX + 1);
#if defined(__SANITIZE_THREAD__)
	/* ThreadSanitizer intercepts backtrace(): its own frame first, left
	 * out (ASan's interceptor too: its tests skip). */
	if (bt_nlibgcc > 0)
		memmove(bt_libgcc, bt_libgcc + 1, (size_t)--bt_nlibgcc * sizeof(void *));
#endif
}

/* A frame with a variable length array: its CFA is rbp + 16. */
__attribute__((noipa)) static void vla_frame(int n)
{
	volatile char buf[n];
	buf[0] = (char)n;
	both_stacks();
	sink += buf[0];
}

static void test_slow_equals_libgcc(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	skip();   /* ASan intercepts backtrace(), the reference: a frame more */
#endif
	/* The first stack through vla_frame: the slow walk's. */
	vla_frame(100);
	int n = bt_nours;
	assert_true(n >= 5);    /* both_stacks, vla_frame, this test, cmocka... */
	assert_int_equal(bt_nlibgcc, n);
	assert_memory_equal(bt_ours + 1, bt_libgcc + 1, (size_t)(n - 1) * sizeof(void *));
}

/* A frame with a variable length array of n words, each fill. */
__attribute__((noipa)) static void vla_fill(int n, uintptr_t fill)
{
	volatile uintptr_t buf[n];
	for (int i = 0; i < n; i++)
		buf[i] = fill;
	both_stacks();
	sink += (unsigned)buf[0];
}

/* A frame with a variable length array is a different size at each call:
 * its first size, learnt by the slow walk, is not used for the next call,
 * whose array holds a return address the cache knows (stale stack is full
 * of them) where the caller's return address was at the first size (that
 * was a wrong stack; a larger first size read past a small stack's top).
 * Each stack equals libgcc's, and the cache walks the frame through its
 * frame pointer. */
static void test_vla_sizes(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	skip();   /* ASan intercepts backtrace(), the reference: a frame more */
#endif
	vla_fill(2, 0);
	assert_true(bt_nours >= 5);
	uintptr_t known = (uintptr_t)bt_ours[2];   /* into this test: cached */
	assert_int_equal(jm__unwind_cache_get(known) != 0, 1);
	static const int sizes[] = { 512, 512, 512, 2, 2, 300, 300, 512 };
	uint64_t taken, fast0, fast;
	jm__unwind_counts(&taken, &fast0);
	for (unsigned rep = 0; rep < sizeof(sizes) / sizeof(sizes[0]); rep++) {
		memset(bt_ours, 0, sizeof(bt_ours));
		vla_fill(sizes[rep], known);
		assert_int_equal(bt_nours, bt_nlibgcc);
		assert_memory_equal(bt_ours + 1, bt_libgcc + 1, (size_t)(bt_nours - 1) * sizeof(void *));
	}
	/* Once 512 words were read there, the frame pointer's frame is walked
	 * from the cache at every size up to that (the first 512 and the
	 * periodic checks take the slow way). */
	jm__unwind_counts(&taken, &fast);
	assert_true(fast - fast0 >= 5);
}

/* bad_rbp_call(fn, bp): calls fn with rbp = bp, its saving of the caller's
 * rbp not described by its call frame instructions (hand-written code that
 * uses rbp and says nothing of it: the tables then say that rbp is the
 * caller's all along). */
void bad_rbp_call(void (*fn)(void), uintptr_t bp);
__asm__(".text\n.globl bad_rbp_call\n.type bad_rbp_call,@function\n"
    "bad_rbp_call:\n\t.cfi_startproc\n"
    "\tpush %rbp\n\t.cfi_adjust_cfa_offset 8\n"
    "\tmov %rsi, %rbp\n\tcall *%rdi\n"
    "\tpop %rbp\n\t.cfi_adjust_cfa_offset -8\n\tret\n"
    "\t.cfi_endproc\n.size bad_rbp_call, .-bad_rbp_call\n");

static uintptr_t bad_bp;

__attribute__((noipa)) static void bad_rbp_leaf(void)
{
	bt_nours = take(bt_ours);
	sink++;
}

/* A frame whose CFA is rbp + 16 calls bad_rbp_call. */
__attribute__((noipa)) static void vla_bad_rbp(int n)
{
	volatile char buf[n];
	buf[0] = (char)n;
	bad_rbp_call(bad_rbp_leaf, bad_bp);
	sink += buf[0];
}

#if defined(__SANITIZE_THREAD__)
#define BAD_STACK (1 << 20)    /* ThreadSanitizer wants 900 KiB of a given stack */
#else
#define BAD_STACK (256 << 10)
#endif

static void *bad_rbp_thread(void *arg)
{
	(void)arg;
	vla_bad_rbp(100);
	return NULL;
}

/* The tables can be wrong about rbp (above: the caller's rbp is then the
 * value bad_rbp_call put there, here an address in a page that cannot be
 * read, 4 KiB above the top of the thread's stack, well within the 16 MiB
 * that a frame may be). The walk does not read it: the stack ends at
 * bad_rbp_call (libgcc's backtrace() dies here). */
static void test_bad_rbp_not_read(void **state)
{
	(void)state;
	uint8_t *m = mmap(NULL, BAD_STACK + 65536, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(mprotect(m + BAD_STACK, 65536, PROT_NONE), 0);
	bad_bp = (uintptr_t)m + BAD_STACK + 4096;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, m, BAD_STACK);
	pthread_t t;
	bt_nours = -1;
	assert_int_equal(pthread_create(&t, &attr, bad_rbp_thread, NULL), 0);
	pthread_join(t, NULL);
	/* take, bad_rbp_leaf, bad_rbp_call, vla_bad_rbp (whose caller
	 * cannot be found). */
	assert_int_equal(bt_nours, 4);
	munmap(m, BAD_STACK + 65536);
}

/* A signal handler's stack goes on through the signal frame into the
 * interrupted code, as libgcc's does (it ended at the signal frame), also
 * from a sigaltstack (the interrupted stack is below it or anywhere). */
static void on_usr1(int sig)
{
	(void)sig;
	both_stacks();
}

__attribute__((noipa)) static void raise_usr1(void)
{
	raise(SIGUSR1);
	sink++;
}

static void test_signal_frame(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	skip();   /* ASan intercepts backtrace(), the reference: a frame more */
#endif
	static char alt[65536] __attribute__((aligned(16)));
	for (int on_alt = 0; on_alt < 2; on_alt++) {
		stack_t ss = { .ss_sp = alt, .ss_size = sizeof(alt) }, old;
		assert_int_equal(sigaltstack(&ss, &old), 0);
		struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = on_alt ? SA_ONSTACK : 0 }, prev;
		sigemptyset(&sa.sa_mask);
		assert_int_equal(sigaction(SIGUSR1, &sa, &prev), 0);
		for (int rep = 0; rep < 3; rep++) {
			memset(bt_ours, 0, sizeof(bt_ours));
			raise_usr1();
			/* both_stacks, on_usr1, __restore_rt, raise's, ..., this test,
			 * cmocka, main, libc, _start. */
			assert_true(bt_nours >= 8);
			assert_int_equal(bt_nours, bt_nlibgcc);
			assert_memory_equal(bt_ours + 1, bt_libgcc + 1, (size_t)(bt_nours - 1) * sizeof(void *));
		}
		sigaction(SIGUSR1, &prev, NULL);
		sigaltstack(&old, NULL);
	}
}

/* Generated code (no unwind tables, as a JIT's): the stack ends with its
 * frame, and the cache knows that too: these stacks are taken from it,
 * not each the slow way. */
static void *jit_frames[JM_UNWIND_MAX];
static int jit_n;

__attribute__((noipa)) static void jit_callback(void)
{
	jit_n = take(jit_frames);
}

static void test_generated_code(void **state)
{
	(void)state;
	/* sub $8,%rsp; call *%rdi; add $8,%rsp; ret */
	static const uint8_t code[] = { 0x48, 0x83, 0xec, 0x08, 0xff, 0xd7,
	    0x48, 0x83, 0xc4, 0x08, 0xc3 };
	uint8_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	memcpy(m, code, sizeof(code));
	assert_int_equal(mprotect(m, 4096, PROT_READ | PROT_EXEC), 0);
	void (*jit)(void (*)(void)) = (void (*)(void (*)(void)))(uintptr_t)m;
	void *first[JM_UNWIND_MAX];
	jit(jit_callback);
	int n = jit_n;
	memcpy(first, jit_frames, sizeof(first));
	/* take, jit_callback, the generated code's return address. */
	assert_int_equal(n, 3);
	assert_ptr_equal(jit_frames[2], m + 6);
	uint64_t taken, fast0, fast;
	jm__unwind_counts(&taken, &fast0);
	for (int rep = 0; rep < 20; rep++) {
		jit(jit_callback);
		assert_int_equal(jit_n, n);
		assert_memory_equal(jit_frames, first, (size_t)n * sizeof(void *));
	}
	jm__unwind_counts(&taken, &fast);
	assert_true(fast - fast0 >= 18);  /* all but the periodic checks */
	munmap(m, 4096);
}

/* A frame with 20 KiB on the stack (an I/O buffer, a working set): too
 * big for a cache entry's size field, so its size is in the big table;
 * every walk through it went the slow way before (glibc-thread's worker,
 * 16 KiB of arrays: the profile took 40% of its time). */
__attribute__((noipa)) static int big_frame(void **frames)
{
	volatile char buf[20 << 10];
	buf[0] = 1;
	buf[sizeof(buf) - 1] = 2;
	int n = take(frames);
	sink += buf[0] + buf[sizeof(buf) - 1];
	return n;
}

static void *big_frames[21][JM_UNWIND_MAX];
static int big_n[21];

static void test_big_frame_cached(void **state)
{
	(void)state;
	uint64_t taken, fast0, fast;
	jm__unwind_counts(&taken, &fast0);
	/* One call instruction: the first walk the slow way, the others from
	 * the cache. */
#pragma GCC unroll 1
	for (int rep = 0; rep <= 20; rep++)
		big_n[rep] = big_frame(big_frames[rep]);
	jm__unwind_counts(&taken, &fast);
	assert_true(big_n[0] >= 3);   /* take, big_frame, this test, ... */
	for (int rep = 1; rep <= 20; rep++) {
		assert_int_equal(big_n[rep], big_n[0]);
		assert_memory_equal(big_frames[rep], big_frames[0], (size_t)big_n[0] * sizeof(void *));
	}
	assert_true(fast - fast0 >= 18);  /* all but the first and the periodic checks */
}

/* 40 call sites of take() within a few hundred bytes of code: 40 new
 * return addresses for the cache. */
#define TAKE4(f) take(f); take(f); take(f); take(f)
__attribute__((noipa)) static void forty_sites(void **frames)
{
	TAKE4(frames); TAKE4(frames); TAKE4(frames); TAKE4(frames); TAKE4(frames);
	TAKE4(frames); TAKE4(frames); TAKE4(frames); TAKE4(frames); TAKE4(frames);
}

/* Slots follow addresses: the 40 entries take at most 2 pages of the table
 * more than it had (a hash of the address spread them over every page
 * still free, a page fault each in a short program); the pages resident
 * are those. */
static void test_cache_pages_local(void **state)
{
	(void)state;
	void *frames[JM_UNWIND_MAX];
	unsigned before, after, resident;
	take(frames);           /* the outer frames' entries first */
	jm__unwind_cache_pages(&before, &resident);
	forty_sites(frames);
	jm__unwind_cache_pages(&after, &resident);
	assert_true(after > 0);
	assert_true(after <= before + 2);
	/* And no page of it is resident but those written to: a lookup does
	 * not read a page no entry was written to (each such read is a page
	 * fault, and another at its first entry): here a lookup in each page
	 * (addresses where no code is). */
	for (uintptr_t page = 0; page < 16; page++)
		assert_int_equal(jm__unwind_cache_get(0x100000 + (page << 11)), 0);
	jm__unwind_cache_pages(&after, &resident);
	assert_int_equal(resident, after);
}

/* A process's first stacks, from code far apart (the test, libc, the
 * allocator), are cached in one page: the first table is one page (in the
 * full 16 pages from the start, a short program's first stack took 4, a
 * page fault each). First in this process. */
static void test_cache_first_page(void **state)
{
	(void)state;
	void *frames[JM_UNWIND_MAX];
	unsigned with, resident;
	assert_int_equal(jm__unwind_cache_slots(), 0);
	take(frames);
	forty_sites(frames);
	assert_int_equal(jm__unwind_cache_slots(), 512);
	jm__unwind_cache_pages(&with, &resident);
	assert_int_equal(with, 1);
	assert_int_equal(resident, 1);
}

/* 320 call sites: more than the first table holds (256, half its slots).
 * The cache grows to 16 pages, keeps what it held (the forty sites are
 * walked from the cache again, but for the periodic checks), and the
 * pages resident are still only those written to. */
#define TAKE16(f) TAKE4(f); TAKE4(f); TAKE4(f); TAKE4(f)
__attribute__((noipa)) static void many_sites(void **frames)
{
	TAKE16(frames); TAKE16(frames); TAKE16(frames); TAKE16(frames); TAKE16(frames);
	TAKE16(frames); TAKE16(frames); TAKE16(frames); TAKE16(frames); TAKE16(frames);
	TAKE16(frames); TAKE16(frames); TAKE16(frames); TAKE16(frames); TAKE16(frames);
	TAKE16(frames); TAKE16(frames); TAKE16(frames); TAKE16(frames); TAKE16(frames);
}

static void test_cache_grows(void **state)
{
	(void)state;
	void *frames[JM_UNWIND_MAX];
	forty_sites(frames);
	assert_int_equal(jm__unwind_cache_slots(), 512);
	many_sites(frames);
	assert_int_equal(jm__unwind_cache_slots(), 8192);
	uint64_t taken0, fast0, taken, fast;
	jm__unwind_counts(&taken0, &fast0);
	forty_sites(frames);
	jm__unwind_counts(&taken, &fast);
	assert_int_equal(taken - taken0, 40);
	assert_true(fast - fast0 >= 38);
	unsigned with, resident;
	jm__unwind_cache_pages(&with, &resident);
	assert_true(with >= 1);
	assert_int_equal(resident, with);
}

/* The module table is checked against the loader (dl_iterate_phdr: the
 * loader's lock and ours, 260 instructions) after a stack walked the slow
 * way, not after every sampled stack: a return address new to the cache
 * (the first through a library just loaded) is walked the slow way, and
 * so is every 64th stack. 128 stacks of one site, each followed by the
 * check prof.c makes: 1 to 4 checks, not 128; one more after the table is
 * said to be stale (dlclose does), and then none again. */
unsigned long jm__test_modules_checks(void);
static void test_modules_checked_after_slow_walks(void **state)
{
	(void)state;
	jm_free(jm_malloc(1)); /* the segment, with its module table */
	assert_non_null(jm__seg);
	assert_true(jm__seg->nmodules_max > 0);
	void *frames[JM_UNWIND_MAX];
	unsigned long c0 = jm__test_modules_checks();
	for (int i = 0; i < 128; i++) {
		take(frames);
		jm__modules_refresh();
	}
	unsigned long c = jm__test_modules_checks() - c0;
	assert_true(c >= 1 && c <= 4);
	assert_true(jm__seg->nmodules > 0);
	take(frames);
	jm__modules_changed();
	c0 = jm__test_modules_checks();
	jm__modules_refresh();
	assert_int_equal(jm__test_modules_checks() - c0, 1);
	jm__modules_refresh();
	assert_int_equal(jm__test_modules_checks() - c0, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_first_page),   /* first: a fresh cache */
		cmocka_unit_test(test_slow_equals_libgcc),
		cmocka_unit_test(test_vla_sizes),
		cmocka_unit_test(test_bad_rbp_not_read),
		cmocka_unit_test(test_signal_frame),
		cmocka_unit_test(test_generated_code),
		cmocka_unit_test(test_big_frame_cached),
		cmocka_unit_test(test_cache_pages_local),
		cmocka_unit_test(test_fast_equals_slow),
		cmocka_unit_test(test_depth_limit_cached),
		cmocka_unit_test(test_counts_per_thread),
		cmocka_unit_test(test_cache_grows),       /* last: 320 slow stacks */
		cmocka_unit_test(test_modules_checked_after_slow_walks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
