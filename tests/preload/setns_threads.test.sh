#!/usr/bin/env bash
# setns from threads with the background purger running
# (tests/helpers/ns_many.c), as stress-ng's pthread stressor does from up
# to 100 threads: a setns into a UTS namespace (nstype 0 or CLONE_NEWUTS)
# leaves the purger alone (it ended it for nstype 0: stress-ng --pthread
# took 88 s instead of 0.5 s), and setns into a mount namespace from 8
# threads at once, with frees starting the purger again between them,
# leaves at most one purger. Run as root (setns needs CAP_SYS_ADMIN).
# timeout: 90
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/ns_many
[ -x "$helper" ] || fail "$helper is not built"
export JMALLOC_STATS_DIR=$JM_TMP
out=$("$helper" uts 2>&1) || skip "setns into its own UTS namespace fails without the allocator: $out"
for conf in "" "narenas:1,tcache:0"; do
	out=$(JMALLOC_CONF=$conf LD_PRELOAD=$JMALLOC_LIB "$helper" uts purger 2>&1) ||
		fail "JMALLOC_CONF='$conf': $out"
	[ "$out" = ok ] || fail "JMALLOC_CONF='$conf': printed $out"
	ok "JMALLOC_CONF='$conf': setns(uts, 0) and setns(uts, CLONE_NEWUTS) leave the purger running"
done
out=$(LD_PRELOAD=$JMALLOC_LIB "$helper" storm 2>&1) || fail "$out"
[ "$out" = ok ] || fail "printed $out"
ok "setns(mnt) from 8 threads at once, frees between: at most one purger left"
