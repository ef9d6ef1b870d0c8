#!/usr/bin/env bash
# timeout: 120
# Consecutive ticks are an interval apart at least, also around a tick
# that took longer than the interval: 3,000 empty files named as segments
# of a live process (tagged names: own_junk) are read again at each
# rescan, one tick in 10, which then takes longer than --interval 50.
# The history's samples are then each at least 50 ms after the one before
# (times to the ms). (The bug this catches: a repeating timer fired during
# the long tick, which started the next one at its end, and fired again
# an interval after it had fired: the tick after began a few ms later, or
# in the same millisecond, two history samples with one time: 6-44 ms
# apart at every rescan. And: the one-shot timer, of whole milliseconds
# from the loop's time cut down to the millisecond, fired up to 1 ms
# early when a client's request woke the loop in the millisecond before
# the tick was due: with two clients asking meanwhile, 49 ms apart a few
# times in 60 ticks.)
. "$(dirname "$0")/../lib.sh"
need_segments

export JMD_INTERVAL=50
jmd_start --history 3000 --no-containers

jmd_py - <<'PY' || fail "ticks an interval apart"
from jmd import *

h = junk_holder(3000)             # a live process of our uid: its ring is pushed each tick
start = request({"cmd": "version"})
since = time.monotonic()
import threading
busy = True
def ask():                        # wakes the loop at any time of a tick's interval
    c = Client(None)
    while busy:
        c.req({"cmd": "version"})
    c.close()
askers = [threading.Thread(target=ask) for _ in range(2)]
for a in askers:
    a.start()
try:
    wait_until(lambda: request({"cmd": "version"})["ticks"] >= start["ticks"] + 50, "50 ticks",
               timeout=60)
finally:
    busy = False
    for a in askers:
        a.join()
# Every sample since start (the 50 ticks took 10 s or more at a load of
# 35 on 2 CPUs: the last 10 s held 24 of them).
span = int(time.monotonic() - since) + 10
for what, r in (("host", request({"cmd": "history", "seconds": span})),
                ("holder", request({"cmd": "history", "pid": h.pid, "seconds": span}))):
    check(r["ok"], "history: %r" % r)
    t = [e["time"] for e in r["samples"]]
    check(len(t) >= 30, "%s: %d samples" % (what, len(t)))
    gaps = [round((b - a) * 1000) for a, b in zip(t, t[1:])]
    check(min(gaps) >= 50, "%s: ticks %d ms apart: %r" % (what, min(gaps), gaps))
    print("%s: %d samples, %d-%d ms apart" % (what, len(t), min(gaps), max(gaps)))
PY
jmd_stop
