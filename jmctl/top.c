/*
 * top.c: `jmctl top`, the live view of per-bin usage: the command line,
 * the loop and the keys.
 *
 * One connection: {"cmd":"history"} first (to draw the sparkline of the
 * last minutes at once), then {"cmd":"subscribe"}, after which jmstatd
 * sends one update per sample interval. The newest update is the model
 * (top_model.c); a frame is built from it as lines of text
 * (jm_top_build_frame), then either printed (-b, or when stdout is not a
 * terminal) or drawn with curses (top_curses.c), where the meters get
 * their colours. This file owns the command line, the loop and the keys.
 * A frame is drawn when an update arrives and -d seconds have passed since
 * the last one, and at once after a key or a resize.
 *
 * In both views one row is selected (the arrows move it, the table
 * scrolls to keep it in sight). In the process view, Enter opens the
 * selected process: a new stream for that pid (as -p), its bins and
 * sites; Esc or Backspace goes back to every process. `/` filters the
 * process view by a text found in the exe or the user. In the bins view,
 * Enter shows, below the table, the allocation sites behind the selected
 * size class, ranked by the bytes they keep wasted in it: the processes
 * wasting the most in that class are found (their stats), and each site
 * of theirs gets the share of its process's waste in the class that its
 * live bytes there hold (the objects left in sparse runs are what keeps
 * them); each with enough frames to tell it from the others shown.
 * Enter again closes them.
 *
 * The terminal is restored on every way out: q, Ctrl-C (SIGINT), SIGTERM,
 * SIGHUP (or the terminal hung up without one), the daemon closing the
 * stream, and exit() from anywhere (atexit).
 */
#include "top.h"

#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* The process view's keys are ps's (jm_proc_sort_keys, common/sortkeys.c);
 * allocated is the default there. */
#define TOP_PROC_DEFAULT_KEY "allocated"

static void on_signal(int sig)
{
	jm_top_signal = sig;
}

static const struct jm_sort_key *view_keys(const struct top *t)
{
	return t->view == VIEW_BINS ? jm_top_bin_keys : jm_proc_sort_keys;
}

static int nkeys(const struct jm_sort_key *k)
{
	int n = 0;

	while (k[n].name)
		n++;
	return n;
}

/* ---------------------------------------------------------------- keys */

static void set_key(struct top *t, const char *name)
{
	const struct jm_sort_key *k = jm_sort_find(view_keys(t), name);

	if (k)
		t->key[t->view] = (int)(k - view_keys(t));
}

static int open_process(struct top *t, long pid);

/* The filter's line editor: printable characters, Backspace, Enter
 * applies (an empty text clears the filter), Esc cancels. */
static void edit_key(struct top *t, int ch)
{
	size_t len = strlen(t->edit);

	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		snprintf(t->filter, sizeof(t->filter), "%s", t->edit);
		t->editing = false;
		t->psel = 0;
		t->scroll = 0;
	} else if (ch == 27) {
		t->editing = false;
	} else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		if (len)
			t->edit[len - 1] = '\0';
	} else if (ch >= 0x20 && ch < 0x7f && len + 1 < sizeof(t->edit)) {
		t->edit[len] = (char)ch;
		t->edit[len + 1] = '\0';
	}
}

/* Returns 1 when the key asks to quit, a negative errno when opening a
 * process failed (the message is printed), else 0. */
static int handle_key(struct top *t, int ch)
{
	int n = nkeys(view_keys(t));

	t->note[0] = '\0';
	if (t->editing) {
		edit_key(t, ch);
		return 0;
	}
	switch (ch) {
	case 'q': case 'Q': return 1;
	case '/':
		t->editing = true;
		snprintf(t->edit, sizeof(t->edit), "%s", t->filter);
		t->view = VIEW_PROCS;
		break;
	case 27: case KEY_BACKSPACE: case 127: case 8:
		if (t->opened)
			return open_process(t, 0);
		if (t->filter[0]) {
			t->filter[0] = '\0';
			t->psel = 0;
		}
		break;
	case 's': t->key[t->view] = (t->key[t->view] + 1) % n; break;
	case 'S': t->key[t->view] = (t->key[t->view] + n - 1) % n; break;
	case 'r': t->reverse = !t->reverse; break;
	case 'p': case '\t':
		t->view = t->view == VIEW_BINS ? VIEW_PROCS : VIEW_BINS;
		t->scroll = 0;
		break;
	case 'h': case '?': t->help = !t->help; break;
	case '\n': case '\r': case KEY_ENTER:
		if (t->view == VIEW_PROCS && t->selected_pid > 0 && !t->pid)
			return open_process(t, t->selected_pid);
		if (t->view == VIEW_PROCS)
			break;
		if (t->sites) {
			json_decref(t->sites);
			t->sites = NULL;
		} else if (t->selected_size > 0) {
			jm_top_load_sites(t);
		}
		break;
	case 'w': set_key(t, "wasted"); break;
	case 'u': set_key(t, "util"); break;
	case 'z': set_key(t, "size"); break;
	case 'i': set_key(t, "inuse"); break;
	case 'n': set_key(t, "runs"); break;
	case 'a': set_key(t, "rate"); break;
	case 'f': set_key(t, "frag"); break;
	case 'm': set_key(t, "allocated"); break;
	case KEY_UP: case KEY_DOWN: case KEY_PPAGE: case KEY_NPAGE: case KEY_HOME: {
		int step = ch == KEY_UP ? -1 : ch == KEY_DOWN ? 1 :
		           ch == KEY_PPAGE ? -LINES / 2 : ch == KEY_NPAGE ? LINES / 2 : -1000000;

		int *sel = t->view == VIEW_BINS ? &t->sel : &t->psel;

		*sel += step;             /* the selection moves, the table follows */
		if (*sel < 0)
			*sel = 0;
		break;
	}
	case 12: /* Ctrl-L */ clearok(curscr, TRUE); break;
	default: break;
	}
	return 0;
}

