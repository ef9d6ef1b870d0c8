/*
 * values.c: the value forms of jmstatd's settings, one rule for the config
 * file (alerts.c checks each setting with them) and the command line
 * (main.c: --interval, --history): sizes (64MiB, 1GB, 4096), durations
 * (500ms, 30s, 10m, 1h; bare: seconds) and ratios (0.5, 50%). Units are
 * matched exactly, case sensitive, blanks allowed before them.
 */
#include "jmstatd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A number with an optional suffix from units[] (matched exactly, case
 * sensitive, blanks allowed before it); *scale gets that unit's factor. */
struct unit {
	const char *name;
	double factor;
};

static int parse_scaled(const char *s, const struct unit *units, double dflt, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno == ERANGE || !(v == v) || v < 0 || v > 1e18)
		return -EINVAL;
	while (*end == ' ' || *end == '\t')
		end++;
	double f = dflt;
	if (*end) {
		const struct unit *u;
		for (u = units; u->name; u++)
			if (strcmp(end, u->name) == 0)
				break;
		if (!u->name)
			return -EINVAL;
		f = u->factor;
	}
	*out = v * f;
	return 0;
}

int jmd_parse_bytes(const char *s, double *out)
{
	static const struct unit units[] = {
		{ "B", 1.0 },
		{ "KiB", 1024.0 }, { "MiB", 1048576.0 }, { "GiB", 1073741824.0 },
		{ "TiB", 1099511627776.0 },
		{ "kB", 1e3 }, { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { "TB", 1e12 },
		{ NULL, 0 },
	};
	return parse_scaled(s, units, 1.0, out);
}

int jmd_parse_duration(const char *s, double *out)
{
	static const struct unit units[] = {
		{ "ms", 0.001 }, { "s", 1.0 }, { "m", 60.0 }, { "min", 60.0 }, { "h", 3600.0 },
		{ NULL, 0 },
	};
	return parse_scaled(s, units, 1.0, out);
}

int jmd_parse_ratio(const char *s, double *out)
{
	static const struct unit units[] = { { "%", 0.01 }, { NULL, 0 } };
	double v;
	if (parse_scaled(s, units, 1.0, &v) != 0 || v > 1.0)
		return -EINVAL;
	*out = v;
	return 0;
}
