/*
 * test_jmd_config.c: jmstatd's config parser (jmstatd/config.c) and the
 * alert engine's checks of what it hands over (alerts.c), through
 * jmd_config_load_text() as a start or a SIGHUP reload calls it: the
 * syntax (comments, blanks, values that run to the end of the line,
 * sections), the value forms (sizes, durations, ratios), every error as
 * FILE:LINE: reason with all of a file's errors logged, a refused file
 * leaving the rules in force, and the built-in rule. docs/config.md and
 * jmstatd.conf(5) are the reference.
 */
#include "jmd_test.h"

/* Loads text as a file named t.conf; returns what jmd_config_load_text()
 * returned, the log holding what it said. */
static int load(struct jmd *d, const char *text)
{
	jmdt_log_clear();
	return jmd_config_load_text(d, "t.conf", text);
}

static void test_builtin_rule(void **state)
{
	(void)state;
	jmdt_log_clear();
	struct jmd *d = jmdt_daemon(false);
	assert_logged("alert rules in force: fragmentation (fragmentation)");
	assert_int_equal(load(d, ""), 0);   /* a file with no rule: none */
	assert_logged("alert rules in force: none");
}

static void test_syntax(void **state)
{
	(void)state;
	struct jmd *d = jmdt_daemon(false);
	assert_int_equal(load(d,
		"# a comment\n"
		"; another\n"
		"   \t\n"
		"  command   =   /usr/bin/notify --tag #1  \n"   /* '#' inside a value is kept */
		"notify = firing,resolved\n"
		"command_timeout = 500ms\n"
		"resolved_keep = 1h\n"
		"\n"
		"[rule a-b.c_1]\n"
		"kind = fragmentation\n"
		"ratio = 50%\n"
		"[rule g]\n"
		"kind=growth\n"
		"growth=1GB\n"
		"window=5m\n"
		"metric = active\n"
		"[rule s]\n"
		"kind = sparse_bin\n"
		"util_below = 0.25\n"
		"min_held = 3 MiB\n"
		"for = 90\n"
		"[global]\n"), 0);
	assert_logged("alert rules in force: a-b.c_1 (fragmentation), g (growth), s (sparse_bin)");
	assert_int_equal(d->config_errors, 0);
	/* CRLF line ends are taken too. */
	assert_int_equal(load(d, "[rule x]\r\nkind = fragmentation\r\nratio = 0.5\r\n"), 0);
	assert_logged("alert rules in force: x (fragmentation)");
}

static void test_values(void **state)
{
	double v;
	(void)state;
	assert_int_equal(jmd_parse_bytes("4096", &v), 0);       assert_true(v == 4096);
	assert_int_equal(jmd_parse_bytes("64MiB", &v), 0);      assert_true(v == 64.0 * 1048576);
	assert_int_equal(jmd_parse_bytes("1.5 GiB", &v), 0);    assert_true(v == 1.5 * 1073741824);
	assert_int_equal(jmd_parse_bytes("2kB", &v), 0);        assert_true(v == 2000);
	assert_int_equal(jmd_parse_bytes("3MB", &v), 0);        assert_true(v == 3e6);
	assert_int_not_equal(jmd_parse_bytes("64 mib", &v), 0); /* units are case sensitive */
	assert_int_not_equal(jmd_parse_bytes("-1", &v), 0);
	assert_int_not_equal(jmd_parse_bytes("", &v), 0);
	assert_int_not_equal(jmd_parse_bytes("nan", &v), 0);
	assert_int_not_equal(jmd_parse_bytes("12 parsecs", &v), 0);
	assert_int_equal(jmd_parse_duration("30", &v), 0);      assert_true(v == 30);
	assert_int_equal(jmd_parse_duration("500ms", &v), 0);   assert_true(v == 0.5);
	assert_int_equal(jmd_parse_duration("10m", &v), 0);     assert_true(v == 600);
	assert_int_equal(jmd_parse_duration("2h", &v), 0);      assert_true(v == 7200);
	assert_int_not_equal(jmd_parse_duration("1d", &v), 0);
	assert_int_equal(jmd_parse_ratio("0.5", &v), 0);        assert_true(v == 0.5);
	assert_int_equal(jmd_parse_ratio("25%", &v), 0);        assert_true(v == 0.25);
	assert_int_equal(jmd_parse_ratio("1", &v), 0);          assert_true(v == 1);
	assert_int_not_equal(jmd_parse_ratio("1.5", &v), 0);
	assert_int_not_equal(jmd_parse_ratio("150%", &v), 0);
}

/* One bad file: the return, the error line, the count. */
static void bad(const char *text, const char *error)
{
	struct jmd *d = jmdt_daemon(false);
	int rc = load(d, text);
	if (rc != -EINVAL)
		fail_msg("accepted (%d): %s", rc, text);
	if (!jmdt_logged(error))
		fail_msg("for:\n%s\nnot logged: \"%s\"; the log:\n%s", text, error, jmdt_log);
	assert_true(d->config_errors >= 1);
}

