/*
 * segread_int.h: what segread.c (the parser) and segread_file.c (reading a
 * segment file) share; the reader's users include segread.h only.
 */
#ifndef JM_SEGREAD_INT_H
#define JM_SEGREAD_INT_H

#include "segread.h"

/* What jm__seg_parse_view() is given: the file's first bytes, and its site
 * rows. buf holds the file from offset 0 to the end of its header, class, arena
 * and bin sections and of its first nthreads thread rows (the rest need
 * not be there); len is the file's length. sites holds the site rows below
 * nsites_hw (NULL: they are in buf, at site_off), unless skip_sites; and
 * modules, the nmodules rows of a consistent read of the module table
 * (NULL: they are in buf at module_off, as many as the header says, and
 * consistent if its module_seq is even). */
struct view {
	const unsigned char *buf;
	size_t len;
	uint32_t nthreads;        /* thread rows to sum (clamped to nthreads_max) */
	const unsigned char *sites;
	bool skip_sites;          /* copy no site or module row */
	const unsigned char *modules;
	uint32_t nmodules;
	uint64_t rows_gen;        /* not 0: the arena and bin rows are as they
	                             were at this generation; not copied */
	uint64_t rows_seqs;       /* with rows_gen: their seqs' sum, as read
	                             (0: not read) */
	const unsigned char *threads; /* the first nthreads thread rows (NULL:
	                             they are in buf, at thread_off) */
};

/* The rows_gen of a read of a segment of layout 4 or later: its header's
 * generation with the top bit set, so that it is never 0 and never the
 * rows_gen of a read of an older layout (one plus the sum of the rows'
 * seqs, under 2^48), whatever a writer puts in its version field. */
static inline uint64_t jm__seg_gen_tag(const struct jmstat_header *h)
{
	return h->gen | JM_SEG_GEN_TAG;
}

/* Validates the header of buf[0..len) and the placement of every section,
 * and copies the header to *h (exe and path NUL-terminated). Reads nothing
 * beyond the header. */
int jm__seg_parse_header(const unsigned char *buf, size_t len, struct jmstat_header *h);

/* Validates everything v holds and copies it into *out (segread.h's
 * jm_seg_parse() is this on a buffer that holds the whole file). */
int jm__seg_parse_view(const struct view *v, struct jm_seg *out);

#endif
