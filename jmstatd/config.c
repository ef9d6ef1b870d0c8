/*
 * config.c: the config file (--config FILE), read at start and on SIGHUP.
 *
 * The format (docs/config.md) is an INI-like text:
 *
 *   # a comment: a line whose first non-blank character is '#' or ';'
 *   command = /usr/local/bin/notify      global settings come first,
 *                                        or in a [global] section
 *   [rule frag_high]                     a section: TYPE and a NAME
 *   kind = fragmentation                 KEY = VALUE: the value runs to the
 *   ratio = 0.5                          end of the line, blanks around it
 *                                        taken off, no quoting
 *
 * This file owns the syntax only: it splits lines into sections and
 * settings and hands each to the module that owns it (today only the alert
 * engine, alerts.c), which checks the names and values; a section is
 * checked as a whole when it ends. A file with any bad line is refused
 * whole, every error logged as FILE:LINE: reason: at start jmstatd exits,
 * on a reload it logs why and the settings in force stay (alerts.c commits
 * or drops what it was given); --check-config FILE lists the errors and
 * exits 1, or says the file is good and exits 0.
 *
 * The built-in defaults (no --config) are a text in this same format
 * (alerts.c's jmd_alerts_builtin_rules), loaded by jmd_config_start() as a
 * file would be. The value forms (sizes, durations, ratios) are values.c's:
 * calls go one way, config.c -> alerts.c -> values.c.
 */
#include "jmstatd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_LINE 4096

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t len = strlen(s);
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' ||
	               s[len - 1] == '\n'))
		s[--len] = '\0';
	return s;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

/* "[TYPE NAME]" or "[TYPE]": 0, or -EINVAL with err set. */
static int parse_section(char *s, char **type, char **name, char *err, size_t errlen)
{
	size_t len = strlen(s);
	if (s[len - 1] != ']') {
		snprintf(err, errlen, "a section header must end with ']'");
		return -EINVAL;
	}
	s[len - 1] = '\0';
	s = trim(s + 1);
	char *sp = s;
	while (*sp && *sp != ' ' && *sp != '\t')
		sp++;
	*name = NULL;
	if (*sp) {
		*sp = '\0';
		*name = trim(sp + 1);
	}
	*type = s;
	if (**type == '\0') {
		snprintf(err, errlen, "an empty section header");
		return -EINVAL;
	}
	for (const char *c = *name ? *name : ""; *c; c++) {
		if (!name_char(*c)) {
			snprintf(err, errlen, "a section name may hold only letters, digits, '_', '-' "
			         "and '.'");
			return -EINVAL;
		}
	}
	return 0;
}

/* "KEY = VALUE": 0, or -EINVAL with err set. */
static int parse_setting(char *s, char **key, char **value, char *err, size_t errlen)
{
	char *eq = strchr(s, '=');
	if (!eq) {
		snprintf(err, errlen, "expected 'key = value' or '[section]', not '%.60s'", s);
		return -EINVAL;
	}
	*eq = '\0';
	*key = trim(s);
	*value = trim(eq + 1);
	if (**key == '\0') {
		snprintf(err, errlen, "a setting without a key");
		return -EINVAL;
	}
	for (const char *c = *key; *c; c++) {
		if (!name_char(*c)) {
			snprintf(err, errlen, "bad key '%.60s': letters, digits, '_', '-', '.' only", *key);
			return -EINVAL;
		}
	}
	return 0;
}

/* Reads every line of f; name is what error lines call it. Every error of
 * the file is logged (d->config_errors counts them), not only the first:
 * after a bad line the next one is read, after a bad section header the
 * lines up to the next header are skipped (they would be checked against
 * a section that is not there); a section whose kind is bad is not
 * checked as a whole (its settings would all be "for another kind"). */
static int config_read(struct jmd *d, FILE *f, const char *name)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	char err[320];
	unsigned lineno = 0, section_line = 0, errors = 0;
	bool skipping = false, section_bad = false;

	jmd_alerts_config_begin(d);
	while ((len = getline(&line, &cap, f)) != -1) {
		lineno++;
		if (len > CONFIG_MAX_LINE) {
			jmd_log("%s:%u: line longer than %d bytes", name, lineno, CONFIG_MAX_LINE);
			errors++;
			continue;
		}
		if (memchr(line, '\0', (size_t)len) != NULL) {
			jmd_log("%s:%u: a NUL byte in the line", name, lineno);
			errors++;
			continue;
		}
		char *s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		err[0] = '\0';
		if (*s == '[') {
			char *type, *sname;
			if (section_line && jmd_alerts_config_section_end(d, err, sizeof(err)) != 0 &&
			    !section_bad) {
				jmd_log("%s:%u: %s", name, section_line, err);
				errors++;
			}
			section_line = 0;
			section_bad = false;
			err[0] = '\0';
			if (parse_section(s, &type, &sname, err, sizeof(err)) != 0 ||
			    jmd_alerts_config_section(d, type, sname, err, sizeof(err)) != 0) {
				jmd_log("%s:%u: %s", name, lineno, err);
				errors++;
				skipping = true;
				continue;
			}
			skipping = false;
			section_line = lineno;
			continue;
		}
		if (skipping)
			continue;
		char *key, *value;
		if (parse_setting(s, &key, &value, err, sizeof(err)) != 0) {
			jmd_log("%s:%u: %s", name, lineno, err);
			errors++;
		} else if (jmd_alerts_config_set(d, key, value, err, sizeof(err)) != 0) {
			jmd_log("%s:%u: %s", name, lineno, err);
			errors++;
			if (strcmp(key, "kind") == 0)
				section_bad = true;
		}
	}
	int rc = 0;
	if (ferror(f)) {
		jmd_log("cannot read the config file %s: %s", name, strerror(errno));
		rc = -EIO;
	}
	if (rc == 0 && section_line && jmd_alerts_config_section_end(d, err, sizeof(err)) != 0 &&
	    !section_bad) {
		jmd_log("%s:%u: %s", name, section_line, err);
		errors++;
	}
	if (rc == 0 && errors)
		rc = -EINVAL;
	d->config_errors = errors;
	free(line);
	jmd_alerts_config_commit(d, rc == 0);
	return rc;
}

/* reload: a SIGHUP's, whose caller says why a file not opened for want
 * of descriptors was not read (the daemon's state, not the file's: a
 * SIGHUP at the limit, each one, was "cannot read the config file FILE:
 * Too many open files"). */
static int config_load(struct jmd *d, const char *path, bool reload)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		int err = errno;
		if (!reload || (err != EMFILE && err != ENFILE))
			jmd_log("cannot read the config file %s: %s", path, strerror(err));
		return -err;
	}
	int rc = config_read(d, f, path);
	fclose(f);
	if (rc == 0)
		jmd_debug("config %s loaded", path);
	return rc;
}

int jmd_config_load(struct jmd *d, const char *path)
{
	return config_load(d, path, false);
}

int jmd_config_reload(struct jmd *d, const char *path)
{
	return config_load(d, path, true);
}

int jmd_config_load_text(struct jmd *d, const char *name, const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	if (!f)
		return -errno;
	int rc = config_read(d, f, name);
	fclose(f);
	return rc;
}

/* The rules in force without --config: alerts.c's built-in text, loaded
 * as a file would be. */
int jmd_config_builtin(struct jmd *d)
{
	return jmd_config_load_text(d, "(built-in rules)", jmd_alerts_builtin_rules);
}

int jmd_config_start(struct jmd *d)
{
	return d->opt.config_path ? jmd_config_load(d, d->opt.config_path) : jmd_config_builtin(d);
}
