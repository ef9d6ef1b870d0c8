#!/usr/bin/env bash
# A thread's first allocation is sampled like any other (it used to only
# draw the thread's first interval, so a program whose first allocations
# were large always missed one): 8 x 4 MiB as the very first allocations,
# sampled every 64 KiB (each one is sampled with probability 1 - e^-64),
# are all in the profile, exactly.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_sites
cd "$JM_TMP"
build_c first "$JM_ROOT/tests/sites/first.c"
jmd_start
export JMALLOC_CONF=prof_sample:65536
start_ready ./first
PROG=$LAST_PID
sites_json "$PROG" >sites.json || fail "jmctl --json sites"
python3 - <<'PY' || fail "the first allocations' site"
import json
r = json.load(open("sites.json"))
hold = [s for s in r["sites"] if s["frames"] and s["frames"][0]["function"] == "hold"]
assert hold, [s["frames"][:1] for s in r["sites"]]
live = sum(s["live_bytes"] for s in hold)
objs = sum(s["live_objects"] for s in hold)
print("hold: %d bytes in %d objects estimated; 33554432 in 8 held" % (live, objs))
assert live == 8 * (4 << 20) and objs == 8, (live, objs)
PY
ok "a thread's first allocations are sampled"
