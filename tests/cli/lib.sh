# tests/cli/lib.sh: sourced by the jmctl tests (tests/cli/*.test.sh).
#
# Starts the real jmstatd on a private socket and stats directory under
# $JM_TMP, and real programs under LD_PRELOAD=$JMALLOC_LIB publishing their
# segments there; stops all of them on exit. A test that needs a part not
# built yet calls skip (exit 77, with the reason as the last line).

set -u
JM_TMP=${JM_TMP:?run me through make check (tests/runner.sh)}
SOCK=$JM_TMP/run/jmstatd.sock
STATS=$JM_TMP/stats
INTERVAL_MS=200
PIDS=()

skip() { echo "$*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok()   { echo "ok - $*"; }

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
}
trap cleanup EXIT

need_jmctl() {
	[ -x "${JMCTL:-}" ] || skip "jmctl/jmctl is not built"
}

need_daemon() {
	need_jmctl
	[ -x "${JMSTATD:-}" ] || skip "jmstatd/jmstatd is not built yet (the jmstatd issue)"
	[ -f "${JMALLOC_LIB:-}" ] || skip "liballoc/libjmalloc.so is not built yet"
	[ -x "$JM_HELPERS/demo_fragment" ] || skip "build/tests/helpers/demo_fragment is not built"
}

# Starts jmstatd and waits until it answers.
start_daemon() {
	mkdir -p "$JM_TMP/run" "$STATS"
	chmod 0700 "$JM_TMP/run"
	"$JMSTATD" --socket "$SOCK" --stats-dir "$STATS" --interval "$INTERVAL_MS" \
		--foreground >"$JM_TMP/jmstatd.log" 2>&1 &
	DAEMON_PID=$!
	PIDS+=("$DAEMON_PID")
	for _ in $(seq 100); do
		if [ -S "$SOCK" ] && "$JMCTL" --socket "$SOCK" --json ps >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$JM_TMP/jmstatd.log"; fail "jmstatd exited at start"; }
		sleep 0.1
	done
	cat "$JM_TMP/jmstatd.log"
	fail "jmstatd did not answer on $SOCK within 10 s"
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

# Runs a program under the allocator, publishing into $STATS, its input
# from $STDIN (default /dev/null); sets LAST_PID. The program itself must be
# $1 (no `env` or `sh -c` in front: a preloaded exec-ing wrapper would own
# the pid's segment). Skips the test if the allocator publishes no segment.
start_preloaded() {
	local out=$JM_TMP/prog.$RANDOM.out
	JMALLOC_STATS_DIR=$STATS LD_PRELOAD=$JMALLOC_LIB "$@" <"${STDIN:-/dev/null}" >"$out" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
	for _ in $(seq 100); do
		jm_segment "$STATS" "$LAST_PID" >/dev/null && return 0
		kill -0 "$LAST_PID" 2>/dev/null || { cat "$out"; fail "$1 exited early"; }
		sleep 0.1
	done
	skip "the allocator published no stats segment for $1 in 10 s (segment writer not there yet)"
}

# Waits until jmstatd lists pid $1 (and, with $2, until a python expression
# over the process object p holds, e.g. "p['allocated'] > 0").
wait_seen() {
	local pid=$1 cond=${2:-True}
	for _ in $(seq 100); do
		if "$JMCTL" --socket "$SOCK" --json ps 2>/dev/null | python3 -c "
import json, sys
r = json.load(sys.stdin)
sys.exit(0 if any(p['pid'] == $pid and ($cond) for p in r['processes']) else 1)"; then
			return 0
		fi
		sleep 0.1
	done
	"$JMCTL" --socket "$SOCK" ps
	fail "jmstatd does not list pid $pid${2:+ with $cond} after 10 s"
}

# Waits for a line matching $2 in file $1 (10 s).
wait_line() {
	for _ in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$1"
	fail "no line matching '$2' in $1"
}

# jmctl's human units, in python, for checking what it prints (format.c).
PYFMT='
import math
def three(v, unit):
    if v < 9.995: return "%.2f%s" % (v, unit)
    if v < 99.95: return "%.1f%s" % (v, unit)
    return "%.0f%s" % (v, unit)
def fmt_bytes(b):
    if b < 1024: return "%.0f B" % b
    units = [" KiB", " MiB", " GiB", " TiB", " PiB"]; u = -1
    while u < 4 and b >= 999.5: b /= 1024; u += 1
    if u < 0: b /= 1024; u = 0
    return three(b, units[u])
def fmt_count(n):
    if n < 1000: return "%.0f" % n
    units = ["k", "M", "G", "T"]; u = -1
    while u < 3 and n >= 999.5: n /= 1000; u += 1
    return three(n, units[u])
def fmt_rate(r):
    if 0 < r < 0.995: return "%.2f" % r
    return fmt_count(r)
def fmt_pct(x): return "%.1f%%" % (x * 100.0)
'
