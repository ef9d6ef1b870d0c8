#!/usr/bin/env bash
# timeout: 150
# Root of a container without a user namespace, with CAP_SYS_ADMIN (not
# in Docker's default set), makes mount namespaces of its own, each with
# a tmpfs on /dev/shm and a process holding it: each was a directory the
# daemon read with bounds of its own (files tracked, read budget, live
# processes, alert commands), keyed by its mount namespace, so the
# container multiplied them without bound (20 such namespaces with 3,000
# junk names each: RSS 2.8 -> 13 MB; about 0.5 MB a namespace). A root
# container's directories are now charged to the pid namespace just below
# the daemon's that they were reached through, which its processes cannot
# leave (fourteenth pass, docs/security.md): here 3 namespaces made
# inside the container share its bound of files tracked
# (--user-processes 2: 1,026), where each had its own before.
. "$(dirname "$0")/../lib.sh"
need_unshare
command -v nsenter >/dev/null || skip "no nsenter"
jmd_start --user-processes 2
JMALLOC_STATS_DIR=$JMD_STATS LD_PRELOAD=$JMALLOC_LIB sleep 600 &
export ROOT_PROC=$!
jmd_py - <<'PY' || fail "mount namespaces made in a root container"
from jmd import *
import atexit, time

K, N, BOUND = 3, 1100, 2 + 1024
c = Container(private=True)
atexit.register(lambda: c.p.kill())
root = int(os.environ["ROOT_PROC"])
wait_until(lambda: c.host_pid in ps_pids() and root in ps_pids(), "the container and root's process")
maker = MNTNS_JUNK_MAKER
kids = []
for k in range(K):
    p = subprocess.Popen(["nsenter", "-t", str(c.host_pid), "-p", "-m", "--", "unshare", "--mount",
                          "--propagation", "private", "sh", "-c", maker, STATS_DIR, str(N)],
                         stdout=subprocess.PIPE)
    atexit.register(p.kill)
    check(p.stdout.readline().strip() == b"made", "namespace %d not made" % k)
    kids.append(p)
total = K * N + 1       # the junk, and the container's pid 1's segment
# The container's own directory is also reached through unshare's parent,
# in the host's pid namespace (as a runtime's process may be): when the
# daemon looked there first, its one file is charged to its mount
# namespace, and K * N - BOUND are left out; else total - BOUND. Not one
# namespace more made inside the container adds to that.
wants = (total - BOUND, K * N - BOUND)
deadline = time.monotonic() + 40
while True:
    untracked = request({"cmd": "version"})["segment_files_untracked"]
    if untracked in wants or time.monotonic() > deadline:
        break
    time.sleep(0.2)
print("%d files of the container in %d directories: %d untracked (%d before this pass)"
      % (total, K + 1, untracked, K * (N - BOUND)))
check(untracked in wants, "%d of the container's files untracked, not %d: a bound per mount namespace"
      % (untracked, wants[0]))
check(root in ps_pids() and c.host_pid in ps_pids(), "root's process or the container left ps")
PY
jmd_stop
echo "ok"
