/*
 * emit.c: the JSON emitter that writes text byte for byte as jansson's
 * json_dumps() would (the ps reply and the updates, ps.c and commands.c).
 *
 * ps is the reply asked most and the biggest (some 280 bytes a process),
 * and a subscriber's update holds it too: built as jansson objects and
 * dumped, it took 14 ms for 1000 processes, every time. So it is written
 * as text, byte for byte what json_dumps() gave for the same object with
 * JMD_JSON_FLAGS (compact, keys in the order set, reals as jansson prints
 * them, strings escaped as it does, a string that is not UTF-8 left out as
 * json_string() leaves it), and kept per viewer until what it shows
 * changes (jmd.view_gen). The other replies are built with jansson.
 */
#include "commands.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jmd_put(struct jmd_text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->len + n + 1)
			cap *= 2;
		char *ns = realloc(t->s, cap);
		if (!ns) {
			t->failed = true;
			return;
		}
		t->s = ns;
		t->cap = cap;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}


void jmd_put_int(struct jmd_text *t, json_int_t v)
{
	char buf[24], *p = buf + sizeof(buf);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	jmd_put(t, p, (size_t)(buf + sizeof(buf) - p));
}

void jmd_put_u64(struct jmd_text *t, uint64_t v)      /* as jint() */
{
	jmd_put_int(t, v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* As jreal(), printed as jansson does (jsonp_dtostr): %.15g, ".0" added
 * when neither a point nor an exponent shows, and the exponent without
 * '+' or leading zeros. */
void jmd_put_real(struct jmd_text *t, double v)
{
	char buf[64];
	if (!(v == v) || v > 1e300 || v < -1e300)
		v = 0.0;
	if (v == 0.0 && !signbit(v)) {
		JMD_PUT(t, "0.0");          /* the rates of an idle process: most reals */
		return;
	}
	int n = snprintf(buf, sizeof(buf) - 2, "%.15g", v);
	if (n < 0 || (size_t)n >= sizeof(buf) - 2)
		n = snprintf(buf, sizeof(buf), "0.0");
	if (!strchr(buf, '.') && !strchr(buf, 'e')) {
		memcpy(buf + n, ".0", 3);
		n += 2;
	}
	char *start = strchr(buf, 'e');
	if (start) {
		start++;
		char *end = start + 1;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, strlen(end) + 1);
			n -= (int)(end - start);
		}
	}
	jmd_put(t, buf, (size_t)n);
}

/* Valid UTF-8 as jansson checks it: no overlong form, no surrogate,
 * nothing above U+10FFFF. */
bool jmd_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p, n;
		uint32_t cp;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n + 1;
	}
	return true;
}

/* "value" escaped as jansson does (flags 0); v is valid UTF-8. */
void jmd_put_str(struct jmd_text *t, const char *v)
{
	JMD_PUT(t, "\"");
	const char *run = v;
	for (; *v; v++) {
		unsigned char ch = (unsigned char)*v;
		char esc[8];
		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		jmd_put(t, run, (size_t)(v - run));
		switch (ch) {
		case '"': JMD_PUT(t, "\\\""); break;
		case '\\': JMD_PUT(t, "\\\\"); break;
		case '\b': JMD_PUT(t, "\\b"); break;
		case '\f': JMD_PUT(t, "\\f"); break;
		case '\n': JMD_PUT(t, "\\n"); break;
		case '\r': JMD_PUT(t, "\\r"); break;
		case '\t': JMD_PUT(t, "\\t"); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04X", ch);
			jmd_put(t, esc, 6);
		}
		run = v + 1;
	}
	jmd_put(t, run, (size_t)(v - run));
	JMD_PUT(t, "\"");
}
