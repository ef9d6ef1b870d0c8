/*
 * unwind.c: the call stacks of sampled allocations, cheaply, and without
 * libgcc.
 *
 * Programs are built without frame pointers, so a stack is only known
 * through the unwind tables. The slow unwinder here reads them itself: for
 * a return address it finds the object's .eh_frame_hdr (glibc's
 * _dl_find_object, which neither locks nor allocates; dl_iterate_phdr on a
 * glibc older than 2.35), looks the address up in its sorted table, runs
 * the FDE's call frame instructions up to it, and so learns where the
 * caller's frame is: its CFA (rsp or rbp plus a constant), the return
 * address (at CFA - 8), and where rbp was saved, the one other register a
 * CFA is computed from on x86-64. A signal frame (glibc's __restore_rt,
 * its CIE says 'S') is followed through the ucontext_t the kernel saved
 * the interrupted registers in. What it does not follow (a CFA given by
 * an expression, an instruction it does not know, an address without
 * unwind tables) ends the stack there; a CFA that does not lie above the frame's stack pointer, within 16 MiB, ends it too, so that
 * a bad table never makes it read far. Elsewhere than on x86-64 there are
 * no stacks.
 *
 * libgcc's unwinder did this before, loaded with dlopen: that could not
 * happen from a sample (a sample may be taken inside the loader, where a
 * library loaded from there was lost from glibc's _dl_find_object table,
 * and libgcc's next _Unwind_Backtrace aborted the program), so it happened
 * at start, in every process: 21 page faults and about 100 KiB of RSS (its
 * pages, the loader's work, dlopen's allocations), sampled or not.
 *
 * Most of the slow walk's work gives the same answer every time: on
 * x86-64, at a given return address, the caller's CFA is the callee's CFA
 * plus a constant (the caller's frame size at that call). So the slow
 * unwinder teaches a cache, return address -> that constant, and the fast
 * unwinder walks with one cache lookup and one load per frame:
 *     cfa(caller) = cfa(callee) + k[return address]
 *     return address of the caller = *(cfa(caller) - 8)
 * The return address into the outermost frame of a complete slow trace is
 * marked as the last, so that the fast walk never reads past the top of a
 * stack. A frame whose CFA is rbp-based (a frame pointer: alloca, a
 * variable length array, a realigned stack, a program built with frame
 * pointers) has a size of its own at each call, so the fast walk follows
 * rbp as the slow one does (each entry says where the frame saved its
 * caller's rbp) and takes such a frame from the cache only up to the
 * largest size the slow walk read there: a constant learnt from one call
 * read the next one's return address from inside its array (stale stack
 * there, often an old return address: a wrong stack) or past the top of a
 * small stack. A return address seen with two different entries otherwise
 * is marked never to be cached. A dlclose empties the cache (the allocator's dlclose comes
 * before glibc's) and has the module table checked at the next sample. A
 * missing entry means the slow unwinder, which also runs every
 * VERIFY_EVERY samples of a thread to check the cache. It runs on the sampling path
 * only, with no allocator lock held, and allocates nothing.
 */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define CACHE_SIZE   8192          /* entries, a power of two: 64 KiB */
#define CACHE_SMALL  512           /* the first table's entries: one page */
#define CACHE_PROBES 8
/* An entry's 16 bits: how to go from a frame (at that return address) to
 * its caller's. K_RBP clear: the caller's CFA is this frame's CFA + K_SIZE
 * (a CFA from rsp: one size at every call). K_RBP set: it is rbp + 16 (a
 * frame pointer: alloca, a variable length array, a realigned stack make
 * it a different size at each call), and no farther than K_SIZE, the
 * largest the slow walk has read there (farther: the slow way, which
 * reads its pages with care). K_BP: where the caller's rbp is saved, at
 * CFA - 8 * (K_BP + 1) (0: not saved, rbp is unchanged; K_BP_LOST: not
 * followed, so no rbp-based frame above it is walked from the cache). */
#define K_NOCACHE    0xffffu       /* never the same twice (bit 13 is 0 otherwise) */
#define K_END        0x8000u       /* flag: the caller is the outermost frame */
#define K_RBP        0x4000u
#define K_STOP       0x2000u       /* alone: this frame has no unwind tables (JIT
                                    * code): the stack ends with it */
#define K_BP_SHIFT   10
#define K_BP_MASK    7u
#define K_BP_LOST    7u
#define K_SIZE       0x3ffu        /* in 8 bytes */
/* K_BIG with K_SIZE 1: a frame larger than K_SIZE * 8 bytes (a buffer on
 * the stack: 16 KiB is common), whose size (from rsp) or largest size
 * read (with K_RBP) is in the big table; it was walked the slow way at
 * every sample before. */
#define K_BIG        0x2000u
#define BIG_SIZE     512           /* entries: 4 KiB, mapped at the first */
#define BIG_MAX      ((1u << 17) - 1) /* in 8 bytes: a pc takes the other 47 bits */
/* The slow walk that checks the cache: one stack in 256. At every 64th
 * it was 9,300 instructions each, 150 a sample on average (glibc-thread),
 * a tenth of a sample's cost. It only finds an entry that no longer holds
 * at its return address; a new return address, a dlclose (the cache
 * emptied) and a frame pointer's frame larger than read before go the
 * slow way at once, whatever the count. */
#define VERIFY_EVERY 256

#define MAX_FRAME    ((uintptr_t)16 << 20) /* a CFA this far above rsp is wrong */

/* The cache: entries pc << 16 | k (0: empty), in a table mapped at the
 * first entry (a process that takes no stack has none): CACHE_SMALL
 * entries, one page, until it holds CACHE_SMALL / 2 or a return address
 * finds no free slot among its probes, then CACHE_SIZE, the entries
 * copied over (cache_grow). A short program's stacks go through a few
 * dozen return addresses, in code far apart (the program, libc, the
 * allocator): in the large table from the start they took a page each,
 * cfrac's first stack 4 pages and 4 page faults. cache_table holds the
 * table's address, page aligned, with bit 0 set for the large one, so
 * that a reader never pairs one table with the other's size. The small
 * table stays mapped once replaced: a reader may still be in it. */
