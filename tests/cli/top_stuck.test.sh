#!/usr/bin/env bash
# timeout: 60
# jmctl top without a screen (-b, --json) against a daemon that stops
# sending updates (stopped here with SIGSTOP; a stuck one is the same to
# its clients): it gives up after the daemon's interval and 10 s, saying
# so, with status 1, as every other command gives up after 10 s. It
# waited for ever before (poll without a timeout): `jmctl top -b -n 100`
# in a script hung as long as the daemon did. The daemon, let go, serves
# on. The two modes watch the same stopped daemon at once (each its own
# subscription and its own 10 s), so the test waits those 10 s once.
. "$(dirname "$0")/../lib.sh"
need_jmctl
jmd_start
at_exit 'kill -CONT "$JMD_PID" 2>/dev/null'
declare -A top=()
for mode in -b --json; do
	if [ "$mode" = -b ]; then args=(top -b -n 1000); else args=(--json top -n 1000); fi
	JMSTATD_SOCKET=$JMD_SOCK "$JMCTL" "${args[@]}" >"$JM_TMP/top$mode.out" 2>"$JM_TMP/top$mode.err" &
	top[$mode]=$!
done
for mode in -b --json; do
	for i in $(seq 1 100); do [ -s "$JM_TMP/top$mode.out" ] && break; sleep 0.1; done
	[ -s "$JM_TMP/top$mode.out" ] || fail "top $mode drew nothing"
done
kill -STOP "$JMD_PID"
# The interval (200 ms) and 10 s, and some room: 30 s.
for i in $(seq 1 300); do
	kill -0 "${top[-b]}" 2>/dev/null || kill -0 "${top[--json]}" 2>/dev/null || break
	sleep 0.1
done
for mode in -b --json; do
	if kill -0 "${top[$mode]}" 2>/dev/null; then
		kill "${top[-b]}" "${top[--json]}" 2>/dev/null
		kill -CONT "$JMD_PID"
		fail "top $mode still waits 30 s after the daemon stopped"
	fi
done
kill -CONT "$JMD_PID"
for mode in -b --json; do
	rc=0; wait "${top[$mode]}" || rc=$?
	[ $rc = 1 ] || { cat "$JM_TMP/top$mode.err"; fail "top $mode: exit $rc, not 1"; }
	grep -q "^jmctl: $JMD_SOCK: jmstatd sent no update within 10 s (is it stuck? check its log)$" \
		"$JM_TMP/top$mode.err" || { cat "$JM_TMP/top$mode.err"; fail "top $mode: no message"; }
done
JMSTATD_SOCKET=$JMD_SOCK "$JMCTL" ps >/dev/null || fail "the daemon let go does not serve"
ok "top -b and --json give up on a daemon that sends nothing: message, exit 1"
