#!/usr/bin/env bash
# timeout: 300
# One of the host's private mount namespaces (root's `unshare --mount`
# with a tmpfs on the stats directory, as a service's with a /dev/shm of
# its own) where nobody's worker and root's service run is root's: its
# directory counts against the bound those namespaces share, not one of
# nobody's 64 (tests/containers/private_ns_dirs, twentieth pass). Once
# root's service exits and only nobody's worker runs there, it is
# nobody's again, as a namespace opened now would be: it stayed root's
# for as long as the worker ran (the twentieth pass's leftover), so a user
# who got a process of real uid 0 into a namespace of theirs for a moment
# kept it off their bound for good. Seen at the rechecks (each of a
# namespace's first 6 walks, then every 32nd): `... is read as uid
# 65534's (no process of root's runs there now), not root's`. Root's
# service started after the worker, or before it where pids wrap: either
# way it is root's while the service runs (the walk met root's process),
# and nobody's after (re-keyed at a recheck, or when the namespace is
# opened again through the worker, the service its first process).
. "$(dirname "$0")/../lib.sh"
need_unshare
need_segments
need_users "run nobody's process in a mount namespace root made"
jm_public
export JMALLOC_LIB=$JM_TMP/pub/libjmalloc.so

jmd_start --verbose --interval 100   # a walk of /proc a second
jmd_py - "$JMD_LOG" <<'PY' || fail "the namespace root's service left stayed root's"
from jmd import *
import atexit, os
lib, holder = os.environ["JMALLOC_LIB"], os.path.join(os.environ["JM_HELPERS"], "daemon_holder")

def logged(text):
    return [l for l in open(sys.argv[1]) if text in l]

w = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                      'mount -t tmpfs -o mode=1777 jmrekey "$0" && exec setpriv --reuid=65534 '
                      '--regid=65534 --clear-groups sleep 600', STATS_DIR])
atexit.register(w.kill)
wait_until(lambda: os.readlink("/proc/%d/ns/mnt" % w.pid) != os.readlink("/proc/self/ns/mnt")
           and open("/proc/%d/comm" % w.pid).read().strip() == "sleep", "nobody's worker started")
ino = os.readlink("/proc/%d/ns/mnt" % w.pid)[4:]
env = dict(os.environ, JMALLOC_STATS_DIR=STATS_DIR, JMALLOC_CONF="prof_sample:0")
env.pop("LD_PRELOAD", None)   # nsenter's own segment would be the host directory's
r = subprocess.Popen(["nsenter", "-t", str(w.pid), "-m", "--", "env", "LD_PRELOAD=" + lib, holder],
                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
atexit.register(r.kill)
line = r.stdout.readline().decode().split()
check(len(line) == 2 and line[0] == "ready", "root's service did not start: %r" % line)
wait_until(lambda: ps_pids().get(r.pid, {}).get("exe") == "daemon_holder", "root's service in ps",
           timeout=90)
def whose():
    """Whose the namespace's directory is, by the daemon's latest line
    about it: read first (as root's, or as nobody's), then moved."""
    last = None
    for l in logged("in mnt:%s " % ino):
        if " too (uid 65534's" in l or " is read as uid 65534's" in l:
            last = "nobody"
        elif l.rstrip().endswith(" too") or " is read as root's" in l:
            last = "root"
    return last
# Root's while root's service runs there (read as root's at once, or
# moved to root's at a recheck; the worker's shell, root's until it
# execs setpriv, may have been met first, and left).
wait_until(lambda: whose() == "root", "the namespace read as root's", timeout=90)
moved = len(logged("in mnt:%s is read as uid 65534's" % ino))
r.kill()
r.wait()
wait_until(lambda: r.pid not in ps_pids(), "root's service gone from ps", timeout=60)
check(len(logged("in mnt:%s is read as uid 65534's" % ino)) == moved or whose() == "nobody",
      "re-keyed while root's service ran")
# The rechecks every 32nd walk: 32 s at a walk a second; 150 s bounds a hang.
wait_until(lambda: len(logged("in mnt:%s is read as uid 65534's (no process of root's runs there now)"
                              % ino)) > moved, "the namespace nobody's again", timeout=150)
check(whose() == "nobody", "the namespace's last line: %s's" % whose())
print("the namespace read as nobody's once root's service left it")
PY
jmd_stop
ok "a private namespace root's processes left is its user's again"
