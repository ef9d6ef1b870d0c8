#!/usr/bin/env bash
# timeout: 150
# /metrics' per-bin series are per exe (a name and a uid), 32 names per
# user with series of their own and the rest summed in one _other
# (exposure.test.sh); a root container's processes count as that
# container (container_exes.test.sh, eleventh pass). But root in a
# container without a user namespace (Docker's default) runs processes
# as any host uid, and the container's rest went to an _other of each
# uid: a set of series per uid it went through (41 bins, 18 families),
# kept 10 minutes after, without bound (thirteenth pass,
# docs/security.md). Now one _other a container: 41 processes under 41
# uids, 32 with series of their own and a single _other (9 before).
. "$(dirname "$0")/../lib.sh"
need_unshare
need_users "run processes as other uids"
need_segments
jm_public "$JM_HELPERS/daemon_holder"
jmd_start --metrics 127.0.0.1:0
METRICS_URL=$JMD_URL/metrics pub_py - <<'PY' || fail "a container's _other series per uid"
from jmd import *
import atexit, re, urllib.request
url = os.environ["METRICS_URL"]
UIDS = list(range(310000, 310041))
holder = os.path.join(os.environ["JM_HELPERS"], "daemon_holder")
script = ('for u in %s; do setpriv --reuid=$u --regid=$u --clear-groups '
          'env LD_PRELOAD="$JM_CT_PRELOAD" sleep 600 & done; exec "%s"'
          % (" ".join(map(str, UIDS)), holder))
ct = Container(private=True, program=["env", "-u", "LD_PRELOAD", "sh", "-c", script])
atexit.register(ct.p.kill)
mntns = str(os.stat("/proc/%d/ns/mnt" % ct.host_pid).st_ino)
def series():
    page = urllib.request.urlopen(url, timeout=20).read().decode()
    return set(re.findall(r'^jmalloc_bin_\w+\{exe="([^"]*)",uid="(\d+)",mntns="%s",size=' % mntns,
                          page, re.M))
wait_until(lambda: sum(1 for p in ps_pids().values() if p.get("uid") in UIDS) == len(UIDS),
           "the container's 41 processes under 41 uids", timeout=60)
time.sleep(3 * INTERVAL_MS / 1000.0)
got = wait_until(lambda: (lambda s: s if len({x for x in s if x[0] != "_other"}) >= 32 else None)(series()),
                 "the container's exes on /metrics", timeout=30)
named = {x for x in got if x[0] != "_other"}
other = {x for x in got if x[0] == "_other"}
print("the container's 42 processes (41 uids and its pid 1): %d exes named, %d _other: %s"
      % (len(named), len(other), sorted(u for _, u in other)))
check(len(named) == 32, "%d exes of the container named, not 32" % len(named))
check(len(other) == 1, "%d _other exes of the container, not one" % len(other))
PY
jmd_stop
ok "a root container's uids: one _other"
