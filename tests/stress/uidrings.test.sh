#!/usr/bin/env bash
# timeout: 180
# The daemon sums each uid's processes into a history ring of that uid
# (what `history` without a pid shows its clients), kept 10 minutes after
# its last process. A user given subordinate uids (/etc/subuid: 65,536 for
# rootless containers) that runs a process under each in turn made one
# ring per uid (about 1.3 KB each: 85 MB for 65,536, kept 10 minutes), and
# the tick looked each live process's uid up in a list of them all. Now
# one user other than root has 64 uid rings at most: nobody's 100
# processes under 100 of its subordinate uids (--subuid-file) give 64
# rings in all with nobody's own (101 before); another user's and
# root's keep theirs.
. "$(dirname "$0")/../lib.sh"
need_users "run processes as nobody's subordinate uids"
need_segments
printf 'nobody:200000:65536\n' >"$JM_TMP/subuid"
jm_public "$JM_HELPERS/daemon_holder"
jmd_start --subuid-file "$JM_TMP/subuid"
PUB=$JM_TMP/pub jmd_py - <<'PY' || fail "history rings of one user's uids"
from jmd import *

public_holders(os.environ["PUB"])
UIDS = list(range(200000, 200100))

def ringed(uid):
    r = as_uid(uid, lambda: request({"cmd": "history"}))[1]
    check(r["ok"], "history as uid %d: %r" % (uid, r))
    return len(r["samples"]) > 0

mine = Holder(uid=65534)
other = Holder(uid=4242)
root = Holder()
hs = [Holder(uid=uid) for uid in UIDS]
every = [h.pid for h in hs] + [mine.pid, other.pid, root.pid]
wait_until(lambda: all(pid in ps_pids() for pid in every), "the 103 processes in ps", timeout=60)
t0 = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + 3 * INTERVAL_MS / 1000.0, "three ticks")
n = sum(1 for uid in UIDS if ringed(uid))
print("%d of nobody's 100 subordinate uids have a history ring" % n)
total = n + ringed(65534)
check(total == 64, "nobody's uids have %d history rings, not 64" % total)
check(ringed(4242), "another user lost its history ring")
check(len(request({"cmd": "history"})["samples"]) > 0, "root's (the host's) history is empty")
for h in hs + [mine, other, root]:
    h.kill()
PY
jmd_stop
ok "one user's subordinate uids: 64 history rings at most"
