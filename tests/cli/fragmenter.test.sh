#!/usr/bin/env bash
# The demo's fragmenter (tests/helpers/demo_fragment) keeps one object in
# every (4 KiB / region size), whatever the heap profile samples: it took
# the regions' size from its first object, and a sampled first object
# (a page of its own, 4 KiB usable) made it keep them all. Then nothing
# was fragmented: tests/cli/top_sites failed once in a full make check
# (1 run in 340 at its prof_sample:65536), the fragmenter shown at 0%
# for 80 s. Here every other 192-byte object is sampled (prof_sample:277,
# p = 1 - exp(-192/277) = 0.5), so that 20 runs all but surely have a
# sampled first object.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
plain_only "the demo's fragmenter under the allocator"
need_lib
[ -x "$JM_HELPERS/demo_fragment" ] || skip "the helper demo_fragment is not built (make tests)"
mkdir -p "$JM_TMP/stats"
# 2000 objects of 48 bytes (85 a page: 24 kept) and of 192 (21 a page: 96 kept).
want="kept 120 of 4000 objects"
for i in $(seq 20); do
	out=$(JMALLOC_CONF=prof_sample:277 JMALLOC_STATS_DIR=$JM_TMP/stats LD_PRELOAD=$JMALLOC_LIB \
		"$JM_HELPERS/demo_fragment" -s 48,192 -c 2000 -t 0 -r 0) || fail "demo_fragment exited $?"
	case "$out" in
	*": $want") ;;
	*) fail "run $i: '$out', not '$want'" ;;
	esac
done
ok "the fragmenter keeps one object a page in all 20 runs, half its 192-byte objects sampled"
