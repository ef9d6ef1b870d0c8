#!/usr/bin/env bash
# A process whose main thread ends by pthread_exit ends when its last
# thread does, also once the allocator's background purger runs: the
# purger ends with the program's last thread (tests/helpers/last_thread.c;
# before, the process lived on for ever, the purger blocking every signal
# so that only SIGKILL ended it). Main exiting first, and last.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd timeout
helper=$JM_HELPERS/last_thread
[ -x "$helper" ] || fail "$helper is not built"
export JMALLOC_STATS_DIR=$JM_TMP
for order in main-first worker-first; do
	rc=0
	LD_PRELOAD=$JMALLOC_LIB timeout -s KILL 20 "$helper" $order 2>"$JM_TMP/err" || rc=$?
	[ "$rc" -ne 137 ] || fail "$order: the process did not end after its last thread (killed after 20 s)"
	[ "$rc" -eq 0 ] || fail "$order: exit $rc: $(cat "$JM_TMP/err")"
	ok "$order: the process ends with its last thread"
done