static _Atomic uintptr_t cache_table;
static _Atomic uint32_t small_entries;     /* entries put in the small one */
static _Atomic(_Atomic uint64_t *) big_table;   /* pc << 17 | size / 8 */
/* The count towards the next check, the thread's own (it wraps at
 * VERIFY_EVERY: a check at each wrap; jm__unwind_thread_start draws where
 * it starts), and the counts of stacks taken and served by the cache, the
 * thread's own and in the tests' build only (jm__unwind_counts). They
 * were process-wide counters, a lock xadd on each of two shared lines at
 * every stack: two threads sampling at once bounced them between their
 * cores. */
static __thread uint8_t tls_verify_count;
_Static_assert(VERIFY_EVERY == 256, "tls_verify_count wraps at VERIFY_EVERY");
#ifdef JM_TEST
static __thread uint64_t tls_nsamples;
static __thread uint64_t tls_nfast;
#define COUNT(c) ((c)++)
#else
#define COUNT(c) ((void)0)
#endif

/* A return address's first slot is its address in 4-byte steps, not a
 * hash of it: the return addresses a program's stacks go through cluster
 * in a few places of its code, and their slots then cluster in a few
 * pages of the table. (A hash spread a short program's first dozen
 * addresses over a dozen of its 16 pages, each a page fault for the read
 * that found it empty and another for the write, and 4 KiB of RSS.) */
static size_t slot(uintptr_t pc, size_t mask)
{
	return (size_t)(pc >> 2) & mask;
}

struct table {
	_Atomic uint64_t *e;      /* NULL: none yet */
	size_t mask;              /* entries - 1 */
};

static struct table table_load(void)
{
	uintptr_t v = atomic_load_explicit(&cache_table, memory_order_acquire);
	return (struct table){ (_Atomic uint64_t *)(v & ~(uintptr_t)1),
	                       v & 1 ? CACHE_SIZE - 1 : CACHE_SMALL - 1 };
}

/* Bit p: page p of the table has had an entry written. A page without
 * is not read (its slots are all empty): reading it would map the zero
 * page, a page fault, and the first entry written there another one. */
#define SLOTS_PER_PAGE (JM_PAGE / sizeof(uint64_t))
static _Atomic uint32_t pages_written;
_Static_assert(CACHE_SIZE / SLOTS_PER_PAGE <= 32, "a bit per page of the cache");

static bool page_written(size_t i)
{
	return atomic_load_explicit(&pages_written, memory_order_acquire) >> (i / SLOTS_PER_PAGE) & 1;
}

/* pc's entry in table t (0: none), `written` a value of pages_written
 * read after the table: a page written since looks unwritten, and its
 * entry missing (the slow way), never the other way round. */
static inline unsigned table_get(struct table t, uint32_t written, uintptr_t pc)
{
	size_t i = slot(pc, t.mask);
	for (int p = 0; p < CACHE_PROBES; p++, i = (i + 1) & t.mask) {
		if (!(written >> (i / SLOTS_PER_PAGE) & 1))
			return 0;
		uint64_t e = atomic_load_explicit(&t.e[i], memory_order_relaxed);
		if (e == 0)
			return 0;
		if ((e >> 16) == pc)
			return (unsigned)(e & 0xffff);
	}
	return 0;
}

static unsigned cache_get(uintptr_t pc)
{
	struct table t = table_load();
	if (t.e == NULL)
		return 0;
	return table_get(t, atomic_load_explicit(&pages_written, memory_order_acquire), pc);
}

/* Replaces the small table t by a large one holding its entries (unless
 * another thread did first). An entry put in the small one meanwhile may
 * be lost: the slow unwinder teaches it again. Slots of the large table
 * are read only on pages already written here (a fresh page read is a
 * page fault, and its first write another). */
static void cache_grow(struct table t)
{
	_Atomic uint64_t *big = jm__os_map(CACHE_SIZE * sizeof(uint64_t));
	if (big == NULL)
		return;
	uint32_t written = 0;
	for (size_t i = 0; i <= t.mask; i++) {
		uint64_t e = atomic_load_explicit(&t.e[i], memory_order_relaxed);
		if (e == 0)
			continue;
		size_t j = slot(e >> 16, CACHE_SIZE - 1);
		for (int p = 0; p < CACHE_PROBES; p++, j = (j + 1) & (CACHE_SIZE - 1)) {
			uint32_t bit = 1u << (j / SLOTS_PER_PAGE);
			if ((written & bit) && atomic_load_explicit(&big[j], memory_order_relaxed) != 0)
				continue;
			atomic_store_explicit(&big[j], e, memory_order_relaxed);
			written |= bit;
			break;
		}
	}
	atomic_store_explicit(&pages_written, written, memory_order_release);
	uintptr_t expect = (uintptr_t)t.e;
	if (!atomic_compare_exchange_strong(&cache_table, &expect, (uintptr_t)big | 1))
		jm__os_unmap((void *)big, CACHE_SIZE * sizeof(uint64_t));
}

enum put_result { PUT_NEW, PUT_KNOWN, PUT_FULL };

/* Records k for pc in table t; a different k seen before makes pc
 * uncacheable. */
