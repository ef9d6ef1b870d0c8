#!/usr/bin/env bash
# tests/bench/servers.py checks that each server it measures maps the
# library it was preloaded with. The check read /proc/PID/maps twice with
# f.read() (the second read returns ''), and compared the path as given:
# a library named through a symlink, a relative path or `..` (the maps
# show the real path) failed the run with "not preloaded" though the
# library was mapped, and one whose name held no "libjmalloc" (a copy
# such as /tmp/old.so) was never checked. Here: one run of the pyhttp
# server (python3 and ab) with JMALLOC_LIB a symlink to the library, and
# the check itself on a process preloaded with a copy.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd ab cc
mkdir -p "$JM_TMP/build/bench" "$JM_TMP/link"
cc -O2 -o "$JM_TMP/build/bench/jmtime" "$JM_ROOT/tests/bench/jmtime.c" || fail "cannot build jmtime"
ln -s "$JMALLOC_LIB" "$JM_TMP/link/libjmalloc.so"
cp "$JMALLOC_LIB" "$JM_TMP/link/old.so"
JM_BUILD=$JM_TMP/build JMALLOC_LIB=$JM_TMP/link/libjmalloc.so python3 "$JM_ROOT/tests/bench/servers.py" \
	--servers pyhttp --allocators jmalloc --idle 0 --out "$JM_TMP/out" >"$JM_TMP/servers.out" 2>&1 ||
	{ cat "$JM_TMP/servers.out"; fail "servers.py with JMALLOC_LIB a symlink"; }
grep -q "^pyhttp	jmalloc	" "$JM_TMP/servers.out" || { cat "$JM_TMP/servers.out"; fail "no pyhttp row"; }
ok "servers.py: a library named through a symlink is found mapped"
# A copy named otherwise is checked too, and one not mapped told apart.
LD_PRELOAD=$JM_TMP/link/old.so sleep 60 &
COPY=$!
JM_ROOT=$JM_ROOT python3 - "$COPY" "$JM_TMP/link/old.so" "$JMALLOC_LIB" <<'PY' || fail "preloaded()"
import os, sys, time
sys.path.insert(0, os.path.join(os.environ["JM_ROOT"], "tests/bench"))
import servers
pid, copy, lib = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for _ in range(100):
    if servers.preloaded(pid, copy):
        break
    time.sleep(0.1)
else:
    sys.exit("sleep preloaded with %s: not found mapped" % copy)
assert not servers.preloaded(pid, lib), "the library it does not map taken for preloaded"
PY
ok "a copy of another name found mapped; a library not mapped is not"
