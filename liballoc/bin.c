/*
 * bin.c: small regions. Each arena has one bin per small size class; a bin
 * hands out regions from its current run, then from its other non-full
 * runs, then from a new run taken from the arena. A run's free regions are
 * the set bits of its bitmap (1 = free). A run that becomes empty goes back
 * to the arena, unless it is the bin's current run or the one empty run a
 * bin keeps on its non-full list (so that a bin swinging between one and
 * two runs does not take and return pages each time).
 *
 * With junk:1 (no thread cache then), a freed region is filled with
 * JM_JUNK_FREE past its first two words, and the filling is checked when
 * the region is handed out again: a write after free is reported and
 * aborted. A region handed out is filled with JM_JUNK_ALLOC.
 *
 * Everything here runs under the bin's lock; the bin's stats row is
 * updated inside that lock with its sequence number odd. The bitmap is
 * the authority on whether a region is free: freeing a region whose bit is
 * already set is a double free, reported and aborted.
 */
#include "internal.h"

#include <string.h>

static struct jm_chunk *ptr_chunk(const void *p)
{
	return (struct jm_chunk *)((uintptr_t)p & ~(uintptr_t)JM_CHUNK_MASK);
}

static void nonfull_push(struct jm_bin *bin, struct jm_run *r)
{
	r->prev = NULL;
	r->next = bin->nonfull;
	if (r->next)
		r->next->prev = r;
	bin->nonfull = r;
	r->on_list = 1;
}

static void nonfull_remove(struct jm_bin *bin, struct jm_run *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		bin->nonfull = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
	r->on_list = 0;
}

static struct jm_run *new_run(struct jm_arena *a, struct jm_bin *bin, unsigned binind)
{
	const struct jm_bin_info *bi = &jm__bin_info[binind];
	bool dirty;
	jm__lock(&a->lock, &a->stats->lock_contended);
	jm__row_begin(&a->stats->seq);
	struct jm_run *r = jm__arena_run_alloc(a, bi->run_pages, 1, JM_RUN_SMALL, &dirty);
	jm__row_end(&a->stats->seq);
	jm__unlock(&a->lock);
	if (r == NULL)
		return NULL;
	struct jm_chunk *c = ptr_chunk(r);
	size_t first = jm__run_page(c, r);
	r->binind = (uint8_t)binind;
	r->nfree = (uint16_t)bi->regs;
	r->on_list = 0;
	memset(r->bitmap, 0, sizeof(r->bitmap));
	for (unsigned i = 0; i < bi->regs / 64; i++)
		r->bitmap[i] = ~0ULL;
	if (bi->regs % 64)
		r->bitmap[bi->regs / 64] = (1ULL << (bi->regs % 64)) - 1;
	for (size_t i = first; i < first + bi->run_pages; i++)
		c->pagemap[i] = jm__pm_make(JM_PM_SMALL, binind, first);
	if (jm_unlikely(jm__opt.junk)) /* pages may hold anything from before */
		memset(jm__run_addr(c, r), 0x5a, (size_t)bi->run_pages << JM_LG_PAGE);
	bin->stats->curruns++;
	bin->stats->nruns++;
	return r;
}

static void *run_take(struct jm_run *r, const struct jm_bin_info *bi)
{
	unsigned w = 0;
	while (r->bitmap[w] == 0)
		w++;
	unsigned bit = (unsigned)__builtin_ctzll(r->bitmap[w]);
	r->bitmap[w] &= r->bitmap[w] - 1;
	r->nfree--;
	struct jm_chunk *c = ptr_chunk(r);
	return (char *)jm__run_addr(c, r) + (size_t)(w * 64 + bit) * bi->size;
}

/* Takes up to `want` regions of r at once, lowest addresses first: a
 * bitmap word at a time, without rescanning it per region (a fill takes
 * half a cache's capacity; run_take's per-region scan and call were 12% of
 * purge-rounds' instructions). */
