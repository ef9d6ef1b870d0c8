#!/usr/bin/env bash
# timeout: 150
# The replies a user leaves unread are bounded per user (16 MiB; a big
# reply is cut to fit), and a user's subordinate uids (--subuid-file)
# count as that user, as for every other per-user bound: each of them had
# 16 MiB of its own (reply.c summed the clients of the one uid). Here
# nobody, given 200000-265535, asks the sites of a process of 1,024 sites
# (1.7 MB a reply) on 16 connections as uid 200001 and reads none, which
# fills nobody's 16 MiB; then, as uid 200002, the sites of another such
# process: the reply is cut (146 sites here, under 512 checked; all 1,024
# before). Another user (4242) still gets all of its own, and root too.
. "$(dirname "$0")/../lib.sh"
need_users "run processes and connect as other uids"
[ -x "$JM_HELPERS/stress_segwriter" ] || skip "stress_segwriter helper not built"
printf '# test ranges\nnobody:200000:65536\n' >"$JM_TMP/subuid"
# --client-idle 120: the 16 unread replies stay queued while the test polls
jmd_start --subuid-file "$JM_TMP/subuid" --client-idle 120
jmd_py - <<'PY' || fail "unread replies of subordinate uids"
from jmd import *
import atexit, socket, subprocess

W = os.path.join(os.environ["JM_HELPERS"], "stress_segwriter")
procs = []
atexit.register(lambda: [p.kill() for p in procs])

def drop_to(uid):
    def drop():
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    return drop

def forged(uid):
    """A sleeping process of uid with a segment of 1,024 sites of its own."""
    p = subprocess.Popen(["sleep", "600"], preexec_fn=drop_to(uid))
    procs.append(p)
    subprocess.run([W, "write", os.path.join(STATS_DIR, segment_name_of(p.pid)), str(p.pid),
                    str(uid), "sites=1024"], preexec_fn=drop_to(uid), check=True,
                   capture_output=True)
    wait_until(lambda: p.pid in ps_pids(), "uid %d's forged process listed" % uid)
    return p.pid

def sites_as(uid, pid):
    """[ok, sites in the reply, nsites] of uid's sites of pid, read whole."""
    def ask():
        rep = Client().req({"cmd": "sites", "pid": pid})
        return [rep["ok"], len(rep.get("sites", [])), rep.get("nsites")]
    return as_uid(uid, ask)[1]

first, second, other = forged(200001), forged(200002), forged(4242)
ok, n, total = sites_as(200002, second)
check(ok and n == total == 1024, "uid 200002 alone: %d of %r sites" % (n, total))

# Uid 200001: 16 connections asking the sites of its process, none read.
def hold():
    held = []
    for _ in range(16):
        s = socket.socket(socket.AF_UNIX)
        s.connect(SOCK)
        s.sendall(b'{"cmd":"sites","pid":%d}\n' % first)
        held.append(s)
    return len(held), held
holder, _ = as_uid(200001, hold, keep=True)
atexit.register(lambda: os.kill(holder, 9))
# The daemon answers them within its per-user budget, a few a tick under
# load (a fixed second was too short once): asked again until the 16 MiB
# are queued and the reply is cut.
cut = wait_until(lambda: (lambda r: r if r[1] < 512 else None)(sites_as(200002, second)),
                 "uid 200002's reply cut while uid 200001 leaves 16 replies unread", timeout=60, step=0.25)
ok, n, total = cut
print("uid 200002's sites while uid 200001 leaves 16 replies unread: %d of %d" % (n, total))
check(ok and n < 512, "a subordinate uid had unread replies of its own: %d sites of %d" % (n, total))
ok, n, total = sites_as(4242, other)
check(ok and n == 1024, "another user's sites cut: %d" % n)
rep = request({"cmd": "sites", "pid": second})
check(rep["ok"] and len(rep["sites"]) == 1024, "root's sites cut: %d" % len(rep["sites"]))
PY
ok "a user's subordinate uids share its bound on unread replies"
