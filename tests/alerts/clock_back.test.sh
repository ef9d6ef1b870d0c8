#!/usr/bin/env bash
# timeout: 150
# The wall clock set back (an operator's `date -s`, NTP stepping a clock
# that ran fast) changes no duration: jmstatd runs under libfaketime, its
# wall clock only (FAKETIME_DONT_FAKE_MONOTONIC: the monotonic and boot
# clocks stay real), as in tests/alerts/clock_step (the step forward);
# the clock is set 2 h back, and three ticks later:
#  - an alert with `for = 10m`, pending, is still pending, its `started`
#    unmoved (not fired, nor reset);
#  - an alert firing whose process released its memory, with
#    `clear_for = 10m`, is still firing (not resolved early);
#  - the replies' `time` has not gone back (it stands still, 1 ms a tick);
#  - a process's `age` has not gone back nor negative, and a `history`
#    request's `seconds` still covers the samples before the step (none
#    dropped as if in the future), their times in order.
. "$(dirname "$0")/../lib.sh"
need_segments
need_faketime

{
	rule long fragmentation "ratio = 0.5" "min_wasted = 16MiB" "for = 10m" "exe = python*"
	rule short fragmentation "ratio = 0.5" "min_wasted = 16MiB" "for = 1s" "clear_for = 10m" "exe = python*"
} >"$JM_TMP/alerts.conf"
jmd_start --config "$JM_TMP/alerts.conf"

jmd_py - "$JM_TMP/faketime" <<'EOF' || fail "durations across the clock set back"
import sys
from alib import *

offset_file = sys.argv[1]

alert = rule_alert

def ps_row(pid):
    r = request({"cmd": "ps"})
    check(r["ok"], "ps: %r" % r)
    v = [p for p in r["processes"] if p["pid"] == pid]
    return v[0] if v else None

def history(pid):
    r = request({"cmd": "history", "pid": pid, "seconds": 600})
    check(r["ok"], "history: %r" % r)
    return r["samples"]

def tick_time():
    return request({"cmd": "alerts"})["time"]

kept, released = Fragmenter(), Fragmenter()
for f in (kept, released):
    wait_until(lambda: f.pid in ps_pids(), "the fragmenter in ps")
    f.cmd("frag 192 300000")
for f in (kept, released):
    wait_until(lambda: (alert("short", f.pid)[0] or {}).get("state") == "firing",
               "the short alert of %d firing" % f.pid)
released.cmd("release")
# Released: its condition no longer holds (the long rule's pending alert
# of that process goes), its short alert stays firing for clear_for.
wait_until(lambda: alert("long", released.pid)[0] is None, "the released process's long alert gone")
fired, _ = alert("short", released.pid)
check(fired and fired["state"] == "firing", "the released process's short alert: %r" % fired)
pend, t0 = alert("long", kept.pid)
check(pend and pend["state"] == "pending", "the long alert: %r" % pend)
age0 = ps_row(kept.pid)["age"]
hist0 = history(kept.pid)
check(len(hist0) >= 2, "history before the step: %r" % hist0)

with open(offset_file, "w") as o:
    o.write("-2h\n")
# A tick after the step moves the daemon's time by 1 ms (the clock went
# back: the time stands still); then three more ticks.
prev = [t0]
def stepped():
    t = tick_time()
    seen = prev[0] < t <= prev[0] + 0.01
    prev[0] = t
    return seen
wait_until(stepped, "a tick that saw the clock set back")
for i in range(3):
    t = prev[0]
    wait_until(lambda: tick_time() > t, "tick %d after the step" % (i + 1))
    prev[0] = tick_time()

a, t = alert("long", kept.pid)
print("clock set 2 h back: the daemon's time %.3f -> %.3f; the long alert %s" % (t0, t, a and a["state"]))
check(t >= t0, "the replies' time went back: %.3f after %.3f" % (t, t0))
check(a and a["id"] == pend["id"] and a["state"] == "pending",
      "the alert with for = 10m is not pending 3 ticks after the clock set 2 h back: %r" % a)
check(abs(a["started"] - pend["started"]) < 0.01,
      "started moved: %r, was %r" % (a["started"], pend["started"]))
b, _ = alert("short", released.pid)
check(b and b["id"] == fired["id"] and b["state"] == "firing",
      "the firing alert with clear_for = 10m is not firing after the clock set back: %r" % b)
age1 = ps_row(kept.pid)["age"]
print("age %.3f -> %.3f" % (age0, age1))
check(age1 >= age0 >= 0, "the process's age went back: %r -> %r" % (age0, age1))
hist1 = history(kept.pid)
print("history: %d samples before the step, %d after" % (len(hist0), len(hist1)))
check(len(hist1) >= len(hist0), "samples dropped from the last 600 s: %d, were %d" % (len(hist1), len(hist0)))
times = [s["time"] for s in hist1]
check(times == sorted(times), "the history's times go back: %r" % times[-8:])
kept.exit()
released.exit()
EOF
jmd_stop
ok "the clock set back 2 h: no duration shortened, none negative"
