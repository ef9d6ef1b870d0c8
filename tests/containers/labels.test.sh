#!/usr/bin/env bash
# timeout: 120
# Labels: a container's process is labelled with its cgroup and, where the
# cgroup path says so, its container id and Kubernetes pod uid (as cAdvisor
# and the Parca agent derive them). Two containers (unshare) are moved into
# cgroups made to look like Docker's (system.slice/docker-ID.scope) and
# like a Kubernetes pod's under the systemd driver
# (kubepods-burstable-podUID.slice/cri-containerd-ID.scope); a host process
# has neither. ps and stats carry cgroup, container and pod; jmctl ps shows
# a short CONTAINER column and --container ID keeps that container's
# processes (by prefix); the pod's process fragments its heap and fires the
# fragmentation alert with its container and pod, in jmctl alerts --json,
# the alert's log line and /metrics, which promtool checks.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_cgroup_base
ID1=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
ID2=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
POD=$(python3 -c 'import uuid; print(uuid.uuid4())')
CG1=$base/system.slice/docker-$ID1.scope
CG2=$base/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD//-/_}.slice/cri-containerd-$ID2.scope
mkdir -p "$CG1" "$CG2" || skip "cannot make nested cgroups under $cg2"
export ID1 ID2 POD CG1 CG2 cg2

printf '[rule frag]\nkind = fragmentation\nratio = 0.5\nclear = 0.2\nmin_wasted = 16MiB\nfor = 1s\n' \
	>"$JM_TMP/rules.conf"
jmd_start --config "$JM_TMP/rules.conf" --metrics :0

jmd_py - "$JMD_LOG" "$JM_TMP/page.txt" <<'PY' || fail "labels"
import atexit, json, re, subprocess, sys
from alib import *
from jmd import *

log_path, page_path = sys.argv[1], sys.argv[2]
ID1, ID2, POD = os.environ["ID1"], os.environ["ID2"], os.environ["POD"]
cs = []
atexit.register(lambda: [c.p.kill() for c in cs])
docker = Container(cgroup=os.environ["CG1"])
frag = Container(private=True, cgroup=os.environ["CG2"],
                 program=["python3", os.path.join(os.environ["JM_ROOT"], "tests/alerts/fragmenter.py")])
cs += [docker, frag]
host = Holder()
cs.append(host)
rel = lambda cg: cg[len(os.environ["cg2"]):]

ps = wait_until(lambda: (lambda v: all(p in v for p in (docker.host_pid, frag.host_pid, host.pid)) and v)(ps_pids()),
                "the two containers and the host process in ps")
d, f, h = ps[docker.host_pid], ps[frag.host_pid], ps[host.pid]
check(d["container"] == ID1 and d["pod"] is None and d["cgroup"].endswith(rel(os.environ["CG1"])),
      "docker labels: %r" % {k: d[k] for k in ("cgroup", "container", "pod")})
check(f["container"] == ID2 and f["pod"] == POD and f["cgroup"].endswith(rel(os.environ["CG2"])),
      "pod labels: %r" % {k: f[k] for k in ("cgroup", "container", "pod")})
check(h["container"] is None and h["pod"] is None, "host process labelled: %r" % h)
st = stats(frag.host_pid)
check(st["container"] == ID2 and st["pod"] == POD and st["ns_pid"] == 1, "stats labels: %r" % st)

jmctl = [os.environ["JMCTL"], "--socket", SOCK]
out = subprocess.run(jmctl + ["ps"], capture_output=True, text=True, check=True).stdout
lines = out.splitlines()
check("CONTAINER" in lines[0].split(), "no CONTAINER column: %r" % lines[0])
row = [l for l in lines if l.split()[0] == str(docker.host_pid)]
check(row and ID1[:12] in row[0].split() and ID1[:13] not in row[0], "docker row: %r" % row)
out = subprocess.run(jmctl + ["ps", "--container", ID2[:6]], capture_output=True, text=True,
                     check=True).stdout
pids = [l.split()[0] for l in out.splitlines()[1:]]
check(pids == [str(frag.host_pid)], "--container %s kept %r" % (ID2[:6], pids))
out = subprocess.run(jmctl + ["--json", "ps", "--container", ID1], capture_output=True, text=True,
                     check=True).stdout
check([p["pid"] for p in json.loads(out)["processes"]] == [docker.host_pid], "--json --container")
r = subprocess.run(jmctl + ["ps", "--container", "xyz"], capture_output=True, text=True)
check(r.returncode == 2, "--container xyz: exit %d" % r.returncode)

# The pod's process fragments: the alert carries its container and pod.
check(frag.ask("frag 192 300000").startswith("ok"), "fragmenter")
def firing():
    r = request({"cmd": "alerts"})
    v = [a for a in r["alerts"] if a["pid"] == frag.host_pid and a["state"] == "firing"]
    return v[0] if v else None
a = wait_until(firing, "the fragmentation alert of the pod's process firing", timeout=40)
check(a["container"] == ID2 and a["pod"] == POD, "alert: %r" % a)
text = open(log_path).read()
check(re.search(r"alert %d frag: pid %d \(python3, container %s\)" % (a["id"], frag.host_pid, ID2[:12]), text),
      "the alert's log line lacks the container:\n" + text[-1500:])
port = log_port(log_path)
status, headers, body = http_get(port)
check(status == 200, "GET /metrics: %d" % status)
open(page_path, "w").write(body)
m, types = parse(body)
check(value(m, "jmalloc_alert_state", rule="frag", pid=str(frag.host_pid), exe="python3",
            container=ID2, pod=POD) == 2,
      "jmalloc_alert_state of the pod's process")
check(value(m, "jmalloc_process_allocated_bytes", pid=str(frag.host_pid), exe="python3",
            container=ID2, pod=POD) is not None,
      "per-process series lack the container")
check(value(m, "jmalloc_process_allocated_bytes", pid=str(host.pid), exe="daemon_holder") is not None,
      "the host process's series")
print("labels: docker %s, pod %s (container %s); alert %d firing with them" % (ID1[:12], POD, ID2[:12], a["id"]))
PY
need_promtool "the page of /metrics with container labels"
promtool check metrics <"$JM_TMP/page.txt" || fail "promtool check metrics"
jmd_stop
echo "ok"
