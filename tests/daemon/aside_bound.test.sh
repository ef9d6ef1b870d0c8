#!/usr/bin/env bash
# timeout: 120
# Names with the daemon's aside prefix (.jmstatd-removing.PID.SEQ.NAME,
# under which jmd_entry_unlink moves a file for its removal) are anyone's
# to make, and were outside every bound of files: every rescan looked at
# each, a kill(PID, 0) when PID was not the daemon's, and a rename when
# it was not running (or was the daemon's own pid). 20,000 of nobody's
# naming dead pids whose names were taken cost the daemon 101 ticks of
# CPU in 20 s against 13 with as many junk names (eighteenth pass). Now
# only the files this daemon itself left aside are tried again (kept in
# memory), and another daemon's at a directory's first scan after a
# start (tests/daemon/unlink_leftover.test.sh): the names nobody makes
# afterwards are not looked at. Here nobody makes such names with free
# NAMEs, naming a dead pid and the daemon's own: each rescan moved them
# back under NAME before (and the daemon took nobody's file for a
# segment's there); now they stay where nobody put them.
#
# At a directory's first scan, another daemon's are looked at within a
# bound per owner (16): there, before the start, nobody's 100 names
# naming a dead daemon all went back under their names, each a kill and
# a rename; now 16, the rest a stat each as junk names are; root's one
# (a segment of root's live process that a stopped daemon left aside)
# goes back whatever nobody made.
. "$(dirname "$0")/../lib.sh"
need_users "make names as nobody"
need_segments
cd "$JM_TMP"
sh -c 'exit 0' &
DEAD=$!
wait "$DEAD"
sleep 300 &
P=$!
PIDS+=("$P")
LIVE=$(jm_segment_name "$P")
"$JM_HELPERS"/stress_segwriter write "$JMD_STATS/.jmstatd-removing.$DEAD.1.$LIVE" "$P" 0 frag >/dev/null ||
	fail "cannot write a segment for $P"
setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 - "$JMD_STATS" "$DEAD" <<'PY' ||
import os, sys
for i in range(100):
    open(os.path.join(sys.argv[1], ".jmstatd-removing.%s.%d.jmalloc.%d.stats"
                      % (sys.argv[2], 2 + i, 3000000 + i)), "w").close()
PY
	fail "nobody could not make its names"
jmd_start
jmd_py - "$P" <<'PY' || fail "root's segment left aside not put back at the first scan"
from jmd import *
pid = int(sys.argv[1])
wait_until(lambda: pid in ps_pids(), "root's process %d in ps" % pid)
PY
# nobody's names are pids 3000000-3000099, seven digits: "jmalloc.300"
# alone also matched root's process's (pid 30024 in a clean-clone CI).
moved=$(grep -c "put $JMD_STATS/jmalloc\.30000[0-9][0-9]\.stats back" "$JMD_LOG")
kept=$(find "$JMD_STATS" -name '.jmstatd-removing.*.jmalloc.30000[0-9][0-9].stats' | wc -l)
echo "the first scan put back $moved of nobody's 100 aside names, $kept left"
[ "$moved" -le 16 ] && [ "$kept" -ge 84 ] ||
	fail "the first scan moved $moved of nobody's 100 aside names ($kept left), not 16 at most"
ok "the first scan puts back root's segment and 16 of nobody's 100 names"

N=200
jmd_py - "$N" "$DEAD" "$JMD_PID" <<'PY' || fail "nobody's aside names were looked at after the first scan"
from jmd import *
n, dead, daemon = (int(x) for x in sys.argv[1:4])
# After the daemon's first scan: a rescan done since it started.
t0 = request({"cmd": "version"})["ticks"]
wait_until(lambda: (lambda v: v["ticks"] >= t0 + 11 and not v["rescanning"])(request({"cmd": "version"})),
           "a rescan after the start")
names = []
for i in range(n):
    pid = dead if i % 2 else daemon
    names.append(".jmstatd-removing.%d.%d.jmalloc.%d.stats" % (pid, 1000 + i, 4000000 + i))
make = ("import os, sys\nfor n in sys.stdin.read().split():\n"
        "    open(os.path.join(%r, n), 'w').close()\n" % STATS_DIR)
subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3",
                "-c", make], input="\n".join(names), text=True, check=True)
# Two whole rescans begun after the names were made.
t1 = request({"cmd": "version"})["ticks"]
wait_until(lambda: (lambda v: v["ticks"] >= t1 + 21 and not v["rescanning"])(request({"cmd": "version"})),
           "two rescans after the names were made", timeout=60)
moved = [x for x in names if not os.path.exists(os.path.join(STATS_DIR, x))]
print("%d of %d aside names of nobody's moved by the daemon's rescans" % (len(moved), n))
check(not moved, "%d of nobody's %d aside names moved back under their names, %s among them"
      % (len(moved), n, moved[:2]))
PY
# (pids 4000000-4000199, seven digits, as above)
if grep -q "put $JMD_STATS/jmalloc\.4000[0-9][0-9][0-9]\.stats back" "$JMD_LOG"; then
	fail "the daemon put nobody's files back: $(grep -c "put $JMD_STATS/jmalloc\.4000[0-9][0-9][0-9]\.stats back" "$JMD_LOG") lines"
fi
ok "nobody's aside names made after the first scan are not looked at"
jmd_stop
echo "ok"
