#!/usr/bin/env bash
# timeout: 120
# End to end with a real Prometheus server (Debian package prometheus):
# started on a loopback port with a temporary data directory, a 1 s scrape
# and evaluation interval and the shipped rule files (fleet/*.rules.yml,
# with their `for:` and group intervals shortened to 1 s), it scrapes
# jmstatd --metrics; a preloaded process fragments its heap on purpose;
# the shipped JmallocFragmentationHigh rule is seen firing for that pid
# through Prometheus's HTTP API (/api/v1/alerts), and a recording rule has
# the process's exe. Everything started here is stopped.
. "$(dirname "$0")/../lib.sh"
need_segments
command -v prometheus >/dev/null || skip "prometheus not installed (Debian package prometheus)"

jmd_start --metrics 127.0.0.1:0
port=$(jmd_py -c 'import sys; from alib import log_port; print(log_port(sys.argv[1]))' "$JMD_LOG") ||
	fail "no metrics port"
pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

mkdir -p "$JM_TMP/prom/data"
for f in "$JM_ROOT"/fleet/*.rules.yml; do
	sed -e 's/^\( *\)for: .*/\1for: 1s/' -e 's/^\( *\)interval: .*/\1interval: 1s/' \
		"$f" >"$JM_TMP/prom/$(basename "$f")"
done
grep -q "for: 1s" "$JM_TMP/prom/jmalloc-alerts.rules.yml" || fail "the test copy of the rules"
cat >"$JM_TMP/prom/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - jmalloc-alerts.rules.yml
  - jmalloc-recording.rules.yml
scrape_configs:
  - job_name: jmstatd
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ["127.0.0.1:$port"]
EOF
prometheus --config.file="$JM_TMP/prom/prometheus.yml" --storage.tsdb.path="$JM_TMP/prom/data" \
	--web.listen-address="127.0.0.1:$pport" --log.level=warn >"$JM_TMP/prom/log" 2>&1 &
PROM_PID=$!

stop_prometheus() {
	kill -TERM "$PROM_PID" 2>/dev/null || return 0
	wait "$PROM_PID" || true
	PROM_PID=
	return 0
}

jmd_py - "$pport" "$JM_TMP/prom/log" <<'EOF' || { cat "$JM_TMP/prom/log" >&2; stop_prometheus; fail "prometheus end to end"; }
import json, sys, urllib.parse, urllib.request
from alib import *

pport = int(sys.argv[1])
base = "http://127.0.0.1:%d" % pport

def api(path, **params):
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)

def ready():
    try:
        with urllib.request.urlopen(base + "/-/ready", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False
wait_until(ready, "prometheus ready", timeout=40, step=0.2)
wait_until(lambda: api("/api/v1/query", query='up{job="jmstatd"} == 1')["data"]["result"],
           "prometheus scraping jmstatd", timeout=30, step=0.2)

f = Fragmenter()
f.cmd("frag 192 400000")
wait_until(lambda: request({"cmd": "stats", "pid": f.pid}).get("frag_bytes", 0) > 64 << 20,
           "the fragmenter above 64 MiB of fragmented bytes")

def firing():
    for a in api("/api/v1/alerts")["data"]["alerts"]:
        l = a["labels"]
        if (l.get("alertname") == "JmallocFragmentationHigh" and l.get("pid") == str(f.pid)
                and a["state"] == "firing"):
            return a
    return None
a = wait_until(firing, "JmallocFragmentationHigh firing for pid %d" % f.pid, timeout=40, step=0.2)
print("prometheus: %s firing: %s" % (a["labels"]["alertname"], a["annotations"]["summary"]))
check(a["labels"]["job"] == "jmstatd" and a["labels"]["severity"] == "warning", "labels %r" % a["labels"])
check(float(a["value"]) > 0.5, "value %r" % a["value"])
exe = a["labels"]["exe"]
r = wait_until(lambda: api("/api/v1/query", query='exe:jmalloc_process_fragmentation_bytes:sum{exe="%s"}' % exe)
               ["data"]["result"], "the recording rule for %s" % exe, timeout=20, step=0.2)
check(float(r[0]["value"][1]) > 64 << 20, "recorded %r" % r)
f.exit()
print("ok")
EOF
stop_prometheus
jmd_stop
echo "ok"