static void test_errors(void **state)
{
	(void)state;
	bad("[rule frag]\nkind = fragmentation\nratio = 1.5\n",
	    "t.conf:3: rule 'frag': ratio: '1.5' is not a ratio between 0 and 1 (e.g. 0.5 or 50%)");
	bad("[rule f]\nkind = fragmentation\nmin_wasted = lots\nratio = 0.5\n",
	    "t.conf:3: rule 'f': min_wasted: 'lots' is not a size in bytes");
	bad("[rule f]\nkind = fragmentation\nratio = 0.5\nfor = soon\n",
	    "t.conf:4: rule 'f': for: 'soon' is not a duration");
	bad("[rule f]\nkind = fragmentation\n", "t.conf:1: rule 'f': kind fragmentation needs 'ratio'");
	bad("[rule f]\nratio = 0.5\n", "t.conf:1: rule 'f': missing 'kind'");
	bad("[rule f]\nkind = leak\n", "t.conf:2: rule 'f': kind 'leak' is not fragmentation, growth or");
	bad("[rule f]\nkind = fragmentation\nratio = 0.5\nwindow = 5m\n",
	    "rule 'f': 'window' does not apply to kind fragmentation");
	bad("[rule f]\nkind = fragmentation\nratio = 0.5\nratio = 0.6\n", "t.conf:4: rule 'f': 'ratio' set twice");
	bad("[rule f]\nkind = fragmentation\nratio = 0.5\nspeed = 3\n", "t.conf:4: rule 'f': unknown setting 'speed'");
	bad("[rule a]\nkind = fragmentation\nratio = 0.5\n[rule a]\nkind = fragmentation\nratio = 0.5\n",
	    "t.conf:4: rule 'a' defined twice");
	bad("[rules]\n", "t.conf:1: unknown section '[rules]': expected [rule NAME] or [global]");
	bad("[rule]\n", "t.conf:1: a rule needs a name: [rule NAME]");
	bad("[rule a b]\n", "t.conf:1: a section name may hold only letters, digits");
	bad("[rule a\n", "t.conf:1: a section header must end with ']'");
	bad("command = true\ncommand = false\n", "t.conf:2: 'command' set twice");
	bad("[global]\nnotify = fired\n", "t.conf:2: notify: 'fired' is not pending, firing, resolved or none");
	bad("frobnicate = 1\n", "t.conf:1: unknown setting 'frobnicate' (global settings:");
	bad("just words\n", "t.conf:1: expected 'key = value' or '[section]', not 'just words'");
	bad("= 3\n", "t.conf:1: a setting without a key");
	bad("[rule g]\nkind = growth\ngrowth = 1GiB\nwindow = 1d\n", "t.conf:4: rule 'g': window: '1d'");
	bad("[rule g]\nkind = growth\ngrowth = 1GiB\nwindow = 5h\n",
	    "t.conf:1: rule 'g': window must be between the interval");
	bad("[rule g]\nkind = growth\ngrowth = 1GiB\nwindow = 5m\nmetric = rss\n",
	    "rule 'g': metric 'rss' is not mapped, active or allocated");
}

static void test_every_error_logged(void **state)
{
	(void)state;
	struct jmd *d = jmdt_daemon(false);
	assert_int_equal(load(d, "[rule a]\nkind = fragmentation\nratio = 2\n"
	                         "[rule b]\nkind = growth\ngrowth = x\nwindow = 5m\n"
	                         "[bogus]\nkind = whatever\n"
	                         "[rule c]\nkind = sparse_bin\nutil_below = 0.2\n"), -EINVAL);
	assert_logged("t.conf:3: rule 'a': ratio: '2'");
	assert_logged("t.conf:6: rule 'b': growth: 'x'");
	assert_logged("t.conf:8: unknown section '[bogus]'");
	assert_int_equal(d->config_errors, 3);   /* [bogus]'s lines are skipped, not errors */
}

static void test_refused_file_keeps_rules(void **state)
{
	(void)state;
	struct jmd *d = jmdt_daemon(false);
	assert_int_equal(load(d, "[rule keep]\nkind = fragmentation\nratio = 0.5\n"), 0);
	assert_logged("alert rules in force: keep (fragmentation)");
	assert_int_equal(load(d, "[rule new]\nkind = fragmentation\nratio = 0.5\n[rule bad]\nkind = x\n"),
	                 -EINVAL);
	assert_false(jmdt_logged("alert rules in force"));
	/* The rules in force are still `keep`: /metrics lists them. */
	struct jmd_text t = { 0 };
	jmd_alerts_metrics(d, &t);
	assert_non_null(t.s);
	assert_non_null(strstr(t.s, "rule=\"keep\""));
	assert_null(strstr(t.s, "rule=\"new\""));
	free(t.s);
}

static void test_rule_limits(void **state)
{
	(void)state;
	struct jmd *d = jmdt_daemon(false);
	char *text = malloc(70 * 64);
	size_t len = 0;
	assert_non_null(text);
	for (int i = 0; i < 65; i++)
		len += (size_t)sprintf(text + len, "[rule r%d]\nkind = fragmentation\nratio = 0.5\n", i);
	assert_int_equal(load(d, text), -EINVAL);
	assert_logged("t.conf:193: more than 64 rules");
	free(text);
	char name[100];
	memset(name, 'n', sizeof name);
	name[sizeof name - 1] = '\0';
	char buf[200];
	snprintf(buf, sizeof buf, "[rule %s]\n", name);
	assert_int_equal(load(d, buf), -EINVAL);
	assert_logged("rule name longer than");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin_rule),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_every_error_logged),
		cmocka_unit_test(test_refused_file_keeps_rules),
		cmocka_unit_test(test_rule_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
