#!/usr/bin/env bash
# timeout: 120
# A file the daemon moved aside for its removal (jmd_entry_unlink: the name
# moved to .jmstatd-removing.PID.SEQ.NAME, checked, then removed or put
# back) is not left there forever when the daemon stops in between
# (killed, a crash): the next daemon's scan puts it back under its name,
# where it is judged as any other file. Staged by leaving such names as a
# daemon that died between the moves would: a live process's segment (the
# one the daemon was to put back) is tracked, a dead one's is removed, and
# nothing is left under the daemon's names; one under a name taken since
# stays. Before, both stayed under the aside names, the live process never
# shown.
. "$(dirname "$0")/../lib.sh"
need_segments
mkdir -p "$JMD_STATS"
sh -c 'exit 0' &
DEADD=$!          # the stopped daemon's pid
wait "$DEADD"
sleep 300 &
P=$!
PIDS+=("$P")
sleep 300 &
Q=$!              # a writer, dead before the daemon starts
LIVE=$(jm_segment_name "$P")
DEAD=$(jm_segment_name "$Q")
"$JM_HELPERS"/stress_segwriter write "$JMD_STATS/.jmstatd-removing.$DEADD.1.$LIVE" "$P" 0 frag >/dev/null ||
	fail "cannot write a segment for $P"
"$JM_HELPERS"/stress_segwriter write "$JMD_STATS/.jmstatd-removing.$DEADD.2.$DEAD" "$Q" 0 frag >/dev/null ||
	fail "cannot write a segment for $Q"
kill "$Q"
wait "$Q" 2>/dev/null
# A second one for the live name: one of the two stays, its name taken.
"$JM_HELPERS"/stress_segwriter write "$JMD_STATS/.jmstatd-removing.$DEADD.3.$LIVE" "$P" 0 frag >/dev/null
jmd_start
jmd_py - "$P" <<'PY' || fail "the live process of a segment left aside not tracked"
from jmd import *
pid = int(sys.argv[1])
wait_until(lambda: pid in ps_pids(), "process %d in ps" % pid)
PY
wait_line "$JMD_LOG" "put $JMD_STATS/$LIVE back: jmstatd $DEADD stopped while removing it"
[ -f "$JMD_STATS/$LIVE" ] || fail "the live process's segment is not under its name"
for _ in $(seq 100); do [ -e "$JMD_STATS/$DEAD" ] || break; sleep 0.1; done
[ ! -e "$JMD_STATS/$DEAD" ] || fail "the dead writer's segment, put back, was not removed"
[ ! -e "$JMD_STATS/.jmstatd-removing.$DEADD.2.$DEAD" ] || fail "the dead writer's segment left aside"
# Two were left aside for $LIVE: whichever the scan meets first (the
# directory's order) goes back, the other finds the name taken and stays.
left=$(find "$JMD_STATS" -name '.jmstatd-*' | wc -l)
[ "$left" = 1 ] && { [ -e "$JMD_STATS/.jmstatd-removing.$DEADD.1.$LIVE" ] ||
	[ -e "$JMD_STATS/.jmstatd-removing.$DEADD.3.$LIVE" ]; } ||
	fail "expected only the one under a taken name left aside: $(ls -a "$JMD_STATS")"
ok "segments left aside by a stopped daemon put back and judged"
jmd_stop
echo "ok"
