#!/usr/bin/env bash
# jmctl without a daemon: --help, --version, bad usage (exit 2, usage on
# stderr), the socket it picks (--socket, $JMSTATD_SOCKET, the defaults), and
# the errors a user meets before any daemon answers: nothing listening
# (ENOENT, ECONNREFUSED), permission denied, a socket that is not jmstatd's,
# a jmstatd of another stats-layout version. The last two need a peer that
# is deliberately not jmstatd: a few lines of python3 stand in for it.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_jmctl
cd "$JM_TMP"

# expect STATUS PATTERN-ON-STDERR -- jmctl ARGS...: checks the exit status
# and that stderr holds one matching line.
expect() {
	local want=$1 pat=$2; shift 3
	local rc=0
	"$@" >out.txt 2>err.txt || rc=$?
	[ "$rc" -eq "$want" ] || { cat out.txt err.txt; fail "'$*' exited $rc, not $want"; }
	grep -q -- "$pat" err.txt || { cat err.txt; fail "'$*': stderr lacks '$pat'"; }
}

# --help / help / --version go to stdout, exit 0.
for h in --help help -h; do
	"$JMCTL" $h >out.txt 2>err.txt || fail "jmctl $h failed"
	grep -q '^usage: jmctl \[--socket PATH\] \[--json\] COMMAND' out.txt || fail "jmctl $h: no usage"
	for c in ps stats top alerts; do grep -q "^  $c" out.txt || fail "jmctl $h does not list $c"; done
	[ ! -s err.txt ] || fail "jmctl $h wrote on stderr"
