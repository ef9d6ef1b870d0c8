#!/usr/bin/env bash
# timeout: 60
# jmstatd and jmctl are single-threaded (libuv's loop, no thread pool):
# jmstatd with --metrics and a config, scraped and reloaded, and jmctl top
# each run one thread, so ThreadSanitizer has no data race to look for
# (`make check SANITIZE=thread` builds them so all the same). Should either
# ever run a second thread, this test fails and asks for a TSan run. One
# exception, known: jmstatd opens a container's stats directory on a
# short-lived thread (dirs.c: its job handed back under a mutex), made
# whenever a container appears on the host, another test's included (a
# count of 4 here while tests/containers/owned.test.sh ran beside): here
# --no-containers, so that what is counted is the loop's own.
. "$(dirname "$0")/../lib.sh"
need_jmctl
[ -x "${JMSTATD:-}" ] || skip "jmstatd/jmstatd is not built"
printf '[rule f]\nkind = fragmentation\nratio = 0.5\n' >"$JM_TMP/jmstatd.conf"
JMD_INTERVAL=100
jmd_start --no-containers --config "$JM_TMP/jmstatd.conf" --metrics 127.0.0.1:0
curl -sf -o /dev/null "$JMD_URL/metrics" || fail "GET /metrics"
TERM=dumb "$JMCTL" --socket "$JMD_SOCK" top -b -n 30 -d 0.1 >/dev/null &
cpid=$!
# Counted while top draws its frames (30 of them, 3 s): a thread would be
# made at its start.
sleep 0.4
dthreads=$(ls "/proc/$JMD_PID/task" | wc -l)
cthreads=$(ls "/proc/$cpid/task" 2>/dev/null | wc -l)
wait "$cpid" || fail "jmctl top failed"
kill -HUP "$JMD_PID"
wait_line "$JMD_LOG" "SIGHUP: reloaded"
dthreads2=$(ls "/proc/$JMD_PID/task" | wc -l)
jmd_stop
echo "threads: jmstatd $dthreads (after a scrape, a reload: $dthreads2), jmctl top $cthreads"
[ "$dthreads" -eq 1 ] && [ "$dthreads2" -eq 1 ] && [ "$cthreads" -eq 1 ] ||
	fail "a program now runs more than one thread: add a ThreadSanitizer run of it"
ok "single-threaded: ThreadSanitizer has no data race to look for"
