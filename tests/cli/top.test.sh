#!/usr/bin/env bash
# jmctl top against the real jmstatd and a real fragmenting process:
# -b -n N frames (header, rows, sorting, -p, values checked against the
# JSON), an honest sparkline span, --json, and the live view driven in
# tmux: it draws, re-sorts on a key, switches to the process view (MAPPED
# and FRAG beside UTIL), filters it with / (exe or user), opens the
# selected process with Enter (its bins, the sites of a bin) and goes back
# with Esc, shows every key with h within 120 columns, follows a resize,
# quits on q and on Ctrl-C, and leaves the terminal as it found it (stty
# -g unchanged, the alternate screen left), also when the daemon goes away
# under it.
# timeout: 150
. "$(dirname "$0")/../lib.sh"
need_segments
need_jmctl
cd "$JM_TMP"
J=("$JMCTL" --socket "$JMD_SOCK")

T0=$(date +%s)
jmd_start
start_preloaded "$JM_HELPERS/demo_fragment" -s 64,192 -c 20000 -r 0
FRAG=$LAST_PID
start_preloaded "$JM_HELPERS/demo_fragment" -s 32,48 -c 20000 -r 2000
BUSY=$LAST_PID
wait_seen "$FRAG" "p['allocated'] > 0"
wait_seen "$BUSY" "p['allocated'] > 0"
sleep $(awk "BEGIN{print 3 * $JMD_INTERVAL / 1000}")

# ---- -b -n 3: three plain frames.
"${J[@]}" top -b -n 3 -d 0.2 >frames.txt || fail "top -b -n 3"
[ "$(grep -c '^jmctl top - [0-9][0-9]:[0-9][0-9]:[0-9][0-9]  every 0.2s  bins view (all processes)$' frames.txt)" -eq 3 ] ||
	{ cat frames.txt; fail "top -b -n 3 did not print 3 frames"; }
! grep -q $'\x1b' frames.txt || fail "escape sequences in -b output"
"${J[@]}" --json ps >ps.json
python3 - <<EOF || { cat frames.txt; fail "top -b frame content"; }
import json, re
$PYFMT
ps = json.load(open("ps.json"))
frames = ["jmctl top - " + f for f in open("frames.txt").read().split("jmctl top - ")[1:]]
assert len(frames) == 3, len(frames)
units = {"B": 1, "KiB": 1024, "MiB": 1 << 20, "GiB": 1 << 30}
for f in frames:
    lines = f.splitlines()
    m = re.match(r"Host: (\d+) process(?:es)?  allocated (\S+ \S+)  active (\S+ \S+)  mapped (\S+ \S+)  frag (\S+)%  wasted (\S+ \S+)  alloc/s (\S+)$", lines[1])
    assert m, lines[1]
    assert int(m.group(1)) == len(ps["processes"]), (m.group(1), len(ps["processes"]))
    assert lines[2].startswith("allocated  ") and lines[3].startswith("active     "), lines[2:4]
    assert re.match(r"^ +last \S+, scale 0 to \S+ \S+$", lines[4]), lines[4]
    title = [i for i, l in enumerate(lines) if l.split()[:3] == ["SIZE", "INUSE", "RUNS"]]
    assert title, f
    rows = []
    for l in lines[title[0] + 1:]:
        m = re.match(r"^ *(\d+) +(\S+) +(\S+)  \[([| ]*?) *([0-9.]+%|-)\] +(\S+) (\S+) +(\S+)$", l)
        if not m:
            break
        rows.append(m)
    assert rows, f
    wasted = [float(r.group(6)) * units[r.group(7)] for r in rows]
    assert wasted == sorted(wasted, reverse=True), wasted   # default sort: wasted
    sizes = [int(r.group(1)) for r in rows]
    assert 64 in sizes and 192 in sizes and 32 in sizes, sizes
    assert re.match(r"^\d+ of \d+ bins in use, sorted by wasted$", lines[title[0] + 1 + len(rows)]), lines[title[0] + 1 + len(rows)]
EOF
ok "top -b -n 3: three frames, host line, bins sorted by wasted"

