#!/usr/bin/env bash
# run.sh: the benchmark suite (`make bench`; the smoke run of `make check`).
#
# Builds the workloads of tests/bench into $JM_BUILD/bench, runs every
# workload under every allocator (LD_PRELOAD), interleaved: within each
# repetition a workload runs under each allocator in turn, the order
# rotating from one repetition to the next. Then a workload whose median
# wall time under an allocator was short (under 1 s) runs again under that
# allocator, in further repetitions interleaved and rotated the same way, up
# to 7 runs in all and within a time budget: a run of 0.3 s moves by 30-40%
# from one run to the next on a shared machine. Each run is timed by jmtime
# (wall time, peak RSS); its output must match the other allocators' (the
# workloads print only what does not depend on the allocator) and its exit
# status must be 0. Then the fast-path patterns run once per allocator under
# callgrind. report.py prints the tables.
#
#   tests/bench/run.sh [--smoke] [--runs N] [--max-runs N] [--short S] [--extra-budget S]
#                      [--workloads a,b] [--allocators a,b]
#                      [--threads N] [--scale X] [--[no-]scaling] [--no-callgrind] [--[no-]idle]
#                      [--out DIR] [--list]
#
# The same settings as environment variables (the options win):
#   JM_BENCH_SMOKE=1         every workload once, tiny sizes (`make check`)
#   JM_BENCH_RUNS=N          repetitions (default 3; 1 in smoke mode)
#   JM_BENCH_MAX_RUNS=N      runs in all of a short workload (7; in smoke
#                            mode the runs, so none more): after the
#                            repetitions, each workload and allocator whose
#                            median wall time was under JM_BENCH_SHORT runs
#                            again, in repetitions interleaved and rotated
#                            as the others, up to N runs
#   JM_BENCH_SHORT=S         what is short, in seconds of median wall time
#                            (1; 0: no more runs)
#   JM_BENCH_EXTRA_BUDGET=S  no further repetition of a workload starts once
#                            these runs took S seconds (240): make bench
#                            grows by at most about that much
#   JM_BENCH_WORKLOADS=a,b   only these workloads (names as in --list)
#   JM_BENCH_ONLY=a,b        only these allocators (names as in --list)
#   JM_BENCH_THREADS=N       threads of the multi-threaded workloads (nproc)
#   JM_BENCH_SCALE=X         work multiplier (1; 0.01 in smoke mode)
#   JM_BENCH_SCALING=0|1     also run the cross-thread workloads (larson,
#                            mstress, rptest, sh8bench, glibc-thread) with one
#                            thread, as NAME@1t, and report the throughput of
#                            THREADS threads over that of one (1; 0 in smoke
#                            mode)
#   JM_BENCH_CALLGRIND=0     skip the callgrind fast-path counts
#   JM_BENCH_IDLE=0|1        the idle-return measurement: every allocator at
#                            once, idle-return (256 MiB on 2 threads, 95%
#                            freed, then no allocator call), RSS above start
#                            at +2, +12, +25 s (1 when no workload is
#                            chosen or idle-return is; 0 in smoke mode)
#   JM_BENCH_PAIRS=N         malloc+free pairs per callgrind pattern (100000)
#   JM_BENCH_OUT=DIR         where raw results go ($JM_BUILD/bench/last)
#   JM_BENCH_TIMEOUT=S       limit per run (300 s; 60 s in smoke mode)
# The allocators are data: a list of NAME=PRELOAD[:VAR=VALUE...] separated
# by blanks, PRELOAD empty for glibc's own malloc:
#   JM_BENCH_ALLOCATORS      replaces the whole list
#   JM_BENCH_EXTRA_ALLOCATORS is appended to it, for example
#       JM_BENCH_EXTRA_ALLOCATORS="jmalloc-nostats=$PWD/liballoc/libjmalloc.so:JMALLOC_CONF=stats:0"
#   JM_BENCH_NOSTATS=1       appends exactly that jmalloc-nostats column
#   JM_BENCH_JMALLOC_ENV     VAR=VALUE[:VAR=VALUE] for the jmalloc column
# glibc, jemalloc, mimalloc and tcmalloc are the anchors: jmalloc and any
# other column are compared with each of them and with the best of them.
# Exit status: 0, or 1 if any run of a column not an anchor crashed, timed
# out or gave a wrong output, or the report could not be made (an anchor's
# failures are reported, not exited on).
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${JM_ROOT:=$(cd "$here/../.." && pwd)}"
: "${JM_BUILD:=$JM_ROOT/build}"
: "${JMALLOC_LIB:=$JM_ROOT/liballoc/libjmalloc.so}"

