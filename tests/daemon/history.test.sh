#!/usr/bin/env bash
# timeout: 120
# The history ring (jmstatd/history.c) keeps every sample, oldest first,
# through its growth (16, 32, ... entries) and its wrap-around; and a growth
# rule reads the real samples of its window. With --interval 50 and
# --history 3000 the ring's full span is 61 samples, so a process lives
# through the ring's whole history in a few seconds:
# - a process that grows by one known step every 100 ms has, at each
#   sample, one of the values it published (baseline + k steps), in order,
#   at times in order within its life; past 16 samples (the ring's first
#   size) and past 61 (its full span, when it wraps), the history is
#   exactly the ring's entries, oldest first;
# - a growth rule (window 2 s, growth above one step) fires while the
#   process grows and stays firing as long as its window holds more than
#   one step of the daemon's own samples; it resolves once the window has
#   slid past the growth;
# - the history of the exited process is the same samples, in order.
# (The bug this catches: the ring grew after its write position had wrapped
# to 0, so the newest sample overwrote the oldest and unwritten slots were
# read as samples: "mapped 0" 114 s ago for an 8 s old process, and growth
# alerts that resolved while the process still grew.)
. "$(dirname "$0")/../lib.sh"
need_segments

JMD_INTERVAL=50
export JMD_INTERVAL
rule grow growth "metric = allocated" "growth = 1MiB" "window = 2s" "exe = daemon_holder" >"$JM_TMP/jmstatd.conf"
jmd_start --history 3000 --config "$JM_TMP/jmstatd.conf"

jmd_py - <<'EOF' || fail "history"
import time
from jmd import *

HIST_MAX = 3000 // 50 + 1
STEP = "alloc 1048576 1"          # one block: a sample sees all of a step or none

def history(pid):
    r = request({"cmd": "history", "pid": pid, "seconds": 1e6})
    check(r["ok"] and r["history_ms"] == 3000 and r["interval_ms"] == 50, "history: %r" % r)
    return r

def check_samples(r, base, step, born, what):
    """Every sample: a value the process published, in order, in its life."""
    s = r["samples"]
    check(len(s) <= HIST_MAX, "%s: %d samples, more than the ring's %d" % (what, len(s), HIST_MAX))
    now = time.time()
    prev_t, prev_k = born - 0.5, -1
    for i, e in enumerate(s):
        check(prev_t < e["time"] <= now + 0.5,
              "%s: sample %d at %.3f, after %.3f, before now %.3f: %r" % (what, i, e["time"], prev_t, now, s))
        check(e["mapped"] >= e["active"] >= e["allocated"], "%s: sample %d: %r" % (what, i, e))
        if e["time"] < first_step and e["allocated"] <= base:
            # Sampled before the test's first step: what start-up left,
            # possibly nothing at all (the segment is made at the
            # allocator's initialisation, before its first chunk is
            # mapped; a loaded machine may let a tick fall in between).
            # A tick is stamped when it starts and reads the segments
            # after, so one stamped just before the first step may
            # already hold it (seen under ASan): that sample is checked
            # as any other below.
            continue
        check(e["mapped"] > 0, "%s: sample %d: %r" % (what, i, e))
        k, rem = divmod(e["allocated"] - base, step)
        check(rem == 0 and k >= 0, "%s: sample %d allocated %d is not %d + k x %d" %
              (what, i, e["allocated"], base, step))
        check(k >= prev_k, "%s: sample %d went back from %d to %d steps" % (what, i, prev_k, k))
        prev_t, prev_k = e["time"], k
    return s

def grow_alerts(pid):
    r = request({"cmd": "alerts"})
    check(r["ok"], "alerts: %r" % r)
    return [a for a in r["alerts"] if a["rule"] == "grow" and a["pid"] == pid]

