#!/usr/bin/env bash
# timeout: 120
# A pid reused between the daemon's check of a new writer and its reads
# of /proc/PID by pid (the twelfth pass). A new process's segment is
# checked against /proc through a pidfd opened first (its start, its
# uids); then its cgroup (the container and pod labels) and its start
# were read from /proc/PID/cgroup and /proc/PID/stat by pid. Had the
# writer ended in between and its pid gone to root's container's process,
# the user's process was labelled as root's container and given that
# process's start (in ps, /metrics and its alerts until the next tick,
# and in history for as long as it is kept: `history PID -s START` tells
# processes of one pid apart by it). Now what was read is kept only if
# the writer still runs after the reads.
#
# Staged without timing: gdb stops the daemon where it reads the new
# writer's cgroup (jmd_labels_read); meanwhile nobody's process is killed
# and root's started under its pid (ns_last_pid) in a root-owned cgroup
# named as a container; then the daemon goes on. nobody's process
# published 3 s after its start (a shell that sleeps, then execs the
# preloaded program), so the two start times are 3 s apart.
. "$(dirname "$0")/../lib.sh"
need_users "run a process as nobody under a reused pid"
need_segments
need_jmctl
need_cmd gdb
need_ns_last_pid
need_cgroup_base
ID=$(container_id)
ROOTCG=$base/system.slice/docker-$ID.scope
mkdir -p "$ROOTCG" || skip "cannot make nested cgroups under $cg2"
nobody_pub
cd "$JM_TMP"
# No other writer than nobody's: the first stop at jmd_labels_read is its.
jmd_start --no-containers

mkfifo ctl ctl2 done
jmd_py - "$P/libjmalloc.so" "$ROOTCG" <<'PY' >ctl.out 2>&1 &
from jmd import *
lib, cg = sys.argv[1:3]
def ticks(pid):
    return int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[19])
open("ctl").readline()
u = os.fork()
if u == 0:
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
    os.execve("/bin/sh", ["sh", "-c", 'sleep 3; LD_PRELOAD="$1" JMALLOC_STATS_DIR="$2" exec sleep 300',
                          "sh", lib, STATS_DIR], {"PATH": "/usr/bin:/bin"})
print("nobody", u, ticks(u), flush=True)
open("ctl2").readline()
tu = ticks(u)
os.kill(u, 9)
os.waitpid(u, 0)
def join():
    with open(cg + "/cgroup.procs", "w") as f:
        f.write("0")
child = start_at(u, join)
if child:
    print("root", child, ticks(child), flush=True)
else:
    print("root not started under pid %d" % u, flush=True)
open("done", "w").write("swapped %d\n" % child)
if child:
    os.waitpid(child, 0)
PY
CTL=$!
PIDS+=("$CTL")
jmd_gdb_stage jmd_labels_read "echo go > $JM_TMP/ctl" "echo swap > $JM_TMP/ctl2 && cat $JM_TMP/done"
cat ctl.out
U=$(awk '$1 == "nobody" { print $2 }' ctl.out)
[ -n "$U" ] || fail "nobody's process not started: $(cat ctl.out)"
grep -q "^root $U " ctl.out || skip "$(tail -1 ctl.out) (pids taken meanwhile)"
PIDS+=("$U")     # root's process under nobody's pid: stopped at the end
jmd_gdb_stopped jmd_labels_read
grep -Eq "host=(host@entry=)?$U[,)]" gdb.out || fail "the daemon stopped for another process: $(grep Breakpoint gdb.out)"
TU=$(awk '$1 == "nobody" { print $3 }' ctl.out)
TR=$(awk '$1 == "root" { print $3 }' ctl.out)

# The daemon retires nobody's process at its next tick (its pidfd): then
# history keeps it, dead.
for i in $(seq 1 100); do
	"$JMCTL" --socket "$JMD_SOCK" --json history "$U" >hist.json 2>hist.err &&
		python3 -c 'import json,sys; sys.exit(0 if json.load(open("hist.json")).get("alive") is False else 1)' && break
	sleep 0.1
done
cat hist.json | head -c 300; echo
TU=$TU TR=$TR ID=$ID python3 - hist.json <<'PY' || fail "nobody's process took what /proc said of root's under its pid"
import json, os, sys
h = json.load(open(sys.argv[1]))
btime = next(int(l.split()[1]) for l in open("/proc/stat") if l.startswith("btime "))
hz = os.sysconf("SC_CLK_TCK")
want = btime + int(os.environ["TU"]) / hz
root = btime + int(os.environ["TR"]) / hz
bad = []
if h.get("uid") != 65534 or h.get("alive") is not False:
    bad.append("not nobody's dead process: %r" % {k: h.get(k) for k in ("uid", "alive")})
if abs(h["started"] - want) > 0.02:
    bad.append("started %.2f: nobody's process started at %.2f, root's at %.2f" % (h["started"], want, root))
if h.get("container") == os.environ["ID"]:
    bad.append("labelled as root's container")
print("\n".join(bad) or "ok: started %.2f, container %r" % (h["started"], h.get("container")))
sys.exit(1 if bad else 0)
PY
ok "nobody's process keeps its own start and no container after its pid went to root's container's"
jmd_stop
echo "ok"
