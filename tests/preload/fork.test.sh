#!/usr/bin/env bash
# fork() from a multi-threaded process under the allocator
# (tests/helpers/stress_fork.c): threads allocate continuously while the
# main thread forks 200 times, 8 children at a time (-p 8: two at a time,
# most of the run was children waiting for a CPU on a loaded machine);
# every child frees blocks the parent made, allocates a range of sizes,
# starts a thread, sometimes forks a grandchild, and must exit 0 (a
# deadlocked child is killed by its alarm and fails the test). Then a
# shorter run with one arena and no thread cache.
# timeout: 180
. "$(dirname "$0")/lib.sh"
jm_require_lib
bin=$JM_HELPERS/stress_fork
[ -x "$bin" ] || jm_fail "$bin is not built"

run() {
	local conf=$1
	shift
	echo "== JMALLOC_CONF='$conf' stress_fork $*"
	JMALLOC_CONF=$conf LD_PRELOAD=$JMALLOC_LIB "$bin" "$@" >"$JM_TMP/out" 2>&1
	local rc=$?
	cat "$JM_TMP/out"
	[ $rc -eq 0 ] || jm_fail "stress_fork $* exited $rc"
	grep -q '^stress_fork: allocator jmalloc$' "$JM_TMP/out" || jm_fail "jmalloc was not the allocator"
	grep -q '^stress_fork: OK$' "$JM_TMP/out" || jm_fail "stress_fork did not finish"
}

run "" -f 200 -t 3 -p 8
run "narenas:1,tcache:0" -f 40 -t 2
echo "fork: all runs passed"
