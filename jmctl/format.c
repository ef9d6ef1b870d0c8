/*
 * format.c: how jmctl writes numbers and tables for people.
 *
 * Bytes as jmstatd writes them too (common/format.c: "1.50 KiB", "12.3 MiB"),
 * counts and rates with k/M/G suffixes, ratios as
 * percentages, ages as "3m12s". The table prints aligned columns separated
 * by two spaces; colour is added around the padded text, so alignment never
 * depends on escape sequences. A cell is as wide as the columns a terminal
 * gives its characters (jm_text_width: two for a CJK character, none for a
 * combining mark, as common/display.c measures them), not its bytes or
 * code points.
 *
 * jmctl prints no control byte it did not make: a process names itself
 * (its exe, its files and functions in its debug information), and root
 * reads those names in its terminal. jm_safe() writes C0 controls, DEL
 * and bytes that are not UTF-8 as \xNN, and the characters common/display.c
 * keeps off a terminal (C1 controls; the invisible characters that reorder
 * or hide text: the bidirectional overrides and isolates, zero-width
 * characters; a name with U+202E shows its end reversed in a terminal that
 * does bidi, as in "Trojan Source", CVE-2021-42574) as \uNNNN; heap
 * profiles keep the same characters out (common/pprof.c); and, as
 * \uNNNN too, a character whose width the locale cannot tell (every one
 * past ASCII in the C locale: jm_display_cols). Every table cell
 * goes through it, and so does every other line that holds a string from
 * a process or from the daemon (sites, alerts, stats, top, the daemon's
 * error messages). --json output is JSON, escaped by jansson with
 * JSON_ENSURE_ASCII (no byte past 0x7e: a C1 control or a bidi override
 * is \uNNNN there too).
 */
#include "jmctl.h"
#include "display.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A byte shown as it is, one column wide (common/display.c: ASCII but
 * the C0 controls and DEL): most of every name and every number of a
 * table, taken without decoding (a thousand processes' ps table measured
 * each of its 60,000 characters three times). */
static inline bool ascii_shown(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

/* What jm_safe() shows for the character at s: *piece (s itself, or esc
 * with its escape) of *len bytes, taking *cols columns. Returns the bytes
 * of s it stands for. */
static size_t shown_as(const unsigned char *s, char esc[16], const char **piece, size_t *len,
                       int *cols)
{
	size_t n;

	if (ascii_shown(*s)) {
		*piece = (const char *)s;
		*len = 1;
		*cols = 1;
		return 1;
	}
	uint32_t cp;
	enum jm_display d = jm_display_next(s, &n, &cp);
	int w = d == JM_DISPLAY_SHOW ? jm_display_cols(cp) : -1;

	if (w >= 0) {
		*piece = (const char *)s;
		*len = n;
		*cols = w;
		return n;
	}
	if (d == JM_DISPLAY_BYTE)
		*len = (size_t)snprintf(esc, 16, "\\x%02x", *s);
	else
		*len = (size_t)snprintf(esc, 16, "\\u%04x", (unsigned)cp);
	*piece = esc;
	*cols = (int)*len;
	return n;
}

const char *jm_safe(char *buf, size_t size, const char *text)
{
	const unsigned char *s = (const unsigned char *)(text ? text : "");
	size_t o = 0;

	if (size == 0)
		return buf;
	while (*s) {
		char esc[16];
		const char *piece;
		size_t len;
		int cols;
		size_t n;

		if (ascii_shown(*s)) {
			if (o + 1 >= size)
				break;
			buf[o++] = (char)*s++;
			continue;
		}
		n = shown_as(s, esc, &piece, &len, &cols);
		if (o + len >= size)
			break;
		memcpy(buf + o, piece, len);
		o += len;
		s += n;
	}
	buf[o] = '\0';
	return buf;
}

char *jm_safe_dup(const char *text)
{
	size_t size = 4 * strlen(text ? text : "") + 8;   /* \xNN at most 4 per byte */
	char *buf = malloc(size);

	return buf ? (char *)jm_safe(buf, size, text) : NULL;
}

void jm_fputs_safe(const char *text, FILE *out)
{
	char *safe = jm_safe_dup(text);

	if (safe)
		fputs(safe, out);
	free(safe);
}

const char *jm_fmt_count(char *buf, size_t size, double n)
{
	static const char *const units[] = { "k", "M", "G", "T" };
	int u = -1;

	if (n < 0 || !isfinite(n))
		n = 0;
	if (n < 1000) {
		snprintf(buf, size, "%.0f", n);
		return buf;
	}
	while (u < 3 && n >= 999.5) {
		n /= 1000;
		u++;
	}
	return jm_fmt_three_digits(buf, size, n, units[u]);
}

const char *jm_fmt_rate(char *buf, size_t size, double per_sec)
{
	if (per_sec > 0 && per_sec < 0.995) {
		snprintf(buf, size, "%.2f", per_sec);
		return buf;
	}
	return jm_fmt_count(buf, size, per_sec);
}

const char *jm_fmt_pct(char *buf, size_t size, double ratio)
{
	if (!isfinite(ratio))
		ratio = 0;
	snprintf(buf, size, "%.1f%%", ratio * 100.0);
	return buf;
}

const char *jm_fmt_age(char *buf, size_t size, double seconds)
{
	long long s = seconds > 0 && isfinite(seconds) ? (long long)seconds : 0;

	if (s < 60)
		snprintf(buf, size, "%llds", s);
	else if (s < 3600)
		snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, size, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	return buf;
}

double jm_num(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : 0.0;
}

long long jm_int(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (long long)json_real_value(v);
	return -1;
}

uint64_t jm_count(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_integer(v))
		return json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
	if (json_is_real(v) && json_real_value(v) > 0)
		return json_real_value(v) < (double)INT64_MAX ? (uint64_t)json_real_value(v)
		                                              : (uint64_t)INT64_MAX;
	return 0;
}

