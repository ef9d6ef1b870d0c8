/*
 * segsynth.h: builds synthetic stats segments (liballoc/include/jmstat.h)
 * for the reader's unit tests, the fuzz seed corpus and helper programs,
 * without the allocator.
 *
 * synth_build() lays out a valid LIVE segment: header (plus header_pad
 * bytes), class table, arena rows, bin rows, thread rows, each section
 * 8-byte aligned and in that order. Valid means as the allocator writes
 * it: nbins JMSTAT_NBINS with its class table, strides of JMSTAT_STRIDE()
 * (stride_pad makes one the reader refuses), row counts within jmstat.h's
 * limits. Every counter holds a value that
 * synth_arena_value()/synth_bin_value() predict, so that a test can check
 * that each one landed in the right place; thread rows alternate live and
 * free (synth_thread_live()), each on arena synth_thread_arena(), with
 * large_cached synth_tc_large() and tcache words synth_tc_ncached() and
 * synth_tc_nrequests(). A site table of nsites_max rows follows the thread
 * rows when nsites_max > 0; the rows below nsites_hw hold
 * synth_site_nframes(i) frames synth_site_frame(i, f), counters
 * synth_site_value(i, field) and per-class words synth_site_bin(i, b).
 * A module table of nmodules_max rows follows the site table when
 * nmodules_max > 0; the rows below nmodules are synth_module_fill(i).
 *
 * Header-only, all static inline, so that each program compiles it alone.
 */
#ifndef JM_SEGSYNTH_H
#define JM_SEGSYNTH_H

#include "jmstat.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct synth {
	uint32_t nbins;          /* small size classes: JMSTAT_NBINS to be valid */
	uint32_t narenas;        /* arena rows */
	uint32_t nthreads_max;   /* thread rows */
	uint32_t pid;            /* header pid */
	uint32_t uid;            /* header uid */
	uint64_t start_time;     /* header start time, clock ticks since boot */
	uint64_t pidns;          /* header pid namespace inode (0: unknown) */
	uint64_t mntns;          /* header mount namespace inode (0: unknown) */
	uint32_t header_pad;     /* bytes the header grows by (multiple of 8) */
	uint32_t stride_pad;     /* bytes each thread row grows by (multiple of 8) */
	uint32_t nsites_max;     /* site rows (0: no site table) */
	uint32_t nsites_hw;      /* site rows in use, <= nsites_max */
	uint32_t nmodules_max;   /* module rows (0: no module table) */
	uint32_t nmodules;       /* module rows in use, <= nmodules_max */
	uint32_t version;        /* header version (0: JMSTAT_VERSION); 4, 3 or
	                            2 an older libjmalloc's (nbins 40, 40, 35:
	                            jmstat_layout_nbins), its class table too */
	uint64_t gen;            /* header generation (layout 4 on; an older
	                            layout's is 0, whatever this says) */
};

#define SYNTH_PAGE 4096u

static inline uint64_t synth_align8(uint64_t x)
{
	return (x + 7) & ~(uint64_t)7;
}

static inline uint32_t synth_stride(const struct synth *p)
{
	return (uint32_t)(JMSTAT_STRIDE(sizeof(struct jmstat_thread), p->nbins,
	                                sizeof(struct jmstat_tcache_bin)) + p->stride_pad);
}

static inline uint64_t synth_class_off(const struct synth *p)
{
	return synth_align8(sizeof(struct jmstat_header) + p->header_pad);
}

static inline uint64_t synth_arena_off(const struct synth *p)
{
	return synth_class_off(p) + (uint64_t)p->nbins * sizeof(struct jmstat_class);
}

static inline uint64_t synth_bin_off(const struct synth *p)
{
	return synth_arena_off(p) + (uint64_t)p->narenas * sizeof(struct jmstat_arena);
}

static inline uint64_t synth_thread_off(const struct synth *p)
{
	return synth_bin_off(p) + (uint64_t)p->narenas * p->nbins * sizeof(struct jmstat_bin);
}

static inline uint32_t synth_site_stride(const struct synth *p)
{
	return (uint32_t)JMSTAT_STRIDE(sizeof(struct jmstat_site), p->nbins + 1, sizeof(uint64_t));
}

static inline uint64_t synth_site_off(const struct synth *p)
{
	return synth_thread_off(p) + (uint64_t)p->nthreads_max * synth_stride(p);
}

