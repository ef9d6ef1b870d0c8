/*
 * unwind.c: the call stacks of sampled allocations, cheaply.
 *
 * Programs are built without frame pointers, so a stack is only known
 * through the unwind tables. libgcc's unwinder reads them for every frame
 * of every stack (about 2,000 instructions a frame); at one sample every
 * 512 KiB that costs a program a few percent. Most of that work gives the
 * same answer every time: on x86-64, at a given return address, the
 * caller's CFA is the callee's CFA plus a constant (the caller's frame
 * size at that call). So the slow unwinder (libgcc's, through
 * _Unwind_Backtrace) teaches a cache, return address -> that constant, and
 * the fast unwinder walks with one cache lookup and one load per frame:
 *     cfa(caller) = cfa(callee) + k[return address]
 *     return address of the caller = *(cfa(caller) - 8)
 * The return address into the outermost frame of a complete slow trace is
 * marked as the last, so that the fast walk never reads past the top of a
 * stack. A return address
 * seen with two different constants (a frame with alloca or a variable
 * length array) is marked never to be cached. A missing entry means the
 * slow unwinder, which also runs every VERIFY_EVERY samples to check the
 * cache. Where libgcc cannot be found, glibc's backtrace() does it all.
 *
 * libgcc_s is not a dependency of the allocator: it is loaded with
 * dlopen and its functions looked up with dlsym, without running them
 * (until the first sample, its code and the unwind tables it reads stay
 * out of the process's RSS; glibc's backtrace() and its own unwinding then
 * find it loaded). That load happens in the allocator's constructor, never on the sampling
 * path: a sample can be taken inside the loader (dlopen's own malloc calls,
 * _dl_find_object_update's among them), and a library loaded from there
 * was lost from glibc's _dl_find_object table when the outer dlopen
 * published its own, so that libgcc's next _Unwind_Backtrace found no
 * unwind table for itself and aborted the program (tests/sites/dlopen, a
 * run in 40). A sample taken before the constructor ran has no stack. The
 * rest runs on the sampling path only, with no allocator lock held;
 * allocations made while the constructor loads the library are not
 * sampled (they come before it is known).
 */
#include "internal.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <unwind.h>

#define CACHE_SIZE   8192          /* entries, a power of two: 64 KiB */
#define CACHE_PROBES 8
#define K_NOCACHE    0xffffu       /* never the same constant twice */
#define K_END        0x8000u       /* flag: the caller is the outermost frame */
#define K_MAX        0x7fffu       /* larger frames are not cached */
#define VERIFY_EVERY 64

typedef _Unwind_Reason_Code (*backtrace_fn)(_Unwind_Trace_Fn, void *);
typedef _Unwind_Word (*get_fn)(struct _Unwind_Context *);

static backtrace_fn uw_backtrace;
static get_fn uw_get_ip, uw_get_cfa;
static _Atomic int uw_state;               /* 0 unknown, 1 libgcc, -1 none */
static _Atomic uint64_t cache[CACHE_SIZE] /* pc << 16 | k; 0 empty */
    JM_LARGE_BSS __attribute__((aligned(4096)));
static _Atomic uint64_t nsamples;
static _Atomic uint64_t nfast;             /* stacks served by the cache */

/* A return address's first slot is its address in 4-byte steps, not a
 * hash of it: the return addresses a program's stacks go through cluster
 * in a few places of its code, and their slots then cluster in a few
 * pages of the table. (A hash spread a short program's first dozen
 * addresses over a dozen of its 16 pages, each a page fault for the read
 * that found it empty and another for the write, and 4 KiB of RSS.) */
static size_t slot(uintptr_t pc)
{
	return (size_t)(pc >> 2) & (CACHE_SIZE - 1);
}

static unsigned cache_get(uintptr_t pc)
{
	size_t i = slot(pc);
	for (int p = 0; p < CACHE_PROBES; p++, i = (i + 1) & (CACHE_SIZE - 1)) {
		uint64_t e = atomic_load_explicit(&cache[i], memory_order_relaxed);
		if (e == 0)
			return 0;
		if ((e >> 16) == pc)
			return (unsigned)(e & 0xffff);
	}
	return 0;
}

/* Records k for pc; a different k seen before makes pc uncacheable. */
static void cache_put(uintptr_t pc, unsigned k)
{
	if (pc >> 48)
		return;
	size_t i = slot(pc);
	for (int p = 0; p < CACHE_PROBES; p++, i = (i + 1) & (CACHE_SIZE - 1)) {
		uint64_t e = atomic_load_explicit(&cache[i], memory_order_relaxed);
		if (e == 0) {
			uint64_t want = (uint64_t)pc << 16 | k;
			if (atomic_compare_exchange_strong(&cache[i], &e, want))
				return;
		}
		if ((e >> 16) == pc) {
			if ((e & 0xffff) != k)
				atomic_store_explicit(&cache[i], (uint64_t)pc << 16 | K_NOCACHE,
				    memory_order_relaxed);
			return;
		}
	}
	/* Full around here: the slow unwinder keeps serving this pc. */
}

