#!/usr/bin/env bash
# timeout: 120
# The stats segment is live (issue 4): regions that an idle thread holds in
# its cache show in the next sample, counted as cached (in the bin's
# curregs, but not in use); a forked child publishes its own segment under
# its own pid while the parent's stays; both seen through the real daemon.
. "$(dirname "$0")/../lib.sh"
need_segments
[ -x "$JM_HELPERS/seg_idle" ] || fail "seg_idle helper not built"
jmd_start
jmd_py - <<'PY' || fail "idle thread cache, fork"
from jmd import *
import time

def start(*args):
    env = dict(os.environ, LD_PRELOAD=os.environ["JMALLOC_LIB"], JMALLOC_STATS_DIR=STATS_DIR,
               JMALLOC_CONF="prof_sample:0")
    return subprocess.Popen([os.path.join(os.environ["JM_HELPERS"], "seg_idle")] + list(args),
                            stdout=subprocess.PIPE, env=env)

def bin_of(r, size):
    return [b for b in r["bins"] if b["size"] == size][0]

# 18 regions of 448 bytes (two fills of 9), freed into an idle thread's
# cache, which holds 18 of that class from the start (8 KiB,
# docs/allocator.md; of 3584 bytes it holds 2, grown to 4 here).
p = start("cache", "448", "18")
line = p.stdout.readline().decode().split()
check(line[0] == "ready", "seg_idle: %r" % line)
t = time.time()
r = stats_after(p.pid, t)
b = bin_of(r, 448)
check(b["cached"] == 18, "cached %r, expected the 18 regions of the idle thread" % b["cached"])
check(b["curregs"] == b["inuse"] + b["cached"], "curregs %r != inuse %r + cached %r" %
      (b["curregs"], b["inuse"], b["cached"]))
check(b["nrequests"] >= 18, "nrequests %r" % b["nrequests"])
print("idle thread: bin 448 cached=%d curregs=%d inuse=%d in the first sample after" %
      (b["cached"], b["curregs"], b["inuse"]))
p.kill(); p.wait()

# fork: the child publishes under its own pid, the parent's segment stays.
p = start("fork")
line = p.stdout.readline().decode().split()
check(line[0] == "child", "seg_idle fork: %r" % line)
child = int(line[1])
t = time.time()
child_seg = os.path.join(STATS_DIR, segment_name_of(child))
check(os.path.exists(child_seg), "no segment for the child")
check(segment_path(p.pid) is not None, "no segment for the parent")
procs = wait_until(lambda: (lambda d: d if child in d and p.pid in d else None)(ps_pids()),
                   "parent %d and child %d in ps" % (p.pid, child))
check(procs[child]["exe"] == "seg_idle", "child exe %r" % procs[child]["exe"])
rc = stats_after(child, t)
check(rc["ok"] and sum(a["allocated_large"] for a in rc["arenas"]) >= 100000,
      "the child's large allocation is not in its segment: %r" % rc.get("arenas"))
os.kill(child, 9)
p.kill(); p.wait()
wait_until(lambda: not os.path.exists(child_seg),
           "the dead child's segment to be removed")
print("fork: child %d published its own segment, removed after its death" % child)
PY
jmd_stop
