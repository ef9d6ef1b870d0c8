/*
 * segread_fuzz.c: the libFuzzer target of the segment reader. Feeds every
 * input to jm_seg_parse() (the whole validation and copy, without I/O) and,
 * when it is accepted, checks what jmstatd and jmctl rely on and touches
 * every array the reader allocated, so that AddressSanitizer sees any
 * array shorter than its header count. Also feeds the first bytes to the
 * file-name parser. Built and run by tests/fuzz/segread.test.sh.
 */
#include "segread.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int cond)
{
	if (!cond)
		__builtin_trap();
}

static void check_seg(const struct jm_seg *s, size_t size)
{
	const struct jmstat_header *h = &s->hdr;
	uint64_t sum = 0;

	require(h->magic == JMSTAT_MAGIC);
	require(h->version >= JMSTAT_OLDEST_VERSION && h->version <= JMSTAT_VERSION &&
	        h->nbins == jmstat_layout_nbins(h->version));
	require(h->total_size == size);
	require(h->state == JMSTAT_STATE_LIVE || h->state == JMSTAT_STATE_EXITING);
	require(h->nbins >= 1 && h->nbins <= JM_SEG_MAX_NBINS);
	require(h->narenas >= 1 && h->narenas <= JM_SEG_MAX_NARENAS);
	require(h->nthreads_max <= JM_SEG_MAX_NTHREADS);
	require(s->nthreads_live <= h->nthreads_max);
	require(memchr(h->exe, '\0', sizeof h->exe) != NULL);
	require(h->pid >= 1 && h->pid <= INT32_MAX);
	for (uint32_t b = 0; b < h->nbins; b++) {
		const struct jmstat_class *c = &s->classes[b];

		require(c->size > 0 && c->regs_per_run > 0 && c->run_size > 0);
		require(b == 0 || c->size > s->classes[b - 1].size);
		sum += s->tcache_ncached[b] + s->tcache_nrequests[b];
	}
	for (uint32_t a = 0; a < h->narenas; a++) {
		require((s->arenas[a].seq & 1) == 0);
		sum += s->arenas[a].mapped;
	}
	for (uint64_t i = 0; i < (uint64_t)h->narenas * h->nbins; i++) {
		require((s->bins[i].seq & 1) == 0);
		require(s->bins[i].size == s->classes[i % h->nbins].size);
		sum += s->bins[i].nmalloc;
	}
	require(s->nsites == h->nsites_hw && s->nsites <= h->nsites_max);
	require(h->nsites_max <= JM_SEG_MAX_NSITES);
	for (uint32_t i = 0; i < s->nsites; i++) {
		const struct jmstat_site *site = &s->sites[i];

		require((site->seq & 1) == 0 && site->nframes <= JMSTAT_SITE_FRAMES);
		for (uint32_t f = 0; f < site->nframes; f++)
			sum += site->frames[f];
		for (uint32_t b = 0; b <= h->nbins; b++)
			sum += s->site_bins[(uint64_t)i * (h->nbins + 1) + b];
	}
	__asm__ __volatile__("" : : "r"(sum));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jm_seg seg;
	char name[48];
	size_t n = size < sizeof name - 1 ? size : sizeof name - 1;
	pid_t pid = 0;
	int err;

	err = jm_seg_parse(data, size, &seg);
	require(err <= 0 && (err >= JM_SEG_ENAME || err == JM_SEG_EOLDVERSION) && jm_seg_strerror(err) != NULL);
	if (err == 0)
		check_seg(&seg, size);
	else
		require(seg.classes == NULL && seg.arenas == NULL && seg.bins == NULL);
	jm_seg_free(&seg);

	memcpy(name, data, n);
	name[n] = '\0';
	if (jm_seg_pid_from_name(name, &pid) == 0)
		require(pid >= 1);
	return 0;
}
