/*
 * test_jmd_jsonline.c: jmctl's quick reader of jmstatd's lines
 * (common/jsonline.c) against json_loads(), which it stands in for: on
 * every line it takes, the same tree (same keys in the same order, same
 * types and values: compared as json_dumps() writes them with every real's
 * 17 digits); every line it does not take is json_loads()'s to read or
 * refuse. The lines: the daemon's own ps reply for processes built here,
 * hand-made edge cases of the grammar, and a few thousand mutations of a
 * reply (bytes replaced, removed, doubled), with a fixed seed.
 */
#include "jmd_test.h"
#include "commands.h"
#include "jsonline.h"

#include <locale.h>

#define DUMP_FLAGS (JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(17))

/* Whether the quick reader took line; fails the test if it did and
 * json_loads() refuses line or reads another tree. */
static bool same_as_jansson(const char *line)
{
	json_error_t err;
	json_t *slow = json_loads(line, 0, &err);
	json_t *quick = jm_jsonline_read(line);

	if (quick) {
		if (!slow)
			fail_msg("the quick reader took a line json_loads() refuses (%s): %s", err.text,
			         line);
		char *a = json_dumps(quick, DUMP_FLAGS), *b = json_dumps(slow, DUMP_FLAGS);
		assert_non_null(a);
		assert_non_null(b);
		if (strcmp(a, b) != 0)
			fail_msg("read %s as %s, json_loads() as %s", line, a, b);
		free(a);
		free(b);
	}
	json_decref(slow);
	json_decref(quick);
	return quick != NULL;
}

/* The daemon's ps reply (ps.c) for n processes of several users,
 * names, sizes and rates, with every field and with jmctl's. */
static char *ps_reply(struct jmd *d, unsigned mask)
{
	const struct jmd_reply_cache *r = jmd_ps_cached(d, 0, mask);
	assert_non_null(r);
	char *s = malloc(r->len + 1);
	assert_non_null(s);
	memcpy(s, r->text, r->len);
	s[r->len] = '\0';
	return s;
}

static struct jmd *daemon_of(unsigned n)
{
	struct jmd *d = jmdt_daemon(false);
	for (unsigned i = 0; i < n; i++) {
		struct jmd_proc *p = jmdt_proc_add(d, (pid_t)(100 + i), 1000 + i,
		                                   i % 3 ? "sleep" : "a-long_name.v2", 4);
		p->uid = i % 2 ? 0 : 1000 + i;
		p->tot.allocated = (uint64_t)i * 123457;
		p->tot.active = (uint64_t)i * 4096 + 1;
		p->tot.mapped = (uint64_t)1 << (i % 40);
	}
	d->now = 1796532391.909;
	d->view_gen++;
	return d;
}

static void test_ps_reply(void **state)
{
	(void)state;
	struct jmd *d = daemon_of(200);
	unsigned jmctl_fields = 0;
	json_t *req = json_pack("{s:s,s:[ssssssssssss]}", "cmd", "ps", "fields", "pid", "uid",
	                        "user", "exe", "container", "allocated", "active", "mapped",
	                        "frag_ratio", "alloc_rate", "age", "allocated");
	assert_int_equal(jmd_ps_arg_fields(req, &jmctl_fields), 0);
	json_decref(req);
	unsigned masks[] = { JMD_PS_ALL, jmctl_fields };
	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		char *line = ps_reply(d, masks[i]);
		assert_true(same_as_jansson(line));   /* taken, and the same */
		free(line);
	}
}

