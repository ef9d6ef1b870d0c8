/*
 * alerts.c: the boundary of the alert engine.
 *
 * The engine (issue 7) owns alert rules and their states. Its contract with
 * the rest of the daemon:
 * - configuration: config.c hands it each meaningful line of the config
 *   file between jmd_alerts_config_begin() and jmd_alerts_config_commit();
 *   commit(false) after an error keeps the rules that were in force, so a
 *   bad reload (SIGHUP) changes nothing;
 * - evaluation: once per tick, jmd_alerts_evaluate() is called for every
 *   live process after it was sampled (its figures in struct jmd_proc), then
 *   jmd_alerts_tick_done() once; the engine must identify a process by
 *   (pid, start_ticks), never keep the pointer past the call, and log one
 *   line per state transition;
 * - listing: jmd_alerts_list() returns a new JSON array of the alerts the
 *   viewer may see (root: all; others: their uid's), each
 *   {"id","rule","state","pid","exe","since","value","threshold","message"}.
 *
 * This version has no rule kinds yet: the list is always empty and any rule
 * line in the config file is refused with a message saying so.
 */
#include "jmstatd.h"

#include <errno.h>
#include <stdio.h>

int jmd_alerts_init(struct jmd *d)
{
	return 0;
}

void jmd_alerts_fini(struct jmd *d)
{
}

void jmd_alerts_config_begin(void)
{
}

int jmd_alerts_config_line(const char *line, char *err, size_t errlen)
{
	snprintf(err, errlen, "unknown setting (this jmstatd has no alert rules yet): %.60s", line);
	return -EINVAL;
}

void jmd_alerts_config_commit(bool apply)
{
}

void jmd_alerts_evaluate(struct jmd *d, const struct jmd_proc *p)
{
}

void jmd_alerts_tick_done(struct jmd *d)
{
}

json_t *jmd_alerts_list(struct jmd *d, uid_t viewer)
{
	return json_array();
}
