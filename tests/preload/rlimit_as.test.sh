#!/usr/bin/env bash
# Programs under a limit of address space (ulimit -v, RLIMIT_AS: sandboxes,
# judges, build farms) allocate under the allocator as under glibc's
# malloc: sort of 300,000 lines (small lines, a buffer of megabytes) at a
# limit of 32 MiB, a python3 script at 96 MiB, the same output with and
# without it; and misuse (double and interior frees, a foreign pointer)
# still caught there. The chunk map (rtree.c, a byte per 2 MiB of the address
# space) is 64 MiB of address space, not taken under a limit below 1 GiB:
# chunks are recorded in the radix tree instead. Before, a program could
# not allocate at all under 72 MiB ("bash: xmalloc: cannot allocate"), and
# python3 ran out of memory at 96 MiB.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd prlimit sort awk python3 md5sum
[ -x "$JM_HELPERS/misuse" ] || fail "$JM_HELPERS/misuse is not built"
export JMALLOC_STATS_DIR=$JM_TMP

data=$JM_TMP/data.txt
awk 'BEGIN { srand(11); for (i = 0; i < 300000; i++)
	printf "%d %s\n", int(rand() * 1000000), substr("abcdefghijklmnopqrstuvwxyz", int(rand() * 26) + 1) }' >"$data"

jm_compare sort prlimit --as=$((32 << 20)) bash -c "sort -n '$data' | md5sum; sort -k2,2 -s '$data' | tail -n 2"
jm_proof sort sort

jm_compare python prlimit --as=$((96 << 20)) env PYTHONMALLOC=malloc python3 -c '
d = {}
for i in range(100000):
    d[str(i) * (i % 7 + 1)] = [i] * (i % 13)
big = [bytes(i % 251) * 40 for i in range(3000)] + [bytes(8 << 20)]
print(len(d), sum(map(len, d.values())), sum(map(len, big)))'
jm_proof python python3

# Misuse is still caught with the chunks in the tree (the free fast path no
# longer sees them): each aborts naming the address.
for mode in double-free-small interior-small double-free-large foreign-mmap; do
	LD_PRELOAD=$JMALLOC_LIB prlimit --as=$((900 << 20)) "$JM_HELPERS/misuse" "$mode" \
		>"$JM_TMP/misuse.out" 2>"$JM_TMP/misuse.err"
	rc=$?
	addr=$(head -n 1 "$JM_TMP/misuse.out")
	[ $rc -eq 134 ] && [ -n "$addr" ] && grep -q -- "jmalloc\[.*$addr" "$JM_TMP/misuse.err" ||
		fail "misuse $mode under a 900 MiB limit: exit $rc, $(cat "$JM_TMP/misuse.err")"
done
