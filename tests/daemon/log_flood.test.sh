#!/usr/bin/env bash
# timeout: 180
# Lines a user can make the root daemon write again and again, each the
# price of a cheap act of theirs, were logged every time:
#  - a request longer than 65,536 bytes closes the client with a line:
#    one python loop of nobody's, connecting again each time, wrote
#    10,000 lines a second;
#  - a dead process's segment put back (a copy renamed into place) is read
#    at once and removed with a line: 730 lines a second;
#  - a container of theirs (a user and mount namespace, a tmpfs on the
#    stats directory) is read with a line at each rescan: up to 64 a walk.
# Each now shares a budget of its kind (a burst of 50, then one every
# 10 s, the rest in the verbose log and counted in the next line); root's
# clients, root's removed files and root's containers are logged each.
. "$(dirname "$0")/../lib.sh"
need_segments
need_users "flood the log as nobody"
JMD_INTERVAL=100     # a rescan a second (every 10 ticks)
nobody_pub "$(command -v sleep)"
jmd_start
export P
jmd_py - <<'PY' || fail "the log flooded"
from jmd import *
import glob, signal, socket
log = os.path.join(os.environ["JM_TMP"], "jmstatd.log")
def lines(what):
    return [l for l in open(log) if what in l]
BOUND = 55          # the burst of 50, and a line or so of refill

# 1. Requests too long, 600 connections of nobody's; then one of root's.
def long_requests(n):
    blob = b"x" * 70000
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX)
        s.connect(SOCK)
        try:
            s.sendall(blob)
            s.recv(100)
        except OSError:
            pass
        s.close()
    return n
as_uid(65534, lambda: long_requests(600))
long_requests(1)
wait_until(lambda: lines("(pid %d, uid 0) disconnected: request longer" % os.getpid()),
           "the line of root's client")
n = len(lines("uid 65534) disconnected: request longer"))
check(n <= BOUND, "%d lines for nobody's 600 requests too long" % n)
print("requests too long: %d lines for nobody's 600, root's logged" % n)

# 2. A dead process's segment of nobody's put back 150 times.
pub = os.environ["P"]
env = dict(os.environ, JMALLOC_STATS_DIR=STATS_DIR, LD_PRELOAD=os.path.join(pub, "libjmalloc.so"))
p = subprocess.Popen([os.path.join(pub, "sleep"), "600"], env=env, **as_user(65534))
wait_until(lambda: p.pid in ps_pids(), "nobody's process listed")
seg = segment_path(p.pid)
data = open(seg, "rb").read()
p.kill()
p.wait()
wait_until(lambda: not os.path.exists(seg), "its segment removed")
def put_back(n):
    for i in range(n):
        tmp = "%s.%d" % (seg, i)
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, seg)
        end = time.monotonic() + 5
        while os.path.exists(seg) and time.monotonic() < end:
            time.sleep(0.001)
    return n
as_uid(65534, lambda: put_back(150))
removed = "removed %s" % seg
n = len(lines(removed))
check(n <= BOUND, "%d lines for 150 copies of nobody's dead segment put back" % n)
r = subprocess.Popen(["sleep", "600"], env=env)
wait_until(lambda: r.pid in ps_pids(), "root's process listed")
rseg = segment_path(r.pid)
r.kill()
r.wait()
wait_until(lambda: lines("removed %s: its process is gone" % rseg), "the line of root's file removed")
print("a dead segment put back 150 times: %d lines, root's removed file logged" % n)
PY

# 3. Containers of nobody's, 30 a rescan for 3 rescans.
why=$(jmd_py -c 'from jmd import *; print(can_unshare() or "")')
if [ -n "$why" ] || ! "${NOBODY[@]}" unshare --user --map-root-user --mount true 2>/dev/null; then
	echo "containers not tried: ${why:-unprivileged user namespaces are off here}"
	jmd_stop
	echo "ok"
	exit 0
fi
for round in 1 2 3; do
	pids=()
	for _ in $(seq 30); do
		"${NOBODY[@]}" unshare --user --map-root-user --mount sh -c \
			'mount -t tmpfs -o mode=1777 nobody "$1" && exec sleep 600' sh "$JMD_STATS" &
		pids+=($!)
	done
	jmd_py - <<'PY' || fail "a rescan"
from jmd import *
t = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t + 12 * INTERVAL_MS / 1000.0, "a rescan")
PY
	kill "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null
done
# Their reads' lines and their drops' (each round's ended, 8e1b03d) share
# one budget: both counted, each by its own prefix.
r=$(dir_lines read)
d=$(dir_lines drop)
echo "containers: $r lines read and $d dropped for nobody's 90 containers in 3 rescans"
[ "$r" -gt 0 ] || fail "no line about nobody's containers read"
[ $((r + d)) -le 55 ] || fail "$r + $d lines for nobody's 90 containers"
jmd_stop
echo "ok"
