#!/usr/bin/env bash
# timeout: 60
# A site's id (the `site` label of /metrics' jmalloc_site_*, the `id` of
# `sites` and of an alert's sites) was FNV-1a of the stack's return
# addresses, and /metrics (no token by default) shows it for every user's
# processes: anyone who reaches the port, knowing the program (its binary
# is readable, its stacks theirs to reproduce by running it), tries each
# load address ASLR allows (2^28 for a PIE on x86_64) until the hash of
# the stack's offsets moved by it is the label, and so learns where root's
# service has its code (a stack within one module: sites_deep's 24 frames
# are all in the program). Now the id is a hash keyed with a secret the
# daemon draws at its start: the same stack in two processes of one
# mapping still has one id, and the label tells nothing of the addresses.
. "$(dirname "$0")/../lib.sh"
need_segments
need_cmd curl
[ -x "$JM_HELPERS/sites_deep" ] || skip "build/tests/helpers/sites_deep is not built"
cd "$JM_TMP"
jmd_start --metrics 127.0.0.1:0
JMALLOC_CONF=prof_sample:65536 JMALLOC_STATS_DIR=$JMD_STATS LD_PRELOAD=$JMALLOC_LIB \
	"$JM_HELPERS/sites_deep" >deep.out 2>&1 &
DEEP=$!
PIDS+=("$DEEP")
for _ in $(seq 100); do grep -q '^ready' deep.out && break; sleep 0.1; done
grep -q '^ready' deep.out || fail "sites_deep did not start"
wait_sampled "$DEEP"
"$JMCTL" --socket "$JMD_SOCK" --json sites "$DEEP" -n 100 >sites.json || fail "jmctl --json sites"
for _ in $(seq 50); do
	[ "$(http_get /metrics metrics.txt)" = 200 ] || fail "GET /metrics"
	grep -q "^jmalloc_site_info{exe=\"sites_deep\"" metrics.txt && break
	sleep 0.2
done
grep "^jmalloc_site_info{exe=\"sites_deep\"" metrics.txt || fail "no site series of sites_deep on /metrics"
python3 - <<'PY' || fail "a site's id is a function of its addresses"
import json, re
r = json.load(open("sites.json"))
sites = r["sites"] if isinstance(r, dict) else r
def frames(s):
    return [int(f, 0) if isinstance(f, str) else int(f) if isinstance(f, int) else int(f.get("address", f.get("addr")), 0)
            for f in s["frames"]]
def fnv(fr):
    h = 1469598103934665603
    for a in fr:
        for i in range(8):
            h = ((h ^ ((a >> (8 * i)) & 0xff)) * 1099511628211) & (2**64 - 1)
    return "%012x" % (h >> 16)
labels = set(re.findall(r'^jmalloc_site_info\{exe="sites_deep",uid="\d+",site="([0-9a-f]+)"',
                        open("metrics.txt").read(), re.M))
ids = {s["id"] for s in sites}
print("labels", sorted(labels), "ids", sorted(ids))
assert labels and labels <= ids, "the labels are the ids of `sites`"
from_addresses = {fnv(frames(s)) for s in sites}
leaked = labels & from_addresses
assert not leaked, "labels computed from the raw frames: %r" % sorted(leaked)
PY
ok "the site labels are not a hash of the addresses alone"
kill "$DEEP"
wait "$DEEP" 2>/dev/null
jmd_stop
