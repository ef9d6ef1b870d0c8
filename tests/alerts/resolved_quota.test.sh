#!/usr/bin/env bash
# timeout: 180
# Resolved alerts are listed for `resolved_keep` (10 min), 1,000 at most:
# one user's churn took every place. nobody runs 1,100 processes in waves
# of 100, each firing a rule that any process fires, each then killed
# (its alert resolved); root's service that fired and died before had
# its resolved alert dropped from `alerts`. Now one user's processes keep
# 100 resolved alerts at most (their newest): root's stays listed.
# Nobody's processes are forged, each a heap of waste (jmd.py's forge,
# stress_segwriter forge ... frag), not daemon_holders under the
# allocator: their alerts fire and resolve the same way, for a fifth of
# the CPU.
. "$(dirname "$0")/../lib.sh"
need_users "run processes as nobody"
need_segments
jm_public "$JM_HELPERS/daemon_holder" "$JM_HELPERS/stress_segwriter"
rule any fragmentation "ratio = 1%" "min_wasted = 1" "for = 0s" >"$JM_TMP/rules.conf"
jmd_start --config "$JM_TMP/rules.conf"
PUB=$JM_TMP/pub jmd_py - <<'PY' || fail "one user's resolved alerts pushed root's out"
from jmd import *

pub = os.environ["PUB"]

def alerts():
    r = request({"cmd": "alerts"})
    check(r["ok"], "alerts: %r" % r)
    return r["alerts"]

# Alerts are told apart by id, not by pid: a loaded host wraps pid_max
# (32768) within the test, and one of nobody's 1,100 took the pid of
# root's dead service, whose resolved alert was then counted as nobody's
# 101st (a failure under load, never alone).
def svc_state(aid):
    return next((a["state"] for a in alerts() if a["id"] == aid), None)

def wave_states(pids, after):
    """The states of the alerts of pids newer than alert id after: this
    wave's (an older wave's resolved alert may carry a reused pid)."""
    return {a["pid"]: a["state"] for a in alerts()
            if a["pid"] in pids and a["uid"] == 65534 and a["id"] > after}

svc = Holder()
svc_alert = wait_until(lambda: next((a for a in alerts() if a["pid"] == svc.pid and a["state"] == "firing"), None),
                       "root's service's alert firing")["id"]
svc.kill()
wait_until(lambda: svc_state(svc_alert) == "resolved", "root's service's alert resolved")

public_holders(pub)
# Staged: a process of nobody's under the dead service's pid first (a
# fork after ns_last_pid, tried again while other work on the machine
# takes the pid first), a segment of waste forged for it as the waves'
# (stress_segwriter write); its alert fires and resolves like theirs.
def reap(pid):
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass

def at_svc_pid():
    for attempt in range(200):
        try:
            with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                f.write(str(svc.pid - 1))
        except OSError:
            return None
        rd, wr = os.pipe()
        child = os.fork()
        if child == 0:
            try:
                if os.getpid() == svc.pid:
                    os.setgroups([])
                    os.setgid(65534)
                    os.setuid(65534)
                    os.write(wr, b"x")
                    signal.pause()
            finally:
                os._exit(0)
        os.close(wr)
        if child == svc.pid and os.read(rd, 1) == b"x":
            os.close(rd)
            atexit.register(reap, child)
            subprocess.run([os.path.join(pub, "stress_segwriter"), "write",
                            os.path.join(STATS_DIR, segment_name_of(child)), str(child), "65534", "frag"],
                           **as_user(65534), check=True, stdout=subprocess.DEVNULL)
            return child
        os.close(rd)
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    return None

after = max(a["id"] for a in alerts())
reused = at_svc_pid()
print("nobody's process %s the service's pid %d" % ("took" if reused else "did not take", svc.pid))
if reused:
    wait_until(lambda: wave_states({reused}, after).get(reused) == "firing", "nobody's alert under pid %d" % reused)
    reap(reused)
    wait_until(lambda: wave_states({reused}, after).get(reused) == "resolved",
               "nobody's alert under pid %d resolved" % reused)
for wave in range(11):
    after = max(a["id"] for a in alerts())
    pids = set(forge(65534, 100, "frag"))
    wait_until(lambda: len(wave_states(pids, after)) == 100, "wave %d's 100 alerts" % wave, timeout=60)
    kill_forged(pids)
    wait_until(lambda: all(s == "resolved" for s in wave_states(pids, after).values()),
               "wave %d's alerts resolved" % wave, timeout=60)
check(svc_state(svc_alert) == "resolved",
      "root's service's resolved alert gone after nobody's 1,100")
mine = [a for a in alerts() if a["uid"] == 65534]
check(len(mine) == 100, "%d of nobody's resolved alerts listed, not 100" % len(mine))
check(all(a["state"] == "resolved" for a in mine), "nobody's alerts not all resolved: %r" % mine)
print("root's resolved alert kept through nobody's 1,100; nobody's newest 100 listed")
PY
jmd_stop
echo "ok"
