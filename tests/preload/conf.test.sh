#!/usr/bin/env bash
# JMALLOC_CONF: every documented key changes behaviour or is accepted; an
# unknown key or a bad value gives exactly one warning and the program runs
# on; stats:0 publishes no segment; a stats directory that cannot be
# written gives one warning and the program runs without stats.
# timeout: 120
. "$(dirname "$0")/lib.sh"
jm_require_lib
export JMALLOC_STATS_DIR=$JM_TMP/shm
mkdir -p "$JMALLOC_STATS_DIR"
run() { LD_PRELOAD=$JMALLOC_LIB "$@"; }
py=/usr/bin/python3; [ -x $py ] || py=python3
prog=($py -c 'import json; d = {str(i): [i] * 4 for i in range(20000)}; print(len(json.dumps(d)))')
want=$("${prog[@]}")

for conf in narenas:1 narenas:64 tcache:0 decay_ms:0 decay_ms:-1 stats:0 junk:1 \
            "narenas:2,tcache:0,decay_ms:100,stats:1" prof_sample:0; do
	out=$(JMALLOC_CONF=$conf run "${prog[@]}" 2>"$JM_TMP/err") || jm_fail "$conf: exit $?"
	[ "$out" = "$want" ] || jm_fail "$conf: output $out, expected $want"
	[ -s "$JM_TMP/err" ] && jm_fail "$conf: unexpected stderr: $(cat "$JM_TMP/err")"
	echo "ok   $conf"
done

for conf in bogus:1 narenas:0 narenas:x tcache:2 decay_ms: nocolon "stats:0,bogus:2"; do
	out=$(JMALLOC_CONF=$conf run "${prog[@]}" 2>"$JM_TMP/err") || jm_fail "$conf: exit $?"
	[ "$out" = "$want" ] || jm_fail "$conf: output $out"
	n=$(grep -c 'JMALLOC_CONF' "$JM_TMP/err")
	[ "$n" = 1 ] || jm_fail "$conf: $n warnings, expected 1: $(cat "$JM_TMP/err")"
	echo "ok   $conf warns: $(cat "$JM_TMP/err")"
done

# stats:0 publishes nothing; stats on publishes a file while the process runs.
rm -f "$JMALLOC_STATS_DIR"/*
JMALLOC_CONF=stats:0 run sh -c 'ls "$JMALLOC_STATS_DIR"' >"$JM_TMP/ls"
[ -s "$JM_TMP/ls" ] && jm_fail "stats:0 published: $(cat "$JM_TMP/ls")"
run $py -c 'import os; print("\n".join(os.listdir(os.environ["JMALLOC_STATS_DIR"])))' >"$JM_TMP/ls"
grep -q "^jmalloc\.[0-9]*\.stats$" "$JM_TMP/ls" || jm_fail "no segment while running: $(cat "$JM_TMP/ls")"
ls "$JMALLOC_STATS_DIR" | grep -q . && jm_fail "segment left after exit: $(ls "$JMALLOC_STATS_DIR")"
echo "ok   stats:0 publishes nothing; a segment lives as long as its process"

# dash ends with _exit(), which runs no destructor: its segment stays until
# a later process of the same user reaps it (one start in 8 looks).
run sh -c 'true'
ls "$JMALLOC_STATS_DIR" | grep -q . || jm_fail "dash left nothing (test premise)"
for i in $(seq 1 200); do
	run ls / >/dev/null
	ls "$JMALLOC_STATS_DIR" | grep -q . || break
done
ls "$JMALLOC_STATS_DIR" | grep -q . && jm_fail "stale segment not reaped after 200 starts: $(ls "$JMALLOC_STATS_DIR")"
echo "ok   the segments of dead processes are reaped by a later start ($i starts)"

# An unwritable or missing directory: one warning, the program runs on.
out=$(JMALLOC_STATS_DIR=$JM_TMP/missing run "${prog[@]}" 2>"$JM_TMP/err") || jm_fail "missing dir: exit $?"
[ "$out" = "$want" ] || jm_fail "missing dir: output $out"
[ "$(grep -c 'stats segment' "$JM_TMP/err")" = 1 ] || jm_fail "missing dir: $(cat "$JM_TMP/err")"
echo "ok   missing stats dir warns once: $(cat "$JM_TMP/err")"

# A symlink planted where the segment goes is never followed: the target
# stays untouched and the segment is a regular file of its own.
sh -c 'ln -s "$1/target" "$JMALLOC_STATS_DIR/jmalloc.$$.stats"
       LD_PRELOAD=$2 exec "$3" -c "import os,sys; p=os.environ[\"JMALLOC_STATS_DIR\"]+\"/jmalloc.%d.stats\" % os.getpid(); sys.exit(0 if os.path.isfile(p) and not os.path.islink(p) else 1)"' \
	sh "$JM_TMP" "$JMALLOC_LIB" "$py" || jm_fail "the segment is not a regular file of its own"
[ -e "$JM_TMP/target" ] && jm_fail "a symlink was followed"
echo "ok   a planted symlink is not followed"