static inline uint64_t synth_module_off(const struct synth *p)
{
	return synth_site_off(p) + (uint64_t)p->nsites_max * synth_site_stride(p);
}

static inline size_t synth_size(const struct synth *p)
{
	return (size_t)(synth_module_off(p) + (uint64_t)p->nmodules_max * sizeof(struct jmstat_module));
}

/* Module i: an executable segment at 0x400000 + i MiB, 512 KiB long (so
 * module 0 holds every frame of the sites), at file offset i x 4 KiB,
 * with a 20-byte build-id of bytes i, i+1, ... and the path
 * /synth/libI.so (module 0 is the program, /synth/prog). */
static inline void synth_module_fill(struct jmstat_module *m, uint32_t i)
{
	memset(m, 0, sizeof *m);
	m->start = 0x400000ull + (uint64_t)i * 0x100000;
	m->limit = m->start + 0x80000;
	m->offset = (uint64_t)i * 0x1000;
	m->build_id_len = 20;
	m->flags = i == 0 ? JMSTAT_MODULE_MAIN : 0;
	for (uint32_t k = 0; k < 20; k++)
		m->build_id[k] = (uint8_t)(i + k);
	if (i == 0)
		snprintf(m->path, sizeof m->path, "/synth/prog");
	else
		snprintf(m->path, sizeof m->path, "/synth/lib%u.so", (unsigned)i);
}

static inline uint32_t synth_site_nframes(uint32_t i)
{
	return 1 + i % JMSTAT_SITE_FRAMES;
}

static inline uint64_t synth_site_frame(uint32_t i, uint32_t f)
{
	return 0x400000u + (uint64_t)i * 0x1000 + f * 16 + 5;
}

/* field: 0 live_bytes, 1 live_objects, 2 alloc_bytes, 3 alloc_objects,
 * 4 samples_live */
static inline uint64_t synth_site_value(uint32_t i, unsigned field)
{
	return (uint64_t)(i + 1) * 100000 + field;
}

static inline uint64_t synth_site_bin(uint32_t i, uint32_t b)
{
	return (uint64_t)(i + 1) * 1000 + b;
}

/* The allocator's class b in layout `version` (0: JMSTAT_VERSION; a
 * reader accepts no other table: layouts before 5 have no 8 B class). */
static inline uint32_t synth_class_size(uint32_t version, uint32_t b)
{
	struct jmstat_class c;

	return jmstat_layout_class_of(version ? version : JMSTAT_VERSION, b, &c) == 0 ?
	    c.size : 16 * (b + 1);
}

static inline uint64_t synth_arena_value(uint32_t a, unsigned field)
{
	return (uint64_t)(a + 1) * 1000 + field;
}

static inline uint64_t synth_bin_value(uint32_t a, uint32_t b, unsigned field)
{
	return (uint64_t)(a + 1) * 1000000 + (uint64_t)b * 1000 + field;
}

static inline int synth_thread_live(uint32_t t)
{
	return t % 3 != 2;
}

static inline uint32_t synth_thread_arena(uint32_t t, uint32_t narenas)
{
	return narenas ? t % narenas : 0;
}

static inline uint64_t synth_tc_large(uint32_t t)
{
	return 16384 * (uint64_t)(t + 1);
}

static inline uint32_t synth_tc_ncached(uint32_t t, uint32_t b)
{
	return t + b + 1;
}

static inline uint64_t synth_tc_nrequests(uint32_t t, uint32_t b)
{
	return 10 * (uint64_t)t + b;
}

static inline struct jmstat_header *synth_hdr(unsigned char *buf)
{
	return (struct jmstat_header *)buf;
}

static inline struct jmstat_class *synth_class(unsigned char *buf, uint32_t b)
{
	return (struct jmstat_class *)(buf + synth_hdr(buf)->class_off) + b;
}

static inline struct jmstat_arena *synth_arena(unsigned char *buf, uint32_t a)
{
	return (struct jmstat_arena *)(buf + synth_hdr(buf)->arena_off) + a;
}

static inline struct jmstat_bin *synth_bin(unsigned char *buf, uint32_t a, uint32_t b)
{
	return (struct jmstat_bin *)(buf + synth_hdr(buf)->bin_off) +
	       (uint64_t)a * synth_hdr(buf)->nbins + b;
}

static inline struct jmstat_thread *synth_thread(unsigned char *buf, uint32_t t)
{
	return (struct jmstat_thread *)(buf + synth_hdr(buf)->thread_off +
	                                 (uint64_t)t * synth_hdr(buf)->thread_stride);
}

