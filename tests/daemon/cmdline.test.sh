#!/usr/bin/env bash
# timeout: 120
# jmstatd's command line and its log, run by hand:
# - -h and --help; --interval and --history with units (500ms, 1s, 10m)
#   or bare milliseconds, out of range or unknown units refused (exit 2);
# - --check-config FILE: every error of the file, each with its line, then
#   "FILE: N errors" and exit 1; "FILE: good" and exit 0; an unreadable
#   file exit 1; nothing started;
# - the log: lines stamped with the local time when stderr is not the
#   journal, plain "jmstatd: " when JOURNAL_STREAM names stderr; in their
#   natural order (listening and started before the alerts the first
#   sample raises); the start line says "started", not "jmstatd jmstatd";
# - SIGTERM during the first tick: a clean exit, the socket removed.
. "$(dirname "$0")/../lib.sh"
need_segments

# ---- -h, units
"$JMSTATD" -h >"$JM_TMP/out" || fail "-h exited $?"
grep -q -- "--check-config FILE" "$JM_TMP/out" || fail "-h does not list --check-config"
for bad in "--interval 1x" "--interval 10ms" "--interval 2h" "--interval 1.5ms" "--history 5h0" \
           "--history 25h" "-x"; do
	rc=0; "$JMSTATD" $bad >/dev/null 2>"$JM_TMP/err" || rc=$?
	[ $rc -eq 2 ] || fail "jmstatd $bad exited $rc, not 2"
done
grep -q "unknown option '-x'" "$JM_TMP/err" || fail "-x: $(cat "$JM_TMP/err")"

# ---- --check-config
cat >"$JM_TMP/bad.conf" <<'EOF'
# four mistakes, one per section, and a good rule between them
[rule a]
kind = fragmentation
ratio = lots

[rule ok]
kind = fragmentation
ratio = 50%

[rule b]
kind = growth
growth = 1GiB

[bad name!]
kind = fragmentation

[rule c]
kind = sparse_bin
util_below = 20%
treshold = 3
EOF
rc=0; "$JMSTATD" --check-config "$JM_TMP/bad.conf" >"$JM_TMP/out" 2>"$JM_TMP/err" || rc=$?
cat "$JM_TMP/err"
[ $rc -eq 1 ] || fail "--check-config of a bad file exited $rc"
[ "$(cat "$JM_TMP/out")" = "$JM_TMP/bad.conf: 4 errors" ] || fail "stdout: $(cat "$JM_TMP/out")"
errs=$(grep -c "^jmstatd: $JM_TMP/bad.conf:[0-9]*: " "$JM_TMP/err")
[ "$errs" -eq 4 ] || fail "$errs error lines, not 4 (and no timestamps)"
for want in "4: rule 'a': ratio: 'lots'" "10: rule 'b': kind growth needs 'window'" \
            "14: a section name" "20: rule 'c': unknown setting 'treshold'"; do
	grep -q "bad.conf:$want" "$JM_TMP/err" || fail "no error '$want'"
done
printf '[rule ok]\nkind = growth\ngrowth = 1GiB\nwindow = 5m\n' >"$JM_TMP/good.conf"
rc=0; "$JMSTATD" --check-config "$JM_TMP/good.conf" >"$JM_TMP/out" 2>"$JM_TMP/err" || rc=$?
[ $rc -eq 0 ] && [ "$(cat "$JM_TMP/out")" = "$JM_TMP/good.conf: good" ] ||
	fail "--check-config of a good file: exit $rc, $(cat "$JM_TMP/out" "$JM_TMP/err")"
# The other options count: a 5 minute window needs 5 minutes of history.
rc=0; "$JMSTATD" --history 1m --check-config "$JM_TMP/good.conf" >/dev/null 2>"$JM_TMP/err" || rc=$?
[ $rc -eq 1 ] && grep -q "window must be" "$JM_TMP/err" || fail "--history 1m --check-config: exit $rc"
rc=0; "$JMSTATD" --check-config "$JM_TMP/none.conf" >/dev/null 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "--check-config of a missing file exited $rc"
[ ! -e "$JMD_SOCK" ] || fail "--check-config started a daemon"

