#!/usr/bin/env bash
# The module table follows dlopen and dlclose: a program that has sampled
# (and so built its table) before it loads two libraries with dlopen gets
# both in its profile, each a mapping with the library's path and the
# build-id readelf reads from the file, and its functions named by go tool
# pprof from the file; after it dlcloses one and samples again, that
# library's mapping is gone from the profile (its sites stay, their frames
# no longer in any module).
# timeout: 90
. "$(dirname "$0")/../lib.sh"
need_sites
need_pprof
cd "$JM_TMP"

build_c libsite_a.so "$JM_ROOT/tests/sites/sitelib.c" -shared -fPIC
build_c libsite_b.so "$JM_ROOT/tests/sites/sitelib.c" -shared -fPIC -Dsitelib_hold=sitelib_hold_b
build_c twolibs "$JM_ROOT/tests/pprof/twolibs.c" -ldl
jmd_start --metrics 127.0.0.1:0 --pprof
export JMALLOC_CONF=prof_sample:16384
start_ready ./twolibs "$JM_TMP/libsite_a.so" "$JM_TMP/libsite_b.so"
PROG=$LAST_PID
OUT=$LAST_OUT
A_ID=$(readelf -n libsite_a.so | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
B_ID=$(readelf -n libsite_b.so | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
[ -n "$A_ID" ] && [ -n "$B_ID" ] && [ "$A_ID" != "$B_ID" ] || fail "the libraries' build-ids: '$A_ID' '$B_ID'"

[ "$(http_get "/pid/$PROG/debug/pprof/heap" before.pb.gz)" = 200 ] || fail "GET the profile"
pprof_top before.pb.gz -sample_index=inuse_space >before.json
python3 - "$A_ID" "$B_ID" <<'PY' || fail "both libraries in the profile"
import json, sys, profile
a_id, b_id = sys.argv[1], sys.argv[2]
p = profile.load("before.pb.gz")
maps = {profile.s(p, m["filename"]).rsplit("/", 1)[-1]: profile.s(p, m["build_id"]) for m in p["mapping"]}
print(maps)
assert maps.get("libsite_a.so") == a_id and maps.get("libsite_b.so") == b_id, maps
top = json.load(open("before.json"))
truth = 8192 * 512
for fn in ("sitelib_hold", "sitelib_hold_b"):
    assert fn in top and abs(top[fn][0] / truth - 1) <= 0.25, (fn, top.get(fn), sorted(top))
PY
ok "two libraries loaded after the first sample: mappings with their build-ids, functions named"

kill -USR1 "$PROG"
wait_line "$OUT" '^closed$'
wait_sampled "$PROG"
[ "$(http_get "/pid/$PROG/debug/pprof/heap" after.pb.gz)" = 200 ] || fail "GET the profile after dlclose"
python3 <<'PY' || fail "after dlclose"
import profile
p = profile.load("after.pb.gz")
names = [profile.s(p, m["filename"]).rsplit("/", 1)[-1] for m in p["mapping"]]
print(names)
assert "libsite_b.so" in names and "libsite_a.so" not in names, names
assert any(l["mapping_id"] == 0 and l["address"] == 0 for l in p["location"]), "the closed library's frames"
PY
ok "after dlclose and a new sample, the closed library's mapping is gone"
