#!/usr/bin/env bash
# timeout: 60
# jmctl stats / sites of a pid that has exited but is not reaped yet (a
# zombie: what a pid from a listing a moment old often is, the program
# ending as jmctl asks) said "pid N (NAME) runs without jmalloc: libjmalloc
# is not in its memory maps (start it with LD_PRELOAD=...)": an exited
# process has no maps, and the advice sent the operator to restart a
# program that ran with jmalloc. It says that the process has exited. A
# kernel thread (no maps either) still runs without jmalloc.
# Deterministic: a preloaded child that exits while its parent waits.
. "$(dirname "$0")/../lib.sh"
need_segments
need_jmctl
jmd_start
jmd_py - <<'PY' || fail "jmctl on an exited process"
from jmd import *
env = dict(os.environ, LD_PRELOAD=os.environ["JMALLOC_LIB"], JMALLOC_STATS_DIR=STATS_DIR)
# A preloaded shell whose child (preloaded too) exits unreaped: sh execs
# into sleep, which never waits for the child it inherits.
p = subprocess.Popen(["sh", "-c", "/bin/true & exec sleep 300"], env=env)
child = None
def zombie():
    global child
    for t in os.listdir("/proc/%d/task" % p.pid):
        for c in open("/proc/%d/task/%s/children" % (p.pid, t)).read().split():
            if open("/proc/%s/stat" % c).read().rsplit(")", 1)[1].split()[0] == "Z":
                child = int(c)
    return child
wait_until(zombie, "the child a zombie")
wait_until(lambda: child not in ps_pids(), "the daemon not listing it")
for cmd in ("stats", "sites"):
    r = subprocess.run([os.environ["JMCTL"], "--socket", SOCK, cmd, str(child)],
                       capture_output=True, text=True, timeout=60)
    print("jmctl %s ZOMBIE: exit %d: %s" % (cmd, r.returncode, r.stderr.strip()))
    check(r.returncode == 1, "exit status")
    check("has exited" in r.stderr, "jmctl says it has exited: %r" % r.stderr)
    check("LD_PRELOAD" not in r.stderr, "jmctl tells to preload it: %r" % r.stderr)
r = subprocess.run([os.environ["JMCTL"], "--socket", SOCK, "stats", "2"],
                   capture_output=True, text=True, timeout=60)
print("jmctl stats 2: %s" % r.stderr.strip())
check("runs without jmalloc" in r.stderr, "a kernel thread: %r" % r.stderr)
p.kill()
p.wait()
PY
jmd_stop
ok "jmctl on an exited, unreaped process says it has exited"
