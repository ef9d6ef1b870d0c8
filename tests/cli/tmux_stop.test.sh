#!/usr/bin/env bash
# timeout: 60
# What a tmux test's pane program gets when the test ends (lib.sh's
# tmux_stop): SIGTERM alone, while its terminal is still there, and no
# SIGHUP or SIGCONT. tmux_stop killed the server first, and the panes'
# programs got SIGHUP and SIGCONT: a jmctl top built with ASan exited on
# the SIGHUP, and a SIGCONT during LeakSanitizer's check at its exit
# discarded the SIGSTOP of its tracer's PTRACE_ATTACH: the tracer waited
# in wait4 for ever, the program spun in sched_yield (11 minutes in CI).
# The program here records each signal it gets, as the pane's shell's
# child (`PROG; sleep 600`, as tests/cli/top_sites.test.sh runs jmctl),
# and its own pane's process (`exec PROG`).
. "$(dirname "$0")/../lib.sh"
plain_only "the harness's tmux_stop and a python program: no jmctl or jmstatd"
cd "$JM_TMP"
cat >sigs.py <<'PY'
import os, signal, sys
log = open(sys.argv[1], "a", buffering=1)
def seen(sig, frame):
    log.write(signal.Signals(sig).name + "\n")
    if sig == signal.SIGTERM:
        sys.exit(0)
for s in (signal.SIGHUP, signal.SIGCONT, signal.SIGTERM, signal.SIGINT):
    signal.signal(s, seen)
log.write("ready\n")
while True:
    signal.pause()
PY
for how in child exec; do
	rm -f "sigs.$how"
	if [ $how = child ]; then
		tmux_start "stop-$how" 80 20 "python3 $JM_TMP/sigs.py $JM_TMP/sigs.$how; sleep 600"
	else
		tmux_start "stop-$how" 80 20 "exec python3 $JM_TMP/sigs.py $JM_TMP/sigs.$how"
	fi
	wait_line "sigs.$how" '^ready$'
	tmux_stop
	TMUX_RUNS=0
	got=$(grep -v '^ready$' "sigs.$how" | tr '\n' ' ')
	[ "$got" = "SIGTERM " ] || fail "the pane's program ($how) got: ${got:-nothing} (SIGTERM alone expected)"
	ok "the pane's program ($how) got SIGTERM alone"
done
