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
need_unshare
need_users "run processes as nobody"
need_segments
command -v nsenter >/dev/null || skip "no nsenter"
jm_public "$JM_HELPERS/daemon_holder"
cp "$(dirname "$0")/scope_client.py" "$JM_TMP/pub/inner.py"
jmd_start --client-idle 120
JMALLOC_LIB=$JM_TMP/pub/libjmalloc.so JM_HELPERS=$JM_TMP/pub \
jmd_py - <<'PY' || fail "a container's clients on the daemon's socket"
from jmd import *
import atexit, json
inner = os.path.join(os.environ["JM_TMP"], "pub", "inner.py")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
procs = []
def stop():
    for p in procs:
        p.kill()
atexit.register(stop)

root_h = Holder()
nobody_h = Holder(uid=65534)
a = Container(private=True)
b = Container(private=True)
procs += [root_h.p, nobody_h.p, a.p, b.p]
everyone = {root_h.pid, nobody_h.pid, a.host_pid, b.host_pid}
wait_until(lambda: everyone <= set(ps_pids()), "the host's and the containers' processes listed")

def inside(ct, args, user=(), extra=()):
    return ["nsenter", "-t", str(ct.host_pid), "-p", "--"] + list(extra) + list(user) + \
           ["python3", inner, SOCK] + [str(x) for x in args]

def view(ct, user=()):
    r = subprocess.run(inside(ct, ["view", root_h.pid], user), capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 0, "the client in the container: %s" % r.stderr[-500:])
    return json.loads(r.stdout)

# What root of container a sees: its own process, nothing of the host's
# or of container b (the old daemon: everything, "scope":"host").
v = view(a)
print("container a's root sees: %r" % v)
check(v["pids"] == [a.host_pid], "container a's root sees %r, not only its process %d (host: %r)"
      % (v["pids"], a.host_pid, sorted(everyone)))
check(v["scope"] == "namespace" and v["processes"] == 1, "its version: %r" % v)
check(v["stats_ok"] is False, "container a's root read the stats of root's host process")
check(v["history"] == 0, "container a's root read the host's history: %d samples" % v["history"])
# nobody in container a: none of it (its process is root's), nor
# nobody's own process on the host.
v = view(a, NOBODY)
check(v["pids"] == [], "nobody in container a sees %r" % v["pids"])
# The host's root still sees everything, the host's nobody its own.
check(everyone <= set(ps_pids()), "root's view lost processes")
check(request({"cmd": "version"})["scope"] == "host", "root's scope is not the host's")

def hold(ct, n, user=(), extra=()):
    p = subprocess.Popen(inside(ct, ["hold", n], user, extra), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    procs.append(p)
    line = p.stdout.readline()
    check(line, "a holding client in the container said nothing")
    return json.loads(line)

# Container a's root takes 40 connections: 32 kept, its container's
# share (the old daemon kept all 40, root's; it takes up to 256).
r = hold(a, 40)
print("container a's root, 40 connections: %r" % r)
check(r["kept"] == 32 and r["refused"] == 8, "container a's root kept %d of 40" % r["kept"])
check("container" in r["why"], "refused for %r" % r["why"])
# Its nobody, and root of a pid namespace it makes, share that share.
r = hold(a, 1, NOBODY)
check(r["kept"] == 0, "nobody in container a got a connection past the container's 32")
r = hold(a, 1, extra=["unshare", "--pid", "--fork"])
check(r["kept"] == 0, "a pid namespace made in container a got a connection past its 32")
# The host's nobody and container b each have their own.
n = nobody_connections(4)
check(n == 4, "the host's nobody served %d of 4 connections" % n)
r = hold(b, 4)
check(r["kept"] == 4, "container b kept %d of 4" % r["kept"])
# A user's own container (a user namespace of nobody's) is nobody's: it
# sees its own processes only, and shares nobody's 32 connections (a
# bound each would let anyone make as many as they like).
def rootless(args, stdin=None):
    return subprocess.Popen(NOBODY + ["unshare", "--user", "--map-root-user", "--pid", "--fork",
                                      "python3", inner, SOCK] + [str(x) for x in args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
p = rootless(["view", nobody_h.pid])
out = json.loads(p.communicate(timeout=60)[0])
check(out["pids"] == [] and out["stats_ok"] is False,
      "nobody's own container sees %r (nobody's host process %d)" % (out, nobody_h.pid))
pid, kept = as_uid(65534, lambda: (lambda s: ([len(s)], s))([Client() for i in range(32)]),
                   keep=True)
p = rootless(["hold", 2])
procs.append(p)
r = json.loads(p.stdout.readline())
check(r["kept"] == 0, "nobody's own container kept %d connections past nobody's 32" % r["kept"])
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
print("nobody on the host and container b served; container a bounded at 32")
PY
jmd_stop
ok "a container's clients see their namespace's processes, bounded as the container"
