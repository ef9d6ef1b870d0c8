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

def connect_as(uid, n, expect):
    """n connections as uid, in a child (kept open until it is killed);
    returns its pid, and the count of them kept open by the daemon (not
    told a limit) and the refusals. A refused one is told at once, then
    closed: at load 20, not within 0.3 s, so the child waits up to 30 s for
    no more than `expect` kept, then 0.3 s for any more refusals."""
    def connect():
        socks, refused, pending = [], [], []
        for _ in range(n):
            s = socket.socket(socket.AF_UNIX)
            s.connect(SOCK)
            s.setblocking(False)
            socks.append(s)
        pending = list(socks)
        def poll():
            for s in list(pending):
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                pending.remove(s)
                refused.append(data.decode(errors="replace") or "closed")
        deadline = time.monotonic() + 30
        while len(pending) > expect and time.monotonic() < deadline:
            time.sleep(0.1)
            poll()
        time.sleep(0.3)
        poll()
        return [len(socks) - len(refused), refused[:1]], socks
    return as_uid(uid, connect, keep=True)

import json, signal
kids, kept = [], 0
for k in range(8):
    pid, (n, why) = connect_as(200000 + k, 32, 32 if k == 0 else 0)
    kids.append(pid)
    kept += n
    if k > 0:
        check(n == 0 and why and "at its limit for your user" in why[0]
              and "subordinate uids" in why[0], "uid %d: %d kept, %r" % (200000 + k, n, why))
check(kept == 32, "%d connections kept for nobody's 8 subordinate uids, not 32" % kept)
pid, (n, why) = connect_as(4242, 1, 1)
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
