/*
 * fields.h: a bin's and a process's figures, each declared once, in the
 * X-macro lists below, as liballoc/include/jmstat.h declares the segment's
 * counters. Everything the daemon shows of them is generated from these
 * lists: the members of struct jmd_bin and struct jmd_totals, the sum over
 * a process's arenas of what comes from the segment (figures.c), the sum
 * over processes (jmd_bin_add, jmd_totals_add, below: `bins`, ps's host, the
 * per-exe series of /metrics), the JSON of `stats`, `bins`, `subscribe`
 * (commands.c) and ps (ps.c), and the Prometheus series (metrics.c,
 * metrics_exes.c). Adding a figure is one line here (and, when it is
 * computed, its formula in figures.c); tests/daemon/xfield.test.sh checks
 * that a line added here reaches all four of `stats`, `bins`, `ps` and
 * /metrics (JMD_TEST_EXTRA_FIELD).
 *
 * A row is X(name, type, fold, src, series, prom, help...):
 *   name    the struct member and the JSON key; the JSON objects list the
 *           fields in the order of the rows
 *   type    u32 or u64 (a JSON integer) or real (a double, a JSON real)
 *   fold    how a process's value is made, and how processes add up:
 *             class  from the segment's class table: the same in every
 *                    process (bins are matched by size), never summed
 *             arena  the sum over the process's arenas of the segment
 *                    row's field `src`; summed over processes
 *             calc   computed by hand in figures.c (jmd_proc_update);
 *                    summed over processes
 *             out    not stored: the formula jmd_bin_NAME() or
 *                    jmd_totals_NAME() below, of the other fields (of the
 *                    sums, for a sum of processes), when it is shown
 *   src     the segment's field, for arena; _ otherwise
 *   series  on /metrics. A bin's: counter or gauge (jmalloc_bin_PROM per
 *           exe and size; a counter adds the exe's exited processes'
 *           last counts, metrics.h) or none. A process's totals: host
 *           (jmalloc_host_PROM), both (that and jmalloc_process_PROM per
 *           pid) or none; always gauges
 *   prom    the series name after its prefix (base units, _total for a
 *           counter); _ for none
 *   help    its HELP text (a process's totals: the host's, then the
 *           process's); _ for none
 */
#ifndef JMSTATD_FIELDS_H
#define JMSTATD_FIELDS_H

#include <stdint.h>

/* One small size class of one process, summed over its arenas; or, in an
 * aggregate, over many processes. Definitions: docs/figures.md. */
#define JMD_BIN_FIELDS(X) \
  X(size,           u32,  class, _,         none,    _, _)  /* region size, bytes */ \
  X(regs_per_run,   u32,  class, _,         none,    _, _)  /* regions in one run */ \
  X(run_size,       u32,  class, _,         none,    _, _)  /* bytes of one run */ \
  X(nmalloc,        u64,  arena, nmalloc,   counter, allocations_total, "Regions of this size class handed out (to threads or their caches). Summed over the processes of an executable.") \
  X(ndalloc,        u64,  arena, ndalloc,   counter, frees_total, "Regions of this size class given back. Summed over the processes of an executable.") \
  X(nrequests,      u64,  calc,  _,         counter, requests_total, /* the bins' and the live caches' */ "Allocation requests of this size class, thread caches included (those of threads that exited). Summed over the processes of an executable.") \
  X(curregs,        u64,  arena, curregs,   gauge,   regions, "Regions of this size class allocated now (those sitting in thread caches included). Summed over the processes of an executable.") \
  X(cached,         u64,  calc,  _,         none,    _, _)  /* in live thread caches */ \
  X(inuse,          u64,  calc,  _,         none,    _, _)  /* inuse_runs + cursampled */ \
  X(cursampled,     u64,  arena, cursampled, gauge,  sampled_regions, "Objects of this size class live that the heap profile sampled, each on a page of its own (not in jmalloc_bin_regions). Summed over the processes of an executable.") \
  X(inuse_runs,     u64,  calc,  _,         none,    _, _)  /* curregs - cached, >= 0 */ \
  X(curruns,        u64,  arena, curruns,   gauge,   runs, "Runs (groups of pages of one size class) held now. Summed over the processes of an executable.") \
  X(capacity,       u64,  calc,  _,         none,    _, _)  /* curruns * regs_per_run */ \
  X(nruns,          u64,  arena, nruns,     counter, runs_created_total, "Runs created for this size class. Summed over the processes of an executable.") \
  X(nfills,         u64,  arena, nfills,    counter, cache_fills_total, "Thread-cache fills from this size class. Summed over the processes of an executable.") \
  X(nflushes,       u64,  arena, nflushes,  counter, cache_flushes_total, "Thread-cache flushes to this size class. Summed over the processes of an executable.") \
  X(lock_contended, u64,  arena, lock_contended, counter, lock_contentions_total, "Times a thread waited for this size class's lock. Summed over the processes of an executable.") \
  X(util,           real, out,   _,         gauge,   utilization_ratio, "Share of the slots of this size class in use, over the processes of an executable; 1 when it holds no pages.") \
  X(wasted_bytes,   u64,  out,   _,         gauge,   wasted_bytes, "Bytes of free slots in the pages of this size class, (slots - in use) x size, summed over the processes of an executable: what a sparse size class wastes.") \
  X(malloc_rate,    real, calc,  _,         none,    _, _)  /* d(nmalloc)/dt, 1/s */ \
  X(request_rate,   real, calc,  _,         none,    _, _)  /* d(nrequests)/dt, 1/s */ \
  JMD_BIN_TEST_FIELD(X)

