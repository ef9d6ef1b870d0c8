#!/usr/bin/env bash
# timeout: 240
# jmstatd under valgrind (memcheck): clients come and go (plain requests,
# errors, an oversized request, subscribers that leave mid-stream, a client
# that never reads), processes come and go (when the allocator writes
# segments), a bad file sits in the directory, SIGHUP, then SIGTERM. No
# invalid access, and "definitely lost: 0 bytes" with nothing indirectly or
# possibly lost either.
. "$(dirname "$0")/../lib.sh"
command -v valgrind >/dev/null || skip "valgrind not installed"
[ -z "${JM_SANITIZED:-}" ] || skip "valgrind cannot run a program built with a sanitizer (JM_SANITIZED)"
segments=yes
( need_segments ) >/dev/null 2>&1 || segments=no
export segments

VG_LOG=$JM_TMP/valgrind.log
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect,possible \
	--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
	--log-file="$VG_LOG" \
	"$JMSTATD" --socket "$JMD_SOCK" --stats-dir "$JMD_STATS" --interval 200 >>"$JMD_LOG" 2>&1 &
JMD_PID=$!
jmd_wait_socket

jmd_py - <<'EOF' || fail "clients under valgrind"
from jmd import *
open(os.path.join(STATS_DIR, "jmalloc.4000001.stats"), "wb").write(os.urandom(2048))
holders = holders(3, "alloc 100 500", timeout=60) if os.environ["segments"] == "yes" else []
for round in range(3):
    c = Client(timeout=60)
    for req in ({"cmd": "version"}, {"cmd": "ps"}, {"cmd": "bins"}, {"cmd": "history"},
                {"cmd": "alerts"}, {"cmd": "stats", "pid": 1}, {"cmd": "nope"}):
        c.req(req)
    for h in holders:
        check(c.req({"cmd": "stats", "pid": h.pid})["ok"], "stats under valgrind")
    c.send_raw(b"{broken\n")
    check(c.read()["ok"] is False, "broken request")
    c.close()
    s = Client(timeout=60)
    s.send_raw(b'{"cmd":"subscribe"}\n')
    s.read()
    s.read()
    s.close()                       # leaves mid-stream
    big = Client(timeout=60)
    big.send_raw(b"x" * 70000)
    check(big.read()["ok"] is False, "oversized")
    big.close()
    mute = Client(timeout=60)       # asks, never reads, leaves
    mute.send_raw(b'{"cmd":"ps"}\n' * 50)
    mute.close()
if holders:
    holders[0].exit()
    holders[1].kill()               # its segment is removed by the daemon
    wait_until(lambda: holders[1].pid not in ps_pids(), "the killed holder to go", timeout=60)
    holders[2].exit()
check(request({"cmd": "version"})["ok"], "still answering")
EOF
kill -HUP "$JMD_PID"
wait_line "$JMD_LOG" "SIGHUP"
jmd_py -c 'from jmd import *; check(request({"cmd":"version"})["ok"], "after SIGHUP")' || fail "after SIGHUP"
# Leave a client connected across the shutdown.
python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(60)' \
	"$JMD_SOCK" &
sleep 0.5
kill -TERM "$JMD_PID"
rc=0; wait "$JMD_PID" || rc=$?
JMD_PID=
cat "$VG_LOG" | grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|All heap blocks"
[ $rc -eq 0 ] || { cat "$VG_LOG"; fail "jmstatd under valgrind exited $rc"; }
grep -q "ERROR SUMMARY: 0 errors" "$VG_LOG" || { cat "$VG_LOG"; fail "valgrind found errors"; }
if grep -q "definitely lost: [1-9]" "$VG_LOG"; then cat "$VG_LOG"; fail "leak"; fi
echo "ok (segments: $segments)"
