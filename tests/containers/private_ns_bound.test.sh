#!/usr/bin/env bash
# timeout: 150
# The host's private mount namespaces (a service's with a /dev/shm of its
# own: systemd's TemporaryFileSystem=/dev/shm, with User= or not; a
# set-uid sandbox's) are reached through processes of the daemon's pid
# namespace whose cgroups name no container, and shared one key: one
# bound of files (--user-processes + 1,024), of live processes, of alert
# commands, for all of them, whatever the files' owners. A user whose
# process runs in one of them (a service run as nobody) filled it with
# names of segments: 1,100 of nobody's, --user-processes 2 (1,026 files
# tracked a key), and root's service in another such namespace was not
# tracked (not in ps, for root either) (nineteenth pass). In such a
# namespace a file of a user other than root now counts against its
# owner's own bounds, as on the host; root's files against the shared
# key. A namespace one of whose processes runs in a pid namespace of
# root's below the daemon's (a container made by `unshare --pid --fork`,
# whose first process, the runtime's, stays in the daemon's pid
# namespace) is keyed by that pid namespace, as a container whose
# processes all run in it is: every uid's files there count as the
# container's (tests/containers/uid_charge.test.sh).
. "$(dirname "$0")/../lib.sh"
need_unshare
need_segments
need_users "run nobody's process in a mount namespace root made"
jm_public
export JMALLOC_LIB=$JM_TMP/pub/libjmalloc.so

jmd_start --user-processes 2
jmd_py - <<'PY' || fail "nobody's names in one service's namespace hid root's service in another"
from jmd import *
import atexit
N, BOUND = 1100, 2 + 1024

# nobody's service: a mount namespace root made, a tmpfs on the stats
# directory, its process run as nobody, with N names of its own there.
outer = ('mount -t tmpfs -o mode=1777 jmsvc "$0" && '
         'exec setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "$1" "$0" "$2"')
p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", outer,
                      STATS_DIR, JUNK_MAKER, str(N)], stdout=subprocess.PIPE)
atexit.register(p.kill)
check(p.stdout.readline().strip() == b"made", "nobody's namespace not made")
wait_until(lambda: request({"cmd": "version"})["segment_files_untracked"] >= N - BOUND,
           "nobody's names past a bound", timeout=40)

# Root's service in a namespace of its own, likewise made.
q, ok = private_service("jmsvc2", 20)
v = request({"cmd": "version"})
print("%d names of nobody's in its service's namespace: %d files untracked; root's service "
      "in another namespace %s" % (N, v["segment_files_untracked"], "tracked" if ok else "NOT tracked"))
check(ok, "root's service not tracked: nobody's names spent the bound of every such namespace")
PY
jmd_stop
ok "nobody's names in its service's namespace count against nobody's bound"
