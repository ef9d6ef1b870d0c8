/*
 * segread.c: validates a stats segment and copies it out: the pure part of
 * the reader (segread.h), which the fuzz target drives.
 *
 * The reader is three files:
 * - segread.c (this one): the header, the layout and the rows checked and
 *   copied (jm_seg_parse, no I/O), the error messages, segment names;
 * - segread_file.c: reading a segment file, only what is used, its
 *   seqlocked rows made consistent, then handed to the parser here;
 * - segread_proc.c: whether the writer is alive and the same process.
 * segread_int.h is what the first two share.
 *
 * The file is hostile until proven otherwise (PCP's mmv agent read its own
 * memory through offsets in a malevolent file). So:
 * - it is read with pread into a private buffer, never mapped: a writer or
 *   an attacker that truncates the file makes a read come up short (which
 *   we report), where a mapping would fault with SIGBUS (segread_file.c);
 * - jm__seg_parse_header() checks magic, version, state, every size, every
 *   count and every section against the real length, with overflow-checked
 *   arithmetic, and that no two sections overlap, before any row is read;
 *   and accepts only what the allocator writes (jmstat.h: its bin count
 *   and class table, its row limits and strides, a file that ends with
 *   its last section): a forged file costs no more to read than a real
 *   one;
 * - only what is used is read: the header, the sections up to the thread
 *   rows below their high-water mark, the site rows below theirs (a file
 *   is mostly rows never used; reading and zeroing all of it made the
 *   reader cost ten times what it does);
 * - arena, bin and site rows are seqlocked by the writer. jm_seg_read_fd()
 *   copies them with three reads (the first read of the section, whose
 *   seqs are the before; the rows; the seqs after), the arena and bin
 *   sections in one span, and falls back to re-reading one row at a time,
 *   bounded, for the rows that changed in between (segread_file.c);
 * - jm_seg_parse(), the pure part, copies the rows out and refuses a row
 *   whose seq is odd, so that whatever the buffer holds, what it returns
 *   is either an error or a copy that obeys every bound.
 *
 * Error codes are negative JM_SEG_* values (segread.h), explained by one
 * table.
 */
#include "segread_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(offsetof(struct jmstat_arena, seq) == 0, "seq opens an arena row");
_Static_assert(offsetof(struct jmstat_bin, seq) == 0, "seq opens a bin row");
_Static_assert(offsetof(struct jmstat_site, seq) == 0, "seq opens a site row");

static const char *const messages[] = {
	[-JM_SEG_OK]       = "ok",
	[-JM_SEG_EIO]      = "cannot open, stat or read the segment file",
	[-JM_SEG_ENOTREG]  = "not a regular file (symlink, fifo, directory or device)",
	[-JM_SEG_ETRUNC]   = "segment truncated: the file is shorter than its header says",
	[-JM_SEG_EMAGIC]   = "not a jmalloc stats segment (bad magic)",
	[-JM_SEG_EVERSION] = "unknown segment layout version: a newer jmalloc wrote it, upgrade jmstatd and jmctl",
	[-JM_SEG_EBOUNDS]  = "corrupt segment: a size, count, offset or size class is out of bounds",
	[-JM_SEG_EBUSY]    = "segment busy: still being built, or its rows kept changing while read",
	[-JM_SEG_EOWNER]   = "segment owner does not match the uid in its header or the process's uid",
	[-JM_SEG_EDEAD]    = "the process that wrote the segment is gone",
	[-JM_SEG_EREUSED]  = "the segment's pid now belongs to another process (start time differs)",
	[-JM_SEG_ENOMEM]   = "out of memory while reading the segment",
	[-JM_SEG_ENAME]    = "file name is not a segment's (jmalloc.<pid>[.<pidns>.<start>[.<tag>]].stats), or it differs from the header's pid, pidns or start time",
	[-JM_SEG_EPLACE]   = "the segment names a process of another container: its writer's mount namespace does not reach this directory",
	[-JM_SEG_EOLDVERSION] = "older segment layout version: the process runs a libjmalloc older than any layout this reader reads (2 and later); it is seen again once restarted with the installed one",
};

const char *jm_seg_strerror(int err)
{
	size_t i = err <= 0 ? (size_t)-(long)err : SIZE_MAX;

	if (i >= sizeof messages / sizeof messages[0] || messages[i] == NULL)
		return "unknown segment reader error";
	return messages[i];
}

