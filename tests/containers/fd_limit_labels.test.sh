#!/usr/bin/env bash
# timeout: 180
# A process first read while jmstatd is out of file descriptors between
# the check of its writer and the read of its cgroup (a descriptor taken
# meanwhile: dirs.c's opening thread, another process of the host where
# ENFILE) had its cgroup and pid namespace unread: it kept no container
# labels (ps, /metrics, its alerts' JMALLOC_ALERT_CONTAINER) and was
# hidden from a client in its container's pid namespace, for as long as
# it lived. They are read once a descriptor is free. Staged with gdb: the
# daemon held at the read of the cgroup of a host process in a cgroup
# made to look like Docker's (docker-ID.scope) while its descriptor limit
# is lowered to the ones it holds; the limit is then raised.
. "$(dirname "$0")/../lib.sh"
need_segments
need_cmd prlimit
need_cmd gdb
need_cgroup_base
ID=$(container_id)
CG=$base/system.slice/docker-$ID.scope
mkdir -p "$CG" || skip "cannot make nested cgroups under $cg2"
export ID CG
jmd_start --no-containers --interval 1h
export JMD_PID
cat >"$JM_TMP/limit0.py" <<'PY'
import os, subprocess, sys
pid = sys.argv[1]
fds = set(int(f) for f in os.listdir("/proc/%s/fd" % pid))
hole = min(i for i in range(len(fds) + 1) if i not in fds)
subprocess.check_call(["prlimit", "--pid", pid, "--nofile=%d:" % hole])
PY
jmd_py - <<'PY' || fail "labels of a process first read out of descriptors"
from jmd import *
pid = int(os.environ["JMD_PID"])
ID, CG, tmp = os.environ["ID"], os.environ["CG"], os.environ["JM_TMP"]
soft = [l.split()[3] for l in open("/proc/%d/limits" % pid) if l.startswith("Max open files")][0]

def into_cgroup():
    with open(os.path.join(CG, "cgroup.procs"), "w") as f:
        f.write("0")

ready = os.path.join(tmp, "attached")
gdb = subprocess.Popen(["gdb", "-batch", "-nx", "-p", str(pid), "-ex", "break jmd_labels_read",
                        "-ex", "shell touch " + ready, "-ex", "continue",
                        "-ex", "shell python3 %s/limit0.py %d" % (tmp, pid), "-ex", "detach"],
                       stdout=open(os.path.join(tmp, "gdb.out"), "w"), stderr=subprocess.STDOUT)
wait_until(lambda: os.path.exists(ready), "gdb attached")
h = Holder(preexec_fn=into_cgroup)
try:
    gdb.wait(timeout=60)
except subprocess.TimeoutExpired:
    gdb.kill()
    fail("gdb did not stop the daemon at jmd_labels_read")
out = open(os.path.join(tmp, "gdb.out")).read()
check("Breakpoint 1, jmd_labels_read" in out, "gdb did not stop at jmd_labels_read: %s" % out[-500:])
limits = [l for l in open("/proc/%d/limits" % pid) if l.startswith("Max open files")][0]
print("held at the read of the holder's cgroup; then %s" % " ".join(limits.split()))
# The daemon at its read, without descriptors: its line about it, before
# the limit is raised (a sleep of 0.5 s here was a guess a loaded machine
# may not give the daemon's thread).
log = os.path.join(tmp, "jmstatd.log")
wait_until(lambda: "process %d's cgroup and pid namespace not read" % h.pid in open(log).read(),
           "the daemon's line about the holder's cgroup not read", timeout=60)
subprocess.check_call(["prlimit", "--pid", str(pid), "--nofile=%s:" % soft])
r = wait_until(lambda: (lambda v: v if v and v["container"] else None)(ps_pids().get(h.pid)),
               "the holder read at the limit labelled once descriptors are free", timeout=20)
check(r["container"] == ID and r["cgroup"].endswith("/docker-%s.scope" % ID),
      "its labels: %r" % {k: r[k] for k in ("cgroup", "container", "pod")})
h.exit()
PY
jmd_stop
grep -q "process [0-9]*'s cgroup and pid namespace not read" "$JMD_LOG" ||
	fail "no line about the cgroup not read"
ok "a process first read out of descriptors gets its container labels once one is free"
