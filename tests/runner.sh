#!/usr/bin/env bash
# Runs each test given on the command line in its own process, with a
# timeout, and prints one line per test and a summary. A test is a program
# (a cmocka binary) or a *.test.sh script; a script may set its own limit
# with a line "# timeout: SECONDS". Each test runs in a fresh temporary
# directory ($JM_TMP) that is removed afterwards. Exit status 77 means
# skipped (the last line of its output says why). The output of a failed
# test is printed in full. Under `make check SANITIZE=...` (JM_SANITIZED
# set), a sanitizer's report in the test's output or in any text file of
# its directory fails it too, whatever its status: a daemon killed at the
# end of a test may have written one that no exit status carries.
#
# Tests run JM_JOBS at a time (default: the number of CPUs plus one; most
# tests spend their time waiting for a daemon's tick or a child), each line
# printed when its test ends; with more tests than CPUs at a time, or a
# load average above the CPUs, each test's limit is longer in proportion. A script with a line "# serial: WHY" runs
# alone, before the others: one that judges the machine as a whole (a
# benchmark, memory figures a neighbour's load would move). JM_JOBS=1 runs
# everything one after the other, in the order given.
set -u
ncpu=$(nproc 2>/dev/null || echo 1)
jobs=${JM_JOBS:-$((ncpu + 1))}
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "runner: JM_JOBS=$jobs is not a number" >&2; exit 2; }
default_timeout=${JM_TEST_TIMEOUT:-300}
pass=0; fail=0; skip=0; failed=(); busy=0
res=$(mktemp -d /tmp/jmrunner.XXXXXX)
start_all=$(date +%s.%N)
# The tests' python3 is the first in PATH, called as itself: a pyenv shim
# there runs pyenv's bash scripts at every call (0.7 s of CPU and 9,400
# page faults a call against 0.1 s and 1,900 for the interpreter it
# runs), and the tests call python3 in their polling loops. The same
# interpreter (its sys.executable, linked first in PATH), so the same
# modules: tests/preload/python needs its test suite (7f620f7).
py=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
if [ -n "$py" ] && [ -x "$py" ] && [ "$(command -v python3)" != "$py" ]; then
  mkdir -p "$res/bin"
  ln -s "$py" "$res/bin/python3"
  export PATH="$res/bin:$PATH"
fi
declare -A running=()     # pid of a test's job -> its index

# run_one T I: runs test T, leaves in $res/I its line (and, failed, its
# output) for the parent to print.
run_one() {
  local t=$1 out=$res/$2 limit=$default_timeout l tmp log s e rc dur cpu
  case "$t" in
    *.sh) l=$(sed -n 's/^# timeout: *\([0-9][0-9]*\).*/\1/p' "$t" | head -n 1)
          [ -n "$l" ] && limit=$l ;;
  esac
  # A limit bounds a hang (a test that passes never meets it), for a test
  # that has a CPU: with more tests at a time than CPUs, or a load average
  # above them (other work on the machine), it is as much longer, 8 x at
  # most.
  limit=$(awk -v l="$limit" -v j="$jobs" -v n="$ncpu" -v la="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)" \
    'BEGIN { f = j / n; if (la / n > f) f = la / n; if (f < 1) f = 1; if (f > 8) f = 8
             printf "%d", l * f + 0.999 }')
  tmp=$(mktemp -d /tmp/jmtest.XXXXXX)
  chmod 755 "$tmp"
  log="$tmp/.log"
  s=$(date +%s.%N)
  JM_TMP="$tmp" timeout -k 5 "$limit" "$t" >"$log" 2>&1 </dev/null &
  echo $! >"$out.pid"
  wait $!
  rc=$?
  e=$(date +%s.%N)
  rm -f "$out.pid"
  # CPU of the test and every process it waited for (user + system).
  times >"$out.times"
  cpu=$(sed -n 2p "$out.times" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m");
          t += a[1] * 60 + a[2] } printf "%.1f", t }')
  rm -f "$out.times"
  if [ -n "${JM_SANITIZED:-}" ] && [ $rc -ne 124 ] &&
     grep -rIqs -e "ERROR: AddressSanitizer" -e "ERROR: LeakSanitizer" -e "runtime error:" \
       -e "WARNING: ThreadSanitizer" "$tmp"; then
    { echo "sanitizer report (JM_SANITIZED=$JM_SANITIZED):"
      grep -rIhs -A30 -e "ERROR: AddressSanitizer" -e "ERROR: LeakSanitizer" -e "runtime error:" \
        -e "WARNING: ThreadSanitizer" "$tmp" | head -n 80; } >>"$log.san"
    cat "$log.san" >>"$log"
    rc=1
  fi
  dur=$(awk -v a="$s" -v b="$e" 'BEGIN{printf "%.1f", b-a}')
  if [ $rc -eq 0 ]; then
    printf 'PASS  %-55s %6ss  cpu %5ss\n' "$t" "$dur" "$cpu" >"$out.line"
  elif [ $rc -eq 77 ]; then
    printf 'SKIP  %-55s %6ss  cpu %5ss  (%s)\n' "$t" "$dur" "$cpu" "$(tail -n 1 "$log")" >"$out.line"
  else
    [ $rc -eq 124 ] && why="timeout after ${limit}s" || why="exit $rc"
    printf 'FAIL  %-55s %6ss  cpu %5ss  (%s)\n' "$t" "$dur" "$cpu" "$why" >"$out.line"
    sed 's/^/    | /' "$log" | tail -n 200 >"$out.log"
  fi
  echo "$rc $dur" >"$out.rc"
  rm -rf "$tmp"
}

