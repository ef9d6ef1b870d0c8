#!/usr/bin/env bash
# A forked child's publication that fails halfway, its file's first piece
# mapped and the second refused (tests/helpers/seg_halfmap.c: a seccomp
# filter, ENOMEM as at vm.max_map_count), leaves the child's segment in
# its private memory: a child it forks then counts its allocations in rows
# of its own. Before, the first piece stayed a shared mapping of the
# unlinked file, inherited by the grandchild: the child's mallinfo2 in use
# went from 106496 to 12951552 bytes while its child allocated 12.8 MB.
# timeout: 30
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/seg_halfmap
[ -x "$helper" ] || fail "$helper is not built"
export JMALLOC_STATS_DIR=$JM_TMP
out=$(LD_PRELOAD=$JMALLOC_LIB "$helper" 2>"$JM_TMP/err"); st=$?
cat "$JM_TMP/err"
[ $st -eq 77 ] && skip "seccomp refused"
[ $st -eq 0 ] || fail "status $st: $out"
grep -q "cannot create the stats segment" "$JM_TMP/err" ||
	fail "the child's publication did not fail as the filter should make it: $out"
ok "a child's half-mapped publication left its segment private: $out"
