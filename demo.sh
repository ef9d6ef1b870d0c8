#!/usr/bin/env bash
# demo.sh (make demo): jmalloc in two minutes, from a fresh clone.
#
# Installs the build packages it lacks (as root, with apt-get; otherwise it
# names them and stops), builds everything, starts jmstatd on a private
# socket and stats directory in a temporary directory, runs real programs
# under the allocator (python3, sqlite3, and a helper that fragments memory
# on purpose), shows what jmctl sees, and stops everything it started.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: ./demo.sh [--help]        (or: make demo)

Builds jmalloc, starts jmstatd on a private socket in a temporary directory,
runs python3, sqlite3 and demo_fragment (which leaves one small object per
page on purpose) with LD_PRELOAD=liballoc/libjmalloc.so, and shows
  jmctl ps, jmctl top -b -n 3 -d 1, jmctl stats PID, jmctl alerts.
Everything it starts is stopped when it ends (or on Ctrl-C).

Environment:
  DEMO_KEEP=SECONDS   keep the daemon and the workloads running that long at
                      the end, printing how to watch them live with jmctl top
EOF
}
case "${1:-}" in
	-h|--help) usage; exit 0 ;;
	"") ;;
	*) usage >&2; exit 2 ;;
esac

cd "$(dirname "$0")"
ROOT=$PWD
JMALLOC_LIB=${JMALLOC_LIB:-$ROOT/liballoc/libjmalloc.so}
JMSTATD=${JMSTATD:-$ROOT/jmstatd/jmstatd}
JMCTL=${JMCTL:-$ROOT/jmctl/jmctl}
JM_HELPERS=${JM_HELPERS:-$ROOT/build/tests/helpers}

if [ -t 1 ]; then B=$'\033[1m'; N=$'\033[0m'; else B=; N=; fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
show() { printf '%s$ %s%s\n' "$B" "$*" "$N"; "$@"; }

# ---- 1. build packages
step "checking the packages (packages/build.list, packages/demo.list)"
# As root the missing ones are installed with apt-get; otherwise they are
# named with the command that installs them. The build needs its list; the
# demo's workloads are optional.
packages/ensure.sh --for "demo: build packages" build || exit 1
if packages/ensure.sh --for "demo: workloads" demo; then
	echo "all there: $(packages/ensure.sh --list build demo)"
else
	echo "note: the demo runs without them"
fi

# ---- 2. build
step "building (make all)"
make -s -j"$(nproc 2>/dev/null || echo 2)" all build/tests/helpers/demo_fragment
for f in "$JMALLOC_LIB" "$JMSTATD" "$JMCTL" "$JM_HELPERS/demo_fragment"; do
	[ -e "$f" ] || { echo "demo: $f was not built" >&2; exit 1; }
done

# ---- 3. a private jmstatd
DEMO=$(mktemp -d /tmp/jmalloc-demo.XXXXXX)
chmod 0755 "$DEMO"
mkdir -m 0700 "$DEMO/run"
mkdir "$DEMO/stats"
SOCK=$DEMO/run/jmstatd.sock
STATS=$DEMO/stats
PIDS=()
stop_all() {
	local p
	exec 9>&- 2>/dev/null || true
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$DEMO"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

step "starting jmstatd on a private socket"
# One alert rule (demo.conf), which demo_fragment trips within seconds.
cp "$ROOT/demo.conf" "$DEMO/jmstatd.conf"
# Started directly, not through a function: $! must be jmstatd itself.
printf '%s$ %s%s\n' "$B" "jmstatd --socket $SOCK --stats-dir $STATS --interval 500 --config $DEMO/jmstatd.conf &" "$N"
"$JMSTATD" --socket "$SOCK" --stats-dir "$STATS" --interval 500 --config "$DEMO/jmstatd.conf" \
	>"$DEMO/jmstatd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
	"$JMCTL" --socket "$SOCK" ps >/dev/null 2>&1 && break
	sleep 0.1
done
"$JMCTL" --socket "$SOCK" ps >/dev/null || { cat "$DEMO/jmstatd.log"; exit 1; }
echo "jmstatd is up (pid ${PIDS[0]}): socket $SOCK, stats dir $STATS"
jmctl() { "$JMCTL" --socket "$SOCK" "$@"; }

# ---- 4. workloads under the allocator
step "running workloads with LD_PRELOAD=$JMALLOC_LIB"
# preload NAME PROGRAM ARGS...: runs PROGRAM under the allocator, its input
# from $STDIN (a background job's input is /dev/null unless redirected on
# the command itself).
preload() {
	local name=$1; shift
	JMALLOC_STATS_DIR=$STATS LD_PRELOAD=$JMALLOC_LIB "$@" <"${STDIN:-/dev/null}" >"$DEMO/$name.out" 2>&1 &
	PIDS+=($!)
	echo "  $name: pid $!"
}

preload demo_fragment "$JM_HELPERS/demo_fragment" -c 100000 -r 2000
FRAG=${PIDS[-1]}
if command -v python3 >/dev/null; then
	# A service-like python: builds a dict of records, then keeps replacing
	# a share of them (PYTHONMALLOC=malloc sends every object to jmalloc).
	# sys.executable: the interpreter itself, not a wrapper (a pyenv shim).
	PYTHON=$(python3 -c 'import sys; print(sys.executable)')
	PYTHONMALLOC=malloc preload python3 "$PYTHON" -c '
import random, time
random.seed(1)
cache = {i: ("record-%d" % i) * random.randint(1, 8) for i in range(150000)}
while True:
    for _ in range(3000):
        k = random.randrange(300000)
        cache[k] = ("value-%d" % k) * random.randint(1, 8)
        cache.pop(random.randrange(300000), None)
    time.sleep(0.1)'
fi
if command -v sqlite3 >/dev/null; then
	# sqlite3 on an in-memory database, fed through a fifo held open here.
	mkfifo "$DEMO/sql.fifo"
	exec 9<>"$DEMO/sql.fifo"
	STDIN=$DEMO/sql.fifo preload sqlite3 sqlite3 :memory:
	cat >&9 <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, payload BLOB);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 50000)