/* Opens process pid from the process view (0: back to every process): a
 * new stream, the bins view of it. What goes wrong is kept off the curses
 * screen and printed once the terminal is restored. */
static int open_process(struct top *t, long pid)
{
	FILE *errs = tmpfile();
	int saved = dup(STDERR_FILENO), err;

	fflush(stderr);
	if (errs && saved >= 0)
		dup2(fileno(errs), STDERR_FILENO);
	jm_client_close(&t->c);
	t->c.fd = -1;
	json_decref(t->sites);
	t->sites = NULL;
	json_decref(t->last);
	t->last = NULL;
	t->hn = t->hhead = 0;
	t->pid = pid;
	t->opened = pid != 0;
	t->view = pid ? VIEW_BINS : VIEW_PROCS;
	t->sel = 0;
	t->scroll = 0;
	err = jm_top_stream_start(t);
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	if (err) {
		char buf[1024];
		size_t got;

		jm_top_restore_terminal();
		if (errs) {
			rewind(errs);
			while ((got = fread(buf, 1, sizeof(buf), errs)) > 0)
				fwrite(buf, 1, got, stderr);
		}
	}
	if (errs)
		fclose(errs);
	return err;
}

static int term_width(void)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");

	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (env && atoi(env) > 20)
		return atoi(env);
	return 100;
}

/* A frame built for the screen's width and drawn (top_curses.c). */
static void draw(struct top *t, struct frame *f)
{
	jm_top_build_frame(t, f, COLS, true);
	jm_top_draw(t, f);
}

