#!/usr/bin/env bash
# A forked child's threads free the parent's small blocks by the thousand
# (tests/helpers/stress_forkfree.c), the path that gathers such frees in
# per-thread buffers (liballoc/tcache.c, "inherited frees, batched"): the
# forking thread's cache set aside, threads made in the child set aside in
# their turn, threads exiting with a batch pending, grandchildren forked
# while the child's other threads hold buffers, threads made there. Each
# thread checks the blocks it frees and its own: a region handed out
# twice, or freed to its run while a buffer holds it, is a block changed
# under its owner or the allocator's double-free report, and fails the
# run. With the options of docs/allocator.md ("JMALLOC_CONF") that change
# the paths: one arena and no cache, junk, purging at once with the
# purger, sampling.
# timeout: 240
. "$(dirname "$0")/../lib.sh"
need_lib
run_stress "" stress_forkfree -f 24 -t 3 -p 4
run_stress "narenas:1,tcache:0" stress_forkfree -f 8 -t 2
run_stress "narenas:1" stress_forkfree -f 8 -t 4
run_stress "junk:1" stress_forkfree -f 8
run_stress "decay_ms:0,background_thread:1" stress_forkfree -f 8
run_stress "prof_sample:4096" stress_forkfree -f 8
echo "fork_free_stress: all runs passed"
