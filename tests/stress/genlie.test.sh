#!/usr/bin/env bash
# timeout: 120
# A user that lies about its segment's generation (layout 4: the daemon
# trusts an unchanged header.gen for 8 reads of a still process, compares
# the rows' seqs at the 9th, copies them at the 65th). As a uid of its own,
# tests/stress/genlie.py changes the real segment of that user's idle
# process under the reader with no pause: counters rewritten with the
# generation and seqs left as they were, seqs made odd and even again,
# the generation set back or anywhere, site rows and the module count
# rewritten, the header's counts and offsets changed for a moment, thread
# rows claimed with arenas out of range, the file truncated and grown
# back, or grown past its size (6 s; 30 s with JM_STRESS_FULL). Meanwhile
# root asks version, ps and stats of every process and sites of the
# liar's without pause. Checked: every reply came, in range; root's
# process and the user's other process show the very figures they showed
# before, throughout; the daemon logged the bad reads (within its budget)
# and went on; once the writer puts its file back (seqs and generation
# moved on), the process shows its own figures again.
. "$(dirname "$0")/../lib.sh"
need_segments
need_users "run a writer as another uid"
claim_uid
U=$CLAIMED_UID
AS=(setpriv --reuid="$U" --regid="$U" --clear-groups)
jm_public "$JM_HELPERS/site_fill" "$JM_ROOT/tests/stress/genlie.py"
P=$JM_TMP/pub
jmd_start
export JMALLOC_CONF=background_thread:0,narenas:4
start_ready "$JM_HELPERS/site_fill" 2
ROOT_PROC=$LAST_PID
start_user() {
	"${AS[@]}" env JMALLOC_CONF=$JMALLOC_CONF,prof_sample:4096 JMALLOC_STATS_DIR="$JMD_STATS" \
		LD_PRELOAD="$P/libjmalloc.so" "$P/site_fill" "$1" >"$JM_TMP/$2.out" 2>&1 &
}
start_user 3 liar
LIAR=$!
start_user 1 other
OTHER=$!
PIDS+=("$LIAR" "$OTHER")
wait_line "$JM_TMP/liar.out" '^ready$'
wait_line "$JM_TMP/other.out" '^ready$'
wait_sampled "$LIAR"
wait_sampled "$OTHER"
seg=$(jm_segment "$JMD_STATS" "$LIAR") || fail "no segment for $LIAR"
[ "$(stat -c %u "$seg")" = "$U" ] || fail "$seg is not uid $U's"
secs=6
[ -n "${JM_STRESS_FULL:-}" ] && secs=30
export ROOT_PROC LIAR OTHER SEG=$seg SECS=$secs AS_UID=$U P
jmd_py - <<'PY' || fail "a writer lying about its generation"
from jmd import *

root, liar, other = (int(os.environ[k]) for k in ("ROOT_PROC", "LIAR", "OTHER"))
import subprocess
u = os.environ["AS_UID"]
KEYS = ("allocated", "active", "mapped", "dirty", "small_wasted", "nthreads", "narenas")
def figures(p):
    return {k: p[k] for k in KEYS}
def in_range(v, where):
    if isinstance(v, dict):
        for k, x in v.items():
            in_range(x, where + "." + k)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            in_range(x, "%s[%d]" % (where, i))
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        check(0 <= v <= 2**64 - 1 or where.endswith(".time"), "%s = %r" % (where, v))

ps = ps_pids()
before = {pid: figures(ps[pid]) for pid in (root, liar, other)}
tmp = os.environ["JM_TMP"]
writer = subprocess.Popen(["setpriv", "--reuid=" + u, "--regid=" + u, "--clear-groups", "python3",
                           os.environ["P"] + "/genlie.py", os.environ["SEG"], os.environ["SECS"],
                           str(os.getpid())],
                          stdout=open(tmp + "/changes", "w"), stderr=open(tmp + "/genlie.err", "w"))
asked = seen = 0
while True:
    done = writer.poll() is not None
    v = request({"cmd": "version"})
    check(v["ok"], "version: %r" % v)
    r = request({"cmd": "ps"})
    check(r["ok"], "ps: %r" % r)
    in_range(r, "ps")
    procs = {p["pid"]: p for p in r["processes"]}
    for pid in (root, other):
        check(pid in procs, "process %d left ps while %d's writer lied" % (pid, liar))
        check(figures(procs[pid]) == before[pid],
              "process %d's figures moved: %r, were %r" % (pid, figures(procs[pid]), before[pid]))
    for pid in (root, other, liar):
        s = stats(pid)
        in_range(s, "stats %d" % pid)
        if pid != liar:
            check(s["ok"] and figures(s) == before[pid], "stats %d: %r" % (pid, s))
    in_range(request({"cmd": "sites", "pid": liar}), "sites")
    seen += liar in procs
    asked += 1
    if done:
        break
print("%d rounds of version, ps and stats while the writer lied; its process listed in %d" % (asked, seen))
# Its file as it was, every row's seq and the generation moved on: its own
# figures again.
wait_until(lambda: figures(ps_pids().get(liar, {k: None for k in KEYS})) == before[liar],
           "process %d's own figures again: %r" % (liar, before[liar]), timeout=30)
check(figures(ps_pids()[root]) == before[root], "root's process")
check(writer.returncode == 0, "genlie.py: exit %d: %s" % (writer.returncode, open(tmp + "/genlie.err").read()))
PY
echo "changes: $(cat "$JM_TMP/changes")"
kill -0 "$JMD_PID" || fail "the daemon is gone"
grep -q "skipping\|dropped\|busy\|rows" "$JMD_LOG" || fail "nothing logged of the bad reads"
lines=$(wc -l <"$JMD_LOG")
echo "daemon log: $lines lines"
[ "$lines" -le 200 ] || fail "the daemon logged $lines lines"
ok "a writer lying about its generation: others' figures untouched, its own back after"
jmd_stop
