#!/usr/bin/env bash
# timeout: 120
# A live process whose rows read mid-update (an odd seq) through every
# retry of a read, as when its thread is preempted inside an update on a
# loaded host, keeps its place: the daemon keeps its last sample, logs
# nothing, resolves none of its alerts, and reads it again once the row is
# stable. Only rows that stay mid-update past the grace time (10 s) drop it,
# with one line. (On a loaded machine the daemon used to drop such a
# process at once, "its segment no longer reads", and resolve its alerts as
# if it had exited.)
. "$(dirname "$0")/../lib.sh"
need_segments
[ -x "$JM_HELPERS/stress_segwriter" ] || skip "stress_segwriter helper not built"

jmd_start
jmd_py - <<'EOF2' || fail "a busy writer"
from jmd import *
import glob, subprocess

W = os.path.join(os.environ["JM_HELPERS"], "stress_segwriter")
log = os.path.join(os.environ["JM_TMP"], "jmstatd.log")

def seq_step(path):
    return int(subprocess.run([W, "seq", path], check=True, capture_output=True,
                              text=True).stdout)

def dropped():
    return [l for l in open(log) if "dropped" in l or "no longer reads" in l]

h = Holder()
wait_until(lambda: ps_pids().get(h.pid), "pid %d in ps" % h.pid)
h.cmd("alloc 64 100")
t = h.cmd("alloc 64 0")
before = stats_after(h.pid, t)
files = glob.glob(os.path.join(STATS_DIR, "jmalloc.*"))
check(len(files) == 1, "one segment in the stats dir: %r" % files)
path = files[0]

check(seq_step(path) % 2 == 1, "the row is mid-update")
time.sleep(max(2.0, 8 * INTERVAL_MS / 1000.0))          # many ticks, each read fails
check(h.pid in ps_pids(), "a busy writer left ps: %r" % dropped())
check(not dropped(), "a busy writer was dropped: %r" % dropped())
check(seq_step(path) % 2 == 0, "the row is stable again")
h.cmd("alloc 64 10")
t = h.cmd("alloc 64 0")
after = stats_after(h.pid, t)
check(after["allocated"] == before["allocated"] + 640,
      "read again after the busy spell: allocated %d then %d" % (before["allocated"], after["allocated"]))
check(not dropped(), "dropped after all: %r" % dropped())

# Mid-update for good: dropped after the grace time, with one line.
check(seq_step(path) % 2 == 1, "the row is mid-update for good")
wait_until(lambda: h.pid not in ps_pids(), "the process dropped after the grace time", timeout=40)
check(len(dropped()) >= 1, "no line said why it was dropped")
h.exit()
EOF2
jmd_stop
