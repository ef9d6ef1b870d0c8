/*
 * symbolize.c: return addresses of another process to module, function
 * and file:line (symbolize.h), as the calling user.
 *
 * The maps text is parsed here, by a parser that trusts nothing (fuzzed by
 * tests/fuzz/maps_fuzz.c): each line is
 *   START-END PERMS OFFSET MAJOR:MINOR INODE [PATH]
 * and a line that does not match, or that overlaps a mapping kept before,
 * is skipped. Each run of consecutive mappings of one file becomes a
 * libdwfl module spanning them, reported with dwfl_report_module(): libdwfl
 * then opens the file by its path (dwfl_linux_proc_find_elf), finds its
 * load bias from its first loadable segment, and its debug information
 * where Debian keeps it (the build-id tree under /usr/lib/debug,
 * .gnu_debuglink) through dwfl_standard_find_debuginfo. A frame outside
 * every module keeps its mapping's module and file offset.
 *
 * A return address points after its call: the symbol and the line are
 * those of addr - 1.
 */
#include "symbolize.h"

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct jm_sym {
	struct jm_maps maps;
	Dwfl *dwfl;              /* NULL if libdwfl could not start */
};

/* ------------------------------------------------------------ maps text */

void jm_maps_free(struct jm_maps *maps)
{
	for (size_t i = 0; i < maps->n; i++)
		free(maps->v[i].path);
	free(maps->v);
	maps->v = NULL;
	maps->n = 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A number in base 16 or 10 of 1 to 16 (20) digits at *p, up to end;
 * advances *p. */
static bool number(const char **p, const char *end, int base, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int digits = 0;

	for (; s < end; s++) {
		int d = hexval(*s);

		if (d < 0 || d >= base)
			break;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return false;
		v = v * (uint64_t)base + (uint64_t)d;
		digits++;
	}
	if (digits == 0)
		return false;
	*p = s;
	*out = v;
	return true;
}

static bool expect(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return false;
	(*p)++;
	return true;
}

static void skip_blanks(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
}

/* One line [p, end) into *m (path not yet copied: [*path, *path_end)). */
static bool parse_line(const char *p, const char *end, struct jm_map *m,
                       const char **path, const char **path_end)
{
	uint64_t major, minor;

	if (!number(&p, end, 16, &m->start) || !expect(&p, end, '-') ||
	    !number(&p, end, 16, &m->end) || !expect(&p, end, ' ') ||
	    m->start >= m->end)
		return false;
	if (end - p < 5 || p[4] != ' ')
		return false;
	m->exec = p[2] == 'x';
	p += 5;
	if (!number(&p, end, 16, &m->offset) || !expect(&p, end, ' ') ||
	    !number(&p, end, 16, &major) || !expect(&p, end, ':') ||
	    !number(&p, end, 16, &minor) || !expect(&p, end, ' ') ||
	    !number(&p, end, 10, &m->inode))
		return false;
	if (p < end && *p != ' ' && *p != '\t')
		return false;
	skip_blanks(&p, end);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	if (end - p >= (long)JM_MAPS_PATH_MAX || memchr(p, '\0', (size_t)(end - p)) != NULL)
		return false;
	*path = p;
	*path_end = end;
	return true;
}

static int by_start(const void *a, const void *b)
{
	const struct jm_map *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

int jm_maps_parse(const char *text, size_t len, struct jm_maps *maps)
{
	const char *p = text, *end = text + len;
	size_t cap = 0;

	maps->v = NULL;
	maps->n = 0;
	while (p < end && maps->n < JM_MAPS_MAX_ENTRIES) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		const char *path, *path_end;
		struct jm_map m = { 0 };

		if (parse_line(p, line_end, &m, &path, &path_end)) {
			if (maps->n == cap) {
				size_t ncap = cap ? 2 * cap : 64;
				struct jm_map *v = realloc(maps->v, ncap * sizeof *v);

				if (v == NULL)
					goto nomem;
				maps->v = v;
				cap = ncap;
			}
			m.path = strndup(path, (size_t)(path_end - path));
			if (m.path == NULL)
				goto nomem;
			maps->v[maps->n++] = m;
		}
		p = nl ? nl + 1 : end;
	}
	/* The kernel's order is by address; anything else is sorted, and a
	 * mapping that overlaps the one before it is dropped. */
	if (maps->n > 1)
		qsort(maps->v, maps->n, sizeof *maps->v, by_start);
	size_t kept = 0;
	for (size_t i = 0; i < maps->n; i++) {
		if (kept > 0 && maps->v[i].start < maps->v[kept - 1].end) {
			free(maps->v[i].path);
			continue;
		}
		maps->v[kept++] = maps->v[i];
	}
	maps->n = kept;
	return 0;
nomem:
	jm_maps_free(maps);
	return -ENOMEM;
}

const struct jm_map *jm_maps_find(const struct jm_maps *maps, uint64_t addr)
{
	size_t lo = 0, hi = maps->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < maps->v[mid].start)
			hi = mid;
		else if (addr >= maps->v[mid].end)
			lo = mid + 1;
		else
			return &maps->v[mid];
	}
	return NULL;
}