# report I: prints test I's line (and output), counts it.
sum_dur=0
report() {
  local out=$res/$1 rc dur
  read -r rc dur <"$out.rc" || { rc=1; dur=0; echo "FAIL  ${tests[$1]} (the runner lost it)" >"$out.line"; }
  cat "$out.line"
  sum_dur=$(awk -v a="$sum_dur" -v b="$dur" 'BEGIN{printf "%.1f", a+b}')
  case $rc in
    0) pass=$((pass+1)) ;;
    77) skip=$((skip+1)) ;;
    *) [ -f "$out.log" ] && cat "$out.log"
       fail=$((fail+1)); failed+=("${tests[$1]}") ;;
  esac
}

# reap: waits for one running test, reports it.
reap() {
  local p=
  wait -n -p p "${!running[@]}"
  [ -n "$p" ] || return 0
  report "${running[$p]}"
  unset "running[$p]"
}

# Interrupted: stop every running test (timeout passes SIGTERM on to it,
# so its own clean-up runs).
stop_all() {
  local f
  for f in "$res"/*.pid; do [ -e "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; done
  wait
  rm -rf "$res"
  exit 130
}
trap stop_all INT TERM

tests=(); serial=(); parallel=()
for t in "$@"; do
  i=${#tests[@]}
  tests+=("$t")
  if [ ! -e "$t" ]; then
    echo "MISSING $t"; fail=$((fail+1)); failed+=("$t"); continue
  fi
  if [ "$jobs" -gt 1 ] && [[ "$t" == *.sh ]] && grep -q '^# serial:' "$t"; then
    serial+=("$i")
  else
    parallel+=("$i")
  fi
done
for i in "${serial[@]}" "${parallel[@]}"; do
  [[ " ${serial[*]} " == *" $i "* ]] && limit=1 || limit=$jobs
  while [ ${#running[@]} -ge "$limit" ] || { [ "$limit" = 1 ] && [ ${#running[@]} -gt 0 ]; }; do
    reap
  done
  run_one "${tests[$i]}" "$i" &
  running[$!]=$i
  # a serial test runs alone
  [ "$limit" = 1 ] && reap
done
while [ ${#running[@]} -gt 0 ]; do reap; done
rm -rf "$res"
end_all=$(date +%s.%N)
echo "----"
wall=$(awk -v a="$start_all" -v b="$end_all" 'BEGIN{printf "%.0f", b-a}')
echo "$pass passed, $fail failed, $skip skipped, in ${wall}s" \
     "(tests' own times add up to ${sum_dur%.*}s; $jobs at a time, ${#serial[@]} alone)"
if [ $fail -ne 0 ]; then
  printf 'failed: %s\n' "${failed[@]}"
  exit 1
fi