# The sparkline says the span its samples cover: never more than the
# daemon has been up.
up=$(( $(date +%s) - T0 + 1 ))
span=$(sed -n 's/^ *last \([0-9ms]*\), scale .*/\1/p' frames.txt | tail -n 1)
python3 -c "
import re, sys
m = re.fullmatch(r'(?:(\d+)m)?(\d+)s', sys.argv[1])
assert m, sys.argv[1]
s = int(m.group(1) or 0) * 60 + int(m.group(2))
assert s <= int(sys.argv[2]), (sys.argv[1], 'up', sys.argv[2])" "$span" "$up" ||
	fail "the sparkline says 'last $span' for a daemon up ${up}s"
ok "the sparkline's span is the time its samples cover"

# -p: one process; its bins show what stats --json says (it is idle).
"${J[@]}" top -b -n 1 -p "$FRAG" -s size >frame_p.txt || fail "top -b -p"
"${J[@]}" --json stats "$FRAG" >stats.json
python3 - "$FRAG" <<EOF || { cat frame_p.txt; fail "top -b -p content"; }
import json, re, sys
$PYFMT
r = json.load(open("stats.json"))
lines = open("frame_p.txt").read().splitlines()
assert lines[0].endswith("bins view"), lines[0]
assert lines[2].startswith("Process %s (" % sys.argv[1]), lines[2]
assert ("allocated " + fmt_bytes(r["allocated"]) + "  active " + fmt_bytes(r["active"])) in lines[2], (lines[2], r["allocated"], r["active"])
rows = {}
for l in lines:
    m = re.match(r"^ *(\d+) +(\S+) +(\S+)  \[([| ]*?) *([0-9.]+%|-)\] +(\S+ \S+) +(\S+)$", l)
    if m:
        rows[int(m.group(1))] = m
sizes = list(rows)
assert sizes == sorted(sizes), sizes
for b in r["bins"]:
    if b["curruns"] == 0 and b["curregs"] == 0:
        continue
    m = rows[b["size"]]
    assert m.group(2) == fmt_count(b["inuse"]), (m.group(0), b)
    assert m.group(3) == fmt_count(b["curruns"]), (m.group(0), b)
    assert m.group(5) == (fmt_pct(b["util"]) if b["curruns"] else "-"), (m.group(0), b)
    assert m.group(6) == fmt_bytes(b["wasted_bytes"]), (m.group(0), b)
    bars = len(m.group(4))
assert 64 in rows and 192 in rows
EOF
ok "top -b -p PID -s size: the process's bins, values as in stats --json"

"${J[@]}" top -b -n 1 -s frag >frame_procs.txt || fail "top -b -s frag"
grep -q '^jmctl top - .* process view (all processes)$' frame_procs.txt || fail "-s frag did not open the process view"
grep -q "^ *$FRAG  .*demo_fragment" frame_procs.txt || { cat frame_procs.txt; fail "process view lacks $FRAG"; }
grep -q '^ *PID  USER .* FRAG  *WASTED  *ALLOC/S$' frame_procs.txt || { cat frame_procs.txt; fail "-s frag: no FRAG column"; }
"${J[@]}" top -b -n 1 -s dirty >frame_dirty.txt || fail "top -b -s dirty"
grep -q '^ *PID  USER .* ALLOC/S  *DIRTY$' frame_dirty.txt || { cat frame_dirty.txt; fail "-s dirty: no DIRTY column"; }
ok "top -b -s frag: the process view; -s dirty shows DIRTY"

# --json: one reply line per frame, as it came.
"${J[@]}" --json top -n 2 -d 0.2 >top.json || fail "top --json"
python3 - <<'EOF' || fail "top --json lines"
import json
lines = open("top.json").read().splitlines()
assert len(lines) == 2, len(lines)
for l in lines:
    r = json.loads(l)
    assert r["ok"] is True and "host" in r and isinstance(r["processes"], list) and isinstance(r["bins"], list)
EOF
ok "top --json -n 2"

# -p on a process that exits while watched: a message, exit 1. The
# process ends once top has drawn a frame of it (a process living a fixed
# time could be gone before a loaded machine started top at all).
start_preloaded "$JM_HELPERS/demo_fragment" -s 64 -c 2000 -r 0
SHORT=$LAST_PID
wait_seen "$SHORT"
"${J[@]}" top -b -p "$SHORT" -n 1000 -d 0.2 >short.txt 2>short.err &
TOPPID=$!
wait_line short.txt "^Process $SHORT (demo_fragment)"
kill -TERM "$SHORT"
rc=0; wait "$TOPPID" || rc=$?
[ $rc -eq 1 ] || fail "top -p of an exiting process: exit $rc"
grep -q "^jmctl: process $SHORT is gone: it exited, or jmstatd at $JMD_SOCK no longer sees it$" short.err ||
	{ cat short.err; fail "no message when the watched process exited"; }
