#!/usr/bin/env bash
# timeout: 120
# A process must not take its own segment back from the file: any process
# of its uid may write it. Another process (helper seg_rewrite) rewrites
# the header's offsets, strides, row maxima, counts, arenas and identity,
# and the thread, site and module rows' fields, again and again, while the
# process (helper seg_target, sampling every 512 bytes) allocates, starts
# threads, loads and unloads a library and forks (fork() and the system
# call), its children doing the same. Before (the allocator placed its
# rows by the header's offsets and bounded its loops by its counts): the
# process died at its first new thread (SIGSEGV, its row at thread_off).
# Now it runs to the end, every check in it holding. The thread caches'
# rows are rewritten too: their list heads set to a buffer of the
# process (its next malloc of the class returned it, and the process
# wrote it) or to an unmapped address, their counts and capacities to
# lists never full, always full, or holding nothing. Before (the list
# heads were the rows' `opaque` words, read by malloc's fast path): the
# process's first malloc after the first pass returned the buffer, or
# died of SIGSEGV. Now the heads and capacities are private memory
# (docs/security.md) and the rows' words only the readers'.
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd cc
for h in seg_rewrite seg_target; do
	[ -x "$JM_HELPERS/$h" ] || skip "the helper $h is not built (make tests)"
done
printf 'int seg_target_lib(int x) { return 3 * x + 1; }\n' >"$JM_TMP/lib.c"
cc -shared -fPIC -o "$JM_TMP/libsegtarget.so" "$JM_TMP/lib.c" || fail "cannot build the library"
out=$JM_TMP/target.out
go=$JM_TMP/go
rounds=40
JMALLOC_STATS_DIR=$JMD_STATS JMALLOC_CONF=prof_sample:512 LD_PRELOAD=$JMALLOC_LIB \
	"$JM_HELPERS/seg_target" "$go" "$JM_TMP/libsegtarget.so" $rounds >"$out" 2>&1 &
target=$!
PIDS+=("$target")
wait_line "$out" '^ready '
victim=$(awk '/^ready / { print $3; exit }' "$out")
[ -n "$victim" ] || fail "seg_target named no buffer: $(cat "$out")"
seg=$(jm_segment "$JMD_STATS" "$target") || fail "pid $target published no segment"
"$JM_HELPERS/seg_rewrite" "$seg" "$target" "$victim" >"$JM_TMP/rewrite.out" 2>&1 &
PIDS+=("$!")
wait_line "$JM_TMP/rewrite.out" '^rewritten'
touch "$go"
rc=0
wait "$target" || rc=$?
cat "$out"
[ "$rc" = 0 ] || fail "the process ended with status $rc (a signal: $((rc > 128 ? rc - 128 : 0)))"
grep -qx "done rounds=$rounds threads=$((4 * rounds)) loads=$rounds forks=$rounds bad=0" "$out" ||
	fail "the process did not do all it had to"
ok "$rounds rounds of threads, samples, a library and forks under a rewritten segment"
