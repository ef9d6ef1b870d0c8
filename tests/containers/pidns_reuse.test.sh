#!/usr/bin/env bash
# timeout: 120
# The kernel gives a new pid namespace the inode of one gone before (the
# lowest free number): a container started after another ended is often
# pid 1 of a namespace with the same inode. The census (census.c) kept
# the first one's pid 1 from the walk that found it, and took it for the
# second container's writer: its host pid was dead, so the second's
# segment was removed as its process's, gone, and the container never
# listed (how tests/containers/owned.test.sh failed once in CI: another
# test's container had ended). A census match is now checked against
# /proc before it is believed.
. "$(dirname "$0")/../lib.sh"
need_unshare
jmd_start --verbose

jmd_py - <<'PY'
from jmd import *
import atexit

live = []
atexit.register(lambda: [c.p.kill() for c in live])
reused = 0
for attempt in range(4):
    a = Container()
    live.append(a)
    a.cmd("alloc 4096 100")
    wait_until(lambda: a.host_pid in ps_pids(), "container A in ps under its host pid")
    a.kill()
    a.p.wait()
    wait_until(lambda: a.host_pid not in ps_pids(), "container A gone from ps")
    b = Container()
    live.append(b)
    b.cmd("alloc 4096 100")
    if b.pidns != a.pidns:      # another namespace made meanwhile took it
        print("attempt %d: pid namespace %d, not A's %d" % (attempt, b.pidns, a.pidns))
        b.kill()
        b.p.wait()
        continue
    reused += 1
    wait_until(lambda: b.host_pid in ps_pids(),
               "container B (pid namespace %d, as A's was) in ps under its host pid" % b.pidns)
    check(os.path.exists(b.segment()), "B's segment was removed")
    b.kill()
    b.p.wait()
    wait_until(lambda: b.host_pid not in ps_pids(), "container B gone from ps")
    if reused == 2:
        break
if reused == 0:
    print("the kernel gave no new pid namespace a gone one's inode here")
    sys.exit(77)
print("containers listed in a pid namespace of a gone one's inode: %d" % reused)
PY
rc=$?
[ $rc = 77 ] && skip "no pid namespace inode reused"
[ $rc = 0 ] || fail "a container in a reused pid namespace"
ok "a container whose pid namespace has a gone one's inode is listed, its segment kept"
