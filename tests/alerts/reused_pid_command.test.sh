#!/usr/bin/env bash
# timeout: 180
# An alert command queued for a process whose pid is then another's: a
# process of nobody's (preloaded python, fragmenting its heap) fires a
# rule while nobody's two commands hold their slots, so its command
# waits; it exits, and root's process is started under its pid
# (ns_last_pid). Once the slots free, the old daemon ran the command with
# JMALLOC_ALERT_PID naming root's process, which a command that acts on
# the process (a core dump, a restart, a signal) then acted on; the
# process a queued command is for is now looked at as it starts (its
# start in /proc/PID/stat), and a pending or firing alert's command whose
# pid names another process is not run (fourteenth pass,
# docs/security.md).
. "$(dirname "$0")/../lib.sh"
need_users "run processes as nobody"
need_segments
[ -w /proc/sys/kernel/ns_last_pid ] || skip "cannot write /proc/sys/kernel/ns_last_pid"
jm_public "$JM_HELPERS/demo_fragment"
cat >"$JM_TMP/pub/fragexit.py" <<'EOF'
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
EOF
chmod 755 "$JM_TMP/pub/fragexit.py"
frag_rule_start "notify = firing"
nobody_frags 2

PUB=$JM_TMP/pub jmd_py - "$JMD_LOG" <<'EOF' || fail "a queued command for a reused pid"
from jmd import *
import atexit, re, subprocess, sys
pub, log = os.environ["PUB"], sys.argv[1]
cmdlog = os.environ["CMDLOG"]
def lines():
    return [l.split() for l in open(cmdlog)] if os.path.exists(cmdlog) else []
def firing(pid):
    return [a for a in request({"cmd": "alerts"})["alerts"] if a["pid"] == pid and a["state"] == "firing"]
wait_until(lambda: sum(1 for l in lines() if l[0] == "start") == 2, "nobody's two commands running",
           timeout=90)
p = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                      os.path.join(pub, "fragexit.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     env=dict(os.environ, LD_PRELOAD=os.path.join(pub, "libjmalloc.so"),
                              JMALLOC_STATS_DIR=STATS_DIR, JMALLOC_CONF="prof_sample:0"))
pid = int(p.stdout.readline())
aid = wait_until(lambda: firing(pid), "the third process's alert firing", timeout=90)[0]["id"]
check(sum(1 for l in lines() if l[0] == "start") == 2, "its command started: not queued")
p.stdin.write(b"\n")
p.stdin.flush()
p.wait()
child = 0
for attempt in range(200):
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(pid - 1))
    child = os.fork()
    if child == 0:
        os.execve("/bin/sleep", ["sleep", "300"], {})
    if child == pid:
        break
    os.kill(child, 9)
    os.waitpid(child, 0)
check(child == pid, "could not start root's process under pid %d" % pid)
atexit.register(lambda: os.kill(child, 9))
print("alert %d of nobody's process %d queued; root's sleep now has its pid" % (aid, pid))
open(os.environ["RELEASE"], "w").close()
def outcome():
    if any(l[0] == "start" and l[2] == str(aid) for l in lines()):
        return "ran"
    if re.search(r"alert %d: its command not run: its pid %d now names another process" % (aid, pid),
                 open(log).read()):
        return "skipped"
    return None
got = wait_until(outcome, "the queued command to run or be skipped", timeout=60)
check(got == "skipped", "the command of alert %d ran with pid %d, now root's sleep" % (aid, pid))
print("its command not run")
EOF
kill "${nobody_pids[@]}" 2>/dev/null
jmd_stop
ok "a queued alert command whose pid was reused: not run"
