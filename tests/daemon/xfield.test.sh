#!/usr/bin/env bash
# timeout: 120
# A figure added to jmstatd/fields.h's X-lists reaches every output: the
# daemon built with -DJMD_TEST_EXTRA_FIELD (build/tests/jmstatd-xfield,
# `make tests`) has one more row in each list, a bin's xtest_nmalloc (the
# sum of nmalloc over the arenas again, a counter) and a process's
# xtest_mapped (mapped again, with host and process series) and
# xtest_nthreads (nthreads again, in ps, with a series per process), and
# nothing else written for them. With two real preloaded processes and the real
# socket: xtest_nmalloc is a field of every bin of `stats`, `bins PID`,
# the aggregated `bins` and a subscriber's update, equal to nmalloc;
# xtest_mapped a field of `stats`, of each process of `ps` and `jmctl
# --json ps` and of ps's host, equal to mapped, and a ps field that can be
# asked for by name, and a field of each `history` sample (JMD_HIST_FIELDS
# has a test row too); /metrics has jmalloc_bin_xtest_allocations_total (a
# counter, equal to jmalloc_bin_allocations_total for every exe and size,
# the exited processes' carry included) and jmalloc_host_ /
# jmalloc_process_xtest_mapped_bytes (equal to the mapped series). An
# output written by hand rather than generated from the lists fails here.
. "$(dirname "$0")/../lib.sh"
need_segments
JMSTATD=$JM_BUILD/tests/jmstatd-xfield
[ -x "$JMSTATD" ] || skip "build/tests/jmstatd-xfield not built (make tests)"

jmd_start --metrics :0
JMD_LOG=$JMD_LOG JMCTL=${JMCTL:?} PYTHONPATH=$JM_ROOT/tests/alerts:$JM_ROOT/tests/daemon \
python3 - <<'EOF' || fail "the test rows of fields.h's X-lists in the outputs"
import json, os, subprocess
import jmd
from alib import *

port = log_port(os.environ["JMD_LOG"])
h1, h2 = Holder(), Holder()
h1.cmd("alloc 64 1000")
h1.cmd("alloc 100000 3")
t = h2.cmd("alloc 64 500")

def sampled(pid, n):
    """stats of pid once a sample shows its n 64-byte regions."""
    r = request({"cmd": "stats", "pid": pid})
    if not r.get("ok"):
        return None
    return r if any(x["size"] == 64 and x["curregs"] >= n for x in r["bins"]) else None
wait_until(lambda: sampled(h2.pid, 500), "stats of the second holder")

def same_bins(bins, what):
    check(len(bins) > 0, "%s: no bins" % what)
    for b in bins:
        check("xtest_nmalloc" in b, "%s: bin %d has no xtest_nmalloc: the bins' JSON is "
              "not generated from JMD_BIN_FIELDS" % (what, b["size"]))
        check(b["xtest_nmalloc"] == b["nmalloc"], "%s: bin %d: xtest_nmalloc %r, nmalloc %r"
              % (what, b["size"], b["xtest_nmalloc"], b["nmalloc"]))

def same_proc(o, what):
    check(o.get("xtest_nthreads") == o["nthreads"], "%s: xtest_nthreads %r, nthreads %r: "
          "not generated from JMD_PROC_FIELDS" % (what, o.get("xtest_nthreads"), o["nthreads"]))

def same_totals(o, what):
    check("xtest_mapped" in o, "%s has no xtest_mapped: not generated from "
          "JMD_TOTALS_FIELDS" % what)
    check(o["xtest_mapped"] == o["mapped"], "%s: xtest_mapped %r, mapped %r"
          % (what, o["xtest_mapped"], o["mapped"]))

# ---- stats (the socket and jmctl), bins, bins PID, subscribe
s = wait_until(lambda: sampled(h1.pid, 1000), "stats of the first holder")
same_totals(s, "stats")
same_proc(s, "stats")
same_bins(s["bins"], "stats")
js = json.loads(subprocess.run([os.environ["JMCTL"], "--socket", jmd.SOCK, "--json", "stats",
                                str(h1.pid)], capture_output=True, check=True).stdout)
same_totals(js, "jmctl --json stats")
same_bins(js["bins"], "jmctl --json stats")
same_bins(request({"cmd": "bins", "pid": h1.pid})["bins"], "bins PID")
agg = request({"cmd": "bins"})["bins"]
same_bins(agg, "bins (aggregated)")
a64 = [b for b in agg if b["size"] == 64][0]
check(a64["xtest_nmalloc"] >= 1500, "the aggregated 64-byte bin is not the sum of both "
      "holders': %r" % a64)
