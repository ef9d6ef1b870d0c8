/*
 * top_curses.c: the screen of `jmctl top`: curses started on the terminal,
 * a frame (built by top_model.c for the screen's width) drawn with its
 * meters coloured (as htop does), the selected row kept in sight and the
 * key lines at the bottom; and the terminal restored on every way out
 * (jm_top_restore_terminal, which the model calls too before it writes an
 * error), with the signal that asks for one (jm_top_signal). top.c owns
 * the loop and the keys; this file calls neither it nor the model.
 */
#include "top.h"

#include <curses.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile sig_atomic_t jm_top_signal;
static bool curses_active;


void jm_top_restore_terminal(void)
{
	if (curses_active) {
		curses_active = false;
		endwin();
	}
}

enum { PAIR_GOOD = 1, PAIR_WARN, PAIR_BAD, PAIR_SPARK, PAIR_TITLE };

static int meter_pair(double ratio)
{
	return ratio >= 0.75 ? PAIR_GOOD : ratio >= 0.5 ? PAIR_WARN : PAIR_BAD;
}

/* Puts the first `cols` columns of a string made safe (jm_safe) at (y, x),
 * each character as wide as the terminal makes it (jm_text_fit: two
 * columns for a CJK character, none for a combining mark). Counted one
 * column per character, a long name of wide characters ran past the
 * right edge, and curses wrapped it onto the next row. */
static void put_clipped(int y, int x, const char *s, int cols)
{
	size_t bytes = jm_text_fit(s, strlen(s), cols, NULL);

	if (bytes > 0)
		mvaddnstr(y, x, s, (int)bytes);
}

/* The key lines at the bottom, the items wrapped to the width: the short
 * list, or with h every key. While the filter is typed, its prompt. */
static int key_lines(const struct top *t, int cols, char out[][LINE_MAX_BYTES], int max)
{
	static const char *const brief[] = {
		"q quit", "p processes/bins", "s/S sort", "r reverse", "Enter open", "/ filter",
		"h help", NULL,
	};
	static const char *const full[] = {
		"q quit", "p bins/processes", "s/S next/previous sort key", "r reverse",
		"arrows, PgUp/PgDn select", "Enter: bins view, the sites of the bin;",
		"process view, open the process", "Esc back to all processes",
		"/ filter processes by exe or user", "sort bins: w wasted u util z size i inuse n runs a rate;",
		"processes: m allocated f frag a rate", "h close", NULL,
	};
	const char *const *items = t->help ? full : brief;
	int n = 0, len = 0;

	if (t->editing) {
		snprintf(out[0], LINE_MAX_BYTES, " / filter by exe or user (Enter applies, Esc cancels): %s_",
		         t->edit);
		return 1;
	}
	out[0][0] = '\0';
	for (int i = 0; items[i] && n < max; i++) {
		int il = (int)strlen(items[i]);

		if (len > 0 && len + 2 + il > cols - 1) {
			if (++n == max)
				break;
			len = 0;
			out[n][0] = '\0';
		}
		len += snprintf(out[n] + len, LINE_MAX_BYTES - (size_t)len, "%s%s", len ? "  " : " ",
		                items[i]);
	}
	return n < max ? n + 1 : max;
}

void jm_top_draw(struct top *t, struct frame *f)
{
	char keys[4][LINE_MAX_BYTES];
	int rows = LINES, cols = COLS, y = 0, head;
	int foot = key_lines(t, cols, keys, rows > 12 ? 4 : 1);
	bool color = has_colors() && t->o->color;
	int *sel = t->view == VIEW_BINS ? &t->sel : &t->psel;

	erase();
	head = f->first_row;
	/* The rows that fit below the header, leaving the last lines for keys. */
	int room = rows - head - foot - (f->n - head - f->nrows);
	if (room < 1)
		room = 1;
	/* Keep the selected row in sight. */
	if (*sel < t->scroll)
		t->scroll = *sel;
	if (*sel >= t->scroll + room)
		t->scroll = *sel - room + 1;
	if (t->scroll > f->nrows - room)
		t->scroll = f->nrows - room;
	if (t->scroll < 0)
		t->scroll = 0;
	for (int i = 0; i < f->n && y < rows - foot; i++) {
		struct line *l = &f->lines[i];
		int attr = 0;

		if (i >= head && i < head + f->nrows &&
		    (i - head < t->scroll || i - head >= t->scroll + room))
			continue;
		if (i == head + *sel && i < head + f->nrows)
			attr = A_STANDOUT;
		else if (l->kind == LINE_BOLD)
			attr = A_BOLD;
		else if (l->kind == LINE_TITLE)
			attr = A_REVERSE;
		else if (l->kind == LINE_SPARK && color)
			attr = COLOR_PAIR(PAIR_SPARK);
		attron(attr);
		if (l->kind == LINE_TITLE) {
			mvhline(y, 0, ' ', cols);
		}
		put_clipped(y, 0, l->text, cols);
		attroff(attr);
		if (l->meter_off >= 0 && l->meter_off + 1 < cols) {
			/* Recolour the bars of the meter, as htop does. */
			int from = l->meter_off + 1, to = l->meter_off + l->meter_len - 1, w;
			/* The meter is ASCII, but a name before it may not be:
			 * the byte where its column starts. */
			size_t at = jm_text_fit(l->text, strlen(l->text), l->meter_off, &w);

			if (color)
				attron(COLOR_PAIR(meter_pair(l->meter_ratio)) | A_BOLD);
			for (int x = from; x < to && x < cols && w == l->meter_off; x++)
				if (l->text[at + (size_t)(x - l->meter_off)] == '|')
					mvaddch(y, x, '|');
			if (color)
				attroff(COLOR_PAIR(meter_pair(l->meter_ratio)) | A_BOLD);
		}
		y++;
	}
	attron(A_REVERSE);
	for (int k = 0; k < foot; k++) {
		mvhline(rows - foot + k, 0, ' ', cols);
		put_clipped(rows - foot + k, 0, keys[k], cols);
	}
	attroff(A_REVERSE);
	refresh();
}

int jm_top_start_curses(struct top *t)
{
	if (!isatty(STDIN_FILENO)) {
		fputs("jmctl: top needs a terminal on its input for the live view "
		      "(use `jmctl top -b` for plain text)\n", stderr);
		return -ENOTTY;
	}
	if (!newterm(NULL, stdout, stdin)) {
		fprintf(stderr, "jmctl: cannot use the terminal '%s' (set TERM, "
		        "or use `jmctl top -b` for plain text)\n",
		        getenv("TERM") ? getenv("TERM") : "");
		return -ENOTTY;
	}
	curses_active = true;
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(50);       /* Esc goes back at once, not after a second */
	curs_set(0);
	if (has_colors()) {
		start_color();
		use_default_colors();
		init_pair(PAIR_GOOD, COLOR_GREEN, -1);
		init_pair(PAIR_WARN, COLOR_YELLOW, -1);
		init_pair(PAIR_BAD, COLOR_RED, -1);
		init_pair(PAIR_SPARK, COLOR_CYAN, -1);
	}
	t->curses_on = true;
	return 0;
}
