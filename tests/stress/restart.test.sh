#!/usr/bin/env bash
# timeout: 900
# jmstatd killed with SIGKILL and started again while processes run: each
# time, the new daemon replaces the stale socket, finds every live process
# again with everything it published, including what it allocated while no
# daemon ran, and removes the segment of a process killed meanwhile; one
# that exited meanwhile is not shown. Short-lived processes come and go
# all along (tests/helpers/stress_spawn). make check: 3 kills; make
# stress: 20.
. "$(dirname "$0")/../lib.sh"
need_segments
[ -x "$JM_HELPERS/stress_spawn" ] || skip "stress_spawn helper not built"
rounds=3
[ -n "${JM_STRESS_FULL:-}" ] && rounds=20
export rounds JMSTATD
jmd_start

jmd_py - <<'PY' || fail "SIGKILL and restart"
from jmd import *
import atexit, signal, subprocess

rounds = int(os.environ["rounds"])
log = os.path.join(os.environ["JM_TMP"], "jmstatd.log")
env = dict(os.environ, LD_PRELOAD=os.environ["JMALLOC_LIB"], JMALLOC_STATS_DIR=STATS_DIR)
churn = subprocess.Popen([os.path.join(os.environ["JM_HELPERS"], "stress_spawn"), "run",
                          str(100000), "8", str(100000)], env=env, stdout=subprocess.DEVNULL)
started = [churn]       # killed on the way out, whatever happens
atexit.register(lambda: [p.kill() for p in started])

def daemon_pid():
    """The pid of the daemon answering on the socket, None if none does."""
    try:
        return request({"cmd": "version"})["pid"]
    except OSError:
        return None

def dead(pid):
    """Gone, or a zombie (the first daemon is lib.sh's child, not ours)."""
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True

def start_daemon():
    d = subprocess.Popen([os.environ["JMSTATD"], "--socket", SOCK, "--stats-dir", STATS_DIR,
                          "--interval", str(INTERVAL_MS)], stdout=open(log, "a"),
                         stderr=subprocess.STDOUT)
    started.append(d)
    wait_until(lambda: daemon_pid() == d.pid, "the new daemon to answer")
    return d

def bin_curregs(pid, size):
    r = stats(pid)
    check(r["ok"], "stats %d: %r" % (pid, r))
    return sum(b["curregs"] for b in r["bins"] if b["size"] == size)

holders = []
for i in range(4):
    h = Holder()
    h.cmd("alloc 3072 200")
    holders.append(h)
wait_until(lambda: all(h.pid in ps_pids() for h in holders), "the holders in ps")
for h in holders:
    wait_until(lambda: bin_curregs(h.pid, 3072) >= 200, "holder %d's 200 regions" % h.pid)

t0 = time.monotonic()
d = None
for r in range(rounds):
    pid = daemon_pid()
    os.kill(pid, signal.SIGKILL)
    if d:
        d.wait()
    else:
        wait_until(lambda: dead(pid), "the daemon to die")
    check(os.path.exists(SOCK), "the killed daemon's socket file is left behind (as expected)")
    # While no daemon runs: one holder allocates more, one exits, one is
    # killed, a new one starts.
    holders[0].cmd("alloc 1536 %d" % (100 + r))
    gone = holders.pop(1)
    gone.exit()
    killed = holders.pop(1)
    killed.kill()
    new = Holder()
    new.cmd("alloc 3072 200")
    holders.append(new)
    d = start_daemon()
    wait_until(lambda: all(h.pid in ps_pids() for h in holders), "round %d: every live holder" % r)
    p = ps_pids()
    check(gone.pid not in p and killed.pid not in p, "round %d: a holder that went is shown" % r)
    wait_until(lambda: not os.path.exists(killed.segment()), "round %d: the killed holder's segment"
               " removed" % r)
    check(bin_curregs(holders[0].pid, 1536) >= sum(100 + k for k in range(r + 1)),
          "round %d: what holder 0 allocated while no daemon ran is not seen" % r)
    for h in holders:
        check(bin_curregs(h.pid, 3072) >= 200, "round %d: holder %d lost its 200 regions" % (r, h.pid))
    # Two more holders so that the next round has some to let go.
    while len(holders) < 4:
        h = Holder()
        h.cmd("alloc 3072 200")
        holders.append(h)
    wait_until(lambda: all(h.pid in ps_pids() for h in holders), "round %d: new holders" % r)
dt = time.monotonic() - t0
churn.kill()
churn.wait()
for h in holders:
    h.exit()
starts = sum("started: pid" in l for l in open(log))
print("%d SIGKILLs and restarts in %.1f s, with processes coming and going: every live holder found"
      " again with its counters, every killed one's segment removed; %d daemon starts logged"
      % (rounds, dt, starts))
d.terminate()
check(d.wait() == 0, "the last daemon did not exit cleanly")
PY
echo "ok"
