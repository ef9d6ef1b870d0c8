/*
 * main.c: jmctl's command line.
 *
 *   jmctl [--socket PATH] [--json] COMMAND [ARGS]
 *
 * Global options may come before the command or among its arguments. The
 * socket is --socket, else $JMSTATD_SOCKET, else the daemon's default. Each
 * command parses its own arguments (ps.c, stats.c, top.c, ...) and returns 0, a
 * negative errno after printing its message (exit 1), or -EINVAL after a
 * usage error (exit 2).
 */
#include "jmctl.h"
#include "socket.h"

#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
	"usage: jmctl [--socket PATH] [--json] COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  ps [-s KEY] [-r] [-u USER] [-e EXE] [--container ID] [-d SECS [-n N]]\n"
	"                              one line per process: pid, user, exe, allocated,\n"
	"                              active, mapped, fragmentation, allocations/s, age\n"
	"                              (and its container when one has one);\n"
	"                              -u/-e keep one user's or exe's (a glob) processes,\n"
	"                              --container those of the container ID (a prefix),\n"
	"                              -d prints a table every SECS seconds (N of them)\n"
	"  stats PID [-s KEY] [-r] [-a]\n"
	"                              one process: per-arena totals and the per-bin table\n"
	"  top [-p PID] [-d SECS] [-s KEY] [-r] [-b] [-n N]\n"
	"                              live per-bin usage (q quits, h for keys);\n"
	"                              -b -n N prints N frames as plain text\n"
	"  alerts [-s KEY] [-r]        alerts pending, firing and recently resolved\n"
	"  history [PID [-s START]] [-n N]\n"
	"                              the samples jmstatd keeps of a process (or of all\n"
	"                              yours): allocated, active, mapped, frag, rate;\n"
	"                              -s the one of PID that started at START\n"
	"  status                      the daemon jmctl talks to: socket, version,\n"
	"                              interval, segments read and not readable\n"
	"  sites PID [-n N] [-w] [--pprof FILE|-]\n"
	"                              the call sites holding the most memory (estimated\n"
	"                              from sampled allocations), symbolized; top N (10);\n"
	"                              frames cut at a terminal's width, -w whole;\n"
	"                              --pprof writes them all in pprof's format\n"
	"  help                        this text\n"
	"\n"
	"options:\n"
	"  --socket PATH   jmstatd's socket (default: $JMSTATD_SOCKET, else your own\n"
	"                  jmstatd's if one runs ($XDG_RUNTIME_DIR/jmstatd.sock or\n"
	"                  /tmp/jmstatd-UID/jmstatd.sock), else /run/jmstatd/jmstatd.sock);\n"
	"                  jmctl talks only to a jmstatd run by root or by you\n"
	"  --json          print jmstatd's JSON replies as they came (top: one line per update)\n"
	"  -h, --help      this text\n"
	"  -V, --version   jmctl's version\n"
	"\n"
	"sort keys (-s KEY; -r reverses):\n"
	"  ps:     pid user exe allocated active mapped dirty wasted frag rate age\n"
	"  stats:  size util wasted curregs inuse curruns nmalloc ndalloc nrequests rate\n"
	"  top:    bins: wasted util size inuse runs rate; a ps key opens the process view\n"
	"  alerts: since state rule pid value\n"
	"\n"
	"exit status: 0 success, 1 error (jmstatd not running, unknown pid, ...),\n"
	"2 bad usage. See jmctl(1).\n";

static int exit_status(int r)
{
	if (r == 0)
		return JMCTL_EXIT_OK;
	return r == -EINVAL ? JMCTL_EXIT_USAGE : JMCTL_EXIT_ERROR;
}