smoke=${JM_BENCH_SMOKE:-0}
runs=${JM_BENCH_RUNS:-}
max_runs=${JM_BENCH_MAX_RUNS:-}
short=${JM_BENCH_SHORT:-1}
extra_budget=${JM_BENCH_EXTRA_BUDGET:-240}
sel_workloads=${JM_BENCH_WORKLOADS:-}
sel_allocators=${JM_BENCH_ONLY:-}
threads=${JM_BENCH_THREADS:-$(nproc)}
scale=${JM_BENCH_SCALE:-}
callgrind=${JM_BENCH_CALLGRIND:-1}
idle=${JM_BENCH_IDLE:-}
scaling=${JM_BENCH_SCALING:-}
pairs=${JM_BENCH_PAIRS:-}
out=${JM_BENCH_OUT:-$JM_BUILD/bench/last}
limit=${JM_BENCH_TIMEOUT:-}
list_only=0

usage() {
	sed -n '/^#   tests\/bench\/run.sh/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) smoke=1 ;;
	--runs) runs=$2; shift ;;
	--max-runs) max_runs=$2; shift ;;
	--short) short=$2; shift ;;
	--extra-budget) extra_budget=$2; shift ;;
	--workloads) sel_workloads=$2; shift ;;
	--allocators) sel_allocators=$2; shift ;;
	--threads) threads=$2; shift ;;
	--scale) scale=$2; shift ;;
	--no-callgrind) callgrind=0 ;;
	--idle) idle=1 ;;
	--no-idle) idle=0 ;;
	--scaling) scaling=1 ;;
	--no-scaling) scaling=0 ;;
	--out) out=$2; shift ;;
	--list) list_only=1 ;;
	-h|--help) usage ;;
	*) echo "run.sh: unknown option '$1'" >&2; usage ;;
	esac
	shift
done
if [ -z "$idle" ]; then
	idle=0
	if [ "$smoke" != 1 ] && { [ -z "$sel_workloads" ] || [[ ",$sel_workloads," == *",idle-return,"* ]]; }; then
		idle=1
	fi
fi
if [ "$smoke" = 1 ]; then
	: "${runs:=1}" "${scale:=0.01}" "${pairs:=20000}" "${limit:=60}" "${scaling:=0}"
fi
: "${runs:=3}" "${scale:=1}" "${pairs:=100000}" "${limit:=300}" "${scaling:=1}"
[ "$smoke" = 1 ] && : "${max_runs:=$runs}"
: "${max_runs:=7}"

bin=$JM_BUILD/bench
notes=()

# ------------------------------------------------------------ allocators
# Finds a library by file name in the usual directories.
find_lib() {
	local d f
	for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
		for f in "$d"/$1; do
			[ -e "$f" ] && { echo "$f"; return; }
		done
	done
	echo "/nonexistent/$1"
}

jm_entry="jmalloc=$JMALLOC_LIB${JM_BENCH_JMALLOC_ENV:+:$JM_BENCH_JMALLOC_ENV}"
default_allocators="glibc= jemalloc=$(find_lib libjemalloc.so.2) mimalloc=$(find_lib 'libmimalloc.so.2*')
 tcmalloc=$(find_lib libtcmalloc_minimal.so.4) $jm_entry"
allocator_list=${JM_BENCH_ALLOCATORS:-$default_allocators}
allocator_list="$allocator_list ${JM_BENCH_EXTRA_ALLOCATORS:-}"
if [ "${JM_BENCH_NOSTATS:-0}" = 1 ]; then
	allocator_list="$allocator_list jmalloc-nostats=$JMALLOC_LIB:JMALLOC_CONF=stats:0"
fi