int jm_seg_pid_from_name(const char *name, pid_t *pid)
{
	struct jmstat_name nm;

	if (jmstat_name_parse(name, &nm) != 0)
		return JM_SEG_ENAME;
	*pid = (pid_t)nm.pid;
	return 0;
}

bool jm_seg_name_matches(const struct jmstat_name *nm, const struct jmstat_header *h)
{
	if (nm->pid != h->pid)
		return false;
	if (nm->pidns == 0)         /* plain: a writer of the host's namespace */
		return h->pidns == 0 || h->pidns == JMSTAT_PIDNS_INIT;
	return nm->pidns == h->pidns && nm->start == h->start_time;
}

void jm_seg_free(struct jm_seg *seg)
{
	free(seg->classes);
	free(seg->arenas);
	free(seg->bins);
	free(seg->tcache_ncached);
	free(seg->tcache_nrequests);
	free(seg->tcache_arena_small);
	free(seg->tcache_arena_large);
	free(seg->sites);
	free(seg->site_bins);
	free(seg->modules);
	memset(seg, 0, sizeof *seg);
}

/* ------------------------------------------------------------ validation */

struct section {
	uint64_t off;            /* from the start of the file */
	uint64_t len;            /* bytes */
};

/* Computes the section of n rows of size bytes at off; false if it does not
 * fit in len bytes, overflows, or is not 8-byte aligned. */
/* The thread rows' sums stop at 2^64 - 1: a writer's forged rows may
 * misstate its own caches, not wrap them to small numbers. */
static void sum_sat(uint64_t *sum, uint64_t x)
{
	*sum = *sum + x < *sum ? UINT64_MAX : *sum + x;
}

static bool section_of(uint64_t off, uint64_t n, uint64_t size, uint64_t len,
                       struct section *s)
{
	uint64_t bytes, end;

	if (off % 8 != 0 || __builtin_mul_overflow(n, size, &bytes) ||
	    __builtin_add_overflow(off, bytes, &end) || end > len)
		return false;
	s->off = off;
	s->len = bytes;
	return true;
}

static bool overlap(const struct section *a, const struct section *b)
{
	if (a->len == 0 || b->len == 0)
		return false;
	return a->off < b->off + b->len && b->off < a->off + a->len;
}

/* Validates the header of buf[0..len) and the placement of every section,
 * and copies the header to *h (exe and path NUL-terminated). Reads nothing beyond
 * the header. */
