#!/usr/bin/env bash
# The benchmark suite's smoke run: every workload once, at tiny sizes, under
# every allocator available (glibc, jemalloc, mimalloc, tcmalloc, jmalloc),
# and the fast-path patterns under callgrind. Fails if a workload crashes,
# times out or prints a different result under some allocator, if jmalloc's
# LD_PRELOAD does not take effect, or if the callgrind counts are missing
# or implausible. Times are printed, never judged.
# timeout: 240
. "$(dirname "$0")/../lib.sh"
[ -e "$JMALLOC_LIB" ] || skip "$JMALLOC_LIB is not built"
out=$JM_TMP/bench
JM_BENCH_OUT=$out JM_BENCH_SMOKE=1 JM_BENCH_SCALING=1 "$JM_ROOT/tests/bench/run.sh"
rc=$?
# run.sh exits 0 on an anchor allocator's crash (shown here) and 1 on
# anything of jmalloc's, a timeout, an output that differs, a callgrind run.
if [ -s "$out/failures" ]; then
	echo "failures reported:"
	cat "$out/failures"
fi
[ $rc -eq 0 ] || fail "run.sh --smoke exited $rc"

grep -qx jmalloc "$out/allocators" || { sed -n 's/^note=/  /p' "$out/meta"; fail "jmalloc was not measured"; }
nalloc=$(wc -l <"$out/allocators")
nwork=$(cut -f1 "$out/results.tsv" | sort -u | wc -l)
nruns=$(wc -l <"$out/results.tsv")
[ "$nruns" -eq $((nalloc * nwork)) ] || fail "$nruns runs recorded, expected $nalloc x $nwork"
[ "$nwork" -ge 17 ] || fail "only $nwork workloads ran"

if command -v valgrind >/dev/null; then
	while read -r a; do
		n=$(awk -v a="$a" '$2 == a && $3 >= 1 && $3 < 5000' "$out/fastpath.tsv" | wc -l)
		[ "$n" -eq 5 ] || { cat "$out/fastpath.tsv"; fail "$n plausible fast-path counts for $a, expected 5"; }
	done <"$out/allocators"
fi
echo "smoke run: $nwork workloads x $nalloc allocators passed"
