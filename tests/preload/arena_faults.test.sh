#!/usr/bin/env bash
# The page faults of a thread's first allocation when it makes a new arena
# (docs/allocator.md, "Start-up"), counted by getrusage(RUSAGE_THREAD)
# around it in each of 6 threads started one after another, each with an
# arena of its own (narenas:8): its arena, its thread cache, the arena's
# row of the segment, the arena's locks (a page for two arenas), the first
# chunk's header (3 pages) and the first run's page. The arena's fields a
# new arena writes and its first thread's cache share one page of base
# memory (types.h, JM_ARENA_HOT): 6 or 7 faults measured (5 to 8 since
# layout 5: an arena's 41 bin rows of the segment, 3,608 bytes, fall on
# one page or two by where they start, 38 for the six in all before and
# after); 7 or 8 each, 44 in all, when the arena's stats pointer and lock
# were at opposite ends of it and the cache after it, two or three
# pages. Since the thread caches' list heads are private (session 24: a
# table of private memory beside the segment's thread rows, 4 threads to
# a page as their rows), a thread whose row starts a page of the table
# takes one more, its private words' page: 6 7 6 9 5 6, 39 in all (the
# fourth thread's row starts the second page). Each at most 9, all six
# at most 40. Pages, never time.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/arena_faults
[ -x "$helper" ] || fail "$helper is not built"
mkdir -p "$JM_TMP/shm"
if [ -n "${JM_SANITIZED:-}" ]; then
	ok "not judged under a sanitizer (JM_SANITIZED=$JM_SANITIZED)"
	exit 0
fi
out=$(JMALLOC_CONF=narenas:8,prof_sample:0,background_thread:0 JMALLOC_STATS_DIR=$JM_TMP/shm \
	LD_PRELOAD=$JMALLOC_LIB "$helper" 6) || fail "arena_faults exited $?"
echo "faults of each new arena's first allocation: $out"
set -- $out
[ $# -eq 6 ] || fail "arena_faults printed '$out', not 6 counts"
sum=0
for n in "$@"; do
	[ "$n" -le 9 ] || fail "a thread's first allocation in a new arena took $n page faults, more than 9 (5-9 measured, by where the arena's bin rows and the thread's row fall)"
	sum=$((sum + n))
done
[ "$sum" -le 40 ] || fail "six new arenas' first allocations took $sum page faults, more than 40 (39 measured, 45 with the arena's written fields on two pages)"
ok "a new arena's first allocation: $out page faults (each at most 9, $sum in all, at most 40)"