int jm__seg_parse_header(const unsigned char *buf, size_t len, struct jmstat_header *h)
{
	uint64_t magic;
	uint32_t version;
	uint64_t nrows;
	struct section sec[7];

	if (len < offsetof(struct jmstat_header, header_size))
		return JM_SEG_ETRUNC;
	memcpy(&magic, buf + offsetof(struct jmstat_header, magic), sizeof magic);
	memcpy(&version, buf + offsetof(struct jmstat_header, version), sizeof version);
	if (magic == 0)                 /* sized, header not yet written */
		return JM_SEG_EBUSY;
	if (magic != JMSTAT_MAGIC)
		return JM_SEG_EMAGIC;
	if (version > JMSTAT_VERSION)   /* sizes may mean something else */
		return JM_SEG_EVERSION;
	if (version < JMSTAT_OLDEST_VERSION)
		return version >= 1 ? JM_SEG_EOLDVERSION : JM_SEG_EVERSION;
	if (len < sizeof *h)
		return JM_SEG_ETRUNC;
	memcpy(h, buf, sizeof *h);
	h->exe[JMSTAT_EXE_LEN - 1] = '\0';
	h->path[JMSTAT_PATH_LEN - 1] = '\0';

	if (h->state == JMSTAT_STATE_BUILDING)
		return JM_SEG_EBUSY;
	if (h->total_size > len)
		return JM_SEG_ETRUNC;
	if (h->total_size < len ||
	    (h->state != JMSTAT_STATE_LIVE && h->state != JMSTAT_STATE_EXITING) ||
	    h->header_size < sizeof *h || h->header_size > len ||
	    h->class_size != sizeof(struct jmstat_class) ||
	    h->arena_size != sizeof(struct jmstat_arena) ||
	    h->bin_size != sizeof(struct jmstat_bin) ||
	    h->thread_size != sizeof(struct jmstat_thread))
		return JM_SEG_EBOUNDS;
	/* Only what the allocator writes (jmstat.h's limits): a file that
	 * claims more rows than a process can have costs the reader more than
	 * any real one, and is not one. */
	if (h->header_size > JMSTAT_MAX_HEADER || h->total_size > JMSTAT_MAX_SIZE ||
	    h->nbins != jmstat_layout_nbins(version) ||
	    h->narenas == 0 || h->narenas > JMSTAT_MAX_ARENAS ||
	    h->nthreads_max > JMSTAT_MAX_THREAD_ROWS ||
	    h->thread_stride != JMSTAT_STRIDE(h->thread_size, h->nbins,
	                                      sizeof(struct jmstat_tcache_bin)))
		return JM_SEG_EBOUNDS;
	if (h->pid == 0 || h->pid > INT32_MAX ||
	    h->page_size != JMSTAT_PAGE_SIZE || h->chunk_size != JMSTAT_CHUNK_SIZE)
		return JM_SEG_EBOUNDS;

	/* The site table: absent (nsites_max 0, the other site fields then
	 * ignored) or rows of a known size, each followed by nbins + 1 words. */
	if (h->nsites_hw > h->nsites_max || h->nsites_max > JMSTAT_MAX_SITES)
		return JM_SEG_EBOUNDS;
	if (h->nsites_max > 0 &&
	    (h->site_size != sizeof(struct jmstat_site) ||
	     h->site_stride != JMSTAT_STRIDE(h->site_size, h->nbins + 1, sizeof(uint64_t))))
		return JM_SEG_EBOUNDS;

	/* The module table: absent (nmodules_max 0) or rows of a known size. */
	if (h->nmodules_max > JM_SEG_MAX_NMODULES ||
	    (h->nmodules_max > 0 && h->module_size != sizeof(struct jmstat_module)))
		return JM_SEG_EBOUNDS;

	nrows = (uint64_t)h->narenas * h->nbins;
	sec[0] = (struct section){ 0, h->header_size };
	sec[5] = (struct section){ 0, 0 };
	sec[6] = (struct section){ 0, 0 };
	if (!section_of(h->class_off, h->nbins, h->class_size, len, &sec[1]) ||
	    !section_of(h->arena_off, h->narenas, h->arena_size, len, &sec[2]) ||
	    !section_of(h->bin_off, nrows, h->bin_size, len, &sec[3]) ||
	    !section_of(h->thread_off, h->nthreads_max, h->thread_stride, len, &sec[4]) ||
	    (h->nsites_max > 0 &&
	     !section_of(h->site_off, h->nsites_max, h->site_stride, len, &sec[5])) ||
	    (h->nmodules_max > 0 &&
	     !section_of(h->module_off, h->nmodules_max, h->module_size, len, &sec[6])))
		return JM_SEG_EBOUNDS;
	uint64_t end = 0;
	for (int i = 0; i < 7; i++) {
		for (int j = i + 1; j < 7; j++)
			if (overlap(&sec[i], &sec[j]))
				return JM_SEG_EBOUNDS;
		if (sec[i].off + sec[i].len > end)
			end = sec[i].off + sec[i].len;
	}
	/* The file ends within a page of its last section, as the writer
	 * sizes it: no room for anything the header does not account for. */
	if (h->total_size > ((end + JMSTAT_PAGE_SIZE - 1) & ~(uint64_t)(JMSTAT_PAGE_SIZE - 1)))
		return JM_SEG_EBOUNDS;
	return 0;
}

/* The size classes are the allocator's of the segment's layout
 * (jmstat_layout_class_of: layouts before 5 without the 8 B class), so
 * that a consumer can divide by them and trust them. */
static int check_classes(const struct jm_seg *s)
{
	for (uint32_t b = 0; b < s->hdr.nbins; b++) {
		const struct jmstat_class *c = &s->classes[b];
		struct jmstat_class want;

		if (jmstat_layout_class_of(s->hdr.version, b, &want) != 0 || c->size != want.size ||
		    c->regs_per_run != want.regs_per_run || c->run_size != want.run_size)
			return JM_SEG_EBOUNDS;
	}
	return 0;
}

