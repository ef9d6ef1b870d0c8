#!/usr/bin/env bash
# The profile jmstatd --pprof serves states the same live bytes as `jmctl
# sites` and `jmctl sites --pprof`: bounded, in each size class, by what
# the process holds there (docs/sites.md). demo_fragment -a keeps the
# first object of each page, so every sampled object (on a page of its
# own) is kept and most others freed: its raw estimates are some thirty-five
# times what it holds. /pid/PID/debug/pprof/heap gave the raw ones (45.6 MB
# inuse_space in a process holding 1.65 MB) while jmctl gave the bounded
# (1.30 MB).
# Judged: the HTTP profile's inuse_space total within 2% of jmctl's
# profile's and at most the process's allocated bytes; alloc_space, which
# no bound touches, the same in both.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_sites
need_pprof
cd "$JM_TMP"

jmd_start --metrics 127.0.0.1:0 --pprof
unset JMALLOC_CONF
start_preloaded "$JM_HELPERS/demo_fragment" -c 100000 -r 0 -a
P=$LAST_PID
wait_line "$LAST_OUT" '^demo_fragment: pid'
wait_sampled "$P"

"$JMCTL" --socket "$JMD_SOCK" --json sites "$P" >sites.json || fail "jmctl --json sites"
"$JMCTL" --socket "$JMD_SOCK" --json stats "$P" >stats.json || fail "jmctl --json stats"
"$JMCTL" --socket "$JMD_SOCK" sites "$P" --pprof jmctl.pb.gz || fail "jmctl sites --pprof"
code=$(curl -s -o http.pb.gz -w '%{http_code}' "$JMD_URL/pid/$P/debug/pprof/heap")
[ "$code" = 200 ] || fail "/pid/$P/debug/pprof/heap: HTTP $code"
total() { # FILE SAMPLE_INDEX: the profile's total, in bytes
	go tool pprof -top -unit=B -sample_index="$2" "$1" 2>/dev/null |
		sed -n 's/.* of \([0-9]*\)B total.*/\1/p'
}
J_IN=$(total jmctl.pb.gz inuse_space) H_IN=$(total http.pb.gz inuse_space)
J_AL=$(total jmctl.pb.gz alloc_space) H_AL=$(total http.pb.gz alloc_space)
python3 - "$J_IN" "$H_IN" "$J_AL" "$H_AL" <<'PY' || fail "the HTTP profile's live bytes are not the bounded ones"
import json, sys
j_in, h_in, j_al, h_al = (int(x) for x in sys.argv[1:])
sites = json.load(open("sites.json"))["sites"]
st = json.load(open("stats.json"))
alloc = st.get("allocated", st.get("stats", {}).get("allocated"))
est = sum(s.get("estimated_bytes", s["live_bytes"]) for s in sites)
live = sum(s["live_bytes"] for s in sites)
print("allocated %s; sites: live %d (raw %d); inuse_space: jmctl %d, http %d; "
      "alloc_space: jmctl %d, http %d" % (alloc, live, est, j_in, h_in, j_al, h_al))
assert any(s.get("bounded") for s in sites), "no site brought down: the test shows nothing"
assert abs(h_in - j_in) <= 0.02 * j_in, (h_in, j_in)
assert alloc is None or h_in <= alloc, (h_in, alloc)
assert abs(h_al - j_al) <= 0.02 * j_al, (h_al, j_al)
PY
ok "inuse_space of /pid/PID/debug/pprof/heap bounded as jmctl's (within 2%), alloc_space the same"