static enum put_result table_put(struct table t, uintptr_t pc, unsigned k)
{
	size_t i = slot(pc, t.mask);
	for (int p = 0; p < CACHE_PROBES; p++, i = (i + 1) & t.mask) {
		uint64_t e = 0;
		if (page_written(i))
			e = atomic_load_explicit(&t.e[i], memory_order_relaxed);
		else
			atomic_fetch_or_explicit(&pages_written, 1u << (i / SLOTS_PER_PAGE),
			    memory_order_release);
		if (e == 0) {
			uint64_t want = (uint64_t)pc << 16 | k;
			if (atomic_compare_exchange_strong(&t.e[i], &e, want))
				return PUT_NEW;
		}
		if ((e >> 16) == pc) {
			unsigned old = (unsigned)(e & 0xffff);
			if (old == k)
				return PUT_KNOWN;
			/* A frame-pointer frame: keep the largest size read. */
			if (old != K_NOCACHE && (old & K_RBP) && (old & ~K_SIZE) == (k & ~K_SIZE)) {
				if ((k & K_SIZE) > (old & K_SIZE))
					atomic_compare_exchange_strong(&t.e[i], &e, (uint64_t)pc << 16 | k);
				return PUT_KNOWN;
			}
			atomic_store_explicit(&t.e[i], (uint64_t)pc << 16 | K_NOCACHE,
			    memory_order_relaxed);
			return PUT_KNOWN;
		}
	}
	return PUT_FULL;
}

static void cache_put(uintptr_t pc, unsigned k)
{
	if (pc >> 48)
		return;
	struct table t = table_load();
	if (t.e == NULL) {
		_Atomic uint64_t *mine = jm__os_map(CACHE_SMALL * sizeof(uint64_t));
		if (mine == NULL)
			return;
		uintptr_t expect = 0;
		if (!atomic_compare_exchange_strong(&cache_table, &expect, (uintptr_t)mine))
			jm__os_unmap((void *)mine, CACHE_SMALL * sizeof(uint64_t));
		t = table_load();
	}
	enum put_result r = table_put(t, pc, k);
	if (t.mask == CACHE_SIZE - 1)
		return;   /* PUT_FULL: the slow unwinder keeps serving this pc */
	if (r == PUT_FULL ||
	    (r == PUT_NEW && atomic_fetch_add(&small_entries, 1) + 1 >= CACHE_SMALL / 2)) {
		cache_grow(t);
		if (r == PUT_FULL && (t = table_load()).mask == CACHE_SIZE - 1)
			table_put(t, pc, k);
	}
}

/* A big frame's size in 8 bytes at pc, 0 if unknown. */
static uintptr_t big_get(uintptr_t pc)
{
	_Atomic uint64_t *big = atomic_load_explicit(&big_table, memory_order_acquire);
	if (big == NULL)
		return 0;
	size_t i = slot(pc, BIG_SIZE - 1);
	for (int p = 0; p < CACHE_PROBES; p++, i = (i + 1) & (BIG_SIZE - 1)) {
		uint64_t e = atomic_load_explicit(&big[i], memory_order_relaxed);
		if (e == 0)
			return 0;
		if ((e >> 17) == pc)
			return (uintptr_t)(e & BIG_MAX);
	}
	return 0;
}

/* Records a big frame's size at pc (`grow`, a frame-pointer frame's: the
 * largest one seen); false if another size was recorded there (the caller
 * makes pc uncacheable) or there is no room. */
static bool big_put(uintptr_t pc, uintptr_t size8, bool grow)
{
	if (pc >> 47 || size8 == 0 || size8 > BIG_MAX)
		return false;
	_Atomic uint64_t *big = atomic_load_explicit(&big_table, memory_order_acquire);
	if (big == NULL) {
		_Atomic uint64_t *mine = jm__os_map(BIG_SIZE * sizeof(uint64_t));
		if (mine == NULL)
			return false;
		if (atomic_compare_exchange_strong(&big_table, &big, mine))
			big = mine;
		else
			jm__os_unmap((void *)mine, BIG_SIZE * sizeof(uint64_t));
	}
	uint64_t want = (uint64_t)pc << 17 | size8;
	size_t i = slot(pc, BIG_SIZE - 1);
	for (int p = 0; p < CACHE_PROBES; p++, i = (i + 1) & (BIG_SIZE - 1)) {
		uint64_t e = 0;
		if (atomic_compare_exchange_strong(&big[i], &e, want))
			return true;
		if ((e >> 17) == pc) {
			if (e == want)
				return true;
			if (!grow)
				return false;
			while ((e >> 17) == pc && (e & BIG_MAX) < size8 &&
			    !atomic_compare_exchange_strong(&big[i], &e, want))
				;
			return true;
		}
	}
	return false;
}

/* Forgets every entry. An entry holds for the code at its address while
 * that code is loaded: after a dlclose, another library can be loaded
 * there, whose return address at the same place is another frame size (a
 * larger one, kept, read past the top of a small stack: SIGSEGV in
 * malloc). A thread still running the unloaded code could teach it again
 * in between, but no thread runs code being unloaded. */
static __attribute__((unused)) void cache_forget(void)
{
	struct table t = table_load();
	if (t.e == NULL)
		return;
	for (size_t i = 0; i <= t.mask; i++) {
		if (page_written(i) && atomic_load_explicit(&t.e[i], memory_order_relaxed) != 0)
			atomic_store_explicit(&t.e[i], 0, memory_order_relaxed);
	}
	/* After the entries that point to it: a walk finds no size (the slow
	 * way) rather than another code's. */
	_Atomic uint64_t *big = atomic_load_explicit(&big_table, memory_order_acquire);
	if (big != NULL)
		for (size_t i = 0; i < BIG_SIZE; i++)
			atomic_store_explicit(&big[i], 0, memory_order_relaxed);
}

#if !defined(JM_NO_LIBC_NAMES) || !JM_NO_LIBC_NAMES
/* dlclose is the allocator's too (the next one, glibc's, does the work):
 * the cache forgets before (no entry of the library outlives it) and after
 * (none taught while it was closed). */
