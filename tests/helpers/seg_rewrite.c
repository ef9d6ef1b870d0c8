/*
 * seg_rewrite: what another process of a segment's owner may do to it,
 * while the process that publishes it runs: rewrite its header's layout
 * (every section's offset, the strides, the row maxima), its counts (the
 * high-water marks of thread and site rows, the modules in use, the
 * arenas) and its identity (pid, namespaces), and the fields of its
 * thread, site and module rows, again and again. For
 * tests/preload/seg_rewrite.test.sh: the allocator must take none of it
 * for an address, an index or a length.
 *
 *   seg_rewrite PATH PID   prints "rewritten" after its first pass, then
 *                          rewrites until PID is gone (at most 120 s)
 *
 * Not rewritten: the thread caches' rows (struct jmstat_tcache_bin, after
 * each thread row), which the allocator's fast path keeps its lists in
 * (docs/security.md, what is left).
 */
#include "jmstat.h"
#include "segmap.h"

#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: seg_rewrite PATH PID\n");
		return 2;
	}
	pid_t pid = (pid_t)atoi(argv[2]);
	size_t size;
	char *m = seg_map_rw(argv[1], &size);
	if (!m)
		return 1;
	struct jmstat_header *h = (void *)m;
	/* The layout as the allocator wrote it, to find the rows. */
	const struct jmstat_header g = *h;
	if (g.magic != JMSTAT_MAGIC || g.thread_stride < g.thread_size || g.site_off >= (uint64_t)size) {
		fprintf(stderr, "%s: not a segment\n", argv[1]);
		return 1;
	}
	/* Offsets: far away (unmapped), just below the file (what an
	 * offset of -4096 reaches), the header itself; counts and maxima:
	 * everything, nearly everything, nothing. */
	static const uint64_t offs[] = { 1ULL << 46, (uint64_t)-4096, 0, 64 };
	static const uint32_t nums[] = { 0xffffffffu, 0x7fffffffu, 0, 100000 };
	static const uint32_t strides[] = { 0x7fffffffu, 1u << 20, 0, 8 };
	time_t end = time(NULL) + 120;
	for (unsigned pass = 0; time(NULL) < end; pass++) {
		uint64_t o = offs[pass % 4];
		uint32_t n = nums[pass % 4], s = strides[pass % 4];
		h->class_off = o;
		h->arena_off = o + 64;
		h->bin_off = o + 128;
		h->thread_off = o + 4096;
		h->site_off = o + 8192;
		h->module_off = o + 12288;
		h->thread_stride = s;
		h->site_stride = s;
		h->module_size = s;
		h->nthreads_max = n;
		h->nsites_max = n;
		h->nmodules_max = n;
		h->nthreads_hw = n;
		h->nsites_hw = n;
		h->nmodules = n;
		h->narenas = n;
		h->nbins = n;
		h->pid = 1;
		h->pidns = 0xdeadbeefULL + pass;
		h->mntns = 0xfeedULL + pass;
		h->module_seq = n;
		h->total_size = o;
		/* Every thread row's own fields (its cache's rows after it
		 * left alone), every site row, every module row. */
		for (uint32_t t = 0; t < g.nthreads_max && t < 16; t++) {
			struct jmstat_thread *r = (void *)(m + g.thread_off + (size_t)t * g.thread_stride);
			r->in_use = pass & 1;
			r->tid = n;
			r->arena = n;
			r->reserved = n;
		}
		for (uint32_t i = 0; i < g.nsites_max && i < 64; i++) {
			struct jmstat_site *si = (void *)(m + g.site_off + (size_t)i * g.site_stride);
			si->seq = n;
			si->hash = pass & 1 ? 0 : ~0ULL;
			si->nframes = n;
			si->frames[0] = o;
		}
		for (uint32_t i = 0; i < g.nmodules_max && i < 64; i++) {
			struct jmstat_module *mo = (void *)(m + g.module_off + (size_t)i * g.module_size);
			mo->start = o;
			mo->limit = o;
			mo->build_id_len = n;
			memset(mo->path, 'x', sizeof(mo->path));
		}
		if (pass == 0) {
			printf("rewritten\n");
			fflush(stdout);
		}
		if (kill(pid, 0) != 0)
			break;
		usleep(200);
	}
	return 0;
}
