#!/usr/bin/env bash
# The multi-threaded stress test (tests/helpers/stress_mt.c) under the
# allocator: 8 and then 16 threads at once, workers created and destroyed
# while their objects live on in other threads' mailboxes and in a shared
# pool, every object's pattern checked before its free. Run with the
# default configuration, with one arena and no thread cache (all threads
# contend on the same bins), and with more threads than arenas. Then
# thread churn (tests/helpers/stress_churn.c).
# timeout: 120
. "$(dirname "$0")/lib.sh"
jm_require_lib
bin=$JM_HELPERS/stress_mt
[ -x "$bin" ] || jm_fail "$bin is not built"

run() {
	local conf=$1
	shift
	echo "== JMALLOC_CONF='$conf' stress_mt $*"
	JMALLOC_CONF=$conf LD_PRELOAD=$JMALLOC_LIB "$bin" "$@" >"$JM_TMP/out" 2>&1
	local rc=$?
	cat "$JM_TMP/out"
	[ $rc -eq 0 ] || jm_fail "stress_mt $* exited $rc"
	grep -q '^stress_mt: allocator jmalloc$' "$JM_TMP/out" || jm_fail "jmalloc was not the allocator"
	grep -q '^stress_mt: OK$' "$JM_TMP/out" || jm_fail "stress_mt did not finish"
}

run "" -t 8 -w 48 -n 20000 -s 1
run "narenas:1,tcache:0" -t 8 -w 24 -n 10000 -s 2
run "narenas:2" -t 16 -w 64 -n 5000 -s 3
run "prof_sample:4096,decay_ms:0" -t 8 -w 16 -n 5000 -s 4

# Thread churn: 10 000 threads one after the other must not leak their
# caches, then 400 at once.
for conf in "" "tcache:0"; do
	echo "== JMALLOC_CONF='$conf' stress_churn"
	JMALLOC_CONF=$conf LD_PRELOAD=$JMALLOC_LIB "$JM_HELPERS/stress_churn" >"$JM_TMP/out" 2>&1
	rc=$?
	cat "$JM_TMP/out"
	[ $rc -eq 0 ] || jm_fail "stress_churn exited $rc"
	grep -q '^stress_churn: allocator jmalloc$' "$JM_TMP/out" || jm_fail "jmalloc was not the allocator"
	grep -q '^stress_churn: OK$' "$JM_TMP/out" || jm_fail "stress_churn did not finish"
done
echo "stress: all runs passed"
