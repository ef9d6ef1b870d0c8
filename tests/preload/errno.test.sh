#!/usr/bin/env bash
# Allocations that succeed leave errno as they found it, also those that
# take the allocator's slow paths with system calls of their own
# (tests/helpers/errno_keep.c): the process's first, which initialises
# and publishes the stats segment (here into a directory that does not
# exist: the failed open set ENOENT), and a forked child's first, which
# publishes the child's segment (with MADV_POPULATE_* refused as a
# kernel before 5.14 does: EINVAL). glibc's getpwnam and readdir tell
# "not found" and "end" by NULL with errno as the caller set it.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/errno_keep
[ -x "$helper" ] || fail "$helper is not built"
check() {   # check DIR MODE
	local out
	out=$(JMALLOC_STATS_DIR=$1 LD_PRELOAD=$JMALLOC_LIB "$helper" "$2" 2>"$JM_TMP/err") ||
		fail "$2, stats in $1: exit $?: $out $(cat "$JM_TMP/err")"
	[ "$out" = ok ] || fail "$2, stats in $1: printed $out"
}
check "$JM_TMP" first
check "$JM_TMP/absent" first
ok "the first allocations keep errno (stats published, and not)"
check "$JM_TMP" child
# On tmpfs the child populates with MADV_POPULATE_READ (stats.c), elsewhere
# with MADV_POPULATE_WRITE: both refused in the helper's second child.
[ -d /dev/shm ] && check /dev/shm child
ok "a forked child's first allocations keep errno, also where MADV_POPULATE_READ and _WRITE are refused"
