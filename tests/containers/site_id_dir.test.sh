#!/usr/bin/env bash
# timeout: 120
# A site's id is keyed by its process's uid (site_id_uid.test.sh), and
# root in a container without a user namespace (Docker's and Kubernetes'
# default) is uid 0 on the host: its processes shared one key with root's
# host services and with every other such container. Its root writes a
# candidate load address's frames into site rows of its own segment
# (theirs to write) and reads their ids off /metrics (5 sites an exe a
# tick, as many exes as it runs processes; the port reachable from a pod
# in most clusters) or `sites`, the label of a neighbour's site beside
# them: the search for where the neighbour's code is loaded, which the
# key was to stop. The id is now keyed by the stats directory too: the
# same stack in the host's directory and in two containers' own has
# three ids. The stacks are made the same without forging: sites_deep
# without address randomisation (setarch -R), on the host and as pid 1
# of two containers with a tmpfs of their own on the stats directory.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_cmd setarch
[ -x "$JM_HELPERS/sites_deep" ] || skip "build/tests/helpers/sites_deep is not built"
jmd_start
jmd_py - <<'PY'
from jmd import *
import atexit, platform, subprocess, sys

deep = [os.path.join(os.environ["JM_HELPERS"], "sites_deep")]
norand = ["setarch", platform.machine(), "-R"]
conf = {"JMALLOC_CONF": "prof_sample:65536"}
env = dict(os.environ, LD_PRELOAD=os.environ["JMALLOC_LIB"], JMALLOC_STATS_DIR=STATS_DIR, **conf)
host = subprocess.Popen(norand + deep, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env)
atexit.register(host.kill)
line = host.stdout.readline().decode().split()
check(line[:1] == ["ready"], "sites_deep on the host: %r" % line)
a = Container(private=True, env_extra=conf, program=norand + deep)
atexit.register(a.p.kill)
b = Container(private=True, env_extra=conf, program=norand + deep)
atexit.register(b.p.kill)
procs = {"host": host.pid, "container a": a.host_pid, "container b": b.host_pid}

def ids(pid):
    r = request({"cmd": "sites", "pid": pid, "n": 100})
    sites = r.get("sites") if isinstance(r, dict) else None
    if not sites:
        return None
    return {tuple(s["frames"]): s["id"] for s in sites}

seen = {}
for name, pid in procs.items():
    seen[name] = wait_until(lambda: ids(pid), "the sites of %s (pid %d)" % (name, pid))
common = set.intersection(*(set(v) for v in seen.values()))
print("stacks:", {k: len(v) for k, v in seen.items()}, "the same frames in all:", len(common))
if not common:
    print("no stack with the same addresses in the three processes (ASLR still on?)")
    sys.exit(77)
shared = 0
names = list(procs)
for i in range(len(names)):
    for j in range(i + 1, len(names)):
        same = [k for k in common if seen[names[i]][k] == seen[names[j]][k]]
        if same:
            print("%s and %s show one id for %d stacks: %s" % (names[i], names[j], len(same),
                  sorted(seen[names[i]][k] for k in same)[:3]))
            shared += 1
sys.exit(1 if shared else 0)
PY
case $? in
0) ok "the same stack of uid 0 on the host and in two containers has three ids" ;;
77) skip "setarch -R did not give the processes the same addresses" ;;
*) fail "a container's root is shown the id of another directory's site for the same frames" ;;
esac
jmd_stop
