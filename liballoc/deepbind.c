/*
 * deepbind.c: dlopen (and dlmopen into LM_ID_BASE) without RTLD_DEEPBIND.
 *
 * A library opened with RTLD_DEEPBIND looks its symbols up in itself and
 * its own dependencies before the global scope, and libc is one of those
 * dependencies: its malloc and free are glibc's while the rest of the
 * process has this allocator's. A block passed across is freed by the
 * other allocator: glibc's free of a block of ours reads a chunk header
 * that is not there (SIGSEGV, or "free(): invalid pointer"), ours of a
 * block of glibc's reports a foreign pointer. PHP loads every extension
 * so (its pdo.so frees a block of the program's in its start-up): `php
 * -r 'echo 1;'` took a SIGSEGV under this library, as under jemalloc,
 * mimalloc and tcmalloc preloaded. The flag is dropped here and the call
 * goes on to glibc's dlopen: the library binds as any other dlopen'd one,
 * its malloc and free ours. What the flag is for, a library's own copy of
 * a symbol taking precedence over the program's, is lost; an allocator
 * interposed by LD_PRELOAD cannot keep both.
 *
 * glibc's dlopen takes its caller from its return address (the caller's
 * RUNPATH and namespace find the file), so this one is a jump, not a call:
 * the return address on the stack stays the caller's. x86-64 only, and in
 * the shared library only (not libjmalloc.a: a static program's dlopen is
 * glibc's own, and RTLD_NEXT finds nothing there).
 *
 * dlmopen into the program's own namespace (LM_ID_BASE) is the same call
 * (`dlmopen(LM_ID_BASE, file, RTLD_NOW | RTLD_DEEPBIND)` crashed as
 * dlopen did: "realloc(): invalid pointer"), and loses the flag too; into
 * another namespace it keeps it: the allocator is not loaded there, the
 * library's malloc is that namespace's C library's either way.
 *
 * Each begins with endbr64 (a no-op where indirect branch tracking is
 * off), as rawfork.c's code does: the PLT reaches them by an indirect
 * jump, and a library built with -fcf-protection (the default of Ubuntu's
 * and Fedora's compilers) is marked IBT-ready, which a CPU enforcing it
 * holds to for every entry.
 */
#include "internal.h"

#if (!defined(JM_NO_LIBC_NAMES) || !JM_NO_LIBC_NAMES) && defined(__x86_64__)

#include <dlfcn.h>

/* glibc's dlopen and dlmopen, found at the first call of each. */
__attribute__((visibility("hidden"))) void *(*_Atomic jm__dlopen_next)(const char *, int);
__attribute__((visibility("hidden"))) void *(*_Atomic jm__dlmopen_next)(Lmid_t, const char *, int);

__attribute__((visibility("hidden"), used)) void *(*jm__dlopen_resolve(void))(const char *, int);
__attribute__((visibility("hidden"), used)) void *(*jm__dlopen_resolve(void))(const char *, int)
{
	void *(*f)(const char *, int) = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
	if (f != NULL)
		atomic_store_explicit(&jm__dlopen_next, f, memory_order_release);
	return f;
}

__attribute__((visibility("hidden"), used)) void *(*jm__dlmopen_resolve(void))(Lmid_t, const char *, int);
__attribute__((visibility("hidden"), used)) void *(*jm__dlmopen_resolve(void))(Lmid_t, const char *, int)
{
	void *(*f)(Lmid_t, const char *, int) =
	    (void *(*)(Lmid_t, const char *, int))dlsym(RTLD_NEXT, "dlmopen");
	if (f != NULL)
		atomic_store_explicit(&jm__dlmopen_next, f, memory_order_release);
	return f;
}

_Static_assert(RTLD_DEEPBIND == 0x8, "the mask below");
_Static_assert(LM_ID_BASE == 0, "the test below");

/* dlopen(file, mode): mode (esi) without RTLD_DEEPBIND, then a jump to
 * glibc's. The first call finds it, file and mode kept on the stack (16-byte
 * aligned at the call); not found, NULL. */
__asm__(
	".pushsection .text\n"
	".globl dlopen\n"
	".type dlopen, @function\n"
	"dlopen:\n"
	"	.cfi_startproc\n"
	"	endbr64\n"
	"	movq jm__dlopen_next(%rip), %rax\n"
	"	testq %rax, %rax\n"
	"	jz 1f\n"
	"2:	andl $~0x8, %esi\n"
	"	jmp *%rax\n"
	"1:	pushq %rdi\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq %rsi\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	subq $8, %rsp\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	call jm__dlopen_resolve\n"
	"	addq $8, %rsp\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	popq %rsi\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	popq %rdi\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	testq %rax, %rax\n"
	"	jnz 2b\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size dlopen, .-dlopen\n"
	".popsection\n");

/* dlmopen(lmid, file, mode): into LM_ID_BASE (rdi 0), mode (edx) without
 * RTLD_DEEPBIND; then a jump to glibc's, found at the first call as
 * above (three words kept: the stack 16-byte aligned at the call). */
__asm__(
	".pushsection .text\n"
	".globl dlmopen\n"
	".type dlmopen, @function\n"
	"dlmopen:\n"
	"	.cfi_startproc\n"
	"	endbr64\n"
	"	movq jm__dlmopen_next(%rip), %rax\n"
	"	testq %rax, %rax\n"
	"	jz 1f\n"
	"2:	testq %rdi, %rdi\n"
	"	jnz 3f\n"
	"	andl $~0x8, %edx\n"
	"3:	jmp *%rax\n"
	"1:	pushq %rdi\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq %rsi\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq %rdx\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	call jm__dlmopen_resolve\n"
	"	popq %rdx\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	popq %rsi\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	popq %rdi\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	testq %rax, %rax\n"
	"	jnz 2b\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size dlmopen, .-dlmopen\n"
	".popsection\n");

#endif
