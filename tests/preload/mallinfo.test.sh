#!/usr/bin/env bash
# glibc's tuning and introspection calls, which programs link, answered by
# the allocator (tests/helpers/mallinfo.c): mallinfo2 and mallinfo count
# what the program holds and frees, malloc_trim gives freed pages back at
# once, mallopt accepts, malloc_info writes XML, malloc_stats a summary on
# stderr. Preloaded, these reached glibc's own allocator, which holds
# nothing here (0 bytes in use, nothing trimmed). Default configuration and
# one arena without thread caches.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/mallinfo
[ -x "$helper" ] || fail "$helper is not built"
export JMALLOC_STATS_DIR=$JM_TMP
for conf in "" "narenas:1,tcache:0"; do
	out=$(JMALLOC_CONF=$conf LD_PRELOAD=$JMALLOC_LIB "$helper" 2>"$JM_TMP/err") ||
		fail "JMALLOC_CONF='$conf': exit $?: $out $(cat "$JM_TMP/err")"
	[ "$out" = ok ] || fail "JMALLOC_CONF='$conf': printed $out"
	grep -q '^in use bytes *= *[0-9]' "$JM_TMP/err" || fail "malloc_stats wrote: $(cat "$JM_TMP/err")"
	! grep -q 'jmalloc\[' "$JM_TMP/err" || fail "a report: $(cat "$JM_TMP/err")"
	ok "JMALLOC_CONF='$conf': mallinfo2, mallinfo, malloc_trim, mallopt, malloc_info, malloc_stats"
done