/* Totals of a process, or of a set of processes (a host view). */
#define JMD_TOTALS_FIELDS(X) \
  X(allocated,      u64,  calc,  _,         both,    allocated_bytes, "Bytes the programs hold in objects, all processes.", "Bytes the program holds in objects: small ones in use (not in thread caches), large and huge.") \
  X(active,         u64,  arena, active,    host,    active_bytes, "Bytes in pages that hold objects, all processes.", _) \
  X(mapped,         u64,  arena, mapped,    host,    mapped_bytes, "Bytes the allocator has mapped from the kernel, all processes.", _) \
  X(dirty,          u64,  arena, dirty,     host,    dirty_bytes, "Bytes of freed pages not yet given back to the kernel, all processes.", _) \
  X(small_wasted,   u64,  calc,  _,         both,    small_wasted_bytes, "Bytes of free slots inside pages of small objects, all processes.", "Bytes of free slots inside the process's pages of small objects.") \
  X(frag_bytes,     u64,  out,   _,         both,    fragmentation_bytes, "Bytes in pages that hold objects but not taken by one (active - allocated), all processes.", "Bytes in pages that hold objects but not taken by one (active - allocated): what fragmentation costs.") \
  X(frag_ratio,     real, out,   _,         both,    fragmentation_ratio, "Share of active memory not holding objects, (active - allocated) / active, all processes.", "Share of active memory not holding objects, (active - allocated) / active; 0 when nothing is active.") \
  X(alloc_rate,     real, calc,  _,         none,    _, _, _) /* allocations per second */ \
  X(free_rate,      real, calc,  _,         none,    _, _, _) /* frees per second */ \
  JMD_TOTALS_TEST_FIELD(X)

/* What a process is, and its own figures: X(name, kind, show, value,
 * series, prom, help), value an expression of process p (and of daemon d,
 * for the rows shown in JSON: they expand in commands.c and ps.c, which
 * declare jmd_user_name and jmd_proc_age). kind:
 *   int, u64  an integer (a u64 clamped as JSON holds it)
 *   time      unix seconds, a double: an integer in JSON, ms on /metrics
 *   bool      a JSON boolean; its number on /metrics
 *   str       a string, left out of JSON when not UTF-8 (as json_string()
 *             refuses it); strnull: the same, null when empty
 * show: ps (in ps, and in stats before the totals), stats (in stats after
 * the totals) or none; series and help: jmalloc_process_PROM per pid, a
 * gauge or a counter, or none. */
