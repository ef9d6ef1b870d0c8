#!/usr/bin/env bash
# timeout: 180
# Every 10 intervals the daemon reads its whole stats directory again (the
# rescan, the safety net for files its watch missed). With nobody's
# 100,000 junk files there it took 344 ms (706 ms with the fstatat of
# each name past nobody's bound, junk_bound.test.sh), all at once: no
# request was answered meanwhile, root's included, every 10 intervals.
# Now a rescan reads the directory in slices of a few ms, as the sampling
# does, the loop serving clients between them: root's `version`, asked
# again and again, is answered while a rescan is under way
# ("rescanning": true; never before, the loop being held all along).
. "$(dirname "$0")/../lib.sh"
need_segments
command -v setpriv >/dev/null || skip "needs setpriv (nobody's files)"
[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3 for nobody"
jmd_start
JMALLOC_STATS_DIR=$JMD_STATS LD_PRELOAD=$JMALLOC_LIB sleep 600 &
export ROOT_PROC=$!
setpriv --reuid=65534 --regid=65534 --clear-groups sleep 600 &
export NOBODY_PROC=$!

jmd_py - <<'PY' || fail "a rescan in slices"
from jmd import *

N = 100000
root, mine = int(os.environ["ROOT_PROC"]), int(os.environ["NOBODY_PROC"])
wait_until(lambda: root in ps_pids(), "root's process in ps")
with open("/proc/%d/stat" % mine) as f:
    start = int(f.read().rsplit(")", 1)[1].split()[19])
pidns = os.stat("/proc/self/ns/pid").st_ino
names = ["jmalloc.%d.%d.%d.%016x.stats" % (mine, pidns, start, (1 << 63) | i) for i in range(N)]
make = "import os, sys\nfor n in sys.stdin.read().split():\n    open(os.path.join(%r, n), 'w').close()\n" % STATS_DIR
subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3",
                "-c", make], input="\n".join(names), text=True, check=True)
c = Client()
seen = asked = 0
t0 = c.req({"cmd": "version"})["time"]
while True:
    r = c.req({"cmd": "version"})
    asked += 1
    seen += bool(r.get("rescanning"))
    if seen >= 3 or r["time"] >= t0 + 30 * INTERVAL_MS / 1000.0:
        break
print("%d of %d version replies answered during a rescan" % (seen, asked))
check(seen >= 1, "no reply of %d answered during a rescan (three rescans)" % asked)
check(root in ps_pids(), "root's process left ps")
PY
jmd_stop
ok "a rescan of 100,000 names in slices: requests answered meanwhile"
