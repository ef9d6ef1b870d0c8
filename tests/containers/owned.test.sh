#!/usr/bin/env bash
# timeout: 180
# Containers anyone can make: nobody makes 200 (unshare --user
# --map-root-user --mount, a tmpfs of its own on the stats directory, a
# sleep), against a daemon limited to 160 fds. Each such directory took
# the daemon an fd and an inotify watch (of root's, which every root
# service shares) until its fds were spent: 143 directories, 159 fds of
# 160, and every fd freed taken again at the next walk, so that a client
# or a segment got one only between walks. Now the directories of one
# non-root uid's namespaces are read for 64 of them at most (JMD_UID_DIRS,
# dirs.c), with a log line saying so; root's process stays listed, root's
# jmctl answers, and a container of root's made after them is read.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_segments
need_jmctl
command -v setpriv >/dev/null || skip "needs setpriv (nobody's containers)"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
"${NOBODY[@]}" unshare --user --map-root-user --mount true 2>/dev/null ||
	skip "unprivileged user namespaces are off here"

ulimit -n 160
jmd_start --verbose   # every directory read logged (past the log budget too)
JMALLOC_STATS_DIR=$JMD_STATS LD_PRELOAD=$JMALLOC_LIB sleep 600 &
ROOT_PROC=$!
# Root's process listed, by root's jmctl (bounded: a loaded machine is
# slow, never stuck).
root_ps() {
	jmd_py - "$1" <<'PY' || fail "root's process not listed ($1)"
from jmd import *
wait_until(lambda: int(os.environ["ROOT_PROC"]) in ps_pids(), "root's process in ps")
r = subprocess.run([os.environ["JMCTL"], "--socket", SOCK, "ps"], capture_output=True, text=True,
                   timeout=20)
check(r.returncode == 0 and [os.environ["ROOT_PROC"]] in [l.split()[:1] for l in r.stdout.splitlines()],
      "root's jmctl ps (%s): %s %s" % (sys.argv[1], r.stdout, r.stderr))
PY
}
export ROOT_PROC
root_ps "at start"

N=200
for i in $(seq 1 $N); do
	"${NOBODY[@]}" unshare --user --map-root-user --mount sh -c \
		'mount -t tmpfs -o mode=1777 nobody "$1" && exec sleep 600' sh "$JMD_STATS" &
done
# All of them up, then three rescans (every 10 ticks).
for _ in $(seq 1 300); do
	[ "$(ps -u 65534 -o comm= | grep -c '^sleep$')" -ge $N ] && break
	sleep 0.1
done
t=$(jmd_py -c 'from jmd import *; print(request({"cmd": "version"})["time"])')
jmd_py - "$t" <<'PY' || fail "three rescans"
from jmd import *
t = float(sys.argv[1])
wait_until(lambda: request({"cmd": "version"})["time"] >= t + 30 * INTERVAL_MS / 1000.0,
           "three rescans")
PY
root_ps "after nobody's $N containers"
n=$(dir_lines read)
fds=$(ls /proc/$JMD_PID/fd | wc -l)
echo "directories read: $n for $N containers of nobody's; the daemon's fds: $fds"
[ "$n" -le 64 ] || fail "$n of nobody's container directories read"
[ "$fds" -le 128 ] || fail "the daemon holds $fds fds of 160"
grep -q "uid 65534 owns 64 containers" "$JMD_LOG" || fail "no line about nobody's limit"

# A container of root's is still read.
jmd_py - <<'PY' || fail "root's container"
from jmd import *
import atexit
c = Container(private=True)
atexit.register(c.p.kill)
c.cmd("alloc 4096 100")
try:
    wait_until(lambda: c.host_pid in ps_pids(), "root's container in ps under its host pid")
except SystemExit:
    # What the daemon said of it, before the log's tail (nobody's lines).
    mnt = os.readlink("/proc/%d/ns/mnt" % c.host_pid)
    print("root's container: host pid %d, pid namespace %d, %s" % (c.host_pid, c.pidns, mnt))
    with open(os.path.join(os.environ["JM_TMP"], "jmstatd.log")) as f:
        for line in f:
            if "uid 65534" not in line and ("mnt:[" not in line or mnt in line):
                print("  " + line.rstrip())
    raise
PY
ok "nobody's 200 containers: 64 of their directories read, root's process and container listed"
