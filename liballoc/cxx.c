/*
 * cxx.c: C++'s operator new and delete, from C, as jemalloc, tcmalloc and
 * mimalloc replace them.
 *
 * Without them a C++ program's every new and delete went through
 * libstdc++'s (a call through the PLT to malloc or free, its loop around
 * malloc; sized delete calling unsized delete calling free): in rocksdb's
 * db_bench a quarter of the instructions of the allocator's part
 * (docs/allocator.md, "C++'s operator new and delete").
 *
 * The twenty names libstdc++ exports (nm -D libstdc++.so.6): new and
 * new[], each plain, nothrow, aligned (std::align_val_t) and both; delete
 * and delete[], each plain, sized, nothrow, aligned, sized and aligned,
 * aligned and nothrow. operator new(size_t) (_Znwm) is malloc's fast path
 * and operator delete(void *) (_ZdlPv) is free itself (malloc.c); the
 * others are here. Every delete is free: the size of a sized delete is not
 * read (a wrong one is not the allocator's to trust), an aligned block is
 * freed as any other; a pointer free rejects is reported by free, with
 * free's messages. All weak: a program linked with libjmalloc.a may define
 * its own.
 *
 * The standard defines the other forms by the plain ones (new[] calls new,
 * nothrow new calls new and catches, sized delete calls delete, ...), and
 * a program may replace some only: a pool behind its own new and delete,
 * whose blocks a sized delete, which it did not replace, must hand to its
 * delete, not to free. So each of these forms is the allocator's own only
 * while all twenty names resolve to this library (asked once, from the
 * addresses the dynamic linker wrote in its GOT: no allocation, no dlsym);
 * else it goes on to the next definition (libstdc++'s), which calls the
 * program's; where there is none (libstdc++ linked statically), to the
 * first form of its chain by the standard the program replaced (parent,
 * below). A non-PIE program that takes the address of an operator
 * makes that address its PLT entry's: the forms go on to libstdc++'s
 * then too, correct and slower.
 *
 * A new that finds no memory must call the installed new handler until
 * one allocation succeeds and throw std::bad_alloc when there is none;
 * nothrow new returns NULL instead, also of a handler's exception. C
 * cannot catch, so the failure (and only it) goes on to the next
 * definition of the same name (dlsym(RTLD_NEXT), looked up at the first
 * failure and kept once found; else, for a C++ library dlopen'd
 * RTLD_LOCAL, in the scope of the object that called, asked at each
 * failure: a process may hold libstdc++ and libc++ so; else the first
 * loaded object's): libstdc++'s or libc++abi's, whose loop calls this malloc again, runs
 * the handler and throws, or catches for nothrow. dlsym may allocate: it
 * calls malloc, not new, and holds none of the allocator's locks; if it
 * fails for want of memory, it finds nothing. Where there is no next
 * definition (a static program linked with libjmalloc.a: RTLD_NEXT finds
 * nothing there), the loop is here: std::get_new_handler and
 * std::__throw_bad_alloc are weak references, bound if the program has
 * libstdc++ (in a fully static one: if something else pulled them from
 * libstdc++.a, as any standard container does); a handler's exception
 * passes through these frames (their unwind tables are there), so in that
 * case only a nothrow new whose handler throws passes the exception on
 * instead of returning NULL. With no std::__throw_bad_alloc, a throwing
 * new aborts with a message (a C program calls none of these).
 * A program built with -fno-exceptions gets libstdc++'s behaviour too: an
 * exception no one catches, std::terminate.
 *
 * The library's own frames are skipped by the heap profiler (prof.c: the
 * code section jm_text), so that a sampled site names the C++ caller, not
 * operator new.
 */
#include "internal.h"
#include "jmalloc.h"

#include <dlfcn.h>
#include <link.h>

#if !defined(JM_NO_LIBC_NAMES) || !JM_NO_LIBC_NAMES

enum {
	F_NEW, F_NEW_ARR, F_NEW_NT, F_NEW_ARR_NT,
	F_NEW_AL, F_NEW_ARR_AL, F_NEW_AL_NT, F_NEW_ARR_AL_NT,
	F_DEL, F_DEL_ARR, F_DEL_SZ, F_DEL_ARR_SZ, F_DEL_NT, F_DEL_ARR_NT,
	F_DEL_AL, F_DEL_ARR_AL, F_DEL_SZ_AL, F_DEL_ARR_SZ_AL, F_DEL_AL_NT, F_DEL_ARR_AL_NT,
	F_N
};

