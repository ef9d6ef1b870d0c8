#!/usr/bin/env bash
# Where madvise(MADV_WIPEONFORK) fails (a kernel before 4.14: EINVAL; a
# seccomp filter that refuses it: EPERM or ENOSYS; tests/helpers/nowipe
# installs such a filter and execs), the arenas' lock area (liballoc/
# arena.c) is an ordinary private mapping, which a fork copies with every
# lock held by the forking thread, and the child handler re-initialises
# them as before the area was wiped: fork from a multi-threaded process
# (tests/helpers/stress_fork: children that free the parent's blocks,
# start a thread, fork grandchildren) and children made by the system
# call (tests/helpers/raw_fork) allocate and exit as they do with the
# advice taken. The premise is checked: the area is marked "wf" in
# /proc/PID/smaps without the filter, and no mapping is with it.
# timeout: 90
. "$(dirname "$0")/../lib.sh"
need_lib
for h in nowipe stress_fork raw_fork; do
	[ -x "$JM_HELPERS/$h" ] || fail "$JM_HELPERS/$h is not built"
done
export JMALLOC_STATS_DIR=$JM_TMP
nowipe=$JM_HELPERS/nowipe
wf() { grep -c 'VmFlags:.* wf' /proc/self/smaps; }
n=$(LD_PRELOAD=$JMALLOC_LIB bash -c "$(declare -f wf); wf") || true
[ "${n:-0}" -ge 1 ] || skip "no mapping marked wipe-on-fork under the allocator (a kernel before 4.14?)"
rc=0
"$nowipe" 22 true || rc=$?
[ $rc -ne 77 ] || skip "seccomp filters cannot be installed here"
[ $rc -eq 0 ] || fail "nowipe 22 true: exit $rc"
for err in 22 1 38; do
	forks=20
	[ $err != 22 ] || forks=40
	n=$("$nowipe" $err env LD_PRELOAD="$JMALLOC_LIB" bash -c "$(declare -f wf); wf") || true
	[ "$n" = 0 ] || fail "errno $err: $n mappings marked wipe-on-fork under the filter"
	rc=0
	LD_PRELOAD=$JMALLOC_LIB "$nowipe" $err "$JM_HELPERS/stress_fork" -f $forks -t 3 -p 4 \
		>"$JM_TMP/out" 2>&1 || rc=$?
	[ $rc -eq 0 ] || fail "errno $err: stress_fork exited $rc: $(tail -5 "$JM_TMP/out")"
	grep -q "^stress_fork: allocator jmalloc\$" "$JM_TMP/out" || fail "jmalloc was not the allocator"
	grep -q "^stress_fork: OK\$" "$JM_TMP/out" || fail "errno $err: stress_fork did not finish"
	ok "madvise(MADV_WIPEONFORK) failing with errno $err: $forks forks of 4 threads"
done
for how in clone fork clone3 _Fork; do
	out=$(LD_PRELOAD=$JMALLOC_LIB timeout 30 "$nowipe" 22 "$JM_HELPERS/raw_fork" $how threads 2>&1) ||
		fail "$how threads, madvise refused: $out"
	[ "$out" = ok ] || fail "$how threads, madvise refused: printed $out"
	ok "$how threads, madvise refused: the child allocates, frees and exits"
done
