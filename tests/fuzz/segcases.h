/*
 * segcases.h: the hostile and the valid segments the reader must handle,
 * each with the result jm_seg_parse() must give. The unit test runs every
 * case; the seed generator writes each one as a seed of the fuzz corpus
 * (after checking that the reader still gives the expected result, so that
 * the seeds keep reaching the paths they are named for).
 *
 * A case starts from synth_build() of seg_case_params() (changed by its
 * setup, if any) in a zeroed buffer SEG_CASE_SLACK bytes larger than the
 * segment, then its mutate function changes bytes or the length.
 */
#ifndef JM_SEGCASES_H
#define JM_SEGCASES_H

#include "segsynth.h"
#include "segread.h"
#include <stddef.h>

#define SEG_CASE_SLACK 8192u

struct seg_case {
	const char *name;
	void (*setup)(struct synth *p);
	void (*mutate)(unsigned char *buf, size_t *len);
	int want;
};

static inline struct synth seg_case_params(void)
{
	struct synth p = { .nbins = JMSTAT_NBINS, .narenas = 3, .nthreads_max = 5,
	                   .pid = 4242, .uid = 1000, .start_time = 123456,
	                   .pidns = 4026532178u, .mntns = 4026532177u,
	                   .nsites_max = 6, .nsites_hw = 4,
	                   .nmodules_max = 5, .nmodules = 3 };
	return p;
}

#define H(buf) synth_hdr(buf)

static inline void sc_big(struct synth *p) { p->narenas = 8; p->nthreads_max = 16; }
/* The allocator's largest: every arena, thread and site row. */
static inline void sc_max_rows(struct synth *p) { p->narenas = JMSTAT_MAX_ARENAS; p->nthreads_max = JMSTAT_MAX_THREAD_ROWS; p->nsites_max = JMSTAT_MAX_SITES; p->nsites_hw = 8; }
/* One more row, or one more bin, than the allocator can write. */
static inline void sc_arenas_over(struct synth *p) { p->narenas = JMSTAT_MAX_ARENAS + 1; p->nthreads_max = 1; }
static inline void sc_threads_over(struct synth *p) { p->nthreads_max = JMSTAT_MAX_THREAD_ROWS + 1; }
static inline void sc_sites_over(struct synth *p) { p->nsites_max = JMSTAT_MAX_SITES + 1; }
static inline void sc_bins_over(struct synth *p) { p->nbins = JMSTAT_NBINS + 1; }
static inline void sc_bins_under(struct synth *p) { p->nbins = JMSTAT_NBINS - 1; }
static inline void sc_bins_v2(struct synth *p) { p->nbins = JMSTAT_NBINS_V2; p->version = 2; }
static inline void sc_bins_35(struct synth *p) { p->nbins = JMSTAT_NBINS_V2; }
static inline void sc_bins_40(struct synth *p) { p->nbins = JMSTAT_NBINS_V4; }
/* Layout 4: 40 classes, no 8 B one (its class i is layout 5's i + 1). */
static inline void sc_bins_v4(struct synth *p) { p->nbins = JMSTAT_NBINS_V4; p->version = 4; }
static inline void sc_header_pad(struct synth *p) { p->header_pad = 64; }
static inline void sc_stride_pad(struct synth *p) { p->stride_pad = 16; }
static inline void sc_no_threads(struct synth *p) { p->nthreads_max = 0; }
static inline void sc_no_sites(struct synth *p) { p->nsites_max = 0; p->nsites_hw = 0; }
static inline void sc_sites_unused(struct synth *p) { p->nsites_hw = 0; }
static inline void sc_sites_full(struct synth *p) { p->nsites_max = 30; p->nsites_hw = 30; }
static inline void sc_no_modules(struct synth *p) { p->nmodules_max = 0; p->nmodules = 0; }
static inline void sc_modules_unused(struct synth *p) { p->nmodules = 0; }
static inline void sc_modules_full(struct synth *p) { p->nmodules_max = 9; p->nmodules = 9; }

