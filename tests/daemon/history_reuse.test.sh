#!/usr/bin/env bash
# timeout: 120
# serial: it sets ns_last_pid and forks until a pid comes round again: other tests' processes took the pid first (50 tries failed)
# A pid is reused: root's service dies, and nobody's process takes its
# pid (ns_last_pid set here; a loop of forks goes through the 32,768 pids
# of a default pid_max in seconds). Root's `jmctl history PID`, asked to
# see what the service did before it crashed, answered with nobody's
# process's samples and nothing to tell them apart. Now the reply names
# the process (exe, user, start), lists the others that had the pid, and
# `-s START` gives the service's own; nobody sees only its own process.
. "$(dirname "$0")/../lib.sh"
need_users "run a process as nobody"
need_segments
[ -w /proc/sys/kernel/ns_last_pid ] || skip "cannot set ns_last_pid"
jm_public "$JM_HELPERS/daemon_holder"
jmd_start
PUB=$JM_TMP/pub jmd_py - <<'PY' || fail "history of a reused pid"
from jmd import *

svc = Holder()
svc.cmd("alloc 4096 100")
wait_until(lambda: len(request({"cmd": "history", "pid": svc.pid})["samples"]) >= 3,
           "3 samples of root's service")
pid = svc.pid
svc.kill()
wait_until(lambda: (lambda r: r["ok"] and not r["alive"])(request({"cmd": "history", "pid": pid})),
           "root's service dead in history")
public_holders(os.environ["PUB"])
thief = None
for attempt in range(300):
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(pid - 1))
    h = Holder(uid=65534)
    if h.pid == pid:
        thief = h
        break
    h.kill()
check(thief is not None, "pid %d not taken again in 300 tries (test premise)" % pid)
thief.cmd("alloc 64 10")
wait_until(lambda: request({"cmd": "history", "pid": pid})["alive"], "nobody's process with the pid")

r = request({"cmd": "history", "pid": pid})
check(r.get("user") == "nobody", "the live process not named nobody's: %r" % {k: r.get(k) for k in ("exe", "user")})
others = r.get("others") or []
check(len(others) == 1 and others[0]["user"] == "root" and not others[0]["alive"],
      "root's dead service not listed with the pid: %r" % others)
old = request({"cmd": "history", "pid": pid, "started": others[0]["started"]})
check(old["ok"] and old["user"] == "root" and not old["alive"] and len(old["samples"]) >= 3,
      "root's service's history by its start: %r" % old)
mine = as_uid(65534, lambda: request({"cmd": "history", "pid": pid}))[1]
check(mine["ok"] and mine["user"] == "nobody" and mine["others"] == [],
      "nobody's view: %r" % {k: mine.get(k) for k in ("user", "others")})
out = subprocess.run([os.environ["JMCTL"], "--socket", SOCK, "history", str(pid)],
                     capture_output=True, text=True).stdout
check("of nobody" in out and "was also" in out and "of root" in out, "jmctl history: %r" % out)
line = next(l for l in out.splitlines() if "of root" in l)
start = line.split()[1]
out = subprocess.run([os.environ["JMCTL"], "--socket", SOCK, "history", str(pid), "-s", start],
                     capture_output=True, text=True).stdout
check(out.startswith("process %d (exited), " % pid) and "of root" in out.splitlines()[0],
      "jmctl history -s: %r" % out)
print(out.splitlines()[0])
thief.kill()
PY
jmd_stop
ok "a reused pid: history names the process, lists the others, -s picks one"
