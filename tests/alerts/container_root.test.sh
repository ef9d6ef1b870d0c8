#!/usr/bin/env bash
# timeout: 180
# Alert commands per user (quota.test.sh) kept no bound for root's
# processes, and root in a container without a user namespace (Docker's
# and Kubernetes' default) is uid 0 on the host: ten fragmenting
# processes in one container, whose commands block, took all 8 slots,
# and the alert of root's host service waited for them (and past 256
# waiting, was not run at all). Root's processes in a container's own
# directory now count as that container's, bounded as a user's: two of
# its commands run at once, the rest wait, root's host command runs at
# once; once released, all ten have run: queued, none dropped.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_segments
cp "$JM_HELPERS/demo_fragment" "$JM_TMP/hostfrag"
blocking_command EXE hostfrag   # root's host program's runs at once
{
	printf 'command = %s\ncommand_timeout = 150s\n' "$JM_TMP/cmd.sh"
	rule frag fragmentation "ratio = 0.5" "min_wasted = 1MiB" "for = 200ms"
} >"$JM_TMP/rules.conf"
jmd_start --config "$JM_TMP/rules.conf"
jmd_py - <<'PY' || fail "alert commands of a container's root"
from jmd import *
import atexit, subprocess
frag = os.path.join(os.environ["JM_HELPERS"], "demo_fragment")
holder = os.path.join(os.environ["JM_HELPERS"], "daemon_holder")
# Ten fragmenting processes as root in one container, its stats
# directory a tmpfs of its own; pid 1 holds the container.
script = 'for i in 1 2 3 4 5 6 7 8 9 10; do "%s" -s 64 -c 40000 -r 10 >/dev/null 2>&1 & done; exec "%s"' % (frag, holder)
ct = Container(private=True, program=["sh", "-c", script])
atexit.register(ct.p.kill)
log = os.environ["CMDLOG"]
def lines():
    return [l.split() for l in open(log)]
def running(exe):
    n = 0
    for l in lines():
        if l[1] == exe:
            n += 1 if l[0] == "start" else -1
    return n
def firing():
    return [a for a in request({"cmd": "alerts"})["alerts"]
            if a["exe"] == "demo_fragment" and a["state"] == "firing"]
wait_until(lambda: len(firing()) == 10, "the container's ten alerts firing", timeout=90)
wait_until(lambda: running("demo_fragment") >= 2, "the container's commands running", timeout=30)
time.sleep(1.0)     # a few ticks: no third one starts
n = running("demo_fragment")
print("the container's commands running at once: %d" % n)
check(n == 2, "the container's commands running at once: %d, not 2" % n)
root = subprocess.Popen([os.path.join(os.environ["JM_TMP"], "hostfrag"), "-s", "64", "-c", "40000", "-r", "10"],
                        stdout=subprocess.DEVNULL,
                        env=dict(os.environ, JMALLOC_STATS_DIR=STATS_DIR, JMALLOC_CONF="prof_sample:0",
                                 LD_PRELOAD=os.environ["JMALLOC_LIB"]))
atexit.register(root.kill)
wait_until(lambda: any(l[0] == "end" and l[1] == "hostfrag" for l in lines()),
           "root's host command to run", timeout=30)
check(running("demo_fragment") == 2, "the container's commands while root's ran: %d" % running("demo_fragment"))
open(os.environ["RELEASE"], "w").close()
wait_until(lambda: sum(1 for l in lines() if l[0] == "end" and l[1] == "demo_fragment") == 10,
           "all ten of the container's commands to run", timeout=90)
print("root's host command ran while the container's waited; all ten ran once released")
PY
grep -q "its command not run" "$JMD_LOG" && fail "a command was dropped"
jmd_stop
echo "ok"
