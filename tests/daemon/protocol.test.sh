#!/usr/bin/env bash
# timeout: 120
# jmstatd's command line and socket protocol, with no segments needed:
# usage and exit codes; every command's reply shape; malformed, unknown and
# oversized requests get a JSON error and the daemon goes on; the client
# limit, the per-client output cap; a client that shuts its side gets its
# replies; a stale socket is replaced, a live one
# is not, nor is a socket made in a directory that is not there (each says
# what to do); SIGHUP reloads the config; SIGTERM exits 0 and removes the socket.
. "$(dirname "$0")/../lib.sh"

# ---- command line
"$JMSTATD" --help | grep -q -- "--stats-dir DIR" || fail "--help"
"$JMSTATD" --version | grep -q "^jmstatd [0-9]" || fail "--version"
for bad in "--bogus" "--interval" "--interval 10" "--interval abc" "--interval -5" \
           "--metrics nohost" "extra-arg" "--socket="; do
	rc=0; "$JMSTATD" $bad >/dev/null 2>"$JM_TMP/err" || rc=$?
	[ $rc -eq 2 ] || fail "jmstatd $bad exited $rc, not 2"
	grep -q "^jmstatd: " "$JM_TMP/err" || fail "jmstatd $bad: no message"
done
rc=0; "$JMSTATD" --socket "$JM_TMP/x.sock" --stats-dir "$JM_TMP/nonexistent" 2>"$JM_TMP/err" || rc=$?
[ $rc -eq 1 ] && grep -q "stats directory" "$JM_TMP/err" || fail "missing stats dir: exit $rc"
long=$JM_TMP/$(printf 'a%.0s' $(seq 1 120)).sock
rc=0; "$JMSTATD" --socket "$long" --stats-dir "$JMD_STATS" 2>"$JM_TMP/err" || rc=$?
[ $rc -eq 1 ] && grep -q "socket path too long" "$JM_TMP/err" || fail "long socket path: exit $rc"
# A socket in a directory that is not there (libuv's bind says "permission
# denied" for it): the directory named, and what to do.
for sock in "$JM_TMP/no-such-dir/x.sock:$JM_TMP/no-such-dir does not exist" \
            "$JM_TMP/bad.conf/x.sock:$JM_TMP/bad.conf is not a directory"; do
	: >"$JM_TMP/bad.conf"
	rc=0; "$JMSTATD" --socket "${sock%%:*}" --stats-dir "$JMD_STATS" 2>"$JM_TMP/err" || rc=$?
	[ $rc -eq 1 ] && grep -q "jmstatd: cannot listen on ${sock%%:*}: ${sock#*:} (create the directory, or name another socket with --socket)\$" "$JM_TMP/err" ||
		{ cat "$JM_TMP/err"; fail "socket ${sock%%:*}: exit $rc"; }
done
printf 'frag_ratio 0.5\n' >"$JM_TMP/bad.conf"
rc=0; "$JMSTATD" --socket "$JM_TMP/x.sock" --stats-dir "$JMD_STATS" --config "$JM_TMP/bad.conf" \
	2>"$JM_TMP/err" || rc=$?
[ $rc -eq 1 ] && grep -q "bad.conf:1:" "$JM_TMP/err" || fail "bad config: exit $rc"
[ ! -e "$JM_TMP/x.sock" ] || fail "a failed start left a socket"

# ---- a stale socket file is replaced
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$JMD_SOCK"
[ -S "$JMD_SOCK" ] || fail "could not make a stale socket"
printf '# only comments\n\n   # and blanks\n' >"$JM_TMP/ok.conf"
jmd_start --config "$JM_TMP/ok.conf"
[ "$(stat -c %a "$JMD_SOCK")" = 666 ] || fail "socket mode is $(stat -c %a "$JMD_SOCK"), not 666"

# ---- a second daemon on the same live socket refuses to start
rc=0; "$JMSTATD" --socket "$JMD_SOCK" --stats-dir "$JMD_STATS" 2>"$JM_TMP/err" || rc=$?
[ $rc -eq 1 ] && grep -q "another jmstatd is listening on $JMD_SOCK (stop it first, or name another socket with --socket)" "$JM_TMP/err" ||
	fail "second daemon: exit $rc"
[ -S "$JMD_SOCK" ] || fail "the second daemon removed the first one's socket"

jmd_py - <<'EOF' || fail "protocol"
from jmd import *

