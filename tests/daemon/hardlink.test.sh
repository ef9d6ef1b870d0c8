#!/usr/bin/env bash
# timeout: 120
# Hard links of a live process's segment under the other names its header
# matches (jmalloc.PID.<pidns>.<start>.stats, and tagged ones of the
# linker's choice): anyone can make them of another user's file where the
# kernel's protected_hardlinks is 0 (made here as root, which is the same
# file to the daemon). Each was taken for a newer segment of the process:
# the process's own name was removed ("it exec'd") and the process retired
# and tracked again, its history cut and a dead copy of it kept, once per
# link. Now each link is skipped with one line, the process's own file
# stays, and the process is read from it as before.
. "$(dirname "$0")/../lib.sh"
need_segments
jmd_start
start_preloaded "$(command -v sleep)" 600
LIVE=$LAST_PID
wait_seen "$LIVE"
export LIVE
jmd_py - <<'PY' || fail "hard links of a live segment"
from jmd import *
import re
pid = int(os.environ["LIVE"])
own = segment_path(pid)
with open("/proc/%d/stat" % pid) as f:
    start = int(f.read().rsplit(")", 1)[1].split()[19])
ns = os.stat("/proc/%d/ns/pid" % pid).st_ino
names = ["jmalloc.%d.%d.%d.%x.stats" % (pid, ns, start, (1 << 63) | i) for i in range(1, 6)]
if os.path.basename(own) != "jmalloc.%d.%d.%d.stats" % (pid, ns, start):
    names.append("jmalloc.%d.%d.%d.stats" % (pid, ns, start))
for n in names:
    os.link(own, os.path.join(STATS_DIR, n))
log = os.path.join(os.environ["JM_TMP"], "jmstatd.log")
def skipped():
    return [l for l in open(log) if "another name (a hard link)" in l]
wait_until(lambda: len(skipped()) >= len(names), "a line for each link")
t0 = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + 25 * INTERVAL_MS / 1000.0,
           "25 ticks (two rescans)")
check(os.path.exists(own), "the process's own file %s was removed: %r"
      % (own, [l.strip() for l in open(log) if "removed" in l]))
check(pid in ps_pids(), "the process is no longer shown")
h = request({"cmd": "history", "pid": pid})
check(h["ok"] and not h.get("others"), "the process was retired and tracked again: others %r"
      % h.get("others"))
lines = skipped()
check(len(lines) == len(names), "%d lines for %d links: %r" % (len(lines), len(names), lines))
for n in names:
    check(os.path.exists(os.path.join(STATS_DIR, n)), "the link %s was removed" % n)
print("%d hard links of process %d's segment: each skipped with one line, its own file kept,"
      " the process never retired" % (len(names), pid))
PY
jmd_stop
echo "ok"
