#!/usr/bin/env bash
# timeout: 180
# jmstatd --metrics over real HTTP:
# - GET /metrics: 200, text/plain; version=0.0.4, and the page passes
#   `promtool check metrics` (escaped labels included: an exe named with a
#   quote and a backslash);
# - exact values: the series of a daemon_holder process (which allocates
#   exactly what it is told) equal the `stats` reply and the known sizes;
#   per-bin series (per exe) equal its bins; host series equal `ps`;
# - per-bin counters of an exe stay monotonic when one of its processes
#   exits (the carry), and the exited pid's series go;
# - bad HTTP: 400 (garbage, bad version, bad header, control bytes), 404,
#   405, 431 (head too long), the oldest idle connection closed beyond 32
#   connections; a slow client
#   does not stop the others; the daemon goes on and exits 0 on SIGTERM;
# - Prometheus names: every counter of jmstat.h under a name of its own
#   (base units, _total, no n prefix), one name per figure; GET / links
#   to /metrics;
# - the fleet kit: `promtool check rules` on fleet/*.rules.yml and their
#   unit tests (tests/metrics/fleet-rules.promtest.yml), every runbook_url
#   a section of docs/metrics.md, the scrape config by `promtool check
#   config`, and every query of the Grafana dashboard parsed by promtool.
. "$(dirname "$0")/../lib.sh"
need_segments

printf '[rule frag]\nkind = fragmentation\nratio = 0.5\nmin_wasted = 64MiB\n' >"$JM_TMP/rules.conf"
jmd_start --config "$JM_TMP/rules.conf" --metrics :0
grep -q "metrics: serving http://127.0.0.1:[0-9]*/metrics" "$JMD_LOG" || fail "--metrics :0 is not on the loopback"
weird=$JM_TMP/'we"ird\holder'
cp "$JM_HELPERS/daemon_holder" "$weird"

jmd_py - "$JMD_LOG" "$JM_TMP/page.txt" "$weird" <<'EOF' || fail "metrics"
import os, socket, subprocess, sys, time
from alib import *

log_path, page_path, weird = sys.argv[1], sys.argv[2], sys.argv[3]
port = log_port(log_path)

# ---- the page and its headers
status, headers, body = http_get(port)
check(status == 200, "GET /metrics: %d" % status)
check(headers["content-type"].startswith("text/plain; version=0.0.4"), "content type %r" % headers["content-type"])
check(int(headers["content-length"]) == len(body.encode()), "content length")
check(body.endswith("\n"), "no final newline")
m, types = parse(body)
for name in ("jmalloc_up", "jmalloc_segment_read_errors_total", "jmalloc_segments_rejected_total",
             "jmalloc_sample_duration_seconds", "jmalloc_host_allocated_bytes"):
    check(name in m, "no %s" % name)
check(value(m, "jmalloc_up") == 1, "jmalloc_up is not 1")
for name, typ in types.items():
    check(name.startswith("jmalloc_"), "a series not named jmalloc_*: %s" % name)
    check((typ == "counter") == name.endswith("_total"), "%s is a %s" % (name, typ))

# ---- exact values of a holder's series
h = Holder()
h.cmd("alloc 64 1000")
h.cmd("alloc 100000 3")
t = h.cmd("alloc 4194304 1")
stats_after(h.pid, t)

def consistent():
    """stats, a scrape, stats again: the same sample on both sides."""
    s1 = stats(h.pid)
    ps1 = request({"cmd": "ps"})
    page = http_get(port)[2]
    s2 = stats(h.pid)
    return (s1, ps1, page) if s1 == s2 else None
s, ps, page = wait_until(consistent, "a scrape between two equal samples")
m = parse(page)[0]
open(page_path, "w").write(page)
P = dict(pid=h.pid, exe="daemon_holder")
for series, field in (("jmalloc_process_allocated_bytes", "allocated"),
                      ("jmalloc_process_active_bytes", "active"),
                      ("jmalloc_process_mapped_bytes", "mapped"),
                      ("jmalloc_process_dirty_bytes", "dirty"),
                      ("jmalloc_process_small_wasted_bytes", "small_wasted"),
                      ("jmalloc_process_fragmentation_bytes", "frag_bytes")):
    check(value(m, series, **P) == s[field], "%s = %r, stats %s = %r" % (series, value(m, series, **P), field, s[field]))
