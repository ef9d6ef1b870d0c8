/*
 * config.c: the config file (--config FILE), read at start and on SIGHUP.
 *
 * The format is line-based: blank lines and lines whose first non-blank
 * character is '#' are ignored; every other line is a setting, handed to
 * the module that owns it (today only the alert engine, alerts.c). A file
 * with any bad line is refused as a whole: at start jmstatd exits, on a
 * reload it logs why and keeps the settings in force.
 */
#include "jmstatd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_LINE 4096

int jmd_config_load(struct jmd *d, const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		int err = errno;
		jmd_log("cannot read the config file %s: %s", path, strerror(err));
		return -err;
	}
	jmd_alerts_config_begin();
	char line[CONFIG_MAX_LINE];
	unsigned lineno = 0;
	int rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		size_t len = strlen(line);
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			jmd_log("%s:%u: line longer than %d bytes", path, lineno, CONFIG_MAX_LINE - 2);
			rc = -EINVAL;
			break;
		}
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
		               line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			continue;
		char err[256];
		if (jmd_alerts_config_line(s, err, sizeof(err)) != 0) {
			jmd_log("%s:%u: %s", path, lineno, err);
			rc = -EINVAL;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		jmd_log("reading %s: %s", path, strerror(errno));
		rc = -EIO;
	}
	fclose(f);
	jmd_alerts_config_commit(rc == 0);
	if (rc == 0)
		jmd_debug("config %s loaded", path);
	return rc;
}
