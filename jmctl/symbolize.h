/*
 * symbolize.h: return addresses of another process to functions, files
 * and lines, for `jmctl sites` (docs/sites.md).
 *
 * Runs as the calling user, never inside jmstatd: the process's modules
 * come from /proc/PID/maps (which the kernel shows only to a user allowed
 * to trace the process), and their ELF files and debug information are
 * opened with that user's rights by elfutils' libdwfl (the library perf
 * and systemd-coredump use). Everything read from outside is bounded: the
 * maps text (JM_MAPS_MAX_BYTES, lines and paths of bounded length, bad
 * lines skipped) and the frame strings of the daemon's reply.
 *
 * The pure parts, jm_maps_parse(), jm_maps_find() and jm_frame_parse(),
 * are what the fuzz target (tests/fuzz/maps_fuzz.c) drives, together with
 * jm_sym_from_maps() and lookups on the modules it reports.
 *
 * Header-light on purpose (no jansson, no curses): the fuzz target links
 * symbolize.c alone, with -ldw -lelf.
 */
#ifndef JM_SYMBOLIZE_H
#define JM_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JM_MAPS_MAX_BYTES   (64u << 20)  /* of /proc/PID/maps read */
#define JM_MAPS_MAX_ENTRIES (1u << 20)   /* mappings kept */
#define JM_MAPS_PATH_MAX    4096u        /* bytes of one path, NUL included */

/* One line of /proc/PID/maps. */
struct jm_map {
	uint64_t start, end;     /* [start, end), start < end */
	uint64_t offset;         /* file offset of start */
	uint64_t inode;
	bool exec;               /* the 'x' permission */
	char *path;              /* owned; "" for an anonymous mapping */
};

struct jm_maps {
	struct jm_map *v;        /* sorted by start, not overlapping */
	size_t n;
};

/* Parses len bytes of maps text (no NUL needed). Lines that do not parse,
 * or that overlap one kept before, are skipped; a path is what follows the
 * inode, its surrounding blanks taken off. Returns 0 (maps filled, maybe
 * empty) or -ENOMEM. */
int jm_maps_parse(const char *text, size_t len, struct jm_maps *maps);
void jm_maps_free(struct jm_maps *maps);

/* The mapping holding addr, or NULL. */
const struct jm_map *jm_maps_find(const struct jm_maps *maps, uint64_t addr);

/* The last component of a path ("" stays ""). */
const char *jm_basename(const char *path);

/* Parses a frame as the daemon sends it: "0x" and 1 to 16 hex digits,
 * nothing else. Returns 0 and *addr, or -EINVAL. */
int jm_frame_parse(const char *s, uint64_t *addr);

/* What one return address is. Strings are owned by the frame. */
struct jm_frame {
	uint64_t addr;           /* the return address */
	char *function;          /* NULL if unknown */
	char *module;            /* basename of the mapped file, NULL if none */
	char *path;              /* the mapped file, NULL if none */
	uint64_t offset;         /* addr - mapping start + file offset (0 if none) */
	char *file;              /* source file, NULL if no debug information */
	int line;                /* 0 if unknown */
};

void jm_frame_free(struct jm_frame *f);

struct jm_sym;

/* Reads /proc/PID/maps and prepares the lookups: "maps" in procfd when
 * it is one (an open /proc/PID of the process the caller checked: a pid
 * reused since answers -ESRCH, not another process's maps). Returns 0 and
 * *out, or a negative errno (-ENOENT, -ESRCH: no such process, -EACCES:
 * not allowed). */
int jm_sym_open(pid_t pid, int procfd, struct jm_sym **out);

/* /proc/PID/maps as text (in procfd as jm_sym_open), up to
 * JM_MAPS_MAX_BYTES: 0 with t->text (free with jm_maps_text_free), or a
 * negative errno, also kept in t->err. The child that symbolizes another
 * user's process as its owner reads them as root first
 * (jm_run_as_root_first): the owner cannot read those of a process that
 * is not dumpable (a server that dropped root's privileges), whose files
 * they may still open. */
struct jm_maps_text {
	char *text;
	size_t len;
	int err;
};
int jm_maps_read(pid_t pid, int procfd, struct jm_maps_text *t);
void jm_maps_text_free(struct jm_maps_text *t);

/* jm_sym_open from the maps pre read (its error, if it did not read), or
 * from /proc/PID/maps when pre is NULL. */
int jm_sym_open_from(pid_t pid, int procfd, const struct jm_maps_text *pre, struct jm_sym **out);

/* The same from maps text already read; with open_files false, no ELF file
 * is opened (functions stay unknown): what the fuzz target uses. */
int jm_sym_from_maps(const char *text, size_t len, bool open_files, struct jm_sym **out);

/* Describes the return address addr (symbol and line of addr - 1, the
 * call). Returns 0, or -ENOMEM. */
int jm_sym_lookup(struct jm_sym *s, uint64_t addr, struct jm_frame *out);

void jm_sym_close(struct jm_sym *s);

#endif
