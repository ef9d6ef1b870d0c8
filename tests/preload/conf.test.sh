#!/usr/bin/env bash
# JMALLOC_CONF: every documented key changes behaviour or is accepted; an
# unknown key or a bad value gives exactly one warning and the program runs
# on; stats:0 publishes no segment; a stats directory that cannot be
# written gives one warning and the program runs without stats.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_lib
export JMALLOC_STATS_DIR=$JM_TMP/shm
mkdir -p "$JMALLOC_STATS_DIR"
run() { LD_PRELOAD=$JMALLOC_LIB "$@"; }
py=/usr/bin/python3; [ -x $py ] || py=python3
prog=($py -c 'import json; d = {str(i): [i] * 4 for i in range(20000)}; print(len(json.dumps(d)))')
want=$("${prog[@]}")

for conf in narenas:1 narenas:64 tcache:0 decay_ms:0 decay_ms:-1 stats:0 junk:1 \
            "narenas:2,tcache:0,decay_ms:100,stats:1" prof_sample:0 \
            thp:auto thp:never thp:default thp:always; do
	out=$(JMALLOC_CONF=$conf run "${prog[@]}" 2>"$JM_TMP/err") || fail "$conf: exit $?"
	[ "$out" = "$want" ] || fail "$conf: output $out, expected $want"
	[ -s "$JM_TMP/err" ] && fail "$conf: unexpected stderr: $(cat "$JM_TMP/err")"
	echo "ok   $conf"
done

for conf in bogus:1 narenas:0 narenas:x tcache:2 decay_ms: nocolon "stats:0,bogus:2" thp:yes; do
	out=$(JMALLOC_CONF=$conf run "${prog[@]}" 2>"$JM_TMP/err") || fail "$conf: exit $?"
	[ "$out" = "$want" ] || fail "$conf: output $out"
	n=$(grep -c 'JMALLOC_CONF' "$JM_TMP/err")
	[ "$n" = 1 ] || fail "$conf: $n warnings, expected 1: $(cat "$JM_TMP/err")"
	echo "ok   $conf warns: $(cat "$JM_TMP/err")"
done

# Each warning says what was wrong: the value given and what the key takes,
# or, for an unknown key, the keys there are.
while IFS='|' read -r conf warning; do
	JMALLOC_CONF=$conf run "${prog[@]}" >/dev/null 2>"$JM_TMP/err" || fail "$conf: exit $?"
	sed 's/^jmalloc\[[0-9]*\]: //' "$JM_TMP/err" | grep -qxF "JMALLOC_CONF: $warning" ||
		fail "$conf: warned '$(cat "$JM_TMP/err")', not '$warning'"
done <<'EOF'
narenas:x|bad value 'x' for 'narenas' (1..1024), ignored
decay_ms:-5|bad value '-5' for 'decay_ms' (-1 or milliseconds), ignored
prof_sample:1k|bad value '1k' for 'prof_sample' (bytes), ignored
tcache:2|bad value '2' for 'tcache' (0 or 1), ignored
narena:8|unknown key 'narena', ignored (the keys: narenas, tcache, stats, junk, decay_ms, background_thread, prof_sample, thp; see jmalloc(3))
EOF
echo "ok   the warnings name the value and what the key takes, or the keys"

