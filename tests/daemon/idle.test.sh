#!/usr/bin/env bash
# timeout: 120
# jmstatd does not read again the arena and bin rows of a segment whose
# seqs have not moved since its sample before (common/segread_file.c,
# jm_seg_read_fd_since): a process whose allocations are all served from
# its thread cache moves no row, only its cache words. Its figures must
# still be exact: each request counted once, the regions in use right.
. "$(dirname "$0")/../lib.sh"
need_segments

jmd_start
jmd_py - <<'EOF2' || fail "an idle process's figures"
from jmd import *

def bin64(r):
    return [b for b in r["bins"] if b["size"] == 64][0]

h = Holder()
wait_until(lambda: ps_pids().get(h.pid), "pid %d in ps" % h.pid)
h.cmd("alloc 64 1")              # fills the cache from the bin
t = h.cmd("free")
before = bin64(stats_after(h.pid, t))
# Two samples with nothing done: the rows (and every figure) stay.
r = stats_after(h.pid, stats_after(h.pid, t)["time"])
check(bin64(r) == dict(before, malloc_rate=bin64(r)["malloc_rate"],
                       request_rate=bin64(r)["request_rate"]),
      "an idle process's bin moved: %r then %r" % (before, bin64(r)))
check(bin64(r)["request_rate"] == 0, "requests while idle: %r" % bin64(r))
for i in range(5):
    h.cmd("alloc 64 1")
    t = h.cmd("free")
after = bin64(stats_after(h.pid, t))
check(after["nrequests"] == before["nrequests"] + 5,
      "5 requests from the cache: nrequests %d then %d" % (before["nrequests"], after["nrequests"]))
check(after["inuse"] == before["inuse"], "regions in use: %d then %d" % (before["inuse"], after["inuse"]))
h.cmd("alloc 64 3")
after = bin64(stats_after(h.pid, h.cmd("alloc 64 0")))
check(after["nrequests"] == before["nrequests"] + 8 and after["inuse"] == before["inuse"] + 3,
      "3 more held: %r" % after)
h.exit()
EOF2
jmd_stop
echo ok
