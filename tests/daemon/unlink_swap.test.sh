#!/usr/bin/env bash
# timeout: 120
# A file the daemon removes is the file it checked, not whatever stands
# under its name by then. nobody squats the name of root's live process's
# segment (jmalloc.PID.stats) with bytes that are no segment; the daemon
# finds that "not a segment, and the process its name claims is another
# user's" and removes it, by name, after a stat of the name. In between,
# nobody removed its file (its own, in the sticky directory) and root's
# process made its segment under the freed name: root's segment was
# removed, its process never shown. Now the name is moved aside first
# and the file there checked before it goes.
#
# Staged without timing: gdb stops the daemon in jmd_entry_unlink at its
# unlinkat (after every check), the swap is made, then the daemon goes on.
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
	-ex 'break unlinkat' \
	-ex 'continue' \
	-ex "shell $AS_NOBODY rm -f $NAME; $JM_HELPERS/stress_segwriter write $NAME $P 0 frag >/dev/null" \
	-ex 'detach'
grep -q "Breakpoint 1, jmd_entry_unlink" gdb.out || fail "gdb did not stop the daemon in jmd_entry_unlink: $(tail -5 gdb.out)"
grep -q "Breakpoint 2, .*unlinkat" gdb.out || fail "gdb did not stop the daemon at unlinkat: $(tail -5 gdb.out)"
wait_line "$JMD_LOG" "removed $NAME: not a segment, and the process its name claims is another user's"
[ -f "$NAME" ] || fail "root's segment of process $P removed in nobody's file's stead"
[ "$(stat -c %u "$NAME")" = 0 ] || fail "not root's file under $NAME: $(stat -c %U "$NAME")"
jmd_py - "$P" <<'PY' || fail "root's process not tracked from its segment"
from jmd import *
pid = int(sys.argv[1])
wait_until(lambda: pid in ps_pids(), "root's process %d in ps" % pid)
PY
left=$(find "$JMD_STATS" -name '.jmstatd-*' | wc -l)
[ "$left" = 0 ] || fail "$left files left under the daemon's names: $(ls -a "$JMD_STATS")"
ok "root's segment made under a freed name kept; nobody's checked file removed"
jmd_stop
echo "ok"
