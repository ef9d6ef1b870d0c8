#!/usr/bin/env bash
# timeout: 180
# Many users at their connection cap at once (the twelfth pass): seven
# uids other than root hold their 32 connections each (JMD_UID_CLIENTS)
# and an eighth 16, asking `version` every 0.5 s so that none is ever
# idle: they fill the 240 slots the users other than root share
# (JMD_MAX_CLIENTS - JMD_ROOT_CLIENTS). A ninth user then connects: before, it was refused
# ("at its limit for your user (240 connections of users other than
# root)") for as long as the eight held on, every other user of the host
# locked out of the daemon; now it takes the oldest connection of the
# user that holds the most, and is served. A newcomer of a user that holds
# as many as the most but one is still refused (the eight cannot take
# each other's), and root is served throughout.
# Needs root (to run as other uids) and python3.
. "$(dirname "$0")/../lib.sh"
need_users "run processes as nine uids"
need_segments
PY3=/usr/bin/python3
[ -x $PY3 ] || skip "no /usr/bin/python3"
chmod 755 "$JM_TMP"
jmd_start --client-idle 3

# Seven uids of 32 connections and one of 16, held and kept busy by one
# child each (none refused: the 240th is the last).
"$PY3" - "$JMD_SOCK" "$JM_TMP/stop" >"$JM_TMP/holders.out" 2>&1 <<'PY' &
import json, os, socket, sys, time
path, stop = sys.argv[1], sys.argv[2]
def say(line):
    # One write a line: the eight children share the file (print's
    # separate writes interleaved there, "uid 62002 holdsuid 32").
    os.write(1, (line + "\n").encode())
kids = []
for k in range(8):
    uid = 62001 + k
    pid = os.fork()
    if pid:
        kids.append(pid)
        continue
    os.setgroups([]); os.setresgid(uid, uid, uid); os.setresuid(uid, uid, uid)
    conns = []
    for i in range(32 if k < 7 else 16):
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.settimeout(20)
        s.sendall(b'{"cmd":"version"}\n')
        line = s.makefile('rb').readline()
        if b'"error"' in line:
            say("uid %d conn %d refused: %s" % (uid, i, line.decode().strip()))
            s.close()
            continue
        conns.append(s)
    say("uid %d holds %d" % (uid, len(conns)))
    files = {s: s.makefile('rb') for s in conns}
    while not os.path.exists(stop):
        for s in list(conns):
            try:
                s.sendall(b'{"cmd":"version"}\n')
                if not files[s].readline():
                    raise OSError("closed")
            except OSError:
                conns.remove(s)      # closed to make room: not taken back
        time.sleep(0.5)
    os._exit(0)
for pid in kids:
    os.waitpid(pid, 0)
PY
HOLDERS=$!
PIDS+=("$HOLDERS")
at_exit "touch '$JM_TMP/stop'"
for i in $(seq 1 600); do
	[ "$(grep -c ' holds ' "$JM_TMP/holders.out")" -ge 8 ] && break
	sleep 0.1
done
held=$(awk '/ holds /{n += $4} END{print n + 0}' "$JM_TMP/holders.out")
[ "$held" -eq 240 ] || fail "the eight uids hold $held connections, not 240: $(cat "$JM_TMP/holders.out")"
sleep 1

# ask UID [HOLD]: one connection as UID, one `version`; prints the reply
# line; with HOLD, keeps the connection until $JM_TMP/stop exists.
ask() {
	"$PY3" - "$JMD_SOCK" "$1" "${2:-}" "$JM_TMP/stop" <<'PY'
import os, socket, sys, time
uid = int(sys.argv[2])
if uid:
    os.setgroups([]); os.setresgid(uid, uid, uid); os.setresuid(uid, uid, uid)
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(20)
f = s.makefile('rb')
try:
    s.sendall(b'{"cmd":"version"}\n')
    print(f.readline().decode().strip() or "closed", flush=True)
except OSError as e:          # refused: the daemon closed it unread
    print("closed:", e, flush=True)
    sys.exit(0)
while sys.argv[3] and not os.path.exists(sys.argv[4]):
    s.sendall(b'{"cmd":"version"}\n')
    if not f.readline():
        break
    time.sleep(0.5)
PY
}

ask 62009 hold >"$JM_TMP/ninth.out" &
PIDS+=("$!")
wait_line "$JM_TMP/ninth.out" .
out=$(cat "$JM_TMP/ninth.out")
grep -q '"layout_version"' <<<"$out" ||
	fail "a ninth user is not served while eight users hold every slot: $out"
ok "a ninth user is served while eight users hold every slot"
wait_line "$JMD_LOG" "closed to make room for uid 62009"
victim=$(sed -n 's/.*(pid [0-9]*, uid \([0-9]*\)) closed to make room.*/\1/p' "$JMD_LOG" | head -n 1)
[ -n "$victim" ] || fail "no uid in the log's line: $(grep 'make room' "$JMD_LOG")"

# The pool is full again (the eight's 239 and the ninth's one): the user
# whose connection was taken (31 now, against others' 32) cannot take another's back.
sleep 1
out=$(ask "$victim")
grep -Eq 'at its limit for your user|^closed' <<<"$out" ||
	fail "uid $victim, at 31 connections, took another user's: $out"
[ "$(grep -c 'closed to make room' "$JMD_LOG")" -eq 1 ] ||
	fail "more connections taken: $(grep 'make room' "$JMD_LOG")"
ok "the eight cannot take each other's connections"

out=$(ask 0)
grep -q '"scope":"host"' <<<"$out" || fail "root is not served: $out"
ok "root is served"
touch "$JM_TMP/stop"
wait "$HOLDERS" 2>/dev/null
jmd_stop
