#!/usr/bin/env bash
# timeout: 600
# The daemon's end-to-end tests again, against jmstatd built with
# AddressSanitizer (and LeakSanitizer) plus UndefinedBehaviorSanitizer,
# every report fatal.
. "$(dirname "$0")/lib.sh"
# The sanitized jmstatd `make tests` builds (Makefile: build/san/bin).
bin=${JMSTATD_SAN:-${JM_BUILD:?}/san/bin/jmstatd}
[ -x "$bin" ] || { echo "no sanitized jmstatd at $bin (make tests builds it)"; exit 77; }
"$bin" --version >/dev/null || die "the sanitized jmstatd does not run"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87
status=0
# Every test of tests/daemon but this one and valgrind's (valgrind cannot
# run a sanitized program), so that a new test is run here too.
for f in "$JM_ROOT"/tests/daemon/*.test.sh; do
	t=$(basename "$f" .test.sh)
	case $t in sanitizers | valgrind) continue ;; esac
	dir=$JM_TMP/$t
	mkdir -p "$dir"
	chmod 755 "$dir"
	rc=0
	# The output beside the test's directory, not in it (a test may write
	# a file named "out" there).
	JM_TMP=$dir JMSTATD=$bin "$JM_ROOT/tests/daemon/$t.test.sh" >"$dir.out" 2>&1 || rc=$?
	case $rc in
	0) echo "PASS $t (sanitized)" ;;
	77) echo "SKIP $t (sanitized): $(tail -n 1 "$dir.out")" ;;
	*) echo "FAIL $t (sanitized): exit $rc"; sed 's/^/    | /' "$dir.out" | tail -n 60; status=1 ;;
	esac
	if grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$dir"/*.log 2>/dev/null; then
		echo "sanitizer report in $t:"
		grep -A30 "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$dir"/*.log | head -n 60
		status=1
	fi
done
[ $status -eq 0 ] || die "the sanitized daemon failed"
echo "ok"
