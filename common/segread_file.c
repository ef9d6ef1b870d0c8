/*
 * segread_file.c: reads a stats segment file (jm_seg_read_fd and the
 * others of segread.h) into the buffers the parser (segread.c) validates
 * and copies.
 *
 * The file is read with pread, never mapped (a file truncated under a
 * mapping faults with SIGBUS), and only what is used: the header, the
 * sections up to the thread rows below their high-water mark, the site
 * rows below theirs and the module table; of a file of layout 4 read again
 * at the generation of the read before (jm_seg_read_fd_since), its first
 * page and its thread rows, no arena or bin row. Arena, bin and site rows are
 * seqlocked by the writer: settle() copies them with three reads (the
 * first read of the section, whose seqs are the before; the rows; the seqs
 * after), the arena and bin sections in one span, and falls back to
 * re-reading one row at a time, bounded, for the rows that changed in
 * between. Every byte read is counted (jm_seg_bytes_read), and so are the
 * reads: one read of a file costs a bounded number of preads whatever its
 * writer does (SETTLE_PASSES, SETTLE_ROW_READS), as it costs a bounded
 * number of bytes.
 */
#include "segread_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes read from segment files by this process (jm_seg_bytes_read). */
static uint64_t bytes_read;

uint64_t jm_seg_bytes_read(void)
{
	return __atomic_load_n(&bytes_read, __ATOMIC_RELAXED);
}