#define JMD_PROC_FIELDS(X) \
  X(pid,         int,     ps,    (p)->pid,                none,    _, _) \
  X(ns_pid,      int,     ps,    (p)->ns_pid,             none,    _, _) \
  X(cgroup,      str,     ps,    (p)->labels.cgroup,      none,    _, _) \
  X(container,   strnull, ps,    (p)->labels.container,   none,    _, _) \
  X(pod,         strnull, ps,    (p)->labels.pod,         none,    _, _) \
  X(uid,         int,     ps,    (p)->uid,                none,    _, _) \
  X(user,        str,     ps,    jmd_user_name((p)->uid), none,    _, _) \
  X(exe,         str,     ps,    (p)->exe,                none,    _, _) \
  X(path,        str,     ps,    (p)->path,               none,    _, _) \
  X(alloc_total, u64,     none,  (p)->alloc_total,        counter, allocations_total, "Allocations (small, large and huge) since the process started.") \
  X(free_total,  u64,     none,  (p)->free_total,         counter, frees_total, "Frees since the process started (allocations less the objects live now).") \
  X(start_time,  time,    ps,    (p)->start_time,         gauge,   start_time_seconds, "When the process started (Unix time): time() - this is its age.") \
  X(age,         int,     ps,    jmd_proc_age((d), (p)),  none,    _, _) \
  X(nthreads,    int,     ps,    (p)->nthreads,           gauge,   threads, "Live threads of the process that have allocated (each has a thread cache).") \
  X(narenas,     int,     ps,    (p)->narenas,            none,    _, _) \
  X(bg_running,  bool,    stats, (p)->bg_running,         gauge,   bg_running, "1 while the process has a background purger thread (background_thread).") \
  X(bg_wakes,    u64,     stats, (p)->bg_wakes,           counter, bg_wakes_total, "Times the process's background purger woke and applied the decay.") \
  JMD_PROC_TEST_FIELD(X)

/* What a history sample keeps of a process's (or a uid's) totals, the
 * fields of the `history` reply after its "time": X(name, type), name a
 * row of JMD_TOTALS_FIELDS, type u64 or f32 (a float: a day of history at
 * 1 s is 86,400 samples a process). */
#define JMD_HIST_FIELDS(X) \
  X(allocated, u64) X(active, u64) X(mapped, u64) X(alloc_rate, f32) JMD_HIST_TEST_FIELD(X)

/* The test build of tests/daemon/xfield.test.sh: one more row in each list,
 * a sum over the arenas like any other, that must reach every output. */
#ifdef JMD_TEST_EXTRA_FIELD
#define JMD_BIN_TEST_FIELD(X) \
  X(xtest_nmalloc,  u64,  arena, nmalloc,   counter, xtest_allocations_total, "A test row of JMD_BIN_FIELDS: nmalloc again.")
#define JMD_TOTALS_TEST_FIELD(X) \
  X(xtest_mapped,   u64,  arena, mapped,    both,    xtest_mapped_bytes, "A test row of JMD_TOTALS_FIELDS: mapped again, all processes.", "A test row of JMD_TOTALS_FIELDS: mapped again.")
#define JMD_HIST_TEST_FIELD(X) X(xtest_mapped, u64)
#define JMD_PROC_TEST_FIELD(X) \
  X(xtest_nthreads, int,  ps,    (p)->nthreads,           gauge,   xtest_threads, "A test row of JMD_PROC_FIELDS: nthreads again.")
#else
#define JMD_BIN_TEST_FIELD(X)
#define JMD_TOTALS_TEST_FIELD(X)
#define JMD_HIST_TEST_FIELD(X)
#define JMD_PROC_TEST_FIELD(X)
#endif

/* ------------------------------------------------ what the rows expand to */

/* The C type of a row's type. */
#define JMD_CTYPE_u32  uint32_t
#define JMD_CTYPE_u64  uint64_t
#define JMD_CTYPE_real double
#define JMD_CTYPE_f32  float

/* JMD_IF_<what>_<column value>(code): code for the rows that have it. */
#define JMD_IF_STORED_class(...) __VA_ARGS__   /* a struct member */
#define JMD_IF_STORED_arena(...) __VA_ARGS__
#define JMD_IF_STORED_calc(...)  __VA_ARGS__
#define JMD_IF_STORED_out(...)
#define JMD_IF_SUM_class(...)                  /* summed over processes */
#define JMD_IF_SUM_arena(...)    __VA_ARGS__
#define JMD_IF_SUM_calc(...)     __VA_ARGS__
#define JMD_IF_SUM_out(...)
#define JMD_IF_ARENA_class(...)                /* summed over the arenas */
#define JMD_IF_ARENA_arena(...)  __VA_ARGS__
#define JMD_IF_ARENA_calc(...)
#define JMD_IF_ARENA_out(...)
#define JMD_IF_SERIES_none(...)                /* a bin's series */
#define JMD_IF_SERIES_gauge(...)   __VA_ARGS__
#define JMD_IF_SERIES_counter(...) __VA_ARGS__
#define JMD_IF_COUNTER_none(...)
#define JMD_IF_COUNTER_gauge(...)
#define JMD_IF_COUNTER_counter(...) __VA_ARGS__
#define JMD_IF_HOST_none(...)                  /* a total's host series */
#define JMD_IF_HOST_host(...)    __VA_ARGS__
#define JMD_IF_HOST_both(...)    __VA_ARGS__
#define JMD_IF_PROC_none(...)                  /* ... and its per-process one */
#define JMD_IF_PROC_host(...)
#define JMD_IF_PROC_both(...)    __VA_ARGS__
#define JMD_IF_PS_ps(...)        __VA_ARGS__   /* a process's row in ps */
#define JMD_IF_PS_stats(...)
#define JMD_IF_PS_none(...)
#define JMD_IF_STATS_ps(...)                   /* ... in stats alone */
#define JMD_IF_STATS_stats(...)  __VA_ARGS__
#define JMD_IF_STATS_none(...)

