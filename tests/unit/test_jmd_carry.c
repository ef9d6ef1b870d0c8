/*
 * test_jmd_carry.c: the per-exe table behind /metrics' jmalloc_bin_*
 * series (jmstatd/metrics.c, jmd_metrics_tick): a bin's counters summed
 * over the live processes of one executable, plus a carry of the last
 * counters of its processes that are gone, so that a counter of an exe
 * never goes back when one of its processes exits (Prometheus would read a
 * reset); a reused pid is another process; an exe without a live process
 * keeps its series for METRICS_EXE_KEEP_S, then is forgotten. Processes
 * are built by hand (tests/unit/jmd_test.h). docs/metrics.md describes
 * the series.
 */
#include "jmd_test.h"

static void tick(struct jmd *d, double dt)
{
	d->now += dt;
	d->mono += dt;
	d->tick++;
	jmd_metrics_tick(d);
}

static struct metrics_exe *exe_find(struct jmd *d, const char *name)
{
	for (unsigned h = 0; h < METRICS_HASH; h++)
		for (struct metrics_exe *e = d->metrics->exes[h]; e; e = e->hnext)
			if (strcmp(e->exe, name) == 0)
				return e;
	return NULL;
}

static struct metrics_bin *bin_find(struct metrics_exe *e, uint32_t size)
{
	for (uint32_t b = 0; b < e->nbins; b++)
		if (e->bins[b].size == size)
			return &e->bins[b];
	return NULL;
}

/* The exe's nmalloc for size as /metrics counts it: live plus carry. */
static uint64_t nmalloc_of(struct jmd *d, const char *exe, uint32_t size)
{
	struct metrics_exe *e = exe_find(d, exe);
	assert_non_null(e);
	struct metrics_bin *b = bin_find(e, size);
	assert_non_null(b);
	return b->live.nmalloc + b->carry[MC_nmalloc];
}

static void test_sum_and_carry(void **state)
{
	(void)state;
	struct jmd *d = jmdt_daemon(true);
	struct jmd_proc *a = jmdt_proc_new(10, 1, "worker", 2);   /* bins 16, 32 */
	struct jmd_proc *b = jmdt_proc_new(11, 1, "worker", 2);
	struct jmd_proc *c = jmdt_proc_add(d, 12, 1, "other", 2);
	jmdt_proc_live(d, a);
	jmdt_proc_live(d, b);
	a->bins[0].nmalloc = 100; a->bins[1].nmalloc = 7;
	b->bins[0].nmalloc = 50;
	c->bins[0].nmalloc = 1000;
	a->bins[0].inuse_runs = a->bins[0].inuse = 3; a->bins[0].capacity = 256;
	tick(d, 1);
	assert_int_equal(d->metrics->nexes, 2);
	struct metrics_exe *w = exe_find(d, "worker");
	assert_int_equal(w->nlive, 2);
	assert_int_equal(nmalloc_of(d, "worker", 16), 150);
	assert_int_equal(nmalloc_of(d, "worker", 32), 7);
	assert_int_equal(nmalloc_of(d, "other", 16), 1000);
	assert_int_equal(bin_find(w, 16)->live.inuse_runs, 3);
	assert_int_equal(bin_find(w, 16)->live.capacity, 256);
	assert_int_equal(bin_find(w, 16)->live.size, 16);

	/* Counters move; then a exits: its last counters go to the carry and
	 * the sum does not go back. */
	a->bins[0].nmalloc = 120;
	b->bins[0].nmalloc = 60;
	tick(d, 1);
	assert_int_equal(nmalloc_of(d, "worker", 16), 180);
	jmdt_proc_gone(d, a);
	tick(d, 1);
	w = exe_find(d, "worker");
	assert_int_equal(w->nlive, 1);
	assert_int_equal(bin_find(w, 16)->carry[MC_nmalloc], 120);
	assert_int_equal(bin_find(w, 16)->live.nmalloc, 60);
	assert_int_equal(nmalloc_of(d, "worker", 16), 180);
	assert_int_equal(nmalloc_of(d, "worker", 32), 7);
	assert_int_equal(bin_find(w, 16)->live.inuse_runs, 0);   /* figures are the live ones only */
	b->bins[0].nmalloc = 61;
	tick(d, 1);
	assert_int_equal(nmalloc_of(d, "worker", 16), 181);
	/* The other exe is untouched. */
	assert_int_equal(nmalloc_of(d, "other", 16), 1000);
	jmdt_proc_free(a);
}