int main(int argc, char **argv)
{
	static const struct option global[] = {
		{ "socket",  required_argument, NULL, 'S' },
		{ "json",    no_argument,       NULL, 'j' },
		{ "help",    no_argument,       NULL, 'h' },
		{ "version", no_argument,       NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct jmctl_opts o = { 0 };
	char defsock[256];
	const char *cmd;
	int c, r;

	jm_json_budget_init();

	setlocale(LC_ALL, "");
	o.tty = isatty(STDOUT_FILENO);
	o.color = o.tty && !getenv("NO_COLOR");
	o.utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;

	/* Global options up to the command ('+': stop at the first operand). */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hV", global, NULL)) != -1) {
		switch (c) {
		case 'S': o.socket = optarg; o.socket_from = "--socket"; break;
		case 'j': o.json = true; break;
		case 'h': fputs(usage_text, stdout); return JMCTL_EXIT_OK;
		case 'V': printf("jmctl %s\n", JM_VERSION); return JMCTL_EXIT_OK;
		case ':':
			return exit_status(jm_usage_error(NULL, "option '%s' needs an argument",
			                                  argv[optind - 1]));
		default:
			return exit_status(jm_usage_error(NULL, "unknown option '%s'",
			                                  argv[optind - 1]));
		}
	}
	if (optind >= argc)
		return exit_status(jm_usage_error(NULL, "no command given"));
	cmd = argv[optind];

	/* Global options among the command's arguments: take them out, so that
	 * `jmctl ps --json` works as `jmctl --json ps` does. */
	int n = 1;
	for (int i = optind + 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			while (i < argc)
				argv[optind + n++] = argv[i++];
			break;
		}
		if (strcmp(a, "--json") == 0) {
			o.json = true;
		} else if (strncmp(a, "--socket=", 9) == 0) {
			o.socket = a + 9;
			o.socket_from = "--socket";
		} else if (strcmp(a, "--socket") == 0) {
			if (i + 1 >= argc)
				return exit_status(jm_usage_error(cmd, "option '--socket' needs an argument"));
			o.socket = argv[++i];
			o.socket_from = "--socket";
		} else {
			argv[optind + n++] = argv[i];
		}
	}
	int cargc = n;
	char **cargv = argv + optind;
	cargv[cargc] = NULL;

	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
		fputs(usage_text, stdout);
		return JMCTL_EXIT_OK;
	}
	if (!o.socket || !o.socket[0]) {
		const char *env = getenv("JMSTATD_SOCKET");

		if (env && env[0]) {
			o.socket = env;
			o.socket_from = "JMSTATD_SOCKET";
		} else {
			char own[256];

			jm_client_default_socket(defsock, sizeof(defsock));
			o.socket = defsock;
			o.socket_from = jm_socket_own(own, sizeof own) == 0 && strcmp(own, defsock) == 0 ?
			                "the default: your own jmstatd" : "the default: the system's jmstatd";
		}
	}
	/* A command's own -h/--help. */
	for (int i = 1; i < cargc; i++)
		if (strcmp(cargv[i], "-h") == 0 || strcmp(cargv[i], "--help") == 0) {
			fputs(jm_usage_for(cmd), stdout);
			return JMCTL_EXIT_OK;
		}

	optind = 0;  /* glibc: a full re-initialisation for the command's getopt */
	if (strcmp(cmd, "ps") == 0)
		r = jm_cmd_ps(&o, cargc, cargv);
	else if (strcmp(cmd, "stats") == 0)
		r = jm_cmd_stats(&o, cargc, cargv);
	else if (strcmp(cmd, "top") == 0)
		r = jm_cmd_top(&o, cargc, cargv);
	else if (strcmp(cmd, "alerts") == 0)
		r = jm_cmd_alerts(&o, cargc, cargv);
	else if (strcmp(cmd, "sites") == 0)
		r = jm_cmd_sites(&o, cargc, cargv);
	else if (strcmp(cmd, "status") == 0)
		r = jm_cmd_status(&o, cargc, cargv);
	else if (strcmp(cmd, "history") == 0)
		r = jm_cmd_history(&o, cargc, cargv);
	else
		r = jm_usage_error(NULL, "unknown command '%s'", cmd);
	if (fflush(stdout) != 0 && r == 0) {
		fprintf(stderr, "jmctl: cannot write the output: %s\n", strerror(errno));
		r = -EIO;
	}
	return exit_status(r);
}