INSERT INTO t SELECT i, 'row ' || i, randomblob(abs(random()) % 300) FROM c;
CREATE INDEX t_name ON t(name);
DELETE FROM t WHERE id % 3 = 0;
EOF
fi
# Every workload must be alive: one that died under the allocator is a bug
# worth seeing at once, not an empty table.
sleep 0.5
for i in "${!PIDS[@]}"; do
	[ "$i" -eq 0 ] && continue
	if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
		echo "demo: workload pid ${PIDS[$i]} died under the allocator; its output:" >&2
		grep -l . "$DEMO"/*.out 2>/dev/null | while read -r f; do sed "s|^|  $(basename "$f" .out): |" "$f" | tail -n 5; done >&2
		exit 1
	fi
done
# json_num FIELD: the first number of FIELD in the JSON on stdin (or none).
json_num() { grep -o "\"$1\":[-0-9.e+]*" | sed -n '1s/^[^:]*://p' || true; }
# later A B: the time A (seconds, with decimals; none: 0) is after B.
later() { awk -v a="${1:-0}" -v b="$2" 'BEGIN { exit !(a > b) }'; }
# What follows shows demo_fragment's heap as it holds it: it says when it
# has fragmented it (size after size). On a loaded machine that takes
# seconds, and views taken before showed it half-made (its 192-byte
# objects still being freed: 67% fragmented, and an alert's sites read
# then holding 7.5 MiB beside the 1.2 MiB of the stats that came after).
for _ in $(seq 600); do
	grep -q '^demo_fragment: pid [0-9]*: kept' "$DEMO/demo_fragment.out" && break
	kill -0 "$FRAG" 2>/dev/null || break
	sleep 0.1
done
FRAGMENTED=$(date +%s.%N)
# Let jmstatd see them and gather a few samples (rates need two), the
# fragmenter's from after its line.
for _ in $(seq 60); do
	n=$("$JMCTL" --socket "$SOCK" --json ps 2>/dev/null | grep -o '"pid":' | wc -l || true)
	[ "$n" -ge $(( ${#PIDS[@]} - 1 )) ] && break
	sleep 0.1
done
sleep 2
for _ in $(seq 600); do
	later "$(jmctl --json stats "$FRAG" 2>/dev/null | json_num time)" "$FRAGMENTED" && break
	sleep 0.1
done

# ---- 5. what jmctl shows
step "jmctl ps: one line per process"
show jmctl ps -s allocated
step "jmctl top -b -n 3 -d 1: three frames of the live view as text"
show jmctl top -b -n 3 -d 1
step "jmctl stats $FRAG: the fragmenting process, bin by bin"
show jmctl stats "$FRAG" -s wasted
step "jmctl alerts: the fragmentation rule (over 50% and 16 MiB, for 2 s) fires for demo_fragment"
# Its sites read after the fragmenter's line: an alert that fired before
# (pending while it freed its 192-byte objects) has them read again when
# listed 10 s later (ALERTS_SITES_REFRESH_S).
for _ in $(seq 600); do
	later "$(jmctl --json alerts 2>/dev/null | sed 's/{"id":[0-9]/\n&/g' |
		grep "\"pid\":$FRAG," | grep '"state":"firing"' | json_num sites_time)" "$FRAGMENTED" && break
	sleep 0.1
done
show jmctl alerts
echo "jmstatd logged each transition:"
grep -E '^([^ ]+ )?jmstatd: alert [0-9]' "$DEMO/jmstatd.log" | sed 's/^/  /' || echo "  (none yet)"
step "JSON for scripts: jmctl --json ps (first 300 bytes)"
jmctl --json ps | head -c 300; echo " ..."

if [ -n "${DEMO_KEEP:-}" ]; then
	step "keeping everything up for $DEMO_KEEP s; watch it live in another terminal:"
	echo "  $JMCTL --socket $SOCK top"
	sleep "$DEMO_KEEP"
fi
step "stopping jmstatd and the workloads"
