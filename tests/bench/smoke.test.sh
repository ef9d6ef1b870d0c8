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
if [ $rc -ne 0 ] && [ -s "$out/failures" ]; then
	# A crash of an anchor allocator is that allocator's, not the
	# suite's: shown, not failed on (tcmalloc's run of trim-often died
	# with status 139 once in CI; it calls glibc's malloc_trim on a heap
	# tcmalloc does not use). Anything else fails: jmalloc's failures, a
	# timeout, an output that differs, a callgrind run.
	ours=$(awk '/^ / { next }
		match($0, /^[^ ]+ under [^ ]+ \(run [0-9]+\): exit status [0-9]+$/) &&
		$3 != "jmalloc" && $NF != 124 { next }
		{ print }' "$out/failures")
	if [ -z "$ours" ]; then
		echo "an anchor allocator crashed (not jmalloc's to answer for):"
		cat "$out/failures"
		rc=0
	fi
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