JM_EXPORT int dlclose(void *handle)
{
	static int (*_Atomic next)(void *);
	int (*f)(void *) = atomic_load_explicit(&next, memory_order_acquire);
	if (f == NULL) {
		f = (int (*)(void *))dlsym(RTLD_NEXT, "dlclose");
		if (f == NULL)
			return -1;
		atomic_store_explicit(&next, f, memory_order_release);
	}
	cache_forget();
	int r = f(handle);
	cache_forget();
	jm__modules_changed();
	return r;
}
#endif

struct trace {
	uintptr_t ip[JM_UNWIND_MAX + 1];
	uintptr_t cfa[JM_UNWIND_MAX + 1];
	uint16_t how[JM_UNWIND_MAX + 1]; /* frame i's entry (K_*) less K_END; 0: none */
	bool stop;                  /* the last frame's return address has no tables */
	int n;
};

#if defined(__x86_64__)

/* ------------------------------------------------- the unwind tables */

#define DW_EH_PE_omit    0xff
#define DW_EH_PE_datarel 0x30
#define DW_EH_PE_sdata4  0x0b
#define DW_RBP 6
#define DW_RSP 7
#define DW_RA  16

struct reader {
	const uint8_t *p, *end;
	bool bad;
};

static inline __attribute__((always_inline)) bool take(struct reader *r, void *out, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return false;
	}
	__builtin_memcpy(out, r->p, n);
	r->p += n;
	return true;
}

static uint8_t byte(struct reader *r)
{
	uint8_t b = 0;
	take(r, &b, 1);
	return b;
}

static uint64_t uleb(struct reader *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; !r->bad; shift += 7) {
		uint8_t b = byte(r);
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	return 0;
}

/* Skips a block: its length (uleb), then that many bytes. (Not
 * `r->p += uleb(r)`: whether r->p is read before or after the call moves
 * it is the compiler's choice.) */
static void skip(struct reader *r)
{
	uint64_t n = uleb(r);
	if (r->bad || n > (size_t)(r->end - r->p)) {
		r->bad = true;
		return;
	}
	r->p += n;
}

static int64_t sleb(struct reader *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b = 0x80;
	while (!r->bad && (b & 0x80)) {
		b = byte(r);
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	}
	if (shift < 64 && (b & 0x40))
		v |= ~(uint64_t)0 << shift;
	return (int64_t)v;
}

/* A pointer in DWARF EH encoding `enc` (an indirect one is not followed:
 * only a personality routine's is, and it is skipped). */
static uintptr_t read_ptr(struct reader *r, uint8_t enc, uintptr_t datarel)
{
	const uint8_t *at = r->p;
	uintptr_t v = 0;
	union { uint16_t u16; uint32_t u32; uint64_t u64; int16_t s16; int32_t s32; } x = { .u64 = 0 };
	switch (enc & 0x0f) {
	case 0x00: case 0x04: take(r, &x.u64, 8); v = (uintptr_t)x.u64; break;
	case 0x01: v = (uintptr_t)uleb(r); break;
	case 0x02: take(r, &x.u16, 2); v = x.u16; break;
	case 0x03: take(r, &x.u32, 4); v = x.u32; break;
	case 0x09: v = (uintptr_t)sleb(r); break;
	case 0x0a: take(r, &x.s16, 2); v = (uintptr_t)(intptr_t)x.s16; break;
	case 0x0b: take(r, &x.s32, 4); v = (uintptr_t)(intptr_t)x.s32; break;
	case 0x0c: take(r, &x.u64, 8); v = (uintptr_t)x.u64; break;
	default: r->bad = true; return 0;
	}
	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: v += (uintptr_t)at; break;
	case DW_EH_PE_datarel: v += datarel; break;
	default: r->bad = true;
	}
	return v;
}

#ifdef DLFO_EH_SEGMENT_TYPE
#pragma weak _dl_find_object
#endif

struct hdr_search {
	uintptr_t pc;
	const uint8_t *hdr;
};

static int find_hdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct hdr_search *s = arg;
	const uint8_t *hdr = NULL;
	bool inside = false;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && s->pc >= start && s->pc - start < ph->p_memsz)
			inside = true;
		else if (ph->p_type == PT_GNU_EH_FRAME)
			hdr = (const uint8_t *)start;
	}
	if (!inside)
		return 0;
	s->hdr = hdr;
	return 1;
}

/* The .eh_frame_hdr of the object that holds pc, or NULL. */
static const uint8_t *eh_frame_hdr(uintptr_t pc)
{
#ifdef DLFO_EH_SEGMENT_TYPE
	if (_dl_find_object) {
		struct dl_find_object r;
		if (_dl_find_object((void *)pc, &r) != 0)
			return NULL;
		return r.dlfo_eh_frame;
	}
#endif
	struct hdr_search s = { pc, NULL };
	dl_iterate_phdr(find_hdr_cb, &s);
	return s.hdr;
}

/* Where a frame's caller is, as the call frame instructions say at one
 * address: the CFA is cfa_reg + cfa_off (cfa_reg 0: not followed), the
 * return address and rbp are saved at CFA + their offset, or are
 * undefined (the return address: the outermost frame), or unchanged
 * (rbp), or not followed. */
enum { R_SAME, R_AT, R_UNDEF, R_UNKNOWN };
struct rules {
	uint8_t cfa_reg;
	uint8_t rbp, ra;          /* R_* */
	int64_t cfa_off, rbp_off, ra_off;
};

struct cie {
	uint64_t code_align;
	int64_t data_align;
	uint64_t ra_reg;
	uint8_t fde_enc;
	bool has_aug;
	bool signal;
	struct reader insns;
};

static void set_rule(struct rules *r, uint64_t reg, uint8_t how, int64_t off, uint64_t ra_reg)
{
	if (reg == DW_RBP) {
		r->rbp = how;
		r->rbp_off = off;
	} else if (reg == ra_reg) {
		r->ra = how;
		r->ra_off = off;
	}
}

