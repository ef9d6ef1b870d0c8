#!/usr/bin/env bash
# The API conformance suite (the plain build, linked with libjmalloc.so)
# again under other configurations: no thread cache and a single arena;
# every 4 KiB sampled by the heap profiler (sampled blocks take other
# paths) with immediate purging of dirty pages. api_limits, which only
# fails requests, is left out.
# timeout: 180
. "$(dirname "$0")/../lib.sh"
need_lib
dir=$JM_BUILD/tests/api
for t in api_malloc api_align api_realloc api_threads; do
	[ -x "$dir/$t" ] || fail "$dir/$t is not built"
done
for conf in "tcache:0,narenas:1" "prof_sample:4096,decay_ms:0"; do
	for t in api_malloc api_align api_realloc api_threads; do
		JMALLOC_CONF=$conf "$dir/$t" >"$JM_TMP/out" 2>&1
		rc=$?
		echo "JMALLOC_CONF=$conf $t: exit $rc"
		if [ $rc -ne 0 ]; then
			tail -n 30 "$JM_TMP/out"
			fail "$t failed with JMALLOC_CONF=$conf"
		fi
		if grep -q 'JMALLOC_CONF' "$JM_TMP/out"; then
			cat "$JM_TMP/out"
			fail "JMALLOC_CONF=$conf was not taken as it is"
		fi
	done
done
echo "api_conf: the API suite passes with every configuration"
