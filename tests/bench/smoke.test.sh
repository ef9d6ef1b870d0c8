#!/usr/bin/env bash
# The benchmark suite's smoke run: every workload once, at tiny sizes, under
# every allocator available (glibc, jemalloc, mimalloc, tcmalloc, jmalloc),
# and the fast-path patterns under callgrind. Fails if a workload crashes,
# times out or prints a different result under some allocator, if jmalloc's
# LD_PRELOAD does not take effect, or if the callgrind counts are missing
# or implausible, or if the report is not made (report.py failed) or does
# not count and show the extra runs of short workloads (a fixed results
# directory, below). Times are printed, never judged.
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
# The report ends with its FAILURES section when an anchor crashed (run.sh
# exits 0 on that, above), and with the line that says so otherwise.
if [ -s "$out/failures" ]; then last='^FAILURES$'; else last='All runs succeeded'; fi
grep -q '^Median wall time' "$out/report.txt" && grep -q '^Wall time of the fastest' "$out/report.txt" &&
	grep -q "$last" "$out/report.txt" ||
	{ cat "$out/report.txt"; fail "the report is incomplete"; }

# The report of a run with extra runs (the smoke run has none): wl-a ran 3
# times under jemalloc and jmalloc, once under glibc; wl-b once under each.
# jmalloc's median of wl-a is 1.0 s over its 3 runs, 1.5 s over the first.
fx=$JM_TMP/fixture
mkdir -p "$fx"
printf '%s\n' glibc jemalloc jmalloc >"$fx/allocators"
printf '%s\n' threads=2 runs=1 max_runs=3 short=1.5 extra_budget=240 extra_seconds=3 extra_cut= scale=1 >"$fx/meta"
: >"$fx/failures"
while read -r w a rep wall; do
	printf '%s\t%s\t%s\t%s\t1024\t0\t%s\t10\n' "$w" "$a" "$rep" "$wall" "$wall"
done >"$fx/results.tsv" <<'RESULTS'
wl-a glibc 1 2.0
wl-a jemalloc 1 1.0
wl-a jmalloc 1 1.5
wl-b glibc 1 3.0
wl-b jemalloc 1 2.0
wl-b jmalloc 1 2.2
wl-a jemalloc 2 1.0
wl-a jmalloc 2 1.0
wl-a jemalloc 3 1.0
wl-a jmalloc 3 0.5
RESULTS
python3 "$JM_ROOT/tests/bench/report.py" "$fx" >"$fx/report.txt" ||
	{ cat "$fx/report.txt"; fail "report.py failed on the fixture"; }
for want in '^    3 runs: wl-a \(glibc 1\)$' '^    1 run: wl-b$' \
	'^wl-a .* 1\.00 +0\.50-1\.50$' '^wl-b .* 1\.10 +1\.10-1\.10$' '^wl-a .* 0\.50-1\.50 \(3\)$'; do
	grep -Eq "$want" "$fx/report.txt" ||
		{ cat "$fx/report.txt"; fail "the fixture's report has no line matching $want"; }
done

# Extra runs: sh6bench at the smoke run's size is short under any
# threshold; it runs 3 times under each allocator, rotated.
x=$JM_TMP/extra
JM_BENCH_OUT=$x JM_BENCH_SMOKE=1 JM_BENCH_MAX_RUNS=3 JM_BENCH_SHORT=100 JM_BENCH_CALLGRIND=0 \
	"$JM_ROOT/tests/bench/run.sh" --workloads sh6bench --allocators glibc,jmalloc >/dev/null 2>&1 ||
	fail "run.sh with extra runs exited $?"
order=$(cut -f2,3 "$x/results.tsv" | tr '\t\n' ': ')
[ "$order" = "glibc:1 jmalloc:1 jmalloc:2 glibc:2 glibc:3 jmalloc:3 " ] ||
	fail "extra runs: $order, expected 3 runs of each, the order rotated"
grep -q '^    3 runs: sh6bench$' "$x/report.txt" || { cat "$x/report.txt"; fail "the report does not count the extra runs"; }
echo "smoke run: $nwork workloads x $nalloc allocators passed"
