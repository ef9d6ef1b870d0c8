/*
 * segcheck.h: check_contents(), every field of a valid segment (of
 * tests/fuzz/segsynth.h) where segread.h says, for the unit tests of the
 * parser (test_segread.c) and of the file reader (test_segread_file.c).
 * Included after cmocka.h.
 */
#ifndef JM_TEST_SEGCHECK_H
#define JM_TEST_SEGCHECK_H

#include "../fuzz/segsynth.h"
#include "segread.h"

/* Every field of a valid segment lands where segread.h says. */
static void check_contents(const struct jm_seg *seg, const struct synth *p)
{
	uint64_t ncached, nrequests;
	uint32_t live = 0;
	unsigned k;

	assert_int_equal(seg->hdr.magic, JMSTAT_MAGIC);
	assert_int_equal(seg->hdr.pid, p->pid);
	assert_int_equal(seg->hdr.uid, p->uid);
	assert_int_equal(seg->hdr.start_time, p->start_time);
	assert_int_equal(seg->hdr.nbins, p->nbins);
	assert_int_equal(seg->hdr.narenas, p->narenas);
	assert_string_equal(seg->hdr.exe, "synth");
	assert_string_equal(seg->hdr.path, "/usr/bin/synth-1.0");
	for (uint32_t b = 0; b < p->nbins; b++) {
		assert_int_equal(seg->classes[b].size, synth_class_size(p->version, b));
		assert_true(seg->classes[b].regs_per_run >= 1);
	}
#define CHECK_ARENA_(name, type, unit, help) assert_int_equal(r->name, synth_arena_value(a, k++));
#define CHECK_BIN_(name, type, unit, help) assert_int_equal(rb->name, synth_bin_value(a, b, k++));
	for (uint32_t a = 0; a < p->narenas; a++) {
		const struct jmstat_arena *r = &seg->arenas[a];

		k = 0;
		assert_int_equal(r->index, a);
		JMSTAT_ARENA_COUNTERS(CHECK_ARENA_)
		for (uint32_t b = 0; b < p->nbins; b++) {
			const struct jmstat_bin *rb = &seg->bins[a * p->nbins + b];

			k = 0;
			assert_int_equal(rb->size, synth_class_size(p->version, b));
			JMSTAT_BIN_COUNTERS(CHECK_BIN_)
		}
	}
#undef CHECK_ARENA_
#undef CHECK_BIN_
	for (uint32_t t = 0; t < p->nthreads_max; t++)
		live += synth_thread_live(t);
	assert_int_equal(seg->nthreads_live, live);
	for (uint32_t b = 0; b < p->nbins; b++) {
		ncached = nrequests = 0;
		for (uint32_t t = 0; t < p->nthreads_max; t++) {
			if (!synth_thread_live(t))
				continue;
			ncached += synth_tc_ncached(t, b);
			nrequests += synth_tc_nrequests(t, b);
		}
		assert_int_equal(seg->tcache_ncached[b], ncached);
		assert_int_equal(seg->tcache_nrequests[b], nrequests);
	}
	/* The cached bytes, per arena of the thread that caches them. */
	uint64_t large_all = 0;
	for (uint32_t a = 0; a < p->narenas; a++) {
		uint64_t small = 0, large = 0;
		for (uint32_t t = 0; t < p->nthreads_max; t++) {
			if (!synth_thread_live(t) || synth_thread_arena(t, p->narenas) != a)
				continue;
			large += synth_tc_large(t);
			for (uint32_t b = 0; b < p->nbins; b++)
				small += (uint64_t)synth_tc_ncached(t, b) * synth_class_size(p->version, b);
		}
		assert_int_equal(seg->tcache_arena_small[a], small);
		assert_int_equal(seg->tcache_arena_large[a], large);
		large_all += large;
	}
	assert_int_equal(seg->tcache_large_bytes, large_all);
	assert_int_equal(seg->nsites, p->nsites_max ? p->nsites_hw : 0);
	assert_int_equal(seg->hdr.bg_wakes, 11);
	assert_int_equal(seg->hdr.bg_running, 1);
	if (p->nsites_max)
		assert_int_equal(seg->hdr.sites_dropped, 7);
	for (uint32_t i = 0; i < seg->nsites; i++) {
		const struct jmstat_site *s = &seg->sites[i];

		assert_int_equal(s->nframes, synth_site_nframes(i));
		for (uint32_t f = 0; f < s->nframes; f++)
			assert_int_equal(s->frames[f], synth_site_frame(i, f));
		assert_int_equal(s->live_bytes, synth_site_value(i, 0));
		assert_int_equal(s->live_objects, synth_site_value(i, 1));
		assert_int_equal(s->alloc_bytes, synth_site_value(i, 2));
		assert_int_equal(s->alloc_objects, synth_site_value(i, 3));
		assert_int_equal(s->samples_live, synth_site_value(i, 4));
		for (uint32_t b = 0; b <= p->nbins; b++)
			assert_int_equal(seg->site_bins[i * (p->nbins + 1) + b], synth_site_bin(i, b));
	}
	/* The module table, read with the sites. */
	assert_int_equal(seg->nmodules, p->nmodules_max ? p->nmodules : 0);
	for (uint32_t i = 0; i < seg->nmodules; i++) {
		struct jmstat_module want;

		synth_module_fill(&want, i);
		assert_memory_equal(&seg->modules[i], &want, sizeof want);
	}
}

#endif
