#!/usr/bin/env bash
# Sampling on (every 4 KiB: most allocations of the churn are sampled) in a
# program whose threads allocate and free all the time while its main
# thread forks 1000 children, each of which allocates (also from a thread
# of its own) and exits 0: no child deadlocks (each has an alarm), every
# one exits 0, and afterwards the parent's sites are read and symbolized.
# Under a sanitizer (JM_SANITIZED) 200 forks: the forks are the allocator's
# (which SANITIZE does not build: the plain run made the 1,000), what the
# sanitized jmstatd and jmctl read is the parent's sites afterwards, the
# same whatever the count (19-21 s of CPU for the 1,000 in each CI pass).
# timeout: 300
. "$(dirname "$0")/../lib.sh"
need_sites
cd "$JM_TMP"
forks=1000
[ -z "${JM_SANITIZED:-}" ] || forks=200

build_c forker "$JM_ROOT/tests/sites/forker.c" -pthread
jmd_start
export JMALLOC_CONF=prof_sample:4096
start_preloaded ./forker "$forks" 4
PROG=$LAST_PID
OUT=$LAST_OUT
for _ in $(seq 2400); do
	grep -q '^done$' "$OUT" && break
	kill -0 "$PROG" 2>/dev/null || { cat "$OUT"; fail "forker failed (a child deadlocked or did not exit 0)"; }
	sleep 0.1
done
grep -q "^forked $forks\$" "$OUT" || { cat "$OUT"; fail "forker did not finish its $forks forks in 240 s"; }
ok "$forks forks under sampling with 4 allocating threads: every child exited 0"

wait_sampled "$PROG"
sites_json "$PROG" >sites.json || fail "jmctl --json sites"
python3 - <<'PY' || fail "the parent's sites"
import json
r = json.load(open("sites.json"))
fns = {s["frames"][0]["function"] for s in r["sites"] if s["frames"]}
assert "keep_some" in fns, fns
keep = sum(s["live_bytes"] for s in r["sites"] if s["frames"] and s["frames"][0]["function"] == "keep_some")
truth = 4 * 4096 * 1000
print("keep_some: %d bytes estimated, %d held" % (keep, truth))
assert abs(keep / truth - 1) < 0.15, keep
churn = [s for s in r["sites"] if s["frames"] and s["frames"][0]["function"] == "churn"]
assert churn and all(s["alloc_bytes"] > 0 for s in churn), churn[:1]
PY
ok "the parent's sites after the forks: keep_some and churn, symbolized"
