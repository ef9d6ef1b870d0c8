#!/usr/bin/env bash
# timeout: 180
# A user who floods the socket with `sites` requests costs the daemon one
# build of each process's reply a tick, not one a request, and never keeps
# root waiting behind them (sites_cmd.c). Before, each request read the
# segment and encoded its 580 KB reply again (10 ms of CPU for 1,024
# sites): 32 connections of nobody's held root's `version` 0.7 s (median)
# at load 4. Here, as nobody:
# 1. 8 connections ask the sites of a process of 1,024 sites (the top 40)
#    20 times each, pipelined, reading every reply, while root asks
#    `version` and `sites` of it: every reply whole, and the daemon built no more
#    replies than ticks passed (+1), the rest sent again as kept;
# 2. at --interval 50 (a budget of 2.5 ms of building a tick for a user),
#    the sites of 6 such processes asked at once, one a connection: some
#    requests put off to a later tick (sites_deferred), each answered
#    whole in the end, and root's requests answered meanwhile.
# No assertion on time: the deadlines are generous socket timeouts.
. "$(dirname "$0")/../lib.sh"
need_users "run processes and connect as nobody"
[ -x "$JM_HELPERS/stress_segwriter" ] || skip "stress_segwriter helper not built"

run_part() {
	# A reply of 1,024 sites takes 0.5 s to build under ASan and UBSan:
	# no client is closed as idle however slow that makes the flood.
	JMD_INTERVAL=$1 jmd_start --client-idle 600
	PART=$2 NPROC=$3 jmd_py - <<'PY' || fail "part $2"
from jmd import *
import atexit, subprocess, threading

W = os.path.join(os.environ["JM_HELPERS"], "stress_segwriter")
NOBODY = 65534
part, nproc = os.environ["PART"], int(os.environ["NPROC"])
procs = []
atexit.register(lambda: [p.kill() for p in procs])

def forged():
    p = subprocess.Popen(["sleep", "600"], **as_user(NOBODY))
    procs.append(p)
    subprocess.run([W, "write", os.path.join(STATS_DIR, segment_name_of(p.pid)), str(p.pid),
                    str(NOBODY), "sites=1024"], **as_user(NOBODY), check=True,
                   capture_output=True)
    return p.pid

# Each reply cut to N sites (the daemon builds the whole reply all the
# same): the test's readers, not the daemon, were the bound on a loaded
# machine under a sanitizer.
N = 40
pids = [forged() for _ in range(nproc)]
wait_until(lambda: set(pids) <= set(ps_pids()), "the forged processes listed")

def flood(conns, per_conn, targets):
    """As nobody: conns connections, each sending per_conn sites requests
    at once (targets round-robin), reading every reply; returns
    [replies, whole replies, error texts]."""
    def judge(line):
        r = json.loads(line)
        if r.get("ok") and len(r["sites"]) == N and r["nsites"] == 1024:
            return None
        return r.get("error", "%d sites" % len(r.get("sites", [])))
    def run():
        payloads = [b"".join(b'{"cmd":"sites","pid":%d,"n":%d}\n' % (targets[(c * per_conn + i) % len(targets)], N)
                             for i in range(per_conn)) for c in range(conns)]
        return pipelined(payloads, per_conn, judge, 120)
    return as_uid(NOBODY, run)[1]

v0 = request({"cmd": "version"})
result = {}
t = threading.Thread(target=lambda: result.update(r=flood(8, 20, pids) if part == "1" else
                                                   flood(nproc, 1, pids)))
t.start()
asked = 0
while t.is_alive():
    # Root meanwhile: each answered (a 30 s socket timeout at most).
    check(request({"cmd": "version"})["ok"], "root's version")
    if asked % 5 == 0:
        r = request({"cmd": "sites", "pid": pids[asked % nproc]})
        check(r["ok"] and len(r["sites"]) == 1024, "root's sites: %r" % r.get("error"))
    asked += 1
    time.sleep(0.05)
t.join()
v1 = request({"cmd": "version"})
n, whole, errors = result["r"]
built, kept = v1["sites_built"] - v0["sites_built"], v1["sites_kept"] - v0["sites_kept"]
ticks, deferred = v1["ticks"] - v0["ticks"], v1["sites_deferred"] - v0["sites_deferred"]
print("part %s: %d replies to nobody (%d whole), %d asks of root; %d built, %d kept, "
      "%d deferred in %d ticks" % (part, n, whole, asked, built, kept, deferred, ticks))
total = 160 if part == "1" else nproc
check(n == whole == total, "nobody's replies: %d of %d, %d whole: %r" % (n, total, whole, errors))
# Built once per process and tick at most (root's asks included).
check(built <= (ticks + 1) * nproc, "%d replies built in %d ticks for %d processes" % (built, ticks, nproc))
if part == "1":
    check(kept >= n - built, "%d replies of %d sent again as kept" % (kept, n))
else:
    check(deferred > 0, "none of %d builds at once put off: budget not applied" % nproc)
PY
	jmd_stop
}

run_part 2000 1 1
run_part 50 2 6
ok "a sites flood: one build a process and tick, a user's builds within its budget, root answered throughout"
