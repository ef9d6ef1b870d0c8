#!/usr/bin/env bash
# timeout: 200
# A file the daemon moved aside for its removal and must put back (it is
# not the file checked: another took the name in between) goes back under
# its name, however the name comes and goes meanwhile. The daemon tried
# twice: RENAME_NOREPLACE, then RENAME_EXCHANGE. nobody, squatting the
# name of root's live process (jmalloc.PID.stats) with bytes that are no
# segment, removes its file after the daemon's check, root's process
# makes its segment under the freed name, and the daemon moves that
# aside (tests/daemon/unlink_swap.test.sh); nobody then makes a file
# under the name before the first try and removes it before the second:
# both failed, root's segment stayed under .jmstatd-removing.PID.N.NAME,
# which this daemon never put back (only a stopped daemon's), and root's
# process was never shown again. Now the two are tried in turn while the
# name changes between them, and what is left aside by this daemon goes
# back at a rescan that finds the name free.
#
# Staged without timing: gdb stops the daemon at each renameat2.
. "$(dirname "$0")/../lib.sh"
need_users "squat a name as nobody"
need_segments
need_cmd gdb
command -v setpriv >/dev/null || skip "needs setpriv"
cd "$JM_TMP"
jmd_start
sleep 300 &
P=$!
PIDS+=("$P")
NAME=$JMD_STATS/$(jm_segment_name "$P")
AS_NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
gdb_watched -p "$JMD_PID" \
	-ex 'break jmd_entry_unlink' \
	-ex "shell $AS_NOBODY sh -c 'head -c 5000 /dev/urandom >$NAME'" \
	-ex 'continue' \
	-ex 'break renameat2' \
	-ex 'continue' \
	-ex "shell $AS_NOBODY rm -f $NAME; $JM_HELPERS/stress_segwriter write $NAME $P 0 frag >/dev/null" \
	-ex 'continue' \
	-ex "shell $AS_NOBODY sh -c 'echo junk >$NAME'" \
	-ex 'continue' \
	-ex "shell $AS_NOBODY rm -f $NAME" \
	-ex 'detach'
grep -q "Breakpoint 1, jmd_entry_unlink" gdb.out || fail "gdb did not stop the daemon in jmd_entry_unlink: $(tail -5 gdb.out)"
[ "$(grep -c "Breakpoint 2, .*renameat2" gdb.out)" = 3 ] ||
	fail "gdb did not stop the daemon at three renameat2: $(tail -5 gdb.out)"
jmd_py - "$P" <<'PY' || fail "root's process not tracked from its segment: $(ls -a "$JMD_STATS")"
from jmd import *
pid = int(sys.argv[1])
wait_until(lambda: pid in ps_pids(), "root's process %d in ps" % pid)
PY
[ -f "$NAME" ] || fail "root's segment of process $P not under its name"
[ "$(stat -c %u "$NAME")" = 0 ] || fail "not root's file under $NAME: $(stat -c %U "$NAME")"
left=$(find "$JMD_STATS" -name '.jmstatd-*' | wc -l)
[ "$left" = 0 ] || fail "$left files left under the daemon's names: $(ls -a "$JMD_STATS")"
ok "root's segment put back while nobody's file came and went under its name"

# What this daemon left aside (every try failed: the name taken at each
# RENAME_NOREPLACE, free at each RENAME_EXCHANGE) goes back at a rescan
# that finds the name free, as a stopped daemon's does at the next start
# (tests/daemon/unlink_leftover.test.sh). Only this daemon's own are
# tried at every rescan, kept in memory: a name with its pid made by
# anyone else is not looked at (tests/daemon/aside_bound.test.sh).
sleep 300 &
R=$!
PIDS+=("$R")
RNAME=$JMD_STATS/$(jm_segment_name "$R")
{
	echo 'break jmd_entry_unlink'
	echo "shell $AS_NOBODY sh -c 'head -c 5000 /dev/urandom >$RNAME'"
	echo 'continue'
	echo 'break renameat2'
	echo 'continue'
	echo "shell $AS_NOBODY rm -f $RNAME; $JM_HELPERS/stress_segwriter write $RNAME $R 0 frag >/dev/null"
	echo 'continue'
	echo 'set $i = 0'
	echo 'while $i < 32'
	echo "  shell $AS_NOBODY sh -c 'echo junk >$RNAME'"
	echo '  continue'
	echo "  shell $AS_NOBODY rm -f $RNAME"
	echo '  set $i = $i + 1'
	echo '  if $i < 32'
	echo '    continue'
	echo '  end'
	echo 'end'
	echo 'delete'
	echo 'detach'
} >gdb2.cmd
gdb_watched -p "$JMD_PID" -x gdb2.cmd
[ "$(grep -c "Breakpoint 2, .*renameat2" gdb.out)" = 65 ] ||
	fail "gdb did not stop the daemon at 65 renameat2: $(grep -c "Breakpoint 2" gdb.out), $(tail -5 gdb.out)"
wait_line "$JMD_LOG" "cannot put $RNAME back after its removal was refused (left as .jmstatd-removing.$JMD_PID."
wait_line "$JMD_LOG" "put $RNAME back: its name was free again"
jmd_py - "$R" <<'PY' || fail "the process of a segment this daemon left aside not tracked"
from jmd import *
pid = int(sys.argv[1])
wait_until(lambda: pid in ps_pids(), "process %d in ps" % pid)
PY
[ "$(stat -c %u "$RNAME")" = 0 ] || fail "not root's file under $RNAME"
left=$(find "$JMD_STATS" -name '.jmstatd-*' | wc -l)
[ "$left" = 0 ] || fail "$left files left under the daemon's names: $(ls -a "$JMD_STATS")"
ok "a segment this daemon left aside put back at a rescan"
jmd_stop
echo "ok"
