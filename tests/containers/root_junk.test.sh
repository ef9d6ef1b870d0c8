#!/usr/bin/env bash
# timeout: 150
# Junk files in a container's own /dev/shm owned by root (a container of
# root's without a user namespace, Docker's default: its root is the
# host's uid 0): 20,000 empty files named as segments of its pid 1. The
# read budget (junk.test.sh: 2,048 files a tick per user) spared root's
# files, so such a container had the daemon read them all at every
# rescan. Now root's files in a container's directory share one budget
# per directory: under 2,048 read() calls a tick once they are known,
# and the host's process stays listed. They also share one bound of
# files tracked (--user-processes + 1,024: the container's pid 1 and
# 2,047 of them), the rest counted as untracked (junk_bound.test.sh).
. "$(dirname "$0")/../lib.sh"
need_unshare
[ -r /proc/self/io ] || skip "no /proc/PID/io here"
jmd_start
JMALLOC_STATS_DIR=$JMD_STATS LD_PRELOAD=$JMALLOC_LIB sleep 600 &
export ROOT_PROC=$! JMD_DAEMON_PID=$JMD_PID
jmd_py - <<'PY' || fail "root's junk files in a container"
from jmd import *
import atexit

N = 20000
c = Container(private=True)
atexit.register(lambda: c.p.kill())
root = int(os.environ["ROOT_PROC"])
wait_until(lambda: c.host_pid in ps_pids() and root in ps_pids(), "the container and root's process")
d = "/proc/%d/root%s" % (c.host_pid, STATS_DIR)
for i in range(N):
    open(os.path.join(d, "jmalloc.1.%d.%d.%016x.stats" % (c.pidns, c.start, (1 << 63) | i)), "w").close()
per_tick, ticks = junk_reads_per_tick(2047)
# The daemon counts the untracked files as its scans reach them: once
# 15,733 of 17,953, read at load 20, when the test took the first count.
import time
deadline = time.monotonic() + 30
while True:
    untracked = request({"cmd": "version"})["segment_files_untracked"]
    if untracked == N - 2047 or time.monotonic() > deadline:
        break
    time.sleep(0.1)
check(untracked == N - 2047, "%d of the container's files untracked, not %d" % (untracked, N - 2047))
print("read() calls per tick with %d junk files of root's in a container: %.0f (over %.0f ticks)"
      % (N, per_tick, ticks))
check(per_tick < 2048, "%.0f read() calls a tick for %d junk files" % (per_tick, N))
check(root in ps_pids() and c.host_pid in ps_pids(), "root's process or the container left ps")
PY
jmd_stop
echo "ok"
