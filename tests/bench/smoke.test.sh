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
# run.sh exits 0 on any failure of an anchor allocator's (shown here) and 1
# on anything of jmalloc's: a crash, a timeout, an output that differs, its
# callgrind run.
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
		# An anchor's callgrind run that failed is reported (above), not judged.
		case $a in glibc|jemalloc|mimalloc|tcmalloc)
			grep -q "^fastpath under callgrind and $a: " "$out/failures" && continue ;;
		esac
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

# A failure of an anchor's is reported and never fails the run; one of
# jmalloc's always does. A stand-in library (glibc's malloc underneath)
# that, in sh6bench, exits 3 at start (as tcmalloc) or prints a line more
# (as jemalloc): run.sh exits 0 and names both; the same library as
# jmalloc: it exits 1. (Before, an anchor's output that differed, or its
# timeout, failed the run.)
cat >"$JM_TMP/standin.c" <<'EOF'
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
extern void *__libc_malloc(size_t), *__libc_calloc(size_t, size_t), *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
void *malloc(size_t n) { return __libc_malloc(n); }
void *calloc(size_t n, size_t s) { return __libc_calloc(n, s); }
void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
__attribute__((constructor)) static void standin(void)
{
	const char *how = getenv("STANDIN");
	if (!how || strcmp(program_invocation_short_name, "sh6bench") != 0)
		return;
	if (strcmp(how, "exit") == 0)
		_exit(3);
	if (write(1, "standin\n", 8) != 8)
		_exit(4);
}
EOF
cc -O2 -shared -fPIC -o "$JM_TMP/standin.so" "$JM_TMP/standin.c" || fail "cannot build the stand-in library"
s=$JM_TMP/standin
JM_BENCH_OUT=$s.anchors JM_BENCH_SMOKE=1 JM_BENCH_CALLGRIND=0 JM_BENCH_ALLOCATORS="glibc= \
	tcmalloc=$JM_TMP/standin.so:STANDIN=exit jemalloc=$JM_TMP/standin.so:STANDIN=output jmalloc=$JMALLOC_LIB" \
	"$JM_ROOT/tests/bench/run.sh" --workloads sh6bench >"$s.anchors.log" 2>&1
rc=$?
[ $rc -eq 0 ] || { cat "$s.anchors.log"; fail "run.sh exited $rc on failures of anchors alone"; }
grep -qx 'sh6bench under tcmalloc (run 1): exit status 3' "$s.anchors/failures" &&
	grep -qx "sh6bench under jemalloc (run 1): output differs from glibc's" "$s.anchors/failures" ||
	{ cat "$s.anchors/failures"; fail "the anchors' failures are not reported"; }
JM_BENCH_OUT=$s.ours JM_BENCH_SMOKE=1 JM_BENCH_CALLGRIND=0 \
	JM_BENCH_ALLOCATORS="glibc= jmalloc=$JM_TMP/standin.so:STANDIN=exit" \
	"$JM_ROOT/tests/bench/run.sh" --workloads sh6bench >"$s.ours.log" 2>&1 &&
	{ cat "$s.ours.log"; fail "run.sh exited 0 on a failure of jmalloc's"; }
grep -qx 'sh6bench under jmalloc (run 1): exit status 3' "$s.ours/failures" ||
	{ cat "$s.ours/failures"; fail "jmalloc's failure is not reported"; }
echo "smoke run: $nwork workloads x $nalloc allocators passed"
