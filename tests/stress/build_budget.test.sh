#!/usr/bin/env bash
# timeout: 240
# A user who floods the socket with requests whose replies are built anew
# each time (`stats`, `history`, `bins`, ...) has them built within the
# budget of CPU a tick that its `sites` replies share (server.c,
# sites_cmd.c), and never keeps root waiting behind them. Before, `stats`
# of a process of theirs with 1,024 arenas (a forged segment: the layout
# the allocator may write) was 478 KB and 12 ms of the loop each; asked
# on 8 connections in a loop it kept root's `version` waiting 350 ms at
# the median, 1.1 s at worst (load 20). Here, as nobody, at --interval 50
# (a budget of 2.5 ms a tick for a user, less than one such reply):
#  - 12 connections ask `stats` of that process 4 times each, pipelined,
#    reading every reply, while root asks `version` and `stats` of it:
#    every reply whole (the 1,024 arenas), root's answered meanwhile, and
#    nobody's replies no more than 2 a tick (one build always goes
#    through, one more when the first cost less than the budget): the
#    daemon built one for each connection at each pass of its loop
#    before.
# No assertion on time: the deadlines are generous socket timeouts.
. "$(dirname "$0")/../lib.sh"
need_users "run processes and connect as nobody"
[ -x "$JM_HELPERS/stress_segwriter" ] || skip "stress_segwriter helper not built"
# A reply takes far longer under ASan and UBSan: no client is closed as
# idle however slow the flood.
JMD_INTERVAL=50 jmd_start --client-idle 600
jmd_py - <<'PY' || fail "stats flood"
from jmd import *
import atexit, subprocess, threading

W = os.path.join(os.environ["JM_HELPERS"], "stress_segwriter")
NOBODY = 65534
p = subprocess.Popen(["sleep", "600"], **as_user(NOBODY))
atexit.register(p.kill)
subprocess.run([W, "write", os.path.join(STATS_DIR, segment_name_of(p.pid)), str(p.pid),
                str(NOBODY), "arenas=1024"], **as_user(NOBODY), check=True,
               capture_output=True)
pid = p.pid
wait_until(lambda: pid in ps_pids(), "the forged process listed")
r = request({"cmd": "stats", "pid": pid})
check(r["ok"] and len(r["arenas"]) == 1024, "root's stats: %r" % r.get("error"))
WHOLE = len(json.dumps(r, separators=(",", ":"))) * 9 // 10

CONNS, PER = 12, 4

def flood():
    """As nobody: CONNS connections, each sending PER stats requests at
    once, reading every reply; returns [replies, whole, error texts]."""
    def judge(line):
        # Not parsed: the reader must not be what bounds the replies a
        # tick (each is 478 KB).
        if line.startswith(b'{"ok":true') and len(line) > WHOLE:
            return None
        return line[:200].decode(errors="replace")
    def run():
        return pipelined([b'{"cmd":"stats","pid":%d}\n' % pid * PER] * CONNS, PER, judge, 150)
    return as_uid(NOBODY, run)[1]

v0 = request({"cmd": "version"})
result = {}
t = threading.Thread(target=lambda: result.update(r=flood()))
t.start()
asked = 0
while t.is_alive():
    # Root meanwhile: each answered (a 30 s socket timeout at most).
    check(request({"cmd": "version"})["ok"], "root's version")
    if asked % 5 == 0:
        r = request({"cmd": "stats", "pid": pid})
        check(r["ok"] and len(r["arenas"]) == 1024, "root's stats: %r" % r.get("error"))
    asked += 1
    time.sleep(0.05)
t.join()
v1 = request({"cmd": "version"})
n, whole, errors = result["r"]
ticks = v1["ticks"] - v0["ticks"]
print("%d replies to nobody (%d whole) in %d ticks, %d asks of root" % (n, whole, ticks, asked))
check(n == whole == CONNS * PER, "nobody's replies: %d of %d, %d whole: %r" % (n, CONNS * PER, whole, errors))
check(n <= 2 * (ticks + 1), "%d replies built for nobody in %d ticks: more than 2 a tick" % (n, ticks))
PY
jmd_stop
ok "a stats flood: a user's replies built within its budget, root answered throughout"
