/*
 * rawfork.c: the fork handlers around the children glibc runs none for.
 *
 * A process's stats segment, where its threads' caches keep their lists
 * and its arenas their counters, is mapped MADV_DONTFORK (stats.c): a child
 * has none until the child fork handler gives it one. A child made by the
 * system call through glibc's syscall() (syscall(SYS_clone, SIGCHLD, 0),
 * as bubblewrap's raw_clone does; SYS_fork; SYS_clone3) or by glibc's
 * _Fork(), which runs no fork handler, took a SIGSEGV at its first
 * allocation once its parent's thread had used its cache: the fast path
 * reads the cache's row, where the child has no mapping. The fast path
 * cannot tell (a test of the pid there would cost every malloc), so the
 * calls are interposed instead, as clone() is (compat.c): when they make a
 * process of a copy of this memory (no CLONE_VM) that goes on on this
 * stack, the allocator's handlers run around them as around fork(): the
 * child gets its segment and its locks, and forgets the parent's other
 * threads. Everything else goes to the kernel as glibc's syscall() would
 * send it. _Fork is async-signal-safe, and called so: the handlers leave
 * alone a lock the interrupted thread holds (init.c), so that a _Fork in a
 * signal handler that interrupted malloc does not wait for ever.
 *
 * Not seen: a child made by the system call in a program's own assembly
 * (no libc call), or one on a stack of its own (clone with a stack, from C,
 * returns into that stack: nothing of ours runs in it). In the shared
 * library only (not in libjmalloc.a: in a static link glibc's fork()
 * calls _Fork, which would be this one). x86-64 only.
 */
#include "internal.h"

#if (!defined(JM_NO_LIBC_NAMES) || !JM_NO_LIBC_NAMES) && defined(__x86_64__)

#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/sched.h>

/* The system call as glibc's syscall() makes it (the kernel's result in
 * rax, no errno). The instruction after it is a return, as in glibc's: a
 * child that the call starts on a stack of its own (clone with a stack
 * and CLONE_VM, a thread a program starts so) returns where that stack
 * says, as it did. */
long jm__syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
__asm__(
    "	.pushsection .text\n"
    "	.globl jm__syscall6\n"
    "	.hidden jm__syscall6\n"
    "	.type jm__syscall6,@function\n"
    "jm__syscall6:\n"
    "	.cfi_startproc\n"
    "	endbr64\n"
    "	movq %rdi, %rax\n"
    "	movq %rsi, %rdi\n"
    "	movq %rdx, %rsi\n"
    "	movq %rcx, %rdx\n"
    "	movq %r8, %r10\n"
    "	movq %r9, %r8\n"
    "	movq 8(%rsp), %r9\n"
    "	syscall\n"
    "	ret\n"
    "	.cfi_endproc\n"
    "	.size jm__syscall6, .-jm__syscall6\n"
    "	.popsection\n");

/* struct clone_args of clone3, as far as flags and stack, read through the
 * kernel (a bad pointer is the kernel's EFAULT to give, not our SIGSEGV). */
static bool clone3_copies(long args, long size)
{
	struct clone_args ca;
	if (args == 0 || size < (long)offsetof(struct clone_args, stack_size))
		return false;
	memset(&ca, 0, sizeof(ca));
	struct iovec local = { &ca, offsetof(struct clone_args, stack_size) };
	struct iovec remote = { (void *)args, offsetof(struct clone_args, stack_size) };
	long pid = jm__syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0);
	if (jm__syscall6(SYS_process_vm_readv, pid, (long)&local, 1, (long)&remote, 1, 0) !=
	    (long)offsetof(struct clone_args, stack_size))
		return false;
	return !(ca.flags & CLONE_VM) && ca.stack == 0;
}

/* A process of a copy of this memory, going on on this stack. */
static bool copies_memory(long nr, long a1, long a2)
{
	if (nr == SYS_clone)
		return !(a1 & CLONE_VM) && a2 == 0;
	if (nr == SYS_fork)
		return true;
	if (nr == SYS_clone3)
		return clone3_copies(a1, a2);
	return false;
}

/* syscall(): the calls that make a process of a copy of this memory go
 * to syscall_fork; every other one is made here at once, as glibc's
 * syscall() makes it: no frame (a variadic function in C saves every
 * argument register, 176 bytes of stack, and the allocator's own system
 * calls come here too: a forked child's first malloc on a signal stack took
 * 170 bytes more, tests/preload/sigaltstack.test.sh). The seventh argument
 * slot is the caller's, read and not written (a caller of fewer arguments
 * has its own data there): syscall_fork gets a copy of it. */