static inline struct jmstat_site *synth_site(unsigned char *buf, uint32_t i)
{
	return (struct jmstat_site *)(buf + synth_hdr(buf)->site_off +
	                               (uint64_t)i * synth_hdr(buf)->site_stride);
}

static inline struct jmstat_module *synth_module(unsigned char *buf, uint32_t i)
{
	return (struct jmstat_module *)(buf + synth_hdr(buf)->module_off) + i;
}

static inline uint64_t *synth_site_bins(unsigned char *buf, uint32_t i)
{
	return (uint64_t *)(synth_site(buf, i) + 1);
}

static inline struct jmstat_tcache_bin *synth_tcache(unsigned char *buf, uint32_t t, uint32_t b)
{
	return (struct jmstat_tcache_bin *)(synth_thread(buf, t) + 1) + b;
}

static inline void synth_fill_arena(struct jmstat_arena *r, uint32_t a)
{
	unsigned k = 0;

	r->seq = 2 * a;
	r->index = a;
#define SYNTH_SET_(name, type, unit, help) r->name = synth_arena_value(a, k++);
	JMSTAT_ARENA_COUNTERS(SYNTH_SET_)
#undef SYNTH_SET_
}

static inline void synth_fill_bin(struct jmstat_bin *r, uint32_t version, uint32_t a, uint32_t b)
{
	unsigned k = 0;

	r->seq = 2 * b;
	r->size = synth_class_size(version, b);
#define SYNTH_SET_(name, type, unit, help) r->name = synth_bin_value(a, b, k++);
	JMSTAT_BIN_COUNTERS(SYNTH_SET_)
#undef SYNTH_SET_
}

/* Writes a valid LIVE segment into buf[0..synth_size(p)). */
static inline void synth_fill(unsigned char *buf, const struct synth *p)
{
	struct jmstat_header *h = synth_hdr(buf);

	memset(buf, 0, synth_size(p));
	h->magic = JMSTAT_MAGIC;
	h->version = p->version ? p->version : JMSTAT_VERSION;
	h->gen = h->version >= 4 ? p->gen : 0;
	h->header_size = (uint32_t)(sizeof *h + p->header_pad);
	h->total_size = synth_size(p);
	h->state = JMSTAT_STATE_LIVE;
	h->pid = p->pid;
	h->start_time = p->start_time;
	h->pidns = p->pidns;
	h->mntns = p->mntns;
	h->uid = p->uid;
	h->page_size = SYNTH_PAGE;
	h->chunk_size = 2u << 20;
	snprintf(h->exe, sizeof h->exe, "synth");
	snprintf(h->path, sizeof h->path, "/usr/bin/synth-1.0");
	h->nbins = p->nbins;
	h->narenas = p->narenas;
	h->nthreads_max = p->nthreads_max;
	h->nthreads_hw = p->nthreads_max;  /* every row may be in use */
	h->class_size = sizeof(struct jmstat_class);
	h->arena_size = sizeof(struct jmstat_arena);
	h->bin_size = sizeof(struct jmstat_bin);
	h->thread_size = sizeof(struct jmstat_thread);
	h->thread_stride = synth_stride(p);
	h->class_off = synth_class_off(p);
	h->arena_off = synth_arena_off(p);
	h->bin_off = synth_bin_off(p);
	h->thread_off = synth_thread_off(p);
	h->large_max = 1u << 20;
	h->update_ns = 1;
	h->bg_wakes = 11;
	h->bg_running = 1;
	if (p->nsites_max > 0) {
		h->nsites_max = p->nsites_max;
		h->nsites_hw = p->nsites_hw;
		h->site_off = synth_site_off(p);
		h->site_size = sizeof(struct jmstat_site);
		h->site_stride = synth_site_stride(p);
		h->sample_bytes = 524288;
		h->sites_dropped = 7;
	}
	if (p->nmodules_max > 0) {
		h->nmodules_max = p->nmodules_max;
		h->nmodules = p->nmodules;
		h->module_off = synth_module_off(p);
		h->module_size = sizeof(struct jmstat_module);
		h->module_seq = 4;
	}

	for (uint32_t b = 0; b < p->nbins; b++) {
		struct jmstat_class *c = synth_class(buf, b);

		if (jmstat_layout_class_of(h->version, b, c) != 0) {   /* beyond the allocator's: refused */
			c->size = synth_class_size(h->version, b);
			c->run_size = (c->size + SYNTH_PAGE - 1) / SYNTH_PAGE * SYNTH_PAGE;
			c->regs_per_run = c->run_size / c->size;
		}
	}
	for (uint32_t a = 0; a < p->narenas; a++) {
		synth_fill_arena(synth_arena(buf, a), a);
		for (uint32_t b = 0; b < p->nbins; b++)
			synth_fill_bin(synth_bin(buf, a, b), h->version, a, b);
	}
	for (uint32_t t = 0; t < p->nthreads_max; t++) {
		struct jmstat_thread *th = synth_thread(buf, t);

		th->in_use = synth_thread_live(t) ? 1 : 0;
		th->tid = 1000 + t;
		th->arena = synth_thread_arena(t, p->narenas);
		th->opaque = 0xdeadbeef;
		th->large_cached = synth_tc_large(t);
		for (uint32_t b = 0; b < p->nbins; b++) {
			struct jmstat_tcache_bin *c = synth_tcache(buf, t, b);

			c->opaque = 0xfeedface;
			c->ncached_max = 200;
			c->ncached_less_max = synth_tc_ncached(t, b) - c->ncached_max;
			c->nrequests = synth_tc_nrequests(t, b);
		}
	}
	for (uint32_t i = 0; i < p->nsites_hw && i < p->nsites_max; i++) {
		struct jmstat_site *s = synth_site(buf, i);

		s->seq = 2 * i;
		s->nframes = synth_site_nframes(i);
		s->hash = 0x5157e000u + i;
		s->live_bytes = synth_site_value(i, 0);
		s->live_objects = synth_site_value(i, 1);
		s->alloc_bytes = synth_site_value(i, 2);
		s->alloc_objects = synth_site_value(i, 3);
		s->samples_live = synth_site_value(i, 4);
		for (uint32_t f = 0; f < s->nframes; f++)
			s->frames[f] = synth_site_frame(i, f);
		for (uint32_t b = 0; b <= p->nbins; b++)
			synth_site_bins(buf, i)[b] = synth_site_bin(i, b);
	}
	for (uint32_t i = 0; i < p->nmodules && i < p->nmodules_max; i++)
		synth_module_fill(synth_module(buf, i), i);
}

