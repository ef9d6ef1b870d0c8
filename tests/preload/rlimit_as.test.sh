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

jm_compare python prlimit --as=$((96 << 20)) env PYTHONMALLOC=malloc python3 "$JM_ROOT/tests/helpers/dict_bytes.py"
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

# A buffer grown by realloc gets about as far as under glibc's malloc (which
# moves a mapped chunk with mremap, charged only what it grows by): in
# steps of 64 KiB, 1 MiB and 8 MiB, under limits of 64 and 256 MiB, each
# step's bytes written. Before, it stopped at half the limit: a move mapped
# the new range beside the old one, the regions its copies had left were
# kept as address space, and a moved region was two mappings, which mremap
# neither grows nor moves (64 MiB: 32 MiB against glibc's 61; 256 MiB: 124
# against 253).
for limit in 64 256; do
	for step in 65536 1048576 8388608; do
		[ "$step" -le $((limit << 15)) ] || continue
		glibc=$(prlimit --as=$((limit << 20)) "$JM_HELPERS/realloc_steps" $step) || fail "grow $step under $limit MiB, glibc"
		jm=$(LD_PRELOAD=$JMALLOC_LIB prlimit --as=$((limit << 20)) "$JM_HELPERS/realloc_steps" $step) ||
			fail "grow $step under $limit MiB: exit $?"
		[ $((jm * 10)) -ge $((glibc * 9)) ] ||
			fail "a buffer grown by $step bytes under $limit MiB: $jm MiB, glibc's malloc $glibc MiB"
		ok "grown by $step bytes under $limit MiB: $jm MiB (glibc's malloc $glibc MiB)"
	done
done
