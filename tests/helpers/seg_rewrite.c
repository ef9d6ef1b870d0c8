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
 *   seg_rewrite PATH PID [ADDR]
 *                          prints "rewritten" after its first pass, then
 *                          rewrites until PID is gone (at most 120 s)
 *
 * The thread caches' rows too (struct jmstat_tcache_bin, after each
 * thread row, and the word after them): their list heads (`opaque`) set
 * to ADDR (an address in the process, seg_target's VICTIM: where its next
 * malloc would write, if the allocator took the head from there) or to an
 * unmapped one, their counts and capacities to what makes a list never
 * full, always full, or nothing. The allocator keeps its heads and
 * capacities in private memory since session 24 (docs/security.md).
 * And every word of the arena and bin rows (eleventh pass), whose
 * counters the allocator reads back where they decide something.
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
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: seg_rewrite PATH PID [ADDR]\n");
		return 2;
	}
	pid_t pid = (pid_t)atoi(argv[2]);
	uint64_t addr = argc == 4 ? strtoull(argv[3], NULL, 0) : 1ULL << 46;
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
		/* Every thread row's own fields and its cache's rows (a list
		 * head in ADDR's buffer, or unmapped every fourth pass; the
		 * count less capacity most negative, most positive, 0, -256:
		 * a list never full, always full), every site row, every
		 * module row. */
		static const uint32_t less_max[] = { 0x80000000u, 0x7fffffffu, 0, 0xffffff00u };
		uint64_t head = pass % 4 == 3 ? 1ULL << 46 : addr + 64 * (pass % 8);
		for (uint32_t t = 0; t < g.nthreads_max && t < 16; t++) {
			struct jmstat_thread *r = (void *)(m + g.thread_off + (size_t)t * g.thread_stride);
			r->in_use = pass & 1;
			r->tid = n;
			r->arena = n;
			r->reserved = n;
			r->opaque = head;
			struct jmstat_tcache_bin *c = (void *)(r + 1);
			for (uint32_t b = 0; b < g.nbins; b++) {
				c[b].opaque = head;
				c[b].ncached_less_max = less_max[pass % 4];
				c[b].ncached_max = n;
				c[b].nrequests = n;
			}
			/* The word after the rows (the always empty row's head
			 * of sizes up to 8, when it was the segment's). */
			if (sizeof(*r) + (g.nbins + 1) * sizeof(*c) <= g.thread_stride)
				c[g.nbins].opaque = head;
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
		/* Every word of the arena and bin rows (their seqs too): the
		 * counters the allocator adds to, and reads back where a figure
		 * decides something (the arena's `active` for the hard cap on
		 * dirty pages, its `dirty` for the purger's deferred start and
		 * after a fork, the bins' counts in mallinfo2): all ones, 0,
		 * 2^63, 2^63 - 1. */
		static const uint64_t words[] = { ~0ULL, 0, 1ULL << 63, (1ULL << 63) - 1 };
		uint64_t w = words[pass % 4];
		for (uint64_t a = 0; a < g.narenas; a++) {
			uint64_t at = g.arena_off + a * g.arena_size;
			for (uint64_t k = 0; k + 8 <= g.arena_size && at + k + 8 <= size; k += 8)
				memcpy(m + at + k, &w, 8);
		}
		for (uint64_t b = 0; b < (uint64_t)g.narenas * g.nbins; b++) {
			uint64_t at = g.bin_off + b * g.bin_size;
			for (uint64_t k = 0; k + 8 <= g.bin_size && at + k + 8 <= size; k += 8)
				memcpy(m + at + k, &w, 8);
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
