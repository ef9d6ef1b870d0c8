/*
 * validate.c: the heap-validation walker the tests call. It visits every
 * chunk and huge region through the radix tree and checks the invariants
 * the rest of the allocator relies on:
 * - a chunk's pages are partitioned exactly into runs whose first and last
 *   descriptors agree, and no two free runs touch (they would have been
 *   coalesced);
 * - every page of a small or large run has the page-map entry of its run,
 *   every page of a free run an empty one;
 * - a small run's bitmap has no bit beyond its regions, and its count of
 *   free regions matches the bitmap;
 * - every free run is in its arena's free list of its size, and the dirty
 *   list holds exactly the dirty free runs; a run being purged out of the
 *   lock is on its arena's list of those;
 * - a bin keeps at most one empty run besides its current one;
 * - per arena: active pages and allocated large bytes match the runs, and
 *   per bin: curruns and curregs match the runs;
 * - per arena, its cache of regions of 9 to 64 pages (arena.c, "The
 *   arena's cache"): each region the start of a large run of its list's
 *   size, of the arena, with its free mark, no list longer than
 *   JM_ACACHE_DEPTH nor looping, the lists' non-empty bits, pages and
 *   oldest stamp as counted, the pages within JM_ACACHE_PAGES; those
 *   regions counted neither active nor allocated but dirty;
 * - per arena: the free pages counted match the runs, retained chunks are
 *   out of the radix tree, and the dirty and retained counters match the
 *   runs, the retained chunks and the kept huge regions charged to it;
 * - the calling thread's cache (its small lists, class 0's tagged ones
 *   too): each region the start of a region of a small run of the list's
 *   class, its bit in the run's bitmap clear (the bin counts it
 *   allocated), its free mark in place (word 1's cookie, or class 0's tag
 *   in its link's top 16 bits; another class's link has none), no region
 *   twice (a cycle), and as many regions as the row's count; the row
 *   malloc takes for sizes up to 8 (JM_TBIN_EMPTY) empty; the lists'
 *   heads are private (internal.h, jm__tb_head), and the rows' `opaque`
 *   words 0. Other threads'
 *   caches are theirs to change without a lock, so not walked.
 * It returns 0, or the number of violations (each one logged), and must be
 * called while no other thread allocates. It holds every arena lock and
 * the huge lock while it looks, so that the background purger waits.
 */
#include "internal.h"

#include <string.h>

struct tally {
	uint64_t active_pages;
	uint64_t large_bytes;
	uint64_t dirty_pages;
	uint64_t free_pages;
	uint64_t purging_pages;
	uint64_t curruns[JM_NBINS];
	uint64_t usedregs[JM_NBINS];
	uint64_t empty_kept[JM_NBINS];
	uint64_t cached_pages;    /* in the arena's cache (check_acache) */
};

static int errors;

#define CHECK(cond, ...) do { if (!(cond)) { errors++; jm__log("heap: " __VA_ARGS__); } } while (0)

static bool in_free_list(struct jm_arena *a, struct jm_run *r)
{
	for (struct jm_run *x = a->free_runs[r->npages]; x; x = x->next)
		if (x == r)
			return true;
	return false;
}

/* Bits of the chunk's dirty map set in [p, p + n). */
static size_t map_count(const struct jm_chunk *c, size_t p, size_t n)
{
	size_t k = 0;
	for (size_t i = p; i < p + n; i++)
		k += (c->dirtymap[i >> 6] >> (i & 63)) & 1;
	return k;
}

