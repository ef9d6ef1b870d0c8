#!/usr/bin/env bash
# timeout: 90
# The stats directory's watch overflowing: a user who floods the directory
# with names while the daemon is busy fills the kernel's queue of the
# watch, and the names past it are lost, among them other users' new
# segments. libuv's uv_fs_event dropped the kernel's notice of it, and a
# lost segment waited for the periodic rescan (every 10 ticks: 20 s here).
# The daemon reads its watch itself (jmstatd/watch.c), counts the
# overflow (`watch_overflows` in `version`) and rescans at the next tick.
# The queue is made 16 events long for the daemon's instance alone (the
# sysctl is read when an instance is made, and put back at once).
. "$(dirname "$0")/../lib.sh"
need_segments
q=/proc/sys/fs/inotify/max_queued_events
[ -w "$q" ] || skip "cannot write $q (not root)"
old=$(cat "$q")
at_exit "echo $old > $q"
echo 16 >"$q"
JMD_INTERVAL=2000 jmd_start
echo "$old" >"$q"
before=$(jmd_py -c 'from jmd import *; print(request({"cmd": "version"}).get("watch_overflows", -1))')
[ "$before" = 0 ] || fail "watch_overflows $before at start (not reported?)"
# The daemon stopped: 64 names fill its queue, then a segment comes.
kill -STOP "$JMD_PID"
at_exit "kill -CONT $JMD_PID 2>/dev/null"
for i in $(seq 64); do : >"$JMD_STATS/junk.$i"; done
start_preloaded "$(command -v sleep)" 600
LIVE=$LAST_PID
kill -CONT "$JMD_PID"
t0=$(date +%s.%N)
wait_seen "$LIVE"
t1=$(date +%s.%N)
after=$(jmd_py -c 'from jmd import *; print(request({"cmd": "version"}).get("watch_overflows", -1))')
[ "$after" -ge 1 ] || fail "watch_overflows $after after the flood"
echo "the overflow counted ($after), the segment listed $(python3 -c "print(round($t1 - $t0, 2))") s after the daemon went on (the periodic rescan: every 20 s)"
grep -q "junk" "$JMD_LOG" && grep "junk" "$JMD_LOG" | head -3
jmd_stop
echo "ok"
