/*
 * sites.c: the top allocation sites of one live process, for alerts.c (the
 * sites behind an alert's sparse bins) and metrics.c (the top sites of
 * each executable).
 *
 * figures.c folds each tick's copy of a segment into per-bin figures and
 * lets the site table go, so the sites are read here, from the segment,
 * when they are wanted: when an alert goes pending or fires, when alerts
 * are listed, once per tick for the metrics page. The copy must still be
 * the process the caller holds (pid, start time, uid, size classes): the
 * `sites` command (sites_cmd.c) reads it here too.
 *
 * A site is ranked by its estimated live bytes in the size classes the
 * caller names (class indexes, as in jmd_proc.bins), or by its whole live
 * bytes.
 *
 * Estimates are bounded (jmd_sites_bound). Each sampled object counts
 * size / p bytes, p its chance of being sampled: unbiased as long as a
 * program frees sampled objects as it frees the others. A sampled small
 * object sits on a page of its own, so a program whose frees depend on
 * addresses (it keeps one object per page, say) keeps its sampled objects
 * and frees the others: each kept sample then stands for thousands of
 * freed objects, and its site seems to hold more than the whole process.
 * The per-class figures of the bins are exact (cursampled included), so
 * the sites' sum in a class is brought down to what the process holds
 * there, and a site so scaled says so (`bounded`). Each site also carries
 * one standard error (jmd_site_error). Frames stay raw return addresses: the daemon never opens a
 * program's files (docs/sites.md); clients symbolize them. Where the
 * daemon writes a site's frames in its log, it names each by its module
 * and file offset, from the segment's module table (jmd_site_where), as
 * jmctl names a frame it has no symbol for: an address means nothing once
 * the process is gone.
 */
#include "jmstatd.h"
#include "pprof.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* A site's id is SipHash-2-4 of its frames under a key drawn at the
 * daemon's first use of it. It was FNV-1a of the return addresses, and
 * /metrics shows the ids of every user's processes (jmalloc_site_*, no
 * token by default): whoever knows the program (its stacks are theirs to
 * reproduce, as module and offset) tried every load address ASLR allows
 * (2^28 pages for a PIE on x86_64: 100 s of a CPU here) until the hash of
 * the offsets moved by it gave the label, and so learnt where a service
 * of root's has its code (tests/metrics/site_id.test.sh). Keyed, an id
 * still names one stack (the same in two processes of one mapping) and
 * says nothing of its addresses; ids change when the daemon restarts, as
 * they do when the process does. And keyed by the process's uid as well:
 * under one key for every process, a user who wrote root's frames into a
 * site row of their own segment (theirs to write) was shown, in `sites`,
 * the id /metrics labels root's site with, so that the daemon computed
 * the search above for them, 1,024 candidates a segment read
 * (tests/metrics/site_id_uid.test.sh). The same stack in two users'
 * processes now has two ids. And keyed by the stats directory the
 * segment is read from (its device and inode; the first directory's
 * 0): root in a container without a user namespace (Docker's and
 * Kubernetes' default) is uid 0 on the host, and under the uid's key its
 * root wrote a neighbour's (or a host service's) frames into its own
 * site rows and read their ids off /metrics or `sites`
 * (tests/containers/site_id_dir.test.sh). Processes that share a
 * directory are those a fork makes of one another (a child writes where
 * its parent did), so /metrics still sums a site over the processes of
 * one exe and uid that share it. */
static uint64_t site_key[2];
static bool site_key_set;