static void check_chunk(struct jm_chunk *c, struct tally *t)
{
	CHECK(c->magic == JM_CHUNK_MAGIC, "chunk %p: bad magic", (void *)c);
	struct jm_arena *a = c->arena;
	size_t p = c->hdr_pages;
	uint8_t prev_state = JM_RUN_HEADER;
	uint32_t free_pages = 0;
	uint64_t purging_before = t->purging_pages;
	while (p < JM_CHUNK_PAGES) {
		struct jm_run *r = jm__chunk_run(c, p);
		size_t n = r->npages;
		if (n == 0 || p + n > JM_CHUNK_PAGES) {
			CHECK(0, "chunk %p page %zu: bad run length %zu", (void *)c, p, n);
			return;
		}
		struct jm_run *last = jm__chunk_run(c, p + n - 1);
		CHECK((p + n == JM_CHUNK_PAGES && n > 1) || (last->state == r->state && last->first == p),
		    "chunk %p run at page %zu: last page disagrees", (void *)c, p);
		switch (r->state) {
		case JM_RUN_FREE:
			CHECK(prev_state != JM_RUN_FREE, "chunk %p page %zu: two free runs touch", (void *)c, p);
			CHECK(in_free_list(a, r), "chunk %p page %zu: free run not in its list", (void *)c, p);
			for (size_t i = p; i < p + n; i++)
				CHECK(c->pagemap[i] == JM_PM_NONE, "chunk %p page %zu: free page mapped", (void *)c, i);
			free_pages += (uint32_t)n;
			CHECK(r->ndirty <= n && (r->dirty != 0) == (r->ndirty != 0) &&
			    r->ndirty == map_count(c, p, n),
			    "chunk %p page %zu: %u dirty pages of %zu, the dirty map says %zu",
			    (void *)c, p, r->ndirty, n, map_count(c, p, n));
			if (r->dirty)
				t->dirty_pages += r->ndirty;
			break;
		case JM_RUN_PURGING: {
			/* Being purged out of the arena's lock: on its list. */
			bool listed = false;
			for (struct jm_run *x = a->purging; x && !listed; x = x->next)
				listed = x == r;
			CHECK(listed && r->ndirty > 0 && r->ndirty <= n && r->binind == 0,
			    "chunk %p page %zu: run being purged not on the list", (void *)c, p);
			CHECK(map_count(c, p, n) == 0,
			    "chunk %p page %zu: run being purged has dirty map bits", (void *)c, p);
			free_pages += (uint32_t)n;
			t->purging_pages += n;
			break;
		}
		case JM_RUN_LARGE:
			for (size_t i = p; i < p + n; i++)
				CHECK(c->pagemap[i] == jm__pm_make(JM_PM_LARGE, c->arena->index, p),
				    "chunk %p page %zu: bad large page map", (void *)c, i);
			t->active_pages += n;
			t->large_bytes += n << JM_LG_PAGE;
			break;
		case JM_RUN_SMALL: {
			unsigned b = r->binind;
			const struct jm_bin_info *bi = &jm__bin_info[b];
			CHECK(b < JM_NBINS && n == bi->run_pages, "chunk %p page %zu: bad small run", (void *)c, p);
			/* Both words as carved, or both as a forked child's
			 * frees left them (tcache.c, run_divert). */
			bool slow = JM_PM_DIV(c->pagemap[p]) == JM_PM_DIV_SLOW;
			uint64_t want_pm = jm__pm_make(JM_PM_SMALL, b, p), want_pf = jm__pf_make(c, b, p);
			uint64_t slow_pf = jm__pf_slow(c, p) | (want_pf & ~0xffffffffull);
			if (slow)
				want_pm = jm__pm_slow(want_pm);
			for (size_t i = p; i < p + n; i++) {
				uint64_t pf = c->pagefast[i - JM_CHUNK_HDR_PAGES];
				CHECK(c->pagemap[i] == want_pm,
				    "chunk %p page %zu: bad small page map", (void *)c, i);
				CHECK(pf == want_pf || (slow && pf == slow_pf),
				    "chunk %p page %zu: bad small page word", (void *)c, i);
			}
			unsigned nfree = 0;
			for (unsigned w = 0; w < JM_BITMAP_WORDS; w++) {
				nfree += (unsigned)__builtin_popcountll(r->bitmap[w]);
				for (unsigned bit = 0; bit < 64; bit++)
					if ((r->bitmap[w] >> bit) & 1)
						CHECK(w * 64 + bit < bi->regs, "chunk %p page %zu: bit %u beyond regions",
						    (void *)c, p, w * 64 + bit);
			}
			CHECK(nfree == r->nfree, "chunk %p page %zu: nfree %u, bitmap says %u",
			    (void *)c, p, (unsigned)r->nfree, nfree);
			if (nfree == bi->regs && a->bins[b].cur != r)
				t->empty_kept[b]++;
			t->active_pages += n;
			t->curruns[b]++;
			t->usedregs[b] += bi->regs - nfree;
			break;
		}
		default:
			CHECK(0, "chunk %p page %zu: bad state %u", (void *)c, p, (unsigned)r->state);
			return;
		}
		prev_state = r->state;
		p += n;
	}
	CHECK(map_count(c, 0, c->hdr_pages) == 0, "chunk %p: header pages in the dirty map", (void *)c);
	t->free_pages += free_pages;
	t->free_pages -= t->purging_pages - purging_before;
	CHECK(free_pages == c->nfree_pages, "chunk %p: nfree_pages %u, runs say %u",
	    (void *)c, c->nfree_pages, free_pages);
}

