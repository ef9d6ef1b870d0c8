/*
 * format.c: the byte formatting jmstatd and jmctl share (format.h).
 */
#include "format.h"

#include <math.h>
#include <stdio.h>

const char *jm_fmt_three_digits(char *buf, size_t size, double v, const char *unit)
{
	if (v < 9.995)
		snprintf(buf, size, "%.2f%s", v, unit);
	else if (v < 99.95)
		snprintf(buf, size, "%.1f%s", v, unit);
	else
		snprintf(buf, size, "%.0f%s", v, unit);
	return buf;
}

const char *jm_fmt_bytes(char *buf, size_t size, double bytes)
{
	static const char *const units[] = { " KiB", " MiB", " GiB", " TiB", " PiB" };
	int u = -1;

	if (bytes < 0 || !isfinite(bytes))
		bytes = 0;
	if (bytes < 1024) {
		snprintf(buf, size, "%.0f B", bytes);
		return buf;
	}
	/* 1023.9 KiB would print as "1024 KiB": move up a unit first. */
	while (u < 4 && bytes >= 999.5) {
		bytes /= 1024;
		u++;
	}
	return jm_fmt_three_digits(buf, size, bytes, units[u]);
}
