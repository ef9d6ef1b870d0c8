#!/usr/bin/env bash
# A process's counters are what it wrote: a user can set every counter of
# its own segment to 2^64 - 1 (arenas, bins, thread caches, sites and
# their bytes per size class). The daemon scaled each site's bytes per
# class by a double and cast it back, (uint64_t)(2^64 x 1.0): undefined
# (UBSan's float-cast-overflow), 0 on x86-64, so that every such site was
# shown holding 0 B in `sites` and left out of the top sites (/metrics'
# jmalloc_site_live_bytes). Now a scaled figure is at most 2^64 - 1, and
# the sums saturate. The daemon, sanitized or not, answers `sites`,
# `stats`, `ps` and /metrics for it (tests/helpers/seg_poison writes the
# counters).
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_sites
need_cmd curl
cd "$JM_TMP"
helper=$JM_HELPERS/site_fill
[ -x "$helper" ] || fail "$helper is not built"
poison=$JM_HELPERS/seg_poison
[ -x "$poison" ] || fail "$poison is not built"
jmd_start --metrics 127.0.0.1:0
JMALLOC_CONF=prof_sample:4096,background_thread:0 start_ready "$helper" 3
PROG=$LAST_PID
seg=$(jm_segment "$JMD_STATS" "$PROG") || fail "no segment for $PROG"
n=$("$poison" "$seg") || fail "poison $seg"
[ "$n" -gt 0 ] || fail "site_fill wrote no site"
wait_sampled "$PROG"
sites_json "$PROG" >sites.json || fail "jmctl --json sites $PROG"
python3 - "$n" <<'PY' || fail "sites of the forged counters: $(head -c 600 sites.json)"
import json, sys
r = json.load(open("sites.json"))
sites = r["sites"]
print("%d sites, live_bytes %s" % (len(sites), sorted({s["live_bytes"] for s in sites})))
assert len(sites) == int(sys.argv[1]), (len(sites), sys.argv[1])
for s in sites:
    assert s["live_bytes"] > 0, s
PY
ok "$n sites of 2^64 - 1 bytes each: none shown as holding nothing"
"$JMCTL" --socket "$JMD_SOCK" ps >ps.out || fail "jmctl ps"
"$JMCTL" --socket "$JMD_SOCK" stats "$PROG" >stats.out || fail "jmctl stats $PROG"
for _ in $(seq 50); do
	[ "$(http_get /metrics metrics.txt)" = 200 ] || fail "GET /metrics"
	grep -q "^jmalloc_site_live_bytes{exe=\"site_fill\"" metrics.txt && break
	sleep 0.2
done
grep "^jmalloc_site_live_bytes{exe=\"site_fill\"" metrics.txt | head -n 3
grep -q "^jmalloc_site_live_bytes{exe=\"site_fill\"" metrics.txt ||
	fail "no jmalloc_site_live_bytes series for site_fill's sites of 2^64 - 1 bytes"
kill -0 "$JMD_PID" || fail "jmstatd died"
ok "ps, stats and /metrics answered; top sites listed"
