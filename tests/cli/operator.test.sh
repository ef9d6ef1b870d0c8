#!/usr/bin/env bash
# jmctl for the operator, against the real jmstatd and real programs, one
# of them run as nobody (setpriv):
# - status: the socket, version, interval, segments read; a second
#   jmstatd run as nobody says which segments it cannot read;
# - ps -u USER / -e EXE filters (names, uids, globs), in the table and
#   in --json, which is sorted as asked (-s, -r); -s dirty / -s wasted show
#   the column sorted by; ps -d SECS -n N prints N tables (--json: lines);
# - history PID: the table and --json; history without PID;
# - stats -a counts the arenas and bins in use, not the ones shown; a bin
#   holding no run shows UTIL "-", never 100%;
# - --socket naming a file that is not a socket says so; stats of a pid
#   that runs without jmalloc, or of no process, says which; of another
#   user's process (jmctl run as nobody), whose it is.
# timeout: 90
. "$(dirname "$0")/../lib.sh"
need_segments
need_jmctl
command -v setpriv >/dev/null || skip "setpriv is not installed (util-linux)"
cd "$JM_TMP"
J=("$JMCTL" --socket "$JMD_SOCK")

jmd_start
chmod 1777 "$JMD_STATS"
start_preloaded "$JM_HELPERS/demo_fragment" -s 64,192 -c 20000 -r 0
FRAG=$LAST_PID
# The sleeps live to the test's end (stopped at its exit): a sleep 60 was
# gone by `stats -a` in a run of 122 s at load 20.
start_preloaded sleep 600
SLEEP=$LAST_PID
# As nobody: setpriv runs without the allocator, the program with it.
JMALLOC_STATS_DIR=$JMD_STATS setpriv --reuid=65534 --regid=65534 --clear-groups \
	env LD_PRELOAD="$JMALLOC_LIB" sleep 601 </dev/null >/dev/null 2>&1 &
NOBODY=$!
PIDS+=("$NOBODY")
wait_seen "$FRAG" "p['active'] > 1 << 20"
wait_seen "$SLEEP"
for _ in $(seq 100); do
	"${J[@]}" --json ps | grep -q '"user":"nobody"' && break
	sleep 0.1
