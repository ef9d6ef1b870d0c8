#!/usr/bin/env bash
# A process's own figures are sums over its arenas (and bins, and thread
# caches) of what its segment says, and products of counts by sizes. They
# wrapped: a process of 4 arenas whose rows each say 2^63
# (tests/helpers/seg_poison PATH VALUE) showed 0 bytes active, mapped and
# dirty in ps, stats and /metrics; a rate from a counter moved by 2^64 in
# one interval showed 9.2e19/s (and the host's, the sum of three such,
# 2.8e19/s); and jmctl stats summed its arenas' purge counts again, each
# already at JSON's bound, into 2^65 and 2^66. Now every sum saturates: at
# 2^64 - 1 on /metrics, 2^63 - 1 (what JSON holds) in replies and in what
# jmctl prints, a rate and a sum of rates at 2^63/s; another process's
# figures are untouched.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_segments
need_jmctl
need_cmd curl
poison=$JM_HELPERS/seg_poison
[ -x "$poison" ] || fail "$poison is not built"
cd "$JM_TMP"
jmd_start --metrics 127.0.0.1:0
J=("$JMCTL" --socket "$JMD_SOCK")
export JMALLOC_CONF=background_thread:0,narenas:4
start_ready "$JM_HELPERS/site_fill" 1
REAL=$LAST_PID
forged=()
for _ in 1 2 3; do
	start_ready "$JM_HELPERS/site_fill" 1
	forged+=("$LAST_PID")
done
F=${forged[0]}
"${J[@]}" --json ps >before.json || fail "jmctl --json ps"
# All three in one interval: the host's rate is the sum of theirs.
segs=()
for p in "${forged[@]}"; do segs+=("$(jm_segment "$JMD_STATS" "$p")") || fail "no segment for $p"; done
for seg in "${segs[@]}"; do "$poison" "$seg" 0x8000000000000000 >/dev/null || fail "poison $seg"; done
for p in "${forged[@]}"; do wait_sampled "$p"; done
wait_sampled "$F"
"${J[@]}" --json history >host_history.json || fail "jmctl --json history"
jmd_py -c 'import json; from jmd import *; print(json.dumps(request({"cmd": "bins"})))' >bins.json ||
	fail "bins"
"${J[@]}" --json ps >ps.json || fail "jmctl --json ps"
"${J[@]}" --json stats "$F" >stats.json || fail "jmctl --json stats"
"${J[@]}" --json history "$F" >history.json || fail "jmctl --json history"
"${J[@]}" stats "$F" >stats.txt || fail "jmctl stats"
"${J[@]}" ps >ps.txt || fail "jmctl ps"
python3 - "$REAL" "$F" <<'PY' || fail "the forged process's sums: $(head -c 1500 stats.json)"
import json, sys
real, forged = int(sys.argv[1]), int(sys.argv[2])
MAX = 2**63 - 1
ps = json.load(open("ps.json"))
before = json.load(open("before.json"))
st = json.load(open("stats.json"))
hist = json.load(open("history.json"))
host_hist = json.load(open("host_history.json"))
bins = json.load(open("bins.json"))
def proc(r, pid):
    return [p for p in r["processes"] if p["pid"] == pid][0]
f = proc(ps, forged)
for k in ("allocated", "active", "mapped", "dirty"):
    assert f[k] == MAX, ("ps", k, f[k])
    assert st[k] == MAX, ("stats", k, st[k])
    assert ps["host"][k] == MAX, ("host", k, ps["host"][k])
for k in ("nmalloc", "ndalloc", "curregs", "curruns", "nruns", "nfills", "inuse"):
    for b in st["bins"]:
        assert b[k] == MAX, ("bin", b["size"], k, b[k])
# Every integer and real of the replies within [0, 2^64 - 1], rates too.
def walk(v, where):
    if isinstance(v, dict):
        for k, x in v.items():
            walk(x, where + "." + k)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk(x, "%s[%d]" % (where, i))
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        assert 0 <= v <= 2**64 - 1 or where.endswith(".time"), (where, v)
for name, r in (("ps", ps), ("stats", st), ("history", hist), ("host history", host_hist),
                ("bins", bins)):
    walk(r, name)
# The other process's figures are its own.
r0, r1 = proc(before, real), proc(ps, real)
for k in ("allocated", "active", "mapped", "dirty", "small_wasted"):
    assert r0[k] == r1[k], ("real", k, r0[k], r1[k])
print("forged", {k: f[k] for k in ("allocated", "active", "mapped", "alloc_rate")})
PY
ok "ps, stats, history, bins: the forged processes' sums saturate, every value in range"
python3 - <<'PY' || fail "jmctl's text: $(cat stats.txt | head -8)"
import re
t = open("stats.txt").read() + open("ps.txt").read()
for n in re.findall(r"\d+", t):
    assert int(n) <= 2**64 - 1, n
m = re.search(r"purged (.*) in (\d+) madvise calls \((\d+) forced by the cap\)  retained (.*)  reused (\d+)  unmapped (\d+)", t)
assert m, t[:600]
assert m.group(1) == "8192 PiB" and m.group(4) == "8192 PiB", m.group(0)
for g in (2, 3, 5, 6):
    assert int(m.group(g)) == 2**63 - 1, m.group(0)
PY
ok "jmctl stats: the sums over arenas at JSON's bound, not beyond"
# /metrics: the page is built once a tick: asked until it shows F.
for _ in $(seq 50); do
	[ "$(http_get /metrics metrics.txt)" = 200 ] || fail "GET /metrics"
	grep -q "^jmalloc_process_active_bytes{pid=\"$F\"" metrics.txt && break
	sleep 0.2
done
python3 - "$F" <<'PY' || fail "/metrics of the forged process"
import re, sys
m = open("metrics.txt").read()
for k in ("active_bytes", "mapped_bytes", "dirty_bytes", "allocated_bytes", "purged_bytes_total",
          "purges_total", "retained_bytes", "allocations_total"):
    v = re.search(r'^jmalloc_process_%s\{pid="%s",[^}]*\} (\S+)$' % (k, sys.argv[1]), m, re.M)
    assert v, k
    assert int(v.group(1)) == 2**64 - 1, (k, v.group(1))
for line in m.splitlines():
    if line.startswith("#"):
        continue
    v = float(line.rsplit(" ", 1)[1])
    assert 0 <= v <= 2**64, line
PY
ok "/metrics: the forged process's sums at 2^64 - 1"
