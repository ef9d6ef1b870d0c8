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
 * Everything here runs under the bin's lock but the linking of a fill's
 * regions into the thread's list, which they are taken for (jm__bin_fill:
 * no other thread can reach them then); the bin's stats row is
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

/* The set bits of a word, without the library call that
 * __builtin_popcountll is on x86-64 without -mpopcnt (21 instructions
 * and a call; this, 12). */
static inline unsigned popcount64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (unsigned)((x * 0x0101010101010101ULL) >> 56);
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

/* A new run from the arena for the class binind, all free (out of line:
 * bin_run, at every step of a fill, is inlined without it). */
static JM_NOINLINE struct jm_run *new_run(struct jm_arena *a, struct jm_bin *bin, unsigned binind)
{
	const struct jm_bin_info *bi = &jm__bin_info[binind];
	/* At its class's alignment where a free run or a new chunk has
	 * room for it, else anywhere (jm__arena_run_alloc). */
	unsigned lg = jm__bin_lg_align[binind];
	size_t align_pages = lg > JM_LG_PAGE ? (size_t)1 << (lg - JM_LG_PAGE) : 1;
	bool dirty;
	jm__lock(a->lock, &a->stats->lock_contended);
	jm__row_begin(&a->stats->seq);
	struct jm_run *r = jm__arena_run_alloc(a, bi->run_pages, align_pages, JM_RUN_SMALL, &dirty);
	jm__row_end(&a->stats->seq);
	jm__unlock(a->lock);
	if (r == NULL)
		return NULL;
	struct jm_chunk *c = ptr_chunk(r);
	size_t first = jm__run_page(c, r);
	r->binind = (uint8_t)binind;
	r->nfree = (uint16_t)bi->regs;
	r->on_list = 0;
	r->fork_depth = jm__fork_depth;
	memset(r->bitmap, 0, sizeof(r->bitmap));
	for (unsigned i = 0; i < bi->regs / 64; i++)
		r->bitmap[i] = ~0ULL;
	if (bi->regs % 64)
		r->bitmap[bi->regs / 64] = (1ULL << (bi->regs % 64)) - 1;
	const uint64_t pf = jm__pf_make(c, binind, first);
	const uint64_t pm = jm__pm_make(JM_PM_SMALL, binind, first);
	for (size_t i = first; i < first + bi->run_pages; i++) {
		c->pagefast[i - JM_CHUNK_HDR_PAGES] = pf;
		c->pagemap[i] = pm;
	}
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

/* What a fill took of one bitmap word of a run: its regions are linked
 * into the thread's list after the bin's lock is released. */
struct fill_piece {
	char *base;               /* the word's first region */
	uint64_t bits;            /* the regions taken (1 = taken) */
};
/* Takes up to `want` free regions of r, lowest addresses first, from at
 * most `room` bitmap words, recorded in pc (a word at a time: its bits
 * cleared at once). Returns the pieces used; *got: how many regions. */
static unsigned run_take_pieces(struct jm_run *r, const struct jm_bin_info *bi,
    unsigned want, struct fill_piece *pc, unsigned room, unsigned *got)
{
	char *base = jm__run_addr(ptr_chunk(r), r);
	size_t word_bytes = (size_t)64 * bi->size;
	unsigned left = r->nfree < want ? r->nfree : want, used = 0;
	for (unsigned w = 0; left && used < room; w++) {
		uint64_t bits = r->bitmap[w], take = bits;
		if (bits == 0)
			continue;
		unsigned from = (unsigned)__builtin_ctzll(bits), k;
		if (((bits >> from) & ((bits >> from) + 1)) == 0) {
			/* They follow one another (a fresh run, or the rest
			 * of one a fill took from): the lowest `left` are a
			 * mask, with no bit search. */
			k = 64 - (unsigned)__builtin_clzll(bits) - from;
			if (k > left) {
				take = ((1ULL << left) - 1) << from;
				k = left;
			}
		} else {
			k = popcount64(bits);
			if (k > left) {
				/* The lowest `left` of them: the highest k - left
				 * cleared, or the lowest left found, whichever
				 * is fewer steps. */
				if (k - left < left) {
					for (unsigned i = left; i < k; i++)
						take &= ~(1ULL << (63 - __builtin_clzll(take)));
				} else {
					uint64_t rest = bits;
					for (unsigned i = 0; i < left; i++)
						rest &= rest - 1;
					take = bits & ~rest;
				}
				k = left;
			}
		}
		r->bitmap[w] = bits & ~take;
		pc[used].base = base + w * word_bytes;
		pc[used].bits = take;
		used++;
		left -= k;
	}
	unsigned n = (r->nfree < want ? r->nfree : want) - left;
	r->nfree = (uint16_t)(r->nfree - n);
	*got = n;
	return used;
}

/* Links the regions of a piece into a free list at *tail (internal.h's
 * jm__flist_append), lowest address first; returns where the next one
 * goes. */
static uintptr_t *link_piece(uintptr_t *tail, const struct fill_piece *pc, size_t size,
    uintptr_t cookie)
{
	uint64_t bits = pc->bits;
	unsigned from = (unsigned)__builtin_ctzll(bits);
	bool c0 = size == 8;
	if (((bits >> from) & ((bits >> from) + 1)) == 0) {
		/* They follow one another (a fresh run, or the rest of one a
		 * fill took from): no bit search. */
		unsigned len = 64 - (unsigned)__builtin_clzll(bits) - from;
		if (c0)
			return jm__flist0_append_seq(tail, pc->base + (size_t)from * 8, len);
		return jm__flist_append_seq(tail, pc->base + (size_t)from * size, len, size, cookie);
	}
	while (bits) {
		unsigned bit = (unsigned)__builtin_ctzll(bits);
		bits &= bits - 1;
		tail = jm__flist_append_c(tail, pc->base + (size_t)bit * size, cookie, c0);
	}
	return tail;
}

/* A run regions are taken from is marked with the fork depth of the
 * process that takes them (types.h, fork_depth): a forked child's free
 * of a region in a run it took none from is its parent's region, which
 * goes to the run rather than into the thread cache's list (tcache.c,
 * "forked"). The same in a process that never forked (0 and 0): a load
 * and a compare of the record's line, which the take reads anyway. */
static inline struct jm_run *run_mark(struct jm_run *r)
{
	if (jm_unlikely(r->fork_depth != jm__fork_depth))
		r->fork_depth = jm__fork_depth;
	return r;
}

/* The run to allocate from: the current one, or another with room. */
static struct jm_run *bin_run(struct jm_arena *a, struct jm_bin *bin, unsigned binind)
{
	struct jm_run *r = bin->cur;
	if (r && r->nfree)
		return run_mark(r);
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
	return run_mark(r);
}

/* Takes up to n regions of the arena's bin and puts them at the front of
 * the free list *head, lowest addresses first (a thread cache hands them
 * out in that order). Returns how many: fewer than n when the bin ran out
 * of memory or the regions were scattered over more than JM_FILL_PIECES
 * bitmap words. Taken JM_FILL_ROUND words at a time (a second round,
 * taking the lock again, only for regions scattered over more than
 * JM_FILL_ROUND words, or more than 1024 of them): the pieces' record is on
 * the stack, which a malloc in a signal handler on an 8 KiB sigaltstack
 * shares with the kernel's signal frame (3.4 KiB with AVX-512) and the
 * handler; 64 pieces at once were 1 KiB of it. Under the bin's lock, only the bitmaps are read and
 * cleared; the regions are linked (written: word 0 and the cookie) after
 * it. Those writes miss when another thread freed the regions last (a
 * producer filling with what its consumer flushed): under the lock they
 * made a fill of 500 regions hold it 21000 cycles instead of 3000, while
 * the consumer's flush waited (xmalloc, 2 threads running at once). */
unsigned jm__bin_fill(struct jm_arena *a, unsigned binind, uintptr_t *head, unsigned n)
{
	struct jm_bin *bin = &a->bins[binind];
	const struct jm_bin_info *bi = &jm__bin_info[binind];
	struct fill_piece pieces[JM_FILL_ROUND];
	unsigned got = 0, words = 0, npieces;
	bool out = false;
	uintptr_t list = 0, *tail = &list, cookie = jm__cookie;
	do {
		unsigned round = 0;
		npieces = 0;
		jm__lock(bin->lock, &bin->stats->lock_contended);
		jm__row_begin(&bin->stats->seq);
		while (got + round < n && npieces < JM_FILL_ROUND) {
			struct jm_run *r = bin_run(a, bin, binind);
			if (r == NULL) {
				out = true;
				break;
			}
			unsigned k;
			npieces += run_take_pieces(r, bi, n - got - round, pieces + npieces,
			    JM_FILL_ROUND - npieces, &k);
			round += k;
		}
		bin->stats->nmalloc += round;
		bin->stats->curregs += round;
		bin->stats->nfills += words == 0;
		jm__row_end(&bin->stats->seq);
		jm__unlock(bin->lock);
		for (unsigned i = 0; i < npieces; i++)
			tail = link_piece(tail, &pieces[i], bi->size, cookie);
		got += round;
		words += npieces;
	} while (!out && got < n && npieces == JM_FILL_ROUND && words < JM_FILL_PIECES);
	jm__flist_end(tail, *head, binind == 0);
	*head = list;
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
	jm__lock(bin->lock, &bin->stats->lock_contended);
	jm__row_begin(&bin->stats->seq);
	struct jm_run *r = bin_run(a, bin, binind);
	if (r) {
		p = run_take(r, &jm__bin_info[binind]);
		bin->stats->nmalloc++;
		bin->stats->curregs++;
		bin->stats->nrequests++;
	}
	jm__row_end(&bin->stats->seq);
	jm__unlock(bin->lock);
	if (p) {
		jm__flist_clear_cookie_c(p, binind == 0); /* no stale double-free cookie */
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
 * its class. Called on the sampling slow path only (at a sample and at
 * its free). One atomic add, then the header's generation, as a row's
 * end bumps it: not under the bin's lock and the row's seqlock, which
 * cost 120 instructions and 5 missed lines each time, twice a sample
 * (callgrind, cachegrind: glibc-thread 1 0.2). No other field of the row
 * moves with it (a sampled object is in no run's curregs), so a reader's
 * copy of the row, the old word or the new one, is as consistent as
 * before; the word is 8-byte aligned, never torn. bump false: the caller
 * bumps the generation after this (the site row's end, jm__row_end, at a
 * sample and its free: one atomic add on the header's line instead of
 * two). */
void jm__bin_sampled(struct jm_arena *a, unsigned binind, int delta, bool bump)
{
	struct jm_bin *bin = &a->bins[binind];
	__atomic_fetch_add(&bin->stats->cursampled, (uint64_t)(int64_t)delta, __ATOMIC_RELEASE);
	if (bump)
		jmstat_gen_bump(jm__seg);
}

/* The index of ptr's region in its run, or -1 if ptr is not the start of a
 * region. */
static long region_index(struct jm_chunk *c, const void *ptr, uint64_t pm,
    const struct jm_bin_info *bi)
{
	uintptr_t base = (uintptr_t)c + ((uintptr_t)JM_PM_START(pm) << JM_LG_PAGE);
	uintptr_t off = (uintptr_t)ptr - base;
	uint64_t idx;
	if (off >= ((uintptr_t)bi->run_pages << JM_LG_PAGE) ||
	    !jm__run_region(off, bi->div_magic, &idx))
		return -1;
	return idx;
}

/* region_mark's second half, for a region known to start at its offset
 * (free_scattered checks that as it gathers): sets its bit from `prod`
 * (the offset times div_magic), returns false (the bitmap unchanged) if
 * it was set: a double free. */
static inline bool region_bit(uint64_t *bitmap, uint64_t prod)
{
	uint64_t *word = &bitmap[prod >> 38], w = *word;
	bool was_free;
#if defined(__x86_64__)
	/* bts takes the bit number modulo 64 and leaves the old bit in CF:
	 * one instruction for the test and the update (the compiler makes
	 * three, masking the number for one of them). */
	__asm__("btsq %2, %0" : "+r"(w), "=@ccc"(was_free) : "r"(prod >> 32));
#else
	uint64_t bit = 1ULL << ((prod >> 32) & 63);
	was_free = (w & bit) != 0;
	w |= bit;
#endif
	if (jm_unlikely(was_free))
		return false;
	*word = w;
	return true;
}

/* Sets the bit of the region at `off` in its run in the run's bitmap
 * (its class's div_magic: `magic`), which must be the start of a region
 * that is not free: the checks of a free. Returns 0, or the misuse found
 * (put_misuse's index), the bitmap unchanged. off is below the run's
 * bytes (the caller checked), so that a multiple of the size there is a
 * region of the run (runs have no tail). The run's counters and lists
 * are run_settle's. The run's facts come as values: a store to the bitmap
 * would otherwise reload them for every region. The word and the bit come
 * straight from the product (jm__run_region's idx is its high half: the
 * word is bits 38 and up, the bit 32..37), and the word is loaded once for
 * the test and the update: 19 instructions a region on x86-64 for the
 * whole of free_list's loop, 24 before. */
static inline unsigned region_mark(uint64_t *bitmap, uint64_t off, uint64_t magic)
{
	uint64_t prod = off * magic;
	if (jm_unlikely((uint32_t)prod >= magic))
		return 1;
	return region_bit(bitmap, prod) ? 0 : 2;
}

static const char *const put_misuse[] = {
	NULL, "free of a pointer inside a small region", "double free of a small region",
};

/* region_mark for ptr, aborting on a misuse. */
static inline void region_put(uint64_t *bitmap, uint64_t off, uint64_t magic, void *ptr)
{
	unsigned e = region_mark(bitmap, off, magic);
	if (jm_unlikely(e))
		jm__report_misuse(put_misuse[e], ptr);
}

/* r got k regions back (their bits set by region_put), and had `before`
 * free: moves r when its state changed, once per batch rather than per
 * region: full -> non-full joins the bin's non-full list; empty is kept
 * (one empty run per bin) or goes on *empty, to be given back to the
 * arena with the others of the batch (runs_give_back). Under the bin
 * lock. The count itself is run_settle's, inlined in the flush's loop. */
static JM_NOINLINE void run_moved(struct jm_bin *bin, struct jm_run *r, unsigned before,
    const struct jm_bin_info *bi, struct jm_run **empty)
{
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
		r->fork_depth = 0;   /* a large run's prof_site then */
		r->next = *empty;
		*empty = r;
	} else if (before == 0) {
		nonfull_push(bin, r);
	}
}

static inline void run_settle(struct jm_bin *bin, struct jm_run *r, unsigned k,
    const struct jm_bin_info *bi, struct jm_run **empty)
{
	unsigned before = r->nfree, after = before + k;
	r->nfree = (uint16_t)after;
	if ((before == 0 || after == bi->regs) && r != bin->cur)
		run_moved(bin, r, before, bi, empty);
}

/* Gives the runs a batch emptied back to the arena, under one lock of
 * it (taken inside the bin's: the runs are in no state between). */
static void runs_give_back(struct jm_arena *a, struct jm_run *empty)
{
	if (empty == NULL)
		return;
	jm__lock(a->lock, &a->stats->lock_contended);
	jm__row_begin(&a->stats->seq);
	jm__arena_runs_free(a, empty);
	jm__row_end(&a->stats->seq);
	jm__unlock(a->lock);
}

/* Ends a free of `done` regions under the bin's lock: the runs it
 * emptied go back to the arena, the bin's row is closed and its lock
 * released, then the arena's purge looked at outside both locks. */
static void free_end(struct jm_arena *a, struct jm_bin *bin, struct jm_run *empty, unsigned done)
{
	runs_give_back(a, empty);
	bin->stats->ndalloc += done;
	bin->stats->curregs -= done;
	jm__row_end(&bin->stats->seq);
	jm__unlock(bin->lock);
	jm__arena_purge_detached(a);
}

/* Frees the regions of the free list `list` (internal.h's, ended by 0),
 * of one size class, which may belong to several arenas: each arena's bin
 * is locked once for all of its regions (another arena's are linked into
 * the list of the next pass as they are met), and the regions that follow
 * one another in the same run (a cache flushes in the order it was given
 * them: mostly neighbours) settle that run once. Returns the runs settled
 * (each time the list went on in another run than the region before's).
 * A run's state is told by its page-map word (0 once the run is free,
 * another class's or a large run's word once reused): the record is not
 * read before the bitmap. For a list of neighbours (5 instructions a
 * region past the first of a run); a scattered one is free_scattered's. */
static unsigned free_list(void *list, unsigned binind)
{
	const struct jm_bin_info *bi = &jm__bin_info[binind];
	const uintptr_t run_bytes = (uintptr_t)bi->run_pages << JM_LG_PAGE;
	const uint64_t magic = bi->div_magic;
	/* The page-map word of this class's runs, but the run's offset. */
	const uint64_t pm_class = jm__pm_make(JM_PM_SMALL, binind, 0) >> 21;
	uintptr_t cookie = jm__cookie;
	unsigned runs = 0;
	while (list) {
		struct jm_arena *a = ptr_chunk(list)->arena;
		struct jm_bin *bin = &a->bins[binind];
		uintptr_t rest = 0, *rest_tail = &rest;
		unsigned k = 0, done = 0;
		struct jm_run *r = NULL, *empty = NULL;
		/* The run of the region before: its start negated (an offset
		 * in it is one addition) and its bitmap. */
		uintptr_t neg_base = 0;
		uint64_t *bitmap = NULL;
		jm__lock(bin->lock, &bin->stats->lock_contended);
		jm__row_begin(&bin->stats->seq);
		bin->stats->nflushes++;
		for (void *p = list, *next; p; p = next) {
			next = jm__flist_next(p);
			uintptr_t off = (uintptr_t)p + neg_base;
			if (off >= run_bytes) {
				/* Not in the run of the one before. */
				struct jm_chunk *c = ptr_chunk(p);
				if (c->arena != a) {
					/* Another arena's: the next pass. */
					rest_tail = jm__flist_append_c(rest_tail, p, cookie, binind == 0);
					continue;
				}
				uint64_t pm = c->pagemap[((uintptr_t)p & JM_CHUNK_MASK) >> JM_LG_PAGE];
				if (jm_unlikely(!jm__pm_class_is(pm, pm_class)))
					jm__report_misuse("double free of a small region", p);
				if (r)
					run_settle(bin, r, k, bi, &empty);
				done += k;
				runs++;
				k = 0;
				r = jm__chunk_run(c, JM_PM_START(pm));
				neg_base = -((uintptr_t)c + JM_PM_RUNOFF(pm));
				bitmap = r->bitmap;
				off = (uintptr_t)p + neg_base;
			}
			region_put(bitmap, off, magic, p);
			k++;
		}
		if (r)
			run_settle(bin, r, k, bi, &empty);
		done += k;
		jm__flist_end(rest_tail, 0, binind == 0);
		free_end(a, bin, empty, done);
		list = (void *)rest;
	}
	return runs;
}

/* The region at offset off of the small run whose record is r (for a
 * misuse's message: free_scattered keeps records and offsets). */
static inline void *run_region(struct jm_run *r, uint32_t off)
{
	struct jm_chunk *c = (struct jm_chunk *)((uintptr_t)r & ~(uintptr_t)JM_CHUNK_MASK);
	return (char *)c + ((uintptr_t)jm__run_page(c, r) << JM_LG_PAGE) + off;
}

/* region_put's report for the region at off in the run of record r. */
static JM_NOINLINE _Noreturn void run_misuse(unsigned e, struct jm_run *r, uint32_t off)
{
	jm__report_misuse(put_misuse[e], run_region(r, off));
}

/* Regions a scattered flush gathers, then frees (free_scattered): 64
 * (1 KiB of stack for the records and offsets), so that the first
 * record's line was prefetched 64 regions before its bit is set, and a
 * drained list of 128 (teardown's two threads) takes two batches, not
 * four. 32 before session 33: teardown's CPU 0.94 of that (paired, 11
 * runs twice; 128: 0.92, twice the stack; docs/allocator.md,
 * "Teardowns, session 33"). */
#define FLUSH_BATCH 64

/* free_list for a list freed in random order: about as many runs as
 * regions, each run's record a cache miss (a line per 4 KiB run of 16 B
 * regions). The list is taken FLUSH_BATCH regions at a time: a first
 * loop reads each region's page-map word, checks its class, and keeps
 * its run's record and its offset in the run times div_magic (checked
 * there: a pointer inside a region is reported with the list's pointer
 * at hand), with the record's line
 * (count, state and bitmap: types.h) prefetched; a second frees them,
 * each region settling its run at once (before == 0 or the run emptied:
 * run_moved, as run_settle does for a batch). The records' misses
 * overlap (waited for one at a time, they were 76% of the flush's
 * samples in the teardown workload: docs/allocator.md, "Teardowns").
 * Session 14 prefetched them from a second cursor 16 regions
 * down the list, which read every page-map word twice: 86 instructions
 * a region in teardown's flushes, 67 in session 17 (docs/allocator.md,
 * "Teardowns, session 17"). Session 28: 60 (runs counted by the rare
 * repeat, run_moved's test one compare, FLUSH_BATCH 16 -> 32, the
 * multiply in the first loop: docs/allocator.md, "Teardowns, session
 * 28"). Session 33: FLUSH_BATCH 32 -> 64. */
/* The flushes' two steps for one region q of chunk c (free_scattered,
 * jm__bin_free_inherited_array). gather_region: its page-map word (a
 * region of another class, or of a run no longer small, is a double
 * free), its run's record prefetched, its offset in the run times
 * div_magic in *x (region_bit's prod; a pointer inside a region is
 * reported here). settle_region, under the bin's lock: its bit set (set
 * already: a double free, named by the region's address), its run's
 * count; the run changes state (run_moved) when it had no free region
 * (before 0) or is now empty (before regs - 1): before - 1 >= regs - 2
 * in unsigned, one test (regs, the class's, kept by the caller: read
 * from bi it is loaded again after every count's store). */
static inline __attribute__((always_inline)) struct jm_run *
gather_region(struct jm_chunk *c, void *q, uint64_t pm_class, uint64_t magic, uint64_t *x)
{
	uint64_t pm = c->pagemap[((uintptr_t)q & JM_CHUNK_MASK) >> JM_LG_PAGE];
	if (jm_unlikely(!jm__pm_class_is(pm, pm_class)))
		jm__report_misuse("double free of a small region", q);
	struct jm_run *r = jm__chunk_run(c, JM_PM_START(pm));
	__builtin_prefetch(&r->nfree, 1, 3);
	*x = JM_PM_OFFSET(pm, (uintptr_t)q) * magic;
	if (jm_unlikely((uint32_t)*x >= magic))
		jm__report_misuse(put_misuse[1], q);
	return r;
}

static inline __attribute__((always_inline)) void
settle_region(struct jm_bin *bin, const struct jm_bin_info *bi, unsigned regs, struct jm_run *r,
              uint64_t prod, struct jm_run **empty)
{
	if (jm_unlikely(!region_bit(r->bitmap, prod)))
		run_misuse(2, r, (uint32_t)(prod >> 32) * bi->size);
	unsigned before = r->nfree;
	r->nfree = (uint16_t)(before + 1);
	if (jm_unlikely(before - 1 >= regs - 2) && r != bin->cur)
		run_moved(bin, r, before, bi, empty);
}

static unsigned free_scattered(void *list, unsigned binind)
{
	const struct jm_bin_info *bi = &jm__bin_info[binind];
	const uint64_t magic = bi->div_magic;
	const unsigned regs = bi->regs;
	const uint64_t pm_class = jm__pm_make(JM_PM_SMALL, binind, 0) >> 21;
	uintptr_t cookie = jm__cookie;
	unsigned runs = 0;
	while (list) {
		struct jm_arena *a = ptr_chunk(list)->arena;
		struct jm_bin *bin = &a->bins[binind];
		uintptr_t rest = 0, *rest_tail = &rest;
		unsigned done = 0;
		struct jm_run *empty = NULL;
		/* The regions' run records from rec[1] (rec[0]: the last of
		 * the batch before, for the count of runs) and their offsets
		 * in their runs times div_magic (region_bit's prod). */
		struct jm_run *rec[FLUSH_BATCH + 1];
		uint64_t prod[FLUSH_BATCH + 1];
		rec[0] = NULL;
		jm__lock(bin->lock, &bin->stats->lock_contended);
		jm__row_begin(&bin->stats->seq);
		bin->stats->nflushes++;
		for (void *p = list; p;) {
			size_t n = 0;
			while (p && n < FLUSH_BATCH) {
				void *q = p;
				p = jm__flist_next(q);
				struct jm_chunk *c = ptr_chunk(q);
				if (c->arena != a) {
					/* Another arena's: the next pass. */
					rest_tail = jm__flist_append_c(rest_tail, q, cookie, binind == 0);
					continue;
				}
				uint64_t x;
				struct jm_run *r = gather_region(c, q, pm_class, magic, &x);
				n++;
				rec[n] = r;
				prod[n] = x;
			}
			/* Runs are counted as regions less those in the same run
			 * as the one before (rare in a scattered list: a branch
			 * taken seldom, cheaper than counting each change). */
			runs += n;
			for (size_t i = 1; i <= n; i++) {
				struct jm_run *r = rec[i];
				if (jm_unlikely(r == rec[i - 1]))
					runs--;
				settle_region(bin, bi, regs, r, prod[i], &empty);
			}
			rec[0] = rec[n];
			done += n;
		}
		jm__flist_end(rest_tail, 0, binind == 0);
		free_end(a, bin, empty, done);
		list = (void *)rest;
	}
	return runs;
}

unsigned jm__bin_free_list(void *list, unsigned binind, bool scattered)
{
	return scattered ? free_scattered(list, binind) : free_list(list, binind);
}

/* jm__bin_free_list for n regions given as an array (linked into a list
 * through their word 0 first), as a scattered one. */
void jm__bin_free_batch(void **ptrs, unsigned n, unsigned binind)
{
	uintptr_t list = 0, *tail = &list, cookie = jm__cookie;
	for (unsigned i = 0; i < n; i++)
		tail = jm__flist_append_c(tail, ptrs[i], cookie, binind == 0);
	jm__flist_end(tail, 0, binind == 0);
	jm__bin_free_list((void *)list, binind, true);
}

/* A forked child's frees of its parent's regions, gathered by the thread
 * (tcache.c, "inherited frees, batched"): the n regions at ptrs, all of
 * class binind, which may belong to several arenas, go to their runs as
 * free_scattered's do (each arena's bin locked once for its regions, the
 * run records prefetched FLUSH_BATCH at a time), but from an array that
 * is the caller's, not a list through the regions: nothing of a region
 * is written (its page is its parent's until one of them writes it).
 * Another arena's regions are moved to the front of the array for the
 * next pass. A second free is the run's bit (region_bit). */
void jm__bin_free_inherited_array(void **ptrs, unsigned n, unsigned binind)
{
	const struct jm_bin_info *bi = &jm__bin_info[binind];
	const uint64_t magic = bi->div_magic;
	const unsigned regs = bi->regs;
	const uint64_t pm_class = jm__pm_make(JM_PM_SMALL, binind, 0) >> 21;
	jm__bg_check(0);   /* before the locks, as a flush does */
	while (n) {
		struct jm_arena *a = ptr_chunk(ptrs[0])->arena;
		struct jm_bin *bin = &a->bins[binind];
		unsigned rest = 0, done = 0;
		struct jm_run *empty = NULL;
		struct jm_run *rec[FLUSH_BATCH];
		uint64_t prod[FLUSH_BATCH];
		jm__lock(bin->lock, &bin->stats->lock_contended);
		jm__row_begin(&bin->stats->seq);
		for (unsigned i = 0; i < n;) {
			unsigned m = 0;
			while (i < n && m < FLUSH_BATCH) {
				void *q = ptrs[i++];
				struct jm_chunk *c = ptr_chunk(q);
				if (c->arena != a) {
					ptrs[rest++] = q;   /* rest < i: read already */
					continue;
				}
				uint64_t x;
				struct jm_run *r = gather_region(c, q, pm_class, magic, &x);
				rec[m] = r;
				prod[m] = x;
				m++;
			}
			for (unsigned k = 0; k < m; k++) {
				struct jm_run *r = rec[k];
				settle_region(bin, bi, regs, r, prod[k], &empty);
			}
			done += m;
		}
		free_end(a, bin, empty, done);
		n = rest;
	}
}

/* A region freed to its run carries a free region's mark (its cookie, or
 * class 0's tag: internal.h), as one flushed from a list does: without
 * it, a second free on a thread's fast path (a region a new thread's
 * first frees sent here, malloc.c's NEW_THREAD_FREES, or one freed
 * without a cache) found no mark and pushed it on the list unreported,
 * free in its run and in the list, handed out twice
 * (tests/preload/misuse.test.sh, double-free-new-thread-first). Written
 * before its bit is set: after, another thread may take the region from
 * the run, and the mark would land on a region in use. Not by a forked
 * child's free of its parent's region (`mark` false: tcache.c, "forked"),
 * whose point is not to write the parent's page (docs/allocator.md). */
static inline __attribute__((always_inline)) void bin_free_one(struct jm_chunk *c, void *ptr, uint64_t pm, bool mark)
{
	jm__bg_check(0);
	struct jm_arena *a = c->arena;
	unsigned binind = JM_PM_BIN(pm);
	const struct jm_bin_info *bi = &jm__bin_info[binind];
	if (jm_unlikely(jm__opt.junk) && bi->size > 16)
		memset((char *)ptr + 16, JM_JUNK_FREE, bi->size - 16);
	struct jm_bin *bin = &a->bins[binind];
	struct jm_run *r = jm__chunk_run(c, JM_PM_START(pm));
	if (mark) {
		uintptr_t *w = ptr;
		if (binind == 0)
			w[0] = jm__flist0_tag(ptr);
		else
			w[1] = jm__flist_cookie(ptr);
	}
	jm__lock(bin->lock, &bin->stats->lock_contended);
	jm__row_begin(&bin->stats->seq);
	if (r->state != JM_RUN_SMALL)
		jm__report_misuse("double free of a small region", ptr);
	region_put(r->bitmap, (uintptr_t)ptr - (uintptr_t)jm__run_addr(c, r), bi->div_magic, ptr);
	struct jm_run *empty = NULL;
	run_settle(bin, r, 1, bi, &empty);
	free_end(a, bin, empty, 1);
}

void jm__bin_free_one(struct jm_chunk *c, void *ptr, uint64_t pm)
{
	bin_free_one(c, ptr, pm, true);
}

void jm__bin_free_inherited(struct jm_chunk *c, void *ptr, uint64_t pm)
{
	bin_free_one(c, ptr, pm, false);
}

/* The same for an 8 B region whose tag is in place already and which
 * another thread's list may hold, linked through its word 0 (malloc.c,
 * free_in_chunk): its run's bit set, nothing of it written. */
void jm__bin_free_unmarked(struct jm_chunk *c, void *ptr, uint64_t pm)
{
	bin_free_one(c, ptr, pm, false);
}

bool jm__bin_region_is_free(struct jm_chunk *c, void *ptr, uint64_t pm)
{
	const struct jm_bin_info *bi = &jm__bin_info[JM_PM_BIN(pm)];
	struct jm_bin *bin = &c->arena->bins[JM_PM_BIN(pm)];
	long idx = region_index(c, ptr, pm, bi);
	if (idx < 0)
		return false;
	pthread_mutex_lock(bin->lock);
	struct jm_run *r = jm__chunk_run(c, JM_PM_START(pm));
	bool is_free = r->state == JM_RUN_SMALL && (r->bitmap[idx >> 6] & (1ULL << (idx & 63)));
	pthread_mutex_unlock(bin->lock);
	return is_free;
}
