#!/usr/bin/env bash
# timeout: 120
# A reply's `time` is the latest tick's, and so are its figures, also for
# a reply built while a tick runs in slices (the loop serves clients
# between them: jmstatd/sample.c). 3,000 empty files named as segments of
# a live process (tagged names: own_junk) are read again at each rescan,
# one tick in 10, which then spans many slices; requests meanwhile are
# answered between them. The newest sample of a `history` reply is then
# the reply's time itself, at every reply. (The bug this catches: the
# tick's time was set at its start, so a reply built during the tick
# carried the new tick's time with the history and figures of the tick
# before.)
. "$(dirname "$0")/../lib.sh"
need_segments

export JMD_INTERVAL=50
jmd_start --history 3000 --no-containers

jmd_py - <<'PY' || fail "reply time and figures"
from jmd import *

h = junk_holder(3000)             # a live process of our uid: its ring is pushed each tick
start = request({"cmd": "version"})
n = 0
c = Client()
while True:
    v = c.req({"cmd": "version"})
    r = c.req({"cmd": "history", "seconds": 1})
    check(r["ok"] and r["samples"], "history: %r" % r)
    last = r["samples"][-1]["time"]
    check(last == r["time"],
          "a reply of time %.3f whose newest sample is of %.3f (reply %d)" % (r["time"], last, n))
    n += 1
    if v["ticks"] >= start["ticks"] + 60:       # 6 rescans
        break
print("%d replies over 60 ticks" % n)
PY
jmd_stop