/* Copies the site rows below nsites_hw and their per-class words from
 * rows, where row i starts at rows + i * site_stride (jm__seg_parse_header
 * placed the table inside the file); refuses an odd seq or more frames than a row
 * holds. */
static int copy_sites(const unsigned char *rows, struct jm_seg *s)
{
	uint32_t n = s->hdr.nsites_hw;
	uint64_t nwords = (uint64_t)s->hdr.nbins + 1;

	if (n == 0)
		return 0;
	s->sites = calloc(n, sizeof *s->sites);
	s->site_bins = calloc((size_t)(n * nwords), sizeof *s->site_bins);
	if (s->sites == NULL || s->site_bins == NULL)
		return JM_SEG_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const unsigned char *row = rows + (uint64_t)i * s->hdr.site_stride;
		struct jmstat_site *site = &s->sites[i];

		memcpy(site, row, sizeof *site);
		if (site->seq & 1)
			return JM_SEG_EBUSY;
		if (site->nframes > JMSTAT_SITE_FRAMES)
			return JM_SEG_EBOUNDS;
		memcpy(&s->site_bins[i * nwords], row + sizeof *site, nwords * sizeof *s->site_bins);
	}
	s->nsites = n;
	return 0;
}

/* Copies n module rows from rows (n <= nmodules_max, checked by the
 * caller) and checks each. */
static int copy_modules(const unsigned char *rows, uint32_t n, struct jm_seg *s)
{
	if (n == 0)
		return 0;
	s->modules = calloc(n, sizeof *s->modules);
	if (s->modules == NULL)
		return JM_SEG_ENOMEM;
	memcpy(s->modules, rows, (size_t)n * sizeof *s->modules);
	for (uint32_t i = 0; i < n; i++) {
		struct jmstat_module *m = &s->modules[i];

		if (m->start >= m->limit || m->build_id_len > JMSTAT_BUILD_ID_MAX)
			return JM_SEG_EBOUNDS;
		m->path[JMSTAT_MODULE_PATH - 1] = '\0';
	}
	s->nmodules = n;
	return 0;
}

