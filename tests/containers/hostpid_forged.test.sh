#!/usr/bin/env bash
# timeout: 150
# A user's cgroup named as root's container (the seventeenth pass). A
# mount namespace root made, reached through a process of the daemon's
# pid namespace (a --pid=host container's), is keyed by the container its
# cgroup names (fifteenth pass: the first run of 64 hex digits in its
# path). But a user may name cgroups of theirs as they like where systemd
# delegates them (user@UID.service, a unit's Delegate=), and a process of
# theirs may run in a mount namespace root made (a service's
# PrivateDevices= with User=, a set-uid sandbox's): nobody's process
# there, moved into user@65534.service/docker-<root's container's
# id>.scope of nobody's making, had that namespace's directory keyed as
# root's container, nobody's files counted against the container's
# bounds: 1,100 names of nobody's there, --user-processes 2 (1,026 files
# tracked a key), and the container's next process was not tracked. As
# for the container label (labels.c), only a cgroup directory root made
# names a container now.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_segments
need_users "run nobody's process in a cgroup of nobody's"
need_cgroup_base
command -v setpriv >/dev/null || skip "needs setpriv"
ID=$(container_id)
ROOTCG=$base/system.slice/docker-$ID.scope
DELEG=$base/user.slice/user@65534.service
mkdir -p "$ROOTCG" "$DELEG" || skip "cannot make nested cgroups under $cg2"
cgroup_delegate 65534 "$DELEG"
jm_public
export JMALLOC_LIB=$JM_TMP/pub/libjmalloc.so ROOTCG DELEG ID

jmd_start --user-processes 2
jmd_py - <<'PY' || fail "nobody's namespace keyed as root's container"
from jmd import *
import atexit
rootcg, deleg, cid = os.environ["ROOTCG"], os.environ["DELEG"], os.environ["ID"]
N, BOUND = 1100, 2 + 1024

# Root's --pid=host container, its process tracked.
a = HostPid(rootcg)
atexit.register(a.p.kill)
wait_until(lambda: a.pid in ps_pids(), "the --pid=host container's process in ps")

# nobody's process in a mount namespace root made, in a cgroup of
# nobody's named as the container, with N names of its own there.
mine = deleg + "/docker-%s.scope" % cid
# (in the namespace, as root: its tmpfs; then as nobody: the cgroup, the names)
junk = 'mkdir "$2" && echo $$ > "$2/cgroup.procs" || exit 1\n' + JUNK_MAKER
outer = ('echo $$ > "$1/cgroup.procs" && mount -t tmpfs -o mode=1777 jmns "$0" && '
         'exec setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "$2" "$0" "$3" "$4"')
p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", outer,
                      STATS_DIR, deleg, junk, str(N), mine], stdout=subprocess.PIPE)
atexit.register(p.kill)
check(p.stdout.readline().strip() == b"made", "nobody's namespace not made")
wait_until(lambda: request({"cmd": "version"})["segment_files_untracked"] >= N - BOUND,
           "nobody's names past a bound", timeout=40)
time.sleep(3 * INTERVAL_MS / 1000.0)

# The container's next process.
q = subprocess.Popen(a.inside(["env", "LD_PRELOAD=" + os.environ["JMALLOC_LIB"],
                               "JMALLOC_STATS_DIR=" + STATS_DIR, "sleep", "600"]))
atexit.register(q.kill)
try:
    wait_until(lambda: q.pid in ps_pids(), "the container's next process in ps", timeout=15)
    ok = True
except SystemExit:
    ok = False
untracked = request({"cmd": "version"})["segment_files_untracked"]
print("%d names of nobody's under cgroup %s: %d files untracked; the container's next process %s"
      % (N, mine[len(os.path.dirname(deleg)):], untracked, "tracked" if ok else "NOT tracked"))
check(ok, "the container's next process not tracked: nobody's names spent its bound")
PY
jmd_stop
ok "a cgroup of nobody's named as root's container is not that container"
