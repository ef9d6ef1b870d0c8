#!/usr/bin/env bash
# timeout: 120
# A segment whose every row changes all the time: nobody writes a valid
# segment of 1,024 arenas (36,864 arena and bin rows, as the allocator may
# write) for a live process of its own, then moves every row's seq on by
# two, row after row, with no pause (stress_segwriter bump): each row is
# consistent, and each has changed by the time the daemon reads it again.
# The daemon re-read every such row alone, three preads a row, for each
# read of the file: about 9,000 read() calls per 200 ms interval, ticks
# stretched to 360 ms, and root's requests waited behind them (1.7 s seen
# for a `version` with six such files). Now one read of a file re-reads
# rows alone 256 times at most and the whole span 3 times, then the file
# is busy (as one whose rows stay mid-update). Checked: the daemon's
# read() calls per tick (/proc/PID/io syscr) over 10 ticks while the rows
# change: under 2,000 (about 50); the churner swept the rows all along;
# root's process listed.
. "$(dirname "$0")/../lib.sh"
need_segments
[ -x "$JM_HELPERS/stress_segwriter" ] || skip "stress_segwriter helper not built"
[ -r /proc/self/io ] || skip "no /proc/PID/io here"
AS=() OWNER=$(id -u)
[ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
	AS=(setpriv --reuid=65534 --regid=65534 --clear-groups) OWNER=65534
jmd_start
JMALLOC_STATS_DIR=$JMD_STATS LD_PRELOAD=$JMALLOC_LIB sleep 600 &
export ROOT_PROC=$! JMD_DAEMON_PID=$JMD_PID
"${AS[@]}" sleep 600 &
export MINE=$!
# Written by nobody (its own file, in the sticky directory), with the
# uid MINE runs as: not read from /proc/$MINE, which is root's until
# setpriv has changed it (a sanitized CI run read 0 there, and the daemon
# skipped the file: "segment owner does not match the uid in its header").
seg=$JMD_STATS/$(jm_segment_name "$MINE")
"${AS[@]}" "$JM_HELPERS/stress_segwriter" write "$seg" "$MINE" "$OWNER" \
	arenas=1024 >/dev/null || fail "writing the 1,024-arena segment"
wait_seen "$MINE"

"${AS[@]}" "$JM_HELPERS/stress_segwriter" bump "$seg" 12 >"$JM_TMP/sweeps" &
bumper=$!
jmd_py - <<'PY' || fail "a segment whose rows all change"
from jmd import *

root = int(os.environ["ROOT_PROC"])
time.sleep(0.5)   # the churner is under way
per_tick, ticks = reads_per_tick(10)
print("read() calls per tick while 36,864 rows change: %.0f (over %.0f ticks)" % (per_tick, ticks))
check(per_tick < 2000, "%.0f read() calls a tick for one segment whose rows change" % per_tick)
check(root in ps_pids(), "root's process left ps")
PY
wait "$bumper" || fail "the churner failed"
sweeps=$(cat "$JM_TMP/sweeps")
echo "sweeps of every row's seq: $sweeps"
[ "${sweeps:-0}" -ge 100 ] || fail "the churner made $sweeps sweeps: it did not run"
ok "a segment whose 36,864 rows all change: a bounded number of reads"
