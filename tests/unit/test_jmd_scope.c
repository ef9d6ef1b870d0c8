/*
 * test_jmd_scope.c: a --pid=host container's socket clients are scoped to
 * their container by its whole id (jmd_container_scope, jmd_visible), and
 * so are the ps replies kept per viewer (jmd_ps_kept, jmd_ps_cached).
 *
 * The scope was the 32-bit FNV-1a hash of the id: two containers whose ids
 * hash alike had one viewer, each one's clients seeing the other's
 * processes and the ps reply kept for the other. A cgroup's name is its
 * own choice under cgroup delegation (rootless containers), and 2^32 is
 * within reach of a search: ID_A and ID_B below collide under that hash
 * (old_scope), found offline by hashing 2^20 ids of 64 hex digits (four
 * splitmix64 outputs of a counter each) into a table until two hashes met,
 * the birthday bound making that likely after some 2^16.
 */
#include "jmd_test.h"
#include "commands.h"

#define ID_A "9965fe2c7d412bf9c2670a6fca86c1423467f62ad9d43dddc7a196fcb37ecefb"
#define ID_B "1df193756819689f7928fe6e3c52fc91e1990bf573cef26ea9fa76d460410ee3"

/* The old scope of an id: FNV-1a 32, into [1, JMD_SCOPE_NS_MIN). */
static uint32_t old_scope(const char *id)
{
	uint32_t h = 2166136261u;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return 1 + h % (JMD_SCOPE_NS_MIN - 1);
}

static void test_pair_collides(void **state)
{
	(void)state;
	assert_int_equal(old_scope(ID_A), old_scope(ID_B));
	assert_int_equal(old_scope(ID_A), 148216500u);
}

static void test_scopes_differ(void **state)
{
	(void)state;
	uint32_t a = jmd_container_scope(ID_A), b = jmd_container_scope(ID_B);
	assert_true(a != 0 && a < JMD_SCOPE_NS_MIN);
	assert_true(b != 0 && b < JMD_SCOPE_NS_MIN);
	assert_true(a != b);
	/* Root of A sees A's processes of any uid, none of B's; a user of A
	 * their own only. */
	jmd_viewer va = JMD_VIEWER(0, a), vb = JMD_VIEWER(0, b);
	assert_true(jmd_visible(1000, 0, 0, ID_A, va));
	assert_false(jmd_visible(1000, 0, 0, ID_B, va));
	assert_true(jmd_visible(0, 0, 0, ID_B, vb));
	assert_false(jmd_visible(0, 0, 0, ID_A, vb));
	assert_false(jmd_visible(1000, 0, 0, "", va));
	assert_false(jmd_visible(1000, 0, 0, NULL, va));
	assert_true(jmd_visible(1000, 0, 0, ID_A, JMD_VIEWER(1000, a)));
	assert_false(jmd_visible(1001, 0, 0, ID_A, JMD_VIEWER(1000, a)));
	/* Held: the same id has the same scope. */
	assert_int_equal(jmd_container_scope(ID_A), a);
}

/* Each container's root asks ps: each reply shows its own process only,
 * and neither is the other's kept reply. */
static void test_ps_kept_apart(void **state)
{
	(void)state;
	struct jmd *d = jmdt_daemon(false);
	struct jmd_proc *pa = jmdt_proc_add(d, 4101, 11, "in-a", 0);
	struct jmd_proc *pb = jmdt_proc_add(d, 4202, 12, "in-b", 0);
	snprintf(pa->labels.container, sizeof(pa->labels.container), "%s", ID_A);
	snprintf(pb->labels.container, sizeof(pb->labels.container), "%s", ID_B);
	jmd_viewer va = JMD_VIEWER(0, jmd_container_scope(ID_A));
	jmd_viewer vb = JMD_VIEWER(0, jmd_container_scope(ID_B));
	const struct jmd_reply_cache *ra = jmd_ps_cached(d, va, JMD_PS_ALL);
	assert_non_null(ra);
	assert_non_null(strstr(ra->text, "4101"));
	assert_null(strstr(ra->text, "4202"));
	assert_ptr_equal(jmd_ps_kept(d, va, JMD_PS_ALL), ra);
	assert_null(jmd_ps_kept(d, vb, JMD_PS_ALL));
	const struct jmd_reply_cache *rb = jmd_ps_cached(d, vb, JMD_PS_ALL);
	assert_non_null(rb);
	assert_non_null(strstr(rb->text, "4202"));
	assert_null(strstr(rb->text, "4101"));
	jmdt_proc_gone(d, pa);
	jmdt_proc_gone(d, pb);
	jmdt_proc_free(pa);
	jmdt_proc_free(pb);
}

/* A scope let go by its last holder is numbered anew, never as another
 * id's held one. */
static void test_scope_put(void **state)
{
	(void)state;
	const char *c = "00000000000000000000000000000000000000000000000000000000000000cc";
	uint32_t s = jmd_container_scope(c);
	assert_int_equal(jmd_container_scope(c), s);
	jmd_container_scope_put(s);
	assert_true(jmd_visible(0, 0, 0, c, JMD_VIEWER(0, s)));
	jmd_container_scope_put(s);
	assert_false(jmd_visible(0, 0, 0, c, JMD_VIEWER(0, s)));
	uint32_t t = jmd_container_scope(c);
	assert_true(t != s && t != 0);
	jmd_container_scope_put(t);
	jmd_container_scope_put(0);     /* none held: nothing */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pair_collides),
		cmocka_unit_test(test_scopes_differ),
		cmocka_unit_test(test_ps_kept_apart),
		cmocka_unit_test(test_scope_put),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
