#!/usr/bin/env bash
# timeout: 120
# Clients closed as idle (--client-idle) are logged in one line at most
# every 10 s, with their count since the line before: it was a line for
# every check that closed one (a check every quarter of --client-idle),
# so a loop of clients that connect and wait wrote the journal at that
# pace (167 of a soak's 5,665 lines). Eight waves of five clients, each
# wave waiting until the daemon closes it: the old daemon logs a line a
# wave.
. "$(dirname "$0")/../lib.sh"
jmd_start --client-idle 1
jmd_py - "$JMD_LOG" <<'PY' || fail "idle clients' lines"
import re, socket, sys
from jmd import *
log = sys.argv[1]

def closed_lines():
    return [l for l in open(log) if "idle client" in l]

t0 = time.monotonic()
for wave in range(8):
    ss = []
    for _ in range(5):
        ss.append(connect_raw())
    for s in ss:             # told, then closed
        reply = read_to_close(s)
        check(b"no request" in reply, "an idle client was told %r" % reply)
        s.close()
took = time.monotonic() - t0
lines = closed_lines()
print("40 idle clients closed in 8 waves over %.1f s: %d lines" % (took, len(lines)))
for l in lines:
    print("  " + l.rstrip())
check(lines and re.match(r"jmstatd: [1-5] idle clients? closed \(", lines[0]),
      "the first wave's line, at once: %r" % lines)
check(len(lines) <= 1 + int(took / 10), "%d lines in %.1f s" % (len(lines), took))
PY
jmd_stop
# The rest, counted in a last line at the exit: 40 in all.
n=$(sed -n 's/^jmstatd: \([0-9]*\) idle clients\{0,1\} closed.*/\1/p' "$JMD_LOG" | awk '{ n += $1 } END { print n }')
[ "$n" = 40 ] || fail "the lines count $n idle clients closed, not 40: $(grep 'idle client' "$JMD_LOG")"
ok "idle clients closed: a line in 10 s at most, every client counted"
