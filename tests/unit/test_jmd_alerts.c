/*
 * test_jmd_alerts.c: the alert state machine (jmstatd/alerts.c) on
 * processes built by hand, tick by tick, with the clock the test sets:
 * fragmentation wants both its ratio and its bytes; pending for `for`,
 * then firing; a condition gone before `for` leaves no alert; the
 * hysteresis (a value back past the threshold but not past `clear` keeps
 * firing; `clear_for` must hold; clear_bytes); a process that exits
 * resolves its firing alert and drops its pending one; a new episode is a
 * new id; a reused pid is another alert; sparse_bin alerts per bin; the
 * command's environment on each notified transition (tests/unit/jmd_test.h
 * records the spawn and runs nothing). docs/config.md describes the rules.
 */
#include "jmd_test.h"

#include <signal.h>
#include <sys/wait.h>

#define MiB (1024.0 * 1024.0)

static void tick(struct jmd *d, double dt)
{
	d->now += dt;
	d->mono += dt;
	d->tick++;
	d->tick_time[d->tick % d->hist_max] = d->now;
	d->tick_mono[d->tick % d->hist_max] = d->mono;
	for (struct jmd_proc *p = d->live; p; p = p->next)
		jmd_alerts_evaluate(d, p);
	jmd_alerts_tick_done(d);
	/* The loop's turn: commands that failed to start are closed (until
	 * then they hold their user's command slots). */
	uv_run(d->loop, UV_RUN_NOWAIT);
}

/* The process's figures: active and allocated bytes. */
static void set_frag(struct jmd_proc *p, double active, double allocated)
{
	p->tot.active = (uint64_t)active;
	p->tot.allocated = (uint64_t)allocated;
	p->tot.mapped = (uint64_t)active;
}

/* The state of the alert of rule on pid (and bin, 0 for none): "pending",
 * "firing", "resolved", or "none" when none is listed; *id its id. */
static const char *state_of(struct jmd *d, const char *rule, pid_t pid, uint32_t bin,
                            long *id)
{
	static char state[16];
	json_t *list = jmd_alerts_list(d, 0);
	assert_true(json_is_array(list));
	snprintf(state, sizeof state, "none");
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *a = json_array_get(list, i);
		json_t *bs = json_object_get(a, "bin_size");
		if (strcmp(json_string_value(json_object_get(a, "rule")), rule) != 0 ||
		    json_integer_value(json_object_get(a, "pid")) != pid ||
		    (bs ? (uint32_t)json_integer_value(bs) : 0) != bin)
			continue;
		const char *s = json_string_value(json_object_get(a, "state"));
		/* The latest episode wins: resolved ones stay listed. */
		snprintf(state, sizeof state, "%s", s);
		if (id)
			*id = (long)json_integer_value(json_object_get(a, "id"));
	}
	json_decref(list);
	return state;
}

/* The process "svc" (pid 100) of d with those bytes, after one tick in
 * which rule f's alert for it reached state want (its id in *id). */
static struct jmd_proc *svc(struct jmd *d, double active, double allocated, const char *want,
                            long *id)
{
	struct jmd_proc *p = jmdt_proc_add(d, 100, 1, "svc", 0);

	set_frag(p, active, allocated);
	tick(d, 1);
	assert_string_equal(state_of(d, "f", 100, 0, id), want);
	return p;
}

static struct jmd *daemon_with(const char *config)
{
	struct jmd *d = jmdt_daemon(false);
	jmdt_log_clear();
	if (jmd_config_load_text(d, "test.conf", config) != 0)
		fail_msg("config refused:\n%s", jmdt_log);
	return d;
}

static void test_fragmentation_needs_ratio_and_bytes(void **state)
{
	(void)state;
	struct jmd *d = daemon_with("[rule f]\nkind = fragmentation\nratio = 0.5\nmin_wasted = 16MiB\n");
	struct jmd_proc *p = jmdt_proc_add(d, 100, 1, "svc", 0);

	set_frag(p, 4 * MiB, 0.1 * MiB);      /* 97%, but 3.9 MiB: a tiny heap */
	tick(d, 1);
	assert_string_equal(state_of(d, "f", 100, 0, NULL), "none");
	set_frag(p, 100 * MiB, 60 * MiB);     /* 40 MiB, but 40% */
	tick(d, 1);
	assert_string_equal(state_of(d, "f", 100, 0, NULL), "none");
	set_frag(p, 100 * MiB, 40 * MiB);     /* 60% and 60 MiB: for = 0 fires at once */
	tick(d, 1);
	assert_string_equal(state_of(d, "f", 100, 0, NULL), "firing");
	assert_logged("alert 1 f: pid 100 (svc): inactive -> firing: fragmentation 60.0%: "
	              "60.0 MiB of 100 MiB active not allocated (rule: above 50.0% with over 16.0 MiB)");
}

