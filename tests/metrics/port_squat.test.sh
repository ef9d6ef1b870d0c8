#!/usr/bin/env bash
# timeout: 60
# The /metrics port is a TCP port above 1024: any user may bind it while
# the daemon is not running (at a restart, an upgrade, from before it
# starts). A server of nobody's there was scraped by Prometheus in the
# daemon's place and given its bearer token with each scrape
# (--metrics-token-file: the token that opens every user's figures), and
# the daemon, finding the port taken, did not start. The port can now be
# held by systemd from boot (systemd/jmstatd-metrics.socket), passed with
# the clients' socket in either order, and served by the daemon. Here
# systemd-socket-activate holds both (the TCP one first); nobody's bind
# of the port is refused by the kernel, and a scrape with the token is
# the daemon's. Before, the daemon refused the TCP socket as fd 3 ("not a
# listening Unix stream socket") and did not start.
. "$(dirname "$0")/../lib.sh"
need_segments
need_cmd curl
[ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null || skip "needs root and setpriv (nobody's bind)"
command -v systemd-socket-activate >/dev/null ||
	skip "systemd-socket-activate not installed (package systemd)"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "token-$RANDOM$RANDOM" >"$JM_TMP/token"
chmod 600 "$JM_TMP/token"
ACT_SOCK=$JM_TMP/activated.sock
systemd-socket-activate -l "127.0.0.1:$PORT" -l "$ACT_SOCK" \
	"$JMSTATD" --socket "$JM_TMP/not-this.sock" --stats-dir "$JMD_STATS" --interval 200 \
	--metrics "127.0.0.1:$PORT" --metrics-token-file "$JM_TMP/token" >>"$JMD_LOG" 2>&1 &
JMD_PID=$!
for i in $(seq 1 200); do [ -S "$ACT_SOCK" ] && break; sleep 0.05; done
[ -S "$ACT_SOCK" ] || fail "systemd-socket-activate did not listen"

# nobody's server on the port: refused, the port is held.
rc=0
setpriv --reuid=65534 --regid=65534 --clear-groups python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))' "$PORT" 2>"$JM_TMP/bind.err" || rc=$?
[ $rc -ne 0 ] && grep -q "Address already in use" "$JM_TMP/bind.err" ||
	fail "nobody bound the metrics port: $(cat "$JM_TMP/bind.err")"

# The scrape with the token is the daemon's.
code=000
for i in $(seq 1 200); do
	code=$(curl -s -o "$JM_TMP/page" -w '%{http_code}' -H "Authorization: Bearer $(cat "$JM_TMP/token")" \
		"http://127.0.0.1:$PORT/metrics") || true
	[ "$code" = 200 ] && break
	kill -0 "$JMD_PID" 2>/dev/null || break
	sleep 0.05
done
[ "$code" = 200 ] || fail "no /metrics on the port systemd holds (HTTP $code): $(tail -5 "$JMD_LOG")"
grep -q '^jmalloc_' "$JM_TMP/page" || fail "the page is not jmstatd's: $(head -3 "$JM_TMP/page")"
grep -q -- "--metrics: listening on the socket passed by systemd" "$JMD_LOG" ||
	fail "jmstatd did not say it took the port from systemd"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics") || true
[ "$code" = 401 ] || fail "a scrape without the token: HTTP $code"
JMD_PID=$JMD_PID jmd_py - <<'EOF' || fail "requests on the activated Unix socket"
from jmd import *
r = request({"cmd": "version"}, os.environ["JM_TMP"] + "/activated.sock")
check(r["ok"], "version: %r" % r)
EOF
kill -TERM "$JMD_PID"
rc=0; wait "$JMD_PID" || rc=$?
JMD_PID=
[ $rc -eq 0 ] || fail "jmstatd exited $rc after SIGTERM"
ok "the /metrics port held by systemd, passed first: served by jmstatd, nobody's bind refused"