c = Client()
try:
    u = c.req({"cmd": "subscribe"})
    check(u.get("ok"), "subscribe: %r" % u)
    same_bins(u["bins"], "subscribe's bins")
    same_totals(u["host"], "subscribe's host")
finally:
    c.close()

# ---- history: the test row of JMD_HIST_FIELDS in each sample
hist = wait_until(lambda: (lambda r: r if r.get("ok") and r["samples"] else None)(
    request({"cmd": "history", "pid": h1.pid})), "a history sample of the first holder")
for x in hist["samples"]:
    same_totals(x, "a history sample")

# ---- ps: the socket's, jmctl's, and the field asked for by name
for what, ps in (("ps", request({"cmd": "ps"})),
                 ("jmctl --json ps", json.loads(subprocess.run(
                     [os.environ["JMCTL"], "--socket", jmd.SOCK, "--json", "ps"],
                     capture_output=True, check=True).stdout))):
    same_totals(ps["host"], what + "'s host")
    procs = {p["pid"]: p for p in ps["processes"]}
    for pid in (h1.pid, h2.pid):
        check(pid in procs, "%s: no process %d" % (what, pid))
        same_totals(procs[pid], "%s's process %d" % (what, pid))
        same_proc(procs[pid], "%s's process %d" % (what, pid))
only = request({"cmd": "ps", "fields": ["pid", "xtest_mapped", "xtest_nthreads"]})
check(only.get("ok"), "ps with the fields pid, xtest_mapped, xtest_nthreads: %r" % only)
check(all(list(p) == ["pid", "xtest_nthreads", "xtest_mapped"] for p in only["processes"]),
      "ps asked for pid, xtest_mapped and xtest_nthreads gave %r" % only["processes"])

# ---- /metrics: the test series and their types, and the carry
def bins_equal(m):
    """Every (exe, size) of the two counters, if they agree."""
    a = {tuple(sorted(l.items())): v for l, v in m.get("jmalloc_bin_allocations_total", [])}
    x = {tuple(sorted(l.items())): v for l, v in m.get("jmalloc_bin_xtest_allocations_total", [])}
    return a if a and a == x else None

status, headers, body = http_get(port)
m, types = parse(body)
check(types.get("jmalloc_bin_xtest_allocations_total") == "counter",
      "no counter jmalloc_bin_xtest_allocations_total: the bins' series are not generated "
      "from JMD_BIN_FIELDS")
for name in ("jmalloc_host_xtest_mapped_bytes", "jmalloc_process_xtest_mapped_bytes",
             "jmalloc_process_xtest_threads"):
    check(types.get(name) == "gauge", "no gauge %s: the process's series are not generated "
          "from JMD_TOTALS_FIELDS and JMD_PROC_FIELDS" % name)
check(bins_equal(m), "jmalloc_bin_xtest_allocations_total differs from "
      "jmalloc_bin_allocations_total: %r" % m.get("jmalloc_bin_xtest_allocations_total"))
check(value(m, "jmalloc_host_xtest_mapped_bytes") == value(m, "jmalloc_host_mapped_bytes"),
      "jmalloc_host_xtest_mapped_bytes is not jmalloc_host_mapped_bytes")
for h in (h1, h2):
    P = dict(pid=h.pid, exe="daemon_holder")
    got = value(m, "jmalloc_process_xtest_mapped_bytes", **P)
    check(got is not None and got == value(m, "jmalloc_process_mapped_bytes", **P),
          "jmalloc_process_xtest_mapped_bytes of %d: %r" % (h.pid, got))
    got = value(m, "jmalloc_process_xtest_threads", **P)
    check(got is not None and got == value(m, "jmalloc_process_threads", **P),
          "jmalloc_process_xtest_threads of %d: %r" % (h.pid, got))
# A holder exits: its counts stay in its exe's (the carry), the test
# counter's too.
before = value(m, "jmalloc_bin_xtest_allocations_total", exe="daemon_holder", uid=0, size=64)
h2.exit()
wait_until(lambda: h2.pid not in ps_pids(), "the second holder gone")
m = wait_until(lambda: (lambda x: x if bins_equal(x) else None)(scrape(port)),
               "the two bin counters equal after the exit")
after = value(m, "jmalloc_bin_xtest_allocations_total", exe="daemon_holder", uid=0, size=64)
check(after >= before, "jmalloc_bin_xtest_allocations_total went back from %r to %r: no "
      "carry" % (before, after))
h1.exit()
print("ok")
EOF
jmd_stop
echo "ok"
