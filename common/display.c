/*
 * display.c: which characters of a string another process chose may reach
 * a terminal as they are (display.h). A process names itself (its exe, the
 * files and functions of its debug information, its module paths, its
 * comm), and root reads those names in a terminal: an ESC starts an
 * escape sequence (a title, OSC 52 that writes the clipboard, a cleared
 * screen), a C1 control encoded in UTF-8 (U+009B, CSI) does the same in
 * terminals that take them, a newline forges a row, and a bidi override
 * (U+202E) shows the rest of a line reversed ("Trojan Source",
 * CVE-2021-42574). And the columns a shown character takes: a name of
 * wide characters measured at one column each ran past the right edge of
 * top's screen, where curses wraps it onto the next row.
 */
#include "display.h"

#include <wchar.h>

/* Is the code point one of those that reorder or hide text: the Arabic
 * letter mark, zero-width space, joiners and marks, the line and
 * paragraph separators, the bidi embeddings, overrides and isolates, word
 * joiner and invisible operators, the BOM? */
static int invisible(uint32_t cp)
{
	return cp == 0x061c || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

enum jm_display jm_display_next(const unsigned char *s, size_t *len, uint32_t *cp)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;

	*len = 1;
	*cp = c;
	if (c < 0x80)
		return c >= 0x20 && c != 0x7f ? JM_DISPLAY_SHOW : JM_DISPLAY_BYTE;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return JM_DISPLAY_BYTE;
	if (c == 0xe0)
		lo = 0xa0;               /* overlong */
	else if (c == 0xed)
		hi = 0x9f;               /* a surrogate */
	else if (c == 0xf0)
		lo = 0x90;               /* overlong */
	else if (c == 0xf4)
		hi = 0x8f;               /* past U+10FFFF */
	if (s[1] < lo || s[1] > hi)
		return JM_DISPLAY_BYTE;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return JM_DISPLAY_BYTE;
	uint32_t v = c & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
	for (size_t i = 1; i < n; i++)
		v = v << 6 | (s[i] & 0x3f);
	*len = n;
	*cp = v;
	return v <= 0x9f || invisible(v) ? JM_DISPLAY_CHAR : JM_DISPLAY_SHOW;
}

int jm_display_cols(uint32_t cp)
{
	return cp < 0x80 ? 1 : wcwidth((wchar_t)cp);
}
