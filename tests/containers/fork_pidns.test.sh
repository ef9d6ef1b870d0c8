#!/usr/bin/env bash
# timeout: 30
# A forked child takes the namespaces in its parent's segment instead of
# reading them again in /proc (each lookup in a new process's /proc is
# some 20 us), unless the parent changed them through unshare or setns:
# a parent that moved its children into a new pid namespace
# (tests/helpers/fork_pidns.c, unshare(CLONE_NEWPID) then fork) has a
# child, pid 1 there, whose file must be named for that namespace
# (jmalloc.1.PIDNS.START.stats), not as a host process's jmalloc.1.stats.
. "$(dirname "$0")/../lib.sh"
plain_only "a helper under the allocator"
need_lib
helper=$JM_HELPERS/fork_pidns
[ -x "$helper" ] || fail "$helper is not built"
export JMALLOC_STATS_DIR=$JM_TMP/stats
mkdir -p "$JMALLOC_STATS_DIR"
out=$(LD_PRELOAD=$JMALLOC_LIB "$helper") || fail "fork_pidns: $out"
echo "$out"
case $out in
"no unshare"*) skip "cannot make a pid namespace here: $out" ;;
"child "*) ;;
*) fail "fork_pidns: $out" ;;
esac
set -- $out
[ "$2" = 1 ] || fail "the child is pid $2 in its namespace, not 1"
ls "$JMALLOC_STATS_DIR"
ls "$JMALLOC_STATS_DIR" | grep -q "^jmalloc\.1\.$3\.[0-9]*\.stats$" ||
	fail "no segment named for the child's pid namespace $3"
[ ! -e "$JMALLOC_STATS_DIR/jmalloc.1.stats" ] || fail "the child published as the host's pid 1"
echo "fork_pidns: the child's segment is named for its own pid namespace"
