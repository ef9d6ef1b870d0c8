/*
 * segread.c: reads a stats segment into a validated, consistent copy.
 *
 * The file is hostile until proven otherwise (PCP's mmv agent read its own
 * memory through offsets in a malevolent file). So:
 * - it is read with pread into a private buffer, never mapped: a writer or
 *   an attacker that truncates the file makes a read come up short (which
 *   we report), where a mapping would fault with SIGBUS;
 * - parse_header() checks magic, version, state, every size, every count
 *   and every section against the real length, with overflow-checked
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
 *   bounded, for the rows that changed in between;
 * - jm_seg_parse(), the pure part, copies the rows out and refuses a row
 *   whose seq is odd, so that whatever the buffer holds, what it returns
 *   is either an error or a copy that obeys every bound.
 *
 * Error codes are negative JM_SEG_* values (segread.h), explained by one
 * table.
 */
#include "segread.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
static int parse_header(const unsigned char *buf, size_t len, struct jmstat_header *h)
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
	if (version != JMSTAT_VERSION)  /* sizes may mean something else */
		return JM_SEG_EVERSION;
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
	    h->nbins != JMSTAT_NBINS ||
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

/* The size classes are the allocator's (jmstat_class_of), so that a
 * consumer can divide by them and trust them. */
static int check_classes(const struct jm_seg *s)
{
	for (uint32_t b = 0; b < s->hdr.nbins; b++) {
		const struct jmstat_class *c = &s->classes[b];
		struct jmstat_class want;

		if (jmstat_class_of(b, &want) != 0 || c->size != want.size ||
		    c->regs_per_run != want.regs_per_run || c->run_size != want.run_size)
			return JM_SEG_EBOUNDS;
	}
	return 0;
}

/* Copies the site rows below nsites_hw and their per-class words from
 * rows, where row i starts at rows + i * site_stride (parse_header placed
 * the table inside the file); refuses an odd seq or more frames than a row
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

/* What parse() is given: the file's first bytes, and its site rows.
 * buf holds the file from offset 0 to the end of its header, class, arena
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
};

static int parse(const struct view *v, struct jm_seg *out)
{
	const unsigned char *p = v->buf;
	struct jm_seg s;
	uint64_t nrows;
	uint32_t nthreads;
	int err;

	memset(out, 0, sizeof *out);
	memset(&s, 0, sizeof s);
	err = parse_header(p, v->len, &s.hdr);
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
		s.rows_gen += s.bins[i].seq;
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

	for (uint32_t t = 0; t < nthreads; t++) {
		const unsigned char *row = p + s.hdr.thread_off + (uint64_t)t * s.hdr.thread_stride;
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
		s.tcache_large_bytes += th.large_cached;
		s.tcache_arena_large[th.arena] += th.large_cached;
		for (uint32_t b = 0; b < s.hdr.nbins; b++, tb += sizeof(struct jmstat_tcache_bin)) {
			struct jmstat_tcache_bin c;

			memcpy(&c, tb, sizeof c);
			s.tcache_ncached[b] += c.ncached;
			s.tcache_nrequests[b] += c.nrequests;
			s.tcache_arena_small[th.arena] += (uint64_t)c.ncached * s.classes[b].size;
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

	return parse(&v, out);
}

/* -------------------------------------------------------------- reading */

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

/* Re-reads one row until its seq is even and the same before and after the
 * copy; the writer sets seq odd before it touches the row and even after. */