# ---- the log of a daemon run by hand: a process already fragmented when
# it starts, so the first sample raises an alert at once. It lives until
# the daemon has said so and stopped (it lived 30 s: on a loaded machine
# it could be gone before), and each wait below fails saying what it
# waited for (they gave up in silence after 5 s).
JMALLOC_STATS_DIR=$JMD_STATS LD_PRELOAD=$JMALLOC_LIB sleep infinity &
SLEEPER=$!
PIDS+=("$SLEEPER")
for i in $(seq 300); do
	jm_segment "$JMD_STATS" "$SLEEPER" >/dev/null && break
	[ "$i" -lt 300 ] || fail "the preloaded sleep wrote no segment within 30 s"
	sleep 0.1
done
printf '[rule sparse]\nkind = sparse_bin\nutil_below = 99%%\nmin_held = 1B\nfor = 0s\nexe = sleep\n' \
	>"$JM_TMP/rules.conf"
env -u JOURNAL_STREAM "$JMSTATD" --socket "$JMD_SOCK" --stats-dir "$JMD_STATS" --interval 500ms \
	--config "$JM_TMP/rules.conf" 2>"$JM_TMP/hand.log" &
JMD_PID=$!
jmd_wait_socket
for i in $(seq 300); do
	grep -q "alert 1 sparse" "$JM_TMP/hand.log" && break
	[ "$i" -lt 300 ] || { cat "$JM_TMP/hand.log"; fail "no alert logged within 30 s"; }
	sleep 0.1
done
jmd_stop
kill "$SLEEPER"; wait "$SLEEPER" 2>/dev/null
cat "$JM_TMP/hand.log"
python3 - "$JM_TMP/hand.log" <<'EOF' || fail "the log run by hand"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4} jmstatd: ")
bad = [l for l in lines if not stamp.match(l)]
assert not bad, "lines without a timestamp: %r" % bad
msgs = [stamp.sub("", l) for l in lines]
def at(prefix):
    i = [n for n, m in enumerate(msgs) if m.startswith(prefix)]
    assert i, "no line %r in %r" % (prefix, msgs)
    return i[0]
listening, started, alert = at("listening on "), at("started: pid "), at("alert 1 sparse")
assert at("alert rules in force") < listening < started < alert, msgs
assert re.match(r"started: pid \d+, version [0-9.]+, stats dir .*, interval 500ms, \d+ segments? found$",
                msgs[started]), msgs[started]
assert not any("jmstatd jmstatd" in l or "jmstatd: jmstatd" in l for l in lines), lines
EOF

# ---- SIGTERM once the socket is connectable, during the first tick: a
# clean exit, the socket removed. The signals were handled only after
# the first tick (1.4 s under the sanitizer on a loaded machine): the
# daemon died of it (status 143), its socket left behind. gdb stops it at
# the first tick and resumes it with the signal.
if command -v gdb >/dev/null; then
	# LeakSanitizer cannot run under ptrace: leaks are looked for
	# everywhere else.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	timeout -k 5 60 gdb -q -batch -ex 'handle SIGTERM nostop noprint pass' -ex 'break jmd_tick' \
		-ex run -ex delete -ex 'signal SIGTERM' --args "$JMSTATD" \
		--socket "$JMD_SOCK" --stats-dir "$JMD_STATS" --interval 1s >"$JM_TMP/gdb.out" 2>&1 ||
		fail "gdb: $(cat "$JM_TMP/gdb.out")"
	grep -q "exited normally" "$JM_TMP/gdb.out" ||
		fail "SIGTERM during the first tick: $(grep -E 'Inferior|terminated|exited' "$JM_TMP/gdb.out")"
	[ ! -e "$JMD_SOCK" ] || fail "SIGTERM during the first tick left the socket behind"
else
	echo "no gdb: SIGTERM during the first tick not tried"
fi

# ---- under journald (JOURNAL_STREAM names stderr): no timestamps
jmd_start --interval 1s
jmd_stop
grep -q "interval 1s" "$JMD_LOG" || fail "--interval 1s"
bad=$(grep -vc "^jmstatd: " "$JMD_LOG" || true)
[ "$bad" -eq 0 ] || fail "$bad stamped lines under JOURNAL_STREAM"
echo "ok"