static void test_pending_then_firing(void **state)
{
	(void)state;
	struct jmd *d = daemon_with("[rule f]\nkind = fragmentation\nratio = 0.5\n"
	                            "min_wasted = 1MiB\nfor = 10s\n");
	svc(d, 100 * MiB, 10 * MiB, "pending", NULL);
	for (int i = 0; i < 9; i++)
		tick(d, 1);
	assert_string_equal(state_of(d, "f", 100, 0, NULL), "pending");   /* held 9 s */
	tick(d, 1);
	assert_string_equal(state_of(d, "f", 100, 0, NULL), "firing");    /* held 10 s */
	assert_logged("pending -> firing");
}

static void test_pending_cleared_before_for(void **state)
{
	(void)state;
	struct jmd *d = daemon_with("[rule f]\nkind = fragmentation\nratio = 0.5\n"
	                            "min_wasted = 1MiB\nfor = 10s\n");
	struct jmd_proc *p = jmdt_proc_add(d, 100, 1, "svc", 0);
	set_frag(p, 100 * MiB, 10 * MiB);
	tick(d, 1);
	tick(d, 5);
	assert_string_equal(state_of(d, "f", 100, 0, NULL), "pending");
	set_frag(p, 100 * MiB, 90 * MiB);
	tick(d, 1);
	assert_string_equal(state_of(d, "f", 100, 0, NULL), "none");
	assert_logged("pending -> inactive");
	assert_logged("the condition cleared before it was held for long enough");
	/* Back above: a new pending alert, whose `for` starts again. */
	set_frag(p, 100 * MiB, 10 * MiB);
	tick(d, 1);
	tick(d, 9);
	assert_string_equal(state_of(d, "f", 100, 0, NULL), "pending");
}

static void test_hysteresis(void **state)
{
	(void)state;
	/* clear defaults to ratio x 0.9 = 0.45; clear_for 5 s. */
	struct jmd *d = daemon_with("[rule f]\nkind = fragmentation\nratio = 0.5\n"
	                            "min_wasted = 1MiB\nclear_for = 5s\n");
	long id1 = 0, id2 = 0;
	struct jmd_proc *p = svc(d, 100 * MiB, 40 * MiB, "firing", &id1);
	set_frag(p, 100 * MiB, 52 * MiB);     /* 48%: under the threshold, over clear */
	for (int i = 0; i < 10; i++)
		tick(d, 1);
	assert_string_equal(state_of(d, "f", 100, 0, NULL), "firing");
	set_frag(p, 100 * MiB, 60 * MiB);     /* 40%: clear, for 4 s only */
	for (int i = 0; i < 4; i++)
		tick(d, 1);
	set_frag(p, 100 * MiB, 52 * MiB);     /* back to 48%: the clear time restarts */
	tick(d, 1);
	set_frag(p, 100 * MiB, 60 * MiB);     /* clear from this sample on */
	for (int i = 0; i < 5; i++)
		tick(d, 1);
	assert_string_equal(state_of(d, "f", 100, 0, NULL), "firing");   /* clear for 4 s */
	tick(d, 1);                           /* clear for 5 s */
	assert_string_equal(state_of(d, "f", 100, 0, NULL), "resolved");
	assert_logged("firing -> resolved");
	assert_logged("fragmentation down to 40.0%, under 45.0%");
	/* A new episode is a new alert. */
	set_frag(p, 100 * MiB, 40 * MiB);
	tick(d, 1);
	assert_string_equal(state_of(d, "f", 100, 0, &id2), "firing");
	assert_true(id2 > id1);
}