done
NOBODY_PID=$("${J[@]}" --json ps | python3 -c "
import json, sys
print([p['pid'] for p in json.load(sys.stdin)['processes'] if p['user'] == 'nobody'][0])") ||
	fail "nobody's sleep is not listed"

# ---- status
"${J[@]}" status >status.txt || fail "status"
cat status.txt
grep -q "^jmstatd [0-9.]* on $JMD_SOCK (--socket)\$" status.txt || fail "status: no version and socket"
JMSTATD_SOCKET=$JMD_SOCK "$JMCTL" status | head -1 | grep -q "^jmstatd [0-9.]* on $JMD_SOCK (JMSTATD_SOCKET)\$" ||
	fail "status: the socket from JMSTATD_SOCKET"
grep -q "^  pid  *[0-9]*, running as root" status.txt || fail "status: pid and user"
grep -q "^  interval   200ms" status.txt || fail "status: interval"
grep -q "^  segments   3 found: 3 read (3 live processes), 0 not readable" status.txt ||
	fail "status: segments"
"${J[@]}" --json status | python3 -c "
import json, sys
r = json.load(sys.stdin)
assert r['socket'] == sys.argv[1] and r['interval_ms'] == 200 and r['processes'] == 3, r
assert r['segments_unreadable'] == 0 and r['uid'] == 0, r" "$JMD_SOCK" || fail "status --json"
# nobody's own jmstatd on the same directory reads only nobody's segment.
mkdir -m 0777 "$JM_TMP/nobody"
setpriv --reuid=65534 --regid=65534 --clear-groups "$JMSTATD" --socket "$JM_TMP/nobody/d.sock" \
	--stats-dir "$JMD_STATS" --interval 200ms >"$JM_TMP/nobody/log" 2>&1 &
NDAEMON=$!
PIDS+=("$NDAEMON")
wait_socket "$JM_TMP/nobody/d.sock" "$NDAEMON"
setpriv --reuid=65534 --regid=65534 --clear-groups "$JMCTL" --socket "$JM_TMP/nobody/d.sock" \
	status >nstatus.txt || { cat "$JM_TMP/nobody/log"; fail "status as nobody"; }
cat nstatus.txt
grep -q "running as nobody" nstatus.txt || fail "nobody's status: user"
grep -q "^  segments   3 found: 1 read (1 live process), 2 not readable by jmstatd's user" nstatus.txt ||
	fail "nobody's status: segments"
# nobody's stats of root's process: jmstatd shows nobody only nobody's.
rc=0; setpriv --reuid=65534 --regid=65534 --clear-groups "$JMCTL" --socket "$JM_TMP/nobody/d.sock" \
	stats "$FRAG" 2>err.txt || rc=$?
[ $rc -eq 1 ] && grep -q "^jmctl: pid $FRAG (demo_fragment) is a process of user root: jmstatd shows each user only their own processes (run jmctl as root)\$" err.txt ||
	{ cat err.txt; fail "nobody's stats of root's process (exit $rc)"; }
rc=0; setpriv --reuid=65534 --regid=65534 --clear-groups "$JMCTL" --socket "$JM_TMP/nobody/d.sock" \
	top -b -n 1 -p "$FRAG" 2>err.txt || rc=$?
[ $rc -eq 1 ] && grep -q "^jmctl: pid $FRAG (demo_fragment) is a process of user root: jmstatd shows each user only their own processes" err.txt ||
	{ cat err.txt; fail "nobody's top -p of root's process (exit $rc)"; }
kill "$NDAEMON"
ok "status: which daemon, version, interval, segments read and not readable; another user's pid"

# ---- ps filters and sorting
"${J[@]}" ps -u nobody >u.txt || fail "ps -u nobody"
[ "$(awk 'NR>1' u.txt | wc -l)" -eq 1 ] && awk 'NR==2{exit !($1 == '"$NOBODY_PID"' && $2 == "nobody")}' u.txt ||
	{ cat u.txt; fail "ps -u nobody"; }
"${J[@]}" ps -u 65534 | awk 'NR>1{print $1}' | grep -qx "$NOBODY_PID" || fail "ps -u 65534"
"${J[@]}" ps -u root -e 'sl*' | awk 'NR>1{print $1}' >e.txt
[ "$(cat e.txt)" = "$SLEEP" ] || { cat e.txt; fail "ps -u root -e 'sl*'"; }
"${J[@]}" ps -e nothing-like-this >none.txt || fail "ps -e with no match"
[ "$(wc -l <none.txt)" -eq 1 ] || fail "ps -e nothing: $(cat none.txt)"
"${J[@]}" --json ps -s mapped -r -u root >sorted.json || fail "--json ps -s mapped -r"
"${J[@]}" --json ps -s pid >bypid.json
python3 - <<'EOF' || fail "--json ps sorting and filters"
import json
r = json.load(open("sorted.json"))
m = [p["mapped"] for p in r["processes"]]
assert len(m) == 2 and m == sorted(m), ("-s mapped -r: increasing mapped", m)
assert all(p["user"] == "root" for p in r["processes"]), r["processes"]
assert "host" in r and r["ok"] is True
pids = [p["pid"] for p in json.load(open("bypid.json"))["processes"]]
assert pids == sorted(pids) and len(pids) == 3, pids
EOF
for k in dirty:DIRTY wasted:WASTED; do
	"${J[@]}" ps -s "${k%%:*}" | head -1 | awk '{print $NF}' | grep -qx "${k#*:}" ||
		fail "ps -s ${k%%:*} does not show ${k#*:}"
done
"${J[@]}" ps -s mapped | head -1 | grep -qv "DIRTY\|WASTED" || fail "an extra column for a shown key"
ok "ps -u/-e filters, --json sorted and filtered, the sorted column shown"

# ---- watch mode
"${J[@]}" ps -d 0.3 -n 3 -e demo_fragment >watch.txt || fail "ps -d 0.3 -n 3"
[ "$(grep -c '^jmctl ps - [0-9:]*, 1 process matching demo_fragment, sorted by pid$' watch.txt)" -eq 3 ] ||
	{ cat watch.txt; fail "ps -d: not 3 tables of 1 process"; }
[ "$(grep -c "^ *$FRAG  root  demo_fragment " watch.txt)" -eq 3 ] || { cat watch.txt; fail "ps -d rows"; }
"${J[@]}" --json ps -d 0.2 -n 2 >watch.json || fail "--json ps -d"
[ "$(wc -l <watch.json)" -eq 2 ] && python3 -c "
import json, sys
for l in open('watch.json'): assert json.loads(l)['ok']" || fail "--json ps -d: not 2 JSON lines"
rc=0; "${J[@]}" ps -n 2 2>err.txt || rc=$?
[ $rc -eq 2 ] || fail "ps -n without -d exited $rc"
ok "ps -d SECS -n N: a table per interval"

# ---- history
"${J[@]}" history "$FRAG" -n 5 >hist.txt || fail "history"
cat hist.txt
head -1 hist.txt | grep -q "^process $FRAG, [^ ]* of root, started [0-9:]*: 5 samples (the last 5 of [0-9]*: -n 0 shows all), one every 200 ms$" ||
	fail "history header"
sed -n 2p hist.txt | grep -q "^TIME  *ALLOCATED  *ACTIVE  *MAPPED  *FRAG  *ALLOC/S$" || fail "history columns"
[ "$(awk 'NR>2' hist.txt | grep -c '^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9] ')" -eq 5 ] || fail "history rows"
"${J[@]}" --json history "$FRAG" | python3 -c "
import json, sys
r = json.load(sys.stdin)
assert r['pid'] == int(sys.argv[1]) and r['alive'] and len(r['samples']) >= 5, r
assert all(s['active'] > 1 << 20 for s in r['samples'][-3:])" "$FRAG" || fail "history --json"
"${J[@]}" history -n 2 | head -1 | grep -q "^all processes: 2 samples" || fail "history without PID"
ok "history PID: table and --json"

# ---- stats -a: in use is in use; an empty bin has no utilisation
"${J[@]}" stats "$SLEEP" -a >all.txt || fail "stats -a"
"${J[@]}" --json stats "$SLEEP" >all.json
python3 - <<'EOF' || { cat all.txt; fail "stats -a"; }
import json, re
text = open("all.txt").read()
r = json.load(open("all.json"))
used = sum(1 for a in r["arenas"] if a["mapped"] or a["nthreads"])
assert used < len(r["arenas"]), "every arena in use in a sleep?"
assert "arenas: %d in use of %d\n" % (used, len(r["arenas"])) in text, (used, text)
lines = text.splitlines()
hdr = [i for i, l in enumerate(lines) if l.split()[:2] == ["BIN", "SIZE"]][0]
cols = lines[hdr].split()
runs, util = cols.index("CURRUNS"), cols.index("UTIL")
rows = [l.split() for l in lines[hdr + 1:] if l.strip()]
empty = [row for row in rows if row[runs] == "0"]
assert empty, "no bin without runs in a sleep"
assert all(row[util] == "-" for row in empty), empty
assert not any(row[util] == "100.0%" for row in empty), empty
EOF
ok "stats -a: arenas and bins in use counted; empty bins show UTIL -"

# ---- errors that say what is wrong
rc=0; "$JMCTL" --socket /etc/passwd ps 2>err.txt || rc=$?
[ $rc -eq 1 ] && grep -q "^jmctl: cannot connect to /etc/passwd: not a socket (a regular file)" err.txt ||
	{ cat err.txt; fail "--socket /etc/passwd (exit $rc)"; }
rc=0; "${J[@]}" stats $$ 2>err.txt || rc=$?
[ $rc -eq 1 ] && grep -q "^jmctl: pid $$ (bash) runs without jmalloc: libjmalloc is not in its memory maps" err.txt ||
	{ cat err.txt; fail "stats of a shell without jmalloc (exit $rc)"; }
rc=0; "${J[@]}" top -b -n 1 -p $$ 2>err.txt || rc=$?
[ $rc -eq 1 ] && grep -q "^jmctl: pid $$ (bash) runs without jmalloc: libjmalloc is not in its memory maps" err.txt ||
	{ cat err.txt; fail "top -p of a shell without jmalloc (exit $rc)"; }
rc=0; "${J[@]}" history 999999999 2>err.txt || rc=$?
[ $rc -eq 1 ] && grep -q "^jmctl: no process 999999999 is running$" err.txt || { cat err.txt; fail "history of no process"; }
ok "not a socket; a process without jmalloc; no process"
