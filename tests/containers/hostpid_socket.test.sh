#!/usr/bin/env bash
# timeout: 150
# Root of a container that shares the host's pid namespace (--pid=host,
# hostPID: its own mount namespace and cgroup, the host's pids) with the
# daemon's socket mounted in it, and Docker's default capabilities (no
# CAP_SYS_PTRACE: the kernel does not let it read the host's processes'
# memory or maps), connects as uid 0: the fifteenth pass left it the
# host's view (every user's and container's processes, the stats and
# sites of root's host services, the host's history, "scope":"host"),
# root's connections (256, no per-uid cap) and no CPU budget; and a pid
# namespace it made was a container of its own, with 32 connections more
# each. A client of the daemon's pid namespace whose cgroup names a
# container (not the daemon's own) and which lacks CAP_SYS_PTRACE now
# sees that container's processes only, and root's such clients, those of
# the pid namespaces it makes included, share its 32 connections
# (sixteenth pass, docs/security.md). With CAP_SYS_PTRACE (a privileged
# debugging container, which may read every process's memory anyway) it
# keeps the host's view. And the directories of the pid namespaces it
# makes (each with a mount namespace and a tmpfs on /dev/shm of its own)
# count as that container's, where each had bounds of its own.
. "$(dirname "$0")/../lib.sh"
need_scope
need_cgroup_base
ID1=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
ID2=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
CG1=$base/system.slice/docker-$ID1.scope
CG2=$base/system.slice/docker-$ID2.scope
mkdir -p "$CG1" "$CG2" || skip "cannot make nested cgroups under $cg2"
export CG1 CG2
jmd_start --client-idle 120
pub_py - <<'PY' || fail "a --pid=host container's clients on the daemon's socket"
from jmd import *
# Docker's default capabilities; SYS_ADMIN added where it makes namespaces.
DOCKER = "chown,dac_override,fowner,fsetid,kill,setgid,setuid,setpcap,net_bind_service," \
         "net_raw,sys_chroot,mknod,audit_write,setfcap"
def caps(extra=""):
    want = DOCKER + ("," + extra if extra else "")
    return ["setpriv", "--bounding-set=-all," + ",".join("+" + c for c in want.split(","))]
sc = ScopeClients(lambda: HostPid(os.environ["CG1"]), lambda: HostPid(os.environ["CG2"]))
a, b, everyone, NOBODY = sc.a, sc.b, sc.everyone, sc.NOBODY

# Root of container a, Docker's capabilities: its own process only (the
# old daemon: all four, root's host process's stats, the host's history).
v = sc.view(a.inside(caps()))
print("root of --pid=host container a sees: %r" % v)
check(v["pids"] == [a.pid], "container a's root sees %r, not only its process %d (host: %r)"
      % (v["pids"], a.pid, sorted(everyone)))
check(v["scope"] == "container" and v["processes"] == 1, "its version: %r" % v)
check(v["stats_ok"] is False, "container a's root read the stats of root's host process")
check(v["history"] == 0, "container a's root read the host's history: %d samples" % v["history"])
# nobody there: none (its one process is root's).
v = sc.view(a.inside(caps() + NOBODY))
check(v["pids"] == [], "nobody in container a sees %r" % v["pids"])
# With CAP_SYS_PTRACE (privileged: it may read any process's memory) the
# host's view, as before.
v = sc.view(a.inside([]))
check(everyone <= set(v["pids"]) and v["scope"] == "host", "a privileged client sees %r" % v)
check(request({"cmd": "version"})["scope"] == "host", "the host root's scope is not the host's")

# Container a's root: 32 of 40 connections (the old daemon kept 40, root's).
r = sc.hold(a.inside(caps()), 40)
print("container a's root, 40 connections: %r" % r)
check(r["kept"] == 32 and r["refused"] == 8, "container a's root kept %d of 40" % r["kept"])
check("container" in r["why"], "refused for %r" % r["why"])
# A pid namespace it makes (CAP_SYS_ADMIN) is no container of its own.
r = sc.hold(a.inside(caps("sys_admin") + ["unshare", "--pid", "--fork"]), 2)
print("a pid namespace made in container a, 2 connections: %r" % r)
check(r["kept"] == 0, "a pid namespace made in container a kept %d past its 32" % r["kept"])
# Container b and the host's nobody have their own.
r = sc.hold(b.inside(caps()), 4)
check(r["kept"] == 4, "container b kept %d of 4" % r["kept"])
n = nobody_connections(4)
check(n == 4, "the host's nobody served %d of 4 connections" % n)
print("container b and the host's nobody served; container a bounded at 32")
PY
jmd_stop

# Files: 3 pid namespaces made in container a, each with a mount
# namespace and a tmpfs of its own holding 1,100 names, --user-processes
# 2 (a bound of 1,026 files): one bound for the container, where each
# had its own (222 untracked, 74 of each).
jmd_start --user-processes 2
pub_py - <<'PY' || fail "pid namespaces made in a --pid=host container"
from jmd import *
import atexit
K, N, BOUND = 3, 1100, 2 + 1024
a = HostPid(os.environ["CG1"])
atexit.register(a.p.kill)
wait_until(lambda: a.pid in ps_pids(), "container a's process listed")
for k in range(K):
    # The mount namespace made inside the pid namespace: none of its
    # processes is of ours (unshare's parent is not in it).
    p = subprocess.Popen(a.inside(["unshare", "--pid", "--fork", "--mount-proc", "unshare",
                                   "--mount", "--propagation", "private", "sh", "-c",
                                   MNTNS_JUNK_MAKER, STATS_DIR, str(N)]),
                         stdout=subprocess.PIPE)
    atexit.register(p.kill)
    check(p.stdout.readline().strip() == b"made", "namespace %d not made" % k)
want = (K * N + 1 - BOUND, K * N - BOUND)   # its holder's segment tracked first, or not
deadline = time.monotonic() + 40
while True:
    untracked = request({"cmd": "version"})["segment_files_untracked"]
    if untracked in want or time.monotonic() > deadline:
        break
    time.sleep(0.2)
print("%d files in %d pid namespaces made in a --pid=host container: %d untracked (%d before)"
      % (K * N, K, untracked, K * (N - BOUND)))
check(untracked in want, "%d files untracked, not %r: a bound per pid namespace" % (untracked, want))
PY
jmd_stop
ok "a --pid=host container's clients see their container's processes, bounded as it"
