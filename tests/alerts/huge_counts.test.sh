#!/usr/bin/env bash
# An alert's bytes come from its process's counters, which a user can set
# to 2^64 - 1 in their own segment (tests/helpers/seg_poison). The alerts
# reply cast them from double to json_int_t, out of its range: undefined
# (UBSan's float-cast-overflow stopped the daemon at alerts_view.c:209),
# and -9223372036854775808 on x86-64 (a growth of -8 EiB). Now the bytes
# of each alert, and the figures of its sites (whose sums saturate at
# 2^64 - 1, tests/sites/huge_counts.test.sh), are within [0, 2^63 - 1];
# the daemon answers throughout.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_segments
need_jmctl
poison=$JM_HELPERS/seg_poison
[ -x "$poison" ] || fail "$poison is not built"
cd "$JM_TMP"
{
	rule grew_mapped growth "metric = mapped" "growth = 1MiB" "window = 10s"
	rule grew_allocated growth "metric = allocated" "growth = 1MiB" "window = 10s"
} >"$JM_TMP/rules.conf"
jmd_start --config "$JM_TMP/rules.conf"
JMALLOC_CONF=prof_sample:4096,background_thread:0 start_ready "$JM_HELPERS/site_fill" 2
PROG=$LAST_PID
seg=$(jm_segment "$JMD_STATS" "$PROG") || fail "no segment for $PROG"
"$poison" "$seg" >/dev/null || fail "poison $seg"
for _ in $(seq 100); do
	"$JMCTL" --socket "$JMD_SOCK" --json alerts >alerts.json 2>alerts.err ||
		fail "jmctl --json alerts: $(cat alerts.err)"
	python3 - "$PROG" <<'PY' && break
import json, sys
a = [a for a in json.load(open("alerts.json"))["alerts"] if a["pid"] == int(sys.argv[1]) and a["state"] == "firing"]
sys.exit(0 if len(a) == 2 else 1)
PY
	sleep 0.1
done
python3 - "$PROG" <<'PY' || fail "alerts of counters of 2^64 - 1: $(head -c 1500 alerts.json)"
import json, sys
a = [a for a in json.load(open("alerts.json"))["alerts"] if a["pid"] == int(sys.argv[1])]
for x in a:
    print("%s %s bytes %d value %g" % (x["rule"], x["state"], x["bytes"], x["value"]))
assert sorted(x["rule"] for x in a if x["state"] == "firing") == ["grew_allocated", "grew_mapped"], a
for x in a:
    assert 0 <= x["bytes"] <= 2**63 - 1, x
    assert x["sites"], x
    for s in x["sites"]:
        for k in ("live_bytes", "site_live_bytes", "error_bytes", "live_objects", "samples"):
            assert 0 <= s[k] <= 2**63 - 1, (k, s)
        assert all(0 <= b["live_bytes"] <= 2**63 - 1 for b in s["bins"]), s
PY
"$JMCTL" --socket "$JMD_SOCK" alerts >alerts.txt || fail "jmctl alerts"
kill -0 "$JMD_PID" || fail "jmstatd died"
ok "growth alerts of 2^64 - 1 bytes: their bytes within range"
