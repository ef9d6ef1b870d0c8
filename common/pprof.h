/*
 * pprof.h: heap profiles in google/pprof's profile.proto format,
 * gzip-compressed, as `go tool pprof`, Grafana Pyroscope and Parca read
 * them: what `jmctl sites --pprof` writes and jmstatd's /debug/pprof paths
 * serve (docs/pprof.md).
 *
 * A builder collects mappings, locations and samples, merging what is the
 * same (a mapping of one file at one place, a location at one address of
 * one mapping, a sample of one stack), and jm_pprof_encode() writes the
 * profile with Go's heap profile conventions, so that every consumer's
 * defaults work:
 * - sample types, in this order: alloc_objects/count, alloc_space/bytes,
 *   inuse_objects/count, inuse_space/bytes; period_type space/bytes,
 *   period the mean sampling interval in bytes; default_sample_type
 *   inuse_space, or alloc_space for an allocs profile;
 * - each sample carries a `bytes` label, its mean object size;
 * - string_table[0] is "", every id is nonzero and unique.
 * The values given are the site table's estimates, already unbiased.
 *
 * The protobuf wire format is written by hand (varints and length-
 * delimited fields: a few dozen lines, where protobuf-c would add a
 * library, generated code and a second copy of every structure); zlib
 * compresses at its fastest level, as Go's runtime/pprof does (the
 * daemon serves profiles from its one loop thread).
 *
 * Functions return 0 or a negative errno (-ENOMEM, -EINVAL).
 */
#ifndef JM_PPROF_H
#define JM_PPROF_H

#include "jmstat.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One source line of a location (a function, inlined or not). */
struct jm_pprof_line {
	const char *function;    /* NULL: unknown (no line is recorded) */
	const char *file;        /* NULL: unknown */
	int64_t line;            /* 0: unknown */
};

struct jm_pprof;

/* A new, empty profile: sample_bytes is the period; allocs makes
 * alloc_space the default sample type. NULL if out of memory. */
struct jm_pprof *jm_pprof_new(uint64_t sample_bytes, bool allocs);
void jm_pprof_free(struct jm_pprof *p);

/* The id of the mapping [start, limit) of path at file offset `offset`,
 * with build_id (hex, "" or NULL: none); the same id for the same five
 * (with a build-id, whatever the path: the same file elsewhere).
 * The first mapping added is the one pprof takes for the main binary.
 * Returns the id (>= 1), or 0 if out of memory. */
uint64_t jm_pprof_mapping(struct jm_pprof *p, uint64_t start, uint64_t limit, uint64_t offset,
                          const char *path, const char *build_id);

/* The id of the location at address in mapping (0: none), with nlines
 * source lines, innermost first (taken from the first call for an
 * address). Returns the id (>= 1), or 0 if out of memory. */
uint64_t jm_pprof_location(struct jm_pprof *p, uint64_t mapping, uint64_t address,
                           const struct jm_pprof_line *lines, size_t nlines);

/* Adds the estimates of one stack (location ids, innermost first) to the
 * profile: a stack already there gets the sum. */
int jm_pprof_sample(struct jm_pprof *p, const uint64_t *locations, size_t n,
                    uint64_t alloc_objects, uint64_t alloc_bytes,
                    uint64_t inuse_objects, uint64_t inuse_bytes);

/* Samples added so far (stacks, after merging). */
size_t jm_pprof_nsamples(const struct jm_pprof *p);

/* Writes the profile, stamped time_ns (unix ns), gzip-compressed, into a
 * malloc'ed buffer: *out and *len. */
int jm_pprof_encode(struct jm_pprof *p, int64_t time_ns, unsigned char **out, size_t *len);

/* pprof_modules.c: a process's modules. */

/* A build-id as lowercase hex, NUL-terminated, into hex (2 * len + 1
 * bytes at least); len 0 gives "". */
void jm_pprof_hex(const uint8_t *id, uint32_t len, char *hex);

/* Sorts modules by start (for jm_pprof_module_at), in place. */
void jm_pprof_sort_modules(struct jmstat_module *modules, uint32_t n);

/* The module of sorted modules whose [start, limit) holds pc, or NULL. */
const struct jmstat_module *jm_pprof_module_at(const struct jmstat_module *modules, uint32_t n,
                                               uint64_t pc);

/* The same for rows of any struct that opens with uint64_t start, then
 * uint64_t limit (stride bytes each): sorted by start, in place; and the
 * row of the sorted rows whose [start, limit) holds pc, or NULL. */
void jm_pprof_sort_rows(void *rows, size_t n, size_t stride);
const void *jm_pprof_row_at(const void *rows, size_t n, size_t stride, uint64_t pc);

#endif