/* Whether p may be read as a cached region of class b: the start of a
 * region of a small run of that class in a chunk of ours, its run's bit
 * clear. Logs what is wrong otherwise (list names the list). */
static bool cached_region_ok(const void *p, unsigned b, const char *list)
{
	uintptr_t u = (uintptr_t)p;
	uintptr_t key = u & ~(uintptr_t)JM_CHUNK_MASK;
	if ((u & 7) != 0 || jm__rtree_get(key) != key) {
		CHECK(0, "%s: %p is not in a chunk", list, p);
		return false;
	}
	struct jm_chunk *c = (struct jm_chunk *)key;
	size_t page = (u & JM_CHUNK_MASK) >> JM_LG_PAGE;
	uint64_t pm = page < JM_CHUNK_PAGES ? c->pagemap[page] : 0;
	if (c->magic != JM_CHUNK_MAGIC || page < c->hdr_pages || JM_PM_KIND(pm) != JM_PM_SMALL ||
	    JM_PM_BIN(pm) != b) {
		CHECK(0, "%s: %p is not in a run of its class", list, p);
		return false;
	}
	const struct jm_bin_info *bi = &jm__bin_info[b];
	struct jm_run *r = jm__chunk_run(c, JM_PM_START(pm));
	uintptr_t off = u - (key + ((uintptr_t)JM_PM_START(pm) << JM_LG_PAGE));
	if (r->state != JM_RUN_SMALL || r->binind != b || off % bi->size != 0 ||
	    off / bi->size >= bi->regs) {
		CHECK(0, "%s: %p is not a region's start", list, p);
		return false;
	}
	size_t idx = off / bi->size;
	if ((r->bitmap[idx >> 6] >> (idx & 63)) & 1) {
		CHECK(0, "%s: %p is free in its run too", list, p);
		return false;
	}
	return true;
}

