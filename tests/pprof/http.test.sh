#!/usr/bin/env bash
# jmstatd --pprof serves heap profiles on its metrics listener, read by a
# real pprof by URL: /pid/PID/debug/pprof/heap of a program built with -O2
# and no frame pointers names both of its holders within 25% (go tool
# pprof -top -sample_index=inuse_space), allocs defaults to alloc_space,
# and after one frees its inuse_space falls below 10%; /exe/NAME of two
# processes of one binary shows each function once with the sum of both.
# No address in the profiles is a runtime address of the process (checked
# against /proc/PID/maps), the profiles follow the format's rules, and
# errors are HTTP statuses with one line of reason.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_sites
need_pprof
cd "$JM_TMP"

"$JMSTATD" --pprof --socket "$JMD_SOCK" --stats-dir "$JMD_STATS" >out.txt 2>&1; rc=$?
[ "$rc" = 2 ] && grep -q -- "--metrics" out.txt || fail "--pprof without --metrics: exit $rc, $(cat out.txt)"
ok "--pprof without --metrics is refused (exit 2)"

build_holders holders
jmd_start --metrics 127.0.0.1:0 --pprof
grep -q "serving heap profiles" jmstatd.log || fail "no log line says that heap profiles are served"
export JMALLOC_CONF=prof_sample:65536
TRUTH=$((24 << 20))
start_preloaded ./holders 49152 512 3072 8192
P1=$LAST_PID
OUT1=$LAST_OUT
start_preloaded ./holders 49152 512 3072 8192
P2=$LAST_PID
OUT2=$LAST_OUT
JMALLOC_CONF=prof_sample:0 start_preloaded ./holders 16 512 16 512
OFF=$LAST_PID
wait_line "$OUT1" '^ready$'
wait_line "$OUT2" '^ready$'
wait_sampled "$P1"
wait_sampled "$P2"
wait_sampled "$OFF"

pprof_top "$JMD_URL/pid/$P1/debug/pprof/heap" -sample_index=inuse_space >inuse.json
pprof_top "$JMD_URL/pid/$P1/debug/pprof/allocs" >alloc.json
grep -q '^Type: alloc_space' "$JM_TMP/top.txt" || fail "allocs does not default to alloc_space: $(head -5 "$JM_TMP/top.txt")"
pprof_top "$JMD_URL/exe/holders/debug/pprof/heap" >exe.json
grep -q '^Type: inuse_space' "$JM_TMP/top.txt" || fail "heap does not default to inuse_space"
python3 - "$TRUTH" <<'PY' || fail "the profiles by URL"
import json, sys
truth = int(sys.argv[1])
inuse, alloc, exe = (json.load(open(f)) for f in ("inuse.json", "alloc.json", "exe.json"))
for fn in ("hold_alpha", "hold_beta"):
    assert fn in inuse and fn in alloc and fn in exe, (fn, sorted(inuse), sorted(exe))
    print("%s: pid inuse_space %d, alloc_space %d; exe inuse_space %d (truth %d, %d)"
          % (fn, inuse[fn][0], alloc[fn][0], exe[fn][0], truth, 2 * truth))
    assert abs(inuse[fn][0] / truth - 1) <= 0.25, (fn, inuse[fn])
    assert abs(alloc[fn][0] / truth - 1) <= 0.25, (fn, alloc[fn])
    assert abs(exe[fn][0] / (2 * truth) - 1) <= 0.25, (fn, exe[fn])
PY
ok "go tool pprof by URL: both holders within 25% (pid heap and allocs), and the exe's sum of two processes"

# GET / links /metrics and, with --pprof, each running executable's profiles.
curl -sf "$JMD_URL/" >index.html || fail "GET /"
grep -q 'href="metrics"' index.html && grep -q 'href="exe/holders/debug/pprof/heap"' index.html &&
	grep -q 'href="exe/holders/debug/pprof/allocs"' index.html || { cat index.html; fail "GET / lacks the links"; }
[ "$(grep -c 'exe/holders/debug/pprof/heap' index.html)" -eq 1 ] || fail "an executable listed twice on /"
curl -sf -o /dev/null "$JMD_URL/exe/holders/debug/pprof/heap" || fail "the link of / does not answer"
ok "GET /: links to /metrics and to each executable's heap profiles"

for p in "$P1" "$P2"; do
	[ "$(http_get "/pid/$p/debug/pprof/heap" "pid$p.pb.gz")" = 200 ] || fail "GET /pid/$p/debug/pprof/heap"
	cat "/proc/$p/maps" >"maps$p.txt"
done
[ "$(http_get /exe/holders/debug/pprof/allocs exe.pb.gz)" = 200 ] || fail "GET /exe/holders/debug/pprof/allocs"
python3 - "$P1" "$P2" <<'PY' || fail "the profiles' contents"
import sys, profile
p1, p2 = sys.argv[1], sys.argv[2]
ranges = []
for pid in (p1, p2):
    for line in open("maps%s.txt" % pid):
        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
        ranges.append((lo, hi))
def runtime(a):
    return any(lo <= a < hi for lo, hi in ranges)
profs = {"pid1": profile.load("pid%s.pb.gz" % p1), "pid2": profile.load("pid%s.pb.gz" % p2),
         "exe": profile.load("exe.pb.gz")}
