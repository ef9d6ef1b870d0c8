#!/usr/bin/env bash
# A C++ program's sampled sites name its own function, not operator new:
# the library's operator new (liballoc/cxx.c) is in its code section, whose
# frames the profiler skips (prof.c); libstdc++'s was the first frame of
# every C++ site (fails on a library without it). 32 MiB held by new[] in
# cxx_hold and 8 MiB by new in cxx_hold_objects, sampled every 64 KiB;
# the pprof export too (`jmctl sites PID --pprof`, read by go tool pprof
# where go is installed): both functions hold their bytes themselves
# (flat), no operator new row.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_sites
need_cmd g++
cd "$JM_TMP"
cat >hold.cc <<'CC'
#include <chrono>
#include <cstdio>
#include <thread>
struct Obj { char c[256]; };
extern "C" __attribute__((noinline)) char **cxx_hold(int n)
{
	char **v = new char *[n];
	for (int i = 0; i < n; i++)
		v[i] = new char[1024];
	return v;
}
extern "C" __attribute__((noinline)) Obj **cxx_hold_objects(int n)
{
	Obj **v = new Obj *[n];
	for (int i = 0; i < n; i++)
		v[i] = new Obj;
	return v;
}
int main()
{
	char **a = cxx_hold(32768);
	Obj **b = cxx_hold_objects(32768);
	std::printf("ready\n");
	std::fflush(stdout);
	std::this_thread::sleep_for(std::chrono::seconds(600));
	return a[0] == nullptr || b[0] == nullptr;
}
CC
g++ -O2 -g -fno-optimize-sibling-calls -o hold hold.cc || fail "cannot build hold.cc"
jmd_start
export JMALLOC_CONF=prof_sample:65536
start_ready ./hold
sites_json "$LAST_PID" >sites.json || fail "jmctl --json sites"
python3 - <<'PY' || fail "the C++ program's sites"
import json
r = json.load(open("sites.json"))
first = {}
for s in r["sites"]:
    if s["frames"]:
        f = s["frames"][0]["function"] or ""
        first[f] = first.get(f, 0) + s["live_bytes"]
top = sorted(first.items(), key=lambda kv: -kv[1])[:6]
print("first frames:", top)
assert not any("operator new" in f or f.startswith("_Zn") for f in first), top
held = first.get("cxx_hold", 0)
objs = first.get("cxx_hold_objects", 0)
assert held > 24 << 20 and held < 40 << 20, held
assert objs > 5 << 20 and objs < 12 << 20, objs
print("cxx_hold %.1f MiB, cxx_hold_objects %.1f MiB estimated" % (held / 2**20, objs / 2**20))
PY
if command -v go >/dev/null; then
	export HOME=$JM_TMP/home GOCACHE=$JM_TMP/gocache GOPATH=$JM_TMP/gopath GOFLAGS= \
		GOPROXY=off GOTOOLCHAIN=local GOTELEMETRY=off
	mkdir -p "$HOME"
	"$JMCTL" --socket "$JMD_SOCK" sites "$LAST_PID" --pprof cxx.pb.gz || fail "jmctl sites --pprof"
	pprof_top cxx.pb.gz -sample_index=inuse_space >top.json
	python3 - <<'PY' || { cat top.txt; fail "the C++ program's pprof profile"; }
import json
top = json.load(open("top.json"))
print({k: v for k, v in top.items() if v[0] > 1 << 20})
assert not any("operator new" in k or k.startswith("_Zn") for k in top), sorted(top)
assert top.get("cxx_hold", [0])[0] > 24 << 20, top.get("cxx_hold")
assert top.get("cxx_hold_objects", [0])[0] > 5 << 20, top.get("cxx_hold_objects")
PY
else
	echo "go is not installed: the pprof export not read"
fi
ok "a C++ program's sites name its functions, not operator new"
