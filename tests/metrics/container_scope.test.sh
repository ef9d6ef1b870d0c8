#!/usr/bin/env bash
# timeout: 120
# Root in a container without a user namespace is uid 0 on the host, and
# the per-exe series of /metrics (jmalloc_bin_*, jmalloc_site_*) are an
# executable's name and uid: a container's process named as root's host
# service was summed into that service's series (its figures added to
# the service's, its counters' fall a reset of the service's, its sites
# ranked among the service's top 5). Root's processes read from a
# container's own directory now have series of their own, labelled
# mntns (eleventh pass, docs/security.md). Here root's host process
# "hostprog" allocates 64 B objects and a container's process of the same
# name 2048 B ones: the old daemon gave the host's series
# {exe="hostprog",uid="0",size="2048"} the container's thousand
# allocations; now that series has none of them and the container's,
# labelled mntns, has them.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_segments
mkdir -p "$JM_TMP/progs"
ln -s "$JM_HELPERS/demo_fragment" "$JM_TMP/progs/hostprog"
jmd_start --metrics 127.0.0.1:0
export METRICS_URL=$JMD_URL/metrics PROGS=$JM_TMP/progs
jmd_py - <<'PY' || fail "a container's root's series apart from the host root's"
from jmd import *
import atexit, re, subprocess, urllib.request
url = os.environ["METRICS_URL"]
progs = os.environ["PROGS"]
holder = os.path.join(os.environ["JM_HELPERS"], "daemon_holder")
host = subprocess.Popen([os.path.join(progs, "hostprog"), "-s", "64", "-c", "1000", "-r", "1"],
                        stdout=subprocess.DEVNULL,
                        env=dict(os.environ, JMALLOC_STATS_DIR=STATS_DIR, JMALLOC_CONF="prof_sample:0",
                                 LD_PRELOAD=os.environ["JMALLOC_LIB"]))
atexit.register(host.kill)
script = ('"%s/hostprog" -s 2048 -c 1000 -r 1 >/dev/null 2>&1 & exec "%s"' % (progs, holder))
ct = Container(private=True, program=["sh", "-c", script])
atexit.register(ct.p.kill)
mntns = os.stat("/proc/%d/ns/mnt" % ct.host_pid).st_ino
def hostprogs():
    return sum(1 for p in ps_pids().values() if p.get("exe") == "hostprog")
wait_until(lambda: hostprogs() == 2, "root's host process and the container's, both hostprog", timeout=60)
# series: (labels less size, size) -> value
pat = re.compile(r'^jmalloc_bin_allocations_total\{exe="hostprog",uid="0"((?:,mntns="\d+")?),size="(\d+)"\} (\d+)', re.M)
def series():
    page = urllib.request.urlopen(url, timeout=20).read().decode()
    return {(m.group(1), int(m.group(2))): int(m.group(3)) for m in pat.finditer(page)}
def both():
    s = series()
    host64 = s.get(("", 64), 0) >= 1000
    ct2048 = sum(v for (l, z), v in s.items() if z == 2048) >= 1000
    return s if host64 and ct2048 else None
got = wait_until(both, "both processes' allocations on /metrics", timeout=60)
print("hostprog's series (mntns label, size): allocations %r" % sorted(got.items()))
check(got.get(("", 2048), 0) < 1000,
      "root's host series {exe=\"hostprog\",uid=\"0\",size=\"2048\"} has the container's "
      "allocations: %d" % got.get(("", 2048), 0))
own = ',mntns="%d"' % mntns
check(got.get((own, 2048), 0) >= 1000,
      "no series of the container's (%s) with its 1000 allocations of 2048 B: %r" % (own, sorted(got.items())))
check(got.get((own, 64), 0) < 1000, "the container's series has root's host allocations")
print("the container's hostprog is {exe=\"hostprog\",uid=\"0\"%s}, root's host one apart" % own)
PY
jmd_stop
echo "ok"
