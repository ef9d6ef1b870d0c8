#!/usr/bin/env bash
# timeout: 90
# jmd_gdb_stage (lib.sh), the gdb staging of the pid-reuse races
# (containers/dir_reuse, place_reuse, read_reuse), when its side gives up:
# a pid taken by other work before the staging process got it, so the
# daemon never reaches the breakpoint and the other side never reads its
# FIFO. gdb's continue and the AFTER command then waited for ever, the
# test ran into the runner's timeout (a failure, and up to 16 minutes of
# a CI run). Now a watchdog lets the daemon go: staged here with a
# breakpoint whose condition never holds and an AFTER that would block;
# the stage must return, the daemon answer, and SIGTERM stop it cleanly.
# gdb_watched, the same watchdog for the stagings of more steps
# (daemon/unlink_swap, unlink_aside, cli/symbolize_reuse, which drove gdb
# themselves, with nothing to end a staging that never came), likewise
# with a program run under gdb.
. "$(dirname "$0")/../lib.sh"
need_cmd gdb
cd "$JM_TMP"
jmd_start
mkfifo never
s=$(date +%s)
JM_GDB_WAIT=5 jmd_gdb_stage "jmd_entry_unlink if 0" "true" "cat never"
e=$(date +%s)
grep -q "interrupted" gdb.watchdog || fail "the watchdog did not end the stage: $(tail -5 gdb.out)"
[ $((e - s)) -lt 60 ] || fail "the stage took $((e - s)) s"
jmctl_ok=$("$JMCTL" --socket "$JMD_SOCK" ps >/dev/null 2>&1 && echo yes)
[ "$jmctl_ok" = yes ] || fail "the daemon does not answer after the stage: $(tail -5 gdb.out)"
kill -0 "$JMD_PID" || fail "the daemon died: $(tail -5 "$JMD_LOG")"
ok "the stage given up in $((e - s)) s, the daemon let go"

# The same watchdog for a staging of more steps (gdb_watched), here a
# program run under gdb, as cli/symbolize_reuse runs jmctl: one that
# never reaches its breakpoint, then a shell command that would block.
rm -f gdb.watchdog
s=$(date +%s)
JM_GDB_WAIT=5 gdb_watched -ex 'break exit' -ex run -ex 'shell cat never' -ex continue \
	--args sleep 600
e=$(date +%s)
grep -q "interrupted" gdb.watchdog || fail "the watchdog did not end gdb's run: $(tail -5 gdb.out)"
[ $((e - s)) -lt 60 ] || fail "gdb's run took $((e - s)) s"
ok "a program run under gdb given up in $((e - s)) s"
jmd_stop
echo "ok"
