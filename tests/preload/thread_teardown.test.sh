#!/usr/bin/env bash
# A free inside glibc's thread teardown does not start the purger: glibc
# frees an ending thread's DTV (in the thread, when detached; in the
# joiner, when joined) holding its stack cache's lock, which the
# purger's pthread_create takes. A forked child making threads on stacks
# of its own hung in its first start for ever (python3's
# test_multiprocessing_fork hung so); tests/helpers/thread_teardown makes
# 2000 such threads in a child whose first start is due, half detached,
# half joined, and the child is killed after 30 s if it hangs.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_lib
[ -x "$JM_HELPERS/thread_teardown" ] || fail "$JM_HELPERS/thread_teardown is not built"
export JMALLOC_STATS_DIR=$JM_TMP

for conf in decay_ms:100 decay_ms:1000 "decay_ms:100,tcache:0"; do
	out=$(JMALLOC_CONF=$conf LD_PRELOAD=$JMALLOC_LIB "$JM_HELPERS/thread_teardown" 2000) ||
		fail "JMALLOC_CONF=$conf: $out (exit $?)"
	ok "JMALLOC_CONF=$conf: 2000 threads made and ended in a forked child: $out"
done