static unsigned run_take_many(struct jm_run *r, const struct jm_bin_info *bi, void **out,
    unsigned want)
{
	char *base = jm__run_addr(ptr_chunk(r), r);
	size_t size = bi->size;
	void **o = out, **end = out + (r->nfree < want ? r->nfree : want);
	for (unsigned w = 0; o < end; w++) {
		uint64_t bits = r->bitmap[w];
		char *wb = base + (size_t)w * 64 * size;
		while (bits && o < end) {
			unsigned bit = (unsigned)__builtin_ctzll(bits);
			bits &= bits - 1;
			*o++ = wb + (size_t)bit * size;
		}
		r->bitmap[w] = bits;
	}
	unsigned got = (unsigned)(o - out);
	r->nfree = (uint16_t)(r->nfree - got);
	return got;
}

/* The run to allocate from: the current one, or another with room. */
static struct jm_run *bin_run(struct jm_arena *a, struct jm_bin *bin, unsigned binind)
{
	struct jm_run *r = bin->cur;
	if (r && r->nfree)
		return r;
	if (bin->nonfull) {
		r = bin->nonfull;
		nonfull_remove(bin, r);
		if (r->nfree == jm__bin_info[binind].regs)
			bin->nempty--;
	} else {
		r = new_run(a, bin, binind);
		if (r == NULL)
			return NULL;
	}
	/* A full current run is simply dropped: it rejoins the non-full list
	 * when one of its regions is freed. */
	bin->cur = r;
	return r;
}

unsigned jm__bin_fill(struct jm_arena *a, unsigned binind, void **out, unsigned n)
{
	struct jm_bin *bin = &a->bins[binind];
	const struct jm_bin_info *bi = &jm__bin_info[binind];
	unsigned got = 0;
	jm__lock(&bin->lock, &bin->stats->lock_contended);
	jm__row_begin(&bin->stats->seq);
	while (got < n) {
		struct jm_run *r = bin_run(a, bin, binind);
		if (r == NULL)
			break;
		got += run_take_many(r, bi, out + got, n - got);
	}
	bin->stats->nmalloc += got;
	bin->stats->curregs += got;
	bin->stats->nfills++;
	jm__row_end(&bin->stats->seq);
	jm__unlock(&bin->lock);
	return got;
}

#define JM_JUNK_FREE  0x5a
#define JM_JUNK_ALLOC 0xa5

/* A region that was freed with junk:1 is still all junk past word 1; a
 * region never handed out is all zero. */
static void junk_check(void *p, size_t size)
{
	const unsigned char *b = p;
	if (size <= 16)
		return;  /* nothing past the two words the allocator may use */
	/* Regions are 16-byte multiples: compare words from byte 16 on. */
	uint64_t first = *(const uint64_t *)(b + 16);
	if (first != 0x5a5a5a5a5a5a5a5aULL && first != 0)
		jm__report_misuse("write after free (junk overwritten) in the region at", p);
	for (size_t i = 24; i < size; i += 8)
		if (*(const uint64_t *)(b + i) != first)
			jm__report_misuse("write after free (junk overwritten) in the region at", p);
}

void *jm__bin_alloc_one(struct jm_arena *a, unsigned binind)
{
	struct jm_bin *bin = &a->bins[binind];
	void *p = NULL;
	jm__lock(&bin->lock, &bin->stats->lock_contended);
	jm__row_begin(&bin->stats->seq);
	struct jm_run *r = bin_run(a, bin, binind);
	if (r) {
		p = run_take(r, &jm__bin_info[binind]);
		bin->stats->nmalloc++;
		bin->stats->curregs++;
		bin->stats->nrequests++;
	}
	jm__row_end(&bin->stats->seq);
	jm__unlock(&bin->lock);
	if (p) {
		jm__flist_clear_cookie(p); /* no stale double-free cookie */
		if (jm_unlikely(jm__opt.junk)) {
			junk_check(p, jm__bin_info[binind].size);
			memset(p, JM_JUNK_ALLOC, jm__bin_info[binind].size);
		}
	}
	return p;
}

