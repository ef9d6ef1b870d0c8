#!/usr/bin/env bash
# timeout: 600
# The stats directory removed and made again, or moved away and replaced,
# while jmstatd runs and processes write into it: each time the daemon says
# so in one log line, drops the processes whose files went with it, finds
# the processes that write into the new directory, and answers throughout.
# make check: 3 rounds of each; make stress (JM_STRESS_FULL=1): 40.
. "$(dirname "$0")/../lib.sh"
need_segments
rounds=3
[ -n "${JM_STRESS_FULL:-}" ] && rounds=40
export rounds
jmd_start

jmd_py - <<'PY' || fail "stats directory removed and made again"
from jmd import *
import shutil

rounds = int(os.environ["rounds"])
log = os.path.join(os.environ["JM_TMP"], "jmstatd.log")
def count(s):
    return sum(s in l for l in open(log))

t0 = time.monotonic()
old = Holder()
wait_until(lambda: old.pid in ps_pids(), "the first holder")
for r in range(rounds):
    replace = r % 2 == 1
    gone_before, back_before = count(" is gone "), count(" is back") + count(" was replaced")
    if replace:
        # Moved away and replaced at once: the old one still exists.
        os.rename(STATS_DIR, STATS_DIR + ".old")
        os.mkdir(STATS_DIR)
        os.chmod(STATS_DIR, 0o1777)
    else:
        shutil.rmtree(STATS_DIR)
        wait_until(lambda: count(" is gone ") > gone_before, "a log line: the directory is gone")
        check(request({"cmd": "ps"})["ok"], "ps while the directory is gone")
        os.mkdir(STATS_DIR)
        os.chmod(STATS_DIR, 0o1777)
    new = Holder()
    wait_until(lambda: new.pid in ps_pids(), "round %d: a process writing into the new directory" % r)
    wait_until(lambda: old.pid not in ps_pids(), "round %d: the process whose file went" % r)
    check(count(" is back") + count(" was replaced") == back_before + 1,
          "round %d: one log line for the new directory" % r)
    old.kill()
    if replace:
        shutil.rmtree(STATS_DIR + ".old")
    old = new
old.kill()
v = request({"cmd": "version"})
check(v["ok"], "still answering")
print("%d rounds (removed, or moved away and replaced) in %.1f s; daemon answering, %d segments"
      % (rounds, time.monotonic() - t0, v["segments"]))
PY
grep -E "stats directory" "$JMD_LOG" | head -n 6
jmd_stop
echo "ok"
