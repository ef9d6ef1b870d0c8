/*
 * sites.c: `jmctl sites PID [-n N] [-w] [--json]`, the sampled heap profile of
 * one process (docs/sites.md), and the sites of one bin for `jmctl top`;
 * with --pprof FILE, the same profile in pprof's format (pprof.c).
 *
 * jmstatd answers {"cmd":"sites"} with raw return addresses; they are
 * symbolized here, as the user running jmctl (symbolize.c), never by the
 * daemon. Root never parses another user's files with its privileges:
 * the process's maps, ELF files and debug information are read in a
 * child that has become the process's user (runas.c: setgroups, setresgid,
 * setresuid: no capability left, no_new_privs) and sends its result back
 * through a pipe as JSON; if that child fails, the frames stay addresses. The result is one JSON object,
 *   {"pid", "exe", "sample_bytes", "sites_dropped", "sites": [{"frames":
 *    [{"function", "module", "file", "line", "address", "offset"}],
 *    "id", "live_bytes", "live_objects", "alloc_bytes", "alloc_objects",
 *    "samples", "bins": [{"size", "live_bytes"}]}]}
 * (frames innermost first, unknowns null), which --json prints and the
 * text output and top's panel are made from.
 */
#include "jmctl.h"
#include "symbolize.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define SITES_DEFAULT_N 10

/* A name from debug information as a JSON string; one that is not UTF-8
 * (which JSON cannot hold) is written with jm_safe()'s escapes. */
static json_t *jstr_or_null(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	if (!j) {
		char *safe = jm_safe_dup(s);
		j = safe ? json_string(safe) : NULL;
		free(safe);
	}
	return j ? j : json_null();
}

static json_t *frame_json(struct jm_sym *sym, const char *text)
{
	json_t *o = json_object();
	struct jm_frame f;
	uint64_t addr;
	char hex[24];

	if (jm_frame_parse(text, &addr) != 0) {
		/* Not an address: kept as it came, unknown. */
		json_object_set_new(o, "function", json_null());
		json_object_set_new(o, "module", json_null());
		json_object_set_new(o, "file", json_null());
		json_object_set_new(o, "line", json_null());
		json_object_set_new(o, "address", json_string(text ? text : "?"));
		return o;
	}
	if (sym == NULL || jm_sym_lookup(sym, addr, &f) != 0) {
		memset(&f, 0, sizeof f);
		f.addr = addr;
	}
	json_object_set_new(o, "function", jstr_or_null(f.function));
	json_object_set_new(o, "module", jstr_or_null(f.module));
	json_object_set_new(o, "file", jstr_or_null(f.file));
	json_object_set_new(o, "line", f.line > 0 ? json_integer(f.line) : json_null());
	snprintf(hex, sizeof hex, "0x%" PRIx64, addr);
	json_object_set_new(o, "address", json_string(hex));
	if (f.module) {
		snprintf(hex, sizeof hex, "0x%" PRIx64, f.offset);
		json_object_set_new(o, "offset", json_string(hex));
	}
	jm_frame_free(&f);
	return o;
}

/* Live bytes of a raw site in the class of `size` (0: all classes). */
static double bin_bytes(const json_t *site, long long size)
{
	json_t *bins = json_object_get(site, "bins"), *b;
	size_t i;

	if (size == 0)
		return jm_num(site, "live_bytes");
	json_array_foreach(bins, i, b)
		if (jm_int(b, "size") == size)
			return jm_num(b, "live_bytes");
	return 0;
}

struct ranked {
	json_t *site;
	double bytes;
};

static int by_bytes(const void *a, const void *b)
{
	double x = ((const struct ranked *)a)->bytes, y = ((const struct ranked *)b)->bytes;

	return (x < y) - (x > y);
}

/* Lookups over the modules of the reply (no ELF file opened: module and
 * offset only), or NULL when it has none. */
static struct jm_sym *modules_sym(const json_t *raw)
{
	json_t *mods = json_object_get(raw, "modules"), *e;
	char *text = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);
	struct jm_sym *sym = NULL;

	if (f == NULL)
		return NULL;
	json_array_foreach(mods, i, e) {
		uint64_t start = 0, limit = 0, offset = 0;
		const char *path = jm_str(e, "path");

		if (jm_frame_parse(jm_str(e, "start"), &start) != 0 ||
		    jm_frame_parse(jm_str(e, "limit"), &limit) != 0 ||
		    jm_frame_parse(jm_str(e, "offset"), &offset) != 0 || start >= limit ||
		    path[0] != '/' || strchr(path, '\n') != NULL)
			continue;
		fprintf(f, "%" PRIx64 "-%" PRIx64 " r-xp %08" PRIx64 " 00:00 1 %s\n", start, limit, offset,
		        path);
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	if (len > 0 && jm_sym_from_maps(text, len, false, &sym) != 0)
		sym = NULL;
	free(text);
	return sym;
}

