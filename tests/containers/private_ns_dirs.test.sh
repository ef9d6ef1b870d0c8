#!/usr/bin/env bash
# timeout: 400
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
# then nobody's process there. Twentieth pass: a namespace of root's whose
# first process (the lowest pid) was nobody's counted against nobody's
# bound whoever else ran there, for good once opened: root's service
# beside nobody's worker was not read while nobody's 64 were taken, and
# a namespace read through nobody's worker stayed nobody's once root's
# service ran there; and nobody's sandbox whose process at its root ran
# in a user and pid namespace of nobody's own was keyed by that pid
# namespace, a container of root's with bounds of its own (one more per
# such sandbox). A namespace where root runs is now root's, and only a
# pid namespace root owns keys one.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_segments
need_users "run nobody's processes in mount namespaces root made"
jm_public
export JMALLOC_LIB=$JM_TMP/pub/libjmalloc.so

jmd_start --verbose   # every directory read logged (past the log budget too)
jmd_py - "$JMD_LOG" <<'PY' || fail "nobody's 64 sandboxes kept root's service's directory from being read"
from jmd import *
import atexit, os
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
lib, holder = os.environ["JMALLOC_LIB"], os.path.join(os.environ["JM_HELPERS"], "daemon_holder")
def worker(tag):
    """A namespace of root's whose first process is nobody's: a root
    service's worker run as nobody, its pid lower than the service's once
    pids wrap; staged with nobody's process started first."""
    w = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                          'mount -t tmpfs -o mode=1777 %s "$0" && exec setpriv --reuid=65534 '
                          '--regid=65534 --clear-groups sleep 600' % tag, STATS_DIR])
    atexit.register(w.kill)
    wait_until(lambda: os.readlink("/proc/%d/ns/mnt" % w.pid) != os.readlink("/proc/self/ns/mnt")
               and open("/proc/%d/comm" % w.pid).read().strip() == "sleep", "nobody's worker started")
    return w, os.readlink("/proc/%d/ns/mnt" % w.pid)[4:]