check(abs(value(m, "jmalloc_process_fragmentation_ratio", **P) - s["frag_ratio"]) < 1e-12, "frag_ratio")
# Every arena counter (jmstat.h's list) is the sum over the arenas, under
# its Prometheus name (jmstatd/metrics.c's arena_names).
ARENA = {"mapped": "mapped_bytes", "active": "active_bytes",
         "allocated_large": "allocated_large_bytes", "allocated_huge": "allocated_huge_bytes",
         "dirty": "dirty_bytes", "purged": "purged_bytes_total", "npurge": "purges_total",
         "nmalloc_large": "large_allocations_total", "ndalloc_large": "large_frees_total",
         "nmalloc_huge": "huge_allocations_total", "ndalloc_huge": "huge_frees_total",
         "nchunks": "chunks", "nthreads": None, "lock_contended": "arena_lock_contentions_total",
         "retained": "retained_bytes", "nmap": "maps_total", "nunmap": "unmaps_total",
         "nreuse": "reuses_total", "npurge_cap": "cap_purges_total"}
BIN = {"nmalloc": "allocations_total", "ndalloc": "frees_total", "nrequests": "requests_total",
       "curregs": "regions", "curruns": "runs", "nruns": "runs_created_total",
       "nfills": "cache_fills_total", "nflushes": "cache_flushes_total",
       "lock_contended": "lock_contentions_total", "cursampled": "sampled_regions"}
import re
hdr = open(os.path.join(os.environ["JM_ROOT"], "liballoc/include/jmstat.h")).read()
def xlist(name):
    body = hdr[hdr.index("#define " + name):]
    body = body[:body.index("\n\n")]
    return re.findall(r"X\((\w+),", body)
for field in xlist("JMSTAT_ARENA_COUNTERS"):
    check(field in ARENA, "arena counter %s has no Prometheus name: give it one in jmstatd/metrics.c's "
          "arena_names (base units, _total, no n prefix) and in this test" % field)
for field in xlist("JMSTAT_BIN_COUNTERS"):
    check(field in BIN, "bin counter %s has no Prometheus name: give it one in jmstatd/fields.h's "
          "JMD_BIN_FIELDS and in this test" % field)
for field, name in ARENA.items():
    if name is None:
        continue
    want = sum(a[field] for a in s["arenas"])
    got = value(m, "jmalloc_process_" + name, **P)
    check(got == want, "jmalloc_process_%s = %r, arenas' %s sum %r" % (name, got, field, want))
# One name per figure, Prometheus style: no n-prefixed allocator names, no
# duplicate of the threads.
check(value(m, "jmalloc_process_threads", **P) == s["nthreads"], "jmalloc_process_threads")
for name in types:
    check(not re.search(r"_n(malloc|dalloc|requests|runs|fills|flushes|purge|chunks|threads)|"
                        r"_cur(regs|runs)|_contended", name), "an allocator-style name: %s" % name)
# What the holder was told to allocate, as the segment counts it.
check(value(m, "jmalloc_process_allocated_huge_bytes", **P) == 4194304, "allocated_huge is not 4 MiB")
check(value(m, "jmalloc_process_huge_allocations_total", **P) == 1, "huge allocations is not 1")
check(value(m, "jmalloc_process_large_allocations_total", **P) >= 3, "large allocations under 3")
# Per-bin series of its exe: its bins, exactly.
bins = {b["size"]: b for b in s["bins"]}
b64 = bins[64]
check(b64["inuse"] >= 1000, "64-byte bin: %r" % b64)
for size, b in bins.items():
    B = dict(exe="daemon_holder", uid=0, size=size)
    if b["nmalloc"] == 0 and b["nrequests"] == 0 and b["curruns"] == 0 and b["nruns"] == 0:
        continue
    for field, name in list(BIN.items()) + [("wasted_bytes", "wasted_bytes")]:
        if field not in b:      # not in the stats reply (lock_contended)
            continue
        series = "jmalloc_bin_" + name
        check(value(m, series, **B) == b[field], "%s{size=%d} = %r, stats %r" % (series, size, value(m, series, **B), b[field]))
    check(abs(value(m, "jmalloc_bin_utilization_ratio", **B) - b["util"]) < 1e-12, "util of %d" % size)
