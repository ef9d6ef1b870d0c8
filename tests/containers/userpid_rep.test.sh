#!/usr/bin/env bash
# timeout: 150
# A namespace of root's (a service's with a /dev/shm of its own) whose
# process at its root that the walk meets first is nobody's, running in
# a user and pid namespace of nobody's own (unshare --user --pid: no
# mount namespace needed; the process that made it chrooted away with
# CAP_SYS_CHROOT in its user namespace): the daemon keyed the namespace
# by that pid namespace, a container of root's, where every uid's files
# count as the container's. nobody's names of segments there then spent
# the container's bound of files, and root's service in the namespace
# was not tracked (twentieth pass). Only a pid namespace root owns keys
# a namespace of root's now (dirs.c, top_pidns): this one is one of the
# host's private namespaces, nobody's files counting as nobody's.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_segments
need_users "run nobody's process in a mount namespace root made"
jm_public
export JMALLOC_LIB=$JM_TMP/pub/libjmalloc.so

N=1100
# Staged before the daemon starts, so that its first walk meets the
# namespace as it is: nobody's chrooted maker, then nobody's sleep in its
# pid namespace (the first process at the namespace's root).
cat >"$JM_TMP/maker.py" <<'MAKER'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
d, n = sys.argv[1], int(sys.argv[2])
pid, ns = os.getpid(), os.stat("/proc/self/ns/pid").st_ino
st = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
for i in range(n):
    open(os.path.join(d, "jmalloc.%d.%d.%d.%016x.stats" % (pid, ns, st, (1 << 63) | i)), "w").close()
if libc.unshare(0x10000000 | 0x20000000) != 0:   # CLONE_NEWUSER | CLONE_NEWPID
    sys.exit("unshare: %s" % os.strerror(ctypes.get_errno()))
if os.fork() == 0:
    os.execv("/bin/sleep", ["sleep", "600"])
os.chroot("/tmp")                                 # CAP_SYS_CHROOT in its user namespace
print("made", flush=True)
os.wait()
MAKER
chmod 644 "$JM_TMP/maker.py"
cp "$JM_TMP/maker.py" /tmp/jm-userpid-maker.$$.py && JM_AT_EXIT+=("rm -f /tmp/jm-userpid-maker.$$.py")
setsid unshare --mount --propagation private sh -c 'mount -t tmpfs -o mode=1777 jmupn "$0" && exec setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 "$1" "$0" "$2"' \
	"$JMD_STATS" /tmp/jm-userpid-maker.$$.py "$N" >"$JM_TMP/made" &
MAKER_PID=$!
JM_AT_EXIT+=("kill -KILL -- -$MAKER_PID 2>/dev/null")
for _ in $(seq 300); do grep -q made "$JM_TMP/made" && break; sleep 0.1; done
grep -q made "$JM_TMP/made" || fail "nobody's namespace not made"
export MAKER_PID N

jmd_start --user-processes 2
jmd_py - <<'PY' || fail "nobody's names under nobody's pid namespace hid root's service in its namespace"
from jmd import *
import atexit, os
N, BOUND = int(os.environ["N"]), 2 + 1024
maker = int(os.environ["MAKER_PID"])   # setsid's, which exec'd unshare, sh, setpriv, python
kid = int(open("/proc/%d/task/%d/children" % (maker, maker)).read().split()[0])
check(os.readlink("/proc/%d/ns/pid" % kid) != os.readlink("/proc/self/ns/pid"),
      "nobody's sleep is not in a pid namespace of its own")
wait_until(lambda: request({"cmd": "version"})["segment_files_untracked"] >= N - BOUND,
           "nobody's names past a bound", timeout=40)

# Root's service in the same namespace, after nobody's.
env = dict(os.environ, JMALLOC_STATS_DIR=STATS_DIR, JMALLOC_CONF="prof_sample:0")
env.pop("LD_PRELOAD", None)   # nsenter's own segment would be the host directory's
holder = os.path.join(os.environ["JM_HELPERS"], "daemon_holder")
r = subprocess.Popen(["nsenter", "-t", str(kid), "-m", "--", "env",
                      "LD_PRELOAD=" + os.environ["JMALLOC_LIB"], holder],
                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
atexit.register(r.kill)
line = r.stdout.readline().decode().split()
check(len(line) == 2 and line[0] == "ready", "root's service did not start: %r" % line)
try:
    wait_until(lambda: ps_pids().get(r.pid, {}).get("exe") == "daemon_holder",
               "root's service in ps", timeout=30)
    ok = True
except SystemExit:
    ok = False
v = request({"cmd": "version"})
print("%d names of nobody's beside root's service: %d files untracked; root's service %s"
      % (N, v["segment_files_untracked"], "tracked" if ok else "NOT tracked"))
check(ok, "root's service not tracked: the namespace was keyed by nobody's pid namespace, "
      "nobody's names spent its bound")
PY
jmd_stop
ok "nobody's pid namespace does not key root's namespace"
