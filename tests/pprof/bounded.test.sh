#!/usr/bin/env bash
# The profile jmstatd --pprof serves states the same live bytes and
# objects as `jmctl sites` and `jmctl sites --pprof`: bounded, in each size
# class, by what the process holds there (docs/sites.md), the objects in
# the proportion the bytes were brought down in. demo_fragment -a keeps the
# first object of each page, so every sampled object (on a page of its
# own) is kept and most others freed: its raw estimates are some thirty-five
# times what it holds. /pid/PID/debug/pprof/heap gave the raw ones (45.6 MB
# inuse_space in a process holding 1.65 MB) while jmctl gave the bounded
# (1.30 MB); then the bounded bytes, but raw inuse_objects (until session
# 35: 350-400k objects in a process holding 10k, in the HTTP profile,
# jmctl's and the sites reply alike).
# Judged: the HTTP profile's inuse_space total within 2% of jmctl's
# profile's and at most the process's allocated bytes; its inuse_objects
# the same as jmctl's profile's and the sites reply's (to the object), and
# at most the objects the process holds (its bins' in use, its large and
# huge regions); alloc_space, which no bound touches, the same in both.
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
python3 - "$J_IN" "$H_IN" "$J_AL" "$H_AL" "$JM_ROOT/tests/pprof" <<'PY' || fail "the HTTP profile's live bytes or objects are not the bounded ones"
import json, sys
j_in, h_in, j_al, h_al = (int(x) for x in sys.argv[1:5])
sys.path.insert(0, sys.argv[5])
import profile
def objects(path):  # the profile's inuse_objects, summed
    return sum(smp["value"][2] for smp in profile.load(path)["sample"])
j_ob, h_ob = objects("jmctl.pb.gz"), objects("http.pb.gz")
sites = json.load(open("sites.json"))["sites"]
st = json.load(open("stats.json"))
alloc = st.get("allocated", st.get("stats", {}).get("allocated"))
def find(o, key):  # the first list under key, anywhere in the reply
    if isinstance(o, dict):
        if isinstance(o.get(key), list):
            return o[key]
        o = list(o.values())
    if isinstance(o, list):
        for v in o:
            r = find(v, key)
            if r is not None:
                return r
    return None
held = sum(b["inuse"] for b in find(st, "bins")) + sum(
    a["nmalloc_large"] - a["ndalloc_large"] + a["nmalloc_huge"] - a["ndalloc_huge"]
    for a in find(st, "arenas"))
est = sum(s.get("estimated_bytes", s["live_bytes"]) for s in sites)
live = sum(s["live_bytes"] for s in sites)
s_ob = sum(s["live_objects"] for s in sites)
print("allocated %s, objects held %d; sites: live %d (raw %d), objects %d; inuse_space: "
      "jmctl %d, http %d; inuse_objects: jmctl %d, http %d; alloc_space: jmctl %d, http %d"
      % (alloc, held, live, est, s_ob, j_in, h_in, j_ob, h_ob, j_al, h_al))
assert any(s.get("bounded") for s in sites), "no site brought down: the test shows nothing"
assert abs(h_in - j_in) <= 0.02 * j_in, (h_in, j_in)
assert alloc is None or h_in <= alloc, (h_in, alloc)
assert abs(h_al - j_al) <= 0.02 * j_al, (h_al, j_al)
# One sample of the process: the reply, jmctl's profile and the HTTP one
# are made from the same segment read (wait_sampled, then nothing moves).
assert h_ob == j_ob == s_ob, ("inuse_objects: http, jmctl, sites", h_ob, j_ob, s_ob)
assert h_ob <= held, ("inuse_objects above the objects held", h_ob, held)
PY
ok "inuse_space of /pid/PID/debug/pprof/heap bounded as jmctl's (within 2%), inuse_objects the same as jmctl's and within the objects held, alloc_space the same"