static void test_reused_pid(void **state)
{
	(void)state;
	struct jmd *d = jmdt_daemon(true);
	struct jmd_proc *a = jmdt_proc_add(d, 10, 1, "worker", 1);
	a->bins[0].nmalloc = 500;
	tick(d, 1);
	/* Between two ticks the process exits and another takes its pid. */
	jmdt_proc_gone(d, a);
	struct jmd_proc *a2 = jmdt_proc_add(d, 10, 2, "worker", 1);
	a2->bins[0].nmalloc = 5;
	tick(d, 1);
	assert_int_equal(nmalloc_of(d, "worker", 16), 505);
	assert_int_equal(bin_find(exe_find(d, "worker"), 16)->carry[MC_nmalloc], 500);
	jmdt_proc_free(a);
}

static void test_exec_to_another_exe(void **state)
{
	(void)state;
	struct jmd *d = jmdt_daemon(true);
	struct jmd_proc *a = jmdt_proc_add(d, 10, 1, "launcher", 1);
	a->bins[0].nmalloc = 40;
	tick(d, 1);
	/* Same pid and start, new name (an exec): its counters so far stay
	 * with the old exe. */
	snprintf(a->exe, sizeof a->exe, "server");
	a->bins[0].nmalloc = 3;
	tick(d, 1);
	assert_int_equal(nmalloc_of(d, "launcher", 16), 40);
	assert_int_equal(exe_find(d, "launcher")->nlive, 0);
	assert_int_equal(nmalloc_of(d, "server", 16), 3);
}

static void test_exe_forgotten(void **state)
{
	(void)state;
	struct jmd *d = jmdt_daemon(true);
	struct jmd_proc *a = jmdt_proc_new(10, 1, "batch", 1);
	jmdt_proc_add(d, 20, 1, "daemon", 1);   /* keeps a live exe */
	jmdt_proc_live(d, a);
	a->bins[0].nmalloc = 9;
	tick(d, 1);
	jmdt_proc_gone(d, a);
	tick(d, 1);
	assert_int_equal(nmalloc_of(d, "batch", 16), 9);   /* kept, from the carry */
	tick(d, METRICS_EXE_KEEP_S - 2);
	assert_non_null(exe_find(d, "batch"));
	tick(d, 2);
	assert_null(exe_find(d, "batch"));
	assert_int_equal(d->metrics->nexes, 1);
	/* A new process of that exe starts from its own counters (a real
	 * reset, which Prometheus handles). */
	struct jmd_proc *a2 = jmdt_proc_add(d, 30, 1, "batch", 1);
	a2->bins[0].nmalloc = 2;
	tick(d, 1);
	assert_int_equal(nmalloc_of(d, "batch", 16), 2);
	jmdt_proc_free(a);
}

static void test_many_processes_and_sizes(void **state)
{
	(void)state;
	struct jmd *d = jmdt_daemon(true);
	struct jmd_proc *p[40];
	/* 40 processes of one exe, bins of different counts (sizes merge by
	 * size, kept sorted); they exit one by one and the sum only grows. */
	for (int i = 0; i < 40; i++) {
		p[i] = jmdt_proc_new(100 + i, 1, "pool", 1 + (uint32_t)i % 5);
		for (uint32_t b = 0; b < p[i]->nbins; b++)
			p[i]->bins[b].nmalloc = (uint64_t)(i + 1) * 10;
		jmdt_proc_live(d, p[i]);
	}
	tick(d, 1);
	struct metrics_exe *e = exe_find(d, "pool");
	assert_int_equal(e->nbins, 5);
	for (uint32_t b = 1; b < e->nbins; b++)
		assert_true(e->bins[b - 1].size < e->bins[b].size);
	uint64_t before = nmalloc_of(d, "pool", 16);
	assert_int_equal(before, 10 * 40 * 41 / 2);
	for (int i = 0; i < 40; i++) {
		for (int j = i; j < 40; j++)
			p[j]->bins[0].nmalloc += 1;
		jmdt_proc_gone(d, p[i]);
		tick(d, 1);
		uint64_t now = nmalloc_of(d, "pool", 16);
		assert_true(now >= before);
		before = now;
	}
	assert_int_equal(exe_find(d, "pool")->nlive, 0);
	for (int i = 0; i < 40; i++)
		jmdt_proc_free(p[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sum_and_carry),
		cmocka_unit_test(test_reused_pid),
		cmocka_unit_test(test_exec_to_another_exe),
		cmocka_unit_test(test_exe_forgotten),
		cmocka_unit_test(test_many_processes_and_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