# Host series: ps's host.
for series, field in (("jmalloc_host_allocated_bytes", "allocated"), ("jmalloc_host_active_bytes", "active"),
                      ("jmalloc_host_mapped_bytes", "mapped"), ("jmalloc_host_processes", "processes")):
    check(value(m, series) == ps["host"][field], "%s = %r, ps %r" % (series, value(m, series), ps["host"][field]))

# ---- per-exe counters stay monotonic as processes of the exe come and go
h2 = Holder()
t = h2.cmd("alloc 64 5000")
stats_after(h2.pid, t)
wait_until(lambda: value(scrape(port), "jmalloc_bin_regions", exe="daemon_holder", uid=0, size=64) >= 6000,
           "both holders in the per-bin series")
before = scrape(port)
n1 = value(before, "jmalloc_bin_allocations_total", exe="daemon_holder", uid=0, size=64)
h2.exit()
wait_until(lambda: h2.pid not in ps_pids(), "the second holder gone")
after = wait_until(lambda: (lambda x: x if value(x, "jmalloc_process_allocated_bytes", pid=h2.pid,
                                                 exe="daemon_holder") is None else None)(scrape(port)),
                   "the exited pid's series gone")
n2 = value(after, "jmalloc_bin_allocations_total", exe="daemon_holder", uid=0, size=64)
check(n2 >= n1, "jmalloc_bin_allocations_total went back from %r to %r when a process exited" % (n1, n2))
check(value(after, "jmalloc_bin_regions", exe="daemon_holder", uid=0, size=64) < 6000, "curregs kept the gone process")