/* Reads exactly len bytes at off; a file that ends first has shrunk. */
static int pread_full(int fd, void *dst, size_t len, uint64_t off)
{
	unsigned char *d = dst;

	while (len > 0) {
		ssize_t n = pread(fd, d, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return JM_SEG_EIO;
		if (n == 0)
			return JM_SEG_ETRUNC;
		__atomic_fetch_add(&bytes_read, (uint64_t)n, __ATOMIC_RELAXED);
		d += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Orders the reads of two preads. The kernel's copy within one pread may
 * read the bytes in any order (fast string moves on x86, anything on arm64),
 * so a row's seq and its counters are only ordered by separate reads with a
 * barrier between them. A sequentially consistent read-modify-write is that
 * barrier on every architecture (lock xadd, ldaddal), and unlike
 * atomic_thread_fence it builds under -fsanitize=thread. */
static void read_fence(void)
{
	static uint32_t word;

	__atomic_fetch_add(&word, 1, __ATOMIC_SEQ_CST);
}

static uint32_t seq_of(const unsigned char *row)
{
	uint32_t seq;

	memcpy(&seq, row, sizeof seq);
	return seq;
}

/* What one read of a file may spend on rows that changed under it. A
 * writer that moves every row's seq on all the time (1,024 arenas: 36,864
 * rows) had each row re-read alone, three preads a row: some 110,000
 * system calls, a tenth of a second of the reader's time, for one file at
 * each of its reads, where the bytes (the budget jmstatd keeps per user)
 * were those of a few reads of the section. Now the rows are re-read one
 * at a time only while few changed (at most SETTLE_ROW_READS re-reads of
 * a row in all, whatever the row); when more changed, the whole span is
 * read again, at most SETTLE_PASSES times; then the file is busy
 * (JM_SEG_EBUSY), as one whose rows stay mid-update. */
#define SETTLE_PASSES    3u
#define SETTLE_ROW_READS 256u

/* Re-reads one row until its seq is even and the same before and after the
 * copy; the writer sets seq odd before it touches the row and even after.
 * Each try spends one of *tries (JM_SEG_RETRIES for the row at most). */
static int reread_row(int fd, unsigned char *row, uint64_t off, uint32_t size, unsigned *tries)
{
	for (int i = 0; i < JM_SEG_RETRIES && *tries > 0; i++) {
		uint32_t before, after;
		int err;

		--*tries;
		if (i > 0)
			sched_yield();
		if ((err = pread_full(fd, &before, sizeof before, off)) != 0)
			return err;
		if (before & 1)
			continue;
		read_fence();
		if ((err = pread_full(fd, row, size, off)) != 0)
			return err;
		read_fence();
		if ((err = pread_full(fd, &after, sizeof after, off)) != 0)
			return err;
		if (after == before && seq_of(row) == before)
			return 0;
	}
	return JM_SEG_EBUSY;
}

/* n seqlocked rows of size bytes at offset off of the file. */
struct rows {
	uint64_t off;
	uint64_t n;
	uint32_t size;
};

static uint64_t rows_end(const struct rows *r)
{
	return r->off + r->n * r->size;       /* bounded by jm__seg_parse_header */
}

/* Is the row whose copies are before, now and after (the same offset in
 * three reads, in that order) one that no write touched in between? */
static bool row_stable(const unsigned char *before, const unsigned char *now,
                       const unsigned char *after)
{
	uint32_t seq = seq_of(before);

	return (seq & 1) == 0 && seq == seq_of(now) && seq == seq_of(after);
}

/* Makes the copy of the rows in buf (which holds the file's bytes from
 * offset base on) consistent. That copy came from an earlier read: it is
 * each row's 'before'. The span [lo, hi) that covers the row sets is read
 * twice more, behind a fence each: once for the rows, once for their seqs
 * after. A row whose seq is even and the same in the three reads is taken
 * from the second; if few others are left, each is re-read alone
 * (reread_row, spending *tries), else the span is read again with the
 * third read as the before (SETTLE_PASSES in all). So the common case
 * costs two preads for every row set together. */
static int settle(int fd, unsigned char *buf, uint64_t base, const struct rows *set, int nset,
                  unsigned *tries)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	unsigned char *data;
	size_t span;
	int err = 0;

	for (int k = 0; k < nset; k++) {
		if (set[k].n == 0)
			continue;
		lo = set[k].off < lo ? set[k].off : lo;
		hi = rows_end(&set[k]) > hi ? rows_end(&set[k]) : hi;
	}
	if (hi <= lo)
		return 0;
	span = (size_t)(hi - lo);
	data = malloc(2 * span);
	if (data == NULL)
		return JM_SEG_ENOMEM;
	for (unsigned pass = 0;; pass++) {
		uint64_t unstable = 0;

		if (pass > 0)       /* the last read's seqs are the new before */
			memcpy(buf + (lo - base), data + span, span);
		read_fence();
		err = pread_full(fd, data, span, lo);
		read_fence();
		if (err == 0)
			err = pread_full(fd, data + span, span, lo);
		if (err != 0)
			break;
		for (int k = 0; k < nset; k++) {
			for (uint64_t i = 0; i < set[k].n; i++) {
				uint64_t o = set[k].off + i * set[k].size;

				if (!row_stable(buf + (o - base), data + (o - lo), data + span + (o - lo)))
					unstable++;
			}
		}
		if (unstable > *tries && pass + 1 < SETTLE_PASSES)
			continue;
		if (unstable > *tries) {
			err = JM_SEG_EBUSY;
			break;
		}
		for (int k = 0; k < nset && err == 0; k++) {
			for (uint64_t i = 0; i < set[k].n && err == 0; i++) {
				uint64_t o = set[k].off + i * set[k].size;
				unsigned char *row = buf + (o - base);
				const unsigned char *now = data + (o - lo);

				if (row_stable(row, now, data + span + (o - lo)))
					memcpy(row, now, set[k].size);
				else
					err = reread_row(fd, row, o, set[k].size, tries);
			}
		}
		break;
	}
	free(data);
	return err;
}

/* The end of what jm__seg_parse_view() needs of the file's first bytes: the header,
 * class, arena and bin sections and the first nthreads thread rows (all
 * placed inside the file by jm__seg_parse_header). */
static uint64_t head_end(const struct jmstat_header *h, uint32_t nthreads)
{
	uint64_t ends[5] = {
		sizeof *h,
		h->class_off + (uint64_t)h->nbins * h->class_size,
		h->arena_off + (uint64_t)h->narenas * h->arena_size,
		h->bin_off + (uint64_t)h->narenas * h->nbins * h->bin_size,
		h->thread_off + (uint64_t)nthreads * h->thread_stride,
	};
	uint64_t end = 0;

	for (int i = 0; i < 5; i++)
		end = ends[i] > end ? ends[i] : end;
	return end;
}

/* The generation of the rows in buf (which holds the file from offset 0),
 * as jm_seg.rows_seqs (jm__seg_seqs_key), set[bins] being the bin rows,
 * whose cursampled counts too (jm__seg_sampled_mix); 0 if a row is being
 * written. */
static uint64_t rows_gen_of(const unsigned char *buf, const struct rows *set, int nset, int bins)
{
	uint64_t gen = 1;
	for (int k = 0; k < nset; k++) {
		for (uint64_t i = 0; i < set[k].n; i++) {
			const unsigned char *row = buf + set[k].off + i * set[k].size;
			uint32_t seq = seq_of(row);
			if (seq & 1)
				return 0;
			gen += seq;
			if (k == bins) {      /* rows of sizeof(struct jmstat_bin): the header's check */
				uint64_t sampled;
				memcpy(&sampled, row + offsetof(struct jmstat_bin, cursampled), sizeof sampled);
				gen += jm__seg_sampled_mix(i, sampled);
			}
		}
	}
	return jm__seg_seqs_key(gen);
}

/* What a read of a segment whose rows are unchanged needs besides its
 * header (read, have bytes of *buf, a page's room): the class table, in
 * *buf at class_off (grown for it past the first page, where a layout
 * other than the allocator's puts it), and the first nthreads thread rows,
 * into *threads (malloc'ed; NULL for none). Only these bytes are read. */
static int read_unchanged(int fd, unsigned char **buf, size_t have, const struct jmstat_header *h,
                          uint32_t nthreads, unsigned char **threads)
{
	uint64_t class_end = h->class_off + (uint64_t)h->nbins * h->class_size;
	size_t bytes = (size_t)nthreads * h->thread_stride;
	int err;

	if (class_end > have) {        /* within the file: jm__seg_parse_header */
		unsigned char *grown = realloc(*buf, (size_t)class_end);

		if (grown == NULL)
			return JM_SEG_ENOMEM;
		*buf = grown;
		if ((err = pread_full(fd, grown + have, (size_t)class_end - have, have)) != 0)
			return err;
	}
	if (bytes == 0)
		return 0;
	*threads = malloc(bytes);
	if (*threads == NULL)
		return JM_SEG_ENOMEM;
	return pread_full(fd, *threads, bytes, h->thread_off);
}

/* One consistent copy of the module table: module_seq even and the same
 * before and after nmodules and the rows are read (the writer rebuilds the
 * whole table under it). *rows is malloc'ed (NULL if no row). */
static int read_modules(int fd, const struct jmstat_header *h, unsigned char **rows, uint32_t *n)
{
	const uint64_t seq_off = offsetof(struct jmstat_header, module_seq);
	const uint64_t n_off = offsetof(struct jmstat_header, nmodules);

	*rows = NULL;
	*n = 0;
	for (int i = 0; i < JM_SEG_RETRIES; i++) {
		uint32_t before, after, count;
		int err;

		if (i > 0)
			sched_yield();
		if ((err = pread_full(fd, &before, sizeof before, seq_off)) != 0)
			return err;
		if (before & 1)
			continue;
		read_fence();
		if ((err = pread_full(fd, &count, sizeof count, n_off)) != 0)
			return err;
		if (count > h->nmodules_max)
			return JM_SEG_EBOUNDS;
		if (count > 0) {
			unsigned char *grown = realloc(*rows, (size_t)count * h->module_size);

			if (grown == NULL)
				return JM_SEG_ENOMEM;
			*rows = grown;
			if ((err = pread_full(fd, *rows, (size_t)count * h->module_size, h->module_off)) != 0)
				return err;
		}
		read_fence();
		if ((err = pread_full(fd, &after, sizeof after, seq_off)) != 0)
			return err;
		if (after == before) {
			*n = count;
			return 0;
		}
	}
	return JM_SEG_EBUSY;
}

int jm_seg_read_fd(int fd, struct jm_seg *out)
{
	return jm_seg_read_fd_since(fd, 0, 0, out);
}

int jm_seg_read_fd_flags(int fd, unsigned flags, struct jm_seg *out)
{
	return jm_seg_read_fd_since(fd, flags, 0, out);
}

/* Reads only what jm__seg_parse_view() needs, never the whole file: the header, then
 * the rest of the sections it names up to the thread rows below the
 * high-water mark (rows above it are zero, and most of the file), then the
 * site rows below theirs, unless skipped. The arena and bin rows are made
 * consistent together (settle), unless they are as they were at since;
 * the site rows apart. */
int jm_seg_read_fd_since(int fd, unsigned flags, uint64_t since, struct jm_seg *out)
{
	return jm_seg_read_fd_stat(fd, flags, since, NULL, out);
}

int jm_seg_read_fd_stat(int fd, unsigned flags, uint64_t since, const struct stat *known,
                        struct jm_seg *out)
{
	struct stat st;
	struct jmstat_header h;
	struct view v;
	unsigned char *buf = NULL, *sites = NULL, *modules = NULL, *threads = NULL;
	unsigned tries = SETTLE_ROW_READS;   /* for every settle() of this read */
	size_t len, have;
	uint64_t need;
	int err;

	memset(out, 0, sizeof *out);
	if (known)
		st = *known;
	else if (fstat(fd, &st) < 0)
		return JM_SEG_EIO;
	if (!S_ISREG(st.st_mode))
		return JM_SEG_ENOTREG;
	if (st.st_size < 0 || (uint64_t)st.st_size > JM_SEG_MAX_SIZE)
		return JM_SEG_EBOUNDS;
	len = (size_t)st.st_size;
	/* The first page: the header and, as the allocator places it, the
	 * class table, all that a read of unchanged rows needs of the file's
	 * start. */
	have = len < JMSTAT_PAGE_SIZE ? len : JMSTAT_PAGE_SIZE;
	buf = malloc(JMSTAT_PAGE_SIZE);
	if (buf == NULL)
		return JM_SEG_ENOMEM;
	err = pread_full(fd, buf, have, 0);
	if (err == 0)
		err = jm__seg_parse_header(buf, len, &h);
	if (err == 0 && st.st_uid != h.uid && (flags & JM_SEG_ANY_OWNER) == 0)
		err = JM_SEG_EOWNER;
	if (err != 0)
		goto out;

	memset(&v, 0, sizeof v);
	v.len = len;
	v.nthreads = h.nthreads_hw < h.nthreads_max ? h.nthreads_hw : h.nthreads_max;
	v.skip_sites = (flags & JM_SEG_NO_SITES) != 0;
	if (since != 0 && h.version >= 4 && jm__seg_gen_tag(&h) == since) {
		/* Layout 4: no row changed since the read at since (header.gen).
		 * Only the class table and the thread rows are read. */
		if ((err = read_unchanged(fd, &buf, have, &h, v.nthreads, &threads)) != 0)
			goto out;
		v.rows_gen = since;
		v.threads = threads;
		goto rest;
	}
	need = head_end(&h, v.nthreads);
	if (need > have) {
		unsigned char *grown = realloc(buf, (size_t)need);

		if (grown == NULL) {
			err = JM_SEG_ENOMEM;
			goto out;
		}
		buf = grown;
		if ((err = pread_full(fd, buf + have, (size_t)need - have, have)) != 0)
			goto out;
	}
	struct rows rows[2] = {
		{ h.arena_off, h.narenas, h.arena_size },
		{ h.bin_off, (uint64_t)h.narenas * h.nbins, h.bin_size },
	};
	/* One span for both when little lies between them (the writer puts
	 * the bins right after the arenas); a hostile layout is read apart. */
	uint64_t gap = rows[0].off < rows[1].off ? rows[1].off - rows_end(&rows[0])
	                                         : rows[0].off - rows_end(&rows[1]);
	/* Seqs as they were (layouts 2 and 3 have no generation; a layout 4
	 * reader checks one against them): not copied. */
	if (since != 0 && (since & JM_SEG_GEN_TAG) == 0 && rows_gen_of(buf, rows, 2, 1) == since) {
		v.rows_seqs = since;
		v.rows_gen = h.version >= 4 ? jm__seg_gen_tag(&h) : since;
	}
	else if (gap <= 4096)
		err = settle(fd, buf, 0, rows, 2, &tries);
	else if ((err = settle(fd, buf, 0, &rows[0], 1, &tries)) == 0)
		err = settle(fd, buf, 0, &rows[1], 1, &tries);
	if (err != 0)
		goto out;
rest:
	if (!v.skip_sites && h.nsites_hw > 0) {
		struct rows site_rows = { h.site_off, h.nsites_hw, h.site_stride };
		size_t bytes = (size_t)(site_rows.n * site_rows.size);

		sites = malloc(bytes);
		if (sites == NULL) {
			err = JM_SEG_ENOMEM;
			goto out;
		}
		if ((err = pread_full(fd, sites, bytes, h.site_off)) != 0 ||
		    (err = settle(fd, sites, h.site_off, &site_rows, 1, &tries)) != 0)
			goto out;
	}
	if (!v.skip_sites && h.nmodules_max > 0) {
		if ((err = read_modules(fd, &h, &modules, &v.nmodules)) != 0)
			goto out;
		/* Not NULL even when empty: jm__seg_parse_view() then uses the count read. */
		v.modules = modules ? modules : (const unsigned char *)"";
	}
	v.buf = buf;
	v.sites = sites;
	err = jm__seg_parse_view(&v, out);
out:
	free(buf);
	free(threads);
	free(sites);
	free(modules);
	return err;
}

int jm_seg_read_path(const char *path, struct jm_seg *out)
{
	const char *base = strrchr(path, '/');
	struct jmstat_name nm;
	int fd, err, saved;

	memset(out, 0, sizeof *out);
	base = base ? base + 1 : path;
	if (jmstat_name_parse(base, &nm) != 0)
		return JM_SEG_ENAME;
	/* O_NOFOLLOW refuses a symlink (ELOOP); O_NONBLOCK keeps a fifo from
	 * blocking the open, and fstat then refuses it. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP || errno == ENXIO ? JM_SEG_ENOTREG : JM_SEG_EIO;
	err = jm_seg_read_fd(fd, out);
	saved = errno;
	close(fd);
	errno = saved;
	if (err == 0 && !jm_seg_name_matches(&nm, &out->hdr)) {
		jm_seg_free(out);
		err = JM_SEG_ENAME;
	}
	return err;
}
