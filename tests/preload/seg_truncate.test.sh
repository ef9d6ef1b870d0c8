#!/usr/bin/env bash
# timeout: 60
# Any process of a process's uid may shrink its segment file (`truncate
# -s 0`, `: >FILE`), and tmpfs then drops the pages the process writes
# through its mapping: its next malloc or free wrote a thread row past the
# file's new end and died of SIGBUS (exit 135 here). Its user may kill it
# anyway, but not where they cannot name its pid: containers of one uid
# sharing a stats directory, each in a pid namespace of its own. Now a
# SIGBUS at the segment's addresses puts private memory there and the
# process runs on without stats. Every other SIGBUS is as before: a
# mapping of the program's own that it shrinks, and `kill -BUS`, still
# end it with SIGBUS.
. "$(dirname "$0")/../lib.sh"
need_segments
need_cmd python3
need_cmd truncate
dir=$JM_TMP/shm
mkdir -p "$dir"
cat >"$JM_TMP/loop.py" <<'PY'
import sys, time
go = sys.argv[1]
print("ready", flush=True)
import os
while not os.path.exists(go):
    x = [bytearray(100) for _ in range(1000)]
    time.sleep(0.01)
for i in range(50):
    x = [bytearray(100 + i) for _ in range(10000)]
    y = {j: str(j) * 3 for j in range(2000)}
print("survived", flush=True)
PY
for size in 0 4096; do
	# The last round's output goes first: its 'ready' was read as this
	# round's before the redirection below emptied the file (no segment
	# yet for the new pid, at load 41).
	rm -f "$JM_TMP/go" "$JM_TMP/loop.out"
	JMALLOC_STATS_DIR=$dir LD_PRELOAD=$JMALLOC_LIB python3 "$JM_TMP/loop.py" "$JM_TMP/go" \
		>"$JM_TMP/loop.out" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait_line "$JM_TMP/loop.out" '^ready$'
	seg=$(jm_segment "$dir" "$pid") || fail "no segment for $pid"
	truncate -s "$size" "$seg" || fail "truncate $seg"
	touch "$JM_TMP/go"
	rc=0
	wait "$pid" || rc=$?
	cat "$JM_TMP/loop.out"
	[ "$rc" = 0 ] && grep -q '^survived$' "$JM_TMP/loop.out" ||
		fail "the process whose segment was cut to $size bytes exited with status $rc"
	ok "a segment cut to $size bytes by another process of its uid: the process runs on"
done

# The program's own SIGBUS: a file it maps and shrinks.
cat >"$JM_TMP/own.py" <<'PY'
import mmap, os, sys
f = open(sys.argv[1], "w+b")
f.truncate(65536)
m = mmap.mmap(f.fileno(), 65536)
m[0] = 1
print("mapped", flush=True)
f.truncate(0)
m[40000] = 1
print("not killed", flush=True)
PY
rc=0
JMALLOC_STATS_DIR=$dir LD_PRELOAD=$JMALLOC_LIB python3 "$JM_TMP/own.py" "$dir/own.map" \
	>"$JM_TMP/own.out" 2>&1 || rc=$?
cat "$JM_TMP/own.out"
[ "$rc" = 135 ] || fail "a fault in the program's own mapping: status $rc, not SIGBUS's 135"
grep -q '^mapped$' "$JM_TMP/own.out" || fail "own.py did not run"
ok "a fault in a mapping of the program's own still ends it with SIGBUS"

# A SIGBUS sent.
JMALLOC_STATS_DIR=$dir LD_PRELOAD=$JMALLOC_LIB python3 -c 'import time; print("up", flush=True); time.sleep(60)' \
	>"$JM_TMP/sent.out" 2>&1 &
pid=$!
wait_line "$JM_TMP/sent.out" '^up$'
jm_segment "$dir" "$pid" >/dev/null || fail "no segment for $pid"
kill -BUS "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 135 ] || fail "kill -BUS: status $rc, not 135"
ok "kill -BUS still ends the process"
