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
set -u
pass=0; fail=0; skip=0; failed=()
default_timeout=${JM_TEST_TIMEOUT:-300}
start_all=$(date +%s)
for t in "$@"; do
  [ -e "$t" ] || { echo "MISSING $t"; fail=$((fail+1)); failed+=("$t"); continue; }
  limit=$default_timeout
  case "$t" in
    *.sh) l=$(sed -n 's/^# timeout: *\([0-9][0-9]*\).*/\1/p' "$t" | head -n 1)
          [ -n "$l" ] && limit=$l ;;
  esac
  tmp=$(mktemp -d /tmp/jmtest.XXXXXX)
  chmod 755 "$tmp"
  log="$tmp/.log"
  s=$(date +%s.%N)
  JM_TMP="$tmp" timeout -k 5 "$limit" "$t" >"$log" 2>&1
  rc=$?
  e=$(date +%s.%N)
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
    printf 'PASS  %-55s %6ss\n' "$t" "$dur"
    pass=$((pass+1))
    rm -rf "$tmp"
  elif [ $rc -eq 77 ]; then
    printf 'SKIP  %-55s %6ss  (%s)\n' "$t" "$dur" "$(tail -n 1 "$log")"
    skip=$((skip+1))
    rm -rf "$tmp"
  else
    [ $rc -eq 124 ] && why="timeout after ${limit}s" || why="exit $rc"
    printf 'FAIL  %-55s %6ss  (%s)\n' "$t" "$dur" "$why"
    sed 's/^/    | /' "$log" | tail -n 200
    fail=$((fail+1)); failed+=("$t")
    rm -rf "$tmp"
  fi
done
end_all=$(date +%s)
echo "----"
echo "$pass passed, $fail failed, $skip skipped, in $((end_all-start_all))s"
if [ $fail -ne 0 ]; then
  printf 'failed: %s\n' "${failed[@]}"
  exit 1
fi
