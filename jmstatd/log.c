/*
 * log.c: one line per event on stderr, "jmstatd: ...", which the journal
 * picks up under systemd. Each line is formatted into a buffer and written
 * with one write(2), so that lines never interleave. jmd_debug() lines
 * appear only with --verbose.
 *
 * A line starts with the local time ("2026-12-03T11:20:00.123+0100
 * jmstatd: ..."), unless stderr is the journal's stream (JOURNAL_STREAM
 * names its device and inode, as systemd sets it), which stamps lines
 * itself, or the log is plain (jmd_log_set_plain(): --check-config, whose
 * lines are a report, not a log).
 *
 * The budgets of the lines a user can cause at will: log_budget.c.
 */
#include "jmstatd.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static bool log_verbose;
static bool log_stamped;

void jmd_log_init(void)
{
	log_stamped = true;
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
		log_stamped = false;
}

void jmd_log_set_plain(void)
{
	log_stamped = false;
}

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
	size_t len = 0;
	if (log_stamped) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		len = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
		len += (size_t)snprintf(buf + len, 8, ".%03ld", ts.tv_nsec / 1000000);
		len += strftime(buf + len, 16, "%z ", &tm);
	}
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "jmstatd: ");
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
