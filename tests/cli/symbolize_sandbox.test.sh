#!/usr/bin/env bash
# timeout: 90
# Root's jmctl symbolizes another user's process in a child that has
# become that user (jmctl/runas.c): libdwfl there parses ELF and DWARF of
# the user's choosing, so whatever that parsing may give the user (a bug
# in it, a decompressor's) is to give no more than the user has. The
# child is a fork of root's jmctl, and it kept root's descriptors and
# session: its connection to the daemon (made as root: every user's
# processes, sites and history on request), root's terminal as its
# stdin, stdout and stderr (escape sequences written to root's screen,
# unescaped) and as its controlling terminal (TIOCSTI pushes input into
# root's shell, where dev.tty.legacy_tiocsti is 1). Now the child starts
# a session of its own (no controlling terminal), has /dev/null for 0, 1
# and 2, and keeps only its pipe back and /proc/PID.
#
# Staged without timing: nobody's program is deleted and a FIFO made at
# its "PATH (deleted)" (as symbolize_hang.test.sh), so the child's open
# of it waits for a writer; the test becomes that writer, which it can
# only once the child is in that open (past its setup), looks at the
# child, then closes the FIFO (the child reads no ELF and goes on).
. "$(dirname "$0")/../lib.sh"
need_users "run a program as nobody"
need_segments
need_jmctl
nobody_pub
jmd_start
nobody_deleted_fifo

# check_child WHAT ARGS...: root's jmctl ARGS on a terminal of its own
# (a pty), its symbolizing child looked at while it waits on
# the FIFO.
check_child() {
	local what=$1
	shift
	rm -f "$JM_TMP/jmctl.pid"
	# jmctl on a pty of its own, its controlling terminal, as root runs
	# it from a shell; its pid written first. The pty is drained and not
	# closed before jmctl ends (no hangup).
	python3 - "$JM_TMP/jmctl.pid" "$JM_TMP/out" "$JM_TMP/err" "$@" <<'PYEOF' &
import fcntl, os, sys, termios, time
master, slave = os.openpty()
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    os.dup2(slave, 0)
    os.dup2(os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 1)
    os.dup2(os.open(sys.argv[3], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
    os.close(master)
    os.close(slave)
    os.execv(sys.argv[4], sys.argv[4:])
os.close(slave)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(pid))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
os.set_blocking(master, False)
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    try:
        os.read(master, 4096)
    except OSError:
        pass
    time.sleep(0.02)
sys.exit(os.waitstatus_to_exitcode(status))
PYEOF
	local sc=$!
	# The child, past its setup, waits in its open of the FIFO for a
	# writer (wait_for_partner). A bounded wait: jmctl kills it after 10 s.
	local jp= child= end=$((SECONDS + 30))
	while [ $SECONDS -lt $end ]; do
		[ -n "$jp" ] || jp=$(cat "$JM_TMP/jmctl.pid" 2>/dev/null) || true
		if [ -n "$jp" ]; then
			for c in $(ps -o pid= --ppid "$jp"); do
				[ "$(cat "/proc/$c/wchan" 2>/dev/null)" = wait_for_partner ] && child=$c
			done
		fi
		[ -n "$child" ] && break
		sleep 0.05
	done
	[ -n "$child" ] || fail "$what: no child of jmctl (${jp:-not started}) opened the FIFO: $(cat "$JM_TMP/err")"
	[ "$(awk '/^Uid:/ {print $2}' "/proc/$child/status")" = 65534 ] ||
		fail "$what: child $child is not nobody's"
	local bad= t f
	# Its descriptors: none of root's terminal, no socket (the daemon's).
	for f in /proc/"$child"/fd/*; do
		t=$(readlink "$f") || continue
		case $t in
		/dev/pts/* | /dev/tty* | socket:*) bad="$bad ${f##*/}->$t" ;;
		esac
	done
	# Its controlling terminal (field 7 of stat, after the comm).
	local tty
	tty=$(sed 's/.*) //' "/proc/$child/stat" | awk '{print $5}')
	[ "$tty" = 0 ] || bad="$bad controlling-tty=$tty"
	# Its session: not root's jmctl's.
	[ "$(sed 's/.*) //' "/proc/$child/stat" | awk '{print $4}')" != \
	  "$(sed 's/.*) //' "/proc/$jp/stat" | awk '{print $4}')" ] || bad="$bad session-of-jmctl"
	# The FIFO opened and closed: the child reads nothing and goes on.
	python3 -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK))' \
		"$P/prog (deleted)" || true
	local rc=0
	wait "$sc" || rc=$?
	[ -z "$bad" ] || fail "$what: nobody's child of root's jmctl holds:$bad"
	[ $rc -eq 0 ] || fail "$what: jmctl exited $rc: $(cat "$JM_TMP/err")"
}

check_child "sites" "$JMCTL" --socket "$JMD_SOCK" sites "$PID"
grep -q "^    0x\|prog" "$JM_TMP/out" || fail "sites: no frames: $(cat "$JM_TMP/out")"
check_child "sites --pprof" "$JMCTL" --socket "$JMD_SOCK" sites "$PID" --pprof "$JM_TMP/heap.pb.gz"
[ "$(head -c 2 "$JM_TMP/heap.pb.gz" | od -An -tx1 | tr -d ' ')" = 1f8b ] || fail "no profile written"
# The order of the child's setup: root's descriptors closed before it
# becomes nobody. From its setresuid on, where fs.suid_dumpable is 1 and
# ptrace is not restricted (no Yama), a process of nobody's may attach to
# it (the uid change sets dumpable to suid_dumpable); the child closed
# them after, and in that window they were root's connection to the
# daemon. Seen in the system calls (strace -f): the FIFO's writer opens
# it blocking, so it waits for the child's open and lets it go on.
if command -v strace >/dev/null; then
	python3 -c 'import sys; open(sys.argv[1], "w").close()' "$P/prog (deleted)" &
	wp=$!
	# (LeakSanitizer cannot run under ptrace: a sanitized jmctl's leak
	# check is left to the checks above.)
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		strace -f -qq -o "$JM_TMP/trace" -e trace=setresuid,close_range,close,dup2 \
		"$JMCTL" --socket "$JMD_SOCK" sites "$PID" >"$JM_TMP/out" 2>"$JM_TMP/err" ||
		fail "sites under strace: jmctl exited $?: $(cat "$JM_TMP/err")"
	kill "$wp" 2>/dev/null
	wait "$wp" 2>/dev/null
	cpid=$(awk '/setresuid\(65534, 65534, 65534\) += 0/ { print $1; exit }' "$JM_TMP/trace")
	[ -n "$cpid" ] || { cat "$JM_TMP/trace"; fail "no child of jmctl became nobody (strace)"; }
	awk -v c="$cpid" '$1 == c && /setresuid\(/ { exit } $1 == c && /^[0-9]+ +(close_range|dup2)\(/ { n++ }
		END { exit n > 0 ? 0 : 1 }' "$JM_TMP/trace" ||
		{ grep "^$cpid " "$JM_TMP/trace"; fail "the child became nobody before it closed root's descriptors"; }
fi
ok "root's jmctl symbolizes nobody's process in a child without root's terminal, session or daemon socket"