static inline void sc_exiting(unsigned char *b, size_t *l) { H(b)->state = JMSTAT_STATE_EXITING; }
static inline void sc_exe_unterminated(unsigned char *b, size_t *l) { memset(H(b)->exe, 'A', sizeof H(b)->exe); }
static inline void sc_path_unterminated(unsigned char *b, size_t *l) { memset(H(b)->path, 'A', sizeof H(b)->path); }
static inline void sc_in_use_2(unsigned char *b, size_t *l) { synth_thread(b, 0)->in_use = 2; }
static inline void sc_thread_arena(unsigned char *b, size_t *l) { synth_thread(b, 0)->arena = H(b)->narenas; }
static inline void sc_empty(unsigned char *b, size_t *l) { *l = 0; }
static inline void sc_short_11(unsigned char *b, size_t *l) { *l = 11; }
static inline void sc_magic_bad(unsigned char *b, size_t *l) { H(b)->magic ^= 1; }
static inline void sc_magic_zero(unsigned char *b, size_t *l) { H(b)->magic = 0; }
static inline void sc_version_newer(unsigned char *b, size_t *l) { H(b)->version = JMSTAT_VERSION + 1; }
static inline void sc_version_zero(unsigned char *b, size_t *l) { H(b)->version = 0; }
static inline void sc_version_one(unsigned char *b, size_t *l) { H(b)->version = 1; }
/* Layout 2: 35 size classes up to 14 KiB (layout 3 has 40, up to 32 KiB),
 * read as it is; with layout 3's 40 it is not one the allocator wrote. */
