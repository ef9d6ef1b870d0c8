#!/usr/bin/env bash
# fork() from a multi-threaded process under the allocator
# (tests/helpers/stress_fork.c): threads allocate continuously while the
# main thread forks 200 times, 8 children at a time (-p 8: two at a time,
# most of the run was children waiting for a CPU on a loaded machine);
# every child frees blocks the parent made, allocates a range of sizes,
# starts a thread, sometimes forks a grandchild, and must exit 0 (a
# deadlocked child is killed by its alarm and fails the test). Then a
# shorter run with one arena and no thread cache.
# timeout: 180
. "$(dirname "$0")/../lib.sh"
need_lib
run_stress "" stress_fork -f 200 -t 3 -p 8
run_stress "narenas:1,tcache:0" stress_fork -f 40 -t 2
echo "fork: all runs passed"
