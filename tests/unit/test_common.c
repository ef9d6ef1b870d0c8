/*
 * test_common.c: the rules jmstatd and jmctl share (common/): how bytes are
 * written (one function for alert messages, logs and jmctl's tables: it
 * used to be two, and jmstatd's wrote "1024 KiB"), and the process sort
 * keys of `jmctl ps` and `jmctl top` (top's copy lacked `dirty`).
 */
#include "format.c"
#include "sortkeys.c"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

static void check_bytes(double v, const char *want)
{
	char buf[32];
	const char *got = jm_fmt_bytes(buf, sizeof buf, v);
	if (strcmp(got, want) != 0)
		fail_msg("jm_fmt_bytes(%.17g) = \"%s\", want \"%s\"", v, got, want);
}

static void test_bytes(void **state)
{
	(void)state;
	check_bytes(0, "0 B");
	check_bytes(-5, "0 B");
	check_bytes(0.0 / 0.0, "0 B");
	check_bytes(512, "512 B");
	check_bytes(1023, "1023 B");
	check_bytes(1024, "1.00 KiB");
	check_bytes(1536, "1.50 KiB");
	check_bytes(10 * 1024 - 1, "10.0 KiB");   /* 9.999 KiB rounds to 10.0 */
	check_bytes(12.34 * 1048576, "12.3 MiB");
	check_bytes(104.4 * 1073741824.0, "104 GiB");
	/* A value that rounds to 1000 or more of a unit is the next unit. */
	check_bytes(1023.9 * 1024, "1.00 MiB");
	check_bytes(1048575, "1.00 MiB");
	check_bytes(1048576, "1.00 MiB");
	check_bytes(999.4 * 1024, "999 KiB");
	check_bytes(999.6 * 1024, "0.98 MiB");
	check_bytes(64.0 * 1048576, "64.0 MiB");
	check_bytes(1125899906842624.0 * 2000, "2000 PiB");  /* past the last unit */
}

static void test_three_digits(void **state)
{
	char buf[32];
	(void)state;
	assert_string_equal(jm_fmt_three_digits(buf, sizeof buf, 1.234, "k"), "1.23k");
	assert_string_equal(jm_fmt_three_digits(buf, sizeof buf, 12.34, "k"), "12.3k");
	assert_string_equal(jm_fmt_three_digits(buf, sizeof buf, 123.4, "k"), "123k");
}

static void test_proc_sort_keys(void **state)
{
	/* Every field a process key sorts on is a field of a process in the
	 * protocol's replies (docs/protocol.md, PROC). */
	static const char *const proc_fields[] = {
		"pid", "uid", "user", "exe", "start_time", "age", "nthreads", "narenas",
		"allocated", "active", "mapped", "dirty", "small_wasted", "frag_bytes",
		"frag_ratio", "alloc_rate", "free_rate", NULL
	};
	char names[256];
	size_t n = 0;
	(void)state;
	for (const struct jm_sort_key *k = jm_proc_sort_keys; k->name; k++, n++) {
		bool found = false;
		for (const char *const *f = proc_fields; *f; f++)
			found |= strcmp(*f, k->field) == 0;
		if (!found)
			fail_msg("sort key %s reads '%s', not a process field", k->name, k->field);
		assert_ptr_equal(jm_sort_find(jm_proc_sort_keys, k->name), k);
	}
	assert_int_equal(n, 11);
	assert_string_equal(jm_proc_sort_keys[0].name, "pid");   /* ps's default */
	assert_non_null(jm_sort_find(jm_proc_sort_keys, "dirty"));
	assert_non_null(jm_sort_find(jm_proc_sort_keys, "allocated"));
	assert_null(jm_sort_find(jm_proc_sort_keys, "nope"));
	assert_string_equal(jm_sort_names(names, sizeof names, jm_proc_sort_keys),
	                    "pid, user, exe, allocated, active, mapped, dirty, wasted, frag, rate, age");
	/* A buffer too short is cut, never overrun. */
	assert_string_equal(jm_sort_names(names, 6, jm_proc_sort_keys), "pid, ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_three_digits),
		cmocka_unit_test(test_proc_sort_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