static int reread_row(int fd, unsigned char *row, uint64_t off, uint32_t size)
{
	for (int i = 0; i < JM_SEG_RETRIES; i++) {
		uint32_t before, after;
		int err;

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
	return r->off + r->n * r->size;       /* bounded by parse_header */
}

/* Makes the copy of the rows in buf (which holds the file's bytes from
 * offset base on) consistent. That copy came from an earlier read: it is
 * each row's 'before'. The span [lo, hi) that covers the row sets is read
 * twice more, behind a fence each: once for the rows, once for their seqs
 * after. A row whose seq is even and the same in the three reads is taken
 * from the second; any other is re-read alone (reread_row). So the common
 * case costs two preads for every row set together. */
static int settle(int fd, unsigned char *buf, uint64_t base, const struct rows *set, int nset)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	unsigned char *data;
	size_t span;
	int err;

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
	read_fence();
	err = pread_full(fd, data, span, lo);
	read_fence();
	if (err == 0)
		err = pread_full(fd, data + span, span, lo);
	for (int k = 0; k < nset && err == 0; k++) {
		for (uint64_t i = 0; i < set[k].n && err == 0; i++) {
			uint64_t o = set[k].off + i * set[k].size;
			unsigned char *row = buf + (o - base);
			const unsigned char *now = data + (o - lo);
			uint32_t seq = seq_of(row);

			if ((seq & 1) == 0 && seq == seq_of(now) && seq == seq_of(now + span))
				memcpy(row, now, set[k].size);
			else
				err = reread_row(fd, row, o, set[k].size);
		}
	}
	free(data);
	return err;
}

/* The end of what parse() needs of the file's first bytes: the header,
 * class, arena and bin sections and the first nthreads thread rows (all
 * placed inside the file by parse_header). */
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
 * as jm_seg.rows_gen; 0 if a row is being written. */
