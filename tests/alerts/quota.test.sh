#!/usr/bin/env bash
# timeout: 180
# Alert commands per user (alerts.c): ten fragmenting processes of nobody
# fire ten alerts whose commands block; at most two of them run at once,
# the others wait; root's process then fires and its command runs at once
# (slots kept for root); once nobody's commands are let go, every one of
# the ten has run: queued, none dropped. Needs root and setpriv.
. "$(dirname "$0")/../lib.sh"
need_users "run processes as nobody"
need_segments
jm_public "$JM_HELPERS/demo_fragment"
frag_rule_start
nobody_frags 10

jmd_py - <<'EOF' || fail "alert commands per user"
from jmd import *
import subprocess
log = os.environ["CMDLOG"]
def lines():
    return [l.split() for l in open(log)]
def running(uid):
    n = 0
    for l in lines():
        if l[1] == str(uid):
            n += 1 if l[0] == "start" else -1
    return n
def firing(uid):
    return [a for a in request({"cmd": "alerts"})["alerts"] if a["uid"] == uid and a["state"] == "firing"]
wait_until(lambda: len(firing(65534)) == 10, "nobody's ten alerts firing", timeout=90)
wait_until(lambda: running(65534) == 2, "two of nobody's commands running", timeout=30)
time.sleep(1.0)     # a few ticks: no third one starts
check(running(65534) == 2, "nobody's commands running at once: %d" % running(65534))
root = subprocess.Popen([os.path.join(os.environ["JM_TMP"], "pub", "demo_fragment"), "-s", "64",
                         "-c", "40000", "-r", "10"], stdout=subprocess.DEVNULL,
                        env=dict(os.environ, JMALLOC_STATS_DIR=STATS_DIR, JMALLOC_CONF="prof_sample:0",
                                 LD_PRELOAD=os.path.join(os.environ["JM_TMP"], "pub", "libjmalloc.so")))
wait_until(lambda: any(l[0] == "end" and l[1] == "0" for l in lines()), "root's command to run", timeout=60)
check(running(65534) == 2, "nobody's commands running while root's ran: %d" % running(65534))
starts = sum(1 for l in lines() if l[0] == "start" and l[1] == "65534")
print("while nobody's 10 alerts wait: %d of their commands started, root's ran" % starts)
check(starts == 2, "nobody's commands started before release: %d" % starts)
open(os.environ["RELEASE"], "w").close()
wait_until(lambda: sum(1 for l in lines() if l[0] == "end" and l[1] == "65534") == 10,
           "all ten of nobody's commands to run", timeout=60)
root.terminate()
root.wait()
EOF
grep -q "its command not run" "$JMD_LOG" && fail "a command was dropped"
kill "${nobody_pids[@]}" 2>/dev/null
jmd_stop
echo "ok"
