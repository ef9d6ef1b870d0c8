#!/usr/bin/env bash
# timeout: 180
# What one user can learn of, and do to, the others through /metrics and
# `version` (docs/security.md):
#  - --metrics-token-file: no token or a wrong one is 401 (with
#    WWW-Authenticate), the token is 200, on every path of the listener;
#  - cardinality: 40 processes of nobody with 40 exe names give per-bin
#    series to 32 of them, the rest summed in {exe="_other",uid="65534"};
#  - `version` tells nobody its own counts only (scope "uid"), root the
#    host's.
# Needs root (to be root and nobody) and setpriv.
. "$(dirname "$0")/../lib.sh"
need_users "run processes as nobody"
need_segments
jm_public "$JM_HELPERS/demo_fragment"
for i in $(seq 1 40); do ln -s demo_fragment "$JM_TMP/pub/prog_$i"; done
printf 's3cr3t-token\n' >"$JM_TMP/token"
chmod 600 "$JM_TMP/token"
jmd_start --metrics 127.0.0.1:0 --metrics-token-file "$JM_TMP/token"
export METRICS_URL=$JMD_URL/metrics

for i in $(seq 1 40); do
	setpriv --reuid=65534 --regid=65534 --clear-groups env JMALLOC_STATS_DIR="$JMD_STATS" \
		LD_PRELOAD="$JM_TMP/pub/libjmalloc.so" JMALLOC_CONF=prof_sample:0 \
		"$JM_TMP/pub/prog_$i" -s 64 -c 1000 -r 1 >/dev/null 2>&1 &
done
JMALLOC_STATS_DIR=$JMD_STATS LD_PRELOAD=$JMALLOC_LIB sleep 120 &
export ROOT_PID=$!

jmd_py - <<'EOF' || fail "exposure"
from jmd import *
import re, subprocess, urllib.request, urllib.error
url = os.environ["METRICS_URL"]
def get(path="/metrics", token=None):
    req = urllib.request.Request(url.replace("/metrics", path))
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()
st, hd, _ = get()
check(st == 401 and "Bearer" in hd.get("WWW-Authenticate", ""), "no token: %d %r" % (st, dict(hd)))
check(get(token="wrong")[0] == 401, "a wrong token")
check(get(token="s3cr3t-token0")[0] == 401, "a longer token")
check(get("/", token=None)[0] == 401, "/ without the token")
wait_until(lambda: sum(1 for p in ps_pids().values() if p.get("uid") == 65534) == 40,
           "nobody's 40 processes", timeout=60)
def bin_exes():
    st, _, page = get(token="s3cr3t-token")
    check(st == 200, "the token: %d" % st)
    return set(re.findall(r'^jmalloc_bin_\w+\{(exe="[^"]*"(?:,uid="\d+")?),size=', page, re.M)), page
def named(exes):
    return {e for e in exes if e.startswith('exe="prog_')}
# Until every exe with a slot of its own shows bins: a process seen before
# its first allocation has its slot but no bin series yet.
exes, page = wait_until(lambda: (lambda r: r if any("_other" in e for e in r[0]) and
                                 len(named(r[0])) >= 32 else None)(bin_exes()),
                        "nobody's exes past 32 summed in _other", timeout=30)
mine = named(exes)
print("per-bin exes: %d of nobody's named, %r" % (len(mine), sorted(e for e in exes if "_other" in e)))
check(len(mine) == 32, "nobody's exes with series of their own: %d" % len(mine))
check('exe="_other",uid="65534"' in exes, "no _other of nobody: %r" % sorted(exes))

def version_as_nobody():
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          "/usr/bin/python3", "-c",
                          "import json,socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]);"
                          "s.sendall(b'{\"cmd\":\"version\"}\\n'); print(s.makefile().readline())", SOCK],
                         capture_output=True, text=True, timeout=30)
    return json.loads(out.stdout)
v = version_as_nobody()
check(v["scope"] == "uid" and v["processes"] == 40, "nobody's version: %r" % v)
check("segments_bad" not in v and "segments_rejected" not in v, "nobody sees the host's segments: %r" % v)
r = request({"cmd": "version"})
check(r["scope"] == "host" and r["processes"] == 41, "root's version: %r" % r)
print("version: nobody sees %d processes, root %d" % (v["processes"], r["processes"]))
EOF
jmd_stop
echo ok
