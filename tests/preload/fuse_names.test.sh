#!/usr/bin/env bash
# timeout: 240
# The stats directory is shared: in the sticky /dev/shm anyone may mount
# a FUSE file system on a file of theirs named as a segment (fusermount;
# others, root too, may look into it where /etc/fuse.conf has
# user_allow_other: allow_other here, the mount nobody's), whose server
# never answers. The allocator asked it, and waited for as long as the
# server held the mount:
# - reap_stale opens the names of dead pids, whoever's, in one process
#   start in 8: one such mount under a pid that does not run froze 6 of
#   40 runs of `ls` (root's services start so too) at their first malloc;
# - a process whose own name is taken looks at it (lstat) to see whose
#   it is: a mount under the name of a pid to come froze the process that
#   got it.
# Now both look without crossing a mount point (openat2 RESOLVE_NO_XDEV):
# a dead pid's mount is skipped, the process's own name taken by a mount
# has it publish under a tagged name. Both staged in a mount namespace of
# the test's own (the mounts go with it); each run bounded by a SIGKILL
# after 30 s, a hang being the failure. Reaping is by chance (1 in 8
# starts), so the first part runs 100 starts: the old library froze one
# of them but with a chance of (7/8)^100, 1.6e-6.
if [ -z "${JM_FUSE_NS:-}" ]; then
	[ "$(id -u)" -eq 0 ] && unshare --mount true 2>/dev/null &&
		exec env JM_FUSE_NS=1 unshare --mount --propagation private "$0" "$@"
fi
. "$(dirname "$0")/../lib.sh"
need_lib
[ "$(id -u)" -eq 0 ] || skip "needs root to mount a FUSE file system"
[ -n "${JM_FUSE_NS:-}" ] || skip "cannot make a mount namespace (unshare --mount)"
[ -c /dev/fuse ] && grep -qw fuse /proc/filesystems || skip "no FUSE (/dev/fuse, fuse in /proc/filesystems)"
S=$JM_TMP/stats
mkdir -p "$S"
chmod 1777 "$S"

# 1. A dead pid's name (the host's pid namespace: a plain name).
dead=$(($(cat /proc/sys/kernel/pid_max) - 1))
while kill -0 "$dead" 2>/dev/null; do dead=$((dead - 1)); done
: >"$S/jmalloc.$dead.stats"
chown 65534 "$S/jmalloc.$dead.stats"
fuse_hold "$S/jmalloc.$dead.stats" 100000
for i in $(seq 100); do
	rc=0
	timeout -s KILL 30 env LD_PRELOAD="$JMALLOC_LIB" JMALLOC_STATS_DIR="$S" ls / >/dev/null || rc=$?
	[ $rc -ne 137 ] || fail "start $i of ls froze on a FUSE mount under a dead pid's segment name"
	[ $rc -eq 0 ] || fail "ls exited $rc"
done
kill "$FUSE_HOLDER" 2>/dev/null
wait "$FUSE_HOLDER" 2>/dev/null
umount -l "$S/jmalloc.$dead.stats" 2>/dev/null
ok "100 starts beside a FUSE mount under a dead pid's segment name: none froze"

# 2. The name of the pid a process will get (ns_last_pid).
[ -w /proc/sys/kernel/ns_last_pid ] || skip "cannot write /proc/sys/kernel/ns_last_pid"
want=$((dead - 1))
while kill -0 "$want" 2>/dev/null; do want=$((want - 1)); done
: >"$S/jmalloc.$want.stats"
chown 65534 "$S/jmalloc.$want.stats"
fuse_hold "$S/jmalloc.$want.stats" 100000
python3 - "$want" "$JMALLOC_LIB" "$S" <<'PY' || fail "a process froze on a FUSE mount under its own segment name"
import os, signal, sys, time
want, lib, stats = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for attempt in range(200):
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(want - 1))
    rd, wr = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(wr)
        go = os.read(rd, 1)
        if go != b"y":
            os._exit(0)
        os.execve("/bin/ls", ["ls", "/"], {"PATH": "/usr/bin:/bin", "LD_PRELOAD": lib,
                                          "JMALLOC_STATS_DIR": stats})
    os.close(rd)
    os.write(wr, b"y" if child == want else b"n")
    os.close(wr)
    if child == want:
        break
    os.waitpid(child, 0)
else:
    print("skip: never given pid %d in 200 forks" % want)
    sys.exit(0)
end = time.time() + 30
while time.time() < end:
    done, status = os.waitpid(child, os.WNOHANG)
    if done:
        sys.exit(0 if os.waitstatus_to_exitcode(status) == 0 else 1)
    time.sleep(0.05)
os.kill(child, signal.SIGKILL)
os.waitpid(child, 0)
print("pid %d: ls did not end in 30 s" % want)
sys.exit(1)
PY
kill "$FUSE_HOLDER" 2>/dev/null
wait "$FUSE_HOLDER" 2>/dev/null
ok "a process whose own segment name is a FUSE mount publishes under another and ends"