grep -q "^Process $SHORT (demo_fragment)" short.txt || fail "no frame before the process exited"
ok "top -p: the watched process exits: a message, exit 1"

# ---- the live view in tmux.
cat >run_top.sh <<EOF
#!/bin/bash
cd "$JM_TMP"
stty -g >stty.before
LANG=C.UTF-8 "$JMCTL" --socket "$JMD_SOCK" top -d 0.2 "\$@" 2>top.err
echo \$? >top.rc
stty -g >stty.after
exec sleep 600
EOF
chmod +x run_top.sh
wait_rc() {
	# stty.after is written after top.rc: wait for both.
	for _ in $(seq 100); do [ -s top.rc ] && [ -s stty.after ] && return 0; sleep 0.1; done
	"${T[@]}" capture-pane -p -t top
	fail "jmctl top did not exit"
}
start_top() {
	rm -f top.rc top.err stty.before stty.after
	tmux_start jmctl-test 120 40 "$JM_TMP/run_top.sh $*"
	wait_pane '^jmctl top - '
}
alt() { "${T[@]}" display -p -t top '#{alternate_on}'; }
check_sane() {
	[ "$(alt)" = 0 ] || fail "the alternate screen is still on after jmctl exited"
	cmp -s stty.before stty.after || { diff stty.before stty.after; fail "the terminal settings (stty -g) changed"; }
}
# quit_top WHAT: q, then jmctl exits 0 and leaves the terminal as it was.
quit_top() {
	"${T[@]}" send-keys -t top q
	wait_rc
	[ "$(cat top.rc)" = 0 ] || { cat top.err; fail "$1: exit $(cat top.rc)"; }
	check_sane
}

start_top
[ "$(alt)" = 1 ] || fail "top does not use the alternate screen"
wait_pane 'bins in use, sorted by wasted$'
grep -q '^ *SIZE  *INUSE  *RUNS  UTIL .* WASTED  *ALLOC/S' pane.txt || { cat pane.txt; fail "no bin title row"; }
grep -q '^allocated  .*[▁▂▃▄▅▆▇█]' pane.txt || { cat pane.txt; fail "no sparkline"; }
grep -q '^  *64  .*\[|*  *[0-9.]*%\]' pane.txt || { cat pane.txt; fail "no meter for the 64-byte bin"; }
tail -n 1 pane.txt | grep -q 'q quit' || fail "no key line at the bottom"
ok "live view draws: header, sparkline, bin rows with meters, key line"

"${T[@]}" send-keys -t top z
wait_pane 'bins in use, sorted by size$'
awk '/SIZE  *INUSE/{t=1; next} t && /^ *[0-9]+  /{print $1} t && !/^ *[0-9]+  /{t=0}' pane.txt >sizes.txt
[ -s sizes.txt ] && sort -n -c sizes.txt || { cat pane.txt; fail "rows not sorted by size after z"; }
"${T[@]}" send-keys -t top s
wait_pane 'bins in use, sorted by inuse$'
"${T[@]}" send-keys -t top r
wait_pane 'bins in use, sorted by inuse (reversed)$'
ok "keys re-sort: z (size), s (next key), r (reverse)"

"${T[@]}" send-keys -t top p
wait_pane 'processes, sorted by allocated'
grep -q '^ *PID  USER  *EXE  *ALLOCATED  *ACTIVE  *MAPPED  UTIL .* FRAG  *WASTED  *ALLOC/S' pane.txt ||
	{ cat pane.txt; fail "no process title row with MAPPED and FRAG"; }
grep -q "^ *$FRAG  .*demo_fragment" pane.txt || { cat pane.txt; fail "process view lacks $FRAG"; }
"${T[@]}" send-keys -t top p
wait_pane 'bins in use, sorted by'
ok "p switches to the process view and back"

# h: every key, within the 120 columns of the pane.
"${T[@]}" send-keys -t top h
wait_pane 'h close'
for want in 'q quit' 'Esc back to all processes' '/ filter processes by exe or user' \
            'processes: m allocated f frag a rate'; do
	grep -q -- "$want" pane.txt || { cat pane.txt; fail "the help lines lack '$want'"; }
