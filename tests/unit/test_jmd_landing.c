/*
 * test_jmd_landing.c: GET / of the metrics port (jmstatd/http.c,
 * jmd_http_landing): with --pprof, one line per executable name and user
 * running now, links to its profiles. It was built anew at every request
 * and compared each process with every other (1,000 names: about 10 ms a
 * request, asked by whoever reaches the port). Now it is built at most
 * once a tick, and the build looks at each process a bounded number of
 * times: the work it counts (processes looked at, names compared) is
 * bounded by a constant times the processes, which no load can flake.
 */
#include "jmd_test.h"

static struct jmd *pprof_daemon(void)
{
	struct jmd *d = jmdt_daemon(true);
	d->opt.pprof = true;
	return d;
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;
	for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

/* What the page says: one line per name and user; a name two users run
 * links each user's under /uid/UID/; names escaped in HTML and URLs. */
static void test_content(void **state)
{
	(void)state;
	struct jmd *d = pprof_daemon();
	struct jmd_proc *p[6];
	p[0] = jmdt_proc_add(d, 10, 1, "worker", 1);
	p[1] = jmdt_proc_add(d, 11, 1, "worker", 1);
	p[2] = jmdt_proc_add(d, 12, 1, "shared", 1);
	p[3] = jmdt_proc_add(d, 13, 1, "shared", 1);
	p[3]->uid = 0;
	p[4] = jmdt_proc_add(d, 14, 1, "a<b&c d", 1);
	p[5] = jmdt_proc_add(d, 15, 1, "shared", 1);
	const struct jmd_text *t = jmd_http_landing(d);
	assert_non_null(t);
	assert_int_equal(count(t->s, "<li>worker: <a href=\"exe/worker/debug/pprof/heap\">"), 1);
	assert_int_equal(count(t->s, "<li>shared (uid 1000): <a href=\"uid/1000/exe/shared/debug/pprof/heap\">"), 1);
	assert_int_equal(count(t->s, "<li>shared (uid 0): <a href=\"uid/0/exe/shared/debug/pprof/allocs\">"), 0);
	assert_int_equal(count(t->s, "<li>shared (uid 0): <a href=\"uid/0/exe/shared/debug/pprof/heap\">heap</a>, "
	                             "<a href=\"uid/0/exe/shared/debug/pprof/allocs\">"), 1);
	assert_int_equal(count(t->s, "<li>a&lt;b&amp;c d: <a href=\"exe/a%3Cb%26c%20d/debug/pprof/heap\">"), 1);
	assert_int_equal(count(t->s, "<li>"), 5);   /* the /metrics link and 4 lines */
	/* In the order the live list has them (newest first). */
	assert_true(strstr(t->s, "shared (uid 1000)") < strstr(t->s, "a&lt;b"));
	assert_true(strstr(t->s, "a&lt;b") < strstr(t->s, "shared (uid 0)"));
	assert_true(strstr(t->s, "shared (uid 0)") < strstr(t->s, "<li>worker"));
	for (int i = 0; i < 6; i++) {
		jmdt_proc_gone(d, p[i]);
		jmdt_proc_free(p[i]);
	}
}

/* Built once a tick, whatever the requests: the same bytes until the next
 * tick is done (tick_done: a tick begun is not enough), which sees the
 * processes of then. */
static void test_once_a_tick(void **state)
{
	(void)state;
	struct jmd *d = pprof_daemon();
	struct jmd_proc *a = jmdt_proc_add(d, 10, 1, "first", 1);
	d->tick = d->tick_done = 5;
	const struct jmd_text *t = jmd_http_landing(d);
	assert_non_null(t);
	assert_int_equal(d->metrics->landing_builds, 1);
	for (int i = 0; i < 100; i++)
		assert_ptr_equal(jmd_http_landing(d), t);
	assert_int_equal(d->metrics->landing_builds, 1);
	struct jmd_proc *b = jmdt_proc_add(d, 11, 1, "second", 1);
	d->tick++;   /* begun: the page of the tick done still */
	assert_ptr_equal(jmd_http_landing(d), t);
	assert_int_equal(d->metrics->landing_builds, 1);
	d->tick_done = d->tick;
	t = jmd_http_landing(d);
	assert_int_equal(d->metrics->landing_builds, 2);
	assert_non_null(strstr(t->s, "<li>second:"));
	assert_non_null(strstr(t->s, "<li>first:"));
	jmdt_proc_gone(d, a);
	jmdt_proc_gone(d, b);
	jmdt_proc_free(a);
	jmdt_proc_free(b);
}

/* The build's work is linear in the processes: at most 8 steps (a process
 * looked at, a name compared) a process, with 2,000 processes of 1,000
 * names (each run by two uids: every line says its uid), or all of one
 * name; the old build made n^2 / 2 and more (2,000,000 at 2,000). */
static void build_with(unsigned n, unsigned names, unsigned uids)
{
	struct jmd *d = pprof_daemon();
	struct jmd_proc **p = calloc(n, sizeof(*p));
	assert_non_null(p);
	for (unsigned i = 0; i < n; i++) {
		char exe[32];
		snprintf(exe, sizeof exe, "svc%u", i % names);
		p[i] = jmdt_proc_add(d, (pid_t)(100 + i), 1, exe, 1);
		p[i]->uid = 1000 + (i / names) % uids;
	}
	const struct jmd_text *t = jmd_http_landing(d);
	assert_non_null(t);
	size_t lines = count(t->s, "<li>") - 1;
	size_t want = names * (uids < n / names ? uids : n / names);
	if (lines != want)
		fail_msg("%zu lines, want %zu", lines, want);
	if (d->metrics->landing_steps > 8ull * n)
		fail_msg("%u processes, %u names, %u uids: %llu steps, more than 8 a process",
		         n, names, uids, (unsigned long long)d->metrics->landing_steps);
	print_message("%u processes, %u names, %u uids: %llu steps\n", n, names, uids,
	              (unsigned long long)d->metrics->landing_steps);
	for (unsigned i = 0; i < n; i++) {
		jmdt_proc_gone(d, p[i]);
		jmdt_proc_free(p[i]);
	}
	free(p);
}

static void test_linear(void **state)
{
	(void)state;
	build_with(2000, 1000, 2);
	build_with(2000, 2000, 1);
	build_with(2000, 1, 1);
	build_with(2000, 1, 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content),
		cmocka_unit_test(test_once_a_tick),
		cmocka_unit_test(test_linear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
