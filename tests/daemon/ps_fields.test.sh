#!/usr/bin/env bash
# timeout: 240
# A user who asks `ps` with a new set of fields each time (the fields are
# theirs to name: 2^22 sets) has each reply built, not sent again as
# kept: before, none of those builds counted against their budget of CPU
# a tick (a `ps` was taken for kept text), and each took one of the 4
# slots of kept replies, root's among them, which was then built again
# at each of root's requests. Here, as nobody, with forged processes of
# nobody's and one of root's:
# 1. within one view (one tick of 5 s): root asks ps, nobody asks it
#    with 30 sets of fields, root asks again: root's reply was kept (the
#    daemon built 31 replies, not 32), and each of nobody's has its fields;
# 2. at --interval 50 (a budget of 2.5 ms of building a tick for a user),
#    200 ps requests of nobody's, each its own set of fields, pipelined
#    on 4 connections: every reply whole and with its fields, some put
#    off to a later tick (ps_deferred), root's `version` answered
#    meanwhile.
# No assertion on time: the deadlines are generous socket timeouts.
. "$(dirname "$0")/../lib.sh"
need_users "run processes and connect as nobody"
[ -x "$JM_HELPERS/stress_segwriter" ] || skip "stress_segwriter helper not built"

NPROC=150 jmd_py - <<'PY' || fail "forging the processes"
from jmd import *
import subprocess
W = os.path.join(os.environ["JM_HELPERS"], "stress_segwriter")
pids = []
for i in range(int(os.environ["NPROC"]) + 1):
    uid = 0 if i == 0 else 65534
    p = subprocess.Popen(["sleep", "600"], **as_user(uid or None),
                         start_new_session=True)
    pids.append(p.pid)
    subprocess.run([W, "write", os.path.join(STATS_DIR, segment_name_of(p.pid)), str(p.pid),
                    str(uid), "exe=svc%d" % (i % 7)], **as_user(uid or None),
                   check=True, capture_output=True)
open(os.path.join(os.environ["JM_TMP"], "pids"), "w").write(" ".join(map(str, pids)))
PY
read -r -a FORGED <"$JM_TMP/pids"
PIDS+=("${FORGED[@]}")

run_part() {
	JMD_INTERVAL=$1 jmd_start --client-idle 600
	PART=$2 NPROC=150 jmd_py - <<'PY' || fail "part $2"
from jmd import *
import threading

NOBODY = 65534
part, nproc = os.environ["PART"], int(os.environ["NPROC"])
FIELDS = ["pid", "ns_pid", "cgroup", "container", "pod", "uid", "user", "exe", "path",
          "start_time", "age", "nthreads", "narenas", "allocated", "active", "mapped", "dirty",
          "small_wasted", "frag_bytes", "frag_ratio", "alloc_rate", "free_rate"]

def fields(k):
    return [f for j, f in enumerate(FIELDS) if (k >> j) & 1]

def judge(line, want):
    r = json.loads(line)
    if not r.get("ok"):
        return r.get("error", "not ok")
    if len(r["processes"]) != nproc:
        return "%d processes" % len(r["processes"])
    if any(set(p) != set(want) for p in r["processes"]):
        return "fields %r, not %r" % (sorted(r["processes"][0]), sorted(want))
    return None

def nobody_sees():
    r = request({"cmd": "ps", "fields": ["pid"]})
    return len(r["processes"]) if r.get("ok") else r.get("error")
wait_until(lambda: as_uid(NOBODY, nobody_sees)[1] == nproc, "nobody's processes listed")

if part == "1":
    def asks():
        c = Client()
        errors = []
        for k in range(1, 31):
            c.send_raw(b"%s\n" % json.dumps({"cmd": "ps", "fields": fields(k)}).encode())
            e = judge(c.readline(), fields(k))
            if e:
                errors.append(e)
        return errors
    # All within one view: from just after a tick began, retried if
    # another came. `ticks` counts a tick at its start and the view
    # changes at its end, which a slow tick (sliced, 151 segments under
    # ASan on a loaded machine) may reach during a try: root's reply is
    # then built again rightly. So a try counts when it saw no new tick
    # and root's reply was kept; with the slots' bound broken none does.
    for attempt in range(5):
        t0 = request({"cmd": "version"})["ticks"]
        wait_until(lambda: request({"cmd": "version"})["ticks"] != t0, "a tick", step=0.01)
        v0 = request({"cmd": "version"})
        request({"cmd": "ps"})
        errors = as_uid(NOBODY, asks)[1]
        check(not errors, "nobody's replies: %r" % errors[:3])
        request({"cmd": "ps"})
        v1 = request({"cmd": "version"})
        if v1["ticks"] == v0["ticks"] and v1["ps_built"] - v0["ps_built"] == 31:
            break
    check(v1["ticks"] == v0["ticks"], "a tick passed during each of 5 tries")
    built = v1["ps_built"] - v0["ps_built"]
    print("part 1: %d ps replies built for 32 requests (root's first and again, "
          "30 sets of nobody's)" % built)
    check(built == 31, "%d ps replies built, not 31: root's kept one was built again" % built)
else:
    v0 = request({"cmd": "version"})
    result = {}
    def flood():
        per_conn = 50
        payloads = []
        for c in range(4):
            # Most fields each (the dearest builds), no two sets alike.
            lines = [json.dumps({"cmd": "ps", "fields": fields(~(1 + c * per_conn + i))})
                     for i in range(per_conn)]
            payloads.append(("\n".join(lines) + "\n").encode())
        def judge_any(line):
            # Replies come in order on each connection, but pipelined()
            # does not say which: each with one set of fields, nonempty.
            r = json.loads(line)
            got = sorted(r["processes"][0]) if r.get("ok") and r.get("processes") else []
            return judge(line, got) if got and set(got) <= set(FIELDS) else "fields %r" % got
        return pipelined(payloads, per_conn, judge_any, 180)
    t = threading.Thread(target=lambda: result.update(r=as_uid(NOBODY, flood)[1]))
    t.start()
    asked = 0
    while t.is_alive():
        check(request({"cmd": "version"})["ok"], "root's version")
        asked += 1
        time.sleep(0.05)
    t.join()
    v1 = request({"cmd": "version"})
    n, whole, errors = result["r"]
    built, deferred = v1["ps_built"] - v0["ps_built"], v1["ps_deferred"] - v0["ps_deferred"]
    ticks = v1["ticks"] - v0["ticks"]
    print("part 2: %d replies to nobody (%d whole), %d asks of root; %d built, %d deferred "
          "in %d ticks" % (n, whole, asked, built, deferred, ticks))
    check(n == whole == 200, "nobody's replies: %d of 200, %d whole: %r" % (n, whole, errors))
    check(built >= 200, "%d ps replies built for 200 sets of fields" % built)
    check(deferred > 0, "none of 200 builds put off: the budget not applied to ps")
PY
	jmd_stop
}

run_part 5000 1
run_part 50 2
ok "ps with a new set of fields each time: built within the user's budget, root's reply kept"
