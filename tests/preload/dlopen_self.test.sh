#!/usr/bin/env bash
# The allocator loads with dlopen after a program has started, as a plugin
# linked with -ljmalloc is loaded (a Python extension, say): its
# thread-local storage (initial-exec, for the fast path) must fit in the
# spare room glibc keeps in every thread's static TLS block, a few hundred
# bytes. A library with 2 KiB of it failed to load ("cannot allocate
# memory in static TLS block"), as jemalloc's does in such programs.
# Then the library's own malloc, realloc and free serve three threads.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
[ -x "$JM_HELPERS/dlopen_self" ] || fail "$JM_HELPERS/dlopen_self is not built"
export JMALLOC_STATS_DIR=$JM_TMP

tls=$(readelf -lW "$JMALLOC_LIB" | awk '$1 == "TLS" { print $6 }')
out=$("$JM_HELPERS/dlopen_self" "$JMALLOC_LIB") ||
	fail "dlopen of $JMALLOC_LIB (TLS memsize ${tls:-?}): $out"
[ "$out" = ok ] || fail "dlopen_self said: $out"
ok "loaded with dlopen after start (TLS memsize ${tls:-?}) and served 3 threads"
