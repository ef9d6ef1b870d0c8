#!/usr/bin/env bash
# timeout: 60
# jmstatd under systemd's protocols, without systemd itself: the units pass
# `systemd-analyze verify` with no complaint; started by
# systemd-socket-activate, jmstatd serves on the inherited socket (binding
# nothing itself) and sends READY=1 to $NOTIFY_SOCKET once it serves, then
# STOPPING=1 and exit 0 on SIGTERM.
. "$(dirname "$0")/../lib.sh"

# ---- the unit files
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$JM_TMP/units"
	# The program of this build, with the config file the unit names.
	grep -q "^ExecStart=/usr/local/bin/jmstatd --config /etc/jmstatd.conf\$" \
		"$JM_ROOT/systemd/jmstatd.service" || fail "the unit's ExecStart"
	sed "s#^ExecStart=/usr/local/bin/jmstatd#ExecStart=$JMSTATD#" \
		"$JM_ROOT/systemd/jmstatd.service" >"$JM_TMP/units/jmstatd.service"
	cp "$JM_ROOT/systemd/jmstatd.socket" "$JM_ROOT/systemd/jmstatd-metrics.socket" "$JM_TMP/units/"
	grep -q "^ExecStart=$JMSTATD --config /etc/jmstatd.conf\$" "$JM_TMP/units/jmstatd.service" ||
		fail "ExecStart not found"
	rc=0
	systemd-analyze verify "$JM_TMP/units/jmstatd.socket" "$JM_TMP/units/jmstatd-metrics.socket" \
		"$JM_TMP/units/jmstatd.service" \
		>"$JM_TMP/verify.out" 2>&1 || rc=$?
	if [ $rc -ne 0 ] || [ -s "$JM_TMP/verify.out" ]; then
		cat "$JM_TMP/verify.out"
		fail "systemd-analyze verify: exit $rc"
	fi
	grep -q "^Type=notify" "$JM_TMP/units/jmstatd.service" || fail "the service is not Type=notify"
	grep -q "^ListenStream=/run/jmstatd/jmstatd.sock" "$JM_TMP/units/jmstatd.socket" ||
		fail "the socket unit does not listen on /run/jmstatd/jmstatd.sock"
	if grep -q "^PrivateDevices=yes" "$JM_TMP/units/jmstatd.service"; then
		fail "PrivateDevices=yes would hide the host's /dev/shm"
	fi
else
	echo "systemd-analyze not installed: unit files not verified"
fi

command -v systemd-socket-activate >/dev/null ||
	skip "systemd-socket-activate not installed (package systemd)"

# ---- socket activation and sd_notify
ACT_SOCK=$JM_TMP/activated.sock
NOTIFY=$JM_TMP/notify.sock
export ACT_SOCK NOTIFY
python3 - <<'EOF' &
import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(os.environ["NOTIFY"])
s.settimeout(50)
with open(os.environ["JM_TMP"] + "/notify.log", "w") as log:
    while True:
        msg = s.recv(4096).decode()
        log.write(msg.replace("\n", " ") + "\n")
        log.flush()
        if "STOPPING=1" in msg:
            break
EOF
listener=$!
for i in $(seq 1 100); do [ -S "$NOTIFY" ] && break; sleep 0.05; done
[ -S "$NOTIFY" ] || fail "the notify listener did not start"

# --socket names a path the daemon must not bind: the inherited socket wins.
systemd-socket-activate -l "$ACT_SOCK" -E NOTIFY_SOCKET="$NOTIFY" \
	"$JMSTATD" --socket "$JM_TMP/not-this.sock" --stats-dir "$JMD_STATS" --interval 200 \
	>>"$JMD_LOG" 2>&1 &
JMD_PID=$!
for i in $(seq 1 100); do [ -S "$ACT_SOCK" ] && break; sleep 0.05; done
[ -S "$ACT_SOCK" ] || fail "systemd-socket-activate did not listen"

JMD_PID=$JMD_PID jmd_py - <<'EOF' || fail "requests on the activated socket"
from jmd import *
r = request({"cmd": "version"}, os.environ["ACT_SOCK"])
check(r["ok"] and r["version"] == "0.1.0", "version: %r" % r)
check(r["pid"] == int(os.environ["JMD_PID"]), "the daemon is the activated process")
wait_until(lambda: "READY=1" in open(os.environ["JM_TMP"] + "/notify.log").read(), "READY=1")
EOF
grep -q "listening on the socket passed by systemd" "$JMD_LOG" || fail "jmstatd did not say it was activated"
[ ! -e "$JM_TMP/not-this.sock" ] || fail "jmstatd bound --socket although it was given one"
grep -q "MAINPID=$JMD_PID" "$JM_TMP/notify.log" || fail "no MAINPID in the notification"

kill -TERM "$JMD_PID"
rc=0; wait "$JMD_PID" || rc=$?
JMD_PID=
[ $rc -eq 0 ] || fail "jmstatd exited $rc after SIGTERM"
rc=0; wait "$listener" || rc=$?
[ $rc -eq 0 ] || fail "the notify listener failed (no STOPPING=1?)"
grep -q "STOPPING=1" "$JM_TMP/notify.log" || fail "no STOPPING=1"
head -n 1 "$JM_TMP/notify.log" | grep -q "READY=1" || fail "the first notification is not READY=1"

# The abstract-namespace form of NOTIFY_SOCKET ("@name") works too.
python3 - "$JM_TMP" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0jmstatd-test-%s" % sys.argv[1].replace("/", "_"))
open(sys.argv[1] + "/abstract.bound", "w").close()
s.settimeout(50)
msg = s.recv(4096).decode()
sys.exit(0 if "READY=1" in msg else 1)
EOF
listener=$!
for i in $(seq 1 200); do [ -e "$JM_TMP/abstract.bound" ] && break; sleep 0.05; done
NOTIFY_SOCKET="@jmstatd-test-${JM_TMP//\//_}" jmd_start
rc=0; wait "$listener" || rc=$?
[ $rc -eq 0 ] || fail "no READY=1 on an abstract NOTIFY_SOCKET"
jmd_stop
echo "ok"
