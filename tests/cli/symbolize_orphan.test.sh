#!/usr/bin/env bash
# timeout: 90
# Root's jmctl symbolizes another user's process in a child that has
# become that user and left jmctl's session (jmctl/runas.c), and jmctl
# kills it after 10 s. A jmctl that ended first (killed by an operator's
# timeout, a closed terminal, SIGKILL) left that child for ever where it
# waited, on nobody's FIFO at a deleted mapping's path: out of jmctl's
# session, so nothing that stopped jmctl reached it (three such children
# were found 30 minutes after a run of this suite). Now the child dies
# with its parent (PR_SET_PDEATHSIG, set after its uid change, which
# clears it).
. "$(dirname "$0")/../lib.sh"
need_users "run a program as nobody"
need_segments
need_jmctl
need_cmd pgrep
nobody_pub
jmd_start
nobody_deleted_fifo
"$JMCTL" --socket "$JMD_SOCK" sites "$PID" >"$JM_TMP/out" 2>"$JM_TMP/err" &
J=$!
kids=
for _ in $(seq 100); do
	kids=$(pgrep -P "$J" | tr '\n' ' ')
	[ -n "$kids" ] && [ "$(stat -c %u "/proc/${kids%% *}" 2>/dev/null)" = 65534 ] && break
	kids=
	sleep 0.1
done
[ -n "$kids" ] || fail "jmctl started no child as nobody: $(cat "$JM_TMP/err")"
sleep 1                         # the child in its open of the FIFO
kill -KILL "$J"
wait "$J" 2>/dev/null
left=
for _ in $(seq 50); do
	left=
	for k in $kids; do
		[ -e "/proc/$k" ] && [ "$(awk '{ print $3 }' "/proc/$k/stat" 2>/dev/null)" != Z ] && left="$left $k"
	done
	[ -z "$left" ] && break
	sleep 0.1
done
if [ -n "$left" ]; then
	kill -KILL $left 2>/dev/null
	fail "jmctl's child${left} still there 5 s after jmctl was killed"
fi
ok "jmctl killed: its symbolizing child, blocked on nobody's FIFO, went with it"