/* The value of field name of *p (a bin or totals), pfx the prefix of the
 * formulas of its list (jmd_bin_, jmd_totals_). */
#define JMD_GET(pfx, fold, p, name) JMD_GET_##fold(pfx, p, name)
#define JMD_GET_class(pfx, p, name) ((p)->name)
#define JMD_GET_arena(pfx, p, name) ((p)->name)
#define JMD_GET_calc(pfx, p, name)  ((p)->name)
#define JMD_GET_out(pfx, p, name)   pfx##name(p)

#define JMD_MEMBER_(name, type, fold, ...) JMD_IF_STORED_##fold(JMD_CTYPE_##type name;)

struct jmd_bin {
	JMD_BIN_FIELDS(JMD_MEMBER_)
	uint64_t nrequests_bins; /* the bins' nrequests alone (nrequests less
	                            the live caches'), for a read whose rows
	                            have not moved; not shown */
};

struct jmd_totals {
	uint64_t processes;      /* 1 for a process; shown in a host's totals */
	JMD_TOTALS_FIELDS(JMD_MEMBER_)
};

#undef JMD_MEMBER_

/* ------------------------------------------------ the formulas (fold out) */

double jmd_util(uint64_t inuse, uint64_t capacity);         /* figures.c */
double jmd_frag_ratio(uint64_t active, uint64_t allocated);

static inline double jmd_bin_util(const struct jmd_bin *b)
{
	return jmd_util(b->inuse_runs, b->capacity);
}

/* Integers saturate at 2^64 - 1, in a process's figures (its sums over
 * arenas, threads and bins, and their products by sizes) as in the sums
 * over processes: a segment's counters are what its writer put there, and
 * a sum that wrapped showed nonsense (a process of 8 arenas each at 2^63
 * bytes active showed 0). Shown in JSON at most 2^63 - 1 (fields rows of
 * kind u64 and the values of type u64 are clamped as jansson holds them). */
static inline uint64_t jmd_add_u64(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static inline uint64_t jmd_mul_u64(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static inline uint64_t jmd_bin_wasted_bytes(const struct jmd_bin *b)
{
	return jmd_mul_u64(b->capacity > b->inuse_runs ? b->capacity - b->inuse_runs : 0, b->size);
}

static inline uint64_t jmd_totals_frag_bytes(const struct jmd_totals *t)
{
	return t->active > t->allocated ? t->active - t->allocated : 0;
}

static inline double jmd_totals_frag_ratio(const struct jmd_totals *t)
{
	return jmd_frag_ratio(t->active, t->allocated);
}

/* Sums over processes: every field of fold arena or calc. Inline, so that
 * history.c (the host's and each uid's sums) and figures.c (which history.c
 * serves) do not call each other. */
#define JMD_SUM_(name, type, fold, ...) JMD_IF_SUM_##fold(jmd_sum_##type(&sum->name, x->name);)

/* Integers saturate: a process's figures are what it wrote, and a sum
 * that wrapped let a user's process whose segment says 2^64 - X take X
 * off root's host totals (ps's host, jmalloc_host_*, top's Host line). */
static inline void jmd_sum_u64(uint64_t *sum, uint64_t x)
{
	*sum = jmd_add_u64(*sum, x);
}

/* A rate is at most 2^63 a second (figures.c), and so is a sum of them. */
static inline void jmd_sum_real(double *sum, double x)
{
	*sum = *sum + x < (double)INT64_MAX ? *sum + x : (double)INT64_MAX;
}

static inline void jmd_bin_add(struct jmd_bin *sum, const struct jmd_bin *x)
{
	JMD_BIN_FIELDS(JMD_SUM_)
}

static inline void jmd_totals_add(struct jmd_totals *sum, const struct jmd_totals *x)
{
	sum->processes += x->processes;
	JMD_TOTALS_FIELDS(JMD_SUM_)
}

#undef JMD_SUM_

#endif