static void test_clear_bytes(void **state)
{
	(void)state;
	/* clear_bytes defaults to 90% of min_wasted: 9 MiB. */
	struct jmd *d = daemon_with("[rule f]\nkind = fragmentation\nratio = 0.5\nmin_wasted = 10MiB\n");
	struct jmd_proc *p = svc(d, 20 * MiB, 8 * MiB, "firing", NULL);  /* 60%, 12 MiB */
	set_frag(p, 18 * MiB, 8.5 * MiB);     /* 9.5 MiB: under min_wasted, over clear_bytes */
	tick(d, 1);
	assert_string_equal(state_of(d, "f", 100, 0, NULL), "firing");
	set_frag(p, 16 * MiB, 8 * MiB);       /* 50% still, but 8 MiB */
	tick(d, 1);
	assert_string_equal(state_of(d, "f", 100, 0, NULL), "resolved");
	assert_logged("fragmented bytes down to 8.00 MiB, under 9.00 MiB (fragmentation still 50.0%)");
}

static void test_process_gone(void **state)
{
	(void)state;
	struct jmd *d = daemon_with("[rule f]\nkind = fragmentation\nratio = 0.5\nmin_wasted = 1MiB\n"
	                            "[rule slow]\nkind = fragmentation\nratio = 0.5\n"
	                            "min_wasted = 1MiB\nfor = 1h\n");
	struct jmd_proc *p = svc(d, 100 * MiB, 10 * MiB, "firing", NULL);
	assert_string_equal(state_of(d, "slow", 100, 0, NULL), "pending");
	jmdt_proc_gone(d, p);
	tick(d, 1);
	assert_string_equal(state_of(d, "f", 100, 0, NULL), "resolved");
	assert_string_equal(state_of(d, "slow", 100, 0, NULL), "none");
	assert_logged("firing -> resolved: fragmentation 90.0%");
	assert_logged("the process is gone");
	jmdt_proc_free(p);
}

static void test_reused_pid(void **state)
{
	(void)state;
	struct jmd *d = daemon_with("[rule f]\nkind = fragmentation\nratio = 0.5\nmin_wasted = 1MiB\n");
	long id1 = 0, id2 = 0;
	struct jmd_proc *p = svc(d, 100 * MiB, 10 * MiB, "firing", &id1);
	/* The process exits and another takes its pid (another start time)
	 * within the same interval. */
	jmdt_proc_gone(d, p);
	struct jmd_proc *q = jmdt_proc_add(d, 100, 999, "svc", 0);
	set_frag(q, 100 * MiB, 10 * MiB);
	tick(d, 1);
	assert_string_equal(state_of(d, "f", 100, 0, &id2), "firing");
	assert_true(id2 != id1);
	assert_logged("alert 1 f: pid 100 (svc): firing -> resolved");
	jmdt_proc_free(p);
}

static void test_exe_glob(void **state)
{
	(void)state;
	struct jmd *d = daemon_with("[rule f]\nkind = fragmentation\nratio = 0.5\nmin_wasted = 1MiB\n"
	                            "exe = web*\n");
	struct jmd_proc *p = jmdt_proc_new(100, 1, "svc", 0);
	struct jmd_proc *q = jmdt_proc_add(d, 200, 1, "webserver", 0);
	jmdt_proc_live(d, p);
	set_frag(p, 100 * MiB, 10 * MiB);
	set_frag(q, 100 * MiB, 10 * MiB);
	tick(d, 1);
	assert_string_equal(state_of(d, "f", 100, 0, NULL), "none");
	assert_string_equal(state_of(d, "f", 200, 0, NULL), "firing");
}

