/*
 * top_frame.c: the one way a line enters a frame of `jmctl top`
 * (jm_top_frame_add), for the model (top_model.c) and the sites panel
 * (top_sites.c) alike: its text formatted and made safe for the terminal,
 * no meter yet. Out of memory, the terminal is restored (top_curses.c)
 * before the message and the exit.
 */
#include "top.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct line *jm_top_frame_add(struct frame *f, enum line_kind kind, const char *fmt, ...)
{
	va_list ap;
	struct line *l;

	if (f->n == f->cap) {
		int ncap = f->cap ? f->cap * 2 : 64;
		struct line *nl = realloc(f->lines, sizeof(*nl) * (size_t)ncap);

		if (!nl) {
			jm_top_restore_terminal();
			fputs("jmctl: out of memory\n", stderr);
			exit(JMCTL_EXIT_ERROR);
		}
		f->lines = nl;
		f->cap = ncap;
	}
	l = &f->lines[f->n++];
	l->kind = kind;
	l->meter_off = l->meter_len = -1;
	l->meter_ratio = 0;
	char raw[sizeof(l->text)];
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* A name from a process (exe, function, file) never reaches the
	 * terminal as a control byte; the callers that place a meter by
	 * column made their strings safe already, so nothing moves. */
	jm_safe(l->text, sizeof(l->text), raw);
	return l;
}

/* The process entry of pid in an update, or NULL. */
