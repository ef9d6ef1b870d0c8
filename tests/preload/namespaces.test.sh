#!/usr/bin/env bash
# unshare(CLONE_NEWUSER) and setns into a mount namespace from a program
# that has freed enough to start the background purger
# (tests/helpers/ns_alone.c): the kernel refuses both to a process of more
# than one thread, and the purger is a thread; the allocator ends it
# first, and the program's call succeeds as under glibc's malloc. Frees
# start the purger again after each call. Skipped where this kernel or
# container gives no user namespaces.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/ns_alone
[ -x "$helper" ] || fail "$helper is not built"
export JMALLOC_STATS_DIR=$JM_TMP
mode=unshare
[ "$(id -u)" -eq 0 ] && mode=setns
out=$("$helper" $mode 2>&1) || skip "no user namespace here without the allocator either: $out"
for conf in "" "narenas:1,tcache:0"; do
	out=$(JMALLOC_CONF=$conf LD_PRELOAD=$JMALLOC_LIB "$helper" $mode purger 2>&1) ||
		fail "JMALLOC_CONF='$conf': $out"
	[ "$out" = ok ] || fail "JMALLOC_CONF='$conf': printed $out"
	ok "JMALLOC_CONF='$conf': $mode and unshare(CLONE_NEWUSER) with the purger running"
done
