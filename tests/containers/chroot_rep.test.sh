#!/usr/bin/env bash
# timeout: 120
# A representative chrooted in a user namespace of its own (the eighteenth
# pass). A container's stats directory is opened through
# /proc/PID/root of a process of its mount namespace, the first the walk
# of /proc meets. nobody, in a mount namespace root made (a service's
# PrivateDevices=, a container of root's run as another uid), needs no
# mount namespace of its own to change its root: unshare(CLONE_NEWUSER)
# gives it CAP_SYS_CHROOT, and chroot() into a directory of its own
# leaves its mount namespace as it was. As the namespace's first process
# its /proc/PID/root was the directory of its choosing, read as the
# namespace's own (root's, keyed by its container): root's processes
# there were never shown, and nobody's files there stood for theirs.
# Now a process whose root is not its mount namespace's root (a path
# other than "/" there) is never a representative.
#
# Staged: root makes the namespace (a tmpfs on the stats directory),
# forks nobody's process (chrooted) and then root's (preloaded), and
# leaves: nobody's is the namespace's lowest pid.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_users "run a process as nobody"
need_segments
need_jmctl
setpriv --reuid=65534 --regid=65534 --clear-groups unshare --user true 2>/dev/null ||
	skip "unprivileged user namespaces are off here"
cd "$JM_TMP"

python3 - "$JMALLOC_LIB" "$JMD_STATS" <<'PY' >stage.out 2>&1
import ctypes, os, sys, time
lib, stats = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWUSER = 0x20000, 0x10000000
MS_REC, MS_PRIVATE = 16384, 1 << 18

def die(what):
    e = ctypes.get_errno()
    os.write(2, b"%s: %s\n" % (what.encode(), os.strerror(e).encode()))
    os._exit(1)

if libc.unshare(CLONE_NEWNS) != 0:
    die("unshare")
if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
    die("mount --make-rprivate /")
if libc.mount(b"jmtest", stats.encode(), b"tmpfs", 0, b"mode=1777") != 0:
    die("mount tmpfs")
rd, wr = os.pipe()
nobody = os.fork()
if nobody == 0:
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
    own = os.path.join(stats, "own")
    os.makedirs(own + stats)           # its own "stats directory" inside
    if libc.unshare(CLONE_NEWUSER) != 0:
        die("unshare(CLONE_NEWUSER) as nobody")
    if libc.chroot(own.encode()) != 0:
        die("chroot as nobody")
    os.chdir("/")
    os.write(wr, b"in\n")
    while True:
        time.sleep(600)
got = os.read(rd, 8)
if got != b"in\n":
    sys.exit(1)
env = {"PATH": "/usr/bin:/bin", "LD_PRELOAD": lib, "JMALLOC_STATS_DIR": stats}
root = os.fork()
if root == 0:
    os.execve("/bin/sleep", ["sleep", "600"], env)
while not any(f.startswith("jmalloc.%d." % root) or f == "jmalloc.%d.stats" % root
              for f in os.listdir(stats)):
    time.sleep(0.05)
print("nobody", nobody, os.readlink("/proc/%d/root" % nobody), os.readlink("/proc/%d/ns/mnt" % nobody))
print("root", root, os.readlink("/proc/%d/root" % root), os.readlink("/proc/%d/ns/mnt" % root))
PY
cat stage.out
NOBODY_PID=$(awk '$1 == "nobody" { print $2 }' stage.out)
ROOT_PID=$(awk '$1 == "root" { print $2 }' stage.out)
[ -n "$NOBODY_PID" ] && [ -n "$ROOT_PID" ] || skip "could not stage: $(tail -1 stage.out)"
PIDS+=("$NOBODY_PID" "$ROOT_PID")
[ "$NOBODY_PID" -lt "$ROOT_PID" ] || skip "pids wrapped between the two forks"

jmd_start --verbose
wait_seen "$ROOT_PID"
MNT=$(awk '$1 == "root" { print $4 }' stage.out | tr -dc 0-9)
grep -q "reading $JMD_STATS in mnt:\[$MNT\] too$" "$JMD_LOG" ||
	fail "the namespace's directory not read as root's: $(grep reading "$JMD_LOG" | tail -3)"
ok "root's process beside nobody's chrooted one, the namespace's first: shown"
jmd_stop
echo "ok"