static void test_sparse_bin_per_bin(void **state)
{
	(void)state;
	struct jmd *d = daemon_with("[rule s]\nkind = sparse_bin\nutil_below = 25%\nmin_held = 1MiB\n");
	struct jmd_proc *p = jmdt_proc_new(100, 1, "svc", 4);   /* bins 16, 32, 48, 64 */
	jmdt_proc_live(d, p);
	/* bin 32: 10% used of 2 MiB held; bin 64: 10% of 512 KiB (too small);
	 * bin 48: 50% of 3 MiB. */
	p->bins[1].capacity = 65536; p->bins[1].inuse_runs = p->bins[1].inuse = 6554;
	p->bins[3].capacity = 8192;  p->bins[3].inuse_runs = p->bins[3].inuse = 819;
	p->bins[2].capacity = 65536; p->bins[2].inuse_runs = p->bins[2].inuse = 32768;
	tick(d, 1);
	assert_string_equal(state_of(d, "s", 100, 32, NULL), "firing");
	assert_string_equal(state_of(d, "s", 100, 64, NULL), "none");
	assert_string_equal(state_of(d, "s", 100, 48, NULL), "none");
	assert_logged("alert 1 s: pid 100 (svc) bin 32: inactive -> firing: bin 32 B: 10.0% of its "
	              "regions in use, 2.00 MiB held in runs (rule: under 25.0% with over 1.00 MiB)");
	/* Back up past clear (25% x 1.1 = 27.5%). */
	p->bins[1].inuse_runs = p->bins[1].inuse = 19661;   /* 30% */
	tick(d, 1);
	assert_string_equal(state_of(d, "s", 100, 32, NULL), "resolved");
}

static void test_command_environment(void **state)
{
	(void)state;
	struct jmd *d = daemon_with("command = /usr/local/bin/page-oncall --now\n"
	                            "notify = pending, firing, resolved\n"
	                            "[rule f]\nkind = fragmentation\nratio = 0.5\n"
	                            "min_wasted = 1MiB\nfor = 2s\n");
	struct jmd_proc *p = jmdt_proc_add(d, 4242, 1, "myservice", 0);
	jmdt_nspawns = 0;
	set_frag(p, 100 * MiB, 10 * MiB);
	tick(d, 1);
	tick(d, 2);
	set_frag(p, 100 * MiB, 90 * MiB);
	tick(d, 1);
	assert_int_equal(jmdt_nspawns, 3);   /* pending, firing, resolved */
	static const char *const states[][2] = {
		{ "pending", "inactive" }, { "firing", "pending" }, { "resolved", "firing" },
	};
	for (unsigned i = 0; i < 3; i++) {
		const struct jmdt_spawn *s = &jmdt_spawns[i];
		assert_string_equal(s->file, "/bin/sh");
		assert_string_equal(s->cmd, "/usr/local/bin/page-oncall --now");
		assert_string_equal(jmdt_spawn_env(s, "JMALLOC_ALERT_STATE"), states[i][0]);
		assert_string_equal(jmdt_spawn_env(s, "JMALLOC_ALERT_PREVIOUS_STATE"), states[i][1]);
		assert_string_equal(jmdt_spawn_env(s, "JMALLOC_ALERT_RULE"), "f");
		assert_string_equal(jmdt_spawn_env(s, "JMALLOC_ALERT_KIND"), "fragmentation");
		assert_string_equal(jmdt_spawn_env(s, "JMALLOC_ALERT_PID"), "4242");
		assert_string_equal(jmdt_spawn_env(s, "JMALLOC_ALERT_EXE"), "myservice");
		assert_string_equal(jmdt_spawn_env(s, "JMALLOC_ALERT_ID"), "1");
		assert_non_null(jmdt_spawn_env(s, "JMALLOC_ALERT_MESSAGE"));
	}
	/* A rule's empty command turns the global one off for it. */
	struct jmd *d2 = daemon_with("command = /bin/true\n[rule f]\nkind = fragmentation\n"
	                             "ratio = 0.5\nmin_wasted = 1MiB\ncommand =\n");
	struct jmd_proc *q = jmdt_proc_add(d2, 7, 1, "x", 0);
	set_frag(q, 100 * MiB, 10 * MiB);
	jmdt_nspawns = 0;
	tick(d2, 1);
	assert_string_equal(state_of(d2, "f", 7, 0, NULL), "firing");
	assert_int_equal(jmdt_nspawns, 0);
}

/* A pid no process has now: a child's, exited and reaped. */
static pid_t pid_gone(void)
{
	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0)
		_exit(0);
	assert_int_equal(waitpid(c, NULL, 0), c);
	return c;
}

/* A firing alert's command queued for a process that had exited already
 * when it fired (the daemon had not seen it go: a process that exits just
 * before a tick): the pid read then named none, and the command was not
 * checked as it started; root's process started under that pid meanwhile
 * was the one JMALLOC_ALERT_PID named. Now a pid that named no process
 * when the command was queued and names one when it starts is another's:
 * the command is not run. (Needs ns_last_pid to place the process.) */