static inline void sc_version_two(unsigned char *b, size_t *l) { H(b)->version = 2; }
static inline void sc_version_four(unsigned char *b, size_t *l) { H(b)->version = 4; }
static inline void sc_short_header(unsigned char *b, size_t *l) { *l = sizeof(struct jmstat_header) - 1; }
static inline void sc_trunc_classes(unsigned char *b, size_t *l) { *l = H(b)->class_off + 8; }
static inline void sc_trunc_last_byte(unsigned char *b, size_t *l) { *l -= 1; }
static inline void sc_oversized(unsigned char *b, size_t *l) { *l += 64; }
static inline void sc_total_huge(unsigned char *b, size_t *l) { H(b)->total_size = UINT64_MAX; }
static inline void sc_total_small(unsigned char *b, size_t *l) { H(b)->total_size -= 8; }
static inline void sc_building(unsigned char *b, size_t *l) { H(b)->state = JMSTAT_STATE_BUILDING; }
static inline void sc_state_unknown(unsigned char *b, size_t *l) { H(b)->state = 7; }
static inline void sc_header_size_small(unsigned char *b, size_t *l) { H(b)->header_size -= 8; }
static inline void sc_header_size_huge(unsigned char *b, size_t *l) { H(b)->header_size = UINT32_MAX; }
static inline void sc_class_size(unsigned char *b, size_t *l) { H(b)->class_size += 8; }
static inline void sc_arena_size(unsigned char *b, size_t *l) { H(b)->arena_size -= 8; }
static inline void sc_bin_size(unsigned char *b, size_t *l) { H(b)->bin_size = 0; }
static inline void sc_thread_size(unsigned char *b, size_t *l) { H(b)->thread_size = UINT32_MAX; }
static inline void sc_nbins_zero(unsigned char *b, size_t *l) { H(b)->nbins = 0; }
static inline void sc_nbins_huge(unsigned char *b, size_t *l) { H(b)->nbins = UINT32_MAX; }
static inline void sc_nbins_257(unsigned char *b, size_t *l) { H(b)->nbins = JM_SEG_MAX_NBINS + 1; }
static inline void sc_narenas_zero(unsigned char *b, size_t *l) { H(b)->narenas = 0; }
static inline void sc_narenas_huge(unsigned char *b, size_t *l) { H(b)->narenas = JM_SEG_MAX_NARENAS + 1; }
static inline void sc_narenas_more(unsigned char *b, size_t *l) { H(b)->narenas += 1; }
static inline void sc_nthreads_huge(unsigned char *b, size_t *l) { H(b)->nthreads_max = UINT32_MAX; }
static inline void sc_nthreads_more(unsigned char *b, size_t *l) { H(b)->nthreads_max += 1; }
static inline void sc_stride_small(unsigned char *b, size_t *l) { H(b)->thread_stride -= 8; }
static inline void sc_stride_unaligned(unsigned char *b, size_t *l) { H(b)->thread_stride += 4; }
static inline void sc_stride_huge(unsigned char *b, size_t *l) { H(b)->thread_stride = UINT32_MAX - 7; }
static inline void sc_class_off_outside(unsigned char *b, size_t *l) { H(b)->class_off = *l; }
static inline void sc_arena_off_overflow(unsigned char *b, size_t *l) { H(b)->arena_off = UINT64_MAX - 7; }
static inline void sc_bin_off_outside(unsigned char *b, size_t *l) { H(b)->bin_off = H(b)->thread_off; }
static inline void sc_thread_off_outside(unsigned char *b, size_t *l) { H(b)->thread_off = *l - 8; }
static inline void sc_thread_off_wrap(unsigned char *b, size_t *l) { H(b)->thread_off = (uint64_t)1 << 63; }
static inline void sc_off_unaligned(unsigned char *b, size_t *l) { H(b)->arena_off += 4; }
static inline void sc_overlap_arena_bins(unsigned char *b, size_t *l) { H(b)->bin_off = H(b)->arena_off + 8; }
static inline void sc_overlap_header(unsigned char *b, size_t *l) { H(b)->class_off = 0; }
static inline void sc_overlap_threads(unsigned char *b, size_t *l) { H(b)->thread_off = H(b)->bin_off; }
static inline void sc_overlap_same(unsigned char *b, size_t *l) { H(b)->arena_off = H(b)->class_off; }
static inline void sc_pid_zero(unsigned char *b, size_t *l) { H(b)->pid = 0; }
static inline void sc_pid_negative(unsigned char *b, size_t *l) { H(b)->pid = 0x80000000u; }
static inline void sc_page_size_bad(unsigned char *b, size_t *l) { H(b)->page_size = 3000; }
static inline void sc_chunk_size_zero(unsigned char *b, size_t *l) { H(b)->chunk_size = 0; }
static inline void sc_class_zero(unsigned char *b, size_t *l) { synth_class(b, 0)->size = 0; synth_bin(b, 0, 0)->size = 0; }
static inline void sc_class_order(unsigned char *b, size_t *l) { synth_class(b, 2)->size = synth_class(b, 1)->size; }
static inline void sc_class_regs_zero(unsigned char *b, size_t *l) { synth_class(b, 1)->regs_per_run = 0; }
static inline void sc_class_run_small(unsigned char *b, size_t *l) { synth_class(b, 3)->regs_per_run += 1; }
static inline void sc_class_run_unpaged(unsigned char *b, size_t *l) { synth_class(b, 3)->run_size += 8; }
/* A table that makes sense but is not the allocator's. */
static inline void sc_class_other(unsigned char *b, size_t *l) { synth_class(b, 34)->size = 14000; synth_class(b, 34)->regs_per_run = 1; synth_class(b, 34)->run_size = 16384; }
static inline void sc_page_size_big(unsigned char *b, size_t *l) { H(b)->page_size = 1u << 30; }
/* A file longer than a page past its last section. */
static inline void sc_total_slack(unsigned char *b, size_t *l) { H(b)->total_size = (*l + SYNTH_PAGE - 1) / SYNTH_PAGE * SYNTH_PAGE + 8; *l = H(b)->total_size; }
static inline void sc_bin_size_zero(unsigned char *b, size_t *l) { synth_bin(b, 2, 1)->size = 0; }
static inline void sc_bin_size_mismatch(unsigned char *b, size_t *l) { synth_bin(b, 1, 2)->size += 16; }
static inline void sc_arena_seq_odd(unsigned char *b, size_t *l) { synth_arena(b, 2)->seq |= 1; }
static inline void sc_bin_seq_odd(unsigned char *b, size_t *l) { synth_bin(b, 2, 3)->seq |= 1; }
static inline void sc_site_seq_odd(unsigned char *b, size_t *l) { synth_site(b, 3)->seq |= 1; }
static inline void sc_site_nframes_max(unsigned char *b, size_t *l) { synth_site(b, 1)->nframes = JMSTAT_SITE_FRAMES; }
static inline void sc_site_nframes_big(unsigned char *b, size_t *l) { synth_site(b, 1)->nframes = JMSTAT_SITE_FRAMES + 1; }
static inline void sc_site_nframes_huge(unsigned char *b, size_t *l) { synth_site(b, 0)->nframes = UINT32_MAX; }
static inline void sc_site_row_unused(unsigned char *b, size_t *l) { synth_site(b, 2)->nframes = 0; }
static inline void sc_site_junk_above_hw(unsigned char *b, size_t *l) { memset(synth_site(b, 4), 0xff, H(b)->site_stride); }
static inline void sc_sites_hw_more(unsigned char *b, size_t *l) { H(b)->nsites_hw = H(b)->nsites_max + 1; }
static inline void sc_sites_max_huge(unsigned char *b, size_t *l) { H(b)->nsites_max = UINT32_MAX; }
static inline void sc_sites_max_more(unsigned char *b, size_t *l) { H(b)->nsites_max += 1; }
static inline void sc_site_size(unsigned char *b, size_t *l) { H(b)->site_size += 8; }
static inline void sc_site_stride_small(unsigned char *b, size_t *l) { H(b)->site_stride -= 8; }
static inline void sc_site_stride_unaligned(unsigned char *b, size_t *l) { H(b)->site_stride += 4; }
static inline void sc_site_stride_huge(unsigned char *b, size_t *l) { H(b)->site_stride = UINT32_MAX - 7; }
static inline void sc_site_off_outside(unsigned char *b, size_t *l) { H(b)->site_off = *l; }
static inline void sc_site_off_wrap(unsigned char *b, size_t *l) { H(b)->site_off = UINT64_MAX - 7; }
static inline void sc_site_off_unaligned(unsigned char *b, size_t *l) { H(b)->site_off -= 4; }
static inline void sc_overlap_sites(unsigned char *b, size_t *l) { H(b)->site_off = H(b)->thread_off; }
static inline void sc_sites_off_ignored(unsigned char *b, size_t *l) { H(b)->site_off = UINT64_MAX; H(b)->site_stride = 3; }
static inline void sc_module_seq_odd(unsigned char *b, size_t *l) { H(b)->module_seq |= 1; }
static inline void sc_modules_more(unsigned char *b, size_t *l) { H(b)->nmodules = H(b)->nmodules_max + 1; }
static inline void sc_modules_huge(unsigned char *b, size_t *l) { H(b)->nmodules = UINT32_MAX; }
static inline void sc_modules_max_huge(unsigned char *b, size_t *l) { H(b)->nmodules_max = UINT32_MAX; }
static inline void sc_modules_max_more(unsigned char *b, size_t *l) { H(b)->nmodules_max += 1; }
static inline void sc_module_size(unsigned char *b, size_t *l) { H(b)->module_size -= 8; }
static inline void sc_module_off_outside(unsigned char *b, size_t *l) { H(b)->module_off = *l; }
static inline void sc_module_off_wrap(unsigned char *b, size_t *l) { H(b)->module_off = UINT64_MAX - 7; }
static inline void sc_module_off_unaligned(unsigned char *b, size_t *l) { H(b)->module_off -= 4; }
static inline void sc_overlap_modules(unsigned char *b, size_t *l) { H(b)->module_off = H(b)->site_off; }
static inline void sc_module_empty_range(unsigned char *b, size_t *l) { synth_module(b, 1)->limit = synth_module(b, 1)->start; }
static inline void sc_module_build_id_long(unsigned char *b, size_t *l) { synth_module(b, 2)->build_id_len = JMSTAT_BUILD_ID_MAX + 1; }
static inline void sc_module_path_unterminated(unsigned char *b, size_t *l) { memset(synth_module(b, 0)->path, 'p', JMSTAT_MODULE_PATH); }
static inline void sc_module_junk_above(unsigned char *b, size_t *l) { memset(synth_module(b, 3), 0xff, 2 * sizeof(struct jmstat_module)); }
static inline void sc_modules_off_ignored(unsigned char *b, size_t *l) { H(b)->module_off = UINT64_MAX; H(b)->module_size = 3; H(b)->nmodules = 77; H(b)->module_seq = 1; }

