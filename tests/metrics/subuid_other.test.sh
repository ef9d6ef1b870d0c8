#!/usr/bin/env bash
# timeout: 150
# A user's processes past their 32 exe names are summed in the user's
# {exe="_other"} (exposure.test.sh), a user's subordinate uids' too
# (principal.c). A process's place in the exe table (a member) was found
# again at each tick by its pid, start and its exe's owner taken for its
# uid: an _other's owner is its user, not the subordinate uid, so each
# tick such a process was taken for a new one, the last counters of the
# one before added to the exe's carry as a departed process's: the
# _other's counters grew by the process's counters at every tick, the
# processes idle (thirteenth pass, docs/security.md). Now a member keeps
# its process's uid: 34 idle processes under nobody's subordinate uids,
# 2 in nobody's _other, whose allocations_total stay as they are over
# 5 ticks.
. "$(dirname "$0")/../lib.sh"
need_users "run processes as nobody's subordinate uids"
need_segments
printf 'nobody:200000:65536\n' >"$JM_TMP/subuid"
jm_public "$JM_HELPERS/daemon_holder"
jmd_start --subuid-file "$JM_TMP/subuid" --metrics 127.0.0.1:0
PUB=$JM_TMP/pub METRICS_URL=$JMD_URL/metrics jmd_py - <<'PY' || fail "_other of subordinate uids"
from jmd import *
import re, urllib.request
url = os.environ["METRICS_URL"]
public_holders(os.environ["PUB"])
UIDS = list(range(200000, 200034))
hs = [Holder(uid=uid) for uid in UIDS]
wait_until(lambda: all(h.pid in ps_pids() for h in hs), "the 34 processes in ps", timeout=60)
def other():
    page = urllib.request.urlopen(url, timeout=20).read().decode()
    return {int(s): int(float(v)) for s, v in re.findall(
        r'^jmalloc_bin_allocations_total\{exe="_other",uid="65534",size="(\d+)"\} (\S+)', page, re.M)}
def ticks(n):
    t0 = request({"cmd": "version"})["time"]
    wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + n * INTERVAL_MS / 1000.0,
               "%d ticks" % n)
ticks(3)
a = wait_until(lambda: (lambda o: o if sum(o.values()) > 0 else None)(other()),
               "allocations in nobody's _other", timeout=30)
ticks(5)
b = other()
print("nobody's _other, allocations of its idle processes: %d, then %d 5 ticks later"
      % (sum(a.values()), sum(b.values())))
check(b == a, "the _other's allocations_total moved with its processes idle: %r -> %r" % (a, b))
for h in hs:
    h.kill()
PY
jmd_stop
ok "an _other's idle processes: its counters stay"
