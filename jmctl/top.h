/*
 * top.h: what the parts of `jmctl top` share.
 *
 *   top.c        the command line, the keys and the loop that ties the
 *                others together
 *   top_curses.c the terminal: curses, a frame drawn with colours, the
 *                terminal restored on every way out, the signal caught
 *   top_model.c  the frame model: the stream of updates from jmstatd, the
 *                history ring of the sparkline, and a frame built from the
 *                newest update as lines of text (sorted, filtered bins or
 *                processes), printed as is by -b
 *   top_sites.c  the sites panel of the bins view: the processes wasting
 *                the most in a bin, their sites, ranked
 *   top_frame.c  a line added to a frame, for the model and the panel
 *
 * The model never draws: a frame is text plus where its meters sit; the
 * terminal only colours and clips it.
 */
#ifndef JMCTL_TOP_H
#define JMCTL_TOP_H

#include "jmctl.h"

#include <signal.h>


enum view { VIEW_BINS, VIEW_PROCS };

#define HIST_MAX 4096        /* samples kept for the sparkline */
#define SPARK_SPAN_S 600.0   /* the sparkline shows at most 10 minutes */
#define LINE_MAX_BYTES 2048

/* A line of a frame: text, and where the meter sits in it (for colour). */
enum line_kind { LINE_PLAIN, LINE_BOLD, LINE_TITLE, LINE_SPARK };

struct line {
	enum line_kind kind;
	int meter_off, meter_len;    /* columns of the meter, or -1 */
	double meter_ratio;          /* utilisation the meter shows */
	char text[LINE_MAX_BYTES];
};

struct frame {
	struct line *lines;
	int n, cap;
	int nrows;                   /* table rows (bins or processes) */
	int first_row;               /* index in lines of the first table row */
};

struct top {
	const struct jmctl_opts *o;
	struct jm_client c;
	long pid;                    /* 0: all processes */
	double delay_s;
	bool batch;
	long nframes;                /* 0: until stopped */
	enum view view;
	int key[2];                  /* sort key index per view */
	bool reverse;
	bool help;                   /* show the keys line */
	int scroll;                  /* first table row shown (curses) */
	bool curses_on;

	json_t *last;                /* newest update */
	char *last_raw;              /* its text, for --json */
	double last_time;            /* its "time" */
	double last_arrival;         /* monotonic seconds it arrived */
	bool fresh;                  /* an update not yet drawn */

	int sel;                     /* the selected row of the bins view */
	long long selected_size;     /* its bin (0: none) */
	int psel;                    /* the selected row of the process view */
	long selected_pid;           /* its pid (0: none) */
	bool opened;                 /* pid was opened from the process view (Esc goes back) */
	char filter[64];             /* process view: rows whose exe or user hold it */
	bool editing;                /* the filter is being typed */
	char edit[64];               /* what is typed so far */
	char note[128];              /* a line under the header until the next key */
	json_t *sites;               /* the sites panel: [{pid, exe, bytes, site}], or NULL */
	long long sites_size;        /* its bin */
	char sites_note[256];        /* a line about it (errors, nothing found) */

	int hn, hhead;               /* history ring */
	double ht[HIST_MAX], halloc[HIST_MAX], hactive[HIST_MAX];
};

/* top_frame.c */
struct line *jm_top_frame_add(struct frame *f, enum line_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* top_model.c */
extern const struct jm_sort_key jm_top_bin_keys[];
double jm_top_now(void);
void jm_top_build_frame(struct top *t, struct frame *f, int width, bool wrap);
void jm_top_print_batch(struct top *t, struct frame *f, int width);
int jm_top_take_update(struct top *t);
int jm_top_stream_start(struct top *t);

/* top_sites.c */
void jm_top_add_sites(struct top *t, struct frame *f);
void jm_top_load_sites(struct top *t);

/* top_curses.c */
extern volatile sig_atomic_t jm_top_signal;
void jm_top_restore_terminal(void);
int jm_top_start_curses(struct top *t);             /* 0, or -ENOTTY said on stderr */
void jm_top_draw(struct top *t, struct frame *f);   /* f built for COLS columns */

#endif
