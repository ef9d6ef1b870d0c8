#!/usr/bin/env bash
# timeout: 180
# A user's subscribers cost the daemon one update a tick per pid they
# follow, not one each: an update (the user's ps reply, all their
# processes, and the bins) was built anew for every subscriber and copied
# twice, at the end of each tick, in one burst: 32 subscribers of nobody's
# 600 processes (240 KB an update) took the daemon 15% of a CPU at a
# 200 ms interval and kept root's `version` waiting up to 0.5 s. Now each
# update is built once per tick, viewer and pid, and written to every
# subscriber it goes to from one shared copy (server.c). Here, as nobody,
# with 60 forged processes of nobody's and one of root's:
# - 24 subscribers of the whole view, 7 of one process and one of
#   another, reading every
#   update for 3 s, while root subscribes too: every update whole (the
#   processes and bins its viewer may see; the pid's when it follows
#   one), and the daemon built at most 4 updates a tick (nobody's view
#   and two pids, root's view), not 33;
# - a subscriber of a process that goes away is told "no such process"
#   once, and the others go on.
# No assertion on time: the deadlines are generous socket timeouts.
. "$(dirname "$0")/../lib.sh"
need_users "run processes and connect as nobody"
[ -x "$JM_HELPERS/stress_segwriter" ] || skip "stress_segwriter helper not built"
jmd_start --client-idle 600

NPROC=60 jmd_py - <<'PY' || fail "subscribers"
from jmd import *
import atexit, selectors, subprocess, threading

NOBODY = 65534
nproc = int(os.environ["NPROC"])
W = os.path.join(os.environ["JM_HELPERS"], "stress_segwriter")
procs = []
atexit.register(lambda: [p.kill() for p in procs])

def forged(uid):
    p = subprocess.Popen(["sleep", "600"], **as_user(uid or None))
    procs.append(p)
    subprocess.run([W, "write", os.path.join(STATS_DIR, segment_name_of(p.pid)), str(p.pid),
                    str(uid), "exe=svc"], **as_user(uid or None), check=True,
                   capture_output=True)
    return p.pid

root_pid = forged(0)
pids = [forged(NOBODY) for _ in range(nproc)]
wait_until(lambda: set(pids + [root_pid]) <= set(ps_pids()), "the forged processes listed")
followed, gone = pids[0], pids[1]

def subscribers(secs):
    """As nobody: 24 subscribers of the whole view, 7 of one process, one
    of a process killed after a second; every line read and judged, for
    secs and until the last was told its process is gone."""
    sel = selectors.DefaultSelector()
    for i in range(32):
        s = socket.socket(socket.AF_UNIX)
        s.connect(SOCK)
        pid = 0 if i < 24 else followed if i < 31 else gone
        s.sendall(b'{"cmd":"subscribe"%s}\n' % (b',"pid":%d' % pid if pid else b""))
        sel.register(s, selectors.EVENT_READ, [bytearray(), pid])
    n, bad, gone_told = 0, [], 0
    end, deadline = time.monotonic() + secs, time.monotonic() + 90
    while (time.monotonic() < end or not gone_told) and time.monotonic() < deadline:
        for key, _ in sel.select(0.2):
            buf, pid = key.data
            chunk = key.fileobj.recv(1 << 20)
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            buf += chunk
            while b"\n" in buf:
                i = buf.index(b"\n")
                r = json.loads(bytes(buf[:i]))
                del buf[:i + 1]
                n += 1
                if pid == gone and not r["ok"]:
                    gone_told += r["error"] == "no such process: %d" % gone
                    continue
                seen = sorted(p["pid"] for p in r.get("processes", []))
                if not r["ok"] or seen not in (sorted(pids), sorted(set(pids) - {gone})) or \
                        r["host"]["processes"] != len(seen):
                    bad.append("%d processes, ok %s" % (len(seen), r["ok"]))
                elif pid and r.get("pid") != pid:
                    bad.append("pid %r for a subscriber of %d" % (r.get("pid"), pid))
                elif not pid and "pid" in r:
                    bad.append("a pid for a subscriber of the whole view")
                elif not r["bins"]:
                    bad.append("no bins")
    return [n, bad[:3], gone_told]

v0 = request({"cmd": "version"})
result = {}
t = threading.Thread(target=lambda: result.update(r=as_uid(NOBODY, lambda: subscribers(3.0))[1]))
t.start()
root = Client()
root.send_raw(b'{"cmd":"subscribe"}\n')
time.sleep(1.0)
os.kill(gone, 9)
root_n = 0
while t.is_alive():
    r = root.read()
    check(r["ok"] and root_pid in [p["pid"] for p in r["processes"]], "root's update")
    root_n += 1
t.join()
v1 = request({"cmd": "version"})
n, bad, gone_told = result["r"]
ticks, built = v1["ticks"] - v0["ticks"], v1["updates_built"] - v0["updates_built"]
print("%d updates to nobody's 32 subscribers, %d to root's, in %d ticks: %d built" %
      (n, root_n, ticks, built))
check(not bad, "nobody's updates: %r" % bad)
check(gone_told == 1, "the subscriber of a process gone told so %d times" % gone_told)
check(n > 32, "only %d updates to 32 subscribers" % n)
# nobody's whole view, its two pids, root's whole view: 4 a tick at most.
check(built <= 4 * (ticks + 1), "%d updates built in %d ticks for 33 subscribers" % (built, ticks))
PY
ok "subscribers: one update built a tick per viewer and pid, shared"
