#!/usr/bin/env bash
# timeout: 60
# A segment's file holds memory only for what its process uses: the bin
# rows of an arena are backed in the file when the arena is made, not all
# arenas' at the start (5 pages of every process's file, and of every
# forked child's, for the arenas most never make). On a full file system
# (tests/helpers/stats_full.c: a 256 KiB tmpfs filled after the process
# published) six more threads make their arenas, whose rows have no room,
# and a child's publication fails: no SIGBUS, the program runs to its end
# with the same output as without the allocator. Needs a mount namespace.
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/stats_full
[ -x "$helper" ] || fail "$helper is not built"
unshare --mount true 2>/dev/null || skip "cannot make a mount namespace (unshare --mount)"
dir=$JM_TMP/full
mkdir -p "$dir"
out=$(unshare --mount sh -c 'mount -t tmpfs -o size=256k none "$1" && shift && exec "$@"' sh \
	"$dir" env JMALLOC_STATS_DIR="$dir" JMALLOC_CONF=background_thread:0 LD_PRELOAD="$JMALLOC_LIB" \
	"$helper" 2>"$JM_TMP/err"); st=$?
cat "$JM_TMP/err"
[ $st -eq 0 ] || fail "stats_full ended with status $st (138 or 135: SIGBUS): $out"
case $out in
"ok "[1-9]*) ;;
*) fail "stats_full: $out" ;;
esac
grep -q "cannot create the stats segment" "$JM_TMP/err" ||
	fail "the child's publication on the full file system did not fail as expected"
ok "6 arenas made and a child forked on a full stats file system: $out"