static void restore_rule(struct rules *r, uint64_t reg, const struct rules *init, uint64_t ra_reg)
{
	if (reg == DW_RBP) {
		r->rbp = init->rbp;
		r->rbp_off = init->rbp_off;
	} else if (reg == ra_reg) {
		r->ra = init->ra;
		r->ra_off = init->ra_off;
	}
}

/* Runs instructions until the location passes target (with loc, an FDE's)
 * or they end; false on what is not followed. */
static bool run_cfi(struct reader *in, const struct cie *c, struct rules *r, const struct rules *init,
    uintptr_t *loc, uintptr_t target)
{
	struct rules saved[8];
	unsigned nsaved = 0;
	while (in->p < in->end && !in->bad) {
		uint8_t op = byte(in);
		uint64_t reg, delta = 0;
		int64_t off;
		switch (op & 0xc0) {
		case 0x40: delta = op & 0x3f; goto advance;
		case 0x80: off = (int64_t)uleb(in) * c->data_align;
			set_rule(r, op & 0x3f, R_AT, off, c->ra_reg);
			continue;
		case 0xc0: restore_rule(r, op & 0x3f, init, c->ra_reg); continue;
		}
		switch (op) {
		case 0x00: continue;                                   /* nop */
		case 0x01:                                             /* set_loc */
			if (loc == NULL)
				return false;
			*loc = read_ptr(in, c->fde_enc, 0);
			if (*loc > target)
				return true;
			continue;
		case 0x02: delta = byte(in); goto advance;
		case 0x03: { uint16_t d = 0; take(in, &d, 2); delta = d; goto advance; }
		case 0x04: { uint32_t d = 0; take(in, &d, 4); delta = d; goto advance; }
		case 0x05: reg = uleb(in); off = (int64_t)uleb(in) * c->data_align;
			set_rule(r, reg, R_AT, off, c->ra_reg); continue;
		case 0x06: restore_rule(r, uleb(in), init, c->ra_reg); continue;
		case 0x07: set_rule(r, uleb(in), R_UNDEF, 0, c->ra_reg); continue;
		case 0x08: set_rule(r, uleb(in), R_SAME, 0, c->ra_reg); continue;
		case 0x09: reg = uleb(in); uleb(in);
			set_rule(r, reg, R_UNKNOWN, 0, c->ra_reg); continue;
		case 0x0a:                                             /* remember_state */
			if (nsaved == 8)
				return false;
			saved[nsaved++] = *r;
			continue;
		case 0x0b:                                             /* restore_state */
			if (nsaved == 0)
				return false;
			*r = saved[--nsaved];
			continue;
		case 0x0c: r->cfa_reg = (uint8_t)uleb(in); r->cfa_off = (int64_t)uleb(in); continue;
		case 0x0d: r->cfa_reg = (uint8_t)uleb(in); continue;
		case 0x0e: r->cfa_off = (int64_t)uleb(in); continue;
		case 0x0f: r->cfa_reg = 0; skip(in); continue;         /* def_cfa_expression */
		case 0x10: case 0x16:                                  /* (val_)expression */
			reg = uleb(in);
			set_rule(r, reg, R_UNKNOWN, 0, c->ra_reg);
			skip(in);
			continue;
		case 0x11: reg = uleb(in); off = sleb(in) * c->data_align;
			set_rule(r, reg, R_AT, off, c->ra_reg); continue;
		case 0x12: r->cfa_reg = (uint8_t)uleb(in); r->cfa_off = sleb(in) * c->data_align; continue;
		case 0x13: r->cfa_off = sleb(in) * c->data_align; continue;
		case 0x14: case 0x15:                                  /* val_offset(_sf) */
			reg = uleb(in);
			if (op == 0x14)
				uleb(in);
			else
				sleb(in);
			set_rule(r, reg, R_UNKNOWN, 0, c->ra_reg);
			continue;
		case 0x2e: uleb(in); continue;                         /* GNU_args_size */
		case 0x2f: reg = uleb(in); off = -(int64_t)uleb(in) * c->data_align;
			set_rule(r, reg, R_AT, off, c->ra_reg); continue;
		default:
			return false;
		}
advance:
		if (loc == NULL)
			return false;
		*loc += delta * c->code_align;
		if (*loc > target)
			return true;
	}
	return !in->bad;
}

static bool parse_cie(const uint8_t *p, struct cie *c)
{
	uint32_t len;
	__builtin_memcpy(&len, p, 4);
	if (len == 0 || len == 0xffffffffu)
		return false;
	struct reader r = { p + 4, p + 4 + len, false };
	uint32_t id = 0;
	take(&r, &id, 4);
	uint8_t version = byte(&r);
	if (id != 0 || (version != 1 && version != 3))
		return false;
	const char *aug = (const char *)r.p;
	size_t aug_len = strnlen(aug, (size_t)(r.end - r.p));
	r.p += aug_len + 1;
	c->code_align = uleb(&r);
	c->data_align = sleb(&r);
	c->ra_reg = version == 1 ? byte(&r) : uleb(&r);
	c->fde_enc = 0;
	c->has_aug = aug[0] == 'z';
	c->signal = false;
	if (c->has_aug) {
		uint64_t n = uleb(&r);
		const uint8_t *after = r.p + n;
		for (size_t i = 1; i < aug_len && !r.bad; i++) {
			switch (aug[i]) {
			case 'R': c->fde_enc = byte(&r); break;
			case 'L': byte(&r); break;
			case 'P': read_ptr(&r, byte(&r), 0); break;
			case 'S': c->signal = true; break;
			default: return false;
			}
		}
		r.p = after;
	} else if (aug[0] != '\0') {
		return false;
	}
	c->insns = r;
	return !r.bad && r.p <= r.end;
}

/* The rules at pc, from the object's tables; false if not followed.
 * *signal: pc is in a signal frame (its CIE says 'S'), whose rules are
 * not read: the frame is the kernel's ucontext_t. */
