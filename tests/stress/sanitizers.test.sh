#!/usr/bin/env bash
# timeout: 900
# jmstatd and jmctl built with AddressSanitizer (and LeakSanitizer) plus
# UndefinedBehaviorSanitizer, every report fatal, then:
#  - the stress tests (short forms) against the sanitized jmstatd: hostile
#    segments, clients that flood, stall and send 100 MB lines, the stats
#    directory removed, SIGKILL and restart;
#  - jmctl's tests (tests/cli: ps, stats, top, usage; tests/sites: sites
#    and top's sites; tests/pprof: the heap profiles of jmctl sites --pprof
#    and jmstatd --pprof) with the sanitized jmctl and jmstatd;
#  - threads: jmstatd and jmctl are single-threaded (libuv's loop, no
#    thread pool), which this checks on the running programs (jmstatd with
#    --metrics and a config, jmctl top); ThreadSanitizer has nothing to
#    look at, and the test says so. Should either ever run a second
#    thread, this test fails and asks for a TSan run.
# (tests/daemon/sanitizers.test.sh and tests/alerts/sanitizers.test.sh run
# the daemon's own end-to-end tests under the same sanitizers.)
. "${JM_ROOT:?}/tests/daemon/lib.sh" || exit 1
. "$JM_ROOT/tests/lib/sanitized.sh"
san_programs
dsan=$SAN_JMSTATD
csan=$SAN_JMCTL
export JM_SANITIZED=1   # memory figures mean nothing under ASan's quarantine
for t in stress/hostile stress/clients stress/statsdir stress/restart stress/processes \
	cli/ps_stats cli/top cli/usage sites/holders sites/top pprof/file pprof/http pprof/dlopen; do
	[ -f "$JM_ROOT/tests/$t.test.sh" ] && san_run "$t"
done
status=$SAN_STATUS

# ---- threads
mkdir -p "$JM_TMP/thr"
printf '[rule f]\nkind = fragmentation\nratio = 0.5\n' >"$JM_TMP/thr/jmstatd.conf"
"$dsan" --socket "$JM_TMP/thr/sock" --stats-dir "$JMD_STATS" --interval 100 \
	--config "$JM_TMP/thr/jmstatd.conf" --metrics 127.0.0.1:0 >"$JM_TMP/thr/log" 2>&1 &
tpid=$!
for i in $(seq 1 200); do [ -S "$JM_TMP/thr/sock" ] && break; sleep 0.05; done
port=$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$JM_TMP/thr/log" | head -n 1)
[ -n "$port" ] && python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:%s/metrics' % sys.argv[1]).read()" "$port"
TERM=dumb "$csan" --socket "$JM_TMP/thr/sock" top -b -n 30 -d 0.1 >/dev/null &
cpid=$!
sleep 0.4
dthreads=$(ls "/proc/$tpid/task" | wc -l)
cthreads=$(ls "/proc/$cpid/task" 2>/dev/null | wc -l)
wait "$cpid" || { echo "jmctl top failed"; status=1; }
kill -HUP "$tpid"
sleep 0.3
dthreads2=$(ls "/proc/$tpid/task" | wc -l)
kill -TERM "$tpid"
wait "$tpid" || { echo "the sanitized jmstatd did not exit cleanly"; cat "$JM_TMP/thr/log"; status=1; }
echo "threads: jmstatd $dthreads (after a scrape, a reload: $dthreads2), jmctl top $cthreads"
if [ "$dthreads" -ne 1 ] || [ "$dthreads2" -ne 1 ] || [ "$cthreads" -ne 1 ]; then
	echo "a program now runs more than one thread: add a ThreadSanitizer run of it"
	status=1
else
	echo "single-threaded: ThreadSanitizer has no data race to look for"
fi
[ $status -eq 0 ] || die "sanitized runs failed"
echo "ok"