static const char *const names[F_N] = {
	[F_NEW] = "_Znwm",
	[F_NEW_ARR] = "_Znam",
	[F_NEW_NT] = "_ZnwmRKSt9nothrow_t",
	[F_NEW_ARR_NT] = "_ZnamRKSt9nothrow_t",
	[F_NEW_AL] = "_ZnwmSt11align_val_t",
	[F_NEW_ARR_AL] = "_ZnamSt11align_val_t",
	[F_NEW_AL_NT] = "_ZnwmSt11align_val_tRKSt9nothrow_t",
	[F_NEW_ARR_AL_NT] = "_ZnamSt11align_val_tRKSt9nothrow_t",
	[F_DEL] = "_ZdlPv",
	[F_DEL_ARR] = "_ZdaPv",
	[F_DEL_SZ] = "_ZdlPvm",
	[F_DEL_ARR_SZ] = "_ZdaPvm",
	[F_DEL_NT] = "_ZdlPvRKSt9nothrow_t",
	[F_DEL_ARR_NT] = "_ZdaPvRKSt9nothrow_t",
	[F_DEL_AL] = "_ZdlPvSt11align_val_t",
	[F_DEL_ARR_AL] = "_ZdaPvSt11align_val_t",
	[F_DEL_SZ_AL] = "_ZdlPvmSt11align_val_t",
	[F_DEL_ARR_SZ_AL] = "_ZdaPvmSt11align_val_t",
	[F_DEL_AL_NT] = "_ZdlPvSt11align_val_tRKSt9nothrow_t",
	[F_DEL_ARR_AL_NT] = "_ZdaPvSt11align_val_tRKSt9nothrow_t",
};

typedef void (*new_handler_fn)(void);
/* libstdc++'s, when the program has it (weak: else NULL). */
extern new_handler_fn std_get_new_handler(void) __asm__("_ZSt15get_new_handlerv")
    __attribute__((weak));
extern _Noreturn void std_throw_bad_alloc(void) __asm__("_ZSt17__throw_bad_allocv")
    __attribute__((weak));

/* What a nothrow form passes for its std::nothrow_t (an empty class, whose
 * address nothing reads). */
static const char nothrow_tag;

/* ------------------------------------------------ the next definitions */

#define NONE ((void *)1)
/* NULL: not looked up yet; NONE: none. In .lbss: asked only at a failure
 * or in a program with operators of its own (.bss must stay on the page
 * .data ends on: fork_pages.test.sh). */
static void *next_fns[F_N] JM_LARGE_BSS;
static const void *mine(int k);

/* A loaded object's handle (RTLD_NOLOAD: never loads one). dlopen is
 * looked up, not named: a reference to it, weak or not, makes ld warn at
 * every -static link with libjmalloc.a that a static dlopen needs the
 * shared libraries at run time; there dlsym finds none, and there is no
 * object to look in. Only failures and unreplaced forms come here. */
static void *loaded(const char *name)
{
	static void *(*_Atomic open_fn)(const char *, int);
	void *(*f)(const char *, int) = open_fn;
	if (f == NULL) {
		*(void **)&f = dlsym(RTLD_DEFAULT, "dlopen");
		if (f == NULL)
			return NULL;
		open_fn = f;
	}
	return f(name, RTLD_NOLOAD | RTLD_LAZY);
}

/* The loaded objects' names, for next_in_local (collected first: no
 * dlopen under dl_iterate_phdr's lock). */
#define MAX_OBJS 64
struct objs { int n; const char *name[MAX_OBJS]; };

static int collect_obj(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct objs *o = arg;
	if (info->dlpi_name != NULL && info->dlpi_name[0] != '\0' && o->n < MAX_OBJS)
		o->name[o->n++] = info->dlpi_name;
	return 0;
}

/* Whether f is a C++ runtime's (libstdc++, or a copy of it linked into a
 * library): its object defines std::get_new_handler too. Its new's loop
 * calls malloc, this library's. Another allocator's operators (tcmalloc's,
 * jemalloc's, mimalloc's, preloaded after this library) are not the next
 * definition: theirs allocate from that allocator, whose retry did not see
 * what a new handler freed here (std::bad_alloc where libstdc++'s loop
 * found the memory), and whose blocks free here rejected. */
