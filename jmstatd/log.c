/*
 * log.c: one line per event on stderr, "jmstatd: ...", which the journal
 * picks up under systemd. Each line is formatted into a buffer and written
 * with one write(2), so that lines never interleave. jmd_debug() lines
 * appear only with --verbose.
 */
#include "jmstatd.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool log_verbose;

void jmd_log_set_verbose(bool verbose)
{
	log_verbose = verbose;
}

bool jmd_log_verbose(void)
{
	return log_verbose;
}

static void log_line(const char *fmt, va_list ap)
{
	char buf[1024];
	size_t len = (size_t)snprintf(buf, sizeof(buf), "jmstatd: ");
	int n = vsnprintf(buf + len, sizeof(buf) - len - 1, fmt, ap);
	if (n < 0)
		n = 0;
	len += (size_t)n;
	if (len > sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	buf[len++] = '\n';
	ssize_t r = write(STDERR_FILENO, buf, len);
	(void)r;
}

void jmd_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line(fmt, ap);
	va_end(ap);
}

void jmd_debug(const char *fmt, ...)
{
	if (!log_verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_line(fmt, ap);
	va_end(ap);
}
