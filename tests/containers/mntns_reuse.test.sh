#!/usr/bin/env bash
# timeout: 150
# The kernel gives a new namespace the inode number of one gone before
# (the lowest free), mount namespaces included: a container started just
# after another ended often has a mount namespace with the same inode.
# The walk of /proc (dirs.c) knows a namespace by its inode, so one made
# between two walks was taken for the one gone: the first container's
# stats directory (a tmpfs the daemon still held open) stood for the
# second's, whose own was never read, and the container never listed
# (how tests/containers/owned.test.sh failed once in CI, with other
# tests' containers coming and going). A namespace whose representative
# process is gone is now opened again through another of its processes.
. "$(dirname "$0")/../lib.sh"
need_unshare
jmd_start

jmd_py - <<'PY'
from jmd import *
import atexit

live = []
atexit.register(lambda: [c.p.kill() for c in live])
def mntns(c):
    return os.stat("/proc/%d/ns/mnt" % c.host_pid).st_ino

reused = 0
a = Container(private=True)
live.append(a)
a.cmd("alloc 4096 100")
wait_until(lambda: a.host_pid in ps_pids(), "container A in ps under its host pid")
for attempt in range(6):
    ino = mntns(a)
    a.kill()
    a.p.wait()
    b = Container(private=True)        # at once: most often before the next walk
    live.append(b)
    b.cmd("alloc 4096 100")
    same = mntns(b) == ino
    print("attempt %d: mount namespace %d, %s" % (attempt, mntns(b),
          "A's" if same else "not A's (%d)" % ino))
    wait_until(lambda: b.host_pid in ps_pids(),
               "container B (mount namespace %s) in ps under its host pid"
               % ("A's" if same else "a new one"), timeout=40)
    reused += same
    if reused == 2:
        break
    a = b
if reused == 0:
    print("the kernel gave no new mount namespace a gone one's inode here")
    sys.exit(77)
PY
rc=$?
[ $rc = 77 ] && skip "no mount namespace inode reused"
[ $rc = 0 ] || fail "a container in a reused mount namespace"
ok "a container whose mount namespace has a gone one's inode is listed"