#undef H

static const struct seg_case seg_cases[] = {
	{ "valid",               NULL,          NULL,                   JM_SEG_OK },
	{ "valid_big",           sc_big,        NULL,                   JM_SEG_OK },
	{ "valid_max_rows",      sc_max_rows,   NULL,                   JM_SEG_OK },
	{ "arenas_over",         sc_arenas_over, NULL,                  JM_SEG_EBOUNDS },
	{ "threads_over",        sc_threads_over, NULL,                 JM_SEG_EBOUNDS },
	{ "sites_over",          sc_sites_over, NULL,                   JM_SEG_EBOUNDS },
	{ "bins_over",           sc_bins_over,  NULL,                   JM_SEG_EBOUNDS },
	{ "bins_under",          sc_bins_under, NULL,                   JM_SEG_EBOUNDS },
	{ "valid_header_pad",    sc_header_pad, NULL,                   JM_SEG_OK },
	{ "stride_pad",          sc_stride_pad, NULL,                   JM_SEG_EBOUNDS },
	{ "valid_no_threads",    sc_no_threads, NULL,                   JM_SEG_OK },
	{ "valid_exiting",       NULL,          sc_exiting,             JM_SEG_OK },
	{ "exe_unterminated",    NULL,          sc_exe_unterminated,    JM_SEG_OK },
	{ "path_unterminated",   NULL,          sc_path_unterminated,   JM_SEG_OK },
	{ "thread_in_use_2",     NULL,          sc_in_use_2,            JM_SEG_OK },
	{ "thread_arena_outside", NULL,         sc_thread_arena,        JM_SEG_EBOUNDS },
	{ "empty",               NULL,          sc_empty,               JM_SEG_ETRUNC },
	{ "short_11",            NULL,          sc_short_11,            JM_SEG_ETRUNC },
	{ "magic_bad",           NULL,          sc_magic_bad,           JM_SEG_EMAGIC },
	{ "magic_zero",          NULL,          sc_magic_zero,          JM_SEG_EBUSY },
	{ "version_newer",       NULL,          sc_version_newer,       JM_SEG_EVERSION },
	{ "version_zero",        NULL,          sc_version_zero,        JM_SEG_EVERSION },
	{ "short_header",        NULL,          sc_short_header,        JM_SEG_ETRUNC },
	{ "trunc_classes",       NULL,          sc_trunc_classes,       JM_SEG_ETRUNC },
	{ "trunc_last_byte",     NULL,          sc_trunc_last_byte,     JM_SEG_ETRUNC },
	{ "oversized",           NULL,          sc_oversized,           JM_SEG_EBOUNDS },
	{ "total_huge",          NULL,          sc_total_huge,          JM_SEG_ETRUNC },
	{ "total_small",         NULL,          sc_total_small,         JM_SEG_EBOUNDS },
	{ "building",            NULL,          sc_building,            JM_SEG_EBUSY },
	{ "state_unknown",       NULL,          sc_state_unknown,       JM_SEG_EBOUNDS },
	{ "header_size_small",   NULL,          sc_header_size_small,   JM_SEG_EBOUNDS },
	{ "header_size_huge",    NULL,          sc_header_size_huge,    JM_SEG_EBOUNDS },
	{ "class_size",          NULL,          sc_class_size,          JM_SEG_EBOUNDS },
	{ "arena_size",          NULL,          sc_arena_size,          JM_SEG_EBOUNDS },
	{ "bin_size",            NULL,          sc_bin_size,            JM_SEG_EBOUNDS },
	{ "thread_size",         NULL,          sc_thread_size,         JM_SEG_EBOUNDS },
	{ "nbins_zero",          NULL,          sc_nbins_zero,          JM_SEG_EBOUNDS },
	{ "nbins_huge",          NULL,          sc_nbins_huge,          JM_SEG_EBOUNDS },
	{ "nbins_257",           NULL,          sc_nbins_257,           JM_SEG_EBOUNDS },
	{ "narenas_zero",        NULL,          sc_narenas_zero,        JM_SEG_EBOUNDS },
	{ "narenas_huge",        NULL,          sc_narenas_huge,        JM_SEG_EBOUNDS },
	{ "narenas_more",        NULL,          sc_narenas_more,        JM_SEG_EBOUNDS },
	{ "nthreads_huge",       NULL,          sc_nthreads_huge,       JM_SEG_EBOUNDS },
	{ "nthreads_more",       NULL,          sc_nthreads_more,       JM_SEG_EBOUNDS },
	{ "stride_small",        NULL,          sc_stride_small,        JM_SEG_EBOUNDS },
	{ "stride_unaligned",    NULL,          sc_stride_unaligned,    JM_SEG_EBOUNDS },
	{ "stride_huge",         NULL,          sc_stride_huge,         JM_SEG_EBOUNDS },
	{ "class_off_outside",   NULL,          sc_class_off_outside,   JM_SEG_EBOUNDS },
	{ "arena_off_overflow",  NULL,          sc_arena_off_overflow,  JM_SEG_EBOUNDS },
	{ "bin_off_outside",     NULL,          sc_bin_off_outside,     JM_SEG_EBOUNDS },
	{ "thread_off_outside",  NULL,          sc_thread_off_outside,  JM_SEG_EBOUNDS },
	{ "thread_off_wrap",     NULL,          sc_thread_off_wrap,     JM_SEG_EBOUNDS },
	{ "off_unaligned",       NULL,          sc_off_unaligned,       JM_SEG_EBOUNDS },
	{ "overlap_arena_bins",  NULL,          sc_overlap_arena_bins,  JM_SEG_EBOUNDS },
	{ "overlap_header",      NULL,          sc_overlap_header,      JM_SEG_EBOUNDS },
	{ "overlap_threads",     NULL,          sc_overlap_threads,     JM_SEG_EBOUNDS },
	{ "overlap_same",        NULL,          sc_overlap_same,        JM_SEG_EBOUNDS },
	{ "version_one",         NULL,          sc_version_one,         JM_SEG_EOLDVERSION },
	{ "valid_version_two",   sc_bins_v2,    sc_version_two,         JM_SEG_OK },
	{ "version_two_bins_40", NULL,          sc_version_two,         JM_SEG_EBOUNDS },
	{ "version_five_bins_35", sc_bins_35,   NULL,                   JM_SEG_EBOUNDS },
	{ "valid_version_four",  sc_bins_v4,    NULL,                   JM_SEG_OK },
	{ "version_four_bins_41", NULL,         sc_version_four,        JM_SEG_EBOUNDS },
	{ "version_five_bins_40", sc_bins_40,   NULL,                   JM_SEG_EBOUNDS },
	{ "pid_zero",            NULL,          sc_pid_zero,            JM_SEG_EBOUNDS },
	{ "pid_negative",        NULL,          sc_pid_negative,        JM_SEG_EBOUNDS },
	{ "page_size_bad",       NULL,          sc_page_size_bad,       JM_SEG_EBOUNDS },
	{ "chunk_size_zero",     NULL,          sc_chunk_size_zero,     JM_SEG_EBOUNDS },
	{ "class_zero",          NULL,          sc_class_zero,          JM_SEG_EBOUNDS },
	{ "class_order",         NULL,          sc_class_order,         JM_SEG_EBOUNDS },
	{ "class_regs_zero",     NULL,          sc_class_regs_zero,     JM_SEG_EBOUNDS },
	{ "class_run_small",     NULL,          sc_class_run_small,     JM_SEG_EBOUNDS },
	{ "class_run_unpaged",   NULL,          sc_class_run_unpaged,   JM_SEG_EBOUNDS },
	{ "class_other",         NULL,          sc_class_other,         JM_SEG_EBOUNDS },
	{ "page_size_big",       NULL,          sc_page_size_big,       JM_SEG_EBOUNDS },
	{ "total_slack",         NULL,          sc_total_slack,         JM_SEG_EBOUNDS },
	{ "bin_size_zero",       NULL,          sc_bin_size_zero,       JM_SEG_OK },
	{ "bin_size_mismatch",   NULL,          sc_bin_size_mismatch,   JM_SEG_EBOUNDS },
	{ "arena_seq_odd",       NULL,          sc_arena_seq_odd,       JM_SEG_EBUSY },
	{ "bin_seq_odd",         NULL,          sc_bin_seq_odd,         JM_SEG_EBUSY },
	{ "valid_no_sites",      sc_no_sites,   NULL,                   JM_SEG_OK },
	{ "valid_sites_unused",  sc_sites_unused, NULL,                 JM_SEG_OK },
	{ "valid_sites_full",    sc_sites_full, NULL,                   JM_SEG_OK },
	{ "no_sites_off_ignored", sc_no_sites,  sc_sites_off_ignored,   JM_SEG_OK },
	{ "site_nframes_max",    NULL,          sc_site_nframes_max,    JM_SEG_OK },
	{ "site_row_unused",     NULL,          sc_site_row_unused,     JM_SEG_OK },
	{ "site_junk_above_hw",  NULL,          sc_site_junk_above_hw,  JM_SEG_OK },
	{ "site_seq_odd",        NULL,          sc_site_seq_odd,        JM_SEG_EBUSY },
	{ "site_nframes_big",    NULL,          sc_site_nframes_big,    JM_SEG_EBOUNDS },
	{ "site_nframes_huge",   NULL,          sc_site_nframes_huge,   JM_SEG_EBOUNDS },
	{ "sites_hw_more",       NULL,          sc_sites_hw_more,       JM_SEG_EBOUNDS },
	{ "sites_max_huge",      NULL,          sc_sites_max_huge,      JM_SEG_EBOUNDS },
	{ "sites_max_more",      NULL,          sc_sites_max_more,      JM_SEG_EBOUNDS },
	{ "site_size",           NULL,          sc_site_size,           JM_SEG_EBOUNDS },
	{ "site_stride_small",   NULL,          sc_site_stride_small,   JM_SEG_EBOUNDS },
	{ "site_stride_unaligned", NULL,        sc_site_stride_unaligned, JM_SEG_EBOUNDS },
	{ "site_stride_huge",    NULL,          sc_site_stride_huge,    JM_SEG_EBOUNDS },
	{ "site_off_outside",    NULL,          sc_site_off_outside,    JM_SEG_EBOUNDS },
	{ "site_off_wrap",       NULL,          sc_site_off_wrap,       JM_SEG_EBOUNDS },
	{ "site_off_unaligned",  NULL,          sc_site_off_unaligned,  JM_SEG_EBOUNDS },
	{ "overlap_sites",       NULL,          sc_overlap_sites,       JM_SEG_EBOUNDS },
	{ "valid_no_modules",    sc_no_modules, NULL,                   JM_SEG_OK },
	{ "valid_modules_unused", sc_modules_unused, NULL,              JM_SEG_OK },
	{ "valid_modules_full",  sc_modules_full, NULL,                 JM_SEG_OK },
	{ "no_modules_off_ignored", sc_no_modules, sc_modules_off_ignored, JM_SEG_OK },
	{ "module_path_unterminated", NULL,     sc_module_path_unterminated, JM_SEG_OK },
	{ "module_junk_above",   NULL,          sc_module_junk_above,   JM_SEG_OK },
	{ "module_seq_odd",      NULL,          sc_module_seq_odd,      JM_SEG_EBUSY },
	{ "modules_more",        NULL,          sc_modules_more,        JM_SEG_EBOUNDS },
	{ "modules_huge",        NULL,          sc_modules_huge,        JM_SEG_EBOUNDS },
	{ "modules_max_huge",    NULL,          sc_modules_max_huge,    JM_SEG_EBOUNDS },
	{ "modules_max_more",    NULL,          sc_modules_max_more,    JM_SEG_EBOUNDS },
	{ "module_size",         NULL,          sc_module_size,         JM_SEG_EBOUNDS },
	{ "module_off_outside",  NULL,          sc_module_off_outside,  JM_SEG_EBOUNDS },
	{ "module_off_wrap",     NULL,          sc_module_off_wrap,     JM_SEG_EBOUNDS },
	{ "module_off_unaligned", NULL,         sc_module_off_unaligned, JM_SEG_EBOUNDS },
	{ "overlap_modules",     NULL,          sc_overlap_modules,     JM_SEG_EBOUNDS },
	{ "module_empty_range",  NULL,          sc_module_empty_range,  JM_SEG_EBOUNDS },
	{ "module_build_id_long", NULL,         sc_module_build_id_long, JM_SEG_EBOUNDS },
};

#define SEG_NCASES (sizeof seg_cases / sizeof seg_cases[0])

/* Builds case c: a malloc'ed zeroed buffer of *cap bytes (the segment plus
 * SEG_CASE_SLACK) holding the mutated segment, its length in *len. */
static inline unsigned char *seg_case_build(const struct seg_case *c, size_t *len, size_t *cap)
{
	struct synth p = seg_case_params();
	unsigned char *buf;

	if (c->setup)
		c->setup(&p);
	*cap = synth_size(&p) + SEG_CASE_SLACK;
	buf = calloc(1, *cap);
	if (buf == NULL) {
		perror("seg_case_build");
		abort();
	}
	synth_fill(buf, &p);
	*len = synth_size(&p);
	if (c->mutate)
		c->mutate(buf, len);
	return buf;
}

#endif
