#!/usr/bin/env bash
# timeout: 90
# Root's jmctl sites of another user's process symbolizes in a child that
# has become that user, which opens that user's files by the paths in
# /proc/PID/maps: a mapped file deleted shows there as "PATH (deleted)",
# and nobody can make a FIFO of that name. The child's open waited for
# ever, and root's `jmctl sites` with it; `--pprof` symbolized as root
# itself, opening nobody's files with root's rights, and hung the same.
# Now both symbolize in such a child, which has 10 s: then it is killed,
# jmctl says why, and the frames stay addresses (exit 0).
. "$(dirname "$0")/../lib.sh"
need_users "run a program as nobody"
need_segments
need_jmctl
nobody_pub
jmd_start
nobody_deleted_fifo
# The two commands at once (independent: each has its own child and its
# own 10 s), so the test waits those 10 s once.
timeout 60 "$JMCTL" --socket "$JMD_SOCK" sites "$PID" >"$JM_TMP/out" 2>"$JM_TMP/err" &
text=$!
timeout 60 "$JMCTL" --socket "$JMD_SOCK" sites "$PID" --pprof "$JM_TMP/heap.pb.gz" 2>"$JM_TMP/perr" &
pprof=$!
rc=0; wait "$text" || rc=$?
[ $rc -ne 124 ] || fail "root's jmctl sites hung on nobody's FIFO"
[ $rc -eq 0 ] || fail "jmctl sites exited $rc: $(cat "$JM_TMP/err")"
grep -q "took more than 10 s" "$JM_TMP/err" || fail "no reason given: $(cat "$JM_TMP/err")"
grep -q "^    0x" "$JM_TMP/out" || fail "no frames left as addresses: $(cat "$JM_TMP/out")"
rc=0; wait "$pprof" || rc=$?
[ $rc -ne 124 ] || fail "root's jmctl sites --pprof hung on nobody's FIFO"
[ $rc -eq 0 ] || fail "jmctl sites --pprof exited $rc: $(cat "$JM_TMP/perr")"
grep -q "took more than 10 s" "$JM_TMP/perr" || fail "--pprof: no reason given: $(cat "$JM_TMP/perr")"
[ "$(head -c 2 "$JM_TMP/heap.pb.gz" | od -An -tx1 | tr -d ' ')" = 1f8b ] || fail "no profile written"
ok "nobody's FIFO at a deleted mapping's path: root's jmctl sites and --pprof stop after 10 s, say why"
