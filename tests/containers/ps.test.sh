#!/usr/bin/env bash
# timeout: 120
# Four containers made as runtimes make them (unshare --pid --fork
# --mount-proc --mount --ipc), each daemon_holder as its pid 1 holding a
# known amount: two with a private tmpfs on the stats directory (a
# container's own /dev/shm, which the host's directory never shows) and two
# writing into the host's directory (a shared hostPath volume), where their
# pids alone would collide. The host's jmstatd, told nothing about them,
# lists all four under their host pids with what they hold and their
# in-container pid, and removes none of their files while they run (it
# used to look pid 1 up in the host's /proc and remove the live files as a
# reused pid's). Each exits normally or is killed: each leaves ps, and a
# killed one's file in the shared directory is removed.
. "$(dirname "$0")/../lib.sh"
need_unshare
jmd_start

jmd_py - <<'PY' || fail "containers"
from jmd import *
import atexit

cs = []
atexit.register(lambda: [c.p.kill() for c in cs])
pa, pb, sa, sb = Container(private=True), Container(private=True), Container(), Container()
cs += [pa, pb, sa, sb]
check(len({c.host_pid for c in cs}) == 4 and len({c.pidns for c in cs}) == 4, "four distinct containers")
want = {pa: 4096 * 2560, pb: 65536 * 160, sa: 1024 * 8000, sb: 300000 * 30}
pa.cmd("alloc 4096 2560")
pb.cmd("alloc 65536 160")
sa.cmd("alloc 1024 8000")
sb.cmd("alloc 300000 30")
for c in cs:
    check(os.path.exists(c.segment()), "no segment %s" % c.segment())
for c in (pa, pb):
    check(not os.path.exists(os.path.join(STATS_DIR, os.path.basename(c.segment()))),
          "a private container's segment is in the host's directory")

def all_sampled():
    ps = ps_pids()
    return all(c.host_pid in ps and abs(ps[c.host_pid]["allocated"] - want[c]) <= 0.05 * want[c]
               for c in cs) and ps
ps = wait_until(all_sampled, "the four containers in ps under their host pids, with what they hold")
for c in cs:
    p = ps[c.host_pid]
    check(p["ns_pid"] == 1, "ns_pid %r, not 1" % p["ns_pid"])
    check(p["exe"] == "daemon_holder", "exe %r" % p["exe"])
    r = stats(c.host_pid)
    check(r["ok"] and r["pid"] == c.host_pid and r["ns_pid"] == 1, "stats of host pid %d: %r"
          % (c.host_pid, r))
check(1 not in ps or ps[1]["exe"] != "daemon_holder", "a container shown under pid 1")

# Ten ticks: no file is touched.
t0 = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + 10 * INTERVAL_MS / 1000.0, "ten ticks")
log = open(os.path.join(os.environ["JM_TMP"], "jmstatd.log")).read()
for c in cs:
    check(os.path.exists(c.segment()), "a live container's segment was removed: %s\n%s" % (c.segment(), log))
check("removed" not in log, "the daemon removed something:\n" + log)
ps = ps_pids()
check(all(c.host_pid in ps for c in cs), "all four still in ps")

# Normal exits (the allocator removes the file), then kills (the daemon
# removes a shared one's file: its writer is gone; a private one's goes
# with its container's tmpfs).
seg_sa = sa.segment()
pa.exit()
sa.exit()
check(not os.path.exists(seg_sa), "sa's segment is still there after it exited")
wait_until(lambda: pa.host_pid not in ps_pids() and sa.host_pid not in ps_pids(), "pa and sa to leave ps")
seg_sb = sb.segment()
pb.kill()
sb.kill()
wait_until(lambda: not os.path.exists(seg_sb), "sb's segment removed after it was killed")
wait_until(lambda: pb.host_pid not in ps_pids() and sb.host_pid not in ps_pids(), "pb and sb to leave ps")
check(not os.listdir(STATS_DIR), "files left: %r" % os.listdir(STATS_DIR))
print("four containers as pid 1 (two private tmpfs, two in one shared directory): listed under "
      "their host pids, kept while alive, gone after exit and kill")
PY
jmd_stop
echo "ok"
