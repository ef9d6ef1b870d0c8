/*
 * jsonline.c: a quick reader for the JSON lines jmstatd writes (jsonline.h).
 *
 * jansson's json_loads() spends about 230 instructions on each byte: a
 * callback per character, UTF-8 checked byte by byte, every token saved
 * to a buffer. A `jmctl ps` of a thousand processes (175 KB) spent more
 * than half its instructions there. jmstatd's replies are plain: ASCII
 * strings without escapes, integers, reals in C notation, true, false,
 * null. This reader takes exactly those and builds the tree jansson would
 * build, with jansson's own constructors (so jmctl's allocation budget
 * counts it); on anything else (an escape, a byte past ASCII, a number
 * jansson might refuse or read otherwise, a syntax error, a depth past
 * JM_JSONLINE_DEPTH, an allocation refused) it gives up, and the caller
 * reads the line with json_loads(), whose tree and errors are then those
 * of before. tests/unit/test_jmd_jsonline.c compares the two.
 */
#include "jsonline.h"

#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#define JM_JSONLINE_DEPTH 32
#define JM_JSONLINE_DIGITS 18    /* an integer of 18 digits fits in json_int_t */
#define JM_JSONLINE_REAL 64      /* the longest real read here */

struct reader {
	const char *s;           /* the next byte */
	int depth;
};

static void skip_ws(struct reader *r)
{
	while (*r->s == ' ' || *r->s == '\t' || *r->s == '\n' || *r->s == '\r')
		r->s++;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A string's bytes after its opening quote, up to the closing one: only
 * printable ASCII but the backslash. */
static bool read_string(struct reader *r, const char **start, size_t *len)
{
	const unsigned char *s = (const unsigned char *)r->s;

	*start = r->s;
	while (*s != '"') {
		if (*s < 0x20 || *s > 0x7e || *s == '\\')
			return false;
		s++;
	}
	*len = (size_t)((const char *)s - r->s);
	r->s = (const char *)s + 1;
	return true;
}

static json_t *read_number(struct reader *r)
{
	const char *start = r->s, *s = r->s;
	bool real = false;

	if (*s == '-')
		s++;
	if (*s == '0') {
		s++;
		if (is_digit(*s))
			return NULL;     /* a leading zero: jansson's error */
	} else if (is_digit(*s)) {
		while (is_digit(*s))
			s++;
	} else {
		return NULL;
	}
	if (*s == '.') {
		real = true;
		s++;
		if (!is_digit(*s))
			return NULL;
		while (is_digit(*s))
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		real = true;
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!is_digit(*s))
			return NULL;
		while (is_digit(*s))
			s++;
	}
	size_t len = (size_t)(s - start);
	r->s = s;
	if (!real) {
		size_t digits = len - (*start == '-');
		json_int_t v = 0;

		if (digits > JM_JSONLINE_DIGITS)
			return NULL;     /* jansson's range check decides */
		for (const char *p = start + (*start == '-'); p < s; p++)
			v = v * 10 + (*p - '0');
		return json_integer(*start == '-' ? -v : v);
	}
	char buf[JM_JSONLINE_REAL];
	char *end;
	double v;

	if (len >= sizeof(buf))
		return NULL;
	memcpy(buf, start, len);
	buf[len] = '\0';
	errno = 0;
	v = strtod(buf, &end);
	if (end != buf + len || errno != 0)
		return NULL;     /* overflow, underflow: as jansson says */
	return json_real(v);
}

static json_t *read_value(struct reader *r);

static json_t *read_object(struct reader *r)
{
	json_t *obj = json_object();

	if (!obj)
		return NULL;
	skip_ws(r);
	if (*r->s == '}') {
		r->s++;
		return obj;
	}
	for (;;) {
		const char *key;
		size_t klen;
		json_t *v;

		if (*r->s != '"')
			goto fail;
		r->s++;
		if (!read_string(r, &key, &klen))
			goto fail;
		skip_ws(r);
		if (*r->s != ':')
			goto fail;
		r->s++;
		skip_ws(r);
		v = read_value(r);
		if (!v || json_object_setn_new_nocheck(obj, key, klen, v) != 0)
			goto fail;
		skip_ws(r);
		if (*r->s == '}') {
			r->s++;
			return obj;
		}
		if (*r->s != ',')
			goto fail;
		r->s++;
		skip_ws(r);
	}
fail:
	json_decref(obj);
	return NULL;
}

static json_t *read_array(struct reader *r)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	skip_ws(r);
	if (*r->s == ']') {
		r->s++;
		return arr;
	}
	for (;;) {
		json_t *v = read_value(r);

		if (!v || json_array_append_new(arr, v) != 0)
			goto fail;
		skip_ws(r);
		if (*r->s == ']') {
			r->s++;
			return arr;
		}
		if (*r->s != ',')
			goto fail;
		r->s++;
		skip_ws(r);
	}
fail:
	json_decref(arr);
	return NULL;
}

/* A literal, whole: "truex" is jansson's to refuse. */
static bool read_word(struct reader *r, const char *word, size_t len)
{
	char next;

	if (strncmp(r->s, word, len) != 0)
		return false;
	next = r->s[len];
	if ((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z'))
		return false;
	r->s += len;
	return true;
}

static json_t *read_value(struct reader *r)
{
	json_t *v = NULL;
	const char *str;
	size_t len;

	switch (*r->s) {
	case '{':
	case '[':
		if (r->depth >= JM_JSONLINE_DEPTH)
			return NULL;
		r->depth++;
		r->s++;
		v = *(r->s - 1) == '{' ? read_object(r) : read_array(r);
		r->depth--;
		return v;
	case '"':
		r->s++;
		return read_string(r, &str, &len) ? json_stringn_nocheck(str, len) : NULL;
	case 't':
		return read_word(r, "true", 4) ? json_true() : NULL;
	case 'f':
		return read_word(r, "false", 5) ? json_false() : NULL;
	case 'n':
		return read_word(r, "null", 4) ? json_null() : NULL;
	default:
		return read_number(r);
	}
}

json_t *jm_jsonline_read(const char *line)
{
	struct reader r = { line, 0 };
	const struct lconv *lc = localeconv();
	json_t *v;

	/* jansson reads a real whatever the locale's decimal point; strtod
	 * reads the locale's. */
	if (!lc || strcmp(lc->decimal_point, ".") != 0)
		return NULL;
	skip_ws(&r);
	if (*r.s != '{' && *r.s != '[')
		return NULL;     /* json_loads() without JSON_DECODE_ANY */
	v = read_value(&r);
	if (!v)
		return NULL;
	skip_ws(&r);
	if (*r.s != '\0') {
		json_decref(v);
		return NULL;
	}
	return v;
}
