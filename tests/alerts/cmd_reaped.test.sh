#!/usr/bin/env bash
# timeout: 120
# An alert command that has ended is not "killed" at its timeout because
# the loop had not yet read its exit: a loop held past command_timeout in
# one callback (a long request, a host starved of CPU) runs the timers
# before it reads the SIGCHLD that came meanwhile, and logged "its command
# (pid N) still runs after 10s: killing it", counted a timeout, for a
# command that had ended (271 such lines in a 12-minute soak on a loaded
# host, the commands /bin/true). Staged with gdb: the daemon held in a
# client's request while the command ends and its timeout passes.
. "$(dirname "$0")/../lib.sh"
need_segments
need_cmd gdb
blocking_command
cat >"$JM_TMP/cmd.sh" <<EOF
#!/bin/sh
echo "start \$JMALLOC_ALERT_ID" >>"$CMDLOG"
while [ ! -e "$RELEASE" ]; do sleep 0.05; done
echo "end \$JMALLOC_ALERT_ID" >>"$CMDLOG"
EOF
chmod +x "$JM_TMP/cmd.sh"
{
	printf 'command = %s\ncommand_timeout = 10s\nnotify = firing\n' "$JM_TMP/cmd.sh"
	rule frag fragmentation "ratio = 0.5" "min_wasted = 1MiB"
} >"$JM_TMP/rules.conf"
jmd_start --config "$JM_TMP/rules.conf"
start_preloaded "$JM_HELPERS/demo_fragment" -s 64 -c 40000 -r 10
wait_line "$CMDLOG" "^start "
# Held in a request (jmd_request_parse) from a client that asks while gdb
# holds the daemon; meanwhile the command ends and 10 s more pass.
jmd_gdb_stage jmd_request_parse \
	"sh -c 'sleep 0.5; echo {\\\"cmd\\\":\\\"version\\\"} | timeout 60 python3 -c \"import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read()); s.recv(100)\" $JMD_SOCK' >/dev/null 2>&1 &" \
	"touch $RELEASE; sleep 11"
jmd_gdb_stopped jmd_request_parse
# Whatever the daemon logs of the command comes at its next iteration.
"$JMCTL" --socket "$JMD_SOCK" status >/dev/null || fail "the daemon does not answer after the stage"
if ! grep -q "^end " "$CMDLOG" || grep -q "was killed by signal" "$JMD_LOG"; then
	skip "the command's timeout came before the daemon was held (a slow stage)"
fi
! grep -q "still runs after" "$JMD_LOG" ||
	fail "an ended command taken for one still running: $(grep 'still runs' "$JMD_LOG")"
jmd_stop
ok "an ended command not killed at its timeout when the loop read its exit late"
