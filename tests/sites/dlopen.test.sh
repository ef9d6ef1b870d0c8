#!/usr/bin/env bash
# Stacks from a dlopen'ed library: a library built by the test, loaded with
# dlopen after the program started, allocates; `jmctl sites` names its
# function, its source line and its module (the library's file name), and
# the program's main below it; the unwinder loads no library.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_sites
cd "$JM_TMP"

build_c libsitetest.so "$JM_ROOT/tests/sites/sitelib.c" -shared -fPIC
build_c dlopener "$JM_ROOT/tests/sites/dlopener.c" -ldl
jmd_start
export JMALLOC_CONF=prof_sample:65536
# 40000 x 256 B: about 156 samples' worth.
start_ready ./dlopener "$JM_TMP/libsitetest.so" 40000 256
PROG=$LAST_PID

"$JMCTL" --socket "$JMD_SOCK" sites "$PROG" >sites.txt || fail "jmctl sites"
cat sites.txt
grep -q "sitelib_hold  sitelib.c:[0-9]*  (libsitetest.so)" sites.txt ||
	fail "jmctl sites does not name sitelib_hold in libsitetest.so"
sites_json "$PROG" >sites.json || fail "jmctl --json sites"
python3 - <<'PY' || fail "the library's site"
import json
r = json.load(open("sites.json"))
lib = [s for s in r["sites"] if s["frames"] and s["frames"][0]["module"] == "libsitetest.so"]
assert lib, [s["frames"][0] for s in r["sites"]]
f = lib[0]["frames"]
assert f[0]["function"] == "sitelib_hold" and f[0]["file"].endswith("sitelib.c") and f[0]["line"] > 0, f[0]
assert f[1]["function"] == "main" and f[1]["module"] == "dlopener", f[1]
truth = 40000 * 256
live = sum(s["live_bytes"] for s in lib)
print("sitelib_hold: %d bytes estimated, %d held" % (live, truth))
assert 0.6 * truth < live < 1.4 * truth, live
PY
ok "a dlopen'ed library's stack named after the library (libsitetest.so)"

# The unwinder reads the unwind tables itself: nothing is loaded, at start
# or by a sample (libgcc_s loaded by a first sample inside dlopen's own
# malloc calls was lost from glibc's _dl_find_object table, and the next
# stack aborted the program; loaded at start, it cost every process 21
# page faults and 100 KiB). cat, every allocation sampled, has no libgcc_s.
JMALLOC_CONF=prof_sample:1 JMALLOC_STATS_DIR=$JMD_STATS LD_PRELOAD=$JMALLOC_LIB cat /proc/self/maps >maps.txt ||
	fail "cat under the allocator, every allocation sampled"
grep -q 'libjmalloc' maps.txt || fail "cat did not run under the allocator"
! grep -q 'libgcc_s' maps.txt || fail "libgcc_s loaded by the allocator"
ok "the unwinder loads no library"
