#!/usr/bin/env bash
# timeout: 120
# A user may not pass a process of theirs off as root's container. systemd
# delegates user@UID.service's cgroup subtree to its user (and a unit's to
# its User= with Delegate=): they may make cgroups named as they like there,
# docker-<root's container id>.scope or kubepods-...-pod<root's pod>.slice,
# and move a process into one. The daemon took the container id and the pod
# uid from the path's names alone: nobody's process was labelled as root's
# container in ps, `ps --container`, /metrics (whose per-process series have
# no uid: summed with root's container's) and its alerts
# (JMALLOC_ALERT_CONTAINER, for root's command). Now an id is taken only
# from a cgroup directory that root owns (the runtime's, systemd's system
# instance's). Here root's "container" is a cgroup root made, and nobody
# is given a delegated cgroup (owned by it, as systemd does) in which it
# makes the same names: nobody's process keeps its cgroup but has neither
# label; root's keeps both; and a cgroup nobody makes inside root's
# container (a user namespace's container making its own) leaves the
# process root's container's id, not the one it named.
. "$(dirname "$0")/../lib.sh"
need_users "run a process as nobody in a delegated cgroup"
need_segments
need_jmctl
need_cgroup_base
ID=$(container_id)
ID2=$(container_id)
POD=$(python3 -c 'import uuid; print(uuid.uuid4())')
ROOTCG=$base/kubepods-pod${POD//-/_}.slice/cri-containerd-$ID.scope
DELEG=$base/user.slice/user@65534.service
mkdir -p "$ROOTCG/i" "$DELEG" || skip "cannot make nested cgroups under $cg2"
cgroup_delegate 65534 "$DELEG" "$ROOTCG/i"
nobody_pub
jmd_start --metrics :0

# Root's process in root's container.
sh -c "echo \$\$ >'$ROOTCG/cgroup.procs' && JMALLOC_STATS_DIR='$JMD_STATS' LD_PRELOAD='$JMALLOC_LIB' exec sleep 300" &
R=$!
PIDS+=("$R")
# nobody's, in a cgroup of theirs named as root's pod and container.
FAKE=$DELEG/kubepods-pod${POD//-/_}.slice/cri-containerd-$ID.scope
sh -c "echo \$\$ >'$DELEG/cgroup.procs' && exec ${NOBODY[*]} sh -c \"mkdir -p '$FAKE' && echo \\\$\\\$ >'$FAKE/cgroup.procs' && JMALLOC_STATS_DIR='$JMD_STATS' LD_PRELOAD='$P/libjmalloc.so' exec sleep 300\"" &
U=$!
PIDS+=("$U")
# nobody's, in a cgroup of theirs inside root's container, named as another.
INNER=$ROOTCG/i/docker-$ID2.scope
sh -c "echo \$\$ >'$ROOTCG/i/cgroup.procs' && exec ${NOBODY[*]} sh -c \"mkdir -p '$INNER' && echo \\\$\\\$ >'$INNER/cgroup.procs' && JMALLOC_STATS_DIR='$JMD_STATS' LD_PRELOAD='$P/libjmalloc.so' exec sleep 300\"" &
N=$!
PIDS+=("$N")
for p in $R $U $N; do wait_seen "$p"; done
[ "$(stat -c %u "$FAKE")" = 65534 ] || fail "nobody's cgroup is not nobody's"

"$JMCTL" --socket "$JMD_SOCK" --json ps >"$JM_TMP/ps.json" || fail "jmctl ps"
http_get /metrics "$JM_TMP/page.txt" >"$JM_TMP/status" || fail "GET /metrics"
R=$R U=$U N=$N ID=$ID POD=$POD python3 - "$JM_TMP/ps.json" "$JM_TMP/page.txt" <<'PY' || fail "labels"
import json, os, sys
ps = {p["pid"]: p for p in json.load(open(sys.argv[1]))["processes"]}
R, U, N = (int(os.environ[k]) for k in "RUN")
ID, POD = os.environ["ID"], os.environ["POD"]
lab = lambda p: {k: ps[p][k] for k in ("cgroup", "container", "pod")}
bad = []
if ps[R]["container"] != ID or ps[R]["pod"] != POD:
    bad.append("root's process: %r" % lab(R))
if ps[U]["container"] is not None or ps[U]["pod"] is not None or "user@65534.service" not in ps[U]["cgroup"]:
    bad.append("nobody's process in its own cgroup named as root's container: %r" % lab(U))
if ps[N]["container"] != ID or ps[N]["pod"] != POD or "/i/" not in ps[N]["cgroup"]:
    bad.append("nobody's process in a cgroup of its own inside root's container: %r" % lab(N))
page = open(sys.argv[2]).read()
rows = [l for l in page.splitlines() if l.startswith("jmalloc_process_active_bytes{")]
with_id = sorted(int(l.split('pid="')[1].split('"')[0]) for l in rows if 'container="%s"' % ID in l)
if with_id != sorted([R, N]):
    bad.append("/metrics gives container %s to pids %r, not %r" % (ID[:12], with_id, sorted([R, N])))
print("\n".join(bad) or "ok: %r" % lab(N))
sys.exit(1 if bad else 0)
PY
out=$("$JMCTL" --socket "$JMD_SOCK" ps --container "${ID:0:12}") || fail "jmctl ps --container"
echo "$out" | awk 'NR > 1 { print $1 }' | grep -qx "$U" && fail "ps --container lists nobody's process:
$out"
jmd_stop
echo "ok"
