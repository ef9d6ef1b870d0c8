/*
 * jmctl.h: the pieces of jmctl and how they fit.
 *
 *   main.c      the command line: global options, the commands, help
 *   usage.c     each command's usage line, the usage error, a pid argument
 *   client.c    the connection to jmstatd: finding the socket, one JSON
 *               line each way (protocol in docs/protocol.md), the version check,
 *               and the one table of error messages a user sees
 *   format.c    human units (KiB, MiB, %, 1.2k/s, 3m12s) and the aligned
 *               text table that ps, stats, alerts and `top -b` print
 *   commands.c  what the one-shot commands share: sorting a reply's
 *               objects by a key, "-s KEY [-r] [-a]", fragmentation colour
 *   ps.c        ps: the table, its filters (-u, -e, --container) and its
 *               watch mode (-d)
 *   stats.c     stats PID: summary, purging, arenas, bins
 *   alerts.c    alerts: the table and each alert's "held by:" lines
 *   status.c    status: which daemon, its version, interval, segments
 *   history.c   history [PID]: the samples the daemon keeps
 *   sites.c     sites PID: the sampled heap profile, symbolized by
 *               symbolize.c (maps, libdwfl) as the calling user
 *   top.c       top: the command line, the loop and the keys
 *   top_curses.c top's screen: curses, a frame drawn with colours, the
 *               terminal restored on every way out
 *   top_model.c top's model: the subscribe stream, the host history, a
 *               frame as text (sorted bins or processes), the frames of -b
 *   top_sites.c top's sites panel (the sites behind a bin)
 *   top_frame.c a line added to one of top's frames; top.h joins the five
 *
 * Functions that can fail return 0 or a negative errno-like code; the
 * message for the user is printed once, where the failure is understood,
 * and main() turns the result into the exit status (0, 1, 2 for usage).
 */
#ifndef JMCTL_H
#define JMCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "format.h"
#include "sortkeys.h"
#include "version.h"


/* Exit statuses: 0 success, 1 error, 2 bad usage (jmctl.1, docs/jmctl.md). */
#define JMCTL_EXIT_OK    0
#define JMCTL_EXIT_ERROR 1
#define JMCTL_EXIT_USAGE 2

/* The ANSI SGR colours of table cells (jm_table_color). */
#define JM_RED    "31"
#define JM_YELLOW "33"
#define JM_GREEN  "32"

/* How long a request may wait for its reply before jmctl gives up. */
#define JMCTL_REPLY_TIMEOUT_MS 10000

/* Options common to every command, read once by main(). */
struct jmctl_opts {
	const char *socket;      /* socket path (option, env or default) */
	const char *socket_from; /* how it was chosen, for `jmctl status` */
	bool json;               /* print the daemon's replies as they came */
	bool tty;                /* stdout is a terminal */
	bool color;              /* colour allowed (tty and no NO_COLOR) */
	bool utf8;               /* the locale can show block characters */
};

/* ------------------------------------------------------------ client.c */

/* A connection to jmstatd. `line` holds the last line read (without its
 * newline), valid until the next read. */
struct jm_client {
	int fd;
	const char *path;        /* socket path, for messages */
	char *buf;               /* bytes read and not yet consumed */
	size_t len, cap;
	char *line;              /* last line returned by jm_client_read_line */
	int layout_version;      /* from the version handshake */
	int interval_ms;         /* the daemon's sample interval */
};

/* Puts jmctl's default socket into buf (common/socket.h: the caller's own
 * daemon's when one is there in a directory only it or root could have
 * made, else the system socket), and remembers it: jm_client_open() checks
 * that directory again before it connects there. */
void jm_client_default_socket(char *buf, size_t size);

/* Connects to opts->socket and checks the daemon's version. On failure,
 * prints one line naming the socket and what to do, and returns -errno. */
int jm_client_open(struct jm_client *c, const char *path);
void jm_client_close(struct jm_client *c);

/* Sends one request object (not consumed). */
int jm_client_send(struct jm_client *c, json_t *req);