/* The calling thread's cache lists (see the top of the file). */
static void check_tcache(void)
{
	if (jm__tls_state != JM_TLS_CACHED)
		return;
	struct jmstat_tcache_bin *tbins = jm__tcache_own_bins();
	CHECK(*jm__tb_head(&tbins[JM_NBINS]) == 0, "tcache: the empty row holds %p",
	    (void *)*jm__tb_head(&tbins[JM_NBINS]));
	for (unsigned b = 0; b < JM_NBINS; b++) {
		struct jmstat_tcache_bin *tb = &tbins[b];
		uint32_t n = jm__tb_ncached(tb);
		char list[48];
		jm__format(list, sizeof list, "tcache class %u", b);
		uintptr_t head = *jm__tb_head(tb);
		CHECK(n <= jm__tb_max(tb), "%s: %u regions, capacity %u", list, n, jm__tb_max(tb));
		CHECK(b == 0 || (head & JM_FLIST_TAG) == 0, "%s: head %p has tag bits", list, (void *)head);
		CHECK(tb->opaque == 0, "%s: the row's opaque word %p is not 0 (the head is private)",
		    list, (void *)tb->opaque);
		/* Brent's cycle finding beside the walk: the region `mark`
		 * is met again within `lam` steps of the walk iff the list
		 * loops; a walk ends at a region that fails, or after twice
		 * the capacity (a loop not found yet), and its
		 * length is compared only when it reached the list's end. */
		const void *mark = NULL, *p = (const void *)(head & JM_FLIST_PTR);
		uint64_t power = 1, lam = 0, seen = 0;
		for (; p != NULL; p = jm__flist_next(p)) {
			if (!cached_region_ok(p, b, list))
				break;
			uintptr_t w0 = ((const uintptr_t *)p)[0];
			if (b == 0)
				CHECK((w0 & JM_FLIST_TAG) == jm__flist0_tag(p), "%s: %p has tag %lx, not %lx",
				    list, p, (unsigned long)(w0 >> 48),
				    (unsigned long)(jm__flist0_tag(p) >> 48));
			else
				CHECK((w0 & JM_FLIST_TAG) == 0 && jm__flist_is_free(p),
				    "%s: %p has no free mark", list, p);
			if (p == mark) {
				CHECK(0, "%s: %p twice (the list loops)", list, p);
				break;
			}
			if (++lam == power) {
				mark = p;
				power *= 2;
				lam = 0;
			}
			if (++seen > 2 * (uint64_t)jm__tb_max(tb) + 2) {
				CHECK(0, "%s: more than %zu regions, capacity %u", list, (size_t)seen - 1,
				    jm__tb_max(tb));
				break;
			}
		}
		CHECK(p != NULL || seen == n, "%s: %zu regions listed, the row counts %u", list,
		    (size_t)seen, n);
	}
}

/* Arena i's cache of regions of 9 to 64 pages; its pages counted in
 * t->cached_pages. */
static void check_acache(unsigned i, struct jm_arena *a, struct tally *t)
{
	uint64_t mask = 0;
	for (unsigned k = 0; k < JM_ACACHE_NSIZES; k++) {
		size_t np = k + JM_ACACHE_MIN_PAGES;
		unsigned n = 0;
		const void *p = (const void *)a->ac_head[k];
		for (; p != NULL && n <= JM_ACACHE_DEPTH; p = jm__flist_next(p), n++) {
			uintptr_t u = (uintptr_t)p;
			uintptr_t key = u & ~(uintptr_t)JM_CHUNK_MASK;
			if ((u & JM_PAGE_MASK) || jm__rtree_get(key) != key) {
				CHECK(0, "arena %u: cached region %p of %zu pages not in a chunk", i, p, np);
				break;
			}
			struct jm_chunk *c = (struct jm_chunk *)key;
			size_t page = (u & JM_CHUNK_MASK) >> JM_LG_PAGE;
			const struct jm_run *r = page >= c->hdr_pages ? jm__chunk_run(c, page) : NULL;
			if (r == NULL || c->arena != a || r->state != JM_RUN_LARGE || r->npages != np ||
			    c->pagemap[page] != jm__pm_make(JM_PM_LARGE, a->index, page)) {
				CHECK(0, "arena %u: cached region %p is not a large run of %zu pages of it",
				    i, p, np);
				break;
			}
			CHECK(jm__flist_is_free(p), "arena %u: cached region %p has no free mark", i, p);
			t->cached_pages += np;
		}
		CHECK(n <= JM_ACACHE_DEPTH && n == a->ac_n[k],
		    "arena %u: cache of %zu pages lists %u regions, counts %u", i, np, n, a->ac_n[k]);
		if (n)
			mask |= 1ULL << k;
	}
	CHECK(mask == a->ac_mask, "arena %u: cache's non-empty bits %llx, lists say %llx", i,
	    (unsigned long long)a->ac_mask, (unsigned long long)mask);
	CHECK(t->cached_pages == a->ac_pages && a->ac_pages <= JM_ACACHE_PAGES,
	    "arena %u: cache holds %zu pages, counts %u", i, (size_t)t->cached_pages, a->ac_pages);
	CHECK((a->ac_oldest != 0) == (a->ac_pages != 0), "arena %u: cache's oldest stamp %llu with %u pages",
	    i, (unsigned long long)a->ac_oldest, a->ac_pages);
}