# stats:0 publishes nothing; stats on publishes a file while the process runs.
rm -f "$JMALLOC_STATS_DIR"/*
JMALLOC_CONF=stats:0 run sh -c 'ls "$JMALLOC_STATS_DIR"' >"$JM_TMP/ls"
[ -s "$JM_TMP/ls" ] && fail "stats:0 published: $(cat "$JM_TMP/ls")"
run $py -c 'import os; print("\n".join(os.listdir(os.environ["JMALLOC_STATS_DIR"])))' >"$JM_TMP/ls"
grep -Eq "^$JM_SEG_RE\$" "$JM_TMP/ls" || fail "no segment while running: $(cat "$JM_TMP/ls")"
ls "$JMALLOC_STATS_DIR" | grep -q . && fail "segment left after exit: $(ls "$JMALLOC_STATS_DIR")"
echo "ok   stats:0 publishes nothing; a segment lives as long as its process"

# A killed process runs no destructor: its segment stays until a later
# process of the same user reaps it (one start in 8 looks). (dash's _exit
# left it too, before the allocator's _exit removed it.)
run sh -c 'kill -9 $$' 2>/dev/null
ls "$JMALLOC_STATS_DIR" | grep -q . || fail "the killed shell left nothing (test premise)"
for i in $(seq 1 200); do
	run ls / >/dev/null
	ls "$JMALLOC_STATS_DIR" | grep -q . || break
done
ls "$JMALLOC_STATS_DIR" | grep -q . && fail "stale segment not reaped after 200 starts: $(ls "$JMALLOC_STATS_DIR")"
echo "ok   the segments of dead processes are reaped by a later start ($i starts)"

# The same in a pid namespace of its own (a container), where pids come at a
# fixed stride. The start that reaps was once picked by (coarse clock in us
# + pid) % 8, and the coarse clock ticks in whole milliseconds (multiples of
# 8 us apart): so by the pid alone, and a program whose children's pids all
# fell in another class never reaped. Here each `ls` is given such a pid
# (ns_last_pid set before it).
if unshare --pid --fork --mount-proc true 2>/dev/null; then
	rm -f "$JMALLOC_STATS_DIR"/*
	unshare --pid --fork --mount-proc "$py" - "$JMALLOC_LIB" <<'PY' || fail "pid namespace run: exit $?"
import os, subprocess, sys, time
env = dict(os.environ, LD_PRELOAD=sys.argv[1])
subprocess.run(["sh", "-c", "kill -9 $$"], env=env)
if not os.listdir(os.environ["JMALLOC_STATS_DIR"]):
    sys.exit("the killed shell left nothing (test premise)")
for i in range(100):
    # CLOCK_MONOTONIC_COARSE (6), in microseconds, as the allocator read it
    c = time.clock_gettime_ns(6) // 1000 % 8
    pid = 1000 + 8 * i + (4 - c) % 8        # (c + pid) % 8 == 4
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(pid - 1))
    p = subprocess.Popen(["ls", "/"], env=env, stdout=subprocess.DEVNULL)
    if p.pid != pid:
        sys.exit("ls had pid %d, not %d (test premise)" % (p.pid, pid))
    p.wait()
PY
	ls "$JMALLOC_STATS_DIR" | grep -q . &&
		fail "stale segment not reaped after 100 starts in a pid namespace, every pid of one class mod 8: $(ls "$JMALLOC_STATS_DIR")"
	echo "ok   in a pid namespace too (100 starts, their pids of one class mod 8)"
else
	echo "(no pid namespace here: unshare --pid refused)"
fi

# An unwritable or missing directory: one warning, the program runs on.
out=$(JMALLOC_STATS_DIR=$JM_TMP/missing run "${prog[@]}" 2>"$JM_TMP/err") || fail "missing dir: exit $?"
[ "$out" = "$want" ] || fail "missing dir: output $out"
[ "$(grep -c 'stats segment' "$JM_TMP/err")" = 1 ] || fail "missing dir: $(cat "$JM_TMP/err")"
echo "ok   missing stats dir warns once: $(cat "$JM_TMP/err")"

# A symlink planted where the segment goes is never followed: the target
# stays untouched and the segment is a regular file of its own.
# (The name is the one the shell's pid will have, whichever pid namespace we
# run in: its exec keeps the pid and the start time the name may hold.)
export -f jm_segment_name
bash -c 'n=$(jm_segment_name $$) && ln -s "$1/target" "$JMALLOC_STATS_DIR/$n" && export n &&
       LD_PRELOAD=$2 exec "$3" -c "import os,sys; p=os.environ[\"JMALLOC_STATS_DIR\"]+\"/\"+os.environ[\"n\"]; sys.exit(0 if os.path.isfile(p) and not os.path.islink(p) else 1)"' \
	sh "$JM_TMP" "$JMALLOC_LIB" "$py" || fail "the segment is not a regular file of its own"
[ -e "$JM_TMP/target" ] && fail "a symlink was followed"
echo "ok   a planted symlink is not followed"