def enter_root(w):
    """Root's service (daemon_holder) in w's namespace, after it."""
    env = dict(os.environ, JMALLOC_STATS_DIR=STATS_DIR, JMALLOC_CONF="prof_sample:0")
    env.pop("LD_PRELOAD", None)   # nsenter's own segment would be the host directory's
    r = subprocess.Popen(["nsenter", "-t", str(w.pid), "-m", "--", "env", "LD_PRELOAD=" + lib,
                          holder], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    atexit.register(r.kill)
    line = r.stdout.readline().decode().split()
    check(len(line) == 2 and line[0] == "ready", "root's service did not start: %r" % line)
    if r.pid < w.pid:             # pids wrapped between the two (pid_max 32768 in a CI run)
        r.kill()
        r.wait()
        return None
    return r
def staged(tag, first_read=None):
    """nobody's worker, then root's service in its namespace with the
    higher pid (staged again if pids wrapped between the two)."""
    for _ in range(5):
        w, ino = worker(tag)
        if first_read:
            first_read(ino)
        r = enter_root(w)
        if r:
            return w, ino, r
        w.kill()
        w.wait()
    fail("root's service kept getting the lower pid (pids wrapping): the stage is not what it tests")
def logged(text):
    return any(text in l for l in open(sys.argv[1]))

# Root's namespace first read through nobody's worker, counted as
# nobody's; root's service starts in it after: the directory is root's
# (the host's private namespaces' shared bound), not one of nobody's 64,
# so that all 64 sandboxes below are read (twentieth pass: a namespace's
# key was fixed at its first open, nobody's 64th sandbox refused).
# (The worker's shell, root's until it execs setpriv, may be met first:
# root's, then nobody's at a recheck once it has.)
w0, ino0, r0 = staged("jmwrk0", lambda ino: wait_until(
    lambda: logged("in mnt:%s too (uid 65534's" % ino) or logged("in mnt:%s is read as uid 65534's" % ino),
    "nobody's worker's namespace read", timeout=90))
wait_until(lambda: logged("in mnt:%s is read as root's" % ino0), "the namespace moved to root's bound",
           timeout=90)
ps = []
for i in range(N):
    p = sandbox()
    ps.append(p)
    atexit.register(p.kill)
def reading():
    return sum(1 for l in open(sys.argv[1]) if "reading %s in mnt:[" % STATS_DIR in l
               and " too (uid 65534's service or sandbox)" in l and ino0 not in l)
wait_until(lambda: reading() >= N, "nobody's %d sandboxes' directories read" % N, timeout=150)

q, ok = private_service("jmsvc", 60)
print("%d sandboxes of nobody's read; root's service in another namespace %s"
      % (N, "tracked" if ok else "NOT tracked"))
check(ok, "root's service not tracked: nobody's sandboxes took the directories of every such namespace")

# Root's namespace whose first process (the lowest pid, the walk's first)
# is nobody's: a root service's worker run as nobody, its pid lower than
# the service's once pids wrap; staged with nobody's process started
# first and root's entered after. Its directory was counted against
# nobody's bound, full, and root's service there was never read
# (twentieth pass); a namespace where root runs is root's.
w, _, r = staged("jmwrk")
try:
    wait_until(lambda: ps_pids().get(r.pid, {}).get("exe") == "daemon_holder",
               "root's service beside nobody's worker in ps", timeout=60)
except SystemExit:
    fail("root's service whose namespace's first process is nobody's was not read: "
         "counted against nobody's full bound of directories")
print("root's service beside nobody's first worker tracked")

# nobody's sandbox whose only process at its root runs in a user and pid
# namespace of nobody's own (unshare --user --pid, no new mount
# namespace; the process that made it chrooted away): the mount
# namespace was keyed by nobody's pid namespace, a container of root's
# with bounds of its own, past nobody's 64 (twentieth pass).
USERPID = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
os.setresuid(65534, 0, 0)
if libc.unshare(0x20000) != 0:
    sys.exit("unshare: %s" % os.strerror(ctypes.get_errno()))
libc.mount(b"none", b"/", None, (1 << 14) | (1 << 18), None)
if libc.mount(b"jmsbx", sys.argv[1].encode(), b"tmpfs", 0, b"mode=1777") != 0:
    sys.exit("mount: %s" % os.strerror(ctypes.get_errno()))
os.setgroups([])
os.setresgid(65534, 65534, 65534)
os.setresuid(65534, 65534, 65534)
if libc.unshare(0x10000000 | 0x20000000) != 0:   # CLONE_NEWUSER | CLONE_NEWPID
    sys.exit("unshare user+pid: %s" % os.strerror(ctypes.get_errno()))
if os.fork() == 0:
    os.execv("/bin/sleep", ["sleep", "600"])
os.chroot("/tmp")                                 # CAP_SYS_CHROOT in its user namespace
os.wait()
"""
# The log from here on: a namespace of this test's gone by now (the
# service's) can have had this one's number (nsfs numbers are reused),
# its 'too' line earlier in the log (a sanitized run read it as this
# sandbox's, 'nobody's 65th sandbox read as a container of root's').
since = os.path.getsize(sys.argv[1])
u = subprocess.Popen(["/usr/bin/python3", "-c", USERPID, STATS_DIR], start_new_session=True)
atexit.register(lambda: os.killpg(u.pid, 9))
def sub_sleep():
    for t in open("/proc/%d/task/%d/children" % (u.pid, u.pid)).read().split():
        return int(t)
kid = wait_until(sub_sleep, "nobody's process in its own pid namespace")
ino = os.readlink("/proc/%d/ns/mnt" % kid)
check(os.readlink("/proc/%d/ns/pid" % kid) != os.readlink("/proc/self/ns/pid"),
      "nobody's sleep is not in a pid namespace of its own")
def seen():
    with open(sys.argv[1], "rb") as f:
        f.seek(since)
        lines = f.read().decode(errors="replace").splitlines()
    for l in lines:
        if "%s in mnt:%s too" % (STATS_DIR, ino[4:]) in l:
            return "read"
        if "uid 65534 owns 64 containers" in l and "mnt:%s is not read" % ino[4:] in l:
            return "bound"
got = wait_until(seen, "nobody's sandbox with a pid namespace of its own read or refused", timeout=90)
check(got == "bound", "nobody's 65th sandbox read as a container of root's: keyed by nobody's own "
      "pid namespace, past nobody's bound")
print("nobody's sandbox with a pid namespace of its own counted as nobody's")

# nobody's 65th is past nobody's own bound, logged as nobody's.
p = sandbox()
atexit.register(p.kill)
wait_until(lambda: any("uid 65534 owns 64 containers whose stats directories are read" in l
                       for l in open(sys.argv[1])), "nobody's bound of directories logged (its 65th sandbox)",
           timeout=90)
PY
jmd_stop
ok "nobody's sandboxes count against nobody's bound of directories"
