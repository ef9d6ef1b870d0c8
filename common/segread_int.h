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
 * rows_gen of a read of an older layout (jm__seg_seqs_key: the top bit
 * clear), whatever a writer puts in its version field. */
static inline uint64_t jm__seg_gen_tag(const struct jmstat_header *h)
{
	return h->gen | JM_SEG_GEN_TAG;
}

/* What a bin row's cursampled adds to the sum of the rows' seqs (rows_seqs,
 * and an older layout's rows_gen): the writer moves it outside the row's
 * seq (liballoc/bin.c: one atomic add at a sample and at its free, then
 * the header's generation), so that a read checked by the seqs alone took
 * rows whose cursampled had moved for unchanged, and gave them the
 * header's new generation: jmstatd kept the old count until it copied
 * the rows again (test_segread_gen.c, test_sampled_moved). A mix of the
 * row's index and the value, so that a move up in one row and down in
 * another counts; 0 for 0 (a class never sampled, an older layout's). */
static inline uint64_t jm__seg_sampled_mix(uint64_t row, uint64_t cursampled)
{
	if (cursampled == 0)
		return 0;
	uint64_t x = (row + 1) * 0x9e3779b97f4a7c15ull ^ cursampled;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* One plus the sum of the rows' seqs and of their jm__seg_sampled_mix, as
 * rows_seqs (and an older layout's rows_gen): never 0, never tagged. */
static inline uint64_t jm__seg_seqs_key(uint64_t sum)
{
	sum &= ~JM_SEG_GEN_TAG;
	return sum ? sum : 1;
}

/* Validates the header of buf[0..len) and the placement of every section,
 * and copies the header to *h (exe and path NUL-terminated). Reads nothing
 * beyond the header. */
int jm__seg_parse_header(const unsigned char *buf, size_t len, struct jmstat_header *h);

/* Validates everything v holds and copies it into *out (segread.h's
 * jm_seg_parse() is this on a buffer that holds the whole file). */
int jm__seg_parse_view(const struct view *v, struct jm_seg *out);

#endif