/* A chunk jm__rtree_get says starts at key. */
static void visit_chunk(uintptr_t key, struct tally *tallies)
{
	if (jm__rtree_get(key) != key) {
		CHECK(0, "chunk %p: recorded, but jm__rtree_get disagrees", (void *)key);
		return;
	}
	struct jm_chunk *c = (struct jm_chunk *)key;
	CHECK(c->magic == JM_CHUNK_MAGIC, "chunk %p: bad magic", (void *)c);
	if (c->magic == JM_CHUNK_MAGIC)
		check_chunk(c, &tallies[c->arena->index]);
}

int jm__heap_validate(void)
{
	errors = 0;
	jm__ensure_init();
	struct tally *tallies = jm__os_map(sizeof(struct tally) * jm__narenas);
	if (tallies == NULL)
		return -1;
	uint64_t huge_bytes[JM_MAX_ARENAS];
	memset(huge_bytes, 0, sizeof(huge_bytes));
	static uint64_t kept_dirty[JM_MAX_ARENAS] JM_LARGE_BSS, kept_clean[JM_MAX_ARENAS] JM_LARGE_BSS;
	jm__arena_prefork();
	jm__huge_prefork();
	bool kept_stable = jm__huge_kept_bytes(kept_dirty, kept_clean);
	for (size_t hi = 0; hi < 8192; hi++) {
		_Atomic(uintptr_t) *leaf = __atomic_load_n(&jm__rtree_root[hi], __ATOMIC_SEQ_CST);
		if (leaf == NULL)
			continue;
		for (size_t lo = 0; lo < 8192; lo++) {
			uintptr_t v = atomic_load(&leaf[lo]);
			uintptr_t key = (hi << (JM_LG_CHUNK + 13)) | (lo << JM_LG_CHUNK);
			if (v == 0)
				continue;
			if (v & JM_RTREE_HUGE) {
				struct jm_huge *h = (struct jm_huge *)(v & ~(uintptr_t)JM_RTREE_HUGE);
				CHECK((uintptr_t)h->addr == key, "huge %p: rtree key %p", h->addr, (void *)key);
				CHECK(h->size <= h->map_size && h->size % JM_PAGE == 0, "huge %p: bad size", h->addr);
				if (h->arena < JM_MAX_ARENAS)
					huge_bytes[h->arena] += h->size;
				continue;
			}
			if (v == key) {
				/* A chunk in the tree (no chunk map, or not
				 * in it): checked here; the map's, below. */
				if (!jm__is_chunk(key))
					visit_chunk(key, tallies);
				continue;
			}
			CHECK(0, "rtree %p: value %p, not a huge region's", (void *)key, (void *)v);
		}
	}
	/* The chunks of the chunk map, between the lowest and the highest
	 * recorded: its bytes read eight at a time, so that a heap whose
	 * chunks lie terabytes apart costs a scan of zeros (a walk of
	 * jm__rtree_get key by key took 75 ms, and test_alloc's validations
	 * 30 s). */
	uintptr_t lo, hi;
	jm__rtree_chunk_range(&lo, &hi);
	if (hi != 0 && jm__chunk_map_len != 0) {
		const uint8_t *m = jm__chunk_map;
		size_t i = lo >> JM_LG_CHUNK, end = (hi >> JM_LG_CHUNK) + 1;
		while (i < end) {
			if ((i & 7) == 0 && i + 8 <= end && *(const uint64_t *)(m + i) == 0) {
				i += 8;
				continue;
			}
			if (m[i] != 0)
				visit_chunk((uintptr_t)i << JM_LG_CHUNK, tallies);
			i++;
		}
	}
	for (unsigned i = 0; i < jm__narenas; i++) {
		struct jm_arena *a = jm__arenas[i];
		if (a == NULL)
			continue;
		struct tally *t = &tallies[i];
		check_acache(i, a, t);
		uint64_t cached = t->cached_pages;
		uint64_t ndirty = cached;
		for (struct jm_run *r = a->dirty_head; r; r = r->dnext) {
			CHECK(r->dirty && r->state == JM_RUN_FREE, "arena %u: clean or used run on dirty list", i);
			ndirty += r->ndirty;
		}
		CHECK(a->dirty_oldest == (a->dirty_head ? a->dirty_head->dirty_ns : 0),
		    "arena %u: oldest dirty stamp %llu, the list's head %llu", i,
		    (unsigned long long)a->dirty_oldest,
		    (unsigned long long)(a->dirty_head ? a->dirty_head->dirty_ns : 0));
		CHECK(ndirty == a->ndirty_pages && ndirty == t->dirty_pages + cached,
		    "arena %u: dirty pages %zu listed, %zu counted, %zu in runs", i,
		    (size_t)ndirty, (size_t)a->ndirty_pages, (size_t)t->dirty_pages);
		CHECK(a->stats->active == ((t->active_pages - cached) << JM_LG_PAGE) + huge_bytes[i],
		    "arena %u: active %zu, runs and huge say %zu", i, (size_t)a->stats->active,
		    (size_t)(((t->active_pages - cached) << JM_LG_PAGE) + huge_bytes[i]));
		CHECK(t->free_pages == a->nfree_pages, "arena %u: free pages %zu counted, %zu in runs",
		    i, (size_t)a->nfree_pages, (size_t)t->free_pages);
		for (unsigned k = 0; k < a->nretained; k++)
			CHECK(jm__rtree_get((uintptr_t)a->retained[k]) == 0,
			    "arena %u: retained chunk %p in the radix tree", i, (void *)a->retained[k]);
		CHECK(!kept_stable || (a->huge_dirty == kept_dirty[i] && a->huge_retained == kept_clean[i]),
		    "arena %u: kept huge dirty %zu retained %zu, regions say %zu and %zu", i,
		    (size_t)a->huge_dirty, (size_t)a->huge_retained, (size_t)kept_dirty[i],
		    (size_t)kept_clean[i]);
		CHECK(a->stats->dirty == (ndirty << JM_LG_PAGE) + a->huge_dirty,
		    "arena %u: dirty %zu, runs and huge say %zu", i, (size_t)a->stats->dirty,
		    (size_t)((ndirty << JM_LG_PAGE) + a->huge_dirty));
		CHECK(a->stats->retained == (uint64_t)a->nretained * JM_CHUNK + a->huge_retained,
		    "arena %u: retained %zu, chunks and huge say %zu", i, (size_t)a->stats->retained,
		    (size_t)((uint64_t)a->nretained * JM_CHUNK + a->huge_retained));
		CHECK(a->stats->allocated_large == t->large_bytes - (cached << JM_LG_PAGE),
		    "arena %u: allocated_large %zu, runs say %zu", i, (size_t)a->stats->allocated_large,
		    (size_t)(t->large_bytes - (cached << JM_LG_PAGE)));
		CHECK(a->stats->allocated_huge == huge_bytes[i], "arena %u: allocated_huge %zu, records say %zu",
		    i, (size_t)a->stats->allocated_huge, (size_t)huge_bytes[i]);
		for (unsigned b = 0; b < JM_NBINS; b++) {
			struct jm_bin *bin = &a->bins[b];
			CHECK(bin->stats->curruns == t->curruns[b], "arena %u bin %u: curruns %zu, runs say %zu",
			    i, b, (size_t)bin->stats->curruns, (size_t)t->curruns[b]);
			CHECK(bin->stats->curregs == t->usedregs[b], "arena %u bin %u: curregs %zu, runs say %zu",
			    i, b, (size_t)bin->stats->curregs, (size_t)t->usedregs[b]);
			CHECK(t->empty_kept[b] == bin->nempty && bin->nempty <= 1,
			    "arena %u bin %u: %zu empty runs kept, nempty %u", i, b,
			    (size_t)t->empty_kept[b], bin->nempty);
			for (struct jm_run *r = bin->nonfull; r; r = r->next)
				CHECK(r->state == JM_RUN_SMALL && r->binind == b && r->nfree > 0 && r != bin->cur,
				    "arena %u bin %u: bad run on the non-full list", i, b);
		}
	}
	check_tcache();
	jm__huge_postfork_parent();
	jm__arena_postfork_parent();
	jm__os_unmap(tallies, sizeof(struct tally) * jm__narenas);
	return errors;
}