static void test_queued_gone_pid_reused(void **state)
{
	(void)state;
	if (access("/proc/sys/kernel/ns_last_pid", W_OK) != 0)
		skip();
	struct jmd *d = daemon_with("command = /bin/true\nnotify = firing\n"
	                            "[rule f]\nkind = fragmentation\nratio = 0.5\nmin_wasted = 1MiB\n");
	struct jmd_proc *p[3];
	for (int i = 0; i < 3; i++) {
		p[i] = jmdt_proc_add(d, pid_gone(), 1, "svc", 0);
		set_frag(p[i], 100 * MiB, 10 * MiB);
	}
	jmdt_nspawns = 0;
	d->now += 1;
	d->mono += 1;
	d->tick++;
	d->tick_time[d->tick % d->hist_max] = d->now;
	d->tick_mono[d->tick % d->hist_max] = d->mono;
	for (int i = 0; i < 3; i++)
		jmd_alerts_evaluate(d, p[i]);
	/* uid 1000's two slots taken (until the loop's turn closes their
	 * failed spawns): the third waits. */
	assert_int_equal(jmdt_nspawns, 2);
	assert_string_equal(state_of(d, "f", p[2]->pid, 0, NULL), "firing");
	/* Another process under the third's pid. */
	pid_t other = -1;
	for (int attempt = 0; attempt < 500 && other != p[2]->pid; attempt++) {
		if (other > 0) {
			kill(other, SIGKILL);
			waitpid(other, NULL, 0);
		}
		FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");
		assert_non_null(f);
		fprintf(f, "%d", (int)p[2]->pid - 1);
		fclose(f);
		other = fork();
		assert_true(other >= 0);
		if (other == 0) {
			pause();
			_exit(0);
		}
	}
	pid_t want = p[2]->pid;
	bool placed = other == want;
	jmd_alerts_tick_done(d);
	for (int i = 0; i < 5; i++)
		uv_run(d->loop, UV_RUN_NOWAIT);
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	if (!placed)
		skip();
	assert_int_equal(jmdt_nspawns, 2);   /* 3 on the old daemon */
	assert_logged("its command not run: its pid");
	for (int i = 0; i < 3; i++) {
		jmdt_proc_gone(d, p[i]);
		jmdt_proc_free(p[i]);
	}
}

static void test_reload_keeps_alerts_of_kept_rules(void **state)
{
	(void)state;
	struct jmd *d = daemon_with("[rule f]\nkind = fragmentation\nratio = 0.5\nmin_wasted = 1MiB\n"
	                            "[rule g]\nkind = fragmentation\nratio = 0.5\nmin_wasted = 1MiB\n");
	long id_before = 0, id_after = 0;
	svc(d, 100 * MiB, 10 * MiB, "firing", &id_before);
	assert_string_equal(state_of(d, "g", 100, 0, NULL), "firing");
	/* f keeps its name and kind (a new threshold), g goes. */
	assert_int_equal(jmd_config_load_text(d, "reload.conf", "[rule f]\nkind = fragmentation\n"
	                                      "ratio = 0.6\nmin_wasted = 1MiB\n"), 0);
	tick(d, 1);
	assert_string_equal(state_of(d, "f", 100, 0, &id_after), "firing");
	assert_int_equal(id_after, id_before);
	assert_string_equal(state_of(d, "g", 100, 0, NULL), "resolved");
	/* A refused file changes nothing. */
	assert_int_not_equal(jmd_config_load_text(d, "bad.conf", "[rule f]\nkind = nope\n"), 0);
	tick(d, 1);
	assert_string_equal(state_of(d, "f", 100, 0, NULL), "firing");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fragmentation_needs_ratio_and_bytes),
		cmocka_unit_test(test_pending_then_firing),
		cmocka_unit_test(test_pending_cleared_before_for),
		cmocka_unit_test(test_hysteresis),
		cmocka_unit_test(test_clear_bytes),
		cmocka_unit_test(test_process_gone),
		cmocka_unit_test(test_reused_pid),
		cmocka_unit_test(test_exe_glob),
		cmocka_unit_test(test_sparse_bin_per_bin),
		cmocka_unit_test(test_command_environment),
		cmocka_unit_test(test_queued_gone_pid_reused),
		cmocka_unit_test(test_reload_keeps_alerts_of_kept_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