static bool in_cxx_runtime(void *f)
{
	Dl_info fi, gi;
	if (dladdr(f, &fi) == 0 || fi.dli_fname == NULL || fi.dli_fname[0] == '\0')
		return false;
	void *h = loaded(fi.dli_fname);
	if (h == NULL)
		return false;
	void *g = dlsym(h, "_ZSt15get_new_handlerv");
	bool ok = g != NULL && dladdr(g, &gi) != 0 && gi.dli_fbase == fi.dli_fbase;
	dlclose(h);
	return ok;
}

/* RTLD_NEXT found none: a C++ library dlopen'd RTLD_LOCAL has its C++
 * runtime (libstdc++, or its own copy) outside the global scope. The
 * first loaded object whose own scope defines the name, a C++ runtime's
 * (in_cxx_runtime). */
static void *next_in_local(int k)
{
	struct objs o = { 0, { 0 } };
	dl_iterate_phdr(collect_obj, &o);
	for (int i = 0; i < o.n; i++) {
		void *h = loaded(o.name[i]);
		if (h == NULL)
			continue;
		void *f = dlsym(h, names[k]);
		dlclose(h);
		if (f != NULL && f != mine(k) && in_cxx_runtime(f))
			return f;
	}
	return NULL;
}

extern char __start_jm_text[], __stop_jm_text[];

/* Where the operator was called from: the first return address outside
 * the library's code (jm_text), by the allocator's unwinder (unwind.c:
 * no allocation, no lock); NULL where the stack ends inside it. */
static const void *caller_pc(void)
{
	void *frames[JM_UNWIND_MAX];
	int n = jm__unwind(frames, JM_UNWIND_MAX);
	for (int i = 0; i < n; i++)
		if ((char *)frames[i] < __start_jm_text || (char *)frames[i] >= __stop_jm_text)
			return frames[i];
	return NULL;
}

/* The definition the scope of the object that called gives the name (the
 * object and its dependencies: dlsym of its handle): its own C++
 * runtime. A process may hold two (a libstdc++ plugin and a libc++ one,
 * both dlopen'd RTLD_LOCAL): the other's new throws its std::bad_alloc
 * through frames its unwinder does not know (a SIGSEGV in libunwind),
 * past handlers its catch does not match, and calls the other's new
 * handler. */
static void *next_in_caller(int k)
{
	Dl_info di;
	const char *pc = caller_pc();
	if (pc == NULL || !dladdr(pc - 1, &di) || di.dli_fname == NULL || di.dli_fname[0] == '\0')
		return NULL;
	void *h = loaded(di.dli_fname);
	if (h == NULL)
		return NULL;
	void *f = dlsym(h, names[k]);
	dlclose(h);
	return f != NULL && f != mine(k) && in_cxx_runtime(f) ? f : NULL;
}

static JM_NOINLINE void *next_def(int k, bool failed)
{
	void *f = __atomic_load_n(&next_fns[k], __ATOMIC_ACQUIRE);
	if (f == NULL) {
		f = dlsym(RTLD_NEXT, names[k]);
		if (f != NULL && (f == mine(k) || !in_cxx_runtime(f)))
			f = NULL;
		/* None in the global scope: each failure asks its caller's
		 * scope, not kept (another caller may have another runtime),
		 * else the first loaded object's. */
		if (f == NULL && failed) {
			f = next_in_caller(k);
			return f != NULL ? f : next_in_local(k);
		}
		if (f == NULL)
			f = next_in_local(k);
		if (f == NULL)
			f = NONE;      /* a form's path (below): asked once */
		__atomic_store_n(&next_fns[k], f, __ATOMIC_RELEASE);
	}
	return f == NONE ? NULL : f;
}