static bool rules_at(uintptr_t pc, struct rules *out, bool *signal)
{
	*signal = false;
	const uint8_t *hdr = eh_frame_hdr(pc);
	if (hdr == NULL || hdr[0] != 1 || hdr[3] != (DW_EH_PE_datarel | DW_EH_PE_sdata4))
		return false;
	struct reader r = { hdr + 4, hdr + 4 + 16, false };
	read_ptr(&r, hdr[1], (uintptr_t)hdr);                  /* eh_frame_ptr */
	uint64_t count = hdr[2] == DW_EH_PE_omit ? 0 : read_ptr(&r, hdr[2], (uintptr_t)hdr);
	if (r.bad || count == 0)
		return false;
	const int32_t *table = (const int32_t *)r.p;
	/* The last entry whose start is at or below pc. */
	uint64_t lo = 0, hi = count;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if ((uintptr_t)hdr + (uintptr_t)(intptr_t)table[2 * mid] <= pc)
			lo = mid;
		else
			hi = mid;
	}
	if ((uintptr_t)hdr + (uintptr_t)(intptr_t)table[2 * lo] > pc)
		return false;
	const uint8_t *fde = hdr + table[2 * lo + 1];
	uint32_t len, cie_off;
	__builtin_memcpy(&len, fde, 4);
	__builtin_memcpy(&cie_off, fde + 4, 4);
	if (len == 0 || len == 0xffffffffu || cie_off == 0)
		return false;
	struct cie c;
	if (!parse_cie(fde + 4 - cie_off, &c))
		return false;
	struct reader f = { fde + 8, fde + 4 + len, false };
	uintptr_t start = read_ptr(&f, c.fde_enc, 0);
	uintptr_t range = read_ptr(&f, c.fde_enc & 0x0f, 0);
	if (f.bad || pc < start || pc - start >= range)
		return false;
	if (c.signal) {
		*signal = true;
		return true;
	}
	if (c.has_aug)
		skip(&f);
	struct rules init = { .cfa_reg = 0, .rbp = R_SAME, .ra = R_UNKNOWN };
	if (!run_cfi(&c.insns, &c, &init, &init, NULL, 0))
		return false;
	*out = init;
	uintptr_t loc = start;
	return run_cfi(&f, &c, out, &init, &loc, pc);
}

/* The slow walk's reads of the stack: a frame is only as right as its
 * tables, and rbp as right as every frame's saying where it was saved
 * (code that uses rbp and says nothing of it, hand-written or generated,
 * leaves the caller's rbp anything), so a CFA can be an address above the
 * stack that no page backs, or one that cannot be read (another thread's
 * guard page). Nothing cheap says where this thread's stack ends, so the
 * first read in a page the walk has not read yet is tried by the kernel:
 * rt_sigprocmask with an invalid `how` copies the 8 bytes in as a signal
 * set and then refuses (EINVAL; EFAULT where a load would fault; nothing
 * is changed). Where that answers otherwise (seccomp), mincore at least
 * says whether the page is mapped. A read that fails ends the stack. */
struct readable {
	uintptr_t lo, hi;           /* pages known readable */
};

static bool stack_load(struct readable *ok, uintptr_t at, uintptr_t *out)
{
	if (at >= ok->lo && at + 8 <= ok->hi) {
		*out = *(const uintptr_t *)at;
		return true;
	}
	int saved = errno;
	uintptr_t lo = at & ~(uintptr_t)(JM_PAGE - 1);
	uintptr_t hi = (at + 8 + JM_PAGE - 1) & ~(uintptr_t)(JM_PAGE - 1);
	bool good = syscall(SYS_rt_sigprocmask, -1, (void *)at, NULL, (size_t)8) == 0 || errno == EINVAL;
	if (!good && errno != EFAULT) {
		unsigned char vec[2];
		good = mincore((void *)lo, hi - lo, vec) == 0;
	}
	errno = saved;
	if (!good)
		return false;
	uintptr_t v = *(const uintptr_t *)at;
	if (lo <= ok->hi && hi >= ok->lo) {
		ok->lo = lo < ok->lo ? lo : ok->lo;
		ok->hi = hi > ok->hi ? hi : ok->hi;
	} else {
		ok->lo = lo;
		ok->hi = hi;
	}
	*out = v;
	return true;
}

/* One frame: its pc, its stack pointer, and rbp in it (if known). */
struct frame {
	uintptr_t pc, sp, bp;
	bool bp_known;
	bool exact;                 /* pc is not a return address */
};

/* Steps from frame f to its caller: 1, or 0 when f is the outermost frame
 * (*cfa: its CFA), or -1 when the tables do not say. *how: f's cache entry
 * (K_*, without K_END), 0 if the fast walk cannot follow it. */
