/*
 * jmd_test.h: what the daemon's unit tests (tests/unit/test_jmd_*.c) share.
 *
 * They link jmstatd's own objects, every one but main.c and log.c, as the
 * fuzz targets do (tests/fuzz/fuzzdaemon.h, tests/fuzz/lib.sh); this
 * header stands in for log.c, keeping every log line in a buffer that the
 * tests read, and wraps libuv's uv_spawn, recording each alert command the
 * daemon asks to start (program, arguments, environment) and starting a
 * program that does not exist instead, so that no test runs a shell. A daemon here is a struct jmd with an empty
 * stats directory and processes the test builds by hand (jmdt_proc_new),
 * put in its live list: the pure parts (the config parser, the alert state
 * machine, the per-exe counters of /metrics) run on them as the tick would
 * run them. Every daemon made here is freed at exit, as jmstatd frees its
 * own at the end of main(), so that `make check SANITIZE=address` finds a
 * leak of the daemon's code, not of the tests'.
 *
 * Header-only; each test includes it once.
 */
#ifndef JMD_TEST_H
#define JMD_TEST_H

#include "jmstatd.h"
#include "metrics.h"
#include "sample.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

/* ------------------------------------------------------------ log.c */

#define JMDT_LOG_MAX 65536
static char jmdt_log[JMDT_LOG_MAX];  /* every line since jmdt_log_clear() */
static size_t jmdt_log_len;

static void jmdt_log_clear(void)
{
	jmdt_log_len = 0;
	jmdt_log[0] = '\0';
}

static void jmdt_log_line(const char *fmt, va_list ap)
{
	char buf[1024];
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	if (n < 0)
		return;
	if (getenv("JMDT_LOG"))
		fprintf(stderr, "jmstatd: %s\n", buf);
	n = snprintf(jmdt_log + jmdt_log_len, sizeof jmdt_log - jmdt_log_len, "%s\n", buf);
	if (n > 0 && jmdt_log_len + (size_t)n < sizeof jmdt_log)
		jmdt_log_len += (size_t)n;
}

void jmd_log_init(void)
{
}

void jmd_log_set_plain(void)
{
}

void jmd_log_set_verbose(bool verbose)
{
}

bool jmd_log_verbose(void)
{
	return false;
}

void jmd_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	jmdt_log_line(fmt, ap);
	va_end(ap);
}

void jmd_debug(const char *fmt, ...)
{
}

/* Whether some line logged since jmdt_log_clear() contains s. */
static bool jmdt_logged(const char *s)
{
	return strstr(jmdt_log, s) != NULL;
}

#define assert_logged(s)                                                        \
	do {                                                                    \
		if (!jmdt_logged(s))                                            \
			fail_msg("not logged: \"%s\"; the log:\n%s", (s), jmdt_log); \
	} while (0)

/* ------------------------------------------------------------ uv_spawn */

#define JMDT_SPAWN_MAX 16
struct jmdt_spawn {
	char file[256];
	char cmd[512];            /* args[2] of /bin/sh -c CMD */
	char env[64][160];        /* its JMALLOC_ALERT_* variables */
	unsigned nenv;
};
static struct jmdt_spawn jmdt_spawns[JMDT_SPAWN_MAX];
static unsigned jmdt_nspawns;

int uv_spawn(uv_loop_t *loop, uv_process_t *handle, const uv_process_options_t *options)
{
	if (jmdt_nspawns < JMDT_SPAWN_MAX) {
		struct jmdt_spawn *s = &jmdt_spawns[jmdt_nspawns];
		memset(s, 0, sizeof(*s));
		snprintf(s->file, sizeof s->file, "%s", options->file);
		if (options->args && options->args[0] && options->args[1] && options->args[2])
			snprintf(s->cmd, sizeof s->cmd, "%s", options->args[2]);
		for (char **e = options->env; e && *e && s->nenv < 64; e++)
			if (strncmp(*e, "JMALLOC_ALERT_", 14) == 0)
				snprintf(s->env[s->nenv++], sizeof s->env[0], "%s", *e);
	}
	jmdt_nspawns++;
	/* libuv's own uv_spawn, of a program that does not exist: it fails at
	 * once with the handle set up as after any failed spawn (the daemon
	 * closes it), and nothing runs. */
	static int (*real_spawn)(uv_loop_t *, uv_process_t *, const uv_process_options_t *);
	if (!real_spawn)
		*(void **)&real_spawn = dlsym(RTLD_NEXT, "uv_spawn");
	assert_non_null(real_spawn);
	uv_process_options_t o = *options;
	char *args[] = { "/nonexistent/jmdt-never-run", NULL };
	o.file = args[0];
	o.args = args;
	return real_spawn(loop, handle, &o);
}

