#!/usr/bin/env bash
# The allocator's own static data that a fork writes (tests/helpers/
# fork_pages.c): its locks, taken by the prepare handler, released in the
# parent and re-initialised in the child, and the fork state of the stats
# segment, all on one page of the library's .data/.bss. Each page written
# is a page fault and a copy in parent and child at every fork; they were
# on two (the size-class tables, 3.8 KiB of .bss, lay between the locks of
# stats.c and tcache.c and the others, and init_lock, a recursive mutex
# with an initialiser, was in .data). Needs root (page frames).
# timeout: 30
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/fork_pages
[ -x "$helper" ] || fail "$helper is not built"
export JMALLOC_STATS_DIR=$JM_TMP
out=$(JMALLOC_CONF=background_thread:0 LD_PRELOAD=$JMALLOC_LIB "$helper" "$(basename "$JMALLOC_LIB")") ||
	fail "fork_pages: $out"
echo "$out"
case $out in
"no frames") skip "page frames are shown to root only" ;;
"written "*) ;;
*) fail "fork_pages: $out" ;;
esac
set -- $out
[ "$2" -ge 1 ] || fail "no page of the library's data written by a fork: $out (the test sees nothing)"
[ "$2" -le 1 ] || fail "a fork writes $2 pages of the allocator's static data, not 1"
echo "fork_pages: one page of the allocator's static data written"