static int step(struct frame *f, struct readable *ok, uintptr_t *cfa_out, uint16_t *how)
{
	struct rules r;
	bool signal;
	if (!rules_at(f->exact ? f->pc : f->pc - 1, &r, &signal))
		return f->exact ? -1 : -2;
	*how = 0;
	if (signal) {
		/* glibc's __restore_rt, where a signal handler returns: its
		 * rsp is at the ucontext_t the kernel saved the interrupted
		 * registers in (on a sigaltstack, the interrupted stack is
		 * anywhere), and the interrupted pc is not a return address. */
		uintptr_t g = f->sp + offsetof(ucontext_t, uc_mcontext.gregs);
		uintptr_t pc, sp, bp;
		if (!stack_load(ok, g + REG_RIP * 8, &pc) || !stack_load(ok, g + REG_RSP * 8, &sp) ||
		    !stack_load(ok, g + REG_RBP * 8, &bp))
			return -1;
		*cfa_out = sp;
		f->pc = pc;
		f->sp = sp;
		f->bp = bp;
		f->bp_known = true;
		f->exact = true;
		return 1;
	}
	/* An interrupted pc's rules are not those of the same address as a
	 * return address (the call before it): no entry. */
	bool exact = f->exact;
	f->exact = false;
	uintptr_t cfa;
	if (r.cfa_reg == DW_RSP)
		cfa = f->sp + (uintptr_t)r.cfa_off;
	else if (r.cfa_reg == DW_RBP && f->bp_known)
		cfa = f->bp + (uintptr_t)r.cfa_off;
	else
		return -1;
	if ((cfa & 7) != 0 || cfa <= f->sp || cfa - f->sp > MAX_FRAME)
		return -1;
	*cfa_out = cfa;
	uintptr_t size = (cfa - f->sp) / 8;
	unsigned bp = r.rbp == R_SAME ? 0 : K_BP_LOST;
	if (r.rbp == R_AT && r.rbp_off <= -16 && r.rbp_off >= -48 && (r.rbp_off & 7) == 0)
		bp = (unsigned)(-r.rbp_off / 8 - 1);
	if (!exact && ((cfa - f->sp) & 7) == 0 && size <= K_SIZE &&
	    (r.ra == R_UNDEF || r.ra_off == -8)) {
		if (r.cfa_reg == DW_RSP)
			*how = (uint16_t)(bp << K_BP_SHIFT | size);
		else if (r.cfa_off == 16)
			*how = (uint16_t)(K_RBP | bp << K_BP_SHIFT | size);
	} else if (!exact && ((cfa - f->sp) & 7) == 0 && size <= BIG_MAX &&
	    (r.ra == R_UNDEF || r.ra_off == -8)) {
		/* The size (cfa - sp) goes to the big table. */
		if (r.cfa_reg == DW_RSP)
			*how = (uint16_t)(K_BIG | bp << K_BP_SHIFT | 1);
		else if (r.cfa_off == 16)
			*how = (uint16_t)(K_RBP | K_BIG | bp << K_BP_SHIFT | 1);
	}
	if (r.ra == R_UNDEF)
		return 0;
	uintptr_t ra_at = cfa + (uintptr_t)r.ra_off;
	uintptr_t pc;
	if (r.ra != R_AT || ra_at < f->sp || ra_at + 8 > cfa || !stack_load(ok, ra_at, &pc))
		return -1;
	if (r.rbp == R_AT) {
		uintptr_t bp_at = cfa + (uintptr_t)r.rbp_off;
		if (bp_at < f->sp || bp_at + 8 > cfa || !stack_load(ok, bp_at, &f->bp))
			return -1;
		f->bp_known = true;
	} else if (r.rbp != R_SAME) {
		f->bp_known = false;
	}
	f->pc = pc;
	f->sp = cfa;
	return 1;
}

/* The slow walk, from its caller (jm__unwind: frame 0) up: ip[i] is the
 * pc in frame i, cfa[i] frame i's stack pointer (its callee's CFA), and a
 * complete trace ends with an entry whose ip is 0 (cfa: the outermost
 * frame's CFA), as libgcc's _Unwind_Backtrace gives them. */
static JM_NOINLINE void slow_trace(struct trace *t)
{
	struct frame f;
	__asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2"
	    : "=r"(f.pc), "=r"(f.sp), "=r"(f.bp));
	f.bp_known = true;
	f.exact = true;
	/* This frame's page: the walk runs on it. */
	struct readable ok = { f.sp & ~(uintptr_t)(JM_PAGE - 1), 0 };
	ok.hi = ok.lo + JM_PAGE;
	uintptr_t cfa;
	uint16_t how;
	t->n = 0;
	t->stop = false;
	if (step(&f, &ok, &cfa, &how) != 1)
		return;
	while (t->n <= JM_UNWIND_MAX) {
		t->ip[t->n] = f.pc;
		t->cfa[t->n] = f.sp;
		t->n++;
		if (f.pc == 0)
			return;
		int s = step(&f, &ok, &cfa, &t->how[t->n - 1]);
		if (s < 0) {
			t->stop = s == -2;
			return;
		}
		if (s == 0) {
			if (t->n <= JM_UNWIND_MAX) {
				t->ip[t->n] = 0;
				t->cfa[t->n] = cfa;
				t->n++;
			}
			return;
		}
	}
}

#else

static void slow_trace(struct trace *t)
{
	t->n = 0;
}

#endif

/* A thread's first allocation (prof.c's sample_this, before any of its
 * stacks): where its count towards the check starts, from its TLS
 * block's address, so that threads are checked out of step and one that
 * takes fewer than VERIFY_EVERY stacks is checked with the chance the
 * process-wide count gave it (from 0, a thread was first checked at its
 * 256th stack, one with fewer never). */
void jm__unwind_thread_start(void)
{
	uint64_t a = (uint64_t)(uintptr_t)&tls_verify_count >> 4;
	tls_verify_count = (uint8_t)(a * 0x9e3779b97f4a7c15ULL >> 56);
}

/* Fills frames with up to max return addresses, innermost first, starting
 * with the one into this function's caller; returns how many. */
