# lib.sh: sourced by the daemon's end-to-end tests (tests/daemon/*.test.sh).
#
# jmd_start [ARGS...]  starts $JMSTATD on $JM_TMP/jmstatd.sock with stats dir
#                      $JM_TMP/shm and a 200 ms interval (ARGS are added),
#                      logging to $JM_TMP/jmstatd.log (lines without
#                      timestamps, as under journald); waits for its socket.
# jmd_stop             SIGTERM; fails unless it exits 0 and removes its socket.
# need_segments        exits 77 unless a preloaded process writes a segment.
# jmd_py               python3 with tests/daemon on its path (jmd.py) and the
#                      daemon's socket, stats dir and interval in JMD_*.
# Everything started here is killed when the script exits.

set -u
: "${JM_TMP:?}" "${JMSTATD:?}" "${JM_ROOT:?}"

JMD_SOCK=$JM_TMP/jmstatd.sock
JMD_STATS=$JM_TMP/shm
JMD_INTERVAL=200
JMD_LOG=$JM_TMP/jmstatd.log
JMD_PID=
export JMD_SOCK JMD_STATS JMD_INTERVAL
mkdir -p "$JMD_STATS"
chmod 1777 "$JMD_STATS"

jmd_cleanup() {
	[ -n "$JMD_PID" ] && kill -KILL "$JMD_PID" 2>/dev/null
	local j
	for j in $(jobs -p); do kill -KILL "$j" 2>/dev/null; done
	return 0
}
trap jmd_cleanup EXIT

die() {
	echo "FAIL: $*" >&2
	if [ -f "$JMD_LOG" ]; then
		echo "--- jmstatd log:" >&2
		tail -n 50 "$JMD_LOG" >&2
	fi
	exit 1
}

# Waits until the socket accepts a connection (a stale socket file left
# there must not count).
jmd_wait_socket() {
	python3 - "$JMD_SOCK" "${JMD_PID:-0}" <<'EOF' || die "jmstatd did not come up on $JMD_SOCK"
import os, socket, sys, time
path, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    if pid:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit("jmstatd exited at start")
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
    finally:
        s.close()
sys.exit("timed out")
EOF
}

# The log is written as the journal would take it (JOURNAL_STREAM names
# it): without timestamps, so that tests match lines from "jmstatd: ".
# tests/daemon/cli.test.sh checks the stamped lines of a daemon run by hand.
jmd_start() {
	: >>"$JMD_LOG"
	JOURNAL_STREAM=$(stat -c '%d:%i' "$JMD_LOG") \
	"$JMSTATD" --socket "$JMD_SOCK" --stats-dir "$JMD_STATS" --interval "$JMD_INTERVAL" "$@" \
		>>"$JMD_LOG" 2>&1 &
	JMD_PID=$!
	jmd_wait_socket
}

jmd_stop() {
	[ -n "$JMD_PID" ] || return 0
	kill -TERM "$JMD_PID"
	local rc=0
	wait "$JMD_PID" || rc=$?
	JMD_PID=
	[ "$rc" -eq 0 ] || die "jmstatd exited with status $rc after SIGTERM"
	[ ! -e "$JMD_SOCK" ] || die "jmstatd left its socket $JMD_SOCK behind"
}

# jm_segment DIR PID: prints the path of PID's stats segment in DIR, whichever
# form its name has: jmalloc.PID.stats (a process of the host's pid namespace)
# or jmalloc.PID.<pidns>.<start>[.<tag>].stats (any other, as when the tests
# run in a container); fails, printing nothing, if there is none.
jm_segment() {
	local f
	for f in "$1/jmalloc.$2.stats" "$1/jmalloc.$2".*.stats; do
		[ -e "$f" ] && { printf '%s\n' "$f"; return 0; }
	done
	return 1
}

# JM_SEG_RE: an extended regular expression (grep -E) matching a segment's
# name in either form (jm_segment).
JM_SEG_RE='jmalloc\.[0-9]+(\.[0-9]+\.[0-9]+(\.[0-9a-f]+)?)?\.stats'

need_segments() {
	[ -f "${JMALLOC_LIB:-}" ] || { echo "liballoc/libjmalloc.so is not built yet"; exit 77; }
	local probe=$JM_TMP/probe
	mkdir -p "$probe"
	# A probe that lives until it is seen (or 10 s): one that exited after
	# 1 s could be gone before a loaded machine had it write its file,
	# and every test calling this was skipped.
	JMALLOC_STATS_DIR=$probe LD_PRELOAD=$JMALLOC_LIB sleep 60 &
	local pid=$! i
	for i in $(seq 1 400); do
		jm_segment "$probe" "$pid" >/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.025
	done
	local found=no
	jm_segment "$probe" "$pid" >/dev/null && found=yes
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	rm -rf "$probe"
	if [ $found = no ]; then
		echo "the allocator does not write stats segments yet (no jmalloc.<pid>.stats from a preloaded sleep)"
		exit 77
	fi
	[ -x "$JM_HELPERS/daemon_holder" ] || { echo "daemon_holder helper not built"; exit 77; }
}

jmd_py() {
	PYTHONPATH=$JM_ROOT/tests/daemon python3 "$@"
}
