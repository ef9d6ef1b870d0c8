#!/usr/bin/env bash
# timeout: 60
# A thread cache's count in the segment's row is a copy for readers: the
# count free's fast path tests to flush a full list is private. Any
# process of the owner's uid may write the segment (docs/security.md);
# before, free's fast path tested the row's count, and one write of -2^31
# to it (helper seg_tcount) made the list take 2^31 frees before its
# flush: a thread that frees what another allocates (helper
# tcache_consume: 500 batches of 4096 objects of 64 B, at most two
# batches live) kept every region it freed, its peak RSS growing by
# 128000 KiB (about 1000 KiB without the write). Now the write changes
# nothing the allocator goes by: the peak grows by less than 32 MiB with
# it as without it.
. "$(dirname "$0")/../lib.sh"
need_lib
for h in seg_tcount tcache_consume; do
	[ -x "$JM_HELPERS/$h" ] || skip "the helper $h is not built (make tests)"
done
limit=32768   # KiB; all the objects: 500 x 4096 x 64 B = 128000 KiB

# consume NAME VALUE: one run, the consumer's rows' counts set to VALUE
# first (none for none); its peak RSS's growth under $limit KiB.
consume() {
	local name=$1 value=$2 out=$JM_TMP/$1.out go=$JM_TMP/$1.go pid seg rc=0 grew
	JMALLOC_STATS_DIR=$JMD_STATS LD_PRELOAD=$JMALLOC_LIB \
		"$JM_HELPERS/tcache_consume" "$go" 500 4096 >"$out" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait_line "$out" '^ready '
	if [ "$value" != none ]; then
		seg=$(jm_segment "$JMD_STATS" "$pid") || fail "$name: pid $pid published no segment"
		n=$("$JM_HELPERS/seg_tcount" "$seg" "$value") || fail "$name: seg_tcount failed"
		[ "$n" -gt 0 ] || fail "$name: no thread row in use in $seg"
	fi
	touch "$go"
	wait "$pid" || rc=$?
	[ "$rc" = 0 ] || { cat "$out"; fail "$name: the process ended with status $rc"; }
	grew=$(awk '$1 == "grew" { print $2 }' "$out")
	[ -n "$grew" ] || { cat "$out"; fail "$name: no growth printed"; }
	echo "$name: peak RSS grew by $grew KiB"
	[ "$grew" -lt $limit ] ||
		fail "$name: the consumer kept what it freed (peak RSS +$grew KiB, at most $limit expected)"
	ok "$name: peak RSS +$grew KiB"
}
consume "no write" none
consume "counts set to -2^31" -2147483648
echo "ok"