/* Reads one line, waiting at most timeout_ms (-1: forever). Returns 0 with
 * c->line set, -ETIMEDOUT, -EPIPE at end of stream, or another -errno.
 * Prints nothing. */
int jm_client_read_line(struct jm_client *c, int timeout_ms);

/* Sends req, reads one reply line and parses it. Returns 0 with *reply
 * (an object with "ok": true) and c->line the raw text; on any failure
 * prints one line on stderr and returns -errno (-ENOENT for an "ok": false
 * reply of "no such process", -EPROTO for other daemon errors). When
 * print_raw is set, a reply that came is also printed to stdout as is,
 * whether ok or not. */
int jm_client_call(struct jm_client *c, json_t *req, json_t **reply, bool print_raw);

/* One request on its own connection to `path` (req is consumed): connects,
 * calls, closes. With print_raw the reply has been printed as it came and
 * *reply is NULL on success; otherwise *reply is the reply to render. */
int jm_client_request(const char *path, json_t *req, json_t **reply, bool print_raw);

/* --json output: obj on one line of printable ASCII (JSON_ENSURE_ASCII: a
 * C1 control, a bidi override or any other character past U+007E is
 * \uNNNN, as JSON allows), then a newline; -EIO if it could not be
 * written. jm_print_json_line() prints the daemon's line as it came when
 * it is printable ASCII (its numbers as the daemon wrote them), else obj,
 * its parse, so. */
int jm_print_json(const json_t *obj);
void jm_print_json_line(const char *line, const json_t *obj);

/* Counts what jansson allocates, refusing past 512 MiB in all (a reply of
 * millions of tiny values): main() calls it before anything else. */
void jm_json_budget_init(void);

/* Parses c->line: returns the object, or NULL after printing why. */
json_t *jm_client_parse(struct jm_client *c);

/* Prints the message for a failed read (-ETIMEDOUT, -EPIPE, ...). */
void jm_client_report(struct jm_client *c, int err, const char *what);
/* Why jmstatd has no process pid ("no such process"), from /proc: none
 * runs, it runs without jmalloc, it is another user's, ... (one line). */
void jm_client_report_no_process(const struct jm_client *c, long pid);

/* ------------------------------------------------------------ format.c */

/* Human units. Each writes into buf (size >= 16) and returns buf. */
/* jm_fmt_bytes(): common/format.h ("12.3 MiB"). */
const char *jm_fmt_count(char *buf, size_t size, double n);       /* "1.2k", "3.4M" */
const char *jm_fmt_rate(char *buf, size_t size, double per_sec);  /* "1.2k" ("0", "-") */
const char *jm_fmt_pct(char *buf, size_t size, double ratio);     /* "12.3%" */
const char *jm_fmt_age(char *buf, size_t size, double seconds);   /* "3m12s", "2h05m", "4d03h" */

/* text made safe for a terminal into buf (size bytes, NUL-terminated, cut
 * if it must): C0 controls and DEL as \xNN, C1 controls as \u00NN, bytes
 * that are not valid UTF-8 as \xNN; the rest as it is. Returns buf. Every
 * string that came from a process goes through it before it is printed
 * (table cells do by themselves). */
const char *jm_safe(char *buf, size_t size, const char *text);
char *jm_safe_dup(const char *text);           /* malloc'd; NULL if out of memory */
#define JM_SAFE_EXE 260   /* jm_safe() of an exe name (64 bytes) or a user name */
void jm_fputs_safe(const char *text, FILE *out);

/* JSON accessors that tolerate absent fields (0, "" or -1). */
double jm_num(const json_t *obj, const char *key);
long long jm_int(const json_t *obj, const char *key);
/* A count or size of a reply: its integer, 0 when negative or absent,
 * and a sum of such that saturates at 2^63 - 1, the most the daemon's
 * JSON holds of one (a sum of a forged process's arenas, each shown at
 * that bound, showed 2^66). */
uint64_t jm_count(const json_t *obj, const char *key);
void jm_count_add(uint64_t *sum, uint64_t x);
const char *jm_str(const json_t *obj, const char *key);

/* An aligned text table: columns separated by two spaces, numbers right-
 * aligned, the last column never padded. Cells are copied. */
