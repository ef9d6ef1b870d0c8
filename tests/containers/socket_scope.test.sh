#!/usr/bin/env bash
# timeout: 150
# Root of a container without a user namespace, the daemon's socket
# mounted in it, connects as uid 0 (SO_PEERCRED): it had the host's view
# (every user's and every container's processes, `"scope":"host"`),
# root's connections (no per-uid cap: it could take all 256) and no CPU
# budget; its processes run as other uids had each that host user's
# share. A client in a pid namespace below the daemon's now sees only its
# namespace's processes (all of them as its root, else its uid's), and
# its connections and budgets are its container's (the pid namespace just
# below the daemon's it runs in or under), whatever its uid and however
# many pid namespaces it makes, where root owns that namespace; a user's
# own container (a user namespace they made) is theirs (fifteenth pass,
# docs/security.md).
. "$(dirname "$0")/../lib.sh"
need_scope
jmd_start --client-idle 120
pub_py - <<'PY' || fail "a container's clients on the daemon's socket"
from jmd import *
import json
sc = ScopeClients(lambda: Container(private=True), lambda: Container(private=True))
a, b, everyone, NOBODY = sc.a, sc.b, sc.everyone, sc.NOBODY

def at(ct, pre=()):
    """pre run in container ct's pid namespace."""
    return ["nsenter", "-t", str(ct.host_pid), "-p", "--"] + list(pre)

# What root of container a sees: its own process, nothing of the host's
# or of container b (the old daemon: everything, "scope":"host").
v = sc.view(at(a))
print("container a's root sees: %r" % v)
check(v["pids"] == [a.host_pid], "container a's root sees %r, not only its process %d (host: %r)"
      % (v["pids"], a.host_pid, sorted(everyone)))
check(v["scope"] == "namespace" and v["processes"] == 1, "its version: %r" % v)
check(v["stats_ok"] is False, "container a's root read the stats of root's host process")
check(v["history"] == 0, "container a's root read the host's history: %d samples" % v["history"])
# nobody in container a: none of it (its process is root's), nor
# nobody's own process on the host.
v = sc.view(at(a, NOBODY))
check(v["pids"] == [], "nobody in container a sees %r" % v["pids"])
# The host's root still sees everything, the host's nobody its own.
check(everyone <= set(ps_pids()), "root's view lost processes")
check(request({"cmd": "version"})["scope"] == "host", "root's scope is not the host's")

# Container a's root takes 40 connections: 32 kept, its container's
# share (the old daemon kept all 40, root's; it takes up to 256).
r = sc.hold(at(a), 40)
print("container a's root, 40 connections: %r" % r)
check(r["kept"] == 32 and r["refused"] == 8, "container a's root kept %d of 40" % r["kept"])
check("container" in r["why"], "refused for %r" % r["why"])
# Its nobody, and root of a pid namespace it makes, share that share.
r = sc.hold(at(a, NOBODY), 1)
check(r["kept"] == 0, "nobody in container a got a connection past the container's 32")
r = sc.hold(at(a, ["unshare", "--pid", "--fork"]), 1)
check(r["kept"] == 0, "a pid namespace made in container a got a connection past its 32")
# The host's nobody and container b each have their own.
n = nobody_connections(4)
check(n == 4, "the host's nobody served %d of 4 connections" % n)
r = sc.hold(at(b), 4)
check(r["kept"] == 4, "container b kept %d of 4" % r["kept"])
# A user's own container (a user namespace of nobody's) is nobody's: it
# sees its own processes only, and shares nobody's 32 connections (a
# bound each would let anyone make as many as they like).
ROOTLESS = NOBODY + ["unshare", "--user", "--map-root-user", "--pid", "--fork"]
out = sc.view(ROOTLESS, sc.nobody_h.pid)
check(out["pids"] == [] and out["stats_ok"] is False,
      "nobody's own container sees %r (nobody's host process %d)" % (out, sc.nobody_h.pid))
pid, kept = as_uid(65534, lambda: (lambda s: ([len(s)], s))([Client() for i in range(32)]),
                   keep=True)
r = sc.hold(ROOTLESS, 2)
check(r["kept"] == 0, "nobody's own container kept %d connections past nobody's 32" % r["kept"])
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
print("nobody on the host and container b served; container a bounded at 32")
PY
jmd_stop
ok "a container's clients see their namespace's processes, bounded as the container"
