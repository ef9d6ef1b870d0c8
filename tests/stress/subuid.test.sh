#!/usr/bin/env bash
# timeout: 60
# A user with subordinate uids (/etc/subuid: what newuidmap lets them map
# in a rootless container) runs processes as any of them, and each was a
# uid with bounds of its own: nobody, given 200000-265535, holds 8 x 32
# connections as 8 of those uids, every slot of the users other than
# root, and another user (uid 4242) was refused. Now a subordinate uid
# counts as its owner (--subuid-file): 32 of the 256 are held, the rest
# told "at its limit for your user", and uid 4242 is served.
. "$(dirname "$0")/../lib.sh"
need_users "connect as other uids"
printf '# test ranges\nnobody:200000:65536\n4242:300000:100\n' >"$JM_TMP/subuid"
jmd_start --subuid-file "$JM_TMP/subuid"
jmd_py - <<'PY' || fail "subordinate uids"
from jmd import *
import socket

def connect_as(uid, n):
    """n connections as uid, in a child (kept open until it is killed);
    returns its pid, and the count of them kept open by the daemon (not
    told a limit within a short wait) and the refusals."""
    def connect():
        socks, refused = [], []
        for _ in range(n):
            s = socket.socket(socket.AF_UNIX)
            s.connect(SOCK)
            socks.append(s)
        time.sleep(0.3)      # a refused one is told at once, then closed
        for s in socks:
            s.setblocking(False)
            try:
                data = s.recv(4096)
                refused.append(data.decode(errors="replace") or "closed")
            except BlockingIOError:
                pass
        return [len(socks) - len(refused), refused[:1]], socks
    return as_uid(uid, connect, keep=True)

import json, signal
kids, kept = [], 0
for k in range(8):
    pid, (n, why) = connect_as(200000 + k, 32)
    kids.append(pid)
    kept += n
    if k > 0:
        check(n == 0 and why and "at its limit for your user" in why[0]
              and "subordinate uids" in why[0], "uid %d: %d kept, %r" % (200000 + k, n, why))
check(kept == 32, "%d connections kept for nobody's 8 subordinate uids, not 32" % kept)
pid, (n, why) = connect_as(4242, 1)
kids.append(pid)
check(n == 1, "uid 4242 refused while nobody's subordinate uids hold connections: %r" % why)
r = request({"cmd": "ps"})
check(r["ok"], "root's ps: %r" % r)
for pid in kids:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
print("8 x 32 connections of nobody's subordinate uids: 32 kept; uid 4242 served")
PY
jmd_stop
echo "ok"