c = Client()
v = c.req({"cmd": "version"})
check(v["ok"] is True and isinstance(v["time"], float), "version: %r" % v)
import os, re
layout = int(re.search(r"#define JMSTAT_VERSION\s+(\d+)", open(os.path.join(os.environ["JM_ROOT"],
                       "liballoc/include/jmstat.h")).read()).group(1))
check(v["version"] == "0.1.0" and v["layout_version"] == layout, "version fields: %r" % v)
check(v["interval_ms"] == INTERVAL_MS and v["stats_dir"] == STATS_DIR, "version: %r" % v)
check(isinstance(v["pid"], int) and v["pid"] > 1, "version pid")
check(abs(v["time"] - time.time()) < 3600, "time is unix seconds")
check(v["processes"] == 0 and v["segments"] == 0, "version counts: %r" % v)
wait_until(lambda: c.req({"cmd": "version"})["clients"] == 1, "clients == 1 (this one)")

r = c.req({"cmd": "ps"})
check(r["ok"] and r["processes"] == [] and r["host"]["processes"] == 0, "ps: %r" % r)
for k in ("processes", "allocated", "active", "mapped", "dirty", "small_wasted", "frag_ratio", "alloc_rate"):
    check(k in r["host"], "host lacks %r" % k)
r = c.req({"cmd": "bins"})
check(r["ok"] and r["bins"] == [], "bins: %r" % r)
r = c.req({"cmd": "alerts"})
check(r["ok"] and r["alerts"] == [], "alerts: %r" % r)
r = c.req({"cmd": "history", "seconds": 5})
check(r["ok"] and r["interval_ms"] == INTERVAL_MS and isinstance(r["samples"], list), "history: %r" % r)
wait_until(lambda: len(c.req({"cmd": "history"})["samples"]) >= 3, "three host samples")
s = c.req({"cmd": "history"})["samples"]
check([x["time"] for x in s] == sorted(x["time"] for x in s), "history oldest first")
check(all(set(x) == {"time", "allocated", "active", "mapped", "alloc_rate"} for x in s), "sample fields")

# Errors: the connection stays open after each.
def err(req, text):
    r = c.req(req) if not isinstance(req, bytes) else (c.send_raw(req), c.read())[1]
    check(r is not None and r["ok"] is False and isinstance(r["time"], float), "%r: %r" % (req, r))
    check(r["error"].startswith(text), "%r: error %r, expected %r" % (req, r["error"], text))

err(b"this is not json\n", "invalid JSON: ")
err(b"{\"cmd\": \"ps\"\n", "invalid JSON: ")
err(b"[1,2]\n", "a request must be a JSON object")
err(b"\"ps\"\n", "a request must be a JSON object")
err({"nocmd": 1}, "missing 'cmd'")
err({"cmd": 7}, "'cmd' must be a string")
err({"cmd": "x"}, "unknown command 'x'")
err({"cmd": "frobnicate", "pid": 1}, "unknown command 'frobnicate'")
err({"cmd": "stats"}, "missing 'pid'")
err({"cmd": "stats", "pid": "12"}, "invalid 'pid'")
err({"cmd": "stats", "pid": -3}, "invalid 'pid'")
err({"cmd": "stats", "pid": 2**40}, "invalid 'pid'")
err({"cmd": "stats", "pid": 999999999}, "no such process: 999999999")
err({"cmd": "bins", "pid": 999999999}, "no such process: 999999999")
err({"cmd": "history", "pid": 999999999}, "no such process: 999999999")
err({"cmd": "history", "seconds": "ten"}, "invalid 'seconds'")
err({"cmd": "subscribe", "pid": 999999999}, "no such process: 999999999")
err(b"[" * 5000 + b"]" * 5000 + b"\n", "invalid JSON: ")
err(b"{\"cmd\":\"ps\",\"cmd\":\"ps\"}\n", "invalid JSON: ")
# Blank lines ask nothing; several requests in one write are answered in order.
c.send_raw(b"\n\r\n" + b'{"cmd":"version"}\n{"cmd":"alerts"}\n')
check("version" in c.read() and "alerts" in c.read(), "pipelined requests in order")
check(c.req({"cmd": "version"})["ok"], "still served after the errors")

# A request line of exactly 65536 bytes is fine; one byte more is not.
body = b'{"cmd":"version"}'
c.send_raw(body + b" " * (65536 - len(body)) + b"\n")
check(c.read()["ok"], "a 65536-byte request is accepted")
other = Client()
big = Client()
big.send_raw(b'{"cmd":"version","pad":"' + b"x" * 70000)
r = big.read()
check(r is not None and r["ok"] is False and r["error"] == "request too long (limit 65536 bytes)",
      "oversized request: %r" % r)
