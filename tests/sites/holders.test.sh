#!/usr/bin/env bash
# Two functions of a program built with plain -O2 -g hold known amounts:
# `jmctl sites` names both, each estimate is within 10% of the truth, and
# the live bytes of one fall to zero when it frees.
#
# Sampling every 64 KiB, each function holds 96 MiB (about 1500 samples'
# worth): the estimate's relative standard deviation is then about
# 1/sqrt(1500) = 2.6% for objects much smaller than the period, and 10% is
# four standard deviations, so that the test fails by chance about once in
# ten thousand runs.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_sites
cd "$JM_TMP"

build_c holders "$JM_ROOT/tests/sites/holders.c"
jmd_start
# alpha: 196608 x 512 B; beta: 12288 x 8 KiB; 96 MiB each.
JMALLOC_CONF=prof_sample:65536 start_ready ./holders 196608 512 12288 8192
PROG=$LAST_PID
OUT=$LAST_OUT

"$JMCTL" --socket "$JMD_SOCK" sites "$PROG" >sites.txt || fail "jmctl sites failed"
cat sites.txt
grep -q "hold_alpha  holders.c:" sites.txt || fail "jmctl sites does not name hold_alpha with its line"
grep -q "hold_beta  holders.c:" sites.txt || fail "jmctl sites does not name hold_beta with its line"
grep -q "main  holders.c:" sites.txt || fail "jmctl sites does not name main"
ok "jmctl sites names hold_alpha and hold_beta (file:line)"

sites_json "$PROG" >before.json || fail "jmctl --json sites"
python3 - <<'PY' || fail "estimates"
import json
r = json.load(open("before.json"))
assert r["pid"] > 0 and r["sample_bytes"] == 65536, r
def held(fn):
    sites = [s for s in r["sites"] if s["frames"] and s["frames"][0]["function"] == fn]
    assert sites, "no site of %s" % fn
    f = sites[0]["frames"][0]
    assert f["module"] == "holders" and f["file"].endswith("holders.c") and f["line"] > 0, f
    assert all(set(fr) >= {"function", "module", "file", "line"} for fr in sites[0]["frames"])
    return sum(s["live_bytes"] for s in sites), sum(s["live_objects"] for s in sites), sites
truth = 96 << 20
for fn, count, size in (("hold_alpha", 196608, 512), ("hold_beta", 12288, 8192)):
    live, objs, sites = held(fn)
    err = live / truth - 1
    print("%s: estimated %d bytes in %d objects, truth %d in %d: %+.2f%%, %d samples"
          % (fn, live, objs, truth, count, 100 * err, sum(s["samples"] for s in sites)))
    assert abs(err) <= 0.10, (fn, err)
    assert abs(objs / count - 1) <= 0.10, (fn, objs, count)
    bins = {b["size"]: b["live_bytes"] for s in sites for b in s["bins"]}
    assert size in bins and bins[size] >= 0.9 * live, (fn, bins)
PY
ok "each estimate within 10% of the truth (96 MiB each)"

kill -USR1 "$PROG"
wait_line "$OUT" '^freed$'
sleep "$(awk "BEGIN{print 2 * $JMD_INTERVAL / 1000}")"
sites_json "$PROG" >after.json || fail "jmctl --json sites after the free"
python3 - <<'PY' || fail "live bytes after the free"
import json
r = json.load(open("after.json"))
def live(fn):
    return sum(s["live_bytes"] for s in r["sites"] if s["frames"] and s["frames"][0]["function"] == fn)
a, b = live("hold_alpha"), live("hold_beta")
print("after alpha's free: hold_alpha %d bytes live, hold_beta %d" % (a, b))
assert a <= 0.01 * (96 << 20), a
assert abs(b / (96 << 20) - 1) <= 0.10, b
# The freed site is still listed (with what it allocated), now last.
alpha = [s for s in r["sites"] if s["frames"] and s["frames"][0]["function"] == "hold_alpha"]
assert alpha and alpha[0]["alloc_bytes"] >= 0.9 * (96 << 20), alpha
assert r["sites"][0]["frames"][0]["function"] == "hold_beta", r["sites"][0]
PY
ok "hold_alpha's live bytes fall to zero when it frees; hold_beta's stay"
