#!/usr/bin/env bash
# timeout: 120
# SIGHUP while jmstatd is out of file descriptors (its RLIMIT_NOFILE
# reached, lowered with prlimit as in tests/daemon/fd_limit): the config
# file cannot be opened. Each SIGHUP wrote "cannot read the config file
# FILE: Too many open files" and "SIGHUP: FILE refused", two lines a
# signal, as if the file were at fault. It is a line about the limit
# (what to raise), rate-limited with the daemon's other such lines (one in
# 10 s), and the rules in force stay. 20 SIGHUPs, each delivered before
# the next is sent, then SIGTERM: the daemon takes them in that order
# (one pipe), so all 20 were handled when it exits.
. "$(dirname "$0")/../lib.sh"
need_segments
need_cmd prlimit
rule keep fragmentation "ratio = 0.5" >"$JM_TMP/alerts.conf"
jmd_start --no-containers --interval 1h --config "$JM_TMP/alerts.conf"
grep -q "alert rules in force: keep" "$JMD_LOG" || fail "the first config not in force"
rule fresh fragmentation "ratio = 0.5" >"$JM_TMP/alerts.conf"
export JMD_PID
t0=$(date +%s)
jmd_py - <<'PY' || fail "SIGHUPs at the limit"
from jmd import *
import signal
pid = int(os.environ["JMD_PID"])

def pending_hup():
    for l in open("/proc/%d/status" % pid):
        if l.startswith(("SigPnd:", "ShdPnd:")) and int(l.split()[1], 16) & 1:
            return True
    return False

fd_limit(pid, 0)
for _ in range(20):
    os.kill(pid, signal.SIGHUP)
    wait_until(lambda: not pending_hup(), "the SIGHUP delivered")
PY
jmd_stop
elapsed=$(( $(date +%s) - t0 ))
cat "$JMD_LOG" >&2
! grep -q "cannot read the config file" "$JMD_LOG" || fail "the file blamed for the daemon's limit"
! grep -q "refused" "$JMD_LOG" || fail "a reload 'refused' at the limit"
! grep -q "alert rules in force: fresh" "$JMD_LOG" || fail "the new config read at the limit"
n=$(grep -c "SIGHUP: $JM_TMP/alerts.conf not read; the previous config stays in force" "$JMD_LOG" || true)
grep "SIGHUP: .* not read" "$JMD_LOG" | head -n 1 | grep -q "RLIMIT_NOFILE.*LimitNOFILE=" ||
	fail "the line does not name the limit and what to do"
# One line, and one more for each 10 s the 20 signals took.
[ "$n" -ge 1 ] && [ "$n" -le $((1 + elapsed / 10 + 1)) ] ||
	fail "$n lines about 20 SIGHUPs at the limit in ${elapsed}s"
ok "SIGHUP at the descriptor limit: $n line(s) for 20 signals, the config in force kept"
