#!/usr/bin/env bash
# timeout: 120
# A pid reused between a writer's check and the check of its segment's
# place (jmd_dir_may_hold, the seventeenth pass's "left"). A container's
# own directory holds only the segments of processes whose mount
# namespace reaches it; that was read from /proc/PID/ns/mnt by pid, after
# the writer's pidfd was checked. Had the writer ended in between and its
# pid gone to a process of the container, a dead host process's segment
# in the container's directory was taken as the container's, its process
# tracked for a tick. Now the place is believed only if the writer still
# runs after the read.
#
# Staged without timing: a root process of the host under a chosen pid
# (ns_last_pid) has a segment forged in a container's directory (a mount
# namespace of root's with a tmpfs on the stats directory); gdb stops the
# daemon at jmd_dir_may_hold for that pid; the writer is killed and a
# process of the container started under its pid; the daemon goes on.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_segments
need_cmd gdb
need_ns_last_pid
cd "$JM_TMP"
jmd_start --verbose

N=$(pid_ahead)

mkfifo ctl done
jmd_py - "$N" <<'PY' >ctl.out 2>&1 &
from jmd import *
want = int(sys.argv[1])

# The container: a mount namespace of root's, a tmpfs on the stats directory.
rd, wr = os.pipe()
c = os.fork()
if c == 0:
    child_check(LIBC.unshare(CLONE_NEWNS), "unshare")
    mount_own_stats()
    os.write(wr, b"in\n")
    os.execve("/bin/sleep", ["sleep", "300"], {})
os.close(wr)
os.read(rd, 8)
print("container", c, os.readlink("/proc/%d/ns/mnt" % c), flush=True)
w = start_at(want)
print("writer", w, os.readlink("/proc/%d/ns/mnt" % w) if w else "none", flush=True)
if not w:
    sys.exit(0)
open("ctl").readline()             # the daemon stopped at jmd_dir_may_hold
os.kill(w, 9)
os.waitpid(w, 0)
ns = os.open("/proc/%d/ns/mnt" % c, os.O_RDONLY)
u = start_at(want, lambda: child_check(LIBC.setns(ns, CLONE_NEWNS), "setns"))
print("inside", u, os.readlink("/proc/%d/ns/mnt" % u) if u else "none", flush=True)
open("done", "w").write("swapped %d\n" % u)
PY
CTL=$!
PIDS+=("$CTL")
for i in $(seq 1 200); do grep -q "^writer " ctl.out && break; sleep 0.1; done
C=$(awk '$1 == "container" { print $2 }' ctl.out)
[ -n "$C" ] || fail "no container: $(cat ctl.out)"
PIDS+=("$C")
grep -q "^writer $N " ctl.out || skip "no writer under pid $N (pids taken meanwhile)"
CMNT=$(awk '$1 == "container" { print $3 }' ctl.out | tr -dc 0-9)
wait_line "$JMD_LOG" "jmstatd: reading $JMD_STATS in mnt:\[$CMNT\]"
NAME=$(jm_segment_name "$N")
jmd_gdb_stage "jmd_dir_may_hold if host == $N" \
	"$JM_HELPERS/stress_segwriter write /proc/$C/root$JMD_STATS/$NAME $N 0 frag >/dev/null" \
	"echo go > $JM_TMP/ctl && cat $JM_TMP/done"
cat ctl.out
jmd_gdb_stopped jmd_dir_may_hold
grep -q "^inside $N mnt:\[$CMNT\]" ctl.out || skip "no process of the container under pid $N (pids taken meanwhile): $(tail -1 ctl.out)"
PIDS+=("$N")
# The dead writer's segment removed (its process gone), never taken.
wait_line "$JMD_LOG" "removed .*$NAME: "
if grep -q "process $N (.*) left the live view" "$JMD_LOG"; then
	grep "$N" "$JMD_LOG"
	fail "the dead writer $N's segment in the container's directory taken as the container's process's"
fi
ok "a dead writer's segment in a container's directory not taken for the process under its pid"
jmd_stop
echo "ok"
