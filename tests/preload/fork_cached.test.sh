#!/usr/bin/env bash
# A forked child whose allocations its inherited thread cache serves (a
# pre-forked worker's small requests) publishes its stats segment, as one
# that takes the allocator's slow path does (tests/helpers/fork_cached.c):
# it took no slow path, and was never shown. With the heap profile's
# sampling on (its budget is what sends the child's first allocation to
# the slow path) and off.
# timeout: 30
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/fork_cached
[ -x "$helper" ] || fail "$helper is not built"
export JMALLOC_STATS_DIR=$JM_TMP
for conf in "" "prof_sample:0" "background_thread:0,narenas:1"; do
	out=$(JMALLOC_CONF=$conf LD_PRELOAD=$JMALLOC_LIB "$helper" 2>&1) ||
		fail "JMALLOC_CONF='$conf': $out"
	[ "$out" = ok ] || fail "JMALLOC_CONF='$conf': printed $out"
	ok "JMALLOC_CONF='$conf': a child served by its inherited cache publishes"
done
