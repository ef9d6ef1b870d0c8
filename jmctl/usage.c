/*
 * usage.c: the usage line of each command, and the usage error every
 * command and main.c print (jm_usage_error, jm_parse_pid); main.c keeps
 * the full help text. Commands call this file, never main.c.
 */
#include "jmctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *jm_usage_for(const char *cmd)
{
	if (!cmd)
		return "usage: jmctl [--socket PATH] [--json] COMMAND [ARGS]   (jmctl --help for more)\n";
	if (strcmp(cmd, "ps") == 0)
		return "usage: jmctl [--socket PATH] [--json] ps [-s KEY] [-r] [-u USER] [-e EXE] "
		       "[--container ID] [-d SECS [-n N]]\n";
	if (strcmp(cmd, "history") == 0)
		return "usage: jmctl [--socket PATH] [--json] history [PID [-s START]] [-n N]\n";
	if (strcmp(cmd, "status") == 0)
		return "usage: jmctl [--socket PATH] [--json] status\n";
	if (strcmp(cmd, "stats") == 0)
		return "usage: jmctl [--socket PATH] [--json] stats PID [-s KEY] [-r] [-a]\n";
	if (strcmp(cmd, "top") == 0)
		return "usage: jmctl [--socket PATH] [--json] top [-p PID] [-d SECS] [-s KEY] [-r] [-b] [-n N]\n";
	if (strcmp(cmd, "alerts") == 0)
		return "usage: jmctl [--socket PATH] [--json] alerts [-s KEY] [-r]\n";
	if (strcmp(cmd, "sites") == 0)
		return "usage: jmctl [--socket PATH] [--json] sites PID [-n N] [-w] [--pprof FILE|-]\n";
	return jm_usage_for(NULL);
}

int jm_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("jmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(jm_usage_for(cmd), stderr);
	return -EINVAL;
}

long jm_parse_pid(const char *cmd, const char *arg)
{
	char *end;
	long pid;

	errno = 0;
	pid = strtol(arg, &end, 10);
	if (errno || end == arg || *end || pid <= 0 || pid > 0x7fffffffL) {
		jm_usage_error(cmd, "'%s' is not a process id", arg);
		return -1;
	}
	return pid;
}
