#!/usr/bin/env bash
# timeout: 120
# jmctl trusts only a daemon it should (common/socket.c):
#  - another user (jmtest) makes /tmp/jmstatd-UID first, with a fake
#    daemon in it: UID's jmctl, without XDG_RUNTIME_DIR, does not talk
#    to it ("owned by uid N, refusing") and falls back to the system
#    socket;
#  - UID's jmctl --socket naming jmtest's fake daemon: refused after
#    connecting, by its peer credentials ("runs as uid N");
#  - UID's own jmstatd, started with no option but the stats dir: its
#    socket is where UID's jmctl looks first, and it answers.
# UID is a uid of no user that no other test running now uses (claim_uid):
# two runs at once do not share /tmp/jmstatd-UID.
# Needs root (to be two other users) and setpriv.
. "$(dirname "$0")/../lib.sh"
need_users "run as two other users"
PY3=/usr/bin/python3
[ -x $PY3 ] || skip "no /usr/bin/python3 for the other users"
id jmtest >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin jmtest 2>/dev/null
id jmtest >/dev/null 2>&1 || skip "cannot create user jmtest"
JMTEST_UID=$(id -u jmtest)
claim_uid
PRIV=/tmp/jmstatd-$CLAIMED_UID
[ -e /run/jmstatd/jmstatd.sock ] && skip "a system jmstatd runs: the fallback cannot be told apart"
AS_UID=(env -u XDG_RUNTIME_DIR -u JMSTATD_SOCKET setpriv --reuid="$CLAIMED_UID" --regid="$CLAIMED_UID" --clear-groups)
JMTEST=(setpriv --reuid="$JMTEST_UID" --regid="$(id -g jmtest)" --clear-groups)
chmod 755 "$JM_TMP"
FAKE_PID= OWN_PID=
cleanup() {
	[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null
	[ -n "$OWN_PID" ] && kill "$OWN_PID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$PRIV" "$JM_TMP/fake"
}
at_exit cleanup

# jmtest's fake daemon: answers like jmstatd, with a forged process.
fake_daemon() {
	"${JMTEST[@]}" "$PY3" - "$1" <<'PY' &
import json, os, socket, sys
path = sys.argv[1]
os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
s = socket.socket(socket.AF_UNIX)
s.bind(path)
os.chmod(path, 0o666)
s.listen(8)
while True:
    c, _ = s.accept()
    f = c.makefile("rwb")
    for line in f:
        req = json.loads(line)
        r = {"ok": True, "version": "0.1.0", "layout_version": 2, "interval_ms": 1000,
             "processes": [{"pid": 4242, "uid": 0, "user": "root", "exe": "FORGED"}],
             "host": {"processes": 1}, "time": 0}
        f.write((json.dumps(r) + "\n").encode())
        f.flush()
    c.close()
PY
	FAKE_PID=$!
	for i in $(seq 1 100); do [ -S "$1" ] && return 0; sleep 0.05; done
	fail "the fake daemon did not start"
}

# ---- 1. a private directory made by someone else
fake_daemon "$PRIV/jmstatd.sock"
rc=0
"${AS_UID[@]}" "$JMCTL" ps >"$JM_TMP/out" 2>"$JM_TMP/err" || rc=$?
cat "$JM_TMP/err"
! grep -q FORGED "$JM_TMP/out" || fail "the user's jmctl showed the fake daemon's process"
[ $rc -eq 1 ] || fail "the user's jmctl: exit $rc"
grep -q "not using $PRIV/jmstatd.sock: $PRIV is owned by uid $JMTEST_UID, refusing" "$JM_TMP/err" ||
	fail "no word of the directory it refused"
grep -q "cannot connect to /run/jmstatd/jmstatd.sock" "$JM_TMP/err" || fail "no fallback to the system socket"
echo "ok - a squatted private directory is refused"

# ---- 2. a socket named on the command line, served by another user
rc=0
"${AS_UID[@]}" "$JMCTL" --socket "$PRIV/jmstatd.sock" ps >"$JM_TMP/out" 2>"$JM_TMP/err" || rc=$?
cat "$JM_TMP/err"
! grep -q FORGED "$JM_TMP/out" || fail "the user's jmctl --socket showed the fake daemon's process"
[ $rc -eq 1 ] && grep -q "the daemon there runs as uid $JMTEST_UID, neither root nor you: refusing" "$JM_TMP/err" ||
	fail "another user's daemon was not refused by its peer credentials (exit $rc)"
# Root's jmctl refuses it too.
rc=0
"$JMCTL" --socket "$PRIV/jmstatd.sock" ps >"$JM_TMP/out" 2>"$JM_TMP/err" || rc=$?
! grep -q FORGED "$JM_TMP/out" && [ $rc -eq 1 ] || fail "root's jmctl talked to jmtest's daemon"
kill "$FAKE_PID"; wait "$FAKE_PID" 2>/dev/null; FAKE_PID=
rm -rf "$PRIV"
echo "ok - another user's daemon is refused by its peer credentials"

# ---- 3. the user's own daemon is found by its jmctl
"${AS_UID[@]}" "$JMSTATD" --stats-dir "$JMD_STATS" >>"$JMD_LOG" 2>&1 &
OWN_PID=$!
wait_socket "$PRIV/jmstatd.sock" "$OWN_PID"
[ "$(stat -c '%a %u' "$PRIV")" = "700 $CLAIMED_UID" ] || fail "the user's daemon directory: $(stat -c '%a %u' "$PRIV")"
"${AS_UID[@]}" "$JMCTL" ps >"$JM_TMP/out" 2>"$JM_TMP/err" || fail "the user's jmctl with its own daemon: $(cat "$JM_TMP/err")"
kill "$OWN_PID"; wait "$OWN_PID" 2>/dev/null; OWN_PID=
echo "ok - a user's own daemon is found first"
