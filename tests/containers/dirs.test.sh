#!/usr/bin/env bash
# timeout: 120
# The stats directories: --stats-dir given twice reads both; a container
# writing into the second (a directory shared with the host, as a hostPath
# volume) is listed under its host pid, and its file is removed once it is
# killed. --no-containers reads no other mount namespace: a container with
# its own tmpfs on the stats directory is not listed then, and is without.
. "$(dirname "$0")/../lib.sh"
need_unshare
EXTRA=$JM_TMP/shared
mkdir -p "$EXTRA" && chmod 1777 "$EXTRA"
export EXTRA

jmd_start --stats-dir "$EXTRA" --no-containers
jmd_py - <<'PY' || fail "a second --stats-dir, --no-containers"
from jmd import *
import atexit
cs = []
atexit.register(lambda: [c.p.kill() for c in cs])
shared = Container(env_extra={"JMALLOC_STATS_DIR": os.environ["EXTRA"]})
private = Container(private=True)
cs += [shared, private]
seg = os.path.join(os.environ["EXTRA"], "jmalloc.1.%d.%d.stats" % (shared.pidns, shared.start))
check(os.path.exists(seg), "no segment in the second directory: %r" % os.listdir(os.environ["EXTRA"]))
ps = wait_until(lambda: (lambda v: shared.host_pid in v and v)(ps_pids()), "the container of the second directory in ps")
check(ps[shared.host_pid]["ns_pid"] == 1, "ns_pid")
# Five ticks: the private one stays unseen with --no-containers.
t0 = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + 5 * INTERVAL_MS / 1000.0, "five ticks")
check(private.host_pid not in ps_pids(), "--no-containers, yet a private container is listed")
shared.kill()
wait_until(lambda: not os.path.exists(seg), "the killed container's file in the second directory removed")
wait_until(lambda: shared.host_pid not in ps_pids(), "the killed container to leave ps")
private.exit()
PY
jmd_stop

jmd_start
jmd_py - <<'PY' || fail "containers found by default"
from jmd import *
import atexit
c = Container(private=True)
atexit.register(c.p.kill)
wait_until(lambda: c.host_pid in ps_pids(), "a private container in ps (no option)")
c.exit()
wait_until(lambda: c.host_pid not in ps_pids(), "it leaves ps when it exits")
print("a second --stats-dir read, --no-containers honoured, containers found by default")
PY
jmd_stop
echo ok