static json_t *symbolize_here(const json_t *raw, long pid, int procfd, const struct jm_maps_text *pre,
                              long long bin_size, size_t max, bool with_symbols, char *warn,
                              size_t warn_size)
{
	json_t *out = json_object(), *sites = json_array(), *s;
	json_t *raw_sites = json_object_get(raw, "sites");
	size_t n = json_is_array(raw_sites) ? json_array_size(raw_sites) : 0, kept = 0, i;
	struct ranked *r = calloc(n + 1, sizeof *r);
	struct jm_sym *sym = NULL;
	int err;

	if (warn_size)
		warn[0] = '\0';
	if (r == NULL) {
		json_decref(out);
		json_decref(sites);
		return NULL;
	}
	json_array_foreach(raw_sites, i, s) {
		double bytes = bin_bytes(s, bin_size);

		if (bin_size != 0 && bytes <= 0)
			continue;
		r[kept].site = s;
		r[kept].bytes = bytes;
		kept++;
	}
	qsort(r, kept, sizeof *r, by_bytes);
	if (kept > max)
		kept = max;

	err = kept && with_symbols ? jm_sym_open_from((pid_t)pid, procfd, pre, &sym) : 0;
	/* The process gone before its maps were read (it exited after the
	 * daemon's reply): the modules it published name each frame by
	 * module and offset, as the daemon's log and the pprof profile do; no
	 * file is opened for them (their paths were the process's to write). */
	bool by_modules = kept && sym == NULL && (procfd < 0 || err == -ENOENT || err == -ESRCH) &&
	                  (sym = modules_sym(raw)) != NULL;
	if (err && warn_size)
		snprintf(warn, warn_size, "cannot read /proc/%ld/maps (%s): frames %s",
		         pid, strerror(-err), by_modules ? "named by module and offset" : "left as addresses");
	else if (!with_symbols && kept && procfd < 0 && warn_size)
		snprintf(warn, warn_size, "process %ld has exited: frames %s", pid,
		         by_modules ? "named by module and offset" : "left as addresses");

	json_object_set_new(out, "pid", json_integer(pid));
	json_object_set_new(out, "exe", json_string(jm_str(raw, "exe")));
	json_object_set_new(out, "sample_bytes", json_integer(jm_int(raw, "sample_bytes")));
	json_object_set_new(out, "sites_dropped", json_integer(jm_int(raw, "sites_dropped")));
	for (i = 0; i < kept; i++) {
		json_t *site = r[i].site, *o = json_object(), *frames = json_array(), *f;
		size_t j;

		json_array_foreach(json_object_get(site, "frames"), j, f)
			json_array_append_new(frames, frame_json(sym, json_string_value(f)));
		json_object_set_new(o, "frames", frames);
		json_object_set_new(o, "id", json_string(jm_str(site, "id")));
		json_object_set_new(o, "live_bytes", json_integer(jm_int(site, "live_bytes")));
		json_object_set_new(o, "live_objects", json_integer(jm_int(site, "live_objects")));
		json_object_set_new(o, "alloc_bytes", json_integer(jm_int(site, "alloc_bytes")));
		json_object_set_new(o, "alloc_objects", json_integer(jm_int(site, "alloc_objects")));
		json_object_set_new(o, "samples", json_integer(jm_int(site, "samples")));
		json_object_set_new(o, "error_bytes", json_integer(jm_int(site, "error_bytes")));
		json_object_set_new(o, "bounded", json_boolean(json_is_true(json_object_get(site, "bounded"))));
		if (json_object_get(site, "estimated_bytes"))
			json_object_set_new(o, "estimated_bytes", json_integer(jm_int(site, "estimated_bytes")));
		json_t *bins = json_object_get(site, "bins");
		json_object_set_new(o, "bins", json_is_array(bins) ? json_deep_copy(bins) : json_array());
		json_array_append_new(sites, o);
	}
	json_object_set_new(out, "sites", sites);
	jm_sym_close(sym);
	free(r);
	return out;
}

/* What the child of symbolize_as() runs: the sites symbolized, as JSON
 * (with its warning in "warn"). */
struct symbolize_job {
	const json_t *raw;
	long pid;
	int procfd;              /* /proc/PID, checked: jm_proc_dir */
	long long bin_size;
	size_t max;
	struct jm_maps_text maps; /* its maps, read by the child as root */
	bool maps_read;
};

