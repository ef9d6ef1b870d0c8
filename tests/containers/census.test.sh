#!/usr/bin/env bash
# timeout: 120
# Forged writers of other pid namespaces: a user (nobody) names 500 empty
# files in the stats directory as segments of pid namespaces that do not
# exist, with start times to come. Such a name asks the daemon where its
# writer runs on the host (census.c), and a start time later than the last
# walk of /proc made it walk /proc again, once per file: 500 walks (a
# readlink per process of the host each) in a tick, and as many more each
# time the files are made again. Walks are now at least 250 ms apart
# (JMD_CENSUS_GAP_MS); meanwhile a real container started among the files
# is found under its host pid, and root's ps answers.
. "$(dirname "$0")/../lib.sh"
need_unshare
command -v setpriv >/dev/null || skip "needs setpriv (files of nobody)"
jmd_start --verbose

jmd_py - <<'PY' || fail "forged writers of other pid namespaces"
from jmd import *
import atexit, subprocess, time

N = 500
log = os.path.join(os.environ["JM_TMP"], "jmstatd.log")
def walks():
    return sum(1 for l in open(log) if "census:" in l)

# nobody's files: pid i of pid namespace 4026599999 (none has that inode),
# started in about 30 years.
make = ("import os\nfor i in range(1, %d):\n"
        "    open(os.path.join(%r, 'jmalloc.%%d.4026599999.%d.stats' %% i), 'w').close()\n"
        % (N + 1, STATS_DIR, 10**11))
t0 = time.monotonic()
w0 = walks()
subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "python3", "-c", make], check=True)
c = Container()
atexit.register(c.p.kill)
c.cmd("alloc 4096 100")
wait_until(lambda: c.host_pid in ps_pids(), "the container's process in ps under its host pid")
# The files have been read after their grace time (a second), some ticks ago.
t_files = time.monotonic()
t = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t + 2.0 + 5 * INTERVAL_MS / 1000.0,
           "a few ticks past the files' grace time")
n = walks() - w0
elapsed = time.monotonic() - t0
print("census walks: %d in %.1f s, for %d forged files" % (n, elapsed, N))
check(n <= elapsed / 0.25 + 2, "%d walks of /proc in %.1f s for %d forged files" % (n, elapsed, N))
check(c.host_pid in ps_pids(), "the container's process left ps")
PY
ok "forged writers of other pid namespaces: walks of /proc bounded, a real container found"
