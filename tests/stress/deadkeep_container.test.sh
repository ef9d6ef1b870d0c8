#!/usr/bin/env bash
# timeout: 240
# Dead processes are kept per user, 128 of one user's (deadkeep.test.sh),
# and root in a container without a user namespace (Docker's and
# Kubernetes' default) is uid 0 on the host: 150 short-lived processes in
# one container took root's places, and root's host service that had
# just died lost its history (what an operator looks at after a crash).
# Root's processes in a container's own directory now count as that
# container's: root's dead service is kept, and the container's newest
# 128.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_segments
need_cmd nsenter
jmd_start
jmd_py - <<'PY'
from jmd import *
import atexit, subprocess, sys
frag = os.path.join(os.environ["JM_HELPERS"], "demo_fragment")
svc = Holder()
svc.cmd("alloc 4096 100")
wait_until(lambda: svc.pid in ps_pids(), "root's service in ps")
wait_until(lambda: len(request({"cmd": "history", "pid": svc.pid})["samples"]) >= 3,
           "3 samples of root's service")
svc.kill()
dead = lambda pid: (lambda r: r["ok"] and not r["alive"])(request({"cmd": "history", "pid": pid}))
wait_until(lambda: dead(svc.pid), "root's service dead in history")
t_dead = time.monotonic()
ct = Container(private=True)
atexit.register(ct.p.kill)
env = dict(os.environ, LD_PRELOAD=os.environ["JMALLOC_LIB"], JMALLOC_STATS_DIR=STATS_DIR,
           JMALLOC_CONF="prof_sample:0")
churned = 0
for wave in range(5):
    # 30 processes in the container (its mount and pid namespaces), each
    # sampled while it lives its 2 s, then gone.
    before = set(ps_pids())
    sh = ('for i in %s; do "%s" -s 64 -c 1000 -r 1 -t 2 >/dev/null 2>&1 & done; wait'
          % (" ".join(str(i) for i in range(30)), frag))
    p = subprocess.Popen(["nsenter", "-t", str(ct.host_pid), "-m", "-p", "--", "sh", "-c", sh], env=env)
    seen = set()
    def wave_seen():
        seen.update(pid for pid, q in ps_pids().items() if q.get("exe") == "demo_fragment")
        return len(seen) >= 30
    wait_until(wave_seen, "wave %d in ps" % wave, timeout=60)
    p.wait()
    wait_until(lambda: not any(q.get("exe") == "demo_fragment" for q in ps_pids().values()),
               "wave %d gone" % wave, timeout=60)
    churned += len(seen)
r = request({"cmd": "history", "pid": svc.pid})
if not r["ok"] and time.monotonic() - t_dead > 540:
    print("the churn took %.0f s, near the 10 minutes a dead process is kept: cannot tell"
          % (time.monotonic() - t_dead))
    sys.exit(77)
print("the container's %d processes came and went" % churned)
check(r["ok"] and not r["alive"] and len(r["samples"]) >= 3,
      "root's dead service after the container's %d processes: %r"
      % (churned, r if not r["ok"] else len(r["samples"])))
print("root's dead service kept through the container's churn")
PY
rc=$?
[ $rc = 77 ] && skip "the churn took nearly the 10 minutes a dead process is kept (load)"
[ $rc = 0 ] || fail "a container's root's churn took root's dead processes' history"
jmd_stop
echo "ok"
