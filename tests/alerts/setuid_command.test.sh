#!/usr/bin/env bash
# timeout: 180
# An alert command for a process that exec'd a set-uid program: a
# process of nobody's that published (preloaded python, fragmenting its
# heap) fires a rule, then execs a set-uid copy of sleep, keeping its
# pid, its start and its file, which nobody may write. The daemon sees
# the change at its next look at /proc/PID (once a second), but a command
# already due ran with the pid of the privileged process, under the name
# and figures nobody chose: evaluated in the tick before that look, or,
# as staged here without timing, queued behind nobody's two commands
# (their slots per user) while the exec happens. The command is now not
# run when the process it names runs with other credentials than the
# daemon last checked (fourteenth pass, docs/security.md).
. "$(dirname "$0")/../lib.sh"
need_users "run processes as nobody"
need_segments
jm_public "$JM_HELPERS/demo_fragment"
cp "$(command -v sleep)" "$JM_TMP/pub/suid_sleep"
chown root:root "$JM_TMP/pub/suid_sleep" && chmod 4755 "$JM_TMP/pub/suid_sleep"
cat >"$JM_TMP/pub/fragexec.py" <<'EOF'
import ctypes, os, sys
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
kept, last = [], None
for p in [libc.malloc(64) for _ in range(40000)]:
    if p >> 12 != last:
        last = p >> 12
        kept.append(p)
    else:
        libc.free(p)
print(os.getpid(), flush=True)
sys.stdin.readline()
os.execv(sys.argv[1], [sys.argv[1], "600"])
EOF
chmod 755 "$JM_TMP/pub/fragexec.py"
frag_rule_start "notify = firing"
nobody_frags 2

PUB=$JM_TMP/pub jmd_py - "$JMD_LOG" <<'EOF' || fail "a command for a process gone set-uid"
from jmd import *
import atexit, re, subprocess, sys
pub, log = os.environ["PUB"], sys.argv[1]
cmdlog = os.environ["CMDLOG"]
def lines():
    return [l.split() for l in open(cmdlog)] if os.path.exists(cmdlog) else []
def firing(pid=None):
    return [a for a in request({"cmd": "alerts"})["alerts"]
            if a["uid"] == 65534 and a["state"] == "firing" and (pid is None or a["pid"] == pid)]
wait_until(lambda: sum(1 for l in lines() if l[0] == "start") == 2, "nobody's two commands running",
           timeout=90)
p = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                      os.path.join(pub, "fragexec.py"), os.path.join(pub, "suid_sleep")],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     env=dict(os.environ, LD_PRELOAD=os.path.join(pub, "libjmalloc.so"),
                              JMALLOC_STATS_DIR=STATS_DIR, JMALLOC_CONF="prof_sample:0"))
atexit.register(p.kill)
pid = int(p.stdout.readline())
aid = wait_until(lambda: firing(pid), "the third process's alert firing", timeout=90)[0]["id"]
check(sum(1 for l in lines() if l[0] == "start") == 2, "its command started: not queued")
p.stdin.write(b"go\n")
p.stdin.flush()
def euid():
    with open("/proc/%d/status" % pid) as f:
        return next(l for l in f if l.startswith("Uid:")).split()[1:4]
wait_until(lambda: euid() == ["65534", "0", "0"], "the set-uid program running (a nosuid mount?)")
print("alert %d of process %d queued; the process now runs set-uid root" % (aid, pid))
open(os.environ["RELEASE"], "w").close()
def outcome():
    if any(l[0] == "start" and l[2] == str(aid) for l in lines()):
        return "ran"
    if re.search(r"alert %d: its command not run: process %d now runs with other credentials" % (aid, pid),
                 open(log).read()):
        return "skipped"
    return None
got = wait_until(outcome, "the queued command to run or be skipped", timeout=60)
check(got == "skipped", "the command of alert %d ran for process %d, now set-uid root" % (aid, pid))
print("its command not run")
EOF
kill "${nobody_pids[@]}" 2>/dev/null
jmd_stop
ok "an alert command for a process gone set-uid: not run"