enum jm_align { JM_LEFT, JM_RIGHT };

struct jm_table_col {
	const char *title;
	enum jm_align align;
};

struct jm_table {
	int ncols;
	const struct jm_table_col *cols;
	int nrows, cap;
	char **cells;            /* nrows * ncols strings */
	const char **colors;     /* per cell ANSI colour start, or NULL */
};

void jm_table_init(struct jm_table *t, const struct jm_table_col *cols, int ncols);
/* Appends a row: ncols cell strings. */
void jm_table_add(struct jm_table *t, const char *const *cells);
/* Colours cell (row, col) with an ANSI SGR sequence (only used with color). */
void jm_table_color(struct jm_table *t, int row, int col, const char *sgr);
void jm_table_print(const struct jm_table *t, FILE *out, bool color);
void jm_table_free(struct jm_table *t);

/* The columns a string takes in a terminal, each character measured as
 * common/display.c says (jm_display_cols: 2 for a CJK character, 0 for a
 * combining mark; a character jm_safe() escapes, as its escape). */
int jm_text_width(const char *s);
/* The length in bytes of the longest prefix of text's first nbytes that
 * fits in cols columns (never half a character; combining marks stay with
 * the character before them); its columns in *width (if not NULL). */
size_t jm_text_fit(const char *text, size_t nbytes, int cols, int *width);
/* text (made safe by jm_safe) cut to cols columns and padded with spaces
 * to exactly cols, into buf; "" if size <= cols. */
const char *jm_text_pad(char *buf, size_t size, const char *text, int cols);

/* A sparkline of n values scaled to [0, max] into buf: one block character
 * ("▁".."█", or " .:-=+*#" without UTF-8) per value; values < 0 are gaps. */
void jm_sparkline(char *buf, size_t size, const double *v, int n, double max, bool utf8);

/* A meter like htop's: "[|||||||      73.2%]" of the given inner width;
 * a negative ratio (nothing to measure) draws an empty meter with "-". */
void jm_meter(char *buf, size_t size, double ratio, int width);

/* ------------------------------------ commands.c, ps.c, stats.c, alerts.c */

/* Sort keys (struct jm_sort_key, jm_sort_find, jm_sort_names and the
 * process keys jm_proc_sort_keys, which ps and top share) are in
 * common/sortkeys.h; their natural order: text ascending, numbers
 * descending, except where the smallest is the interesting end, like
 * utilisation. */
extern const struct jm_sort_key jm_bin_keys[];   /* bins in `stats` (stats.c) */
extern const struct jm_sort_key jm_alert_keys[]; /* alerts.c */

/* Sorts n JSON objects by key k (ties by tie_field, ascending). */
void jm_sort_json(json_t **items, size_t n, const struct jm_sort_key *k,
                  const char *tie_field, bool reverse);
/* The elements of a JSON array, borrowed, in a new C array. */
json_t **jm_array_items(json_t *array, size_t *n);
/* Parses "-s KEY [-r] [-a]" for a one-shot command (-a only when all is
 * not NULL; the process id operand only when operand is not NULL). */
int jm_parse_sort_opts(const char *cmd, int argc, char **argv,
                       const struct jm_sort_key *keys,
                       const struct jm_sort_key **key, bool *reverse,
                       bool *all, const char **operand);
/* The ANSI colour of a fragmentation ratio: NULL below 25%. */
const char *jm_frag_color(double frag);

int jm_cmd_ps(const struct jmctl_opts *o, int argc, char **argv);
int jm_cmd_stats(const struct jmctl_opts *o, int argc, char **argv);
int jm_cmd_alerts(const struct jmctl_opts *o, int argc, char **argv);

/* ------------------------------------------------- status.c, history.c */

int jm_cmd_status(const struct jmctl_opts *o, int argc, char **argv);
int jm_cmd_history(const struct jmctl_opts *o, int argc, char **argv);

/* ------------------------------------------------------------- sites.c */

int jm_cmd_sites(const struct jmctl_opts *o, int argc, char **argv);
/* The daemon's raw {"cmd":"sites"} reply for pid over c; prints why on
 * failure and returns -errno. */
