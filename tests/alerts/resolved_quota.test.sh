#!/usr/bin/env bash
# timeout: 180
# Resolved alerts are listed for `resolved_keep` (10 min), 1,000 at most:
# one user's churn took every place. nobody runs 1,100 processes in waves
# of 100, each firing a rule that any process fires, each then killed
# (its alert resolved); root's service that fired and died before had
# its resolved alert dropped from `alerts`. Now one user's processes keep
# 100 resolved alerts at most (their newest): root's stays listed.
# Nobody's processes are forged, each a heap of waste (jmd.py's forge,
# stress_segwriter forge ... frag), not daemon_holders under the
# allocator: their alerts fire and resolve the same way, for a fifth of
# the CPU.
. "$(dirname "$0")/../lib.sh"
need_users "run processes as nobody"
need_segments
jm_public "$JM_HELPERS/daemon_holder" "$JM_HELPERS/stress_segwriter"
rule any fragmentation "ratio = 1%" "min_wasted = 1" "for = 0s" >"$JM_TMP/rules.conf"
jmd_start --config "$JM_TMP/rules.conf"
PUB=$JM_TMP/pub jmd_py - <<'PY' || fail "one user's resolved alerts pushed root's out"
from jmd import *

pub = os.environ["PUB"]

def alerts():
    r = request({"cmd": "alerts"})
    check(r["ok"], "alerts: %r" % r)
    return r["alerts"]

def states(pids):
    return {a["pid"]: a["state"] for a in alerts() if a["pid"] in pids}

svc = Holder()
wait_until(lambda: states({svc.pid}).get(svc.pid) == "firing", "root's service's alert firing")
svc.kill()
wait_until(lambda: states({svc.pid}).get(svc.pid) == "resolved", "root's service's alert resolved")

public_holders(pub)
churned = set()
for wave in range(11):
    pids = set(forge(65534, 100, "frag"))
    wait_until(lambda: len(states(pids)) == 100, "wave %d's 100 alerts" % wave, timeout=60)
    kill_forged(pids)
    wait_until(lambda: all(s == "resolved" for s in states(pids).values()),
               "wave %d's alerts resolved" % wave, timeout=60)
    churned |= pids
check(states({svc.pid}).get(svc.pid) == "resolved",
      "root's service's resolved alert gone after nobody's 1,100")
mine = [a for a in alerts() if a["pid"] in churned]
check(len(mine) == 100, "%d of nobody's resolved alerts listed, not 100" % len(mine))
print("root's resolved alert kept through nobody's 1,100; nobody's newest 100 listed")
PY
jmd_stop
echo "ok"
