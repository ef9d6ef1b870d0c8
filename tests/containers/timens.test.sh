#!/usr/bin/env bash
# timeout: 120
# Containers with a time namespace of their own (unshare --time
# --boottime, as CRIU restores a container): a writer reads its start time
# shifted by its namespace's boot-time offset, which the daemon's view of
# /proc/PID/stat does not have. The daemon took that for a reused pid and
# removed the live segment at once ("its pid now belongs to another
# process"). Now it compares the start shifted by /proc/PID/timens_offsets:
# two such containers (a day ahead, a writer in the host's directory and
# one in a private tmpfs) are listed under their host pids for ten ticks
# with what they hold and the start time the host sees (it was a day
# ahead), their files kept; once killed, the shared one's file is removed.
. "$(dirname "$0")/../lib.sh"
need_unshare
unshare --time --boottime 86400 true 2>/dev/null || skip "no time namespaces here (unshare --time)"
jmd_start

jmd_py - <<'PY' || fail "time namespaces"
from jmd import *
import atexit, time

shared, private = Container(boottime=86400), Container(private=True, boottime=86400)
cs = [shared, private]
atexit.register(lambda: [c.p.kill() for c in cs])
for c in cs:
    c.cmd("alloc 4096 256")
def listed():
    ps = ps_pids()
    return all(c.host_pid in ps and ps[c.host_pid]["allocated"] >= 4096 * 256 for c in cs) and ps
ps = wait_until(listed, "both containers in ps under their host pids, with what they hold")
# Their start time as the host sees it (not a day ahead: alert windows and
# jmalloc_process_start_time_seconds are the host's time).
for c in cs:
    check(abs(ps[c.host_pid]["start_time"] - time.time()) < 600, "start_time %r, now %r"
          % (ps[c.host_pid]["start_time"], time.time()))
t0 = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + 10 * INTERVAL_MS / 1000.0, "ten ticks")
log = open(os.path.join(os.environ["JM_TMP"], "jmstatd.log")).read()
for c in cs:
    check(os.path.exists(c.segment()), "a live container's segment was removed: %s\n%s" % (c.segment(), log))
    check(c.host_pid in ps_pids(), "container %d left ps\n%s" % (c.host_pid, log))
check("removed" not in log, "the daemon removed something:\n" + log)
path = shared.segment()
shared.kill()
wait_until(lambda: not os.path.exists(path), "the killed container's file removed")
wait_until(lambda: shared.host_pid not in ps_pids(), "the killed container out of ps")
PY
ok "containers with a time namespace: listed, their files kept while they run"
