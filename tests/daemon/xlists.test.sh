#!/usr/bin/env bash
# timeout: 120
# Every counter of jmstat.h's X-lists reaches the replies: each arena
# counter (JMSTAT_ARENA_COUNTERS) is a field of every arena of `stats`,
# each bin counter (JMSTAT_BIN_COUNTERS) a field of every bin of `stats`,
# of `bins PID`, of the host's aggregated `bins` and of a subscriber's
# update; the arena counters summed over a process's arenas agree with
# `stats`. A counter added to a list but not to jmstatd's bin and arena
# replies (a row of jmstatd/fields.h's JMD_BIN_FIELDS) fails here by name;
# tests/daemon/xfield.test.sh checks that a row there reaches every output.
# The fields of ps's processes and host, of stats' arenas and bins and of
# history's samples are docs/protocol.md's lists, in their order. (/metrics is checked the same way by
# tests/metrics/metrics.test.sh.)
. "$(dirname "$0")/../lib.sh"
need_segments

jmd_start
jmd_py - <<'EOF2' || fail "the X-lists' counters in the replies"
from jmd import *
import re

hdr = open(os.path.join(os.environ["JM_ROOT"], "liballoc/include/jmstat.h")).read()
def xlist(name):
    body = hdr[hdr.index("#define " + name):]
    body = body[:body.index("\n\n")]
    return re.findall(r"X\((\w+),", body)
arena_fields = xlist("JMSTAT_ARENA_COUNTERS")
bin_fields = xlist("JMSTAT_BIN_COUNTERS")
check(len(arena_fields) >= 10 and len(bin_fields) >= 8,
      "jmstat.h's lists not found (%r, %r): update this test" % (arena_fields, bin_fields))

h = Holder()
h.cmd("alloc 64 1000")
h.cmd("alloc 100000 3")

def sampled(pid):
    """stats of pid once a sample shows the thousand 64-byte regions, and
    the thousand requests: the regions are the arena's figures, the
    requests the thread's row, which a sample may hold from before them
    (a row is read again when its sequence number moves, and the
    fast path's count does not move it); the later `bins PID` then showed
    1000 where stats had 0 (the sanitized CI, once)."""
    r = request({"cmd": "stats", "pid": pid})
    if not r.get("ok"):
        return None
    return r if any(x["size"] == 64 and x["curregs"] >= 1000 and x["nrequests"] >= 1000
                    for x in r["bins"]) else None
s = wait_until(lambda: sampled(h.pid), "stats of the holder with its regions")

def has_all(objs, fields, what):
    check(len(objs) > 0, "%s: none" % what)
    for o in objs:
        for f in fields:
            check(f in o, "%s: no field '%s' (a counter of jmstat.h's list): add it to "
                  "jmstatd's replies" % (what, f))

has_all(s["arenas"], arena_fields, "stats' arenas")
has_all(s["bins"], bin_fields, "stats' bins")
b = request({"cmd": "bins", "pid": h.pid})
check(b.get("ok"), "bins PID: %r" % b)
has_all(b["bins"], bin_fields, "bins PID")
agg = request({"cmd": "bins"})
check(agg.get("ok"), "bins: %r" % agg)
has_all(agg["bins"], bin_fields, "bins (aggregated)")

c = Client()
try:
    u = c.req({"cmd": "subscribe", "pid": h.pid})
    check(u.get("ok"), "subscribe: %r" % u)
    has_all(u["bins"], bin_fields, "subscribe's bins")
finally:
    c.close()

# The bins of `bins PID` are the bins of `stats`, and with one process the
# aggregated bins are its own, counter for counter (the holder is idle: its
# counters do not move between the requests).
by_size = {x["size"]: x for x in s["bins"]}
for what, bins in (("bins PID", b["bins"]), ("bins (aggregated)", agg["bins"])):
    for x in bins:
        for f in bin_fields:
            check(x[f] == by_size[x["size"]][f], "%s and stats differ in bin %d's %s: %r, %r"
                  % (what, x["size"], f, x[f], by_size[x["size"]][f]))
# The replies list their fields as docs/protocol.md does, in its order (the
# order of the rows of jmstatd/fields.h and commands.h): a row added there
# is documented there too.
doc = open(os.path.join(os.environ["JM_ROOT"], "docs/protocol.md")).read()
def documented(name):
    m = re.search(r"`%s` = `\{([^}]*)\}`" % name, doc)
    check(m is not None, "docs/protocol.md defines no %s list" % name)
    return re.findall(r'"(\w+)"', m.group(1))
ps = request({"cmd": "ps"})
proc = [p for p in ps["processes"] if p["pid"] == h.pid][0]
hist = wait_until(lambda: request({"cmd": "history", "pid": h.pid})["samples"], "a history sample")
for what, keys, want in (("ps's process", list(proc), documented("PROC")),
                         ("ps's host", list(ps["host"]), documented("HOST")),
                         ("stats' arena", list(s["arenas"][0]), documented("ARENA")),
                         ("stats' bin", list(s["bins"][0]), documented("BIN")),
                         ("a history sample", list(hist[0]),
                          re.findall(r'"(\w+)"', re.search(r'"samples":\[\{([^}]*)\}', doc).group(1)))):
    check(keys == want, "%s's fields are not docs/protocol.md's, in its order:\n  reply %r\n  docs  %r"
          % (what, keys, want))
top = [k for k in s if k not in ("arenas", "bins")]
want = ["ok", "time"] + documented("PROC") + ["bg_running", "bg_wakes"]
check(top == want, "stats' fields %r, docs/protocol.md's %r" % (top, want))
h.exit()
print("ok")
EOF2
jmd_stop
echo "ok"
