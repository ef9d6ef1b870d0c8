#!/usr/bin/env bash
# timeout: 90
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
jmd_start --subuid-file "$JM_TMP/subuid"
jmd_py - <<'PY' || fail "unread replies of subordinate uids"
from jmd import *
import atexit, json, socket, subprocess

W = os.path.join(os.environ["JM_HELPERS"], "stress_segwriter")
procs = []
atexit.register(lambda: [p.kill() for p in procs])

def as_uid(uid):
    def drop():
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    return drop

def forged(uid):
    """A sleeping process of uid with a segment of 1,024 sites of its own."""
    p = subprocess.Popen(["sleep", "600"], preexec_fn=as_uid(uid))
    procs.append(p)
    subprocess.run([W, "write", os.path.join(STATS_DIR, segment_name_of(p.pid)), str(p.pid),
                    str(uid), "sites=1024"], preexec_fn=as_uid(uid), check=True,
                   capture_output=True)
    wait_until(lambda: p.pid in ps_pids(), "uid %d's forged process listed" % uid)
    return p.pid

def sites_as(uid, pid):
    """The number of sites in uid's reply to sites of pid (read in full)."""
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(r)
        as_uid(uid)()
        c = Client()
        rep = c.req({"cmd": "sites", "pid": pid})
        os.write(w, json.dumps([rep["ok"], len(rep.get("sites", [])), rep.get("nsites")]).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        data += chunk
    os.waitpid(child, 0)
    os.close(r)
    return json.loads(data)

first, second, other = forged(200001), forged(200002), forged(4242)
ok, n, total = sites_as(200002, second)
check(ok and n == total == 1024, "uid 200002 alone: %d of %r sites" % (n, total))

# Uid 200001: 16 connections asking the sites of its process, none read.
r, w = os.pipe()
holder = os.fork()
if holder == 0:
    os.close(r)
    as_uid(200001)()
    socks = []
    for _ in range(16):
        s = socket.socket(socket.AF_UNIX)
        s.connect(SOCK)
        s.sendall(b'{"cmd":"sites","pid":%d}\n' % first)
        socks.append(s)
    os.write(w, b"x")
    time.sleep(60)
    os._exit(0)
os.close(w)
os.read(r, 1)
atexit.register(lambda: os.kill(holder, 9))
time.sleep(1.0)      # the daemon has answered them: 16 x 1.7 MB asked, 16 MiB queued

ok, n, total = sites_as(200002, second)
print("uid 200002's sites while uid 200001 leaves 16 replies unread: %d of %d" % (n, total))
check(ok and n < 512, "a subordinate uid had unread replies of its own: %d sites of %d" % (n, total))
ok, n, total = sites_as(4242, other)
check(ok and n == 1024, "another user's sites cut: %d" % n)
rep = request({"cmd": "sites", "pid": second})
check(rep["ok"] and len(rep["sites"]) == 1024, "root's sites cut: %d" % len(rep["sites"]))
PY
ok "a user's subordinate uids share its bound on unread replies"
