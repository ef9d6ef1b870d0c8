#!/usr/bin/env bash
# timeout: 180
# An alert command that fails is logged with its status (or its signal, or
# its timeout): one line per command run. Other users' processes choose
# how often root's command runs for them (each of their processes that
# fires and goes runs it twice), and a command that fails for them (one
# meant for root's services only, `exit 3` for the rest) wrote a line
# each time: nobody's 3 waves of 30 short processes, 180 lines. These
# lines now share the budget of the lines about other users' alerts (a
# burst of 50, then one every 10 s, the rest counted); root's are logged
# each.
. "$(dirname "$0")/../lib.sh"
need_segments
need_users "run processes as nobody"
nobody_pub "$(command -v sleep)"
{
	printf 'command = exit 3\n'
	rule any fragmentation "ratio = 0.0001" "min_wasted = 0" "for = 0s"
} >"$JM_TMP/rules.conf"
JMD_INTERVAL=100
jmd_start --config "$JM_TMP/rules.conf"
export P
jmd_py - <<'PY' || fail "lines about nobody's alert commands"
from jmd import *
log = os.path.join(os.environ["JM_TMP"], "jmstatd.log")
def exited():
    return [l for l in open(log) if "exited with status 3" in l]
pub = os.environ["P"]
env = dict(os.environ, JMALLOC_STATS_DIR=STATS_DIR, LD_PRELOAD=os.path.join(pub, "libjmalloc.so"))
fired = set()
for wave in range(3):
    procs = [subprocess.Popen([os.path.join(pub, "sleep"), "0.8"], env=env, **as_user(65534))
             for _ in range(30)]
    pids = set(p.pid for p in procs)
    # Their alerts fire while they live: the first wave's are checked to.
    wait_until(lambda: len(pids & set(a["pid"] for a in request({"cmd": "alerts"})["alerts"])) >= 10,
               "nobody's alerts of wave %d" % wave)
    for p in procs:
        p.wait()
    t = request({"cmd": "version"})["time"]
    wait_until(lambda: request({"cmd": "version"})["time"] >= t + 10 * INTERVAL_MS / 1000.0, "10 ticks")
n = len(exited())
# Root's process: its alert's command is logged each time.
r = subprocess.Popen(["sleep", "600"], env=dict(env, LD_PRELOAD=os.environ["JMALLOC_LIB"]))
a = wait_until(lambda: [x for x in request({"cmd": "alerts"})["alerts"]
                        if x["pid"] == r.pid and x["state"] == "firing"], "root's alert firing")[0]
wait_until(lambda: [l for l in exited() if "alert %d:" % a["id"] in l], "the line of root's command")
r.kill()
r.wait()
check(n <= 55, "%d lines for the commands of nobody's alerts" % n)
print("nobody's 90 processes firing and gone: %d lines about their commands; root's logged" % n)
PY
jmd_stop
echo "ok"