/* In the child, as root, confined (jm_run_as_root_first): the maps of a
 * process that is not dumpable (a server that dropped root's privileges)
 * are not its owner's to read, the files they name are. */
static void symbolize_job_maps(void *arg)
{
	struct symbolize_job *job = arg;

	jm_maps_read((pid_t)job->pid, job->procfd, &job->maps);
	job->maps_read = true;
}

static int symbolize_job_run(void *arg, char **buf, size_t *len)
{
	const struct symbolize_job *job = arg;
	char cwarn[256] = "";
	json_t *out = symbolize_here(job->raw, job->pid, job->procfd, job->maps_read ? &job->maps : NULL,
	                             job->bin_size, job->max, true, cwarn, sizeof cwarn);
	if (out && cwarn[0])
		json_object_set_new(out, "warn", json_string(cwarn));
	*buf = out ? json_dumps(out, JSON_COMPACT) : NULL;
	*len = *buf ? strlen(*buf) : 0;
	return *buf ? 0 : -ENOMEM;
}

/* Symbolizes in a child running as uid:gid (jm_run_as). NULL if the child
 * could not become that user, did not answer, or took too long (*err
 * says which). */
static json_t *symbolize_as(uid_t uid, gid_t gid, const json_t *raw, long pid, int procfd,
                            long long bin_size, size_t max, char *warn, size_t warn_size, int *err)
{
	struct symbolize_job job = { raw, pid, procfd, bin_size, max, { NULL, 0, 0 }, false };
	char *buf;
	size_t len;

	*err = jm_run_as_root_first(uid, gid, procfd, symbolize_job_maps, symbolize_job_run, &job, &buf, &len);
	if (*err != 0)
		return NULL;
	json_t *out = json_loadb(buf, len, 0, NULL);
	free(buf);
	if (!json_is_object(out)) {
		json_decref(out);
		return NULL;
	}
	if (warn_size)
		snprintf(warn, warn_size, "%s", jm_str(out, "warn"));
	json_object_del(out, "warn");
	return out;
}

json_t *jm_sites_symbolize(const json_t *raw, long pid, long long bin_size, size_t max,
                           char *warn, size_t warn_size)
{
	uid_t uid;
	gid_t gid;
	bool not_root;
	/* The process is held by its /proc/PID from the owner's check to
	 * its maps: the pid read again by name could be another's by then
	 * (root's process gone and a user's started in its place: root
	 * then opened that user's files, as root). */
	int procfd = jm_proc_dir(pid), err;
	json_t *out;

	if (geteuid() != 0) {
		out = symbolize_here(raw, pid, procfd, NULL, bin_size, max, true, warn, warn_size);
	} else if (jm_process_owner(procfd, &uid, &gid, &not_root) != 0) {
		/* Root: its own processes as itself; another user's as that user. */
		out = symbolize_here(raw, pid, procfd, NULL, bin_size, max, false, warn, warn_size);
	} else if (!not_root) {
		out = symbolize_here(raw, pid, procfd, NULL, bin_size, max, true, warn, warn_size);
	} else if ((out = symbolize_as(uid, gid, raw, pid, procfd, bin_size, max, warn, warn_size,
	                               &err)) == NULL) {
		/* The child reads the maps as root before it becomes the owner:
		 * the owner cannot read those of a process that is not
		 * dumpable (one that dropped root's privileges, as most servers
		 * do: their frames were left as addresses), and the files they
		 * name are still opened as the owner. */
		out = symbolize_here(raw, pid, procfd, NULL, bin_size, max, false, warn, warn_size);
		if (warn_size)
			snprintf(warn, warn_size, "symbolizing as uid %u, the owner of process %ld, %s: "
			         "frames left as addresses", (unsigned)uid, pid, jm_run_as_why(err));
	}
	if (procfd >= 0)
		close(procfd);
	return out;
}

/* A frame's name into buf: its function, else module+offset, else its
 * address (a frame left raw is its address as a string). Returns the
 * length written, at most size - 1. */