/* A sampled object of this class came to life (delta 1) or was freed
 * (-1): it lives on a page of its own, outside the bin's runs, and is
 * counted in the bin row's cursampled so that readers count it in use in
 * its class. Called on the sampling slow path only. */
void jm__bin_sampled(struct jm_arena *a, unsigned binind, int delta)
{
	struct jm_bin *bin = &a->bins[binind];
	jm__lock(&bin->lock, &bin->stats->lock_contended);
	jm__row_begin(&bin->stats->seq);
	bin->stats->cursampled += (uint64_t)(int64_t)delta;
	jm__row_end(&bin->stats->seq);
	jm__unlock(&bin->lock);
}

/* The index of ptr's region in its run, or -1 if ptr is not the start of a
 * region. */
static long region_index(struct jm_chunk *c, const void *ptr, uint64_t pm,
    const struct jm_bin_info *bi)
{
	uintptr_t base = (uintptr_t)c + ((uintptr_t)JM_PM_START(pm) << JM_LG_PAGE);
	uint32_t off = (uint32_t)((uintptr_t)ptr - base);
	uint32_t idx = (uint32_t)(((uint64_t)off * bi->div_magic) >> 32);
	if (idx * bi->size != off || idx >= bi->regs)
		return -1;
	return idx;
}

/* Sets the bit of ptr's region in r (at base, of a class of `size` bytes,
 * `magic` its div_magic, `regs` regions), which must be the start of a
 * region that is not free: the checks of a free. The run's counters and
 * lists are run_settle's. The class's facts come as values: a store to the
 * bitmap would otherwise reload them for every region. */
static inline void region_put(struct jm_run *r, uintptr_t base, uint32_t size, uint32_t magic,
    uint32_t regs, void *ptr)
{
	uint32_t off = (uint32_t)((uintptr_t)ptr - base);
	uint32_t idx = (uint32_t)(((uint64_t)off * magic) >> 32);
	if (idx * size != off || idx >= regs)
		jm__report_misuse("free of a pointer inside a small region", ptr);
	uint64_t bit = 1ULL << (idx & 63);
	if (r->bitmap[idx >> 6] & bit)
		jm__report_misuse("double free of a small region", ptr);
	r->bitmap[idx >> 6] |= bit;
}

/* r got k regions back (their bits set by region_put): counts them, and
 * moves r when its state changed, once per batch rather than per region:
 * full -> non-full joins the bin's non-full list; empty is kept (one
 * empty run per bin) or given back to the arena. Under the bin lock. */
static void run_settle(struct jm_arena *a, struct jm_bin *bin, struct jm_chunk *c,
    struct jm_run *r, unsigned k, const struct jm_bin_info *bi)
{
	unsigned before = r->nfree;
	r->nfree = (uint16_t)(before + k);
	if (r == bin->cur)
		return;
	if (r->nfree == bi->regs) {
		if (bin->nempty == 0) {
			/* Keep one empty run. */
			if (!r->on_list)
				nonfull_push(bin, r);
			bin->nempty++;
			return;
		}
		if (r->on_list)
			nonfull_remove(bin, r);
		bin->stats->curruns--;
		jm__lock(&a->lock, &a->stats->lock_contended);
		jm__row_begin(&a->stats->seq);
		jm__arena_run_free(a, c, r);
		jm__row_end(&a->stats->seq);
		jm__unlock(&a->lock);
	} else if (before == 0) {
		nonfull_push(bin, r);
	}
}

/* Frees n regions of one size class, which may belong to several arenas:
 * each arena's bin is locked once for all of its regions, and the regions
 * that follow one another in the same run (a cache flushes what it was
 * given in order: mostly neighbours) settle that run once. Clobbers ptrs. */