static uint64_t rows_gen_of(const unsigned char *buf, const struct rows *set, int nset)
{
	uint64_t gen = 1;
	for (int k = 0; k < nset; k++) {
		for (uint64_t i = 0; i < set[k].n; i++) {
			uint32_t seq = seq_of(buf + set[k].off + i * set[k].size);
			if (seq & 1)
				return 0;
			gen += seq;
		}
	}
	return gen;
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

/* Reads only what parse() needs, never the whole file: the header, then
 * the rest of the sections it names up to the thread rows below the
 * high-water mark (rows above it are zero, and most of the file), then the
 * site rows below theirs, unless skipped. The arena and bin rows are made
 * consistent together (settle), unless they are as they were at since;
 * the site rows apart. */
int jm_seg_read_fd_since(int fd, unsigned flags, uint64_t since, struct jm_seg *out)
{
	struct stat st;
	struct jmstat_header h;
	struct view v;
	unsigned char *buf = NULL, *sites = NULL, *modules = NULL;
	size_t len, have;
	uint64_t need;
	int err;

	memset(out, 0, sizeof *out);
	if (fstat(fd, &st) < 0)
		return JM_SEG_EIO;
	if (!S_ISREG(st.st_mode))
		return JM_SEG_ENOTREG;
	if (st.st_size < 0 || (uint64_t)st.st_size > JM_SEG_MAX_SIZE)
		return JM_SEG_EBOUNDS;
	len = (size_t)st.st_size;
	have = len < sizeof h ? len : sizeof h;
	buf = malloc(sizeof h);
	if (buf == NULL)
		return JM_SEG_ENOMEM;
	err = pread_full(fd, buf, have, 0);
	if (err == 0)
		err = parse_header(buf, len, &h);
	if (err == 0 && st.st_uid != h.uid)
		err = JM_SEG_EOWNER;
	if (err != 0)
		goto out;

	memset(&v, 0, sizeof v);
	v.len = len;
	v.nthreads = h.nthreads_hw < h.nthreads_max ? h.nthreads_hw : h.nthreads_max;
	v.skip_sites = (flags & JM_SEG_NO_SITES) != 0;
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
	if (since != 0 && rows_gen_of(buf, rows, 2) == since)
		v.rows_gen = since;
	else if (gap <= 4096)
		err = settle(fd, buf, 0, rows, 2);
	else if ((err = settle(fd, buf, 0, &rows[0], 1)) == 0)
		err = settle(fd, buf, 0, &rows[1], 1);
	if (err != 0)
		goto out;

	if (!v.skip_sites && h.nsites_hw > 0) {
		struct rows site_rows = { h.site_off, h.nsites_hw, h.site_stride };
		size_t bytes = (size_t)(site_rows.n * site_rows.size);

		sites = malloc(bytes);
		if (sites == NULL) {
			err = JM_SEG_ENOMEM;
			goto out;
		}
		if ((err = pread_full(fd, sites, bytes, h.site_off)) != 0 ||
		    (err = settle(fd, sites, h.site_off, &site_rows, 1)) != 0)
			goto out;
	}
	if (!v.skip_sites && h.nmodules_max > 0) {
		if ((err = read_modules(fd, &h, &modules, &v.nmodules)) != 0)
			goto out;
		/* Not NULL even when empty: parse() then uses the count read. */
		v.modules = modules ? modules : (const unsigned char *)"";
	}
	v.buf = buf;
	v.sites = sites;
	err = parse(&v, out);
out:
	free(buf);
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

/* ------------------------------------------------------ the writer's pid */

/* Reads the small file name under the directory dfd into buf, NUL-terminated;
 * returns its length or -1 with errno set. */
static ssize_t read_small(int dfd, const char *name, char *buf, size_t size)
{
	size_t len = 0;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/* After /proc/PID failed us: gone if the kernel says so, else unknown. */
static int gone_or_eio(pid_t pid)
{
	int saved = errno;

	if ((saved == ENOENT || saved == ESRCH) && kill(pid, 0) < 0 && errno == ESRCH)
		return JM_SEG_EDEAD;
	errno = saved;
	return JM_SEG_EIO;
}

/* Parses /proc/PID/stat: the state (field 3) and the start time (field 22),
 * counted after the last ')' since the command name may hold anything. */
static bool parse_stat(const char *stat, char *state, uint64_t *start_time)
{
	const char *p = strrchr(stat, ')');

	if (p == NULL)
		return false;
	p++;
	for (int field = 3; field <= 22; field++) {
		char *end;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			return false;
		if (field == 3)
			*state = *p;
		if (field == 22) {
			errno = 0;
			*start_time = strtoull(p, &end, 10);
			return end != p && errno == 0;
		}
		while (*p != ' ' && *p != '\0')
			p++;
	}
	return false;
}

int jm_seg_check_process(const struct jm_seg *seg)
{
	return jm_seg_check_process_as(seg, (pid_t)seg->hdr.pid);
}

int jm_seg_check_process_as(const struct jm_seg *seg, pid_t pid)
{
	return jm_seg_check_pid(pid, &seg->hdr.start_time, seg->hdr.uid);
}

int jm_seg_check_pid(pid_t pid, const uint64_t *start, uint32_t want_uid)
{
	char path[32], buf[8192];
	const char *uid_line;
	uint64_t start_time;
	unsigned long uid;
	char state = 0;
	int dfd, err;

	if (pid <= 0)
		return JM_SEG_EDEAD;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return JM_SEG_EDEAD;
	/* Both files are read through one directory fd: should the pid die and
	 * be reused meanwhile, the reads fail rather than describe another
	 * process. */
	snprintf(path, sizeof path, "/proc/%d", (int)pid);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return gone_or_eio(pid);

	if (read_small(dfd, "stat", buf, sizeof buf) < 0) {
		err = gone_or_eio(pid);
		goto out;
	}
	if (!parse_stat(buf, &state, &start_time)) {
		errno = EINVAL;
		err = JM_SEG_EIO;
		goto out;
	}
	if (state == 'Z' || state == 'X') {     /* exited, not yet reaped */
		err = JM_SEG_EDEAD;
		goto out;
	}
	if (start != NULL && start_time != *start) {
		err = JM_SEG_EREUSED;
		goto out;
	}

	if (read_small(dfd, "status", buf, sizeof buf) < 0) {
		err = gone_or_eio(pid);
		goto out;
	}
	uid_line = strstr(buf, "\nUid:");
	if (uid_line == NULL || sscanf(uid_line + 5, "%lu", &uid) != 1) {
		errno = EINVAL;
		err = JM_SEG_EIO;
		goto out;
	}
	err = uid == want_uid ? 0 : JM_SEG_EOWNER;
out:
	close(dfd);
	return err;
}
