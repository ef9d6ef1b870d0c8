#!/usr/bin/env bash
# timeout: 120
# A pid reused between the walk of the mount namespaces and the open of
# a container's stats directory (the seventeenth pass). The walk read
# /proc/PID/ns/mnt of the namespace's first process, then its owner, pid
# namespace and cgroup by pid, and a thread opened /proc/PID/root/<stats
# dir> later, by pid again. Had that process ended in between and its pid
# gone to nobody's process in a user and mount namespace of nobody's own
# with a tmpfs on the stats directory, nobody's directory was read as the
# root container's: owned by root, keyed by the container. The next walk
# opened the container's own directory through another of its processes,
# but nobody's namespace, found then, reached a directory known already:
# nobody's, kept as the container's for as long as nobody kept a process
# in it (nobody's processes there charged to the container's bounds, not
# nobody's, shown in its mount namespace, their files removed and read
# as a root container's). Now /proc/PID is opened once, checked to be in the namespace the
# walk found, and everything read through it: a process gone answers
# ESRCH, not another's.
#
# Staged without timing: gdb stops the daemon where the thread opens the
# directory of the root container's process (started under a chosen pid
# with ns_last_pid); meanwhile that process is killed and nobody's started
# under its pid (ns_last_pid again); then the daemon goes on.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_users "run a process as nobody under a reused pid"
need_segments
need_jmctl
need_cmd gdb
need_ns_last_pid
command -v setpriv >/dev/null || skip "needs setpriv"
setpriv --reuid=65534 --regid=65534 --clear-groups unshare --user --map-root-user --mount true 2>/dev/null ||
	skip "unprivileged user namespaces are off here"
nobody_pub
cd "$JM_TMP"
jmd_start --verbose

# The pid the root container's process is to have.
N=$(pid_ahead)

mkfifo ctl ctl2 done
jmd_py - "$P/libjmalloc.so" "$N" <<'PY' >ctl.out 2>&1 &
from jmd import *
lib, want = sys.argv[1], int(sys.argv[2])

def root_container():
    child_check(LIBC.unshare(CLONE_NEWNS), "unshare")
    mount_own_stats()
    # A second process: the namespace outlives the first (a container's
    # other processes), and the walk after finds it there.
    if os.fork() == 0:
        os.execve("/bin/sleep", ["sleep", "300"], {})

def nobodys():
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
    LIBC.prctl(4, 1, 0, 0, 0)     # PR_SET_DUMPABLE: /proc/self/*_map its own again
    child_check(LIBC.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare as nobody")
    open("/proc/self/setgroups", "w").write("deny")
    open("/proc/self/uid_map", "w").write("0 65534 1")
    open("/proc/self/gid_map", "w").write("0 65534 1")
    mount_own_stats()

open("ctl").readline()             # gdb waits for the open of /proc/N/root
r = start_at(want, root_container)
mnt = os.readlink("/proc/%d/ns/mnt" % r) if r else "none"
second = open("/proc/%d/task/%d/children" % (r, r)).read().split() if r else []
print("root", r, mnt, " ".join(second), flush=True)
if not r:
    open("done", "w").write("no root process under pid %d\n" % want)
    sys.exit(0)
open("ctl2").readline()            # the daemon stopped there
os.kill(r, 9)
os.waitpid(r, 0)
env = {"PATH": "/usr/bin:/bin", "LD_PRELOAD": lib, "JMALLOC_STATS_DIR": STATS_DIR}
u = start_at(want, nobodys, env=env)
mnt = os.readlink("/proc/%d/ns/mnt" % u) if u else "none"
print("nobody", u, mnt, flush=True)
open("done", "w").write("swapped %d\n" % u)
if u:
    os.waitpid(u, 0)
PY
CTL=$!
PIDS+=("$CTL")
jmd_gdb_stage "open_thread if \$_streq(((struct open_job *)arg)->root, \"/proc/$N/root\")" \
	"echo go > $JM_TMP/ctl" "echo swap > $JM_TMP/ctl2 && cat $JM_TMP/done"
cat ctl.out
grep -q "^root $N " ctl.out || skip "$(tail -1 ctl.out) (pids taken meanwhile)"
grep -q "^nobody $N " ctl.out || skip "nobody's process not started under pid $N (pids taken meanwhile): $(tail -1 ctl.out)"
PIDS+=("$N")     # nobody's process under the root container's pid: stopped at the end
for s in $(awk '$1 == "root" { print $4 }' ctl.out); do PIDS+=("$s"); done
jmd_gdb_stopped open_thread
ROOTMNT=$(awk '$1 == "root" { print $3 }' ctl.out | tr -dc 0-9)
NOBODYMNT=$(awk '$1 == "nobody" { print $3 }' ctl.out | tr -dc 0-9)

# nobody's process in its own directory, tracked; whose it is.
jmd_py - "$N" "$ROOTMNT" "$NOBODYMNT" <<'PY' || fail "nobody's directory read as the root container's"
from jmd import *
pid, rootmnt, nobodymnt = (int(a) for a in sys.argv[1:4])
wait_until(lambda: pid in ps_pids(), "nobody's process %d in ps" % pid)
h = request({"cmd": "history", "pid": pid})
print("history %d: uid %r, mntns %r (the root container's mnt:[%d], nobody's mnt:[%d])"
      % (pid, h.get("uid"), h.get("mntns"), rootmnt, nobodymnt))
check(h.get("uid") == 65534, "not nobody's process: %r" % h.get("uid"))
check(h.get("mntns") is None,
      "nobody's process shown in mount namespace %r: its directory taken for the root "
      "container's" % h.get("mntns"))
PY
grep -q "reading $JMD_STATS in mnt:\[$NOBODYMNT\] too (uid 65534's)" "$JMD_LOG" ||
	fail "nobody's mnt:[$NOBODYMNT] not read as nobody's: $(grep "reading" "$JMD_LOG" | tail -5)"
ok "nobody's process under a root container's reused pid: its directory read as nobody's"
jmd_stop
echo "ok"