/* A malloc'ed valid segment; *len its size. */
static inline unsigned char *synth_build(const struct synth *p, size_t *len)
{
	unsigned char *buf = malloc(synth_size(p));

	if (buf == NULL) {
		perror("synth_build");
		abort();
	}
	synth_fill(buf, p);
	*len = synth_size(p);
	return buf;
}

/* Field 22 of /proc/PID/stat (pid 0: ourselves), or 0. */
static inline uint64_t synth_start_time(int pid)
{
	char path[64], buf[4096];
	unsigned long long st = 0;
	size_t n;
	FILE *f;
	char *p;

	if (pid == 0)
		snprintf(path, sizeof path, "/proc/self/stat");
	else
		snprintf(path, sizeof path, "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	/* fields 3..21 skipped, then 22 */
	for (int field = 3; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %*s %llu", &st) != 1)
		return 0;
	return st;
}

/* The inode of one of our namespace links (/proc/self/ns/NAME), or 0. */
static inline uint64_t synth_ns(const char *name)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof path, "/proc/self/ns/%s", name);
	return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* Parameters describing the calling process. */
static inline struct synth synth_self(uint32_t nbins, uint32_t narenas, uint32_t nthreads_max)
{
	struct synth p = { .nbins = nbins, .narenas = narenas, .nthreads_max = nthreads_max,
	                   .pid = (uint32_t)getpid(), .uid = (uint32_t)getuid(),
	                   .start_time = synth_start_time(0), .pidns = synth_ns("pid"),
	                   .mntns = synth_ns("mnt") };
	return p;
}

/* The name a writer with these parameters gives its file (jmstat.h):
 * plain in the host's pid namespace, with its pidns and start otherwise. */
static inline void synth_name(char *buf, size_t len, const char *dir, const struct synth *p)
{
	if (p->pidns == 0 || p->pidns == JMSTAT_PIDNS_INIT)
		snprintf(buf, len, "%s/jmalloc.%u.stats", dir, p->pid);
	else
		snprintf(buf, len, "%s/jmalloc.%u.%llu.%llu.stats", dir, p->pid,
		         (unsigned long long)p->pidns, (unsigned long long)p->start_time);
}

#endif
