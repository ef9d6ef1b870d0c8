#!/usr/bin/env bash
# A library unloaded takes its stacks' knowledge with it: a library is
# dlclosed and another one, the same code with a smaller frame, is loaded
# at the same address; its stacks, sampled on a makecontext stack of 16 KiB
# under a page that cannot be read, are walked with its own frame sizes,
# not the unloaded one's (whose 4000 bytes read past that stack's top:
# SIGSEGV inside malloc).
# timeout: 30
. "$(dirname "$0")/../lib.sh"
plain_only "a program under the allocator"
need_lib
cd "$JM_TMP"
build_c libunload_big.so "$JM_ROOT/tests/sites/unloadlib.c" -shared -fPIC -DPAD=4000
build_c libunload_small.so "$JM_ROOT/tests/sites/unloadlib.c" -shared -fPIC -DPAD=200
build_c unloader "$JM_ROOT/tests/sites/unloader.c" -ldl
export JMALLOC_STATS_DIR=$JM_TMP
# Every allocation sampled.
out=$(JMALLOC_CONF=prof_sample:1 LD_PRELOAD=$JMALLOC_LIB ./unloader \
	"$JM_TMP/libunload_big.so" "$JM_TMP/libunload_small.so" 2>err) ||
	fail "exit $?: $(cat err)"
echo "$out"
# The test means something only if the second library took the first's place.
[ "$out" = "ok same" ] || fail "printed '$out' (the libraries were not loaded at one address)"
ok "a library loaded where an unloaded one was: its own frame sizes"
