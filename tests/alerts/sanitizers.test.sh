#!/usr/bin/env bash
# timeout: 400
# The alert and metrics tests again, every test of tests/alerts but
# prometheus (which tests the fleet kit's files against a Prometheus server
# more than jmstatd), against jmstatd built with AddressSanitizer (and
# LeakSanitizer) plus UndefinedBehaviorSanitizer, every report fatal
# (tests/lib/sanitized.sh): the alert engine, its commands, config reloads
# and the HTTP endpoint under bad and crowded clients, checked for memory
# errors, leaks and undefined behaviour.
. "$(dirname "$0")/lib.sh"
. "$JM_ROOT/tests/lib/sanitized.sh"
san_programs
san_run_all alerts prometheus
[ $SAN_STATUS -eq 0 ] || die "the sanitized daemon failed"
echo "ok"