JM_NOINLINE int jm__unwind(void **frames, int max)
{
	if (max > JM_UNWIND_MAX)
		max = JM_UNWIND_MAX;
	COUNT(tls_nsamples);
	bool verify = jm_unlikely(++tls_verify_count == 0);
	/* The table and which of its pages were written, read once for the
	 * walk (a lookup read them at every frame: a third of its cost). */
	struct table tab = table_load();
	if (!verify && tab.e != NULL) {
		uint32_t written = atomic_load_explicit(&pages_written, memory_order_acquire);
		uintptr_t cfa = (uintptr_t)__builtin_dwarf_cfa();
		uintptr_t pc = *(uintptr_t *)(cfa - 8);
		/* rbp in the caller: saved by this function's frame pointer. */
		uintptr_t bp = *(uintptr_t *)__builtin_frame_address(0);
		bool bp_known = true;
		int n = 0;
		for (;;) {
			/* The first slot here (table_get's first probe,
			 * inline), the others in table_get. */
			size_t i = slot(pc, tab.mask);
			if (!(written >> (i / SLOTS_PER_PAGE) & 1))
				break;
			uint64_t ent = atomic_load_explicit(&tab.e[i], memory_order_relaxed);
			if (jm_unlikely((ent >> 16) != pc || ent == 0)) {
				unsigned k = table_get(tab, written, pc);
				if (k == 0)
					break; /* unknown here: the slow way */
				ent = (uint64_t)pc << 16 | k;
			}
			unsigned e = (unsigned)(ent & 0xffff);
			/* Stored before it is known to be taken: the slow
			 * way fills frames anew. */
			frames[n++] = (void *)pc;
			if (jm_likely(!(e & (K_END | K_RBP | K_BIG)) && n != max)) {
				/* The common frame: its CFA from rsp, of one
				 * size (K_NOCACHE and K_STOP have K_BIG). */
				uintptr_t next = cfa + (uintptr_t)(e & K_SIZE) * 8;
				unsigned saved = e >> K_BP_SHIFT & K_BP_MASK;
				if (saved != 0) {
					if (saved == K_BP_LOST)
						bp_known = false;
					else
						bp = *(uintptr_t *)(next - 8 * (saved + 1));
				}
				cfa = next;
				pc = *(uintptr_t *)(cfa - 8);
				continue;
			}
			if (e == K_NOCACHE)
				break; /* the slow way */
			if ((e & K_END) || e == K_STOP || n == max) {
				COUNT(tls_nfast);
				return n;
			}
			uintptr_t size = (uintptr_t)(e & K_SIZE) * 8, next;
			if (e & K_BIG) {
				size = big_get(pc) * 8;
				if (size == 0)
					break; /* forgotten: the slow way */
			}
			if (e & K_RBP) {
				next = bp + 16;
				if (!bp_known || next <= cfa || next - cfa > size)
					break; /* larger than ever read here: the slow way */
			} else {
				next = cfa + size;
			}
			unsigned saved = e >> K_BP_SHIFT & K_BP_MASK;
			if (saved == K_BP_LOST)
				bp_known = false;
			else if (saved != 0)
				bp = *(uintptr_t *)(next - 8 * (saved + 1));
			cfa = next;
			pc = *(uintptr_t *)(cfa - 8);
		}
	}
	/* The slow way, which also teaches the cache. It is taken for a
	 * return address the cache does not know, the first in a library
	 * just loaded among them: the module table is checked after this
	 * stack (modules.c), and only after such a one. */
	jm__modules_changed();
	struct trace t;
	slow_trace(&t);
	/* Complete: it ends with 0, which may be the array's last entry
	 * (JM_UNWIND_MAX + 1): a stack whose outermost return address fell
	 * at JM_UNWIND_MAX - 1 was taken as cut short, that address put
	 * without K_END against the complete stacks' K_END, and so never
	 * cached, and every stack through it (clone3's: every thread's) went
	 * the slow way (mariadbd: 300k samples, 4 from the cache;
	 * test_unwind's test_depth_limit_cached). */
	bool complete = t.n > 1 && t.ip[t.n - 1] == 0;
	for (int i = 1; i + 1 < t.n && t.ip[i] != 0; i++) {
		if (t.how[i] == 0)
			continue;
		bool last = complete && i + 2 == t.n;
		if ((t.how[i] & K_BIG) &&
		    !big_put(t.ip[i], (t.cfa[i + 1] - t.cfa[i]) / 8, t.how[i] & K_RBP)) {
			cache_put(t.ip[i], K_NOCACHE);
			continue;
		}
		cache_put(t.ip[i], t.how[i] | (last ? K_END : 0));
	}
	/* A return address into code without tables (generated code) ends
	 * every stack through it: the cache says so too, instead of sending
	 * each of them the slow way. */
	if (t.stop && t.n >= 2 && t.ip[t.n - 1] != 0)
		cache_put(t.ip[t.n - 1], K_STOP);
	int n = 0;
	for (int i = 1; i < t.n && t.ip[i] != 0 && n < max; i++)
		frames[n++] = (void *)t.ip[i];
	return n;
}

#ifdef JM_TEST
/* For tests: stacks the calling thread took, and how many of them the
 * cache served. */
void jm__unwind_counts(uint64_t *taken, uint64_t *fast)
{
	*taken = tls_nsamples;
	*fast = tls_nfast;
}
#endif

/* For tests: the entries of the cache's table (0: none yet). */
size_t jm__unwind_cache_slots(void)
{
	struct table t = table_load();
	return t.e == NULL ? 0 : t.mask + 1;
}

/* For tests: the cache's entry for pc (0: none). */
unsigned jm__unwind_cache_get(uintptr_t pc)
{
	return cache_get(pc);
}

/* For tests: the pages of the cache that hold an entry, and those
 * resident (mincore: also a page only read, mapped to the zero page).
 * Only resident pages are read here, so that counting maps none. */
void jm__unwind_cache_pages(unsigned *with_entries, unsigned *resident)
{
	unsigned char vec[CACHE_SIZE / SLOTS_PER_PAGE];
	struct table t = table_load();
	*with_entries = *resident = 0;
	if (t.e == NULL)
		return;
	size_t pages = (t.mask + 1) / SLOTS_PER_PAGE;
	if (mincore((void *)t.e, (t.mask + 1) * sizeof(uint64_t), vec) != 0)
		memset(vec, 1, sizeof(vec));
	for (size_t p = 0; p < pages; p++) {
		if (!(vec[p] & 1))
			continue;
		++*resident;
		for (size_t i = p * SLOTS_PER_PAGE; i < (p + 1) * SLOTS_PER_PAGE; i++) {
			if (atomic_load_explicit(&t.e[i], memory_order_relaxed) != 0) {
				++*with_entries;
				break;
			}
		}
	}
}
