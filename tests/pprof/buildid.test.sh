#!/usr/bin/env bash
# Profiles name each module by its GNU build-id: the profile of a stripped
# copy of a program (no symbols, so `jmctl sites --pprof` cannot name its
# functions), from jmctl and from jmstatd --pprof by URL, is symbolized by
# pprof from the unstripped binary found by build-id under
# $PPROF_BINARY_PATH/<build-id>/, and not without it.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_sites
need_upstream_pprof
cd "$JM_TMP"

build_holders holders
cp holders holders-stripped
strip holders-stripped
jmd_start --metrics 127.0.0.1:0 --pprof
export JMALLOC_CONF=prof_sample:65536
TRUTH=$((24 << 20))
start_ready ./holders-stripped 49152 512 3072 8192
STRIPPED=$LAST_PID

"$JMCTL" --socket "$JMD_SOCK" sites "$STRIPPED" --pprof stripped.pb.gz ||
	fail "jmctl sites --pprof of the stripped copy"
ID=$(readelf -n holders | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
[ -n "$ID" ] || fail "the test program has no build-id"
"$PPROF" -raw stripped.pb.gz >raw.txt 2>&1 || fail "pprof -raw"
grep -q "^1: .*/holders-stripped $ID" raw.txt || { cat raw.txt; fail "the program's mapping does not carry its build-id $ID"; }
pprof_top stripped.pb.gz -sample_index=inuse_space >plain.json
mkdir -p "binaries/$ID"
cp holders "binaries/$ID/holders"
PPROF_BINARY_PATH=$JM_TMP/binaries pprof_top stripped.pb.gz -sample_index=inuse_space >named.json
PPROF_BINARY_PATH=$JM_TMP/binaries pprof_top "$JMD_URL/pid/$STRIPPED/debug/pprof/heap" >url.json
python3 - "$TRUTH" <<'PY' || fail "the stripped copy symbolized by build-id"
import json, sys
truth = int(sys.argv[1])
plain, named = json.load(open("plain.json")), json.load(open("named.json"))
url = json.load(open("url.json"))
assert "hold_alpha" not in plain, sorted(plain)
for fn in ("hold_alpha", "hold_beta"):
    for prof in (named, url):
        assert fn in prof, sorted(prof)
        assert abs(prof[fn][0] / truth - 1) <= 0.25, (fn, prof[fn])
print("named by build-id:", {k: v for k, v in named.items() if k.startswith("hold")})
print("by URL:", {k: v for k, v in url.items() if k.startswith("hold")})
PY
ok "a stripped copy's profile (jmctl's file, and jmstatd's by URL) is symbolized by pprof from PPROF_BINARY_PATH/<build-id>/"
