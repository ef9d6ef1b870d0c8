#!/usr/bin/env bash
# timeout: 60
# A segment names its writer by pid namespace, pid and start time; another
# container of the same uid (root's, without a user namespace: Docker's
# default) may guess those of a neighbour and write a segment for it in
# its own /dev/shm (here: a copy of B's segment put in A's private
# directory, its creation time an hour ahead). The daemon took A's file for B's process, newer than B's
# own, and removed B's live segment. Now a container's directory holds
# only the segments of processes whose mount namespace reaches it: A's
# file is refused with one line, B's kept and listed from its own file.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_cmd cc
printf '#include <stddef.h>\n#include <stdio.h>\n#include "jmstat.h"\nint main(void) { printf("%%zu\\n", offsetof(struct jmstat_header, update_ns)); return 0; }\n' >"$JM_TMP/off.c"
cc -I"$JM_ROOT/liballoc/include" -o "$JM_TMP/off" "$JM_TMP/off.c" || fail "cannot build the offset probe"
export UPDATE_OFF=$("$JM_TMP/off")
jmd_start
jmd_py - <<'PY' || fail "a segment for another container's process"
from jmd import *
import atexit, shutil, struct

a, b = Container(private=True), Container(private=True)
atexit.register(lambda: [c.p.kill() for c in (a, b)])
a.cmd("alloc 4096 64")
b.cmd("alloc 4096 512")
wait_until(lambda: all(c.host_pid in ps_pids() for c in (a, b)), "both containers listed")
real = b.segment()
forged = os.path.join("/proc/%d/root%s" % (a.host_pid, STATS_DIR), os.path.basename(real))
shutil.copyfile(real, forged + ".tmp")
# Made after B's own, as its header says.
with open(forged + ".tmp", "r+b") as f:
    f.seek(int(os.environ["UPDATE_OFF"]))
    f.write(struct.pack("=Q", int((time.time() + 3600) * 1e9)))
os.rename(forged + ".tmp", forged)
log_path = os.path.join(os.environ["JM_TMP"], "jmstatd.log")
t0 = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + 15 * INTERVAL_MS / 1000.0, "15 ticks")
log = open(log_path).read()
check(os.path.exists(real), "B's live segment was removed:\n" + log)
check("removed" not in log, "the daemon removed something:\n" + log)
ps = ps_pids()
check(b.host_pid in ps and a.host_pid in ps, "ps: %r" % sorted(ps))
check(len([l for l in log.splitlines() if "another container" in l]) == 1, "not one line:\n" + log)
b.cmd("alloc 4096 512")
r = stats_after(b.host_pid, time.time())
check(r["allocated"] >= 2 * 4096 * 512 * 0.95, "B's figures not from its own file: %r" % r["allocated"])
print("a copy of B's segment in A's directory: refused, B's kept and read")
PY
jmd_stop
echo "ok"
