#!/usr/bin/env bash
# timeout: 120
# --pprof's /uid/UID/exe/NAME merges only the processes of NAME that user
# UID runs, for a scrape that must not depend on what others run
# (tests/metrics/exe_uid.test.sh). Root in a container without a user
# namespace is uid 0 on the host: its process named as root's host
# service was merged into /uid/0/exe/ of that service (its forged sites
# with the service's). Now /uid/0/exe/NAME leaves out root's processes
# read from a container's own stats directory, which /exe/NAME still
# merges (eleventh pass, docs/security.md). Here root's host "hostprog"
# and a container's "hostprog", both sampling: the old daemon's
# /uid/0/exe/hostprog said "X-Jmstatd-Processes: 2 of 2", now "1 of 1".
. "$(dirname "$0")/../lib.sh"
need_unshare
need_segments
mkdir -p "$JM_TMP/progs"
ln -s "$JM_HELPERS/demo_fragment" "$JM_TMP/progs/hostprog"
jmd_start --metrics 127.0.0.1:0 --pprof
export BASE_URL=$JMD_URL PROGS=$JM_TMP/progs
jmd_py - <<'PY' || fail "/uid/0/exe/NAME and a container's root"
from jmd import *
import atexit, subprocess, urllib.error, urllib.request
base = os.environ["BASE_URL"]
progs = os.environ["PROGS"]
holder = os.path.join(os.environ["JM_HELPERS"], "daemon_holder")
conf = "prof_sample:4096"
host = subprocess.Popen([os.path.join(progs, "hostprog"), "-s", "64", "-c", "20000", "-r", "1"],
                        stdout=subprocess.DEVNULL,
                        env=dict(os.environ, JMALLOC_STATS_DIR=STATS_DIR, JMALLOC_CONF=conf,
                                 LD_PRELOAD=os.environ["JMALLOC_LIB"]))
atexit.register(host.kill)
script = ('"%s/hostprog" -s 2048 -c 20000 -r 1 >/dev/null 2>&1 & exec "%s"' % (progs, holder))
ct = Container(private=True, program=["sh", "-c", script], env_extra={"JMALLOC_CONF": conf})
atexit.register(ct.p.kill)
def hostprogs():
    return sum(1 for p in ps_pids().values() if p.get("exe") == "hostprog")
wait_until(lambda: hostprogs() == 2, "root's host process and the container's, both hostprog", timeout=60)
def merged(path):
    try:
        r = urllib.request.urlopen(base + path, timeout=30)
    except urllib.error.HTTPError as e:
        return None
    r.read()
    return r.headers.get("X-Jmstatd-Processes")
def settled(path, want):
    h = merged(path)
    return h if h is not None and h.endswith(" of %d" % want) and not h.startswith("0 ") else None
allp = wait_until(lambda: settled("/exe/hostprog/debug/pprof/heap", 2), "/exe/hostprog of both", timeout=60)
print("/exe/hostprog: X-Jmstatd-Processes: %s" % allp)
h = merged("/uid/0/exe/hostprog/debug/pprof/heap")
print("/uid/0/exe/hostprog: X-Jmstatd-Processes: %s" % h)
check(h == "1 of 1", "/uid/0/exe/hostprog merged the container's root's process too: %r" % h)
PY
jmd_stop
echo "ok"
