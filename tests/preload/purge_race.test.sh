#!/usr/bin/env bash
# Purging out of the arena's lock under hostile use
# (tests/helpers/stress_purge.c, docs/purging.md): 4 threads swap large
# and huge regions (a page to 8 MiB) through shared slots, so that one
# thread frees what another made while others take the same sizes, and
# realloc them across the large/huge boundary; threads exit and are
# replaced; the main thread forks meanwhile, and each child checks,
# frees and reallocates on two threads. Every page of every region is
# stamped and checked before its free: a page purged while allocated
# reads zero (a purged run filed back before its madvise did, tried).
# decay_ms:0 purges every run freed, at once, on the freeing thread;
# narenas:1 puts every thread on one arena's lists; decay_ms:10 lets the
# background purger purge what the threads free. Then memalign,
# posix_memalign and aligned_alloc of every power of two to 4 MiB and of
# bad alignments, malloc_usable_size, calloc whose product overflows.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_lib
run_stress "decay_ms:0" stress_purge -t 4 -n 150 -f 6 -s 1
run_stress "narenas:1,decay_ms:0" stress_purge -t 4 -n 150 -f 6 -s 2
run_stress "decay_ms:10" stress_purge -t 4 -n 300 -f 6 -s 3
echo "purge_race: all runs passed"
