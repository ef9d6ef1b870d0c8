#!/usr/bin/env bash
# python3 with PYTHONMALLOC=malloc (every Python object through malloc)
# under the allocator, running a slice of its own test suite, against the
# same run without it: the same tests must run and pass. Needs Debian's
# libpython3.11-testsuite (.ci/run installs it).
# timeout: 240
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd python3
if ! python3 -c 'import test.test_re, test.test_list' >/dev/null 2>&1; then
	skip "python3's test suite is not installed (apt-get install libpython3.11-testsuite)"
fi

# The proof that Python's own malloc calls reach jmalloc: its symbols are
# in the process's global scope.
LD_PRELOAD=$JMALLOC_LIB PYTHONMALLOC=malloc python3 -c '
import ctypes
libc = ctypes.CDLL(None)
libc.jm_malloc.restype = ctypes.c_void_p
libc.jm_malloc_usable_size.restype = ctypes.c_size_t
libc.malloc.restype = ctypes.c_void_p
p = libc.malloc(ctypes.c_size_t(1000))
assert libc.jm_malloc_usable_size(ctypes.c_void_p(p)) >= 1000
libc.free(ctypes.c_void_p(p))
print("python3: jm_malloc is resolvable and malloc returns jmalloc blocks")
' || fail "jmalloc is not the malloc of python3"

tests="test_re test_collections test_dict test_list test_sort test_functools test_sqlite3
       test_thread test_csv test_bisect test_string test_textwrap"
mods=$(for t in $tests; do printf 'test.%s ' "$t"; done)
# unittest -v names every test and its result: those lines and the
# summary are compared (what some tests print in verbose mode is random).
# Skipped in both runs: test_re's test_search_anchor_at_beginning, which
# asserts that its searches take less than 0.1 s of wall time (it failed
# so under jmalloc at a load of 35 on 2 CPUs; the other run took as long).
cat >"$JM_TMP/unittest_run.py" <<'PY'
import sys, unittest
import test.test_re as r
r.ReTests.test_search_anchor_at_beginning = unittest.skip("timed")(
    r.ReTests.test_search_anchor_at_beginning)
unittest.main(module=None, argv=["unittest", "-v"] + sys.argv[1:])
PY
jm_compare python env PYTHONMALLOC=malloc PYTHONHASHSEED=0 bash -c \
	"python3 $JM_TMP/unittest_run.py $mods 2>&1 | grep -E ' \.\.\. (ok|skipped|FAIL|ERROR|expected failure)|^(Ran|OK|FAILED)' |
	 sed -E 's/ in [0-9.]+s\$//; s/0x[0-9a-fA-F]+/0xADDR/g'"
tail -n 3 "$JM_TMP/python.jm.out"
grep -q '^OK' "$JM_TMP/python.jm.out" || fail "the test suite did not pass under jmalloc"
jm_proof python python3
echo "python: $(grep -c ' \.\.\. ok$' "$JM_TMP/python.jm.out") tests passed with and without jmalloc"
