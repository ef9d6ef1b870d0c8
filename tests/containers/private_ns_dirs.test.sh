#!/usr/bin/env bash
# timeout: 200
# The host's private mount namespaces (root's, reached through processes
# of the daemon's pid namespace whose cgroups name no container) shared
# one bound of directories read, 64, as they share a bound of files
# (tests/containers/private_ns_bound.test.sh). A user with a set-uid
# sandbox that makes a mount namespace with a /dev/shm of its own and no
# pid namespace (bwrap installed set-uid, without --unshare-pid), or
# with 64 services run as them, filled it, and root's service in
# another such namespace was never read (nineteenth pass). Such a
# namespace reached through a user's process now counts against that
# user's bound of directories (JMD_UID_DIRS), as their own containers
# do. Staged as a set-uid sandbox makes them: nobody's real uid
# throughout, root's effective uid to make the namespace and its tmpfs,
# then nobody's process there.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_segments
need_users "run nobody's processes in mount namespaces root made"
jm_public
export JMALLOC_LIB=$JM_TMP/pub/libjmalloc.so

jmd_start --verbose   # every directory read logged (past the log budget too)
jmd_py - "$JMD_LOG" <<'PY' || fail "nobody's 64 sandboxes kept root's service's directory from being read"
from jmd import *
import atexit
N = 64
SANDBOX = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
os.setresuid(65534, 0, 0)       # a set-uid program run by nobody
if libc.unshare(0x20000) != 0:  # CLONE_NEWNS
    sys.exit("unshare: %s" % os.strerror(ctypes.get_errno()))
libc.mount(b"none", b"/", None, (1 << 14) | (1 << 18), None)     # MS_REC | MS_PRIVATE
if libc.mount(b"jmsbx", sys.argv[1].encode(), b"tmpfs", 0, b"mode=1777") != 0:
    sys.exit("mount: %s" % os.strerror(ctypes.get_errno()))
os.setgroups([])
os.setresgid(65534, 65534, 65534)
os.setresuid(65534, 65534, 65534)
os.execv("/bin/sleep", ["sleep", "600"])
"""
def sandbox():
    return subprocess.Popen(["/usr/bin/python3", "-c", SANDBOX, STATS_DIR])
ps = []
for i in range(N):
    p = sandbox()
    ps.append(p)
    atexit.register(p.kill)
def reading():
    return sum(1 for l in open(sys.argv[1]) if "reading %s in mnt:[" % STATS_DIR in l
               and " too" in l)
wait_until(lambda: reading() >= N, "nobody's %d sandboxes' directories read" % N, timeout=60)

q, ok = private_service("jmsvc", 60)
print("%d sandboxes of nobody's read; root's service in another namespace %s"
      % (N, "tracked" if ok else "NOT tracked"))
check(ok, "root's service not tracked: nobody's sandboxes took the directories of every such namespace")

# nobody's 65th is past nobody's own bound, logged as nobody's.
p = sandbox()
atexit.register(p.kill)
wait_until(lambda: any("uid 65534 owns 64 containers whose stats directories are read" in l
                       for l in open(sys.argv[1])), "nobody's bound of directories logged (its 65th sandbox)",
           timeout=90)
PY
jmd_stop
ok "nobody's sandboxes count against nobody's bound of directories"
