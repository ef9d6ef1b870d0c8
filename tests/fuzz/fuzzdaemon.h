/*
 * fuzzdaemon.h: a real jmstatd behind the fuzz targets of its parsers
 * (request_fuzz.c, config_fuzz.c, http_fuzz.c), built from every jmstatd
 * source but main.c and log.c.
 *
 * fuzz_daemon_start() makes a stats directory holding valid synthetic
 * segments (tests/fuzz/segsynth.h) of live processes: this process, and
 * pid 1 when it runs as root (header uid 0, start time read from /proc),
 * and samples it twice, so that every command, page and rule walks real
 * processes with rates (and site tables). The log functions are replaced by ones that format
 * each line (so that a bad format argument still shows) and print it only
 * with FUZZ_LOG=1: the fuzzers' output stays readable.
 *
 * Header-only, all static: each target includes it once.
 */
#ifndef JM_FUZZDAEMON_H
#define JM_FUZZDAEMON_H

#include "jmstatd.h"
#include "segsynth.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct jmd fuzz_daemon;
static char fuzz_dir[] = "/tmp/jm-fuzz.XXXXXX";
static bool fuzz_log_on;

static void fuzz_require(int cond)
{
	if (!cond)
		__builtin_trap();
}

/* ------------------------------------------------------------ log.c */

static void fuzz_log_line(const char *fmt, va_list ap)
{
	char buf[1024];
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	if (fuzz_log_on && n >= 0)
		fprintf(stderr, "jmstatd: %s\n", buf);
}

void jmd_log_set_verbose(bool verbose)
{
}

bool jmd_log_verbose(void)
{
	return fuzz_log_on;
}

void jmd_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fuzz_log_line(fmt, ap);
	va_end(ap);
}

void jmd_debug(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fuzz_log_line(fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ the daemon */

static char fuzz_written[2][256];    /* the files written, to remove at exit */
static unsigned fuzz_nwritten;

static void fuzz_write_segment(const struct synth *p)
{
	char *path = fuzz_written[fuzz_nwritten++ % 2];
	size_t len;
	unsigned char *buf = synth_build(p, &len);
	int fd;

	synth_name(path, sizeof fuzz_written[0], fuzz_dir, p);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	fuzz_require(fd >= 0 && write(fd, buf, len) == (ssize_t)len && close(fd) == 0);
	free(buf);
}

static void fuzz_remove_dir(void)
{
	for (unsigned i = 0; i < fuzz_nwritten && i < 2; i++)
		unlink(fuzz_written[i]);
	rmdir(fuzz_dir);
}

/* nlive: the processes the daemon shows once it has started. */
static struct jmd *fuzz_daemon_start(unsigned *nlive)
{
	struct jmd *d = &fuzz_daemon;
	struct synth self = synth_self(JMSTAT_NBINS, 2, 4);

	self.nsites_max = 8;      /* site tables, for the sites command */
	self.nsites_hw = 5;
	self.nmodules_max = 4;    /* module tables, for the pprof paths */
	self.nmodules = 3;
	fuzz_log_on = getenv("FUZZ_LOG") != NULL;
	fuzz_require(mkdtemp(fuzz_dir) != NULL);
	atexit(fuzz_remove_dir);
	fuzz_write_segment(&self);
	if (getuid() == 0) {
		struct synth init = synth_self(JMSTAT_NBINS, 4, 2);

		init.pid = 1;
		init.nsites_max = 30;
		init.nsites_hw = 30;
		init.nmodules_max = 8;
		init.nmodules = 8;
		init.uid = 0;
		init.start_time = synth_start_time(1);
		fuzz_write_segment(&init);
	}
	d->loop = uv_default_loop();
	d->opt.stats_dir = fuzz_dir;
	d->opt.no_containers = true;   /* no other mount namespace: deterministic */
	d->opt.interval_ms = 1000;
	d->opt.history_ms = JMD_HISTORY_MS;
	d->dirfd = open(fuzz_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fuzz_require(d->dirfd >= 0);
	fuzz_require(jmd_sample_init(d) == 0);
	fuzz_require(jmd_alerts_init(d) == 0 && jmd_config_builtin(d) == 0);
	/* Two ticks: every process has a sample before, so rates exist. */
	jmd_tick(d);
	jmd_tick(d);
	*nlive = getuid() == 0 ? 2u : 1u;
	fuzz_require(d->nlive == *nlive);
	return d;
}

#endif