int jm__seg_parse_view(const struct view *v, struct jm_seg *out)
{
	const unsigned char *p = v->buf;
	struct jm_seg s;
	uint64_t nrows;
	uint32_t nthreads;
	int err;

	memset(out, 0, sizeof *out);
	memset(&s, 0, sizeof s);
	err = jm__seg_parse_header(p, v->len, &s.hdr);
	if (err != 0)
		return err;
	nthreads = v->nthreads < s.hdr.nthreads_max ? v->nthreads : s.hdr.nthreads_max;
	/* Rows as they were at a generation the caller has are not copied. */
	nrows = v->rows_gen ? 0 : (uint64_t)s.hdr.narenas * s.hdr.nbins;
	s.classes = calloc(s.hdr.nbins, sizeof *s.classes);
	s.arenas = nrows ? calloc(s.hdr.narenas, sizeof *s.arenas) : NULL;
	s.bins = nrows ? calloc(nrows, sizeof *s.bins) : NULL;
	s.tcache_ncached = calloc(s.hdr.nbins, sizeof *s.tcache_ncached);
	s.tcache_nrequests = calloc(s.hdr.nbins, sizeof *s.tcache_nrequests);
	s.tcache_arena_small = calloc(s.hdr.narenas, sizeof *s.tcache_arena_small);
	s.tcache_arena_large = calloc(s.hdr.narenas, sizeof *s.tcache_arena_large);
	if (!s.classes || (nrows && (!s.arenas || !s.bins)) || !s.tcache_ncached ||
	    !s.tcache_nrequests || !s.tcache_arena_small || !s.tcache_arena_large) {
		err = JM_SEG_ENOMEM;
		goto fail;
	}

	/* The section sizes were checked: each is exactly its array. */
	memcpy(s.classes, p + s.hdr.class_off, s.hdr.nbins * sizeof *s.classes);
	err = check_classes(&s);
	if (err != 0)
		goto fail;
	if (v->rows_gen != 0) {
		s.rows_gen = v->rows_gen;
		s.rows_seqs = v->rows_seqs;
		s.rows_unchanged = true;
	} else {
		memcpy(s.arenas, p + s.hdr.arena_off, s.hdr.narenas * sizeof *s.arenas);
		memcpy(s.bins, p + s.hdr.bin_off, nrows * sizeof *s.bins);
		s.rows_gen = 1;
		for (uint32_t a = 0; a < s.hdr.narenas; a++) {
			if (s.arenas[a].seq & 1) {
				err = JM_SEG_EBUSY;
				goto fail;
			}
			s.rows_gen += s.arenas[a].seq;
		}
	}
	for (uint64_t i = 0; i < nrows; i++) {
		s.rows_gen += s.bins[i].seq + jm__seg_sampled_mix(i, s.bins[i].cursampled);
		if (s.bins[i].seq & 1) {
			err = JM_SEG_EBUSY;
			goto fail;
		}
		/* A row the writer has not touched yet (its arena unused) may
		 * still hold size 0; the copy always carries the class's. */
		if (s.bins[i].size != 0 && s.bins[i].size != s.classes[i % s.hdr.nbins].size) {
			err = JM_SEG_EBOUNDS;
			goto fail;
		}
		s.bins[i].size = s.classes[i % s.hdr.nbins].size;
	}

	/* Layout 4 on: the generation the header was read at (the rows were
	 * read after it, so they are at least that new). */
	if (v->rows_gen == 0) {
		s.rows_gen = jm__seg_seqs_key(s.rows_gen);
		s.rows_seqs = s.rows_gen;
		if (s.hdr.version >= 4)
			s.rows_gen = jm__seg_gen_tag(&s.hdr);
	}
	for (uint32_t t = 0; t < nthreads; t++) {
		const unsigned char *row = (v->threads ? v->threads : p + s.hdr.thread_off) +
		                           (uint64_t)t * s.hdr.thread_stride;
		const unsigned char *tb = row + sizeof(struct jmstat_thread);
		struct jmstat_thread th;

		memcpy(&th, row, sizeof th);
		if (th.in_use != 1)
			continue;
		/* The thread's cached bytes are its arena's: an arena the
		 * segment does not have is a corrupt row. */
		if (th.arena >= s.hdr.narenas) {
			err = JM_SEG_EBOUNDS;
			goto fail;
		}
		s.nthreads_live++;
		sum_sat(&s.tcache_large_bytes, th.large_cached);
		sum_sat(&s.tcache_arena_large[th.arena], th.large_cached);
		for (uint32_t b = 0; b < s.hdr.nbins; b++, tb += sizeof(struct jmstat_tcache_bin)) {
			struct jmstat_tcache_bin c;

			memcpy(&c, tb, sizeof c);
			uint32_t ncached = c.ncached_less_max + c.ncached_max;
			uint64_t bytes;
			if (__builtin_mul_overflow((uint64_t)ncached, (uint64_t)s.classes[b].size, &bytes))
				bytes = UINT64_MAX;
			sum_sat(&s.tcache_ncached[b], ncached);
			sum_sat(&s.tcache_nrequests[b], c.nrequests);
			sum_sat(&s.tcache_arena_small[th.arena], bytes);
		}
	}
	/* site_off means something only with a table (nsites_max > 0). */
	if (!v->skip_sites && s.hdr.nsites_hw > 0) {
		err = copy_sites(v->sites ? v->sites : p + s.hdr.site_off, &s);
		if (err != 0)
			goto fail;
	}
	if (!v->skip_sites && s.hdr.nmodules_max > 0) {
		uint32_t n = v->modules ? v->nmodules : s.hdr.nmodules;

		if (!v->modules && (s.hdr.module_seq & 1)) {
			err = JM_SEG_EBUSY;
			goto fail;
		}
		if (n > s.hdr.nmodules_max) {
			err = JM_SEG_EBOUNDS;
			goto fail;
		}
		err = copy_modules(v->modules ? v->modules : p + s.hdr.module_off, n, &s);
		if (err != 0)
			goto fail;
	}
	*out = s;
	return 0;

fail:
	jm_seg_free(&s);
	return err;
}

int jm_seg_parse(const void *buf, size_t len, struct jm_seg *out)
{
	struct view v = { .buf = buf, .len = len, .nthreads = UINT32_MAX };

	return jm__seg_parse_view(&v, out);
}