for name, p in profs.items():
    profile.check(p, "alloc_space" if name == "exe" else "inuse_space")
    addrs = [l["address"] for l in p["location"]]
    addrs += [m[k] for m in p["mapping"] for k in ("memory_start", "memory_limit", "file_offset")]
    bad = [hex(a) for a in addrs if runtime(a)]
    assert not bad, (name, bad[:5])
    assert all(not l["line"] for l in p["location"]), "the daemon symbolized something"
    m0 = p["mapping"][0]
    assert profile.s(p, m0["filename"]).endswith("/holders") and len(profile.s(p, m0["build_id"])) == 40, m0
    # each location in its mapping: a file offset inside the segment
    maps = {m["id"]: m for m in p["mapping"]}
    for l in p["location"]:
        if l["mapping_id"]:
            m = maps[l["mapping_id"]]
            assert m["memory_start"] <= l["address"] < m["memory_limit"], (l, m)
    print("%s: %d samples, %d locations, %d mappings, %d addresses, none a runtime address"
          % (name, len(p["sample"]), len(p["location"]), len(p["mapping"]), len(addrs)))
# One binary: the same sites have the same identity in both processes, so
# the exe's profile has the stacks of one, each once, with the sums.
a, b, e = profs["pid1"], profs["pid2"], profs["exe"]
key = lambda p: {tuple(p["location"][i - 1]["address"] for i in smp["location_id"]): smp["value"]
                 for smp in p["sample"]}
ka, kb, ke = key(a), key(b), key(e)
assert len(e["sample"]) == len(ke), "a stack twice in the exe profile"
assert set(ke) == set(ka) | set(kb), (len(ke), len(ka), len(kb))
for st, v in ke.items():
    want = [x + y for x, y in zip(ka.get(st, [0] * 4), kb.get(st, [0] * 4))]
    assert v == want, (st, v, want)
assert len(e["mapping"]) == len(a["mapping"]), "mappings not joined by build-id"
PY
ok "no runtime address in the profiles; the exe's stacks each once, the sum of its two processes"

kill -USR1 "$P1"
wait_line "$OUT1" '^freed$'
wait_sampled "$P1"
pprof_top "$JMD_URL/pid/$P1/debug/pprof/heap" -sample_index=inuse_space >after.json
python3 - "$TRUTH" <<'PY' || fail "after the free"
import json, sys
truth = int(sys.argv[1])
after = json.load(open("after.json"))
a = after.get("hold_alpha", [0, 0])[0]
print("after the free: hold_alpha inuse_space %d" % a)
assert a < 0.10 * truth, a
assert abs(after["hold_beta"][0] / truth - 1) <= 0.25, after["hold_beta"]
PY
ok "by URL: hold_alpha's inuse_space falls below 10% when it frees"

check_status() {
	local want=$1 path=$2 pattern=$3 got
	got=$(http_get "$path" body.txt)
	[ "$got" = "$want" ] && [ "$(wc -l <body.txt)" = 1 ] && grep -q "$pattern" body.txt ||
		fail "GET $path: want $want '$pattern', got $got '$(cat body.txt)'"
}
check_status 404 /pid/1/debug/pprof/heap "no process 1"
check_status 400 /pid/12x/debug/pprof/heap "PID must be"
check_status 400 /pid/0/debug/pprof/heap "PID must be"
check_status 404 "/pid/$OFF/debug/pprof/heap" "samples no allocations"
check_status 404 "/pid/$P1/debug/pprof/goroutine" "not found"
check_status 404 /exe/nothing-here/debug/pprof/heap "no live process of exe nothing-here"
check_status 400 /exe/a%2Fb/debug/pprof/heap "NAME must be"
check_status 400 /exe/%zz/debug/pprof/heap "NAME must be"
check_status 404 /debug/pprof/heap "not found"
[ "$(http_get /exe/hol%64ers/debug/pprof/heap)" = 200 ] || fail "a percent-encoded exe name"
ok "errors: 400 and 404 with a one-line reason"

# The fleet's scrape configurations ask for paths that jmstatd serves.
python3 - "$JM_ROOT" >paths.txt <<'PY' || fail "the fleet configurations"
import re, sys
root = sys.argv[1]
parca = open(root + "/fleet/parca.yaml").read()
jobs = re.findall(r"path_prefix: (\S+)\n\s+pprof_config:\n\s+memory:\n\s+enabled: true\n\s+path: (\S+)", parca)
assert jobs and len(jobs) == parca.count("- job_name:"), jobs
assert parca.count("enabled: true") == len(jobs), "only memory is enabled"
for prefix, path in jobs:
    print(prefix + path)
alloy = open(root + "/fleet/alloy-pyroscope.alloy").read()
path = re.search(r'profile\.memory \{\s*enabled = true\s*path\s*= "([^"]+)"', alloy).group(1)
for prefix in re.findall(r'"__profile_path_prefix__" = "([^"]+)"', alloy):
    print(prefix + path)
PY
[ -s paths.txt ] || fail "no path in the fleet configurations"
while read -r p; do
	q=$(printf '%s' "$p" | sed 's|^/exe/[^/]*/|/exe/holders/|')
	[ "$(http_get "$q")" = 200 ] || fail "the fleet path $p (as $q) is not served"
done <paths.txt
ok "the Pyroscope (Alloy) and Parca configurations scrape paths jmstatd serves"
