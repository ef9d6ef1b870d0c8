#!/usr/bin/env bash
# `jmctl sites PID --pprof FILE` read by a real pprof (Debian's go tool
# pprof): a program built with -O2 and no frame pointers holds 24 MiB from
# each of two functions; `-top -sample_index=inuse_space` names both within
# 25% of the truth, alloc_space shows what they allocated since start,
# and after one frees, its inuse_space falls below 10%. The profile's
# conventions (sample types, period, labels, mappings) as Go writes them.
#
# Sampling every 64 KiB, 24 MiB is about 380 samples' worth: the estimate's
# relative standard deviation is about 5%, and 25% is five of them.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_sites
need_pprof
cd "$JM_TMP"

build_holders holders
jmd_start
export JMALLOC_CONF=prof_sample:65536
TRUTH=$((24 << 20))
# alpha: 49152 x 512 B; beta: 3072 x 8 KiB.
start_ready ./holders 49152 512 3072 8192
PROG=$LAST_PID
OUT=$LAST_OUT

"$JMCTL" --socket "$JMD_SOCK" sites "$PROG" --pprof before.pb.gz || fail "jmctl sites --pprof FILE"
"$JMCTL" --socket "$JMD_SOCK" sites "$PROG" --pprof - >stdout.pb.gz || fail "jmctl sites --pprof -"
[ "$(head -c 2 stdout.pb.gz | od -An -tx1 | tr -d ' ')" = 1f8b ] ||
	fail "jmctl sites --pprof - does not write a gzip stream on standard output"
pprof_top before.pb.gz -sample_index=inuse_space >inuse.json
pprof_top stdout.pb.gz -sample_index=alloc_space >alloc.json
cat "$JM_TMP/top.txt"
python3 - "$TRUTH" <<'PY' || fail "inuse_space and alloc_space of hold_alpha and hold_beta"
import json, sys
truth = int(sys.argv[1])
inuse, alloc = json.load(open("inuse.json")), json.load(open("alloc.json"))
for fn in ("hold_alpha", "hold_beta"):
    assert fn in inuse and fn in alloc, (fn, sorted(inuse))
    print("%s: inuse_space %d, alloc_space %d, truth %d" % (fn, inuse[fn][0], alloc[fn][0], truth))
    assert abs(inuse[fn][0] / truth - 1) <= 0.25, (fn, inuse[fn])
    assert abs(alloc[fn][0] / truth - 1) <= 0.25, (fn, alloc[fn])
assert "main" in inuse and inuse["main"][1] >= inuse["hold_alpha"][0] + inuse["hold_beta"][0], inuse
PY
ok "go tool pprof -top: hold_alpha and hold_beta within 25% in inuse_space and alloc_space"

go tool pprof -raw before.pb.gz >raw.txt 2>&1 || fail "go tool pprof -raw"
python3 - <<'PY' || fail "the profile's conventions"
import re
raw = open("raw.txt").read()
types = re.search(r"^(alloc_objects/count .*)$", raw, re.M).group(1)
assert types == "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes[dflt]", types
assert "PeriodType: space bytes" in raw and "Period: 65536" in raw, raw[:300]
assert re.search(r"bytes:\[512\]", raw) and re.search(r"bytes:\[819[0-9]\]", raw), "bytes labels"
maps = re.findall(r"^\d+: 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ (\S+) ([0-9a-f]{40}) (.*)$", raw, re.M)
assert maps and maps[0][0].endswith("/holders") and "[FN][FL][LN]" in maps[0][2], maps[:2]
assert not any("libjmalloc" in m[0] for m in re.findall(r"^\d+: \S+ (\S+)", raw, re.M) if "Mappings" in raw)
assert not re.search(r"\bjm_|jm__", raw), "an allocator frame in the profile"
PY
ok "sample types, period, bytes labels, the program's mapping first with its build-id, no allocator frame"

kill -USR1 "$PROG"
wait_line "$OUT" '^freed$'
wait_sampled "$PROG"
"$JMCTL" --socket "$JMD_SOCK" sites "$PROG" --pprof after.pb.gz || fail "jmctl sites --pprof after the free"
pprof_top after.pb.gz -sample_index=inuse_space >inuse.json
pprof_top after.pb.gz -sample_index=alloc_space >alloc.json
python3 - "$TRUTH" <<'PY' || fail "after hold_alpha's objects are freed"
import json, sys
truth = int(sys.argv[1])
inuse, alloc = json.load(open("inuse.json")), json.load(open("alloc.json"))
a = inuse.get("hold_alpha", [0, 0])[0]
print("after the free: hold_alpha inuse_space %d, alloc_space %d" % (a, alloc["hold_alpha"][0]))
assert a < 0.10 * truth, a
assert abs(inuse["hold_beta"][0] / truth - 1) <= 0.25, inuse["hold_beta"]
assert abs(alloc["hold_alpha"][0] / truth - 1) <= 0.25, alloc["hold_alpha"]
PY
ok "hold_alpha's inuse_space falls below 10% when it frees; its alloc_space stays"

"$JMCTL" --socket "$JMD_SOCK" sites "$PROG" --pprof 2>err.txt; rc=$?
[ "$rc" = 2 ] && grep -q -- "--pprof" err.txt || fail "--pprof without a file: exit $rc, $(cat err.txt)"
"$JMCTL" --socket "$JMD_SOCK" sites "$PROG" --pprof "$JM_TMP/no/such/dir/x.pb.gz" 2>err.txt; rc=$?
[ "$rc" = 1 ] && grep -q "cannot write" err.txt || fail "an unwritable file: exit $rc, $(cat err.txt)"
ok "usage and write errors"
