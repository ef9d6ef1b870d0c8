#!/usr/bin/env bash
# timeout: 120
# The cap of per-bin exes per user on /metrics (exposure.test.sh: 32, the
# rest in {exe="_other"}) with subordinate uids: 34 processes of 34
# exe names, each run as another uid of nobody's subordinate range
# (--subuid-file). Each uid had its own 32: every one got series of its
# own (a user with 65,536 uids, 2 million exes). Now they are nobody's:
# 32 named, the rest summed in nobody's _other.
. "$(dirname "$0")/../lib.sh"
need_users "run processes as other uids"
need_segments
jm_public "$JM_HELPERS/demo_fragment"
for i in $(seq 1 34); do ln -s demo_fragment "$JM_TMP/pub/prog_$i"; done
printf 'nobody:200000:65536\n' >"$JM_TMP/subuid"
jmd_start --metrics 127.0.0.1:0 --subuid-file "$JM_TMP/subuid"
export METRICS_URL=$JMD_URL/metrics
for i in $(seq 1 34); do
	setpriv --reuid=$((200000 + i)) --regid=$((200000 + i)) --clear-groups \
		env JMALLOC_STATS_DIR="$JMD_STATS" LD_PRELOAD="$JM_TMP/pub/libjmalloc.so" \
		JMALLOC_CONF=prof_sample:0 "$JM_TMP/pub/prog_$i" -s 64 -c 1000 -r 1 >/dev/null 2>&1 &
	PIDS+=($!)
done
jmd_py - <<'EOF' || fail "per-bin exes of subordinate uids"
from jmd import *
import re, urllib.request
url = os.environ["METRICS_URL"]
wait_until(lambda: sum(1 for p in ps_pids().values() if p.get("uid", 0) > 200000) == 34,
           "the 34 processes", timeout=60)
def exes():
    page = urllib.request.urlopen(url, timeout=20).read().decode()
    return set(re.findall(r'^jmalloc_bin_\w+\{exe="([^"]*)",uid="(\d+)",size=', page, re.M))
got = wait_until(lambda: (lambda e: e if len({x for x in e if x[0].startswith("prog_")}) >= 32
                          and any(x[0] == "_other" for x in e) else None)(exes()),
                 "32 exes and an _other", timeout=30)
named = {x for x in got if x[0].startswith("prog_")}
check(len(named) == 32, "exes with series of their own: %d" % len(named))
check(("_other", "65534") in got, "no _other of nobody: %r" % sorted(got))
print("34 exes of 34 subordinate uids of nobody: 32 named, the rest in nobody's _other")
EOF
jmd_stop
echo "ok"
