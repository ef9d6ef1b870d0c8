/*
 * display.h: which characters of a string another process chose may reach
 * a terminal as they are. jmctl escapes the others (jm_safe, jmctl/format.c)
 * and heap profiles write them as '?' (common/pprof.c): one rule for both;
 * and how many columns a shown character takes (jmctl's tables and top).
 */
#ifndef JM_DISPLAY_H
#define JM_DISPLAY_H

#include <stddef.h>
#include <stdint.h>

enum jm_display {
	JM_DISPLAY_SHOW,   /* a printable character: shown as it is */
	JM_DISPLAY_CHAR,   /* a valid UTF-8 character not to be shown as it is:
	                    * a C1 control (U+0080-U+009F), or one that
	                    * reorders or hides text (bidi marks, embeddings,
	                    * overrides and isolates, zero-width characters,
	                    * word joiner and invisible operators, the line
	                    * and paragraph separators, the BOM) */
	JM_DISPLAY_BYTE,   /* one byte: a C0 control, DEL, or a byte that
	                    * does not start a valid UTF-8 sequence (overlong,
	                    * a surrogate, past U+10FFFF, cut short) */
};

/* The character at s (not at its NUL): its class, its length in *len
 * (1 for JM_DISPLAY_BYTE) and its code point in *cp (the byte for
 * JM_DISPLAY_BYTE). */
enum jm_display jm_display_next(const unsigned char *s, size_t *len, uint32_t *cp);

/* The columns a terminal gives a character that jm_display_next() shows
 * as it is (JM_DISPLAY_SHOW), code point cp: wcwidth() in the caller's
 * locale (jmctl sets it with setlocale): 1 for ASCII, 0 for a combining
 * mark, 2 for a wide (CJK) character or an emoji; -1 for one the locale
 * cannot measure (any past ASCII in the C locale; one newer than the
 * locale's tables), which jmctl then escapes as \uNNNN: a terminal may
 * give it any width, and text measured wrong runs past the right edge of
 * top's screen, where curses wraps it onto the next row. */
int jm_display_cols(uint32_t cp);

#endif