void jm_count_add(uint64_t *sum, uint64_t x)
{
	*sum = x > (uint64_t)INT64_MAX - *sum ? (uint64_t)INT64_MAX : *sum + x;
}

const char *jm_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

/* ------------------------------------------------------------- the table */

static void oom(void)
{
	fputs("jmctl: out of memory\n", stderr);
	exit(JMCTL_EXIT_ERROR);
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (!q)
		oom();
	return q;
}

void jm_table_init(struct jm_table *t, const struct jm_table_col *cols, int ncols)
{
	memset(t, 0, sizeof(*t));
	t->cols = cols;
	t->ncols = ncols;
}

void jm_table_add(struct jm_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 32;
		t->cells = xrealloc(t->cells, sizeof(char *) * (size_t)t->cap * (size_t)t->ncols);
		t->colors = xrealloc(t->colors, sizeof(char *) * (size_t)t->cap * (size_t)t->ncols);
	}
	for (int i = 0; i < t->ncols; i++) {
		size_t k = (size_t)t->nrows * (size_t)t->ncols + (size_t)i;

		t->cells[k] = jm_safe_dup(cells[i] ? cells[i] : "");
		if (!t->cells[k])
			oom();
		t->colors[k] = NULL;
	}
	t->nrows++;
}

void jm_table_color(struct jm_table *t, int row, int col, const char *sgr)
{
	if (row >= 0 && row < t->nrows && col >= 0 && col < t->ncols)
		t->colors[(size_t)row * (size_t)t->ncols + (size_t)col] = sgr;
}

size_t jm_text_fit(const char *text, size_t nbytes, int cols, int *width)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t o = 0;
	int w = 0;

	while (o < nbytes && s[o]) {
		char esc[16];
		const char *piece;
		size_t len;
		int cw;
		size_t n;

		if (ascii_shown(s[o])) {
			if (w >= cols)
				break;
			o++;
			w++;
			continue;
		}
		n = shown_as(s + o, esc, &piece, &len, &cw);
		if (o + n > nbytes || w + cw > cols)
			break;
		o += n;
		w += cw;
	}
	if (width)
		*width = w;
	return o;
}

int jm_text_width(const char *s)
{
	int w;

	jm_text_fit(s, strlen(s), INT_MAX, &w);
	return w;
}

const char *jm_text_pad(char *buf, size_t size, const char *text, int cols)
{
	int w;
	size_t n;

	if (size <= (size_t)cols) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	n = jm_text_fit(text, size - 1 - (size_t)cols, cols, &w);
	memcpy(buf, text, n);
	memset(buf + n, ' ', (size_t)(cols - w));
	buf[n + (size_t)(cols - w)] = '\0';
	return buf;
}