check(big.at_eof(), "the oversized client is disconnected")
check(other.req({"cmd": "version"})["ok"], "another client does not notice")
check(c.req({"cmd": "ps"})["ok"], "nor does the first")

# Subscribe: the first update at once, then one per interval.
sub = Client()
sub.send_raw(b'{"cmd":"subscribe"}\n')
u1 = sub.read()
check(u1["ok"] and "host" in u1 and u1["processes"] == [] and u1["bins"] == [], "update: %r" % u1)
u2 = sub.read()
u3 = sub.read()
check(u1["time"] < u2["time"] < u3["time"], "updates carry increasing sample times")
sub.close()

# The client limit: 256 served; the next one is told and disconnected.
wait_until(lambda: c.req({"cmd": "version"})["clients"] == 2, "only c and other connected")
many = []
for i in range(254):      # with c and other: 256
    m = Client()
    m.send_raw(b'{"cmd":"version"}\n')
    many.append(m)
for m in many:
    check(m.read()["ok"], "client %d served" % len(many))
extra = Client()
r = extra.read()
check(r is not None and r["ok"] is False and r["error"] == "too many clients (limit 256)", "limit: %r" % r)
check(extra.at_eof(), "the client over the limit is disconnected")
many.pop().close()
many.pop().close()
time.sleep(0.2)
check(Client().req({"cmd": "version"})["ok"], "a client is served again once others left")
for m in many:
    m.close()
other.close()

# A client that asks and never reads is not read either once its replies
# back up (server.c): its sends stall, it costs the daemon a bounded
# amount, and the others go on.
slow = Client()
slow.s.setblocking(False)
chunk = b'{"cmd":"history","seconds":600}\n' * 200
sent = 0
stalled = None
deadline = time.monotonic() + 60
while time.monotonic() < deadline and sent < 64 << 20:
    try:
        sent += slow.s.send(chunk)
        stalled = None
    except BlockingIOError:
        stalled = stalled or time.monotonic()
        if time.monotonic() - stalled > 1.0:
            break
        time.sleep(0.01)
check(sent < 64 << 20, "a client that never reads was read without bound (%d bytes)" % sent)
check(c.req({"cmd": "version"})["ok"], "other clients are served while one does not read")
print("sent %d bytes to the slow client before it stalled" % sent)
slow.close()

# A client that shuts its side after its requests (printf ... | socat,
# nc -N) gets every reply, also those that wait behind a full socket
# (before, the end of file closed the connection at once: 2,000 version
# requests, read after 1 s, got 1,957 replies); a subscriber that
# shut its side gets its updates.
half = Client()
half.send_raw(b'{"cmd":"version"}\n' * 2000)
half.s.shutdown(socket.SHUT_WR)
time.sleep(1.0)       # more than two ticks: nothing taken meanwhile
n = 0
while half.readline() is not None:
    n += 1
check(n == 2000, "a half-closed client got %d replies of 2000" % n)
half.close()
sub = Client()
sub.send_raw(b'{"cmd":"subscribe"}\n')
sub.s.shutdown(socket.SHUT_WR)
times = [sub.read()["time"] for _ in range(3)]
check(times == sorted(set(times)), "a half-closed subscriber's updates: %r" % times)
sub.close()
check(c.req({"cmd": "version"})["ok"], "served after the half-closed clients")
c.close()
EOF
grep -q "disconnected: request longer than 65536 bytes" "$JMD_LOG" || fail "no log line for the oversized request"

# ---- SIGHUP re-reads the config; a bad one is refused and the old one kept
kill -HUP "$JMD_PID"
for i in $(seq 1 100); do grep -q "SIGHUP: reloaded" "$JMD_LOG" && break; sleep 0.05; done
grep -q "SIGHUP: reloaded $JM_TMP/ok.conf" "$JMD_LOG" || fail "SIGHUP did not reload"
cp "$JM_TMP/bad.conf" "$JM_TMP/ok.conf"
kill -HUP "$JMD_PID"
for i in $(seq 1 100); do grep -q "refused; the previous config" "$JMD_LOG" && break; sleep 0.05; done
grep -q "refused; the previous config stays in force" "$JMD_LOG" || fail "a bad reload was not refused"
kill -0 "$JMD_PID" || fail "jmstatd died on a bad reload"
jmd_py -c 'from jmd import *; check(request({"cmd":"version"})["ok"], "after reload")' || fail "after reload"

jmd_stop
echo "ok"