done
"${T[@]}" send-keys -t top h
wait_pane 'bins in use, sorted by'
ok "h: the keys, all of them within the width"

"${T[@]}" resize-window -t top -x 90 -y 25 2>/dev/null || "${T[@]}" resize-pane -t top -x 90 -y 25
# Until top has drawn a frame at the new size: its title on the first line
# and its key line on the last. tmux cuts the old 40-line frame to 25 lines
# at once, from the top when the cursor is low: that leaves the old key
# line at the bottom and the title and sparkline cut off, which is not yet
# top's answer to the resize.
for _ in $(seq 100); do
	"${T[@]}" capture-pane -p -t top >pane.txt
	[ "$(wc -l <pane.txt)" -eq 25 ] && head -n 1 pane.txt | grep -q '^jmctl top - ' &&
		tail -n 1 pane.txt | grep -q 'q quit' && break
	sleep 0.1
done
head -n 1 pane.txt | grep -q '^jmctl top - ' || { cat pane.txt; fail "no title line after the resize"; }
[ "$(wc -l <pane.txt)" -eq 25 ] || fail "pane not resized"
tail -n 1 pane.txt | grep -q 'q quit' || { cat pane.txt; fail "key line not at the bottom after the resize"; }
python3 -c '
import sys
w = max(len(l) for l in open("pane.txt", encoding="utf-8").read().splitlines())
sys.exit(w > 90)' || fail "lines wider than the resized terminal"
grep -q '^allocated  .*[▁▂▃▄▅▆▇█]' pane.txt || { cat pane.txt; fail "no sparkline after the resize"; }
ok "resize: the view follows the new size"

quit_top "q"
ok "q quits with status 0, terminal restored"

# / filters the process view by exe (or user); Enter opens the selected
# process: its bins, the sites of a bin; Esc goes back to every process.
# (Sorted by pid, so that the rows keep their order while keys are sent.)
start_top -s pid
wait_pane '^[0-9]* processes, sorted by pid$'
"${T[@]}" send-keys -t top /
wait_pane 'filter by exe or user'
"${T[@]}" send-keys -t top -l fragm
"${T[@]}" send-keys -t top Enter
wait_pane "^2 of [0-9]* processes matching 'fragm', sorted by pid$"
awk '/PID  USER/{t=1; next} t && /^ *[0-9]+  /{print $1, $3} t && !/^ *[0-9]+  /{t=0}' pane.txt >rows.txt
[ "$(awk '{print $2}' rows.txt | sort -u)" = demo_fragment ] || { cat pane.txt; fail "the filter let others through"; }
idx=$(awk -v p="$FRAG" '$1 == p {print NR - 1}' rows.txt)
[ -n "$idx" ] || { cat pane.txt; fail "$FRAG not among the filtered rows"; }
for _ in $(seq 1 "$idx"); do "${T[@]}" send-keys -t top Down; done
"${T[@]}" send-keys -t top Enter
wait_pane "^Process $FRAG (demo_fragment)"
grep -q "bins view (Esc: all processes)$" pane.txt || { cat pane.txt; fail "the opened process's header"; }
wait_pane 'bins in use, sorted by'
"${T[@]}" send-keys -t top Enter
wait_pane 'Sites behind the [0-9]*-byte bin'
"${T[@]}" send-keys -t top Escape
wait_pane 'process view (all processes)$'
"${T[@]}" send-keys -t top Escape
wait_pane '^[0-9]* processes, sorted by pid$'
quit_top "q after opening a process"
ok "/ filters by exe; Enter opens the selected process (bins, sites); Esc goes back"


start_top -p "$FRAG"
wait_pane "^Process $FRAG (demo_fragment"
"${T[@]}" send-keys -t top C-c
wait_rc
[ "$(cat top.rc)" = 0 ] || { cat top.err; fail "Ctrl-C: exit $(cat top.rc)"; }
check_sane
ok "Ctrl-C quits, terminal restored"

# The daemon goes away under the live view: a message, status 1, terminal sane.
start_top
kill -TERM "$JMD_PID"
wait_rc
[ "$(cat top.rc)" = 1 ] || { cat top.err; fail "daemon gone: exit $(cat top.rc)"; }
grep -q "^jmctl: $JMD_SOCK: jmstatd closed the connection (did it stop?" top.err || { cat top.err; fail "no message when the daemon went away"; }
check_sane
ok "daemon gone: message, exit 1, terminal restored"
