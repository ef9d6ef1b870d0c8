#!/usr/bin/env bash
# jmctl top's sites of the selected bin: in the live view (driven in tmux)
# of a program whose hold_alpha holds 512-byte objects and hold_beta 8 KiB
# ones, sorted by regions in use so that the 512-byte bin is the top
# (selected) row, Enter shows the sites behind that bin, naming hold_alpha
# and not hold_beta; Enter closes the panel; the down arrow selects the
# next bin, whose Enter shows hold_beta; q quits.
# timeout: 90
. "$(dirname "$0")/../lib.sh"
need_sites
command -v tmux >/dev/null || skip "tmux is not installed: cannot drive the live view"
cd "$JM_TMP"

build_c holders "$JM_ROOT/tests/sites/holders.c"
jmd_start
JMALLOC_CONF=prof_sample:65536 start_ready ./holders 40000 512 2000 8192
PROG=$LAST_PID

cat >run_top.sh <<EOF
#!/bin/bash
cd "$JM_TMP"
LANG=C.UTF-8 "$JMCTL" --socket "$JMD_SOCK" top -p $PROG -s inuse -d 0.2 2>top.err
echo \$? >top.rc
exec sleep 600
EOF
chmod +x run_top.sh
tmux_start jmctl-sites-test 140 60 "$JM_TMP/run_top.sh"
wait_pane 'bins in use, sorted by inuse$'
first=$(awk '/^ *SIZE  *INUSE/ { getline; print $1; exit }' pane.txt)
[ "$first" = 512 ] || { cat pane.txt; fail "the 512-byte bin is not the top row (got '$first')"; }

"${T[@]}" send-keys -t top Enter
wait_pane 'Sites behind the 512-byte bin'
wait_pane 'hold_alpha  holders.c:'
! grep -q hold_beta pane.txt || { cat pane.txt; fail "hold_beta shown among the sites of the 512-byte bin"; }
grep -q 'main  holders.c:' pane.txt || { cat pane.txt; fail "no main frame under hold_alpha"; }
ok "Enter shows the sites of the selected bin: hold_alpha for 512 bytes"

"${T[@]}" send-keys -t top Enter
for _ in $(seq 50); do
	"${T[@]}" capture-pane -p -t top >pane.txt
	grep -q 'Sites behind' pane.txt || break
	sleep 0.1
done
! grep -q 'Sites behind' pane.txt || { cat pane.txt; fail "Enter did not close the sites"; }
"${T[@]}" send-keys -t top Down
sleep 0.5
"${T[@]}" send-keys -t top Enter
wait_pane 'Sites behind the 8192-byte bin'
wait_pane 'hold_beta  holders.c:'
! grep -q hold_alpha pane.txt || { cat pane.txt; fail "hold_alpha shown among the sites of the 8192-byte bin"; }
ok "the down arrow selects the next bin: hold_beta for 8192 bytes; Enter closes"

"${T[@]}" send-keys -t top q
for _ in $(seq 100); do [ -s top.rc ] && break; sleep 0.1; done
[ "$(cat top.rc 2>/dev/null)" = 0 ] || { cat top.err; fail "jmctl top did not exit 0 on q"; }
ok "q quits"