static void site_key_draw(void)
{
	unsigned char k[16];
	ssize_t n = getrandom(k, sizeof k, GRND_NONBLOCK);
	if (n != (ssize_t)sizeof k) {
		/* Early at boot (no entropy yet), or a filter without getrandom:
		 * urandom never blocks. */
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, k, sizeof k) : -1;
		if (fd >= 0)
			close(fd);
	}
	if (n != (ssize_t)sizeof k) {
		/* Neither: what the process can tell, no worse than a fixed key. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t a = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)getpid() << 48;
		uint64_t b = (uint64_t)(uintptr_t)&ts ^ (uint64_t)time(NULL);
		memcpy(k, &a, 8);
		memcpy(k + 8, &b, 8);
	}
	memcpy(site_key, k, sizeof k);
	site_key_set = true;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                        \
	do {                                                            \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                  \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                  \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

#define SITE_ID_SCOPE 3   /* words before the frames: uid, directory's device, inode */

uint64_t jmd_site_id(const struct jmd_proc *p, const uint64_t *frames, uint32_t nframes)
{
	if (!site_key_set)
		site_key_draw();
	uint64_t v0 = 0x736f6d6570736575ull ^ site_key[0], v1 = 0x646f72616e646f6dull ^ site_key[1];
	uint64_t v2 = 0x6c7967656e657261ull ^ site_key[0], v3 = 0x7465646279746573ull ^ site_key[1];
	/* The message is the uid's word, the directory's two, then the frames
	 * (whole words), then the length block of SipHash (bytes, in the top
	 * byte). A process whose file is gone (no entry) has no segment to
	 * read sites from; it gets a scope no directory has. */
	const struct jmd_dir *dir = p->entry ? p->entry->dir : NULL;
	uint64_t scope[SITE_ID_SCOPE] = {
		p->uid,
		dir ? (uint64_t)dir->dev : p->entry ? 0 : UINT64_MAX,
		dir ? (uint64_t)dir->ino : p->entry ? 0 : UINT64_MAX,
	};
	for (uint32_t f = 0; f < nframes + SITE_ID_SCOPE; f++) {
		uint64_t m = f < SITE_ID_SCOPE ? scope[f] : frames[f - SITE_ID_SCOPE];
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	uint64_t b = ((uint64_t)(nframes + SITE_ID_SCOPE) * 8) << 56;
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

const char *jmd_site_name(uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%012llx", (unsigned long long)(id >> 16));
	return buf;
}

int jmd_site_segment(struct jmd *d, const struct jmd_proc *p, struct jm_seg *seg, int *seg_err)
{
	memset(seg, 0, sizeof(*seg));
	if (seg_err)
		*seg_err = 0;
	struct jmd_entry *e = p->entry;
	if (!e || e->proc != p)
		return -ESRCH;
	int fd = jmd_entry_open(d, e);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = fstat(fd, &st) == 0 ? jm_seg_read_fd_flags(fd, JM_SEG_ANY_OWNER, seg) : JM_SEG_EIO;
	close(fd);
	if (rc != 0 && seg_err)
		*seg_err = rc;
	if (rc != 0)
		return rc == JM_SEG_ENOMEM ? -ENOMEM : -EIO;
	/* Replaced since the tick: not the process the caller means. */
	if (seg->hdr.pid != (uint32_t)p->ns_pid || seg->hdr.start_time != p->start_ticks ||
	    seg->hdr.uid != p->ns_uid || st.st_uid != p->uid || seg->hdr.nbins != p->nbins) {
		jm_seg_free(seg);
		return -ESRCH;
	}
	seg->hdr.uid = p->uid;     /* as the tick maps it (jmd_writer_uid) */
	for (uint32_t b = 0; b < p->nbins; b++) {
		if (seg->classes[b].size != p->bins[b].size) {
			jm_seg_free(seg);
			return -ESRCH;
		}
	}
	return 0;
}

void jmd_sites_bound(const struct jmd_proc *p, const struct jm_seg *seg, double *factor)
{
	uint32_t nbins = seg->hdr.nbins;
	double held_big = 0, sampled_pages = 0;
	/* The sites' sums per class, in one pass over the rows as read. */
	for (uint32_t b = 0; b <= nbins; b++)
		factor[b] = 0;
	for (uint32_t i = 0; i < seg->nsites; i++) {
		if (!seg->sites[i].nframes)
			continue;
		const uint64_t *row = &seg->site_bins[(size_t)i * (nbins + 1)];
		for (uint32_t b = 0; b <= nbins; b++)
			factor[b] += (double)row[b];
	}
	for (uint32_t b = 0; b <= nbins; b++) {
		double est = factor[b];
		double held;
		if (b < nbins) {
			held = b < p->nbins ? (double)p->bins[b].inuse * p->bins[b].size : 0;
			sampled_pages += b < p->nbins ? (double)p->bins[b].cursampled : 0;
		} else {
			for (uint32_t a = 0; a < p->narenas; a++)
				held_big += (double)p->arenas[a].raw.allocated_large +
				            (double)p->arenas[a].raw.allocated_huge;
			/* Large and huge: less the pages of the sampled small ones. */
			held = held_big - sampled_pages * seg->hdr.page_size;
			if (held < 0)
				held = 0;
		}
		factor[b] = est > held ? held / est : 1.0;
	}
}

void jmd_site_bounded(const struct jm_seg *seg, const struct jmstat_site *row, const uint64_t *bins,
                      const double *factor, uint64_t *live_bytes, uint64_t *live_objects,
                      bool *bounded)
{
	uint32_t nbins = seg->hdr.nbins;
	uint64_t live = 0;
	bool b_any = false;
	for (uint32_t b = 0; b <= nbins; b++) {
		live = jmd_add_sat(live, jmd_scaled(bins[b], factor[b]));
		b_any |= bins[b] && factor[b] < 1.0;
	}
	*live_bytes = live;
	if (bounded)
		*bounded = b_any;
	*live_objects = row->live_objects;
	if (!b_any)
		return;
	/* The objects, which the row counts by site, not by class, shared
	 * among its classes as its bytes over their region size (a count;
	 * the large and huge ones' over the least large size), and each
	 * share brought down as that class's bytes were: demo_fragment -a's
	 * one site of four classes, its process holding 10,000 objects, is
	 * given 9,900 (14,000 by the site's bytes' ratio, where its largest
	 * class weighed most; 350,000-400,000 raw: tests/pprof/bounded). */
	double shares = 0, kept = 0;
	for (uint32_t b = 0; b <= nbins; b++) {
		if (!bins[b])
			continue;
		uint32_t size = b < nbins ? seg->classes[b].size :
		                nbins ? seg->classes[nbins - 1].size + 1 : 1;
		double w = (double)bins[b] / (double)(size ? size : 1);
		shares += w;
		kept += w * factor[b];
	}
	if (shares > 0)
		*live_objects = jmd_scaled(row->live_objects, kept / shares);
	/* Bytes still live are in an object at least: one object cut by
	 * less than itself (a 2.22 MiB buffer sampled once, bounded to the
	 * 2.01 MiB its process held) read "2.01 MiB live in 0 objects". */
	if (!*live_objects && live && row->live_objects)
		*live_objects = 1;
}

uint64_t jmd_scaled(uint64_t bytes, double factor)
{
	double x = (double)bytes * factor;
	if (!(x > 0))
		return 0;
	return x >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)x;
}

uint64_t jmd_add_sat(uint64_t acc, uint64_t v)
{
	return acc + v < acc ? UINT64_MAX : acc + v;
}

double jmd_site_error(double live_bytes, uint64_t samples, uint64_t sample_bytes)
{
	if (samples == 0 || sample_bytes == 0 || live_bytes <= 0)
		return 0;
	/* Each sample weighs w = s / p, p = 1 - exp(-s / S): solve for
	 * x = s / S from w / S = x / (1 - exp(-x)), then the variance of the
	 * estimate is the samples' sum of w^2 (1 - p), as if all weighed the
	 * mean. Small objects: about sqrt(samples) x S; huge ones: about 0. */
	double w = live_bytes / (double)samples, r = w / (double)sample_bytes;
	double lo = 0, hi = r + 50;
	for (int i = 0; i < 60; i++) {
		double x = (lo + hi) / 2;
		if (x / -expm1(-x) < r)
			lo = x;
		else
			hi = x;
	}
	return sqrt((double)samples * exp(-lo)) * w;
}

/* Inserts s into out[0..*n) sorted by live_bytes, keeping at most max. */
static void keep_top(struct jmd_site *out, size_t *n, size_t max, const struct jmd_site *s)
{
	size_t at = *n;
	while (at > 0 && out[at - 1].live_bytes < s->live_bytes)
		at--;
	if (at >= max)
		return;
	size_t last = *n < max ? *n : max - 1;
	memmove(&out[at + 1], &out[at], (last - at) * sizeof(*out));
	out[at] = *s;
	if (*n < max)
		(*n)++;
}

const char *jmd_site_where(const struct jm_seg *seg, const struct jmd_site *s, char *buf,
                           size_t len, unsigned max_frames)
{
	size_t off = 0;
	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (uint32_t f = 0; f < s->nframes && f < max_frames && off + 1 < len; f++) {
		uint64_t ra = s->frames[f];
		/* The call is the byte before the return address. */
		const struct jmstat_module *m = ra ? jm_pprof_module_at(seg->modules, seg->nmodules, ra - 1)
		                                   : NULL;
		const char *base = m ? strrchr(m->path, '/') : NULL;
		base = base ? base + 1 : m ? m->path : NULL;
		if (f)
			buf[off++] = '<';
		if (!base || !base[0]) {
			off += (size_t)snprintf(buf + off, len - off, "0x%llx", (unsigned long long)ra);
		} else {
			/* The writer's to choose: printable ASCII, no blank. */
			for (const char *c = base; *c && off + 1 < len; c++)
				buf[off++] = *c > 0x20 && *c < 0x7f && *c != '<' ? *c : '?';
			buf[off < len ? off : len - 1] = '\0';
			if (off < len)
				off += (size_t)snprintf(buf + off, len - off, "+0x%llx",
				                        (unsigned long long)(ra - m->start + m->offset));
		}
		if (off >= len)
			off = len - 1;
	}
	if (s->nframes > max_frames && off < len)
		snprintf(buf + off, len - off, "<...");
	return buf;
}

int jmd_sites_top(struct jmd *d, const struct jmd_proc *p, const uint32_t *classes,
                  uint32_t nclasses, struct jmd_site *out, size_t max, uint64_t *sample_bytes)
{
	return jmd_sites_top_where(d, p, classes, nclasses, out, max, sample_bytes, NULL, 0, 0);
}

int jmd_sites_top_where(struct jmd *d, const struct jmd_proc *p, const uint32_t *classes,
                        uint32_t nclasses, struct jmd_site *out, size_t max,
                        uint64_t *sample_bytes, char *where, size_t where_len,
                        unsigned where_frames)
{
	if (nclasses > JMD_SITE_BINS)
		return -EINVAL;
	for (uint32_t i = 0; i < nclasses; i++)
		if (classes[i] >= p->nbins)
			return -EINVAL;
	struct jm_seg seg;
	int rc = jmd_site_segment(d, p, &seg, NULL);
	if (rc != 0)
		return rc;
	if (sample_bytes)
		*sample_bytes = seg.hdr.sample_bytes;
	double factor[JMSTAT_NBINS + 1];
	if (seg.hdr.nbins > JMSTAT_NBINS) {
		jm_seg_free(&seg);
		return -EIO;
	}
	jmd_sites_bound(p, &seg, factor);
	size_t n = 0;
	struct jmd_site s;
	for (uint32_t i = 0; i < seg.nsites && max > 0; i++) {
		const struct jmstat_site *row = &seg.sites[i];
		const uint64_t *bins = &seg.site_bins[(size_t)i * (seg.hdr.nbins + 1)];
		if (row->nframes == 0)
			continue;
		memset(&s, 0, sizeof(s));
		uint64_t whole, objects;
		jmd_site_bounded(&seg, row, bins, factor, &whole, &objects, &s.bounded);
		if (nclasses == 0) {
			s.live_bytes = whole;
		} else {
			for (uint32_t k = 0; k < nclasses; k++) {
				uint64_t v = jmd_scaled(bins[classes[k]], factor[classes[k]]);
				if (v == 0)
					continue;
				s.bins[s.nbins].size = p->bins[classes[k]].size;
				s.bins[s.nbins].live_bytes = v;
				s.nbins++;
				s.live_bytes = jmd_add_sat(s.live_bytes, v);
			}
		}
		if (s.live_bytes == 0)
			continue;
		s.nframes = row->nframes;
		memcpy(s.frames, row->frames, row->nframes * sizeof(row->frames[0]));
		s.id = jmd_site_id(p, s.frames, s.nframes);
		s.site_live_bytes = whole;
		s.live_objects = objects;
		s.samples = row->samples_live;
		/* The error of what is shown: scaled as the estimate was. */
		double err = jmd_site_error((double)row->live_bytes, row->samples_live,
		                            seg.hdr.sample_bytes);
		if (row->live_bytes)
			s.error_bytes = jmd_scaled(s.live_bytes, err / (double)row->live_bytes);
		keep_top(out, &n, max, &s);
	}
	if (where && where_len) {
		where[0] = '\0';
		if (n > 0) {
			jm_pprof_sort_modules(seg.modules, seg.nmodules);
			jmd_site_where(&seg, &out[0], where, where_len, where_frames);
		}
	}
	jm_seg_free(&seg);
	return (int)n;
}
