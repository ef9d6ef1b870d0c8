#!/usr/bin/env bash
# timeout: 60
# A device node under a segment's name: a container with CAP_MKNOD (in
# Docker's default set) can make one in its /dev/shm or a shared
# directory, and the daemon, root on the host where no device cgroup
# forbids it, opened every new name its watch reported: a driver's open
# has effects (a watchdog armed, a tape rewound, a tty taken as the
# daemon's controlling terminal). Here /dev/null's numbers and /dev/ptmx's
# under live pids' names, and an inotify watch on each node that sees any
# open: never opened (the name is opened O_PATH, checked to be a regular
# file, then reopened through /proc/self/fd), skipped with one line each,
# and a real process beside them is listed.
. "$(dirname "$0")/../lib.sh"
need_segments
[ "$(id -u)" -eq 0 ] || skip "needs root (mknod)"
jmd_start
sleep 600 &
A=$!
sleep 600 &
B=$!
export A B
jmd_py - <<'PY' || fail "device nodes"
from jmd import *
import ctypes, select, time

libc = ctypes.CDLL(None, use_errno=True)
IN_OPEN = 0x20
fd = libc.inotify_init1(os.O_NONBLOCK)
check(fd >= 0, "inotify_init1")
nodes = []
for pid, (major, minor) in ((int(os.environ["A"]), (1, 3)), (int(os.environ["B"]), (5, 2))):
    path = os.path.join(STATS_DIR, "jmalloc.%d.stats" % pid)
    tmp = os.path.join(os.environ["JM_TMP"], "node.%d" % pid)
    os.mknod(tmp, 0o600 | 0o020000, os.makedev(major, minor))
    check(libc.inotify_add_watch(fd, tmp.encode(), IN_OPEN) >= 0, "inotify_add_watch")
    os.rename(tmp, path)        # the daemon's watch reports the name at once
    nodes.append(path)
log = os.path.join(os.environ["JM_TMP"], "jmstatd.log")
h = Holder()
wait_until(lambda: h.pid in ps_pids(), "a real process listed beside them")
t0 = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + 12 * INTERVAL_MS / 1000.0,
           "a rescan")
r, _, _ = select.select([fd], [], [], 0)
check(not r, "the daemon opened a device node: %r" % (os.read(fd, 4096) if r else b""))
wait_until(lambda: all(os.path.basename(n) in open(log).read() for n in nodes),
           "a line about each node")
lines = [l for l in open(log) if any(os.path.basename(n) in l for n in nodes)]
check(len(lines) == 2, "lines about the nodes: %r" % lines)
print(lines)
h.exit()
PY
ok "device nodes under segments' names: never opened, skipped"
