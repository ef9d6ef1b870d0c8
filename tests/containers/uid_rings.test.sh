#!/usr/bin/env bash
# timeout: 180
# The daemon keeps a history ring per uid (the sum of its processes, what
# `history` without a pid shows that uid's clients), 10 minutes after its
# last process; one user has 64 at most, its subordinate uids included
# (tests/stress/uidrings.test.sh). But root in a container without a user
# namespace (Docker's default) runs processes as any host uid, subordinate
# to no one: each uid was a user of its own, with a ring of its own, so a
# container going through uids made rings without bound (about 1 KB each,
# kept 10 minutes: a container's 1,024 processes a tick under new uids,
# 600,000 rings and their walks at 1 s). The bound is now kept per
# container there (thirteenth pass, docs/security.md): the container's
# 100 processes under 100 uids have 64 rings in all (100 before); a host
# user's own ring is kept.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_users "run processes as other uids"
need_segments
jm_public "$JM_HELPERS/daemon_holder"
jmd_start
pub_py - <<'PY' || fail "history rings of a container's uids"
from jmd import *
import atexit
UIDS = list(range(300000, 300100))
# Root's process on the host first: uid 0's ring is then the host's, not
# one of the container's (its pid 1 is root's).
root = Holder()
atexit.register(root.p.kill)
wait_until(lambda: root.pid in ps_pids(), "root's process on the host")
t0 = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + 2 * INTERVAL_MS / 1000.0, "two ticks")
holder = os.path.join(os.environ["JM_HELPERS"], "daemon_holder")
script = ('for u in %s; do setpriv --reuid=$u --regid=$u --clear-groups '
          'env LD_PRELOAD="$JM_CT_PRELOAD" sleep 600 & done; exec "%s"'
          % (" ".join(map(str, UIDS)), holder))
ct = Container(private=True, program=["env", "-u", "LD_PRELOAD", "sh", "-c", script])
atexit.register(ct.p.kill)
other = Holder(uid=4242)
atexit.register(other.p.kill)

def theirs():
    return sum(1 for p in ps_pids().values() if p.get("uid") in UIDS)
wait_until(lambda: theirs() == len(UIDS) and other.pid in ps_pids(),
           "the container's 100 processes under 100 uids, and uid 4242's", timeout=90)
t0 = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + 3 * INTERVAL_MS / 1000.0, "three ticks")

def ringed(uid):
    r = as_uid(uid, lambda: request({"cmd": "history"}))[1]
    check(r["ok"], "history as uid %d: %r" % (uid, r))
    return len(r["samples"]) > 0
n = sum(1 for uid in UIDS if ringed(uid))
print("%d of the container's 100 uids have a history ring" % n)
check(n == 64, "the container's uids have %d history rings, not 64" % n)
check(ringed(4242), "a host user lost its history ring")
check(len(request({"cmd": "history"})["samples"]) > 0, "root's (the host's) history is empty")
PY
jmd_stop
ok "a root container's uids: 64 history rings at most"
