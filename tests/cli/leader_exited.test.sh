#!/usr/bin/env bash
# timeout: 60
# jmctl stats of a live process with jmalloc whose main thread has ended
# (pthread_exit, or a bare exit of the thread, the others running on):
# its /proc/PID/maps is empty (the leader's memory is gone, the process's
# is its other threads'), which jmctl (bd03653) took for an exited process:
# "pid N (NAME) has exited (its parent has not reaped it yet)", of one
# that runs. Its other threads' maps say what it runs with: here jmalloc
# without a segment jmstatd reads (stats:0). Deterministic: the main
# thread ends before jmctl asks, a thread sleeps on.
. "$(dirname "$0")/../lib.sh"
need_segments
need_jmctl
jmd_start
jmd_py - <<'PY' || fail "jmctl on a process whose main thread ended"
from jmd import *
env = dict(os.environ, LD_PRELOAD=os.environ["JMALLOC_LIB"], JMALLOC_STATS_DIR=STATS_DIR,
           JMALLOC_CONF="stats:0")
# The main thread ends by the exit system call (the thread's, not the
# group's: 60 on x86-64), a thread sleeping on.
src = ("import ctypes, threading, time\n"
       "threading.Thread(target=time.sleep, args=(300,)).start()\n"
       "ctypes.CDLL(None).syscall(60, 0)\n")
p = subprocess.Popen(["python3", "-c", src], env=env)
def leader_gone():
    st = open("/proc/%d/stat" % p.pid).read().rsplit(")", 1)[1].split()[0]
    return st == "Z" and len(os.listdir("/proc/%d/task" % p.pid)) >= 1 and \
        open("/proc/%d/maps" % p.pid).read() == ""
wait_until(leader_gone, "the main thread ended, the process running")
check(p.poll() is None, "the process runs")
r = subprocess.run([os.environ["JMCTL"], "--socket", SOCK, "stats", str(p.pid)],
                   capture_output=True, text=True, timeout=60)
print("jmctl stats PID: exit %d: %s" % (r.returncode, r.stderr.strip()))
check(r.returncode == 1, "exit status")
check("has exited" not in r.stderr, "jmctl says it has exited: %r" % r.stderr)
check("runs with jmalloc" in r.stderr, "jmctl says it runs with jmalloc: %r" % r.stderr)
p.kill()
p.wait()
PY
jmd_stop
ok "jmctl on a process whose main thread ended says what it runs with"
