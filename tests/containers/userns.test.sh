#!/usr/bin/env bash
# timeout: 120
# Rootless containers: a user (nobody) makes containers with a user
# namespace of their own where they are root (unshare --user
# --map-root-user --pid --mount, as rootless podman does), one writing into
# the host's directory, one into a tmpfs of its own. Their segments say uid
# 0 (their uid as they see it) in files the host sees owned by nobody: the
# daemon skipped them as another uid's claim, and no such container was
# ever shown. Now the header's uid is mapped through the writer's
# /proc/PID/uid_map: both are listed under their host pids as nobody's, to
# root and to nobody (its own jmctl), with their sites; a file of nobody's
# claiming a root process with uid 0 is still refused; the killed shared
# one's file is removed.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_jmctl
[ -x "$JM_HELPERS/stress_segwriter" ] || skip "stress_segwriter helper not built"
command -v setpriv >/dev/null || skip "needs setpriv (nobody's containers)"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
"${NOBODY[@]}" unshare --user --map-root-user --pid --fork --mount true 2>/dev/null ||
	skip "unprivileged user namespaces are off here"
jmd_start
sleep 600 &
export ROOT_SLEEP=$!

jmd_py - <<'PY' || fail "rootless containers"
from jmd import *
import atexit, json

conf = {"JMALLOC_CONF": "prof_sample:4096"}
shared = Container(uid=65534, env_extra=conf)
private = Container(uid=65534, private=True, env_extra=conf)
cs = [shared, private]
atexit.register(lambda: [c.p.kill() for c in cs])
for c in cs:
    c.cmd("alloc 4096 256")
    check(os.stat(c.segment()).st_uid == 65534, "%s is not nobody's" % c.segment())

def listed():
    ps = ps_pids()
    return all(c.host_pid in ps and ps[c.host_pid]["allocated"] >= 4096 * 256 for c in cs) and ps
ps = wait_until(listed, "nobody's rootless containers in root's ps under their host pids")
for c in cs:
    p = ps[c.host_pid]
    check(p["uid"] == 65534 and p["ns_pid"] == 1, "uid %r, ns_pid %r" % (p["uid"], p["ns_pid"]))

# nobody's own jmctl sees them, and their sites.
out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                      os.environ["JMCTL"], "--socket", SOCK, "--json", "ps"],
                     capture_output=True, text=True, timeout=20)
mine = {p["pid"] for p in json.loads(out.stdout)["processes"]}
check({c.host_pid for c in cs} <= mine, "nobody's jmctl ps: %r" % out.stdout[:500])
for c in cs:
    r = subprocess.run([os.environ["JMCTL"], "--socket", SOCK, "--json", "sites", str(c.host_pid)],
                       capture_output=True, text=True, timeout=20)
    check(r.returncode == 0 and json.loads(r.stdout)["sites"], "sites of %d: %s %s"
          % (c.host_pid, r.stdout[:300], r.stderr))

# nobody's file claiming root's sleep with uid 0: not shown, skipped.
victim = int(os.environ["ROOT_SLEEP"])
forged = os.path.join(STATS_DIR, "jmalloc.%d.stats" % victim)
subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                os.path.join(os.environ["JM_HELPERS"], "stress_segwriter"), "write", forged,
                str(victim), "0"], check=True, capture_output=True)
log = os.path.join(os.environ["JM_TMP"], "jmstatd.log")
wait_until(lambda: ("jmalloc.%d.stats" % victim) in open(log).read(), "the forged file skipped")
check(victim not in ps_pids(), "nobody's file shown as root's process %d" % victim)

path = shared.segment()
shared.kill()
wait_until(lambda: not os.path.exists(path), "the killed container's file removed")
wait_until(lambda: shared.host_pid not in ps_pids(), "the killed container out of ps")
PY
ok "rootless containers: listed as their user's, to root and to that user; a forged claim refused"
