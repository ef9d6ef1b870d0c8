#!/usr/bin/env bash
# timeout: 600
# The daemon's end-to-end tests again, every test of tests/daemon but
# valgrind's (valgrind cannot run a sanitized program), against jmstatd
# built with AddressSanitizer (and LeakSanitizer) plus
# UndefinedBehaviorSanitizer, every report fatal (tests/lib/sanitized.sh).
. "$(dirname "$0")/lib.sh"
. "$JM_ROOT/tests/lib/sanitized.sh"
san_programs
san_run_all daemon valgrind
[ $SAN_STATUS -eq 0 ] || die "the sanitized daemon failed"
echo "ok"
