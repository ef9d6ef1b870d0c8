/*
 * text.c: the growing text buffer (struct jmd_text, jmstatd.h) that the
 * Prometheus page, the HTTP replies and the alerts' series are written
 * into: puts, printf, and a Prometheus label value quoted and escaped.
 * Its memory grows by doubling from 64 KiB; after a failed allocation
 * the buffer stays failed (every later write is dropped) and the writer
 * checks `failed` once at the end.
 */
#include "jmstatd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool jmd_text_reserve(struct jmd_text *t, size_t more)
{
	if (t->failed)
		return false;
	if (t->len + more + 1 <= t->cap)
		return true;
	size_t cap = t->cap ? t->cap : 65536;
	while (cap < t->len + more + 1)
		cap *= 2;
	char *s = realloc(t->s, cap);
	if (!s) {
		t->failed = true;
		return false;
	}
	t->s = s;
	t->cap = cap;
	return true;
}

void jmd_text_puts(struct jmd_text *t, const char *s)
{
	size_t n = strlen(s);
	if (!jmd_text_reserve(t, n))
		return;
	memcpy(t->s + t->len, s, n + 1);
	t->len += n;
}

void jmd_text_printf(struct jmd_text *t, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0 || !jmd_text_reserve(t, (size_t)n))
		return;
	if ((size_t)n < sizeof(small)) {
		memcpy(t->s + t->len, small, (size_t)n + 1);
	} else {
		va_start(ap, fmt);
		vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	t->len += (size_t)n;
}

void jmd_text_label(struct jmd_text *t, const char *v)
{
	if (!jmd_text_reserve(t, 2 * strlen(v) + 2))
		return;
	char *o = t->s + t->len;
	*o++ = '"';
	for (; *v; v++) {
		if (*v == '\\' || *v == '"') {
			*o++ = '\\';
			*o++ = *v;
		} else if (*v == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else {
			*o++ = *v;
		}
	}
	*o++ = '"';
	*o = '\0';
	t->len = (size_t)(o - t->s);
}