static void put_spaces(FILE *out, int n)
{
	static const char spaces[] = "                                ";

	for (; n > 0; n -= (int)sizeof(spaces) - 1)
		fwrite(spaces, 1, n < (int)sizeof(spaces) - 1 ? (size_t)n : sizeof(spaces) - 1, out);
}

/* text, taking text_cols columns, in a column width wide. */
static void put_cell(FILE *out, const char *text, int text_cols, const char *sgr, int width,
                     enum jm_align align, bool last)
{
	int pad = width - text_cols;

	if (pad < 0)
		pad = 0;
	if (align == JM_RIGHT)
		put_spaces(out, pad);
	if (sgr)
		fprintf(out, "\033[%sm%s\033[0m", sgr, text);
	else
		fputs(text, out);
	if (align == JM_LEFT && !last)
		put_spaces(out, pad);
}

void jm_table_print(const struct jm_table *t, FILE *out, bool color)
{
	size_t ncells = (size_t)t->nrows * (size_t)t->ncols;
	int *width = calloc((size_t)t->ncols, sizeof(int));
	int *cell_cols = malloc((ncells ? ncells : 1) * sizeof(int));   /* each measured once */

	if (!width || !cell_cols)
		oom();
	for (int i = 0; i < t->ncols; i++)
		width[i] = jm_text_width(t->cols[i].title);
	for (int r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncols; i++) {
			size_t k = (size_t)r * (size_t)t->ncols + (size_t)i;

			cell_cols[k] = jm_text_width(t->cells[k]);
			if (cell_cols[k] > width[i])
				width[i] = cell_cols[k];
		}
	for (int i = 0; i < t->ncols; i++) {
		if (i)
			fputs("  ", out);
		put_cell(out, t->cols[i].title, jm_text_width(t->cols[i].title), color ? "1" : NULL,
		         width[i], t->cols[i].align, i == t->ncols - 1);
	}
	fputc('\n', out);
	for (int r = 0; r < t->nrows; r++) {
		for (int i = 0; i < t->ncols; i++) {
			size_t k = (size_t)r * (size_t)t->ncols + (size_t)i;

			if (i)
				fputs("  ", out);
			put_cell(out, t->cells[k], cell_cols[k], color ? t->colors[k] : NULL, width[i],
			         t->cols[i].align, i == t->ncols - 1);
		}
		fputc('\n', out);
	}
	free(cell_cols);
	free(width);
}

void jm_table_free(struct jm_table *t)
{
	for (size_t k = 0; k < (size_t)t->nrows * (size_t)t->ncols; k++)
		free(t->cells[k]);
	free(t->cells);
	free(t->colors);
	memset(t, 0, sizeof(*t));
}

/* ---------------------------------------------------- pictures in text */

void jm_sparkline(char *buf, size_t size, const double *v, int n, double max, bool utf8)
{
	static const char *const blocks[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	static const char ascii[] = "_.-:=+*#";
	size_t off = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		const char *glyph;
		char one[2] = { 0, 0 };
		int level;

		if (v[i] < 0 || max <= 0) {
			glyph = " ";
		} else {
			level = (int)(v[i] / max * 7.0 + 0.5);
			if (level < 0)
				level = 0;
			if (level > 7)
				level = 7;
			if (utf8) {
				glyph = blocks[level];
			} else {
				one[0] = ascii[level];
				glyph = one;
			}
		}
		size_t gl = strlen(glyph);
		if (off + gl + 1 > size)
			break;
		memcpy(buf + off, glyph, gl + 1);
		off += gl;
	}
}

void jm_meter(char *buf, size_t size, double ratio, int width)
{
	char pct[16];
	int bars, plen;

	if (width < 1 || size < (size_t)width + 3) {
		if (size)
			buf[0] = '\0';
		return;
	}
	if (!isfinite(ratio) || ratio < 0) {
		ratio = 0;
		snprintf(pct, sizeof(pct), "-");
	} else {
		if (ratio > 1)
			ratio = 1;
		snprintf(pct, sizeof(pct), "%.1f%%", ratio * 100.0);
	}
	plen = (int)strlen(pct);
	bars = (int)(ratio * width + 0.5);
	buf[0] = '[';
	for (int i = 0; i < width; i++)
		buf[1 + i] = i < bars ? '|' : ' ';
	/* The percentage sits inside the bar at its right end, as in htop. */
	if (plen <= width)
		memcpy(buf + 1 + width - plen, pct, (size_t)plen);
	buf[1 + width] = ']';
	buf[2 + width] = '\0';
}