/* No next definition: the new handler's loop here (above). */
static JM_NOINLINE void *handler_loop(int k, size_t size, size_t align)
{
	bool aligned = k >= F_NEW_AL && k <= F_NEW_ARR_AL_NT;
	bool nothrow = k == F_NEW_NT || k == F_NEW_ARR_NT || k == F_NEW_AL_NT ||
	    k == F_NEW_ARR_AL_NT;
	if (!aligned || (align != 0 && (align & (align - 1)) == 0)) {
		for (;;) {
			new_handler_fn h = std_get_new_handler ? std_get_new_handler() : NULL;
			if (h == NULL)
				break;
			h();
			void *p = aligned ? jm__new_aligned(size, align) : jm_malloc(size);
			if (p != NULL)
				return p;
		}
	}
	if (nothrow)
		return NULL;
	if (std_throw_bad_alloc)
		std_throw_bad_alloc();
	jm__fatal("operator new: no memory for %zu bytes and no C++ library to throw "
	    "std::bad_alloc; aborting", size);
}

/* A new of kind k found no memory: the next definition's new, else the
 * loop here. A tail call: the next one's frames replace this one's. */
static JM_NOINLINE void *new_failed(int k, size_t size, size_t align)
{
	/* libstdc++'s aligned new rounds the size up to the alignment without
	 * looking for a wrap: new(SIZE_MAX - 10, 64) became a 0-byte request
	 * and a block. Such a size is no memory for any form: the unaligned
	 * form's handler loop and std::bad_alloc (nothrow: NULL). */
	if (k >= F_NEW_AL && k <= F_NEW_ARR_AL_NT && align != 0 && size > SIZE_MAX - (align - 1)) {
		k -= F_NEW_AL - F_NEW;   /* F_NEW_AL -> F_NEW, ... _ARR_AL_NT -> _ARR_NT */
		size = SIZE_MAX;
	}
	void *f = next_def(k, true);
	if (f == NULL)
		return handler_loop(k, size, align);
	switch (k) {
	case F_NEW_NT: case F_NEW_ARR_NT:
		return ((void *(*)(size_t, const void *))f)(size, &nothrow_tag);
	case F_NEW_AL: case F_NEW_ARR_AL:
		return ((void *(*)(size_t, size_t))f)(size, align);
	case F_NEW_AL_NT: case F_NEW_ARR_AL_NT:
		return ((void *(*)(size_t, size_t, const void *))f)(size, align, &nothrow_tag);
	default:
		return ((void *(*)(size_t))f)(size);
	}
}

void *jm__new_failed(size_t size)
{
	return new_failed(F_NEW, size, 0);
}

/* ------------------------------------- are all twenty names this file's */

/* The exported names (malloc.c has _Znwm and _ZdlPv). Their addresses,
 * taken through the GOT (weak and exported: interposable), are the
 * definitions the dynamic linker bound: the program's where it has one. */
