#!/usr/bin/env bash
# timeout: 120
# Two containers (unshare --pid --fork --mount-proc --mount --ipc) writing
# into one shared stats directory, as with a hostPath volume: both are pid 1
# in their namespaces, so their pids alone would collide. The host's
# jmstatd lists both under their host pids with what they hold and their
# in-container pid, and removes neither file while they run (it used to
# look their pid 1 up in the host's /proc and remove the live files as a
# reused pid's). One exits normally, the other is killed: each file goes
# and each process leaves ps.
. "${JM_ROOT:?}/tests/daemon/lib.sh" || exit 1
why=$(jmd_py -c 'from jmd import *; print(can_unshare() or "")')
[ -z "$why" ] || { echo "$why"; exit 77; }
jmd_start

jmd_py - <<'PY' || die "containers sharing a directory"
from jmd import *
import atexit

cs = []
atexit.register(lambda: [c.p.kill() for c in cs])
a, b = Container(), Container()
cs += [a, b]
check(a.host_pid != b.host_pid and a.pidns != b.pidns, "two distinct containers")
want = {a: 4096 * 2560, b: 65536 * 160}
a.cmd("alloc 4096 2560")
t = b.cmd("alloc 65536 160")
for c in cs:
    check(os.path.exists(c.segment()), "no segment %s" % c.segment())

def both_sampled():
    ps = ps_pids()
    return all(c.host_pid in ps and abs(ps[c.host_pid]["allocated"] - want[c]) <= 0.05 * want[c]
               for c in cs) and ps
ps = wait_until(both_sampled, "both containers in ps under their host pids, with what they hold")
for c in cs:
    p = ps[c.host_pid]
    check(p["ns_pid"] == 1, "ns_pid %r, not 1" % p["ns_pid"])
    check(p["exe"] == "daemon_holder", "exe %r" % p["exe"])
    r = stats(c.host_pid)
    check(r["ok"] and r["pid"] == c.host_pid, "stats of host pid %d: %r" % (c.host_pid, r))
check(1 not in ps or ps[1]["exe"] != "daemon_holder", "a container shown under pid 1")

# Ten ticks: neither file is touched.
t0 = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + 10 * INTERVAL_MS / 1000.0, "ten ticks")
log = open(os.path.join(os.environ["JM_TMP"], "jmstatd.log")).read()
for c in cs:
    check(os.path.exists(c.segment()), "a live container's segment was removed: %s\n%s" % (c.segment(), log))
check("removed" not in log, "the daemon removed something:\n" + log)
ps = ps_pids()
check(a.host_pid in ps and b.host_pid in ps, "both still in ps")

# a exits normally (its allocator removes its file); b is killed (the
# daemon removes its file, its writer being gone).
a.exit()
check(not os.path.exists(a.segment()), "a's segment is still there after it exited")
wait_until(lambda: a.host_pid not in ps_pids(), "a to leave ps")
b.kill()
wait_until(lambda: not os.path.exists(b.segment()), "b's segment removed after it was killed")
wait_until(lambda: b.host_pid not in ps_pids(), "b to leave ps")
print("two containers as pid 1 in one directory: listed as %d and %d, kept while alive, "
      "gone after exit and kill" % (a.host_pid, b.host_pid))
PY
jmd_stop
echo "ok"