int jm_sites_fetch(struct jm_client *c, long pid, json_t **raw);
/* The raw reply symbolized as the calling user (symbolize.c): the top `max`
 * sites by live bytes, or, with bin_size > 0, by live bytes in that size
 * class (only sites holding some). NULL if out of memory; warn gets a
 * line for the user when /proc/PID/maps could not be read. */
json_t *jm_sites_symbolize(const json_t *raw, long pid, long long bin_size, size_t max,
                           char *warn, size_t warn_size);
/* One symbolized frame as text: "function  file:line  (module)". */
void jm_frame_text(char *buf, size_t size, const json_t *frame);
/* A frame in short, for one-line stacks ("held by:"): its function, with
 * " (file:line)" when with_line and they are known; module+offset or the
 * address when the function is not. */
void jm_frame_short(char *buf, size_t size, const json_t *frame, bool with_line);

/* -------------------------------------------------------------- pprof.c */

/* Writes the raw sites reply of pid as a gzip-compressed profile.proto to
 * file ("-": standard output), symbolized as the calling user; prints why
 * on failure and returns -errno. */
int jm_sites_pprof(const json_t *raw, long pid, const char *file);
/* /proc/PID opened (O_DIRECTORY): what is read of the process through it
 * is that process's, or fails once it is gone (ESRCH), never a later
 * process's that has its pid; -1 with errno. */
int jm_proc_dir(long pid);
/* The real uid and gid of the process procfd is (jm_proc_dir), and
 * whether any of its uids is not root; -1 if /proc cannot tell. */
int jm_process_owner(int procfd, uid_t *uid, gid_t *gid, bool *not_root);
#define JM_RUN_AS_MS 10000   /* jm_run_as(): the child's time, then it is killed */
#define JM_RUN_AS_BUDGET_MS 20000 /* all the children of one command (jm_run_as_budget) */
/* Runs fn in a child that has become uid:gid (no group, no capability,
 * no_new_privs, a session of its own without a terminal, /dev/null for
 * 0, 1 and 2, no descriptor of root's but keep_fd (-1: none), not
 * dumpable), for root's work on another user's files; *out (malloc'd)
 * gets the *out_len bytes fn made. 0; -ETIMEDOUT when the child took more
 * than 10 s (killed: that user's files may block an open for ever);
 * -EAGAIN, at once, for a uid whose child took that long before in this
 * jmctl; -ETIME, at once, when the children have taken the whole budget
 * (jm_run_as_budget) already; else a negative errno. jm_run_as_why(err)
 * says it in a few words. */
int jm_run_as(uid_t uid, gid_t gid, int keep_fd, int (*fn)(void *arg, char **buf, size_t *len), void *arg,
              char **out, size_t *out_len);
/* The same, with root_fn(arg) run in the child first, still root but
 * confined (its descriptors closed, keep_fd kept), before the uid change:
 * what the user may not read, and root reads without opening any file the
 * user names (/proc/PID/maps of a process that is not dumpable, through
 * keep_fd), within the child's time. */
int jm_run_as_root_first(uid_t uid, gid_t gid, int keep_fd, void (*root_fn)(void *arg),
                         int (*fn)(void *arg, char **buf, size_t *len), void *arg, char **out,
                         size_t *out_len);
/* Gives the children of jm_run_as ms in all from now (a command's start
 * gives them JM_RUN_AS_BUDGET_MS; top gives it again at each sites panel). */
void jm_run_as_budget(long ms);
const char *jm_run_as_why(int err);

/* --------------------------------------------------------------- top.c */

int jm_cmd_top(const struct jmctl_opts *o, int argc, char **argv);

/* --------------------------------------------------------------- usage.c */

/* The usage line of cmd (NULL: of jmctl itself), newline included. */
const char *jm_usage_for(const char *cmd);

/* Prints "jmctl: msg" and the command's usage on stderr; returns -EINVAL,
 * which main() turns into exit status 2. */
int jm_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parses a pid argument; returns it, or -1 after a usage error. */
long jm_parse_pid(const char *cmd, const char *arg);

#endif