h = Holder()
born = time.time()
wait_until(lambda: h.pid in ps_pids(), "the holder in ps")
base = stats_after(h.pid, time.time())["allocated"]
first_step = time.time()
t = h.cmd(STEP)
step = stats_after(h.pid, t)["allocated"] - base
check(step >= 1 << 20, "one step allocated %d bytes" % step)

# Grow one step every 100 ms through more than the ring's full span.
fired = None
grown = 0
saw_past_first = saw_wrapped = False
for i in range(70):
    h.cmd(STEP)
    time.sleep(0.1)
    r = history(h.pid)
    s = check_samples(r, base, step, born, "while growing, step %d" % i)
    if len(s) > 16:
        saw_past_first = True
    if len(s) == HIST_MAX:
        saw_wrapped = True
    ra = request({"cmd": "alerts"})
    check(ra["ok"], "alerts: %r" % ra)
    a = [x for x in ra["alerts"] if x["rule"] == "grow" and x["pid"] == h.pid]
    live = [x for x in a if x["state"] != "resolved"]
    if fired is None and live:
        fired = live[0]
        check(fired["state"] == "firing", "growth (for = 0) not firing: %r" % fired)
    # The growth the tick of that reply saw, from the same samples (taken
    # again after it: a tick may have come between): whenever its window
    # holds more than the rule's 1 MiB, the alert fires. (Not "at every
    # step": on a loaded machine a step of this loop can take most of the
    # 2 s window, which then holds one step, and the alert rightly ends.)
    ta = ra["time"]
    win = [e for e in history(h.pid)["samples"] if ta - 2.0 + 0.001 < e["time"] <= ta]
    if win and win[-1]["time"] == ta:
        g = win[-1]["allocated"] - min(e["allocated"] for e in win)
        if g > 1 << 20:
            grown += 1
            check([x for x in live if x["state"] == "firing"],
                  "the growth alert is not firing while the process grew by %d bytes in its "
                  "window (step %d): %r" % (g, i, a))
check(saw_past_first, "never more than 16 samples")
check(saw_wrapped, "the ring never held its %d samples" % HIST_MAX)
check(fired is not None, "the growth rule never fired")
check(grown > 0, "no tick whose window held the growth")
print("growth alert %d firing through the growth (%d of 70 steps with more than 1 MiB in the window): %s" % (fired["id"], grown, fired["message"]))

# Growth stopped: once the 2 s window has slid past, the alert resolves.
wait_until(lambda: [x for x in grow_alerts(h.pid) if x["id"] == fired["id"] and x["state"] == "resolved"],
           "the growth alert resolved after the growth stopped")

# Full ring: exactly its span, the last sample the value now published.
final = stats_after(h.pid, time.time())["allocated"]
s = check_samples(history(h.pid), base, step, born, "full ring")
check(len(s) == HIST_MAX, "%d samples in a full ring of %d" % (len(s), HIST_MAX))
check(s[-1]["allocated"] == final, "newest sample %d, process has %d" % (s[-1]["allocated"], final))
check(s[0]["time"] >= born, "oldest sample before the process started")

# The host's and the user's histories are in order too.
for who in ({"cmd": "history", "seconds": 1e6},):
    r = request(who)
    check(r["ok"], "host history: %r" % r)
    ts = [e["time"] for e in r["samples"]]
    check(len(ts) == HIST_MAX and ts == sorted(ts) and len(set(ts)) == len(ts),
          "host history: %d samples, in order: %s" % (len(ts), ts == sorted(ts)))

# The exited process keeps its samples, in order.
h.exit()
wait_until(lambda: not request({"cmd": "history", "pid": h.pid})["alive"], "the holder seen gone")
s2 = check_samples(history(h.pid), base, step, born, "after exit")
check(len(s2) > 0 and s2[-1]["allocated"] == final, "the exited process's history: %r" % s2[-3:])
print("ok: %d samples, step %d bytes" % (len(s), step))
EOF
jmd_stop
echo ok