void jm__bin_free_batch(void **ptrs, unsigned n, unsigned binind)
{
	while (n) {
		struct jm_arena *a = ptr_chunk(ptrs[0])->arena;
		struct jm_bin *bin = &a->bins[binind];
		unsigned rest = 0, k = 0;
		struct jm_run *r = NULL;
		struct jm_chunk *rc = NULL;
		const struct jm_bin_info *bi = NULL;
		uintptr_t base = 0, run_bytes = 0;
		uint32_t size = 0, magic = 0, regs = 0;
		jm__lock(&bin->lock, &bin->stats->lock_contended);
		jm__row_begin(&bin->stats->seq);
		bin->stats->nflushes++;
		for (unsigned j = 0; j < n; j++) {
			void *p = ptrs[j];
			if ((uintptr_t)p - base >= run_bytes) {
				/* Not in the run of the one before. */
				struct jm_chunk *c = ptr_chunk(p);
				if (c->arena != a) {
					ptrs[rest++] = p;  /* another arena's: the next pass */
					continue;
				}
				uint64_t pm = c->pagemap[((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE];
				if (r)
					run_settle(a, bin, rc, r, k, bi);
				r = &c->runs[JM_PM_START(pm)];
				rc = c;
				k = 0;
				bi = &jm__bin_info[JM_PM_BIN(pm)];
				base = (uintptr_t)c + ((uintptr_t)JM_PM_START(pm) << JM_LG_PAGE);
				run_bytes = (uintptr_t)bi->run_pages << JM_LG_PAGE;
				size = bi->size;
				magic = bi->div_magic;
				regs = bi->regs;
				if (r->state != JM_RUN_SMALL)
					jm__report_misuse("double free of a small region", p);
			}
			region_put(r, base, size, magic, regs, p);
			k++;
		}
		if (r)
			run_settle(a, bin, rc, r, k, bi);
		unsigned done = n - rest;
		bin->stats->ndalloc += done;
		bin->stats->curregs -= done;
		jm__row_end(&bin->stats->seq);
		jm__unlock(&bin->lock);
		jm__arena_purge_detached(a);
		n = rest;
	}
}

void jm__bin_free_one(struct jm_chunk *c, void *ptr, uint64_t pm)
{
	jm__bg_check();
	struct jm_arena *a = c->arena;
	unsigned binind = JM_PM_BIN(pm);
	const struct jm_bin_info *bi = &jm__bin_info[binind];
	if (jm_unlikely(jm__opt.junk))
		memset((char *)ptr + 16, JM_JUNK_FREE, bi->size - 16);
	struct jm_bin *bin = &a->bins[binind];
	struct jm_run *r = &c->runs[JM_PM_START(pm)];
	jm__lock(&bin->lock, &bin->stats->lock_contended);
	jm__row_begin(&bin->stats->seq);
	if (r->state != JM_RUN_SMALL)
		jm__report_misuse("double free of a small region", ptr);
	region_put(r, (uintptr_t)c + ((uintptr_t)JM_PM_START(pm) << JM_LG_PAGE), bi->size,
	    bi->div_magic, bi->regs, ptr);
	run_settle(a, bin, c, r, 1, bi);
	bin->stats->ndalloc++;
	bin->stats->curregs--;
	jm__row_end(&bin->stats->seq);
	jm__unlock(&bin->lock);
	jm__arena_purge_detached(a);
}

bool jm__bin_region_is_free(struct jm_chunk *c, void *ptr, uint64_t pm)
{
	const struct jm_bin_info *bi = &jm__bin_info[JM_PM_BIN(pm)];
	struct jm_bin *bin = &c->arena->bins[JM_PM_BIN(pm)];
	long idx = region_index(c, ptr, pm, bi);
	if (idx < 0)
		return false;
	pthread_mutex_lock(&bin->lock);
	struct jm_run *r = &c->runs[JM_PM_START(pm)];
	bool is_free = r->state == JM_RUN_SMALL && (r->bitmap[idx >> 6] & (1ULL << (idx & 63)));
	pthread_mutex_unlock(&bin->lock);
	return is_free;
}
