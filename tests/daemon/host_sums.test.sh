#!/usr/bin/env bash
# The host's totals (ps's "host", /metrics' jmalloc_host_*, top's Host
# line) sum every process's figures, and a process's figures are what its
# segment says (tests/helpers/seg_poison sets every counter to 2^64 - 1).
# The sums wrapped: two such processes beside a real one made the host's
# active and mapped bytes 16 less than the real process's own, and a user
# could take any amount off root's totals. Now the sums saturate: the host
# holds at least what each process holds.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_segments
need_jmctl
need_cmd curl
poison=$JM_HELPERS/seg_poison
[ -x "$poison" ] || fail "$poison is not built"
cd "$JM_TMP"
jmd_start --metrics 127.0.0.1:0
export JMALLOC_CONF=background_thread:0
start_ready "$JM_HELPERS/site_fill" 1
REAL=$LAST_PID
forged=()
for _ in 1 2; do
	start_ready "$JM_HELPERS/site_fill" 1
	forged+=("$LAST_PID")
	seg=$(jm_segment "$JMD_STATS" "$LAST_PID") || fail "no segment for $LAST_PID"
	"$poison" "$seg" >/dev/null || fail "poison $seg"
done
for p in "${forged[@]}"; do wait_sampled "$p"; done
"$JMCTL" --socket "$JMD_SOCK" --json ps >ps.json || fail "jmctl --json ps"
python3 - "$REAL" <<'PY' || fail "host totals: $(head -c 1200 ps.json)"
import json, sys
r = json.load(open("ps.json"))
h = r["host"]
real = [p for p in r["processes"] if p["pid"] == int(sys.argv[1])][0]
print("host", {k: h[k] for k in ("allocated", "active", "mapped", "dirty")})
print("real", {k: real[k] for k in ("allocated", "active", "mapped", "dirty")})
for k in ("allocated", "active", "mapped", "dirty"):
    for p in r["processes"]:
        assert h[k] >= p[k], (k, h[k], p["pid"], p[k])
PY
ok "ps: the host's totals at least each process's"
# /metrics: the host's series against the real process's (the page is
# built once a tick: asked until it shows the forged processes).
for _ in $(seq 50); do
	[ "$(http_get /metrics metrics.txt)" = 200 ] || fail "GET /metrics"
	[ "$(grep -c "^jmalloc_process_active_bytes{pid=\"\(${forged[0]}\|${forged[1]}\)\"" metrics.txt)" = 2 ] && break
	sleep 0.2
done
python3 - "$REAL" <<'PY' || fail "/metrics host totals"
import re, sys
m = open("metrics.txt").read()
for k in ("active", "mapped"):
    host = int(float(re.search(r"^jmalloc_host_%s_bytes (\S+)$" % k, m, re.M).group(1)))
    real = int(float(re.search(r'^jmalloc_process_%s_bytes\{pid="%s",[^}]*\} (\S+)$' % (k, sys.argv[1]), m, re.M).group(1)))
    print(k, "host", host, "real", real)
    assert host >= real, (k, host, real)
PY
ok "/metrics: jmalloc_host_* at least the real process's"
