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
[ -w /proc/sys/kernel/ns_last_pid ] || skip "cannot write /proc/sys/kernel/ns_last_pid"
cd "$JM_TMP"
jmd_start --verbose

max=$(cat /proc/sys/kernel/pid_max)
N=$(( $(cat /proc/sys/kernel/ns_last_pid) + 400 ))
[ "$N" -lt "$max" ] || N=$(( 300 + RANDOM % 1000 ))

mkfifo ctl done
python3 - "$JMD_STATS" "$N" <<'PY' >ctl.out 2>&1 &
import ctypes, os, sys
stats, want = sys.argv[1].encode(), int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, MS_REC, MS_PRIVATE = 0x20000, 16384, 1 << 18

def die(what):
    os.write(2, b"%s: %s\n" % (what.encode(), os.strerror(ctypes.get_errno()).encode()))
    os._exit(1)

def start_at(pid, setup, argv):
    """A process under pid (ns_last_pid), set up, then argv; 0 if another
    took the pid."""
    for attempt in range(200):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        rd, wr = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(rd)
            if os.getpid() == pid:
                setup()
            os.write(wr, b"in\n")
            os.execve(argv[0], argv, {})
        os.close(wr)
        got = os.read(rd, 8)
        os.close(rd)
        if child == pid and got == b"in\n":
            return child
        os.kill(child, 9)
        os.waitpid(child, 0)
    return 0

# The container: a mount namespace of root's, a tmpfs on the stats directory.
rd, wr = os.pipe()
c = os.fork()
if c == 0:
    if libc.unshare(CLONE_NEWNS) != 0:
        die("unshare")
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        die("mount --make-rprivate /")
    if libc.mount(b"jmtest", stats, b"tmpfs", 0, b"mode=1777") != 0:
        die("mount tmpfs")
    os.write(wr, b"in\n")
    os.execve("/bin/sleep", ["sleep", "300"], {})
os.close(wr)
os.read(rd, 8)
print("container", c, os.readlink("/proc/%d/ns/mnt" % c), flush=True)
w = start_at(want, lambda: None, ["/bin/sleep", "300"])
print("writer", w, os.readlink("/proc/%d/ns/mnt" % w) if w else "none", flush=True)
if not w:
    sys.exit(0)
open("ctl").readline()             # the daemon stopped at jmd_dir_may_hold
os.kill(w, 9)
os.waitpid(w, 0)
ns = os.open("/proc/%d/ns/mnt" % c, os.O_RDONLY)
def enter():
    if libc.setns(ns, CLONE_NEWNS) != 0:
        die("setns")
u = start_at(want, enter, ["/bin/sleep", "300"])
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
wait_line "$JMD_LOG" "reading $JMD_STATS in mnt:\[$CMNT\]"
NAME=$(jm_segment_name "$N")
gdb -batch -nx -p "$JMD_PID" \
	-ex "break jmd_dir_may_hold if host == $N" \
	-ex "shell $JM_HELPERS/stress_segwriter write /proc/$C/root$JMD_STATS/$NAME $N 0 frag >/dev/null" \
	-ex 'continue' -ex "shell echo go > $JM_TMP/ctl && cat $JM_TMP/done" -ex 'detach' \
	>gdb.out 2>&1 || true
cat ctl.out
grep -q "Breakpoint 1, jmd_dir_may_hold" gdb.out || fail "gdb did not stop the daemon at jmd_dir_may_hold: $(tail -5 gdb.out)"
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
