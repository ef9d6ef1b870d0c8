#!/usr/bin/env bash
# Memory from glibc's internal names (__libc_malloc, __libc_free,
# __libc_calloc, __libc_realloc, __libc_memalign, __libc_valloc,
# __libc_pvalloc), which some libraries call directly, is the allocator's
# too: freed through free() and the other way round, without a foreign
# pointer report.
# timeout: 30
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/libc_names
[ -x "$helper" ] || fail "$helper is not built"
export JMALLOC_STATS_DIR=$JM_TMP
out=$(LD_PRELOAD=$JMALLOC_LIB "$helper" 2>"$JM_TMP/err") || fail "exit $?: $(cat "$JM_TMP/err")"
[ "$out" = ok ] || fail "printed '$out'"
! grep -q 'jmalloc\[' "$JM_TMP/err" || fail "a report: $(cat "$JM_TMP/err")"
