#!/usr/bin/env bash
# timeout: 150
# Root in a container without a user namespace (Docker's default) runs
# its processes as any host uid it likes (`USER 65534`, setpriv), and the
# files in its own /dev/shm as any owner. Those processes were charged to
# that uid's user: the container spent the bounds of a host user who had
# nothing to do with it, here nobody's --user-processes (5 for the test):
# four of the container's processes as nobody, and nobody's second
# process on the host was not tracked (not in ps, for nobody or root);
# and the container's processes shared nobody's bounds of files, alert
# commands, dead processes' history and per-exe series. Every uid's processes and files in a container's
# directory whose namespaces root owns now count as that container's, as
# root's there did since the tenth pass (eleventh pass, docs/security.md).
. "$(dirname "$0")/../lib.sh"
need_unshare
need_users "run processes as nobody"
need_segments
jm_public "$JM_HELPERS/daemon_holder"
jmd_start --user-processes 5
pub_py - <<'PY' || fail "a container's processes as nobody charged to nobody"
from jmd import *
import atexit
holder = os.path.join(os.environ["JM_HELPERS"], "daemon_holder")
# Four processes of nobody's, and the container's pid 1 (its first
# program, preloaded, exec'd the rest without the allocator: its segment
# stays): the container's 5, its bound since.
script = ('for i in 1 2 3 4; do setpriv --reuid=65534 --regid=65534 --clear-groups '
          'env LD_PRELOAD="$JM_CT_PRELOAD" sleep 600 & done; exec "%s"' % holder)
ct = Container(private=True, program=["env", "-u", "LD_PRELOAD", "sh", "-c", script])
atexit.register(ct.p.kill)
def theirs():
    return sum(1 for p in ps_pids().values() if p.get("uid") == 65534)
wait_until(lambda: theirs() == 4, "the container's 4 processes of uid 65534", timeout=60)
print("the container runs 4 processes as uid 65534 (nobody's --user-processes: 5)")
hs = []
for i in range(2):
    hs.append(Holder(uid=65534))
    atexit.register(hs[-1].p.kill)
wait_until(lambda: all(h.pid in ps_pids() for h in hs), "nobody's own 2 processes on the host tracked",
           timeout=30)
print("nobody's own 2 processes on the host are tracked: %d of uid 65534's in ps" % theirs())
check(theirs() == 6, "%d processes of uid 65534 in ps, not 6" % theirs())
PY
jmd_stop
echo "ok"