struct trace {
	uintptr_t ip[JM_UNWIND_MAX + 1];
	uintptr_t cfa[JM_UNWIND_MAX + 1];
	int n;
};

static _Unwind_Reason_Code collect(struct _Unwind_Context *ctx, void *arg)
{
	struct trace *t = arg;
	if (t->n > JM_UNWIND_MAX)
		return _URC_END_OF_STACK;
	t->ip[t->n] = (uintptr_t)uw_get_ip(ctx);
	t->cfa[t->n] = (uintptr_t)uw_get_cfa(ctx);
	t->n++;
	return _URC_NO_REASON;
}

static bool find_libgcc(void)
{
	int state = atomic_load(&uw_state);
	if (state)
		return state > 0;
	/* Loaded, not run: a backtrace() here (glibc's way to load it)
	 * ran the unwinder through two frames, which read the unwind tables
	 * of libc and of this library and made libgcc's code resident,
	 * about 200 KiB of every process's RSS before its first sample. */
	void *h = dlopen("libgcc_s.so.1", RTLD_NOW);
	if (h) {
		uw_backtrace = (backtrace_fn)dlsym(h, "_Unwind_Backtrace");
		uw_get_ip = (get_fn)dlsym(h, "_Unwind_GetIP");
		uw_get_cfa = (get_fn)dlsym(h, "_Unwind_GetCFA");
	}
	state = uw_backtrace && uw_get_ip && uw_get_cfa ? 1 : -1;
	atomic_store(&uw_state, state);
	return state > 0;
}

/* Loads libgcc_s (see the top of the file); not for a process whose
 * sampling is off, if its options are known by now. */
__attribute__((constructor)) static void unwind_boot(void)
{
	if (atomic_load(&jm__initialized) && jm__opt.prof_sample == 0)
		return;
	find_libgcc();
}

/* Fills frames with up to max return addresses, innermost first, starting
 * with the one into this function's caller; returns how many. */
JM_NOINLINE int jm__unwind(void **frames, int max)
{
	if (max > JM_UNWIND_MAX)
		max = JM_UNWIND_MAX;
	int state = atomic_load(&uw_state);
	if (state == 0)
		return 0;   /* before the constructor: never load from here */
	if (state < 0) {
		void *tmp[JM_UNWIND_MAX + 1];
		int n = backtrace(tmp, max + 1);
		for (int i = 1; i < n; i++)
			frames[i - 1] = tmp[i];
		return n > 0 ? n - 1 : 0;
	}
	bool verify = atomic_fetch_add_explicit(&nsamples, 1, memory_order_relaxed) % VERIFY_EVERY == 0;
	if (!verify) {
		uintptr_t cfa = (uintptr_t)__builtin_dwarf_cfa();
		uintptr_t pc = *(uintptr_t *)(cfa - 8);
		int n = 0;
		for (;;) {
			unsigned e = cache_get(pc);
			if (e == 0 || e == K_NOCACHE)
				break; /* unknown here: the slow way */
			frames[n++] = (void *)pc;
			if ((e & K_END) || n == max) {
				atomic_fetch_add_explicit(&nfast, 1, memory_order_relaxed);
				return n;
			}
			cfa += e & K_MAX;
			pc = *(uintptr_t *)(cfa - 8);
		}
	}
	/* The slow way, which also teaches the cache. libgcc's frame i gives
	 * the return address into frame i+1 and the CFA of frame i: the
	 * constant of ip[i] is cfa[i+1] - cfa[i]. Frame 0 is this function;
	 * the trace ends with a frame whose return address is 0. */
	struct trace t;
	t.n = 0;
	uw_backtrace(collect, &t);
	bool complete = t.n > 1 && t.n <= JM_UNWIND_MAX && t.ip[t.n - 1] == 0;
	for (int i = 1; i + 1 < t.n && t.ip[i] != 0; i++) {
		uintptr_t k = t.cfa[i + 1] - t.cfa[i];
		if (t.cfa[i + 1] <= t.cfa[i] || k > K_MAX)
			continue;
		bool last = complete && i + 2 == t.n;
		cache_put(t.ip[i], (unsigned)k | (last ? K_END : 0));
	}
	int n = 0;
	for (int i = 1; i < t.n && t.ip[i] != 0 && n < max; i++)
		frames[n++] = (void *)t.ip[i];
	return n;
}

/* For tests: stacks taken, and how many of them the cache served. */
void jm__unwind_counts(uint64_t *taken, uint64_t *fast)
{
	*taken = atomic_load(&nsamples);
	*fast = atomic_load(&nfast);
}

/* For tests: the pages of the cache that hold an entry. */
unsigned jm__unwind_cache_pages(void)
{
	unsigned pages = 0;
	size_t per_page = JM_PAGE / sizeof(cache[0]);
	for (size_t p = 0; p < CACHE_SIZE; p += per_page) {
		for (size_t i = p; i < p + per_page; i++) {
			if (atomic_load_explicit(&cache[i], memory_order_relaxed) != 0) {
				pages++;
				break;
			}
		}
	}
	return pages;
}