done
"$JMCTL" top --help | grep -q 'top \[-p PID\] \[-d SECS\] \[-s KEY\] \[-r\] \[-b\] \[-n N\]' || fail "top --help"
# Each command's own usage (jmctl CMD --help) is in the full help as it is:
# the same options in both.
"$JMCTL" --help >help.txt
for c in ps stats top alerts history status sites; do
	u=$("$JMCTL" $c --help) || fail "jmctl $c --help"
	u=${u#usage: jmctl \[--socket PATH\] \[--json\] }
	grep -qF "  $u" help.txt || fail "jmctl --help does not list '$u' (jmctl $c --help)"
done
[ "$("$JMCTL" --version)" = "jmctl 0.1.0" ] || fail "--version"
ok "help and version"

# Bad usage: exit 2, a message and the usage on stderr, nothing on stdout.
export JMSTATD_SOCKET=$JM_TMP/none.sock
while IFS='|' read -r pat args; do
	expect 2 "$pat" -- "$JMCTL" $args
	grep -q '^usage: jmctl' err.txt || fail "'$args': no usage on stderr"
	[ ! -s out.txt ] || fail "'$args': wrote on stdout"
done <<'EOF'
no command given|
unknown command 'frobnicate'|frobnicate
unknown option '--frob'|--frob ps
option '--socket' needs an argument|--socket
missing the process id|stats
'abc' is not a process id|stats abc
'-5' is not a process id|stats -- -5
'0' is not a process id|stats 0
unexpected argument '7'|stats 1 7
unknown sort key 'nope'|ps -s nope
unknown sort key 'nope'|stats 1 -s nope
unknown sort key 'nope'|top -s nope
unknown sort key 'x'|alerts -s x
unexpected argument 'x'|ps x
-d wants seconds|top -d 0
-d wants seconds|top -d abc
-n wants a number|top -n 0
'x' is not a process id|top -p x
option '-s' needs an argument|ps -s
unknown option '-z'|top -z
EOF
ok "bad usage exits 2 with the usage"

# Nothing listening: ENOENT, and ECONNREFUSED on a socket file nobody serves.
# A socket the user named: whether it is there, and the jmstatd line that
# listens on it (a plain `jmstatd` would listen elsewhere).
msg="jmstatd is not running there (no such socket: start it with \`jmstatd --socket $JM_TMP/none.sock\`, or name the socket of a running jmstatd with --socket or JMSTATD_SOCKET)"
for cmd in "ps" "stats 1" "alerts" "top -b -n 1"; do
	expect 1 "^jmctl: cannot connect to $JM_TMP/none.sock: $msg\$" -- "$JMCTL" $cmd
	[ "$(wc -l <err.txt)" -eq 1 ] || fail "$cmd: more than one line on stderr"
done
python3 -c "
import socket; s = socket.socket(socket.AF_UNIX); s.bind('$JM_TMP/dead.sock')"
[ -S dead.sock ] || fail "could not make a dead socket"
expect 1 "cannot connect to $JM_TMP/dead.sock: jmstatd is not running there (a socket left by a jmstatd that stopped: start it with \`jmstatd --socket $JM_TMP/dead.sock\`" -- "$JMCTL" --socket "$JM_TMP/dead.sock" ps
ok "no daemon: one line naming the socket and the jmstatd line for it, exit 1"

# Which socket: --socket beats $JMSTATD_SOCKET, given before or after the command.
expect 1 "cannot connect to $JM_TMP/opt.sock:" -- "$JMCTL" --socket "$JM_TMP/opt.sock" ps
expect 1 "cannot connect to $JM_TMP/opt2.sock:" -- "$JMCTL" ps --socket "$JM_TMP/opt2.sock"
expect 1 "cannot connect to $JM_TMP/opt3.sock:" -- "$JMCTL" ps --socket="$JM_TMP/opt3.sock"
expect 1 "cannot connect to $JM_TMP/none.sock:" -- "$JMCTL" ps
unset JMSTATD_SOCKET
if [ "$(id -u)" -eq 0 ]; then
	if [ ! -e /run/jmstatd/jmstatd.sock ]; then
		expect 1 "cannot connect to /run/jmstatd/jmstatd.sock: jmstatd is not running (start it with \`jmstatd\` or \`systemctl start jmstatd\`" -- "$JMCTL" ps
	fi
	RUNAS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
	RUNAS=()
fi
# A user without a daemon of their own falls back to the system socket,
# and is told where their own would have been (common/socket.c).
if { [ "$(id -u)" -ne 0 ] || command -v setpriv >/dev/null; } && [ ! -e /run/jmstatd/jmstatd.sock ]; then
	uid=$("${RUNAS[@]}" id -u)
	expect 1 "cannot connect to /run/jmstatd/jmstatd.sock: jmstatd is not running, nor a jmstatd of yours at /tmp/jmstatd-$uid/jmstatd.sock" -- \
		env XDG_RUNTIME_DIR=/nonexistent-xdg "${RUNAS[@]}" "$JMCTL" ps
	expect 1 "cannot connect to /run/jmstatd/jmstatd.sock: jmstatd is not running, nor a jmstatd of yours at /tmp/jmstatd-$uid/jmstatd.sock" -- \
		env -u XDG_RUNTIME_DIR "${RUNAS[@]}" "$JMCTL" ps
fi
ok "socket: --socket, JMSTATD_SOCKET, defaults"

# Peers that are not jmstatd (python3, on purpose): one speaks HTTP, one
# claims stats-layout version 99, one closes every connection at once. (A
# peer that never answers is left out: it costs jmctl's 10 s timeout.)
cat >peer.py <<'EOF'
import os, socket, sys
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(4)
open(path + '.ready', 'w').close()
while True:
    c, _ = s.accept()
    if mode == 'close':
        c.close(); continue
    c.recv(65536)
    if mode == 'http':
        c.sendall(b'HTTP/1.0 400 Bad Request\r\n\r\n')
    elif mode == 'v99':
        c.sendall(b'{"ok":true,"time":1.0,"version":"9.0.0","layout_version":99,"interval_ms":1000,"stats_dir":"/dev/shm","pid":1}\n')
    c.close()
EOF
for mode in http v99 close; do
	python3 peer.py "$JM_TMP/$mode.sock" $mode &
	PIDS+=($!)
	for _ in $(seq 50); do [ -e "$JM_TMP/$mode.sock.ready" ] && break; sleep 0.1; done
done
expect 1 "^jmctl: $JM_TMP/http.sock: not a jmstatd reply (.*): is this socket jmstatd's?" -- "$JMCTL" --socket "$JM_TMP/http.sock" ps
layout=$(sed -n 's/^#define JMSTAT_VERSION *\([0-9]*\)u*$/\1/p' "$JM_ROOT/liballoc/include/jmstat.h")
expect 1 "^jmctl: $JM_TMP/v99.sock: jmstatd 9.0.0 speaks stats layout version 99, this jmctl 0.1.0 knows version $layout (install jmctl and jmstatd from the same release)" -- "$JMCTL" --socket "$JM_TMP/v99.sock" stats 1
expect 1 "^jmctl: $JM_TMP/close.sock: jmstatd closed the connection before answering 'version'" -- "$JMCTL" --socket "$JM_TMP/close.sock" top -b -n 1
ok "not jmstatd, another layout version, closed at once: exit 1 with a message"

# Permission denied: a listening socket in a directory only root may enter,
# and jmctl run as nobody (or, when not root, a socket of mode 000).
mkdir -m 0700 private
python3 peer.py "$JM_TMP/private/p.sock" v99 &
PIDS+=($!)
for _ in $(seq 50); do [ -e "$JM_TMP/private/p.sock.ready" ] && break; sleep 0.1; done
if [ "$(id -u)" -eq 0 ]; then
	command -v setpriv >/dev/null || skip "setpriv is missing (util-linux): cannot test permission denied as root"
	chmod 0711 "$JM_TMP"
	expect 1 "^jmctl: cannot connect to $JM_TMP/private/p.sock: permission denied (the socket belongs to another user" -- \
		"${RUNAS[@]}" "$JMCTL" --socket "$JM_TMP/private/p.sock" ps
else
	chmod 000 "$JM_TMP/private/p.sock"
	expect 1 "^jmctl: cannot connect to $JM_TMP/private/p.sock: permission denied" -- \
		"$JMCTL" --socket "$JM_TMP/private/p.sock" ps
fi
ok "permission denied on the socket: exit 1 with a message"
