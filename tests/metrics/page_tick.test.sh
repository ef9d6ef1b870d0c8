#!/usr/bin/env bash
# timeout: 120
# The /metrics page is kept for the tick it shows: a scrape while a tick
# runs in slices gets the page of the tick before, and the first scrape
# after the tick's end a page of the new one. 600 empty files named as
# segments of a live process (tagged names: own_junk) are read again at
# each rescan, one tick in 10, which then spans slices (and ends within
# the interval, the window this needs); a holder
# grows by 64 KiB before each scrape. The page's host allocated bytes are
# those of the host's history sample of the time version gave just
# before, or of a later one. (The bug this catches: the page was kept by
# the tick's number, which moves when a tick starts: a page written during
# the tick, with the figures of the tick before, was kept past its end,
# served a whole interval more.)
. "$(dirname "$0")/../lib.sh"
need_segments
JMD_INTERVAL=50 jmd_start --metrics 127.0.0.1:0 --no-containers
JMD_URL=$JMD_URL jmd_py - <<'PY' || fail "the page of the latest tick"
from jmd import *
import re, urllib.request

JUNK = 600

def scrape(path):
    return urllib.request.urlopen(os.environ["JMD_URL"] + path, timeout=60).read().decode()

h = junk_holder(JUNK)
start = request({"cmd": "version"})
n = 0
while True:
    h.cmd("alloc 65536 1")
    v = request({"cmd": "history", "seconds": 1})
    page = scrape("/metrics")
    m = re.search(r"^jmalloc_host_allocated_bytes ([0-9]+)$", page, re.M)
    check(m, "no jmalloc_host_allocated_bytes")
    got = int(m.group(1))
    after = request({"cmd": "history", "seconds": 10})["samples"]
    ok = [e["allocated"] for e in after if e["time"] >= v["time"]]
    check(got in ok, "a page of host allocated %d, none of the samples since %.3f: %r (scrape %d)"
          % (got, v["time"], ok, n))
    n += 1
    if request({"cmd": "version"})["ticks"] >= start["ticks"] + 60:       # 6 rescans
        break
print("%d scrapes over 60 ticks" % n)
PY
jmd_stop
