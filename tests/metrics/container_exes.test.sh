#!/usr/bin/env bash
# timeout: 120
# The cap of per-bin exes per user on /metrics (exposure.test.sh: 32, the
# rest in {exe="_other"}; root 256) with root in a container without a
# user namespace (Docker's and Kubernetes' default), which is uid 0 on
# the host: its processes' names took root's 256, and root's services
# started after them were summed in _other. Root's processes in a
# container's own directory now count as that container's, under a
# user's cap: 35 processes of 35 names in one container, 32 named, the
# rest in the container's _other (root's _other before the eleventh
# pass; its series are labelled mntns since, container_scope.test.sh); a
# root process on the host started after them still has series of its
# own.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_segments
mkdir -p "$JM_TMP/progs"
for i in $(seq 1 34); do ln -s "$JM_HELPERS/demo_fragment" "$JM_TMP/progs/prog_$i"; done
ln -s "$JM_HELPERS/demo_fragment" "$JM_TMP/progs/hostprog"
jmd_start --metrics 127.0.0.1:0
export METRICS_URL=$JMD_URL/metrics PROGS=$JM_TMP/progs
jmd_py - <<'PY' || fail "per-bin exes of a container's root"
from jmd import *
import atexit, re, subprocess, urllib.request
url = os.environ["METRICS_URL"]
progs = os.environ["PROGS"]
holder = os.path.join(os.environ["JM_HELPERS"], "daemon_holder")
# No other program runs before pid 1 execs the holder (its name is one
# of the container's), so that the names are the 34 and the holder's.
script = ('for i in %s; do "%s/prog_$i" -s 64 -c 1000 -r 1 >/dev/null 2>&1 & done; '
          'exec "%s"' % (" ".join(str(i) for i in range(1, 35)), progs, holder))
ct = Container(private=True, program=["sh", "-c", script])
atexit.register(ct.p.kill)
def exes():
    page = urllib.request.urlopen(url, timeout=20).read().decode()
    # (exe, uid, mntns): the container's carry its mount namespace
    # (container_scope.test.sh), root's host processes none.
    return set(re.findall(r'^jmalloc_bin_\w+\{exe="([^"]*)",uid="(\d+)"(?:,mntns="(\d+)")?,size=', page, re.M))
def progs_seen():
    return sum(1 for p in ps_pids().values() if str(p.get("exe", "")).startswith("prog_"))
wait_until(lambda: progs_seen() == 34, "the container's 34 processes", timeout=60)
time.sleep(3 * INTERVAL_MS / 1000.0)
got = wait_until(lambda: (lambda e: e if len({x for x in e if x[0] != "_other"}) >= 32 else None)(exes()),
                 "the container's exes on /metrics", timeout=30)
mntns = str(os.stat("/proc/%d/ns/mnt" % ct.host_pid).st_ino)
check(all(x[2] == mntns for x in got), "series of the container's without its mntns=%s: %r" % (mntns, sorted(got)))
named = {x for x in got if x[0] != "_other"}
print("the container's 35 names (34 and its pid 1's): %d with series of their own, _other of uid 0: %s"
      % (len(named), ("_other", "0", mntns) in got))
check(len(named) == 32, "the container's exes with series of their own: %d, not 32: %r"
      % (len(named), sorted(named)))
check(("_other", "0", mntns) in got, "no _other of uid 0 in the container: %r" % sorted(got))
host = subprocess.Popen([os.path.join(progs, "hostprog"), "-s", "64", "-c", "1000", "-r", "1"],
                        stdout=subprocess.DEVNULL,
                        env=dict(os.environ, JMALLOC_STATS_DIR=STATS_DIR, JMALLOC_CONF="prof_sample:0",
                                 LD_PRELOAD=os.environ["JMALLOC_LIB"]))
atexit.register(host.kill)
wait_until(lambda: ("hostprog", "0", "") in exes(), "root's host process's own series", timeout=30)
print("root's host process started after them has series of its own")
PY
jmd_stop
echo "ok"