# ---- an exe name that needs escaping
env = dict(os.environ, LD_PRELOAD=os.environ["JMALLOC_LIB"], JMALLOC_STATS_DIR=STATS_DIR)
w = subprocess.Popen([weird], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
wpid = int(w.stdout.readline().split()[1])
wait_until(lambda: wpid in ps_pids(), "the weird holder")
page = wait_until(lambda: (lambda p: p if 'exe="we\\"ird\\\\holder"' in p else None)(http_get(port)[2]),
                  "the weird name, escaped")
m = parse(page)[0]
check(value(m, "jmalloc_process_allocated_bytes", pid=wpid, exe='we\\"ird\\\\holder') is not None,
      "the escaped series does not parse back")
open(page_path, "w").write(page)

# ---- bad HTTP
def raw(data):
    return http_get(port, raw=data)[0]
check(http_get(port, "/metrics?x=1")[0] == 200, "a query string")
st, hd, bd = http_get(port, method="HEAD")
check(st == 200 and bd == "" and int(hd["content-length"]) > 1000, "HEAD: %d %r" % (st, hd))
st, hd, bd = http_get(port, "/")
check(st == 200 and hd["content-type"].startswith("text/html") and 'href="metrics"' in bd,
      "/ is not a page linking to /metrics: %d %r %r" % (st, hd, bd))
check(http_get(port, "/nothing")[0] == 404, "/nothing is not 404")
check(http_get(port, "/metricsx")[0] == 404, "/metricsx is not 404")
check(http_get(port, "/metrics", method="POST")[0] == 405, "POST is not 405")
check(raw(b"HELLO\r\n\r\n") == 400, "garbage")
check(raw(b"GET /metrics HTTP/2.0\r\n\r\n") == 400, "HTTP/2.0")
check(raw(b"GET metrics HTTP/1.1\r\n\r\n") == 400, "no slash")
check(raw(b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n") == 400, "bad header")
check(raw(b"GET /metrics HTTP/1.1\r\nX: a\x00b\r\n\r\n") == 400, "NUL")
check(raw(b"GET /metrics HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 9000 + b"\r\n\r\n") == 431, "long head")
check(raw(b"GET /metrics HTTP/1.0\n\n") == 200, "bare LF, HTTP/1.0")

# A slow client, and many connections: the others are still served.
slow = socket.create_connection(("127.0.0.1", port))
slow.sendall(b"GET /met")
check(http_get(port)[0] == 200, "a slow client blocked the others")
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
import select
answered = {}
deadline = time.monotonic() + 10
while len(answered) < 8 and time.monotonic() < deadline:
    ready = select.select([s for s in idle if s not in answered], [], [], 0.5)[0]
    for s in ready:
        answered[s] = s.recv(100)
# Beyond 32, the oldest connections that sent nothing make room (http.c):
# they are closed without a reply, and a scrape is served meanwhile.
evicted = sum(1 for r in answered.values() if r == b"")
check(evicted >= 8 and all(r == b"" for r in answered.values()),
      "only %d of 40 extra connections made room: %r" % (evicted, list(answered.values())))
check(http_get(port)[0] == 200, "a scrape during 40 idle connections")
for s in idle:
    s.close()
slow.close()
wait_until(lambda: http_get(port)[0] == 200, "a 200 once the crowd has gone")
m = scrape(port)
check(value(m, "jmalloc_http_timeouts_total") >= 8, "idle connections closed not counted")
check(value(m, "jmalloc_http_responses_total", code=400) >= 5, "400s not counted")
check(value(m, "jmalloc_http_responses_total", code=431) == 1, "431 not counted")
w.stdin.write(b"exit\n"); w.stdin.flush(); w.wait()
h.exit()
print("ok")
EOF
kill -0 "$JMD_PID" || fail "jmstatd died"
jmd_stop

# ---- promtool: the page, the rules, the scrape config, the dashboard
need_promtool "the metrics and rules were not checked by promtool"
promtool check metrics <"$JM_TMP/page.txt" >"$JM_TMP/promtool.out" 2>&1 ||
	{ cat "$JM_TMP/promtool.out"; fail "promtool check metrics"; }
[ ! -s "$JM_TMP/promtool.out" ] || { cat "$JM_TMP/promtool.out"; fail "promtool check metrics complains"; }
grep -q 'we\\"ird\\\\holder' "$JM_TMP/page.txt" || fail "the checked page lacks the escaped name"
promtool check rules "$JM_ROOT"/fleet/*.rules.yml || fail "promtool check rules"
promtool check config "$JM_ROOT/fleet/prometheus.yml" || fail "promtool check config"
# The rules' behaviour (the growth rule and the process's age, recording
# rules without topk), and every runbook_url naming a section of the docs.
promtool test rules "$JM_ROOT/tests/metrics/fleet-rules.promtest.yml" || fail "promtool test rules"
python3 - "$JM_ROOT" <<'EOF' || fail "runbook links"
import re, sys
root = sys.argv[1]
rules = open(root + "/fleet/jmalloc-alerts.rules.yml").read()
doc = open(root + "/docs/metrics.md").read()
anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.*)$", doc, re.M)}
alerts = re.findall(r"- alert: (\w+)", rules)
links = re.findall(r'runbook_url: "https://jmalloc\.example/docs/metrics\.md#([\w-]+)"', rules)
assert len(alerts) >= 9 and len(links) == len(alerts), (alerts, links)
for a in links:
    assert a in anchors, "runbook_url #%s: no such section in docs/metrics.md" % a
for e in re.findall(r"expr: (.*)", open(root + "/fleet/jmalloc-recording.rules.yml").read()):
    assert "topk" not in e and "bottomk" not in e, "a recording rule with topk: %s" % e
EOF
# Every query of the dashboard, as a recording rule for promtool to parse.
python3 - "$JM_ROOT/fleet/grafana-jmalloc.json" >"$JM_TMP/dash.rules.yml" <<'EOF' || fail "the dashboard is not JSON"
import json, sys
d = json.load(open(sys.argv[1]))
exprs = []
def walk(panels):
    for p in panels:
        walk(p.get("panels", []))
        exprs.extend(t["expr"] for t in p.get("targets", []) if t.get("expr"))
walk(d["panels"])
assert len(exprs) >= 15, exprs
print("groups:\n  - name: dashboard\n    rules:")
for i, e in enumerate(exprs):
    e = e.replace("$__rate_interval", "5m").replace("$instance", ".*").replace("$exe", ".*")
    print("      - record: dashboard:query_%d\n        expr: %s" % (i, json.dumps(e)))
EOF
promtool check rules "$JM_TMP/dash.rules.yml" || fail "a dashboard query does not parse"
echo "ok"
