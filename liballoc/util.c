/*
 * util.c: what the allocator needs from libc without touching the heap:
 * a small printf-like formatter writing to a stack buffer, diagnostics on
 * stderr with write(2), the misuse report that ends in abort(), a clock,
 * and whole-file reads through raw open/read.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

struct out {
	char *buf;
	size_t len;
	size_t pos;
};

static void put(struct out *o, char c)
{
	if (o->pos + 1 < o->len)
		o->buf[o->pos] = c;
	o->pos++;
}

static void put_str(struct out *o, const char *s)
{
	if (s == NULL)
		s = "(null)";
	while (*s)
		put(o, *s++);
}

static void put_uint(struct out *o, unsigned long long v, unsigned base)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n)
		put(o, tmp[--n]);
}

/* Supports %s %d %i %u %x %p %c %% with the l, ll and z modifiers. */
static int vformat(char *buf, size_t len, const char *fmt, va_list ap)
{
	struct out o = { buf, len, 0 };
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		int lng = 0;
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 's':
			put_str(&o, va_arg(ap, const char *));
			break;
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case 'd':
		case 'i': {
			long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
			if (v < 0) {
				put(&o, '-');
				put_uint(&o, -(unsigned long long)v, 10);
			} else {
				put_uint(&o, (unsigned long long)v, 10);
			}
			break;
		}
		case 'u':
		case 'x': {
			unsigned long long v = lng ? va_arg(ap, unsigned long long)
			                           : va_arg(ap, unsigned);
			put_uint(&o, v, *fmt == 'x' ? 16 : 10);
			break;
		}
		case 'p': {
			/* Not in a set-uid or set-gid program (AT_SECURE): its
			 * stderr is the invoking user's, and a misuse report
			 * gave them an address of its heap (as glibc's malloc
			 * did before 2.26); its forked children and parent
			 * share the layout (tests/preload/setuid_misuse.test.sh). */
			uintptr_t v = (uintptr_t)va_arg(ap, void *);
			if (getauxval(AT_SECURE)) {
				put_str(&o, "(an address, not shown in a set-uid program)");
			} else {
				put_str(&o, "0x");
				put_uint(&o, v, 16);
			}
			break;
		}
		case '%':
			put(&o, '%');
			break;
		default:
			put(&o, '?');
			break;
		}
	}
	if (len)
		buf[o.pos < len ? o.pos : len - 1] = '\0';
	return (int)o.pos;
}

int jm__format(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vformat(buf, len, fmt, ap);
	va_end(ap);
	return n;
}

static void write_all(const char *s, size_t n)
{
	int saved = errno;
	while (n) {
		ssize_t w = write(STDERR_FILENO, s, n);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			break;
		}
		s += w;
		n -= (size_t)w;
	}
	errno = saved;
}

static void vlog(const char *fmt, va_list ap)
{
	char buf[512];
	size_t pre = (size_t)jm__format(buf, sizeof(buf), "jmalloc[%d]: ", (int)getpid());
	int n = vformat(buf + pre, sizeof(buf) - pre - 1, fmt, ap);
	size_t len = pre + ((size_t)n < sizeof(buf) - pre - 2 ? (size_t)n : sizeof(buf) - pre - 2);
	buf[len++] = '\n';
	write_all(buf, len);
}

void jm__log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void jm__fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
	abort();
}

void jm__assert_fail(const char *cond, const char *file, int line)
{
	jm__fatal("assertion failed: %s (%s:%d)", cond, file, line);
}

void jm__report_misuse(const char *what, const void *ptr)
{
	jm__fatal("%s: %p; aborting", what, ptr);
}

/* Fork text: a forked child's handler reads it (bg.c), and on a page of
 * jm_text a child otherwise never runs it was a page fault in every child
 * (tests/preload/fork_text.test.sh). */
JM_FORK_TEXT uint64_t jm__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The same clock read by a system call made in line (internal.h), for a
 * forked child's handler: the vDSO's page of text is one the child has not
 * touched, a page fault in every child, also one that allocates nothing. */
JM_FORK_TEXT uint64_t jm__now_ns_child(void)
{
	struct timespec ts = { 0, 0 };
	(void)jm__sys_inline(SYS_clock_gettime, CLOCK_MONOTONIC_COARSE, (long)&ts, 0, 0, 0);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Every signal but a fault's or a trap's (SIGSEGV, SIGBUS, SIGILL,
 * SIGFPE, SIGTRAP, SIGSYS), which the kernel sends to the thread that
 * made it: one blocked there kills the process (a SIGBUS of a segment
 * cut by another process of the uid is handled: stats.c, seg_bus). */
void jm__signals_async(sigset_t *set)
{
	sigfillset(set);
	sigdelset(set, SIGSEGV);
	sigdelset(set, SIGBUS);
	sigdelset(set, SIGILL);
	sigdelset(set, SIGFPE);
	sigdelset(set, SIGTRAP);
	sigdelset(set, SIGSYS);
}

ssize_t jm__read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t got = 0;
	while (got + 1 < len) {
		ssize_t r = read(fd, buf + got, len - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}