/* The value of variable name in spawn s, or NULL. */
static const char *jmdt_spawn_env(const struct jmdt_spawn *s, const char *name)
{
	size_t n = strlen(name);
	for (unsigned i = 0; i < s->nenv; i++)
		if (strncmp(s->env[i], name, n) == 0 && s->env[i][n] == '=')
			return s->env[i] + n + 1;
	return NULL;
}

/* ------------------------------------------------------------ a daemon */

static char jmdt_dir[] = "/tmp/jmdt.XXXXXX";

static void jmdt_remove_dir(void)
{
	rmdir(jmdt_dir);
}

#define JMDT_DAEMONS_MAX 1024
static struct jmd *jmdt_daemons[JMDT_DAEMONS_MAX];
static unsigned jmdt_ndaemons;

/* At exit, before LeakSanitizer looks: what main() frees at its end, and
 * the processes left in the lists. */
static void jmdt_free_daemons(void)
{
	for (unsigned i = 0; i < jmdt_ndaemons; i++) {
		struct jmd *d = jmdt_daemons[i];
		jmd_alerts_fini(d);
		jmd_metrics_fini(d);
		jmd_entries_free(d);
		jmd_sample_fini(d);
		jmd_commands_fini(d);
		close(d->dirfd);
		free(d);
	}
	jmdt_ndaemons = 0;
}

/* A daemon with an empty stats directory, no process, its alert engine on
 * the built-in rules, and with metrics (the per-exe table) when asked. */
static struct jmd *jmdt_daemon(bool metrics)
{
	struct jmd *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	assert_true(jmdt_ndaemons < JMDT_DAEMONS_MAX);
	static bool made;   /* not jmdt_dir's first X: mkdtemp may put an X there */
	if (!made) {
		assert_non_null(mkdtemp(jmdt_dir));
		atexit(jmdt_remove_dir);
		atexit(jmdt_free_daemons);
		made = true;
	}
	jmdt_daemons[jmdt_ndaemons++] = d;
	d->loop = uv_default_loop();
	d->opt.stats_dir = jmdt_dir;
	d->opt.interval_ms = 1000;
	d->opt.history_ms = JMD_HISTORY_MS;
	d->dirfd = open(jmdt_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(d->dirfd >= 0);
	assert_int_equal(jmd_sample_init(d), 0);
	assert_int_equal(jmd_alerts_init(d), 0);
	assert_int_equal(jmd_config_builtin(d), 0);
	if (metrics) {
		d->metrics = calloc(1, sizeof(*d->metrics));
		assert_non_null(d->metrics);
	}
	d->now = 1.8e9;
	return d;
}

/* A live process built by hand: pid, start, exe; nbins bins of sizes 16,
 * 32, ... with no counters; add it to d's live list with jmdt_proc_live. */
static struct jmd_proc *jmdt_proc_new(pid_t pid, uint64_t start_ticks, const char *exe,
                                      uint32_t nbins)
{
	struct jmd_proc *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->pid = pid;
	p->uid = 1000;
	p->start_ticks = start_ticks;
	p->start_time = 1.7e9;
	snprintf(p->exe, sizeof p->exe, "%s", exe);
	p->nbins = nbins;
	p->bins = calloc(nbins ? nbins : 1, sizeof(*p->bins));
	assert_non_null(p->bins);
	for (uint32_t b = 0; b < nbins; b++) {
		p->bins[b].size = 16 * (b + 1);
		p->bins[b].regs_per_run = 4096 / p->bins[b].size;
	}
	p->pidfd = -1;
	p->segfd = -1;
	p->tot.processes = 1;
	return p;
}

static void jmdt_proc_live(struct jmd *d, struct jmd_proc *p)
{
	p->prev = NULL;
	p->next = d->live;
	if (d->live)
		d->live->prev = p;
	d->live = p;
	d->nlive++;
}

/* jmdt_proc_new() then jmdt_proc_live(). */
static struct jmd_proc *jmdt_proc_add(struct jmd *d, pid_t pid, uint64_t start_ticks,
                                      const char *exe, uint32_t nbins)
{
	struct jmd_proc *p = jmdt_proc_new(pid, start_ticks, exe, nbins);
	jmdt_proc_live(d, p);
	return p;
}

/* Takes p out of the live list (its process exited); the caller frees it. */
static void jmdt_proc_gone(struct jmd *d, struct jmd_proc *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		d->live = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->next = p->prev = NULL;
	d->nlive--;
}

static void jmdt_proc_free(struct jmd_proc *p)
{
	free(p->bins);
	free(p);
}

#endif