#define JM_STR2(x) #x
#define JM_STR(x) JM_STR2(x)
long jm__syscall_fork(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
long jm__syscall_error(long rc);
__asm__(
    "	.pushsection .text\n"
    "	.globl syscall\n"
    "	.weak syscall\n"
    "	.type syscall,@function\n"
    "syscall:\n"
    "	.cfi_startproc\n"
    "	endbr64\n"
    "	cmpq $" JM_STR(SYS_clone) ", %rdi\n"
    "	je 2f\n"
    "	cmpq $" JM_STR(SYS_fork) ", %rdi\n"
    "	je 2f\n"
    "	cmpq $" JM_STR(SYS_clone3) ", %rdi\n"
    "	je 2f\n"
    "	movq %rdi, %rax\n"
    "	movq %rsi, %rdi\n"
    "	movq %rdx, %rsi\n"
    "	movq %rcx, %rdx\n"
    "	movq %r8, %r10\n"
    "	movq %r9, %r8\n"
    "	movq 8(%rsp), %r9\n"
    "	syscall\n"
    "	cmpq $-4095, %rax\n"
    "	jae 1f\n"
    "	ret\n"
    "1:	movq %rax, %rdi\n"
    "	jmp jm__syscall_error\n"
    "2:	pushq 8(%rsp)\n"
    "	.cfi_adjust_cfa_offset 8\n"
    "	call jm__syscall_fork\n"
    "	addq $8, %rsp\n"
    "	.cfi_adjust_cfa_offset -8\n"
    "	ret\n"
    "	.cfi_endproc\n"
    "	.size syscall, .-syscall\n"
    "	.popsection\n");

long jm__syscall_error(long rc)
{
	errno = (int)-rc;
	return -1;
}

long jm__syscall_fork(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	long rc;
	if (copies_memory(nr, a1, a2)) {
		int saved = errno;
		jm__fork_prepare();
		rc = jm__syscall6(nr, a1, a2, a3, a4, a5, a6);
		if (rc == 0)
			jm__fork_child();
		else
			jm__fork_parent();
		errno = saved;
	} else {
		rc = jm__syscall6(nr, a1, a2, a3, a4, a5, a6);
	}
	if ((unsigned long)rc > -4096UL)
		return jm__syscall_error(rc);
	return rc;
}

/*
 * vfork() under valgrind. Valgrind runs a vfork as a fork (it cannot share
 * the address space between two of its guests), and glibc runs no fork
 * handler around vfork: the child, a copy without the segment (mapped
 * MADV_DONTFORK), took a SIGSEGV at its first allocation, before its
 * exec. Every command a dash started under valgrind with the allocator
 * preloaded died so (`valgrind --trace-children=yes sh -c 'true; true'`).
 * Under valgrind (its client request RUNNING_ON_VALGRIND, asked once at
 * load: a no-op sequence of rotations natively) vfork is therefore glibc's
 * fork, which runs the handlers, and the child is what valgrind made of it
 * anyway. Otherwise glibc's own vfork, tail-called: the caller's return
 * address and stack are its, untouched (tests/preload/valgrind_vfork).
 */
static const unsigned long vg_running_req[6] = { 0x1001 };
JM_HIDDEN unsigned char jm__vfork_forks;   /* under valgrind: vfork is fork */

static unsigned long running_on_valgrind(void)
{
	unsigned long r = 0;
	__asm__ volatile("rolq $3, %%rdi; rolq $13, %%rdi\n\t"
	    "rolq $61, %%rdi; rolq $51, %%rdi\n\t"
	    "xchgq %%rbx, %%rbx"
	    : "+d"(r) : "a"(&vg_running_req[0]) : "cc", "memory", "rdi");
	return r;
}

__asm__(
    "	.pushsection .text\n"
    "	.globl vfork\n"
    "	.weak vfork\n"
    "	.type vfork,@function\n"
    "vfork:\n"
    "	.cfi_startproc\n"
    "	endbr64\n"
    "	cmpb $0, jm__vfork_forks(%rip)\n"
    "	jne 1f\n"
    "	jmp __vfork@PLT\n"
    "1:	jmp __fork@PLT\n"
    "	.cfi_endproc\n"
    "	.size vfork, .-vfork\n"
    "	.popsection\n");

/* glibc's (2.34 and later), found at load: not from a signal handler. */
static pid_t (*libc_Fork)(void);

__attribute__((constructor)) static void rawfork_ctor(void)
{
	libc_Fork = (pid_t (*)(void))dlsym(RTLD_NEXT, "_Fork");
	jm__vfork_forks = running_on_valgrind() != 0;
}

JM_EXPORT __attribute__((weak)) pid_t _Fork(void)
{
	pid_t (*f)(void) = libc_Fork;
	if (f == NULL) {
		errno = ENOSYS;
		return -1;
	}
	jm__fork_prepare();
	pid_t rc = f();
	int saved = errno;
	if (rc == 0)
		jm__fork_child();
	else
		jm__fork_parent();
	errno = saved;
	return rc;
}

#endif
