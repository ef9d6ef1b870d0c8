#!/usr/bin/env bash
# timeout: 400
# The alert and metrics tests again, against jmstatd built with
# AddressSanitizer (and LeakSanitizer) plus UndefinedBehaviorSanitizer,
# every report fatal: the alert engine, its commands, config reloads and the
# HTTP endpoint under bad and crowded clients, checked for memory errors,
# leaks and undefined behaviour. The build goes to $JM_TMP.
. "$(dirname "$0")/lib.sh"
CC=${CC:-cc}
src="$JM_ROOT/jmstatd/*.c $JM_ROOT/common/*.c"
bin=$JM_TMP/jmstatd-san
# shellcheck disable=SC2086
if ! "$CC" -std=gnu11 -O1 -g -D_GNU_SOURCE -fno-strict-aliasing -pthread \
	-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	-I"$JM_ROOT/liballoc/include" -I"$JM_ROOT/common" -o "$bin" $src \
	$(pkg-config --libs libuv jansson 2>/dev/null || echo -luv -ljansson) 2>"$JM_TMP/cc.log"; then
	cat "$JM_TMP/cc.log"
	if grep -q "cannot find -lasan\|libasan\|libubsan" "$JM_TMP/cc.log"; then
		echo "the compiler has no sanitizer runtime"
		exit 77
	fi
	die "cannot build jmstatd with sanitizers"
fi
"$bin" --version >/dev/null || die "the sanitized jmstatd does not run"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87
status=0
for t in state reload command metrics sites; do
	dir=$JM_TMP/$t
	mkdir -p "$dir"
	chmod 755 "$dir"
	rc=0
	JM_TMP=$dir JMSTATD=$bin "$JM_ROOT/tests/alerts/$t.test.sh" >"$dir/out" 2>&1 || rc=$?
	case $rc in
	0) echo "PASS $t (sanitized)" ;;
	77) echo "SKIP $t (sanitized): $(tail -n 1 "$dir/out")" ;;
	*) echo "FAIL $t (sanitized): exit $rc"; sed 's/^/    | /' "$dir/out" | tail -n 60; status=1 ;;
	esac
	if grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$dir"/*.log 2>/dev/null; then
		echo "sanitizer report in $t:"
		grep -A30 "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$dir"/*.log | head -n 60
		status=1
	fi
done
exit $status
