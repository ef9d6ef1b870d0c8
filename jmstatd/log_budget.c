/*
 * log_budget.c: a line that a user can make the daemon write again and
 * again, each the price of a cheap act of theirs (a client closed for a
 * request too long, a copy of a dead segment put back, a container made,
 * an alert command that fails for their process), goes through a budget of
 * its kind: a burst of JMD_LOG_BURST, then one every JMD_LOG_EVERY_MS; the
 * lines past it go to the verbose log, and the next line logged says how
 * many were left out. Apart from log.c, whose lines the unit tests and
 * fuzz targets replace, so that they keep these.
 */
#include "jmstatd.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void jmd_log_within(struct jmd_log_budget *b, const char *fmt, ...)
{
	char msg[1536];   /* as long as an alert's line (alerts_notify.c) */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	uint64_t now = mono_ns();
	if (b->last_ns)
		b->tokens += (double)(now - b->last_ns) / 1e6 / JMD_LOG_EVERY_MS;
	else
		b->tokens = JMD_LOG_BURST;
	if (b->tokens > JMD_LOG_BURST)
		b->tokens = JMD_LOG_BURST;
	b->last_ns = now;
	if (b->tokens < 1.0) {
		b->left_out++;
		jmd_debug("%s", msg);
		return;
	}
	b->tokens -= 1.0;
	if (b->left_out)
		jmd_log("%s (and %lu more lines about %s left out before this one)", msg, b->left_out,
		        b->about);
	else
		jmd_log("%s", msg);
	b->left_out = 0;
}

/* What to do about it, for the log and for a client refused. */
static const char *no_fds_advice(int err_no, char *buf, size_t len)
{
	struct rlimit rl;
	if (err_no == ENFILE)
		snprintf(buf, len, "the system is out of file descriptors (ENFILE: fs.file-max "
		         "reached)");
	else if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		snprintf(buf, len, "jmstatd is out of file descriptors (its limit, RLIMIT_NOFILE, "
		         "is %llu: raise it with LimitNOFILE= in its unit or ulimit -n)",
		         (unsigned long long)rl.rlim_cur);
	else
		snprintf(buf, len, "jmstatd is out of file descriptors (EMFILE)");
	return buf;
}

void jmd_log_no_fds(int err_no, const char *fmt, ...)
{
	static uint64_t last_ns;
	static unsigned long left_out;
	char what[512], advice[192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	uint64_t now = mono_ns();
	no_fds_advice(err_no, advice, sizeof(advice));
	if (last_ns && now - last_ns < (uint64_t)JMD_LOG_EVERY_MS * 1000000u) {
		left_out++;
		jmd_debug("%s: %s", advice, what);
		return;
	}
	last_ns = now;
	if (left_out)
		jmd_log("%s: %s (and %lu more failures for want of file descriptors since the "
		        "last such line)", advice, what, left_out);
	else
		jmd_log("%s: %s", advice, what);
	left_out = 0;
}

const char *jmd_no_fds_reply(int err_no)
{
	static char buf[256];
	char advice[192];
	snprintf(buf, sizeof(buf), "%s; try again later", no_fds_advice(err_no, advice,
	         sizeof(advice)));
	return buf;
}
