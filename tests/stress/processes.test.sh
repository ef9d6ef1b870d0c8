#!/usr/bin/env bash
# timeout: 600
# Many short-lived processes under the allocator while jmstatd watches
# (tests/helpers/stress_spawn: each child allocates, lives 1-5 ms, and
# exits normally, kills itself with SIGKILL, or _exits without its exit
# handlers, a third each): make check starts 500 over about 3 s, make
# stress 10,000 within a minute (over 50 s), 50 at a time. A client asks
# ps all along. Afterwards no segment of a child is left in the stats
# directory, none is shown, the dead list stays bounded, and the daemon's
# memory comes back near where it was. Figures: processes seen live by the
# daemon, segments it removed, its peak RSS.
. "$(dirname "$0")/../lib.sh"
need_segments
[ -x "$JM_HELPERS/stress_spawn" ] || skip "stress_spawn helper not built"
jmd_start --verbose
export JMD_DAEMON_PID=$JMD_PID

jmd_py - <<'PY' || fail "short-lived processes"
from jmd import *
import subprocess, threading

full = bool(os.environ.get("JM_STRESS_FULL"))
n, secs = (10000, 50) if full else (500, 3)
log = os.path.join(os.environ["JM_TMP"], "jmstatd.log")
status = daemon_status

rss0 = status("VmRSS")
answered, errors, stop = [0], [], [False]
def probe():
    try:
        c = Client(timeout=30)
        while not stop[0]:
            r = c.req({"cmd": "ps"})
            if not r["ok"]:
                errors.append(r)
                return
            answered[0] += 1
            time.sleep(0.02)
    except Exception as e:
        errors.append(repr(e))
pt = threading.Thread(target=probe, daemon=True)
pt.start()

env = dict(os.environ, LD_PRELOAD=os.environ["JMALLOC_LIB"], JMALLOC_STATS_DIR=STATS_DIR)
t0 = time.monotonic()
sp = subprocess.Popen([os.path.join(os.environ["JM_HELPERS"], "stress_spawn"), "run", str(n), "50",
                       str(secs)], env=env, stdout=subprocess.PIPE, text=True)
spawner = sp.pid
out = sp.communicate()[0].strip()
check(sp.returncode == 0, "stress_spawn: %r (exit %d)" % (out, sp.returncode))
dt = time.monotonic() - t0
stop[0] = True
pt.join()
check(not errors, "ps failed while processes came and went: %r" % errors)

def leftovers():
    return [f for f in os.listdir(STATS_DIR) if f.startswith("jmalloc.")]
wait_until(lambda: not leftovers(), "every child's segment to be gone (left: %d)" % len(leftovers()),
           timeout=60)
wait_until(lambda: not ps_pids(), "no child in ps")
v = request({"cmd": "version"})
lines = open(log).read().splitlines()
seen = sum(" is live" in l for l in lines)
removed = sum("its process is gone" in l and l.startswith("jmstatd: removed") for l in lines)
print("%s in %.1f s (%.0f processes/s); the daemon saw %d of them live, removed %d segments of"
      " killed ones (the allocator removes the others' at exit, or at the next start);"
      " %d ps answered meanwhile" % (out, dt, n / dt, seen, removed, answered[0]))
print("daemon: RSS %d KiB before, peak %d KiB, %d KiB after; %d segments tracked now"
      % (rss0, status("VmHWM"), status("VmRSS"), v["segments"]))
check(v["segments"] == 0 and v["processes"] == 0, "left tracked: %r" % v)
check(os.environ.get("JM_SANITIZED") or status("VmHWM") - rss0 < 64 * 1024,
      "the daemon grew by more than 64 MiB")
PY
jmd_stop
echo "ok"
