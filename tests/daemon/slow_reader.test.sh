#!/usr/bin/env bash
# timeout: 120
# A client that reads a big reply at a slow pace is taking it: it is not
# idle. A 500 KB reply (stats of a process with 1,024 arenas) is one
# write whose end the daemon waits for while the client reads; the idle
# timer (--client-idle) counted from the request and closed the client
# in the middle of it once --client-idle had passed without that write
# completed (at load 20, root's `sites` of 1,024 sites in
# tests/stress/users.test.sh). Here root reads 8 KiB every 0.1 s against
# --client-idle 2: the whole reply arrives; a client that stops reading
# halfway is still closed.
. "$(dirname "$0")/../lib.sh"
need_segments
jmd_start --client-idle 2 --verbose
sleep 600 &
PID=$!
"$JM_HELPERS/stress_segwriter" write "$JMD_STATS/$(jm_segment_name "$PID")" "$PID" 0 \
	exe=wide arenas=1024 >/dev/null || fail "stress_segwriter write"
export PID
jmd_py - <<'PY' || fail "a slow reader of a big reply"
from jmd import *
import socket

pid = int(os.environ["PID"])
wait_until(lambda: pid in ps_pids(), "the 1,024-arena process in ps")

def slow(stop_after=None):
    s = socket.socket(socket.AF_UNIX)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(SOCK)
    s.settimeout(60)
    s.sendall(b'{"cmd": "stats", "pid": %d}\n' % pid)
    got, t0 = bytearray(), time.monotonic()
    while not got.endswith(b"\n"):
        if stop_after is not None and len(got) >= stop_after:
            time.sleep(8)             # stops reading: idle for 4 x --client-idle
            stop_after = None
        chunk = s.recv(8192)
        if not chunk:
            return got, time.monotonic() - t0, True
        got += chunk
        time.sleep(0.1)
    s.close()
    return got, time.monotonic() - t0, False

got, took, closed = slow()
print("reply of %d bytes read in %.1f s at 80 KiB/s" % (len(got), took))
check(len(got) > 400000, "the reply is only %d bytes: not a test of a slow reader" % len(got))
check(not closed, "closed after %d bytes, %.1f s into the reply" % (len(got), took))
check(json.loads(bytes(got))["ok"], "the reply is not ok")
check(took > 2 * 2, "read in %.1f s: not slower than --client-idle 2" % took)

got, took, closed = slow(stop_after=300000)
print("stopped reading at %d bytes: %s after %.1f s" % (len(got), "closed" if closed else "not closed", took))
check(closed and not got.endswith(b"\n"), "a client that stopped reading was not closed")
PY
ok "a slow reader of a 500 KB reply gets all of it; one that stops is closed"
