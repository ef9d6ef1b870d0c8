#!/usr/bin/env bash
# malloc_trim below the dirty memory it keeps (4 MiB): the runs no
# allocation took over its last 2048 calls are purged, the rest stay;
# a lone call (the process's first) gives back everything, the thread's
# cached buffers too;
# in a process that trims, a run is taken from the dirty ones first
# (tests/helpers/trim_aged.c; docs/purging.md, "malloc_trim"); the
# regions in an arena's cache of 9 to 64 pages as its dirty runs. Without
# the heap profile's samples and the background purger, which would
# purge or take pages of their own.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/trim_aged
[ -x "$helper" ] || fail "$helper is not built"
mkdir -p "$JM_TMP/shm"
for mode in aged once dirty; do
	out=$(JMALLOC_CONF=prof_sample:0,background_thread:0 JMALLOC_STATS_DIR=$JM_TMP/shm \
		LD_PRELOAD=$JMALLOC_LIB "$helper" $mode 2>&1) || fail "$mode: exit $?: $out"
	[ "$out" = ok ] || fail "$mode: printed $out"
	ok "$mode"
done
# The arena's cache of 9 to 64 pages is only in an arena threads share.
out=$(JMALLOC_CONF=prof_sample:0,background_thread:0,narenas:1 JMALLOC_STATS_DIR=$JM_TMP/shm \
	LD_PRELOAD=$JMALLOC_LIB "$helper" cached 2>&1) || fail "cached: exit $?: $out"
[ "$out" = ok ] || fail "cached: printed $out"
ok cached
