#!/usr/bin/env bash
# timeout: 90
# The stats segment's SIGBUS handler (liballoc/stats.c, seg_bus) beyond
# seg_truncate's cases (tests/helpers/seg_sigbus.c):
# - the purger blocked every signal, SIGBUS too, and the kernel kills a
#   process whose thread faults with the signal blocked: a segment cut
#   while the program's threads slept killed it at the purger's next look
#   at the arenas' rows (exit 135);
# - a SIGBUS with nothing to make again (an action-optional machine check,
#   BUS_MCEERR_AO, which ends the process by default) was dropped: the
#   handler set the default back and returned, and the process ran on;
# - a program that saves SIGBUS's handler with signal() and puts it back
#   so has it without SA_SIGINFO: the handler read a siginfo the kernel
#   had not written (whatever the stack held) and dropped a kill -BUS.
. "$(dirname "$0")/../lib.sh"
need_segments
need_cmd truncate
h=$JM_HELPERS/seg_sigbus
[ -x "$h" ] || skip "the helper seg_sigbus is not built (make tests)"
dir=$JM_TMP/shm
mkdir -p "$dir"

rm -f "$JM_TMP/go"
JMALLOC_OPTIONS=decay_ms:20000 JMALLOC_STATS_DIR=$dir LD_PRELOAD=$JMALLOC_LIB \
	"$h" purger "$JM_TMP/go" >"$JM_TMP/purger.out" 2>&1 &
pid=$!
PIDS+=("$pid")
wait_line "$JM_TMP/purger.out" '^ready '
seg=$(jm_segment "$dir" "$pid") || fail "no segment for $pid"
truncate -s 0 "$seg" || fail "truncate $seg"
touch "$JM_TMP/go"
rc=0
wait "$pid" || rc=$?
cat "$JM_TMP/purger.out"
[ "$rc" = 0 ] && grep -q '^survived$' "$JM_TMP/purger.out" ||
	fail "a segment cut while only the purger ran: status $rc"
ok "a segment cut while only the purger touches it: the process runs on"

rc=0
JMALLOC_STATS_DIR=$dir LD_PRELOAD=$JMALLOC_LIB "$h" async >"$JM_TMP/async.out" 2>&1 || rc=$?
cat "$JM_TMP/async.out"
[ "$rc" = 77 ] && skip "rt_tgsigqueueinfo refused"
[ "$rc" = 135 ] || fail "a SIGBUS of BUS_MCEERR_AO: status $rc, not SIGBUS's 135"
ok "a SIGBUS with no fault to make again still ends the process"

rc=0
JMALLOC_STATS_DIR=$dir LD_PRELOAD=$JMALLOC_LIB "$h" resignal >"$JM_TMP/resignal.out" 2>&1 || rc=$?
cat "$JM_TMP/resignal.out"
[ "$rc" = 135 ] || fail "kill -BUS after signal() put the handler back: status $rc, not 135"
ok "kill -BUS still ends a process that put the handler back with signal()"
