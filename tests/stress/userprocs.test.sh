#!/usr/bin/env bash
# timeout: 120
# One user's live processes tracked at most --user-processes (here 6):
# each costs the daemon about 33 KB once its history is full, and a user
# can run (or forge) them by the thousand. nobody runs 5 real preloaded
# processes and 4 more as its subordinate uid 200001 (--subuid-file: the
# same user): 6 are tracked, 3 not (version's processes_untracked, the
# /metrics gauge, jmctl status, one log line naming the bound); root's and uid 4242's
# processes are tracked all the while. Then 3 of nobody's tracked ones
# exit: the 3 waiting are tracked in their place. Before the bound, all
# 9 were tracked.
. "$(dirname "$0")/../lib.sh"
need_users "run processes as nobody and its subordinate uids"
need_segments
need_cmd curl
printf 'nobody:200000:65536\n' >"$JM_TMP/subuid"
jm_public "$JM_HELPERS/daemon_holder"
jmd_start --user-processes 6 --subuid-file "$JM_TMP/subuid" --metrics 127.0.0.1:0
JMD_URL=$JMD_URL PUB=$JM_TMP/pub jmd_py - <<'PY' || fail "per-user bound on tracked processes"
from jmd import *
import urllib.request

public_holders(os.environ["PUB"])

def start(uid, n):
    hs = []
    for _ in range(n):
        h = Holder(uid=uid or None)
        h.cmd("alloc 64 100")
        hs.append(h)
    return hs

def untracked(metrics=False):
    if metrics:
        body = urllib.request.urlopen(os.environ["JMD_URL"] + "/metrics", timeout=10).read().decode()
        return int(next(l.split()[1] for l in body.splitlines()
                        if l.startswith("jmalloc_processes_untracked ")))
    return request({"cmd": "version"})["processes_untracked"]

root = start(0, 2)
other = start(4242, 2)
wait_until(lambda: all(h.pid in ps_pids() for h in root + other), "root's and uid 4242's processes")
mine = start(65534, 5) + start(200001, 4)
ids = {h.pid for h in mine}
shown = lambda: {p for p in ps_pids() if p in ids}
wait_until(lambda: len(shown()) == 6 and untracked() == 3,
           "6 of nobody's 9 processes tracked and 3 untracked (%d tracked)" % len(shown()))
check(untracked(metrics=True) == 3, "/metrics: jmalloc_processes_untracked not 3")
st = subprocess.run([os.environ["JMCTL"], "--socket", SOCK, "status"], capture_output=True,
                    text=True, timeout=30).stdout
check("untracked  3 live processes past --user-processes (6 a user" in st, "jmctl status: %s" % st)
_, mine_v = as_uid(65534, lambda: request({"cmd": "version"}))
check(mine_v["processes_untracked"] == 3 and mine_v["user_processes"] == 6,
      "nobody's version: %r" % mine_v)
# The other users' are all tracked, and new ones of theirs are.
root += start(0, 1)
other += start(4242, 1)
wait_until(lambda: all(h.pid in ps_pids() for h in root + other), "root's and uid 4242's new ones")
# Polled for a few ticks more: it stays 6.
for _ in range(10):
    check(len(shown()) == 6, "nobody's tracked processes: %d, not 6" % len(shown()))
    time.sleep(INTERVAL_MS / 1000.0)
# 3 tracked ones exit: the 3 waiting take their slots.
tracked = shown()
gone = [h for h in mine if h.pid in tracked][:3]
for h in gone:
    h.exit()
left = ids - {h.pid for h in gone}
wait_until(lambda: shown() == left and untracked() == 0,
           "the 3 untracked processes tracked once 3 exit (shown %r of %r)" % (shown(), left))
for h in mine + root + other:
    if h not in gone:
        h.exit()
print("6 of 9 tracked, 3 waiting; others unaffected; slots handed on")
PY
grep -q "uid 200001 (counted as uid 65534's): 6 live processes tracked, its --user-processes bound\|uid 65534: 6 live processes tracked, its --user-processes bound" "$JMD_LOG" ||
	fail "no log line naming the --user-processes bound"
[ "$(grep -c -- '--user-processes bound' "$JMD_LOG")" = 1 ] || fail "more than one line for the bound within 10 s"
jmd_stop
echo "ok"