static size_t frame_name(char *buf, size_t size, const json_t *f)
{
	const char *fn = jm_str(f, "function"), *mod = jm_str(f, "module");
	int n;

	if (json_is_string(f))
		n = snprintf(buf, size, "%s", json_string_value(f));
	else if (fn[0])
		n = snprintf(buf, size, "%s", fn);
	else if (mod[0])
		n = snprintf(buf, size, "%s+%s", mod, jm_str(f, "offset"));
	else
		n = snprintf(buf, size, "%s", jm_str(f, "address"));
	return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

void jm_frame_short(char *buf, size_t size, const json_t *f, bool with_line)
{
	const char *file = jm_str(f, "file");
	size_t off = frame_name(buf, size, f);

	if (with_line && jm_str(f, "function")[0] && file[0] && off < size)
		snprintf(buf + off, size - off, " (%s:%lld)", jm_basename(file), jm_int(f, "line"));
}

void jm_frame_text(char *buf, size_t size, const json_t *f)
{
	const char *fn = jm_str(f, "function"), *mod = jm_str(f, "module");
	const char *file = jm_str(f, "file");
	size_t off = frame_name(buf, size, f);

	if (off < size && file[0])
		off += (size_t)snprintf(buf + off, size - off, "  %s:%lld", jm_basename(file),
		                        jm_int(f, "line"));
	if (off < size && fn[0] && mod[0])
		snprintf(buf + off, size - off, "  (%s)", mod);
}

/* The columns a frame line is cut to: the terminal's, when standard
 * output is one that tells its width; 0 (never cut) otherwise. */
static int frame_cols(void)
{
	struct winsize ws;

	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
		return ws.ws_col;
	return 0;
}

/* A frame as jm_frame_text() writes it, whole (malloc'd; NULL if out of
 * memory): a C++ name of templates runs to thousands of bytes. */
static char *frame_text_dup(const json_t *f)
{
	size_t size = 64 + strlen(jm_str(f, "function")) + strlen(jm_str(f, "module")) +
	              strlen(jm_str(f, "file")) + strlen(jm_str(f, "address")) +
	              strlen(jm_str(f, "offset")) +
	              (json_is_string(f) ? strlen(json_string_value(f)) : 0);
	char *buf = malloc(size);

	if (buf)
		jm_frame_text(buf, size, f);
	return buf;
}

/* One frame line, "    " and its text made safe; with cols > 0 (a
 * terminal), cut to that many columns as the terminal counts them (never
 * in the middle of a character or of an escape), the cut marked with an
 * ellipsis, as top's sites panel is cut at the screen's edge. */
static void print_frame(const json_t *f, int cols, bool utf8)
{
	const char *mark = utf8 ? "\xe2\x80\xa6" : "...";
	int mark_cols = utf8 ? 1 : 3, room = cols - 4;
	char *text = frame_text_dup(f);

	if (!text) {
		fputs("jmctl: out of memory\n", stderr);
		exit(JMCTL_EXIT_ERROR);
	}
	size_t len = strlen(text), n = len;
	if (cols > 0) {
		n = jm_text_fit(text, len, room > 0 ? room : 0, NULL);
		if (n < len)
			n = jm_text_fit(text, len, room > mark_cols ? room - mark_cols : 0, NULL);
	}
	text[n] = '\0';
	fputs("    ", stdout);
	jm_fputs_safe(text, stdout);
	if (n < len)
		fputs(mark, stdout);
	putchar('\n');
	free(text);
}

static void print_sites(const json_t *out, int cols, bool utf8)
{
	json_t *sites = json_object_get(out, "sites"), *s;
	char a[24], b[24], c[24], exe[JM_SAFE_EXE];
	size_t i;

	printf("pid %lld (%s): %zu site%s by estimated live bytes; one allocation sampled per %s "
	       "allocated on average",
	       jm_int(out, "pid"), jm_safe(exe, sizeof(exe), jm_str(out, "exe")),
	       json_array_size(sites),
	       json_array_size(sites) == 1 ? "" : "s",
	       jm_fmt_bytes(a, sizeof a, jm_num(out, "sample_bytes")));
	if (jm_int(out, "sites_dropped") > 0)
		printf("; %lld sample%s dropped (site table full)", jm_int(out, "sites_dropped"),
		       jm_int(out, "sites_dropped") == 1 ? "" : "s");
	putchar('\n');
	if (jm_int(out, "sample_bytes") > 0 && json_array_size(sites) > 0)
		puts("(live bytes are estimates from the samples, +- one standard error)");
	if (jm_int(out, "sample_bytes") == 0)
		puts("(sampling is off in this process: JMALLOC_CONF=prof_sample:0)");
	else if (json_array_size(sites) == 0)
		puts("(no site sampled yet)");
	json_array_foreach(sites, i, s) {
		json_t *f, *bin;
		size_t j;

		printf("\n#%zu  %s", i + 1, jm_fmt_bytes(a, sizeof a, jm_num(s, "live_bytes")));
		if (jm_num(s, "error_bytes") > 0)
			printf(" +- %s", jm_fmt_bytes(a, sizeof a, jm_num(s, "error_bytes")));
		printf(" live in %s object%s  (%s allocated since start)\n",
		       jm_fmt_count(b, sizeof b, jm_num(s, "live_objects")),
		       jm_int(s, "live_objects") == 1 ? "" : "s",
		       jm_fmt_bytes(c, sizeof c, jm_num(s, "alloc_bytes")));
		if (json_is_true(json_object_get(s, "bounded")))
			printf("    (estimated %s from %lld sample%s, more than the process holds in these "
			       "size classes: brought down to it)\n",
			       jm_fmt_bytes(a, sizeof a, jm_num(s, "estimated_bytes")),
			       jm_int(s, "samples"), jm_int(s, "samples") == 1 ? "" : "s");
		if (json_array_size(json_object_get(s, "bins")) > 0) {
			fputs("    bins:", stdout);
			json_array_foreach(json_object_get(s, "bins"), j, bin) {
				if (j == 8) {
					fputs(" ...", stdout);
					break;
				}
				if (jm_int(bin, "size") > 0)
					printf(" %lld: %s", jm_int(bin, "size"),
					       jm_fmt_bytes(a, sizeof a, jm_num(bin, "live_bytes")));
				else
					printf(" large: %s", jm_fmt_bytes(a, sizeof a, jm_num(bin, "live_bytes")));
			}
			putchar('\n');
		}
		json_array_foreach(json_object_get(s, "frames"), j, f)
			print_frame(f, cols, utf8);
	}
}

int jm_sites_fetch(struct jm_client *c, long pid, json_t **raw)
{
	json_t *req = json_pack("{s:s,s:I}", "cmd", "sites", "pid", (json_int_t)pid);
	int err = jm_client_call(c, req, raw, false);

	json_decref(req);
	return err;
}

int jm_cmd_sites(const struct jmctl_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pprof", required_argument, NULL, 'P' },
		{ "wide", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const char *arg = NULL, *pprof = NULL;
	long n = SITES_DEFAULT_N, pid;
	bool wide = false;
	struct jm_client c;
	json_t *raw, *out;
	char warn[256], *end;
	int ch, err;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":n:w", longopts, NULL)) != -1) {
		switch (ch) {
		case 'P':
			if (optarg[0] == '\0')
				return jm_usage_error("sites", "--pprof wants a file name, or - for standard output");
			pprof = optarg;
			break;
		case 'w':
			wide = true;
			break;
		case 'n':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || n < 1)
				return jm_usage_error("sites", "-n wants a number of sites >= 1, not '%s'", optarg);
			break;
		case ':':
			if (optopt == 'P')
				return jm_usage_error("sites", "option '--pprof' needs a file name (or -)");
			return jm_usage_error("sites", "option '-%c' needs an argument", optopt);
		default:
			return jm_usage_error("sites", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return jm_usage_error("sites", "which process? (a PID)");
	arg = argv[optind];
	if (optind + 1 < argc)
		return jm_usage_error("sites", "unexpected argument '%s'", argv[optind + 1]);
	pid = jm_parse_pid("sites", arg);
	if (pid < 0)
		return -EINVAL;
	/* gzip on a terminal is noise that can leave it in a strange state. */
	if (pprof && strcmp(pprof, "-") == 0 && isatty(STDOUT_FILENO))
		return jm_usage_error("sites", "--pprof - writes a gzip-compressed profile to standard output, "
		                      "which is a terminal: redirect it (jmctl sites %ld --pprof - > heap.pb.gz) "
		                      "or name a file", pid);

	err = jm_client_open(&c, o->socket);
	if (err)
		return err;
	err = jm_sites_fetch(&c, pid, &raw);
	jm_client_close(&c);
	if (err)
		return err;
	if (pprof) {
		err = jm_sites_pprof(raw, pid, pprof);
		json_decref(raw);
		return err;
	}
	out = jm_sites_symbolize(raw, pid, 0, (size_t)n, warn, sizeof warn);
	json_decref(raw);
	if (out == NULL) {
		fputs("jmctl: out of memory\n", stderr);
		return -ENOMEM;
	}
	if (warn[0]) {
		fputs("jmctl: ", stderr);
		jm_fputs_safe(warn, stderr);   /* the symbolizing child's: another user's to sway */
		fputc('\n', stderr);
	}
	if (o->json) {
		jm_print_json(out);
	} else {
		print_sites(out, wide ? 0 : frame_cols(), o->utf8);
	}
	json_decref(out);
	return 0;
}