static int parse_top(struct top *t, int argc, char **argv)
{
	const char *sortname = NULL;
	char names[512], *end;
	int c;

	opterr = 0;
	while ((c = getopt(argc, argv, ":p:d:s:bn:r")) != -1) {
		switch (c) {
		case 'p':
			t->pid = jm_parse_pid("top", optarg);
			if (t->pid < 0)
				return -EINVAL;
			break;
		case 'd':
			errno = 0;
			t->delay_s = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(t->delay_s >= 0.1) || t->delay_s > 86400)
				return jm_usage_error("top", "-d wants seconds between 0.1 and 86400, not '%s'", optarg);
			break;
		case 's': sortname = optarg; break;
		case 'b': t->batch = true; break;
		case 'n':
			errno = 0;
			t->nframes = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || t->nframes < 1)
				return jm_usage_error("top", "-n wants a number of frames >= 1, not '%s'", optarg);
			break;
		case 'r': t->reverse = true; break;
		case ':':
			return jm_usage_error("top", "option '-%c' needs an argument", optopt);
		default:
			return jm_usage_error("top", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return jm_usage_error("top", "unexpected argument '%s'", argv[optind]);
	if (sortname) {
		const struct jm_sort_key *k = jm_sort_find(jm_top_bin_keys, sortname);

		if (k) {
			t->view = VIEW_BINS;
			t->key[VIEW_BINS] = (int)(k - jm_top_bin_keys);
		} else if ((k = jm_sort_find(jm_proc_sort_keys, sortname))) {
			t->view = VIEW_PROCS;
			t->key[VIEW_PROCS] = (int)(k - jm_proc_sort_keys);
		} else {
			size_t off;

			jm_sort_names(names, sizeof(names), jm_top_bin_keys);
			off = strlen(names);
			snprintf(names + off, sizeof(names) - off, "; processes: ");
			off = strlen(names);
			jm_sort_names(names + off, sizeof(names) - off, jm_proc_sort_keys);
			return jm_usage_error("top", "unknown sort key '%s' (bins: %s)", sortname, names);
		}
	}
	return 0;
}

int jm_cmd_top(const struct jmctl_opts *o, int argc, char **argv)
{
	struct top *t = calloc(1, sizeof(*t));
	struct frame f = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	double last_draw = -1e9;
	long drawn = 0;
	int err;

	if (!t) {
		fputs("jmctl: out of memory\n", stderr);
		return -ENOMEM;
	}
	t->o = o;
	t->delay_s = 1.0;
	t->key[VIEW_PROCS] = (int)(jm_sort_find(jm_proc_sort_keys, TOP_PROC_DEFAULT_KEY) - jm_proc_sort_keys);
	t->c.fd = -1;
	err = parse_top(t, argc, argv);
	if (err)
		goto out;
	if (!o->tty && !o->json)
		t->batch = true;  /* no terminal to draw on: plain frames, like top -b */

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	atexit(jm_top_restore_terminal);

	err = jm_top_stream_start(t);
	if (err || jm_top_signal)
		goto out;
	if (!t->batch && !o->json) {
		err = jm_top_start_curses(t);
		if (err)
			goto out;
	}

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = t->c.fd, .events = POLLIN },
			{ .fd = STDIN_FILENO, .events = POLLIN },
		};
		bool redraw = false;
		double now = jm_top_now();

		/* An update drawn when -d seconds (less half an interval, for the
		 * jitter of the stream) have passed since the last frame. */
		if (t->fresh && now - last_draw >= t->delay_s - t->c.interval_ms / 2000.0) {
			t->fresh = false;
			last_draw = now;
			drawn++;
			if (o->json) {
				if (t->last_raw && t->last)
					jm_print_json_line(t->last_raw, t->last);
				else
					puts("");
				fflush(stdout);
			} else if (t->curses_on) {
				draw(t, &f);
			} else {
				jm_top_print_batch(t, &f, term_width());
			}
			if (t->nframes && drawn >= t->nframes)
				break;
		}
		/* Without a screen nothing else wakes us: a daemon that stops
		 * sending updates (stopped, stuck) must not hold a script for
		 * ever, as every other command gives up after 10 s. Its next
		 * update is due an interval after the last one. */
		int wait_ms = t->curses_on ? 1000 : t->c.interval_ms + JMCTL_REPLY_TIMEOUT_MS;
		int poll_ms = wait_ms;
		if (!t->curses_on) {
			/* Counted from the last whole update, not the last byte:
			 * a daemon that sends a byte now and then but never a
			 * line held `top -b` for ever. */
			double left = t->last_arrival + wait_ms / 1000.0 - jm_top_now();
			poll_ms = left > 0 ? (int)(left * 1000.0) + 1 : 0;
		}
		int r = poll(pfd, t->curses_on ? 2 : 1, poll_ms);

		if (jm_top_signal)
			break;
		/* The terminal gone (its tmux, ssh or window ended) without a
		 * SIGHUP (blocked, or the terminal not its session's): as on
		 * SIGHUP. Before, a hung-up stdin woke every poll at once, getch
		 * read nothing, and jmctl top spun at 100% of a CPU for ever
		 * (tests/cli/top_hangup.test.sh). */
		if (t->curses_on && r > 0 && (pfd[1].revents & (POLLHUP | POLLERR | POLLNVAL)))
			break;
		if (!t->curses_on && jm_top_now() - t->last_arrival >= wait_ms / 1000.0) {
			fprintf(stderr, "jmctl: %s: jmstatd sent no update within %d s "
			        "(is it stuck? check its log)\n", t->c.path, wait_ms / 1000);
			err = -ETIMEDOUT;
			break;
		}
		if (r < 0 && errno != EINTR) {
			err = -errno;
			jm_top_restore_terminal();
			fprintf(stderr, "jmctl: poll: %s\n", strerror(errno));
			break;
		}
		if (r > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			/* Take every complete line that came; keep the newest. */
			for (;;) {
				err = jm_client_read_line(&t->c, 0);
				if (err == -ETIMEDOUT || err == -EINTR) {
					err = 0;
					break;
				}
				if (err)
					break;
				err = jm_top_take_update(t);
				if (err)
					break;
			}
			if (err == -ECHILD) {
				long gone = t->pid;

				err = open_process(t, 0);
				if (err)
					break;
				snprintf(t->note, sizeof(t->note), "process %ld exited", gone);
				continue;
			}
			if (err) {
				jm_top_restore_terminal();
				if (err == -EPIPE || err == -ECONNRESET)
					fprintf(stderr, "jmctl: %s: jmstatd closed the connection "
					        "(did it stop? check its log, or `systemctl status jmstatd`)\n",
					        t->c.path);
				else if (err != -EPROTO && err != -ENOENT)
					jm_client_report(&t->c, err, "'subscribe'");
				break;
			}
		}
		if (t->curses_on) {
			int ch;

			while ((ch = getch()) != ERR) {
				if (ch == KEY_RESIZE) {
					redraw = true;
					continue;
				}
				int r2 = handle_key(t, ch);
				if (r2 > 0)
					goto quit;
				if (r2 < 0) {
					err = r2;
					goto quit;
				}
				redraw = true;
			}
			/* Redraw for a key or a resize, and to show a stale stream. */
			if (redraw || jm_top_now() - t->last_arrival > 3 * t->c.interval_ms / 1000.0 + 1)
				draw(t, &f);
		}
	}
quit:
	jm_top_restore_terminal();
	if (jm_top_signal && jm_top_signal != SIGINT && jm_top_signal != SIGTERM && jm_top_signal != SIGHUP)
		err = -EINTR;
out:
	jm_top_restore_terminal();
	if (t->c.fd >= 0)
		jm_client_close(&t->c);
	json_decref(t->last);
	json_decref(t->sites);
	free(t->last_raw);
	free(f.lines);
	free(t);
	return err;
}