static void test_grammar(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		bool taken;
	} cases[] = {
		{ "{}", true },
		{ "[]", true },
		{ " \t\r\n{ \"a\" : [ 1 , -2 , 0 , -0 , 3.5 , -0.25e-3 , 1E+2 , 2e5 ] } \n", true },
		{ "{\"ok\":true,\"x\":false,\"n\":null,\"s\":\"\",\"\":1}", true },
		{ "{\"a\":1,\"a\":2,\"b\":3}", true },        /* the last wins, in the first's place */
		{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", true },
		{ "{\"big\":999999999999999999}", true },    /* 18 digits */
		{ "{\"big\":-999999999999999999}", true },
		{ "{\"big\":9223372036854775807}", false },  /* 19 digits: jansson's */
		{ "{\"big\":9223372036854775808}", false },  /* refused by jansson */
		{ "{\"r\":1e400}", false },                  /* overflow: refused by jansson */
		{ "{\"r\":1e-400}", false },                 /* underflow: jansson's */
		{ "{\"r\":0.1234567890123456789012345678901234567890123456789012345678901234567}", false },
		{ "{\"s\":\"\\n\"}", false },                 /* an escape */
		{ "{\"s\":\"\\u00e9\"}", false },
		{ "{\"s\":\"caf\xc3\xa9\"}", false },          /* UTF-8 */
		{ "{\"s\":\"\xff\"}", false },                 /* not UTF-8 */
		{ "{\"s\":\"a\tb\"}", false },                 /* a control */
		{ "{\"s\":\"a\x7f\"}", false },
		{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", false },
		{ "", false },
		{ "1", false },                          /* not an object or array */
		{ "\"s\"", false },
		{ "null", false },
		{ "{} x", false },
		{ "{}{}", false },
		{ "{\"a\":01}", false },
		{ "{\"a\":-}", false },
		{ "{\"a\":1.}", false },
		{ "{\"a\":.5}", false },
		{ "{\"a\":1e}", false },
		{ "{\"a\":+1}", false },
		{ "{\"a\":truex}", false },
		{ "{\"a\":tru}", false },
		{ "{\"a\":True}", false },
		{ "{\"a\":NaN}", false },
		{ "{\"a\":1,}", false },
		{ "[1,]", false },
		{ "{,}", false },
		{ "{\"a\" 1}", false },
		{ "{a:1}", false },
		{ "{\"a\":1", false },
		{ "[1", false },
		{ "{\"a\":\"b", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (same_as_jansson(cases[i].line) != cases[i].taken)
			fail_msg("%s: %s", cases[i].line, cases[i].taken ? "not taken" : "taken");
	/* An embedded NUL ends the line for both. */
	assert_true(same_as_jansson("{\"a\":1}\0garbage"));
}

/* Mutations of a reply: whatever the quick reader takes, json_loads()
 * reads the same. */
static void test_mutations(void **state)
{
	(void)state;
	struct jmd *d = daemon_of(3);
	char *line = ps_reply(d, JMD_PS_ALL);
	size_t len = strlen(line);
	static const char bytes[] = "{}[]\",:.-+eE0123456789 \t\\truefalsn\x01\x7f\xc3\xa9";
	char *m = malloc(2 * len + 2);
	assert_non_null(m);
	uint64_t seed = 88172645463325252ull;
	unsigned taken = 0;
	for (unsigned i = 0; i < 4000; i++) {
		memcpy(m, line, len + 1);
		size_t mlen = len;
		for (unsigned k = 0; k < 1 + i % 3; k++) {
			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
			size_t at = (size_t)(seed >> 8) % mlen;
			switch (seed % 3) {
			case 0:          /* replaced */
				m[at] = bytes[(seed >> 40) % (sizeof(bytes) - 1)];
				break;
			case 1:          /* removed */
				memmove(m + at, m + at + 1, mlen - at);
				mlen--;
				break;
			default:         /* doubled */
				memmove(m + at + 1, m + at, mlen - at + 1);
				mlen++;
				break;
			}
		}
		taken += same_as_jansson(m);
	}
	assert_true(taken > 100);    /* digits replaced by digits, mostly */
	free(m);
	free(line);
}

/* A locale whose decimal point is not '.': strtod would stop at the '.',
 * jansson does not; the quick reader leaves such lines to jansson. */
static void test_locale(void **state)
{
	(void)state;
	if (!setlocale(LC_NUMERIC, "de_DE.UTF-8") && !setlocale(LC_NUMERIC, "fr_FR.UTF-8"))
		skip();
	assert_false(same_as_jansson("{\"r\":0.5}"));
	setlocale(LC_NUMERIC, "C");
	assert_true(same_as_jansson("{\"r\":0.5}"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ps_reply),
		cmocka_unit_test(test_grammar),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_locale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
