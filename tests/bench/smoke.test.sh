#!/usr/bin/env bash
# The benchmark suite's smoke run: every workload once, at tiny sizes, under
# every allocator available (glibc, jemalloc, mimalloc, tcmalloc, jmalloc),
# and the fast-path patterns under callgrind. Fails if a workload crashes,
# times out or prints a different result under some allocator, if jmalloc's
# LD_PRELOAD does not take effect, or if the callgrind counts are missing
# or implausible. Times are printed, never judged.
# timeout: 240
set -u
[ -e "$JMALLOC_LIB" ] || { echo "skip: $JMALLOC_LIB is not built"; exit 77; }
out=$JM_TMP/bench
JM_BENCH_OUT=$out JM_BENCH_SMOKE=1 JM_BENCH_SCALING=1 "$JM_ROOT/tests/bench/run.sh"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: run.sh --smoke exited $rc"; exit 1; }

grep -qx jmalloc "$out/allocators" || { echo "FAIL: jmalloc was not measured"; sed -n 's/^note=/  /p' "$out/meta"; exit 1; }
nalloc=$(wc -l <"$out/allocators")
nwork=$(cut -f1 "$out/results.tsv" | sort -u | wc -l)
nruns=$(wc -l <"$out/results.tsv")
[ "$nruns" -eq $((nalloc * nwork)) ] || { echo "FAIL: $nruns runs recorded, expected $nalloc x $nwork"; exit 1; }
[ "$nwork" -ge 17 ] || { echo "FAIL: only $nwork workloads ran"; exit 1; }

if command -v valgrind >/dev/null; then
	while read -r a; do
		n=$(awk -v a="$a" '$2 == a && $3 >= 1 && $3 < 5000' "$out/fastpath.tsv" | wc -l)
		[ "$n" -eq 5 ] || { echo "FAIL: $n plausible fast-path counts for $a, expected 5"; cat "$out/fastpath.tsv"; exit 1; }
	done <"$out/allocators"
fi
echo "smoke run: $nwork workloads x $nalloc allocators passed"
