/*
 * sites.c: the top allocation sites of one live process, for alerts.c (the
 * sites behind an alert's sparse bins) and metrics.c (the top sites of
 * each executable).
 *
 * sample.c folds each tick's copy of a segment into per-bin figures and
 * lets the site table go, so the sites are read here, from the segment,
 * when they are wanted: when an alert goes pending or fires, when alerts
 * are listed, once per tick for the metrics page. The copy must still be
 * the process the caller holds (pid, start time, uid), as commands.c's
 * `sites` checks too.
 *
 * A site is ranked by its estimated live bytes in the size classes the
 * caller names (class indexes, as in jmd_proc.bins), or by its whole live
 * bytes. Frames stay raw return addresses: the daemon never opens a
 * program's files (docs/sites.md); clients symbolize them.
 */
#include "jmstatd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

uint64_t jmd_site_id(const uint64_t *frames, uint32_t nframes)
{
	uint64_t h = 1469598103934665603ull;
	for (uint32_t f = 0; f < nframes; f++)
		for (unsigned i = 0; i < 8; i++)
			h = (h ^ ((frames[f] >> (8 * i)) & 0xff)) * 1099511628211ull;
	return h;
}

const char *jmd_site_name(uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%012llx", (unsigned long long)(id >> 16));
	return buf;
}

int jmd_site_segment(struct jmd *d, const struct jmd_proc *p, struct jm_seg *seg)
{
	memset(seg, 0, sizeof(*seg));
	struct jmd_entry *e = jmd_entry_find(d, p->pid);
	if (!e || e->proc != p)
		return -ESRCH;
	int fd = openat(d->dirfd, e->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = jm_seg_read_fd(fd, seg);
	close(fd);
	if (rc != 0)
		return rc == JM_SEG_ENOMEM ? -ENOMEM : -EIO;
	/* Replaced since the tick: not the process the caller means. */
	if (seg->hdr.pid != (uint32_t)p->pid || seg->hdr.start_time != p->start_ticks ||
	    seg->hdr.uid != p->uid || seg->hdr.nbins != p->nbins) {
		jm_seg_free(seg);
		return -ESRCH;
	}
	for (uint32_t b = 0; b < p->nbins; b++) {
		if (seg->classes[b].size != p->bins[b].size) {
			jm_seg_free(seg);
			return -ESRCH;
		}
	}
	return 0;
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

int jmd_sites_top(struct jmd *d, const struct jmd_proc *p, const uint32_t *classes,
                  uint32_t nclasses, struct jmd_site *out, size_t max, uint64_t *sample_bytes)
{
	if (nclasses > JMD_SITE_BINS)
		return -EINVAL;
	for (uint32_t i = 0; i < nclasses; i++)
		if (classes[i] >= p->nbins)
			return -EINVAL;
	struct jm_seg seg;
	int rc = jmd_site_segment(d, p, &seg);
	if (rc != 0)
		return rc;
	if (sample_bytes)
		*sample_bytes = seg.hdr.sample_bytes;
	size_t n = 0;
	struct jmd_site s;
	for (uint32_t i = 0; i < seg.nsites && max > 0; i++) {
		const struct jmstat_site *row = &seg.sites[i];
		const uint64_t *bins = &seg.site_bins[(size_t)i * (seg.hdr.nbins + 1)];
		if (row->nframes == 0)
			continue;
		memset(&s, 0, sizeof(s));
		if (nclasses == 0) {
			s.live_bytes = row->live_bytes;
		} else {
			for (uint32_t k = 0; k < nclasses; k++) {
				uint64_t v = bins[classes[k]];
				if (v == 0)
					continue;
				s.bins[s.nbins].size = p->bins[classes[k]].size;
				s.bins[s.nbins].live_bytes = v;
				s.nbins++;
				s.live_bytes += v;
			}
		}
		if (s.live_bytes == 0)
			continue;
		s.nframes = row->nframes;
		memcpy(s.frames, row->frames, row->nframes * sizeof(row->frames[0]));
		s.id = jmd_site_id(s.frames, s.nframes);
		s.site_live_bytes = row->live_bytes;
		s.live_objects = row->live_objects;
		s.samples = row->samples_live;
		keep_top(out, &n, max, &s);
	}
	jm_seg_free(&seg);
	return (int)n;
}
