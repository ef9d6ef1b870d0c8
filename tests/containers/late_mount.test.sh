#!/usr/bin/env bash
# timeout: 120
# A container that mounts its own stats directory after its mount
# namespace was made, as every runtime does (unshare, then the mounts):
# the daemon's walk of /proc (every JMD_RESCAN_TICKS) may find the
# namespace first while its /dev/shm is still the host's, and it then
# never looked again, so that the container's processes were never
# listed (tests/containers/subuid_dirs.test.sh lost 11 of its 70 on a
# loaded machine). Here a namespace is held for two walks before its
# tmpfs is mounted; then its process must be listed.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_segments
jmd_start
GATE=$JM_TMP/gate
unshare --mount --propagation private sh -c \
	'while [ ! -e "$2" ]; do sleep 0.05; done
	 mount -t tmpfs -o mode=1777 late "$1" &&
	 JMALLOC_STATS_DIR=$1 LD_PRELOAD=$3 exec sleep 600' sh "$JMD_STATS" "$GATE" "$JMALLOC_LIB" &
C=$!
PIDS+=("$C")
jmd_py - <<'PY' || fail "two walks"
from jmd import *
t = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t + 25 * INTERVAL_MS / 1000.0,
           "two walks of /proc with the namespace in it")
PY
touch "$GATE"
export C
jmd_py - <<'PY' || fail "the late-mounted container is not listed"
from jmd import *
c = int(os.environ["C"])
t = request({"cmd": "version"})["time"]
# Its segment is there at once; the daemon's next walk or two must find it.
wait_until(lambda: c in ps_pids() or
           request({"cmd": "version"})["time"] >= t + 45 * INTERVAL_MS / 1000.0,
           "the container listed, or four walks")
check(c in ps_pids(), "pid %d not listed four walks after its tmpfs was mounted" % c)
PY
[ "$(dir_lines read)" -gt 0 ] || fail "no line about reading its directory"
jmd_stop
echo "ok"
