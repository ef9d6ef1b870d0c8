#!/usr/bin/env bash
# A heap profile's values are int64 and come from the processes' own
# counters, which a user can set to 2^64 - 1 (tests/helpers/seg_poison).
# /pid/PID showed them as -1; /exe/NAME, which sums every process of NAME
# stack by stack, wrapped: a process whose counters say 2^64 - X took X
# from another's same stack, so that a user's copy of root's service could
# hide the service's bytes in the merged profile. Now each value is at
# most 2^63 - 1 and the sums saturate there: a merged stack holds at least
# what each process holds of it.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_sites
need_cmd curl
export PYTHONPATH=$JM_ROOT/tests/pprof
poison=$JM_HELPERS/seg_poison
[ -x "$poison" ] || fail "$poison is not built"
cd "$JM_TMP"
jmd_start --metrics 127.0.0.1:0 --pprof
export JMALLOC_CONF=prof_sample:4096,background_thread:0
start_ready "$JM_HELPERS/site_fill" 2
P1=$LAST_PID
start_ready "$JM_HELPERS/site_fill" 2
P2=$LAST_PID
seg=$(jm_segment "$JMD_STATS" "$P2") || fail "no segment for $P2"
"$poison" "$seg" >/dev/null || fail "poison $seg"
wait_sampled "$P2"
# A profile is kept for the tick it was built in: the next tick's.
sleep 0.5
for f in "pid/$P1" "pid/$P2" exe/site_fill; do
	code=$(http_get "/$f/debug/pprof/heap" "$(echo "$f" | tr / _).pb.gz")
	[ "$code" = 200 ] || fail "GET /$f/debug/pprof/heap: $code"
done
python3 - "pid_$P1.pb.gz" "pid_$P2.pb.gz" exe_site_fill.pb.gz <<'PY' || fail "profiles of counters of 2^64 - 1"
import sys, profile
def stacks(path):
    p = profile.load(path)
    addr = {l["id"]: l.get("address", 0) for l in p["location"]}
    return {tuple(addr[i] for i in s["location_id"]): s["value"] for s in p["sample"]}
own, forged, merged = (stacks(a) for a in sys.argv[1:])
assert own and forged and merged, (len(own), len(forged), len(merged))
for name, prof in (("own", own), ("forged", forged), ("merged", merged)):
    for k, v in prof.items():
        assert all(0 <= x <= 2**63 - 1 for x in v), (name, v)
shared = [k for k in own if k in merged]
assert shared, "no stack of the first process in the merged profile"
for k in shared:
    assert all(m >= o for m, o in zip(merged[k], own[k])), (merged[k], own[k])
print("%d stacks of %d shared; merged values %s" % (len(shared), len(own), sorted({v[3] for v in merged.values()})[:3]))
PY
kill -0 "$JMD_PID" || fail "jmstatd died"
ok "values within int64, merged sums at least each process's"
