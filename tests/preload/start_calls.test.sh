#!/usr/bin/env bash
# The system calls a short program's start makes for its stats segment,
# counted with strace (no timing): every process pays them, and a shell
# script's 1,500 short processes paid them 1,500 times (docs/programs.md,
# "A short process's start, session 32").
# - The first thread's row is backed with the file's creation, on its
#   descriptor: taking it reopened the file by name (open, fstat,
#   fallocate, close), so the segment's name was opened twice. Still
#   after the file is mapped and live (jmstatd reads it again on that
#   fallocate's IN_MODIFY: tests/daemon/history_reuse.test.sh).
# - A process that publishes nothing (stats:0) reads nothing of /proc:
#   its start time, namespaces and executable went into a header no one
#   reads (4 lookups, each entry made in its /proc and dropped at exit).
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd strace cc
strace -o /dev/null true 2>/dev/null || skip "strace cannot trace here (ptrace refused)"
cd "$JM_TMP"
cat >small.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void)
{
	char *volatile p = malloc(100);
	memset(p, 1, 100);
	free(p);
	puts("ok");
	return 0;
}
C
cc -O2 -o small small.c || fail "cannot build small.c"
export JMALLOC_STATS_DIR=$JM_TMP/segs
mkdir -p "$JMALLOC_STATS_DIR"

trace() {   # trace LABEL [ENV...]: the program's file calls in $JM_TMP/trace
	local label=$1 out
	shift
	out=$(env "$@" strace -o "$JM_TMP/trace" -e trace=%file,fallocate,mmap -E LD_PRELOAD="$JMALLOC_LIB" ./small) ||
		fail "$label: exit $?"
	[ "$out" = ok ] || fail "$label: printed '$out'"
}

trace default
created=$(grep -c 'jmalloc\.[0-9.]*stats", O_RDWR|O_CREAT' "$JM_TMP/trace")
opened=$(grep -c 'jmalloc\.[0-9.]*stats", O_RDWR' "$JM_TMP/trace")
[ "$created" -eq 1 ] || fail "default: the segment created $created times: $(cat "$JM_TMP/trace")"
[ "$opened" -eq 1 ] ||
	fail "default: the segment's name opened $opened times, once to create it (the first thread's row reopened it): $(grep jmalloc "$JM_TMP/trace")"
grep -q '^fallocate(' "$JM_TMP/trace" || fail "default: no fallocate: $(cat "$JM_TMP/trace")"
# The thread rows' fallocate after the file is mapped (and its header
# live): that IN_MODIFY is what has jmstatd read it again at once, where
# a file still being built is looked at 20 ms later.
last_falloc=$(grep -n '^fallocate(' "$JM_TMP/trace" | tail -1 | cut -d: -f1)
last_map=$(grep -n 'MAP_SHARED' "$JM_TMP/trace" | tail -1 | cut -d: -f1)
[ -n "$last_map" ] && [ "$last_falloc" -gt "$last_map" ] ||
	fail "default: no fallocate after the segment's mappings: $(grep -E '^(fallocate|mmap)' "$JM_TMP/trace")"
ok "the segment opened once, at its creation; its first thread row backed on that descriptor"
[ -z "$(ls "$JMALLOC_STATS_DIR")" ] || fail "default: a segment left: $(ls "$JMALLOC_STATS_DIR")"

# Without the heap profile's samples: a sample (the first is at a random
# count of bytes; small's 100 B was one in about 1 of 100 runs) builds the
# module table, whose readlink of the program's path is a lookup in /proc
# (a flake, the same on the library before session 38's review).
trace "stats:0" JMALLOC_CONF=stats:0,prof_sample:0
proc=$(grep -c '/proc/' "$JM_TMP/trace")
[ "$proc" -eq 0 ] || fail "stats:0: $proc lookups in /proc: $(grep /proc/ "$JM_TMP/trace")"
grep -q "jmalloc\.[0-9.]*stats" "$JM_TMP/trace" && fail "stats:0: a segment's name looked up: $(grep stats "$JM_TMP/trace")"
ok "stats:0: nothing of /proc read, no segment"
