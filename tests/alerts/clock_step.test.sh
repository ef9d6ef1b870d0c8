#!/usr/bin/env bash
# timeout: 120
# A step of the wall clock does not shorten an alert's `for`: jmstatd runs
# under libfaketime, its wall clock only (FAKETIME_DONT_FAKE_MONOTONIC: the
# monotonic and boot clocks stay real); a fragmenting process makes a rule
# with `for = 10m` pending, the clock is set 2 h forward (the offset file,
# read at every call), and a few ticks later the alert is still pending,
# while the replies' `time` has moved the 2 h. Measured on the wall clock,
# `for` was over at the first tick after the step, which fired it.
. "$(dirname "$0")/../lib.sh"
need_segments
need_faketime

{
	rule long fragmentation "ratio = 0.5" "min_wasted = 16MiB" "for = 10m" "exe = python*"
	rule short fragmentation "ratio = 0.5" "min_wasted = 16MiB" "for = 1s" "exe = python*"
} >"$JM_TMP/alerts.conf"
jmd_start --config "$JM_TMP/alerts.conf"

jmd_py - "$JM_TMP/faketime" <<'EOF' || fail "alert durations across a clock step"
import sys
from alib import *

offset_file = sys.argv[1]

alert = rule_alert

f = Fragmenter()
wait_until(lambda: f.pid in ps_pids(), "the fragmenter in ps")
f.cmd("frag 192 300000")
# The short rule fires after its 1 s: the process is evaluated, and the
# alerts of a rule with a `for` do fire.
wait_until(lambda: (alert("short", f.pid)[0] or {}).get("state") == "firing", "the short alert firing")
pend, t0 = alert("long", f.pid)
check(pend and pend["state"] == "pending", "the long alert: %r" % pend)

with open(offset_file, "w") as o:
    o.write("+2h\n")
# The tick whose time shows the step evaluated the alerts with it; two
# more ticks after it.
t1 = wait_until(lambda: (lambda t: t if t >= t0 + 7200 else None)(alert("long", f.pid)[1]),
                "the daemon's time 2 h on")
t2 = wait_until(lambda: (lambda t: t if t > t1 else None)(alert("long", f.pid)[1]), "a tick after it")
wait_until(lambda: alert("long", f.pid)[1] > t2, "another tick")
a, t = alert("long", f.pid)
print("clock set 2 h forward: the daemon's time %.1f -> %.1f; the long alert %s" %
      (t0, t, a and a["state"]))
check(a and a["id"] == pend["id"] and a["state"] == "pending",
      "the alert with for = 10m is not pending 2 ticks after a 2 h step: %r" % a)
check(abs(a["started"] - pend["started"]) < 0.01 and a["started"] < t0 + 1,
      "started moved: %r, was %r" % (a["started"], pend["started"]))
f.exit()
EOF
jmd_stop
echo "ok"