const char *jm_basename(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

int jm_frame_parse(const char *s, uint64_t *addr)
{
	const char *end;
	const char *p;

	if (s == NULL || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return -EINVAL;
	p = s + 2;
	end = p + strnlen(p, 17);
	if (end - p > 16 || *end != '\0' || !number(&p, end, 16, addr) || p != end)
		return -EINVAL;
	return 0;
}

/* ------------------------------------------------------------ libdwfl */

static char *debuginfo_path;

static const Dwfl_Callbacks proc_callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

/* The fuzz target's: modules without files. */
static int find_no_elf(Dwfl_Module *mod, void **userdata, const char *name,
                       Dwarf_Addr base, char **file_name, Elf **elfp)
{
	*elfp = NULL;
	return -1;
}

static int find_no_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                             Dwarf_Addr base, const char *file_name,
                             const char *debuglink_file, GElf_Word debuglink_crc,
                             char **debuginfo_file_name)
{
	return -1;
}

static const Dwfl_Callbacks no_file_callbacks = {
	.find_elf = find_no_elf,
	.find_debuginfo = find_no_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

/* One module per run of consecutive mappings of one file. */
static void report_modules(struct jm_sym *s)
{
	size_t i = 0;

	dwfl_report_begin(s->dwfl);
	while (i < s->maps.n) {
		const struct jm_map *first = &s->maps.v[i];
		size_t j = i + 1;

		if (first->path[0] != '/' || first->inode == 0) {
			i++;
			continue;
		}
		while (j < s->maps.n && s->maps.v[j].inode == first->inode &&
		       strcmp(s->maps.v[j].path, first->path) == 0)
			j++;
		/* A failure (an overlap libdwfl refuses) leaves the frames of
		 * that file with module and offset only. */
		dwfl_report_module(s->dwfl, first->path, first->start, s->maps.v[j - 1].end);
		i = j;
	}
	dwfl_report_end(s->dwfl, NULL, NULL);
}

int jm_sym_from_maps(const char *text, size_t len, bool open_files, struct jm_sym **out)
{
	struct jm_sym *s = calloc(1, sizeof *s);
	int err;

	*out = NULL;
	if (s == NULL)
		return -ENOMEM;
	err = jm_maps_parse(text, len, &s->maps);
	if (err) {
		free(s);
		return err;
	}
	s->dwfl = dwfl_begin(open_files ? &proc_callbacks : &no_file_callbacks);
	if (s->dwfl)
		report_modules(s);
	*out = s;
	return 0;
}

int jm_maps_read(pid_t pid, int procfd, struct jm_maps_text *t)
{
	char path[64];
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, err = 0;

	t->text = NULL;
	t->len = 0;
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	fd = procfd >= 0 ? openat(procfd, "maps", O_RDONLY | O_CLOEXEC) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return t->err = -errno;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t ncap = cap ? 2 * cap : 65536;
			char *nb;

			if (ncap > JM_MAPS_MAX_BYTES)
				break;            /* the rest is not read */
			nb = realloc(buf, ncap);
			if (nb == NULL) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == 0)             /* a zombie, or a kernel thread */
		err = -ESRCH;
out:
	close(fd);
	if (err) {
		free(buf);
		buf = NULL;
		len = 0;
	}
	t->text = buf;
	t->len = len;
	return t->err = err;
}

void jm_maps_text_free(struct jm_maps_text *t)
{
	free(t->text);
	t->text = NULL;
	t->len = 0;
}

int jm_sym_open_from(pid_t pid, int procfd, const struct jm_maps_text *pre, struct jm_sym **out)
{
	struct jm_maps_text t;
	int err;

	*out = NULL;
	if (pre != NULL)
		return pre->err ? pre->err : jm_sym_from_maps(pre->text, pre->len, true, out);
	err = jm_maps_read(pid, procfd, &t);
	if (err == 0)
		err = jm_sym_from_maps(t.text, t.len, true, out);
	jm_maps_text_free(&t);
	return err;
}

int jm_sym_open(pid_t pid, int procfd, struct jm_sym **out)
{
	return jm_sym_open_from(pid, procfd, NULL, out);
}

void jm_frame_free(struct jm_frame *f)
{
	free(f->function);
	free(f->module);
	free(f->path);
	free(f->file);
	memset(f, 0, sizeof *f);
}

static bool dup_into(char **dst, const char *src)
{
	if (src == NULL)
		return true;
	*dst = strdup(src);
	return *dst != NULL;
}

int jm_sym_lookup(struct jm_sym *s, uint64_t addr, struct jm_frame *out)
{
	uint64_t pc = addr > 0 ? addr - 1 : 0;   /* inside the call */
	const struct jm_map *m = jm_maps_find(&s->maps, pc);

	memset(out, 0, sizeof *out);
	out->addr = addr;
	if (m != NULL) {
		out->offset = addr - m->start + m->offset;
		if (m->path[0] != '\0' &&
		    (!dup_into(&out->path, m->path) || !dup_into(&out->module, jm_basename(m->path))))
			goto nomem;
	}
	if (s->dwfl != NULL) {
		Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, pc);

		if (mod != NULL) {
			GElf_Off off;
			GElf_Sym sym;
			const char *name = dwfl_module_addrinfo(mod, pc, &off, &sym, NULL, NULL, NULL);
			Dwfl_Line *line;

			/* "memcpy@@GLIBC_2.14": the version is not part of the name. */
			if (name != NULL && name[0] != '\0' && name[0] != '@') {
				out->function = strndup(name, strcspn(name, "@"));
				if (out->function == NULL)
					goto nomem;
			}
			line = dwfl_module_getsrc(mod, pc);
			if (line != NULL) {
				int lineno = 0;
				const char *file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);

				if (file != NULL && lineno > 0) {
					if (!dup_into(&out->file, file))
						goto nomem;
					out->line = lineno;
				}
			}
		}
	}
	return 0;
nomem:
	jm_frame_free(out);
	return -ENOMEM;
}

void jm_sym_close(struct jm_sym *s)
{
	if (s == NULL)
		return;
	if (s->dwfl)
		dwfl_end(s->dwfl);
	jm_maps_free(&s->maps);
	free(s);
}