extern void *cxx_Znwm(size_t) __asm__("_Znwm");
extern void cxx_ZdlPv(void *) __asm__("_ZdlPv");
static void *new_arr(size_t size);
static void *new_nt(size_t size, const void *nt);
static void *new_arr_nt(size_t size, const void *nt);
static void *new_al(size_t size, size_t align);
static void *new_arr_al(size_t size, size_t align);
static void *new_al_nt(size_t size, size_t align, const void *nt);
static void *new_arr_al_nt(size_t size, size_t align, const void *nt);
static void del_arr(void *ptr);
static void del_sz(void *ptr, size_t size);
static void del_arr_sz(void *ptr, size_t size);
static void del_nt(void *ptr, const void *nt);
static void del_arr_nt(void *ptr, const void *nt);
static void del_al(void *ptr, size_t al);
static void del_arr_al(void *ptr, size_t al);
static void del_sz_al(void *ptr, size_t size, size_t al);
static void del_arr_sz_al(void *ptr, size_t size, size_t al);
static void del_al_nt(void *ptr, size_t al, const void *nt);
static void del_arr_al_nt(void *ptr, size_t al, const void *nt);
#define CXX_EXPORT(decl, mangled, local) \
	decl __asm__(mangled) __attribute__((weak, alias(#local), visibility("default")))
CXX_EXPORT(void *jm__cxx_Znam(size_t), "_Znam", new_arr);
CXX_EXPORT(void *jm__cxx_ZnwmRKSt9nothrow_t(size_t, const void *), "_ZnwmRKSt9nothrow_t", new_nt);
CXX_EXPORT(void *jm__cxx_ZnamRKSt9nothrow_t(size_t, const void *), "_ZnamRKSt9nothrow_t",
    new_arr_nt);
CXX_EXPORT(void *jm__cxx_ZnwmSt11align_val_t(size_t, size_t), "_ZnwmSt11align_val_t", new_al);
CXX_EXPORT(void *jm__cxx_ZnamSt11align_val_t(size_t, size_t), "_ZnamSt11align_val_t",
    new_arr_al);
CXX_EXPORT(void *jm__cxx_ZnwmSt11align_val_tRKSt9nothrow_t(size_t, size_t, const void *),
    "_ZnwmSt11align_val_tRKSt9nothrow_t", new_al_nt);
CXX_EXPORT(void *jm__cxx_ZnamSt11align_val_tRKSt9nothrow_t(size_t, size_t, const void *),
    "_ZnamSt11align_val_tRKSt9nothrow_t", new_arr_al_nt);
CXX_EXPORT(void jm__cxx_ZdaPv(void *), "_ZdaPv", del_arr);
CXX_EXPORT(void jm__cxx_ZdlPvm(void *, size_t), "_ZdlPvm", del_sz);
CXX_EXPORT(void jm__cxx_ZdaPvm(void *, size_t), "_ZdaPvm", del_arr_sz);
CXX_EXPORT(void jm__cxx_ZdlPvRKSt9nothrow_t(void *, const void *), "_ZdlPvRKSt9nothrow_t", del_nt);
CXX_EXPORT(void jm__cxx_ZdaPvRKSt9nothrow_t(void *, const void *), "_ZdaPvRKSt9nothrow_t",
    del_arr_nt);
CXX_EXPORT(void jm__cxx_ZdlPvSt11align_val_t(void *, size_t), "_ZdlPvSt11align_val_t", del_al);
CXX_EXPORT(void jm__cxx_ZdaPvSt11align_val_t(void *, size_t), "_ZdaPvSt11align_val_t",
    del_arr_al);
CXX_EXPORT(void jm__cxx_ZdlPvmSt11align_val_t(void *, size_t, size_t), "_ZdlPvmSt11align_val_t",
    del_sz_al);
CXX_EXPORT(void jm__cxx_ZdaPvmSt11align_val_t(void *, size_t, size_t), "_ZdaPvmSt11align_val_t",
    del_arr_sz_al);
CXX_EXPORT(void jm__cxx_ZdlPvSt11align_val_tRKSt9nothrow_t(void *, size_t, const void *),
    "_ZdlPvSt11align_val_tRKSt9nothrow_t", del_al_nt);
CXX_EXPORT(void jm__cxx_ZdaPvSt11align_val_tRKSt9nothrow_t(void *, size_t, const void *),
    "_ZdaPvSt11align_val_tRKSt9nothrow_t", del_arr_al_nt);


/* 0: not asked yet; 1: all twenty are this library's; -1: not. */
static int8_t own;

/* The definition the dynamic linker bound for each name. */
static void bound_defs(const void *bound[F_N])
{
	const void *const b[F_N] = {
		(const void *)cxx_Znwm, (const void *)jm__cxx_Znam,
		(const void *)jm__cxx_ZnwmRKSt9nothrow_t, (const void *)jm__cxx_ZnamRKSt9nothrow_t,
		(const void *)jm__cxx_ZnwmSt11align_val_t, (const void *)jm__cxx_ZnamSt11align_val_t,
		(const void *)jm__cxx_ZnwmSt11align_val_tRKSt9nothrow_t,
		(const void *)jm__cxx_ZnamSt11align_val_tRKSt9nothrow_t,
		(const void *)cxx_ZdlPv, (const void *)jm__cxx_ZdaPv,
		(const void *)jm__cxx_ZdlPvm, (const void *)jm__cxx_ZdaPvm,
		(const void *)jm__cxx_ZdlPvRKSt9nothrow_t, (const void *)jm__cxx_ZdaPvRKSt9nothrow_t,
		(const void *)jm__cxx_ZdlPvSt11align_val_t, (const void *)jm__cxx_ZdaPvSt11align_val_t,
		(const void *)jm__cxx_ZdlPvmSt11align_val_t, (const void *)jm__cxx_ZdaPvmSt11align_val_t,
		(const void *)jm__cxx_ZdlPvSt11align_val_tRKSt9nothrow_t,
		(const void *)jm__cxx_ZdaPvSt11align_val_tRKSt9nothrow_t,
	};
	for (int k = 0; k < F_N; k++)
		bound[k] = b[k];
}

static JM_NOINLINE bool own_slow(void)
{
	const void *bound[F_N];
	bound_defs(bound);
	int8_t o = 1;
	for (int k = 0; k < F_N; k++)
		if (bound[k] != mine(k))
			o = -1;
	__atomic_store_n(&own, o, __ATOMIC_RELAXED);
	return o > 0;
}

/* A plain read: one compare with memory (an atomic load is a load, then a
 * compare). own changes once, from 0 to its value, written the same by
 * every thread that asks; a thread that reads 0 asks itself. */
static inline bool ours(void)
{
	return jm_likely(own == 1);
}

/* ------------------------------------------------------------ the forms */

/* Each form's fast path is one test of own and a jump; the rest is here,
 * out of line (a call there made the compiler save registers on the fast
 * path): whether the names are this library's, when not yet known, then
 * the next definition (libstdc++'s) when they are not, or this one's
 * where there is none. The arguments as they came, in registers. */
typedef uintptr_t word;

/* The standard defines each form by another, libstdc++'s so too: new[] by
 * new, a nothrow form by its throwing one (catching), a sized delete by
 * the unsized one, delete[] by delete; -1 for the four on malloc and free.
 * Where a program replaced some and there is no next definition, a form
 * calls the first of its chain the program replaced (a nothrow form's
 * failure is then that operator's exception: C cannot catch it). */
static const int8_t parent[F_N] = {
	[F_NEW] = -1, [F_NEW_ARR] = F_NEW, [F_NEW_NT] = F_NEW, [F_NEW_ARR_NT] = F_NEW_ARR,
	[F_NEW_AL] = -1, [F_NEW_ARR_AL] = F_NEW_AL, [F_NEW_AL_NT] = F_NEW_AL,
	[F_NEW_ARR_AL_NT] = F_NEW_ARR_AL,
	[F_DEL] = -1, [F_DEL_ARR] = F_DEL, [F_DEL_SZ] = F_DEL, [F_DEL_ARR_SZ] = F_DEL_ARR,
	[F_DEL_NT] = F_DEL, [F_DEL_ARR_NT] = F_DEL_ARR,
	[F_DEL_AL] = -1, [F_DEL_ARR_AL] = F_DEL_AL, [F_DEL_SZ_AL] = F_DEL_AL,
	[F_DEL_ARR_SZ_AL] = F_DEL_ARR_AL, [F_DEL_AL_NT] = F_DEL_AL, [F_DEL_ARR_AL_NT] = F_DEL_ARR_AL,
};

static JM_NOINLINE void *form_slow(int k, word a, word b, word c)
{
	int8_t o = __atomic_load_n(&own, __ATOMIC_RELAXED);
	if (o < 0 || (o == 0 && !own_slow())) {
		void *f = next_def(k, false);
		if (f != NULL)
			return ((void *(*)(word, word, word))f)(a, b, c);
		/* No next definition (libstdc++ linked statically, into the
		 * program or with libjmalloc.a): the standard's definition of
		 * this form by another, up to the first the program replaced. */
		if (k == F_DEL_SZ_AL || k == F_DEL_ARR_SZ_AL)
			b = c;   /* (ptr, size, al): the unsized form's (ptr, al) */
		const void *bound[F_N];
		bound_defs(bound);
		for (int p = parent[k]; p >= 0; p = parent[p])
			if (bound[p] != mine(p))
				return ((void *(*)(word, word, word))bound[p])(a, b, c);
	}
	switch (k) {
	case F_NEW_ARR:
		return jm__new((size_t)a);
	case F_NEW_NT: case F_NEW_ARR_NT: {
		void *p = jm_malloc((size_t)a);
		return p != NULL ? p : new_failed(k, (size_t)a, 0);
	}
	case F_NEW_AL: case F_NEW_ARR_AL: case F_NEW_AL_NT: case F_NEW_ARR_AL_NT: {
		void *p = jm__new_aligned((size_t)a, (size_t)b);
		return p != NULL ? p : new_failed(k, (size_t)a, (size_t)b);
	}
	default:
		jm__free((void *)a);
		return NULL;
	}
}

static void *new_arr(size_t size)
{
	if (ours())
		return jm__new(size);
	return form_slow(F_NEW_ARR, size, 0, 0);
}

static void *new_nt(size_t size, const void *nt)
{
	return form_slow(F_NEW_NT, size, (word)nt, 0);
}

static void *new_arr_nt(size_t size, const void *nt)
{
	return form_slow(F_NEW_ARR_NT, size, (word)nt, 0);
}

static void *new_al(size_t size, size_t align)
{
	return form_slow(F_NEW_AL, size, align, 0);
}

static void *new_arr_al(size_t size, size_t align)
{
	return form_slow(F_NEW_ARR_AL, size, align, 0);
}

static void *new_al_nt(size_t size, size_t align, const void *nt)
{
	return form_slow(F_NEW_AL_NT, size, align, (word)nt);
}

static void *new_arr_al_nt(size_t size, size_t align, const void *nt)
{
	return form_slow(F_NEW_ARR_AL_NT, size, align, (word)nt);
}

/* The deletes: free, while all the names are this library's. */
#define DELETE_FORM(fn, k, params, a, b, c) \
	static void fn params \
	{ \
		if (ours()) { \
			jm__free(ptr); \
			return; \
		} \
		form_slow(k, (word)(a), (word)(b), (word)(c)); \
	}

DELETE_FORM(del_arr, F_DEL_ARR, (void *ptr), ptr, 0, 0)
DELETE_FORM(del_sz, F_DEL_SZ, (void *ptr, size_t size), ptr, size, 0)
DELETE_FORM(del_arr_sz, F_DEL_ARR_SZ, (void *ptr, size_t size), ptr, size, 0)
DELETE_FORM(del_nt, F_DEL_NT, (void *ptr, const void *nt), ptr, nt, 0)
DELETE_FORM(del_arr_nt, F_DEL_ARR_NT, (void *ptr, const void *nt), ptr, nt, 0)
DELETE_FORM(del_al, F_DEL_AL, (void *ptr, size_t al), ptr, al, 0)
DELETE_FORM(del_arr_al, F_DEL_ARR_AL, (void *ptr, size_t al), ptr, al, 0)
DELETE_FORM(del_sz_al, F_DEL_SZ_AL, (void *ptr, size_t size, size_t al), ptr, size, al)
DELETE_FORM(del_arr_sz_al, F_DEL_ARR_SZ_AL, (void *ptr, size_t size, size_t al), ptr, size, al)
DELETE_FORM(del_al_nt, F_DEL_AL_NT, (void *ptr, size_t al, const void *nt), ptr, al, nt)
DELETE_FORM(del_arr_al_nt, F_DEL_ARR_AL_NT, (void *ptr, size_t al, const void *nt), ptr, al, nt)

/* This library's definition of each name (its local address). */
static const void *mine(int k)
{
	static const void *const defs[F_N] = {
		[F_NEW] = (const void *)jm__new,
		[F_NEW_ARR] = (const void *)new_arr,
		[F_NEW_NT] = (const void *)new_nt,
		[F_NEW_ARR_NT] = (const void *)new_arr_nt,
		[F_NEW_AL] = (const void *)new_al,
		[F_NEW_ARR_AL] = (const void *)new_arr_al,
		[F_NEW_AL_NT] = (const void *)new_al_nt,
		[F_NEW_ARR_AL_NT] = (const void *)new_arr_al_nt,
		[F_DEL] = (const void *)jm__free,
		[F_DEL_ARR] = (const void *)del_arr,
		[F_DEL_SZ] = (const void *)del_sz,
		[F_DEL_ARR_SZ] = (const void *)del_arr_sz,
		[F_DEL_NT] = (const void *)del_nt,
		[F_DEL_ARR_NT] = (const void *)del_arr_nt,
		[F_DEL_AL] = (const void *)del_al,
		[F_DEL_ARR_AL] = (const void *)del_arr_al,
		[F_DEL_SZ_AL] = (const void *)del_sz_al,
		[F_DEL_ARR_SZ_AL] = (const void *)del_arr_sz_al,
		[F_DEL_AL_NT] = (const void *)del_al_nt,
		[F_DEL_ARR_AL_NT] = (const void *)del_arr_al_nt,
	};
	return defs[k];
}

#endif
