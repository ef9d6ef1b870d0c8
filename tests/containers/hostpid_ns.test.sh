#!/usr/bin/env bash
# timeout: 200
# Root of a container that shares the host's pid namespace (--pid=host,
# hostPID) with CAP_SYS_ADMIN makes mount namespaces of its own, each
# with a tmpfs on /dev/shm: the fourteenth pass keyed a root-owned
# container's directories by the pid namespace below the daemon's they
# were reached through, and where that is the daemon's own, by the mount
# namespace, so each such namespace had bounds of its own (files
# tracked, reads, live processes, alert commands, exe names) and an
# _other set of /metrics series of its own. Such directories are now
# keyed by the container the cgroup of the process they were reached
# through names (none here: one key for all of them), and a container's
# _other is one whatever mount namespaces it spans (fifteenth pass,
# docs/security.md). And such a container's directories are 64 at most, as
# a user's are; root's containers had no such bound.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_segments
command -v curl >/dev/null || skip "no curl"
jm_public
mkdir -p "$JM_TMP/pub/bin"
for i in $(seq 0 32); do ln -s "$(command -v sleep)" "$JM_TMP/pub/bin/hp$i"; done

# /metrics: 33 programs of distinct names in each of two mount namespaces.
jmd_start --metrics 127.0.0.1:0
JMALLOC_LIB=$JM_TMP/pub/libjmalloc.so METRICS_URL=$JMD_URL/metrics BIN=$JM_TMP/pub/bin \
jmd_py - <<'PY' || fail "/metrics of mount namespaces made in the host's pid namespace"
from jmd import *
import atexit, re, urllib.request
url, bindir = os.environ["METRICS_URL"], os.environ["BIN"]
progs = r'''
mount -t tmpfs -o mode=1777 jmhp "$0" || exit 1
for i in $(seq 0 32); do JMALLOC_STATS_DIR="$0" LD_PRELOAD="$1" "$2/hp$i" 600 & done
echo made
wait
'''
kids, ns = [], []
for k in range(2):
    p = subprocess.Popen(["unshare", "--mount", "--propagation", "private",
                          "sh", "-c", progs, STATS_DIR, os.environ["JMALLOC_LIB"], bindir],
                         stdout=subprocess.PIPE, start_new_session=True)
    atexit.register(os.killpg, p.pid, signal.SIGKILL)
    check(p.stdout.readline().strip() == b"made", "namespace %d not made" % k)
    kids.append(p)
    ns.append(str(os.stat("/proc/%d/ns/mnt" % p.pid).st_ino))
wait_until(lambda: sum(1 for q in ps_pids().values() if q["exe"].startswith("hp")) == 66,
           "the 66 programs listed", timeout=60)
def series():
    page = urllib.request.urlopen(url, timeout=20).read().decode()
    return set(re.findall(r'^jmalloc_bin_allocations_total\{exe="([^"]*)",uid="0",mntns="(\d+)"',
                          page, re.M))
def settled():
    s = {x for x in series() if x[1] in ns}
    return s if len(s) >= 33 else None
time.sleep(3 * INTERVAL_MS / 1000.0)
got = wait_until(settled, "the namespaces' series on /metrics", timeout=30)
named = {x for x in got if x[0] != "_other"}
other = {x for x in got if x[0] == "_other"}
print("66 programs in 2 mount namespaces: %d exes named, %d _other (64 and 2 before)"
      % (len(named), len(other)))
check(len(named) == 32, "%d exes named, not 32: a cap per mount namespace" % len(named))
check(len(other) == 1, "%d _other series sets, not one: one per mount namespace" % len(other))
PY
jmd_stop

# Files: 3 namespaces of 1,100 names each, --user-processes 2 (a bound of
# 1,026 files): one bound for all of them, where each had its own.
jmd_start --user-processes 2
jmd_py - <<'PY' || fail "files of mount namespaces made in the host's pid namespace"
from jmd import *
import atexit, re
log = os.path.join(os.environ["JM_TMP"], "jmstatd.log")
K, N, BOUND = 3, 1100, 2 + 1024
maker = MNTNS_JUNK_MAKER
mine = set()             # this test's namespaces (others' tests run beside it)
for k in range(K):
    p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", maker,
                          STATS_DIR, str(N)], stdout=subprocess.PIPE)
    atexit.register(p.kill)
    check(p.stdout.readline().strip() == b"made", "namespace %d not made" % k)
    mine.add(str(os.stat("/proc/%d/ns/mnt" % p.pid).st_ino))
want = K * N - BOUND
deadline = time.monotonic() + 40
while True:
    untracked = request({"cmd": "version"})["segment_files_untracked"]
    if untracked == want or time.monotonic() > deadline:
        break
    time.sleep(0.2)
print("%d files in %d mount namespaces of the host's pid namespace: %d untracked (%d before)"
      % (K * N, K, untracked, K * (N - BOUND)))
check(untracked == want, "%d files untracked, not %d: a bound per mount namespace" % (untracked, want))

# Directories: 67 more such namespaces, 70 in all: 64 read (each an fd,
# an inotify watch and a thread's open at every walk), where every one was.
hold = r'mount -t tmpfs -o mode=1777 jmhp "$0" || exit 1; echo made; exec sleep 600'
for k in range(67):
    p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", hold,
                          STATS_DIR], stdout=subprocess.PIPE)
    atexit.register(p.kill)
    check(p.stdout.readline().strip() == b"made", "namespace %d not made" % k)
    mine.add(str(os.stat("/proc/%d/ns/mnt" % p.pid).st_ino))
def this_log():          # this daemon's lines (the first one's are before)
    text = open(log).read()
    return text[text.rindex("jmstatd: listening on"):]
def all_dirs():
    """The namespaces whose directory is read now: the last line of each
    says 'reading', not 'no longer reading'. A namespace of the first
    daemon's (the /metrics part, killed at its end, not waited for) can
    still be there when this daemon starts: read, then dropped when it
    goes, its number taken again by one of this part's (nsfs numbers are
    reused); counted by its reads alone, a clean-clone CI run saw 66."""
    live = {}
    for m in re.finditer(r"(no longer )?reading %s in mnt:\[(\d+)\]" % re.escape(STATS_DIR),
                         this_log()):
        live[m.group(2)] = m.group(1) is None
    return {n for n, reading in live.items() if reading}
def read_dirs():
    """This test's namespaces read: a namespace of another test run
    beside it, made while this one's directory existed, has it too (the
    host's, in a clean-clone CI run read as a 65th)."""
    return len(all_dirs() & mine)
wait_until(lambda: "owns 64 containers whose stats directories are read" in this_log() or
           read_dirs() > 64, "the limit of 64 directories logged, or more read", timeout=60)
# Such a namespace of another test's, root's too (a service's private
# namespace: tests/containers/private_ns_dirs) shares the bound: then
# fewer than 64 of this test's are read, 64 in all.
others = len(all_dirs() - mine)
print("70 mount namespaces of the host's pid namespace: %d directories read (70 before), "
      "%d of other tests' namespaces" % (read_dirs(), others))
check(read_dirs() <= 64 and read_dirs() + others >= 64,
      "%d directories read (and %d of others'), not 64" % (read_dirs(), others))
check(request({"cmd": "version"})["ok"], "the daemon does not answer")
PY
jmd_stop
ok "mount namespaces made in the host's pid namespace: one bound, one _other"
