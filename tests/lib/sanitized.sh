# tests/lib/sanitized.sh: sourced by the tests that run other tests again
# against jmstatd and jmctl built with AddressSanitizer (and LeakSanitizer)
# plus UndefinedBehaviorSanitizer, every report fatal
# (tests/*/sanitizers.test.sh).
#
# san_programs          sets SAN_JMSTATD and SAN_JMCTL to the sanitized builds
#                       `make tests` makes (build/san/bin; JMSTATD_SAN and
#                       JMCTL_SAN name others) and the sanitizers' options;
#                       exits 77 when the programs are missing.
# san_run DIR/TEST      runs tests/DIR/TEST.test.sh with them, in a directory
#                       of its own under $JM_TMP, within its "# timeout:"
#                       (300 s without one), and prints PASS (with its
#                       time), SKIP or FAIL (with the end of its output,
#                       "timeout" when it hung); a sanitizer report
#                       in any file it left is a failure too. SAN_STATUS is 1
#                       once a run failed.
# san_run_all DIR [SKIP...]  san_run for every test of tests/DIR but
#                       sanitizers and the SKIP ones, so that a test added
#                       to DIR is run here too.

SAN_STATUS=0

san_programs() {
	SAN_JMSTATD=${JMSTATD_SAN:-${JM_BUILD:?}/san/bin/jmstatd}
	SAN_JMCTL=${JMCTL_SAN:-${JM_BUILD:?}/san/bin/jmctl}
	if [ ! -x "$SAN_JMSTATD" ] || [ ! -x "$SAN_JMCTL" ]; then
		echo "no sanitized jmstatd and jmctl in $(dirname "$SAN_JMSTATD") (make tests builds them)"
		exit 77
	fi
	if ! "$SAN_JMSTATD" --version >/dev/null || ! "$SAN_JMCTL" --version >/dev/null; then
		echo "FAIL: the sanitized programs do not run" >&2
		exit 1
	fi
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87
}

san_run() {
	local t=$1 rc=0 dir
	dir=$JM_TMP/$(echo "$t" | tr / _)
	mkdir -p "$dir"
	chmod 755 "$dir"
	# The output beside the test's directory, not in it (a test may write
	# a file named "out" there). Each test within its own limit (its
	# "# timeout:" line, as tests/runner.sh gives it): one that hangs is
	# named, not the whole group's limit spent without saying where.
	local limit s e
	limit=$(sed -n 's/^# timeout: *\([0-9][0-9]*\).*/\1/p' "$JM_ROOT/tests/$t.test.sh" | head -n 1)
	s=$(date +%s)
	JM_TMP=$dir JMSTATD=$SAN_JMSTATD JMCTL=$SAN_JMCTL timeout -k 5 "${limit:-300}" \
		"$JM_ROOT/tests/$t.test.sh" >"$dir.out" 2>&1 || rc=$?
	e=$(date +%s)
	case $rc in
	0) echo "PASS $t (sanitized) $((e - s))s" ;;
	77) echo "SKIP $t (sanitized): $(tail -n 1 "$dir.out")" ;;
	124) echo "FAIL $t (sanitized): timeout after ${limit:-300}s"
	     sed 's/^/    | /' "$dir.out" | tail -n 60; SAN_STATUS=1 ;;
	*) echo "FAIL $t (sanitized): exit $rc after $((e - s))s"
	   sed 's/^/    | /' "$dir.out" | tail -n 60; SAN_STATUS=1 ;;
	esac
	if grep -rq "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$dir" 2>/dev/null; then
		echo "sanitizer report in $t:"
		grep -rh -A30 "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$dir" | head -n 60
		SAN_STATUS=1
	fi
}

san_run_all() {
	local group=$1 f t
	shift
	for f in "$JM_ROOT/tests/$group"/*.test.sh; do
		t=$(basename "$f" .test.sh)
		case " sanitizers $* " in *" $t "*) continue ;; esac
		san_run "$group/$t"
	done
}