names=()            # allocator names, in order
declare -A preload  # name -> library ('' for glibc)
declare -A envs     # name -> VAR=VALUE lines
for entry in $allocator_list; do
	name=${entry%%=*}
	rest=${entry#*=}
	lib=${rest%%:*}
	env_part=
	[ "$rest" != "$lib" ] && env_part=${rest#*:}
	if [ -n "$sel_allocators" ] && [[ ",$sel_allocators," != *",$name,"* ]]; then
		continue
	fi
	if [ -n "$lib" ] && [ ! -e "$lib" ]; then
		notes+=("$name: $lib not found; not measured")
		continue
	fi
	names+=("$name")
	preload[$name]=$lib
	# A ':' starts a new variable only where it is followed by NAME=.
	envs[$name]=$(printf '%s' "$env_part" | sed 's/:\([A-Za-z_][A-Za-z0-9_]*=\)/\n\1/g')
done

# ------------------------------------------------------------- workloads
# name | environment (VAR=VALUE,...) | stdin | command
# @B@ the built workloads, @H@ tests/bench, @D@ generated inputs,
# @W@ a scratch directory, @T@ threads, @S@ scale.
workload_table="
larson        | -                   | -              | @B@/larson @T@ @S@
xmalloc       | -                   | -              | @B@/xmalloc @T@ @S@
cache-scratch | -                   | -              | @B@/cache-scratch @T@ @S@
cache-thrash  | -                   | -              | @B@/cache-thrash @T@ @S@
glibc-simple  | -                   | -              | @B@/glibc-simple 1 @S@
glibc-thread  | -                   | -              | @B@/glibc-thread @T@ @S@
alloc-test    | -                   | -              | @B@/alloc-test @T@ @S@
mstress       | -                   | -              | @B@/mstress @T@ @S@
rptest        | -                   | -              | @B@/rptest @T@ @S@
sh6bench      | -                   | -              | @B@/sh6bench @T@ @S@
sh8bench      | -                   | -              | @B@/sh8bench @T@ @S@
cfrac         | -                   | -              | @B@/cfrac 1 @S@
malloc-large  | -                   | -              | @B@/malloc-large 1 @S@
mleak         | -                   | -              | @B@/mleak @T@ @S@
teardown      | -                   | -              | @B@/teardown @T@ @S@
purge-mixed   | -                   | -              | @B@/purge-mixed @T@ @S@
purge-xthread | -                   | -              | @B@/purge-xthread @T@ @S@
purge-liveset | -                   | -              | @B@/purge-liveset 1 @S@
purge-rounds  | -                   | -              | @B@/purge-rounds 1 @S@
frag          | -                   | -              | @B@/frag 1 @S@
alignmix      | -                   | -              | @B@/alignmix 1 @S@
realloc-grow  | -                   | -              | @B@/realloc-grow @T@ @S@
realloc-huge  | -                   | -              | @B@/realloc-huge @T@ @S@
vec-grow      | -                   | -              | @B@/vec-grow @T@ @S@
trim-often    | -                   | -              | @B@/trim-often @T@ @S@
trim-requests | -                   | -              | @B@/trim-requests @T@ @S@
fork-churn    | -                   | -              | @B@/fork-churn @T@ @S@
fork-exec     | -                   | -              | @B@/fork-exec @T@ @S@
many-threads  | -                   | -              | @B@/many-threads @T@ @S@
thread-churn  | -                   | -              | @B@/thread-churn @T@ @S@
aligned       | -                   | -              | @B@/aligned @T@ @S@
conns         | -                   | -              | @B@/conns @T@ @S@
prefork       | -                   | -              | @B@/prefork @T@ @S@
fork-free     | -                   | -              | @B@/fork-free @T@ 0 @S@
sqlite        | -                   | @D@/sqlite.sql | sqlite3 -batch :memory:
python        | PYTHONMALLOC=malloc,PYTHONHASHSEED=0 | - | python3 @H@/objects.py @S@
g++           | -                   | -              | g++ -O1 -c @D@/gxx.cpp -o @W@/gxx.o
"
wl_names=()
declare -A wl_env wl_stdin wl_cmd wl_threads
while IFS='|' read -r n e i c; do
	n=$(echo $n)
	[ -z "$n" ] && continue
	if [ -n "$sel_workloads" ] && [[ ",$sel_workloads," != *",$n,"* ]]; then
		continue
	fi
	first=$(echo $c | cut -d' ' -f1)
	if [[ "$first" != @B@* ]] && ! command -v "$first" >/dev/null; then
		notes+=("$n: $first is not installed; skipped")
		continue
	fi
	# The interpreter itself, not a wrapper in PATH (pyenv's shim is a
	# shell script that forks a dozen processes: it, not Python, was timed).
	if [ "$first" = python3 ]; then
		py=$(python3 -c 'import sys; print(sys.executable)') &&
			c=${c/python3/$py}
	fi
	wl_names+=("$n")
	wl_env[$n]=$(echo $e)
	wl_stdin[$n]=$(echo $i)
	wl_cmd[$n]=$(echo $c)
	wl_threads[$n]=$threads
done <<<"$workload_table"
if [ "$scaling" = 1 ] && [ "$threads" -gt 1 ]; then
	for n in larson mstress rptest sh8bench glibc-thread; do
		[ -n "${wl_cmd[$n]:-}" ] || continue
		wl_names+=("$n@1t")
		wl_env[$n@1t]=${wl_env[$n]}
		wl_stdin[$n@1t]=${wl_stdin[$n]}
		wl_cmd[$n@1t]=${wl_cmd[$n]}
		wl_threads[$n@1t]=1
	done
fi

if [ "$list_only" = 1 ]; then
	echo "workloads: ${wl_names[*]}"
	for a in "${names[@]}"; do
		echo "allocator $a: ${preload[$a]:-(glibc)} ${envs[$a]//$'\n'/ }"
	done
	for n in "${notes[@]+"${notes[@]}"}"; do echo "note: $n"; done
	exit 0
fi
[ ${#names[@]} -gt 0 ] || { echo "run.sh: no allocator to run" >&2; exit 1; }
[ ${#wl_names[@]} -gt 0 ] || [ "$idle" = 1 ] || { echo "run.sh: no workload to run" >&2; exit 1; }

# ----------------------------------------------------------------- build
CC=${CC:-cc}
CFLAGS_BENCH="-std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
  -Wmissing-prototypes -D_GNU_SOURCE -fno-builtin -fno-ipa-icf -pthread"
mkdir -p "$bin"
build() {   # build NAME SOURCE [FLAGS...]
	local name=$1 src=$here/$2
	shift 2
	if [ ! -x "$bin/$name" ] || [ "$src" -nt "$bin/$name" ] || [ "$here/bench.h" -nt "$bin/$name" ] ||
	   [ "$here/bench_main.h" -nt "$bin/$name" ]; then
		# shellcheck disable=SC2086
		$CC $CFLAGS_BENCH "$@" -o "$bin/$name.tmp$$" "$src" -ldl || return 1
		mv "$bin/$name.tmp$$" "$bin/$name"
	fi
}
build_all() {
	build jmtime jmtime.c &&
	build malloc_owner malloc_owner.c &&
	build fastpath fastpath.c &&
	build larson larson.c &&
	build xmalloc xmalloc.c &&
	build cache-thrash cache.c &&
	build cache-scratch cache.c -DCACHE_SCRATCH=1 &&
	build glibc-simple glibc_simple.c &&
	build glibc-thread glibc_thread.c &&
	build alloc-test alloc_test.c &&
	build mstress mstress.c &&
	build rptest rptest.c &&
	build sh6bench shbench.c &&
	build sh8bench shbench.c -DSH8=1 &&
	build cfrac cfrac.c &&
	build malloc-large malloc_large.c &&
	build mleak mleak.c &&
	build teardown teardown.c &&
	build purge-mixed purge_patterns.c -DPATTERN=1 &&
	build purge-xthread purge_patterns.c -DPATTERN=2 &&
	build purge-liveset purge_patterns.c -DPATTERN=3 &&
	build purge-rounds purge_patterns.c -DPATTERN=4 &&
	build frag frag.c &&
	build alignmix frag.c -DALIGNMIX=1 &&
	build realloc-grow realloc_grow.c &&
	build realloc-huge realloc_huge.c &&
	build vec-grow vec_grow.c &&
	build trim-often trim_often.c &&
	build trim-requests trim_requests.c &&
	build fork-churn fork_churn.c &&
	build fork-exec fork_exec.c &&
	build many-threads many_threads.c &&
	build thread-churn thread_churn.c &&
	build aligned aligned.c &&
	build conns conns.c &&
	build prefork prefork.c &&
	build fork-free fork_free.c &&
	build idle-return idle_return.c
}
build_all || { echo "run.sh: building the workloads failed" >&2; exit 1; }

# --------------------------------------------------------- preload check
rm -rf "$out"
mkdir -p "$out/stdout" "$out/work" "$out/data" "$out/lib"
# A library built in this tree is copied first, so that a rebuild during
# the run (the tree is shared) cannot mix two versions or crash a run.
root_real=$(readlink -f "$JM_ROOT")
declare -A origin
for a in "${names[@]}"; do
	origin[$a]=${preload[$a]:-(glibc malloc)}
	lib=${preload[$a]}
	if [ -n "$lib" ] && [[ "$(readlink -f "$lib")" == "$root_real"/* ]]; then
		cp "$lib" "$out/lib/$a.so" || { echo "run.sh: cannot copy $lib" >&2; exit 1; }
		preload[$a]=$out/lib/$a.so
		origin[$a]="$lib (copied at start, $(sha1sum <"$lib" | cut -c1-12))"
	fi
done
checked=()
for a in "${names[@]}"; do
	want=/lib/x86_64-linux-gnu/libc.so.6
	got=$(env ${preload[$a]:+LD_PRELOAD=${preload[$a]}} "$bin/malloc_owner" 2>&1)
	if [ -n "${preload[$a]}" ]; then
		want=${preload[$a]}
		if [ "$(readlink -f "$got")" != "$(readlink -f "$want")" ]; then
			notes+=("$a: LD_PRELOAD=$want did not take effect (malloc comes from $got); not measured")
			continue
		fi
	fi
	checked+=("$a")
done
names=("${checked[@]+"${checked[@]}"}")
[ ${#names[@]} -gt 0 ] || { echo "run.sh: no usable allocator" >&2; printf '%s\n' "${notes[@]}" >&2; exit 1; }

# ---------------------------------------------------------------- inputs
# Those of the workloads chosen only (a python each).
{ [ -z "${wl_cmd[sqlite]:-}" ] || python3 "$here/gen.py" sqlite "$scale" "$out/data/sqlite.sql"; } &&
{ [ -z "${wl_cmd[g++]:-}" ] || python3 "$here/gen.py" cxx "$scale" "$out/data/gxx.cpp"; } ||
	{ echo "run.sh: generating inputs failed" >&2; exit 1; }

# ------------------------------------------------------------------ runs
printf '%s\n' "${names[@]}" >"$out/allocators"
: >"$out/results.tsv"
: >"$out/failures"
subst() {   # subst STRING [THREADS]
	local s=$1
	s=${s//@B@/$bin}; s=${s//@H@/$here}; s=${s//@D@/$out/data}; s=${s//@W@/$out/work}
	s=${s//@T@/${2:-$threads}}; s=${s//@S@/$scale}
	echo "$s"
}

start=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
nalloc=${#names[@]}
# run_one WORKLOAD ALLOCATOR REP: one timed run, into results.tsv (and
# failures, if it crashed, timed out or printed something else).
run_one() {
	local w=$1 a=$2 rep=$3 args v wv stdout wall rss status cpu minflt why ref
	args=(-o "$out/time" -t "$limit")
	[ -n "${preload[$a]}" ] && args+=(-e "LD_PRELOAD=${preload[$a]}")
	while IFS= read -r v; do
		[ -n "$v" ] && args+=(-e "$v")
	done <<<"${envs[$a]}"
	if [ "${wl_env[$w]}" != - ]; then
		IFS=',' read -ra wv <<<"${wl_env[$w]}"
		for v in "${wv[@]}"; do args+=(-e "$v"); done
	fi
	[ "${wl_stdin[$w]}" != - ] && args+=(-i "$(subst "${wl_stdin[$w]}")")
	rm -rf "$out/work"; mkdir -p "$out/work"
	stdout=$out/stdout/$w.$a.$rep
	# shellcheck disable=SC2046
	(cd "$out/work" && "$bin/jmtime" "${args[@]}" -- $(subst "${wl_cmd[$w]}" "${wl_threads[$w]}")) \
		>"$stdout" 2>"$stdout.err"
	read -r wall rss status cpu minflt <"$out/time" || { wall=0; rss=0; status=255; cpu=0; minflt=0; }
	why=
	if [ "$status" != 0 ]; then
		why="exit status $status"
		[ "$status" = 124 ] && why="timed out after ${limit}s"
	else
		ref=$out/stdout/$w.ref
		if [ ! -e "$ref" ]; then
			cp "$stdout" "$ref"
			echo "$a" >"$ref.who"
		elif ! cmp -s "$ref" "$stdout"; then
			why="output differs from $(cat "$ref.who")'s"
		fi
	fi
	if [ -n "$why" ]; then
		status=${status/#0/1}
		echo "$w under $a (run $rep): $why" >>"$out/failures"
		{ sed 's/^/    stderr: /' "$stdout.err" | tail -n 5; } >>"$out/failures"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$a" "$rep" "$wall" "$rss" "$status" "$cpu" "${minflt:-0}" >>"$out/results.tsv"
	printf '[%d/%d] %-17s %-16s %8.3fs %8.1f MiB%s\n' "$rep" "$((rep > runs ? max_runs : runs))" "$w" "$a" "$wall" \
		"$(awk -v k="$rss" 'BEGIN{print k/1024}')" "${why:+  FAILED: $why}" >&2
}
for ((rep = 1; rep <= runs; rep++)); do
	for w in "${wl_names[@]}"; do
		for ((k = 0; k < nalloc; k++)); do
			run_one "$w" "${names[$(((k + rep - 1) % nalloc))]}" "$rep"
		done
	done
done

# ------------------------------------------------------------ extra runs
# A workload and allocator whose median wall time over those runs (the
# successful ones) was under $short s runs again, up to $max_runs runs in
# all: repetition after repetition, in each the workload's short allocators
# in the rotated order. A repetition of a workload starts only while the
# extra runs have taken less than $extra_budget s and its expected time
# (the sum of those medians) fits in what is left.
extra_start=$(date +%s)
extra_cut=
declare -A short_pairs=()   # "workload allocator" -> median wall time
declare -A short_cost=()    # workload -> sum of its short allocators' medians
if [ "$max_runs" -gt "$runs" ]; then
	while read -r w a m; do
		short_pairs["$w $a"]=$m
		short_cost[$w]=$(awk -v x="${short_cost[$w]:-0}" -v y="$m" 'BEGIN { print x + y }')
	done < <(awk -F'\t' -v t="$short" '$6 == 0 { v[$1 " " $2] = v[$1 " " $2] " " $4 }
		END {
			for (k in v) {
				n = split(substr(v[k], 2), x, " ")
				for (i = 2; i <= n; i++) for (j = i; j > 1 && x[j - 1] + 0 > x[j] + 0; j--) {
					y = x[j]; x[j] = x[j - 1]; x[j - 1] = y
				}
				m = n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
				if (m + 0 < t + 0) print k, m
			}
		}' "$out/results.tsv")
	for ((rep = runs + 1; rep <= max_runs && ${#short_cost[@]} > 0; rep++)); do
		for w in "${wl_names[@]}"; do
			[ -n "${short_cost[$w]:-}" ] || continue
			spent=$(($(date +%s) - extra_start))
			if awk -v s="$spent" -v c="${short_cost[$w]}" -v b="$extra_budget" 'BEGIN { exit !(s + c > b) }'; then
				extra_cut="$w, run $rep"
				break 2
			fi
			for ((k = 0; k < nalloc; k++)); do
				a=${names[$(((k + rep - 1) % nalloc))]}
				[ -n "${short_pairs["$w $a"]:-}" ] && run_one "$w" "$a" "$rep"
			done
		done
	done
fi
extra_seconds=$(($(date +%s) - extra_start))

# ----------------------------------------------------------- idle return
# Every allocator at once (the processes mostly sleep): RSS above start
# just after the frees and at +2, +12, +25 s, into idle.tsv.
if [ "$idle" = 1 ]; then
	pids=()
	for a in "${names[@]}"; do
		ie=(env)
		[ -n "${preload[$a]}" ] && ie+=("LD_PRELOAD=${preload[$a]}")
		while IFS= read -r v; do
			[ -n "$v" ] && ie+=("$v")
		done <<<"${envs[$a]}"
		"${ie[@]}" "$bin/idle-return" >"$out/idle.$a" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	: >"$out/idle.tsv"
	for a in "${names[@]}"; do
		f=$out/idle.$a
		v() { awk -v k="$1" '$1 == k { print $2 }' "$f"; }
		printf '%s\t%s\t%s\t%s\t%s\n' "$a" "$(v freed)" "$(v at2)" "$(v at12)" "$(v at25)" >>"$out/idle.tsv"
		echo "idle-return $a: $(tr '\n' ' ' <"$f")" >&2
	done
fi

# ------------------------------------------------------------- callgrind
if [ "$callgrind" = 1 ]; then
	if ! command -v valgrind >/dev/null; then
		notes+=("valgrind is not installed: no fast-path instruction counts")
	else
		echo "$pairs" >"$out/callgrind.pairs"
		for a in "${names[@]}"; do
			cg=(env)
			[ -n "${preload[$a]}" ] && cg+=("LD_PRELOAD=${preload[$a]}")
			while IFS= read -r v; do
				[ -n "$v" ] && cg+=("$v")
			done <<<"${envs[$a]}"
			if "${cg[@]}" valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.$a.out" \
				"$bin/fastpath" "$pairs" >"$out/callgrind.$a.log" 2>&1; then
				echo "callgrind $a: done" >&2
			else
				echo "fastpath under callgrind and $a: exit status $?" >>"$out/failures"
				tail -n 5 "$out/callgrind.$a.log" | sed 's/^/    /' >>"$out/failures"
				rm -f "$out/callgrind.$a.out"
			fi
		done
	fi
fi
end=$(date +%s)

# ---------------------------------------------------------------- report
commit=$(git -C "$JM_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$JM_ROOT" status --porcelain -- liballoc 2>/dev/null | head -n 1)
{
	echo "threads=$threads"
	echo "runs=$runs"
	echo "max_runs=$max_runs"
	echo "short=$short"
	echo "extra_budget=$extra_budget"
	echo "extra_seconds=$extra_seconds"
	echo "extra_cut=$extra_cut"
	echo "scale=$scale"
	echo "commit=$commit${dirty:+ (liballoc modified)}"
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "host=$(nproc) CPUs, $(uname -m), $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
	echo "seconds=$((end - start))"
	echo "load=$load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after"
	for a in "${names[@]}"; do
		echo "allocator=$a ${origin[$a]} ${envs[$a]//$'\n'/ }"
	done
	for n in "${notes[@]+"${notes[@]}"}"; do echo "note=$n"; done
} >"$out/meta"
python3 "$here/report.py" "$out" | tee "$out/report.txt"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "run.sh: report.py failed" >&2; exit 1; }
# A failure of an anchor allocator (glibc, jemalloc, mimalloc, tcmalloc) is
# that allocator's, not the suite's: reported, not exited on, whatever it
# was: a crash (tcmalloc's run of trim-often died with status 139 now and
# then, 3863ed4), a timeout, an output that differs from the reference
# (the first run's, glibc's unless that failed), its callgrind run.
# Anything of another column's (jmalloc, or a library compared by
# JM_BENCH_ALLOCATORS) exits 1, and so does an output of one that differs
# from an anchor's reference.
ours=$(awk '/^ / { next }
	/^[^ ]+ under (glibc|jemalloc|mimalloc|tcmalloc) \(run [0-9]+\): / { next }
	/^fastpath under callgrind and (glibc|jemalloc|mimalloc|tcmalloc): / { next }
	{ print }' "$out/failures")
[ -n "$ours" ] && exit 1
exit 0
