#!/usr/bin/env bash
# malloc, free, calloc and realloc in a signal handler on an alternate
# signal stack (sigaltstack; 8 KiB, SIGSTKSZ, is common, and the kernel's
# signal frame takes 3.4 KiB of it with AVX-512): the allocator's deepest
# use below the handler's frame stays within a budget
# (tests/helpers/sigstack.c paints the stack and measures), and all of it
# runs on a real 8 KiB stack with a guard page. Without sampling,
# 1.5 KiB (a forked child's first malloc, which publishes its segment and,
# one start in 8 at random, reaps stale ones: 1.4 KiB; before, with 5 KiB
# of buffers, 4 KiB; a bin's fill kept 1 KiB of pieces on the stack: 1.7
# KiB); with the default sampling, whose unwinder reads the stack,
# 2.25 KiB (the background purger's start, pthread_create, from the
# handler: 4.4 KiB).
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
export JMALLOC_STATS_DIR=$JM_TMP
sigstack() { LD_PRELOAD=$JMALLOC_LIB "$JM_HELPERS/sigstack" "$@"; }
[ -x "$JM_HELPERS/sigstack" ] || fail "$JM_HELPERS/sigstack is not built"
JMALLOC_CONF=prof_sample:0 sigstack 1536; unsampled=$?
sigstack 2304; sampled=$?
[ $unsampled -eq 0 ] && [ $sampled -eq 0 ]
