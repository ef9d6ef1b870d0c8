#!/usr/bin/env bash
# The multi-threaded stress test (tests/helpers/stress_mt.c) under the
# allocator: 8 and then 16 threads at once, workers created and destroyed
# while their objects live on in other threads' mailboxes and in a shared
# pool, every object's pattern checked before its free. Run with the
# default configuration, with one arena and no thread cache (all threads
# contend on the same bins), and with more threads than arenas. Then
# thread churn (tests/helpers/stress_churn.c).
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_lib
run_stress "" stress_mt -t 8 -w 48 -n 20000 -s 1
run_stress "narenas:1,tcache:0" stress_mt -t 8 -w 24 -n 10000 -s 2
run_stress "narenas:2" stress_mt -t 16 -w 64 -n 5000 -s 3
run_stress "prof_sample:4096,decay_ms:0" stress_mt -t 8 -w 16 -n 5000 -s 4

# Thread churn: 10 000 threads one after the other must not leak their
# caches, then 400 at once.
run_stress "" stress_churn
run_stress "tcache:0" stress_churn
echo "stress: all runs passed"
