#!/usr/bin/env bash
# jmctl ps, stats and alerts against the real jmstatd and real programs
# under the allocator (demo_fragment, python3, sqlite3): the JSON schema of
# docs/protocol.md, the values printed in the tables (checked against the JSON,
# formatted as jmctl formats them), sorting, an unknown pid, and permission
# denied on the daemon's socket.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_segments
need_jmctl
cd "$JM_TMP"
J=("$JMCTL" --socket "$JMD_SOCK")

jmd_start

# The fragmenter, idle once set up (-r 0): its figures stay still between
# two requests, so text and JSON can be compared.
start_preloaded "$JM_HELPERS/demo_fragment" -s 64,192 -c 20000 -r 0
FRAG=$LAST_PID
for _ in $(seq 100); do grep -q kept "$JM_TMP"/prog.*.out 2>/dev/null && break; sleep 0.1; done
# sys.executable: the interpreter itself, not a wrapper script (pyenv).
PYTHONMALLOC=malloc start_preloaded "$(python3 -c 'import sys; print(sys.executable)')" -c '
import time
keep = [str(i) * 3 for i in range(200000)]
time.sleep(120)'
PY=$LAST_PID
# sqlite3 reads its statements from a fifo that this script holds open.
mkfifo sql.fifo
exec 9<>sql.fifo
STDIN=sql.fifo start_preloaded sqlite3 :memory:
cat >&9 <<'EOF'
CREATE TABLE t(x);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000)
INSERT INTO t SELECT randomblob(100) FROM c;
SELECT 'inserted', count(*) FROM t;
EOF
SQL=$LAST_PID
wait_seen "$FRAG" "p['allocated'] > 0"
wait_seen "$PY" "p['allocated'] > 8 << 20"
wait_seen "$SQL" "p['allocated'] > 1 << 20"
# Two samples more, so that the idle fragmenter's rates have settled at 0.
sleep $(awk "BEGIN{print 3 * $JMD_INTERVAL / 1000}")

# ---- ps --json: the reply as it came, with the schema of docs/protocol.md.
"${J[@]}" --json ps >ps.json || fail "ps --json"
[ "$(wc -l <ps.json)" -eq 1 ] || fail "ps --json is not one line"
python3 - "$FRAG" "$PY" "$SQL" <<'EOF' || fail "ps --json schema"
import json, sys
r = json.load(open("ps.json"))
assert r["ok"] is True
assert isinstance(r["time"], (int, float))
procs = {p["pid"]: p for p in r["processes"]}
for pid in map(int, sys.argv[1:]):
    p = procs[pid]
    for k in ("pid", "allocated", "active", "mapped"):
        assert isinstance(p[k], int) and p[k] >= 0, (k, p[k])
    assert isinstance(p["exe"], str) and p["exe"], p
    assert 0.0 <= p["frag_ratio"] <= 1.0, p
    assert p["allocated"] <= p["active"] <= p["mapped"], p
names = {procs[int(a)]["exe"] for a in sys.argv[1:]}
assert any("demo_fragment" in n for n in names), names
assert any(n.startswith("python3") for n in names), names
assert any("sqlite3" in n for n in names), names
frag = procs[int(sys.argv[1])]
assert frag["frag_ratio"] > 0.5, frag   # one region kept per page
EOF
ok "ps --json: schema and plausible values"

# ---- ps: the row of each process shows the JSON's values in human units.
"${J[@]}" ps >ps.txt || fail "ps"
"${J[@]}" --json ps >ps2.json
python3 - "$FRAG" "$PY" "$SQL" <<EOF || { cat ps.txt; fail "ps table"; }
import json, sys
$PYFMT
lines = open("ps.txt").read().splitlines()
assert lines[0].split() == ["PID", "USER", "EXE", "ALLOCATED", "ACTIVE", "MAPPED", "FRAG", "ALLOC/S", "AGE"], lines[0]
assert "\x1b" not in open("ps.txt").read(), "colour in a pipe"
rows = {}
for l in lines[1:]:
    rows[int(l.split()[0])] = l
# Two replies: a process still allocating may move between them; the
# idle fragmenter may not, the others must match one of the two.
replies = [json.load(open(f)) for f in ("ps.json", "ps2.json")]
for pid in map(int, sys.argv[1:]):
    row = rows[pid]
    good = False
    for r in replies:
        p = [p for p in r["processes"] if p["pid"] == pid][0]
        want = [fmt_bytes(p["allocated"]), fmt_bytes(p["active"]), fmt_bytes(p["mapped"]), fmt_pct(p["frag_ratio"])]
        if all((" " + w + " ") in (" " + row + " ") for w in want) and p["exe"] in row:
            good = True
    assert good, (row, want)
# Sorted by pid by default.
pids = [int(l.split()[0]) for l in lines[1:]]
assert pids == sorted(pids), pids
EOF
ok "ps: values in human units, sorted by pid"

"${J[@]}" ps -s allocated >ps_sorted.txt || fail "ps -s allocated"
"${J[@]}" --json ps >ps3.json
python3 - "$PY" "$FRAG" <<'EOF' || { cat ps_sorted.txt; fail "ps -s allocated order"; }
import sys
pids = [int(l.split()[0]) for l in open("ps_sorted.txt").read().splitlines()[1:]]
# python3 holds ~15 MiB, the fragmenter ~0.3 MiB: python comes first.
assert pids.index(int(sys.argv[1])) < pids.index(int(sys.argv[2])), pids
EOF
"${J[@]}" ps -s pid -r | awk 'NR>1{print $1}' >rev.txt
sort -n -r rev.txt | cmp -s - rev.txt || fail "ps -s pid -r is not in decreasing pid order"
ok "ps -s KEY and -r sort"

# ---- stats PID --json: schema, and the fragmenter's bins as it made them.
"${J[@]}" --json stats "$FRAG" >stats.json || fail "stats --json"
python3 - "$FRAG" <<'EOF' || fail "stats --json schema or values"
import json, sys
r = json.load(open("stats.json"))
assert r["ok"] is True and r["pid"] == int(sys.argv[1])
assert isinstance(r["arenas"], list) and r["arenas"], "no arenas"
for a in r["arenas"]:
    assert isinstance(a["index"], int)
    for k in ("mapped", "active", "dirty", "nthreads", "retained", "purged", "npurge", "nmap",
              "nunmap", "nreuse", "npurge_cap"):
        assert isinstance(a[k], int) and a[k] >= 0, (k, a)
assert sum(a["mapped"] for a in r["arenas"]) == r["mapped"], "arenas do not add up to mapped"
assert isinstance(r["bg_running"], bool) and isinstance(r["bg_wakes"], int), r
assert sum(a["nmap"] for a in r["arenas"]) >= 1, "no chunk mapped?"
bins = r["bins"]
assert len(bins) > 8
sizes = [b["size"] for b in bins]
assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes), sizes
for b in bins:
    for k in ("size", "regs_per_run", "nmalloc", "ndalloc", "nrequests", "curregs", "curruns"):
        assert isinstance(b[k], int) and b[k] >= 0, (k, b)
    assert 0.0 <= b["util"] <= 1.0, b
    assert b["ndalloc"] <= b["nmalloc"], b
by = {b["size"]: b for b in bins}
# 20000 objects of 64 and of 192 bytes, all but one per 4 KiB page freed.
for size in (64, 192):
    b = by[size]
    pages = 20000 * size // 4096
    # The profile's samples (about 20000 x size / 512 KiB of them) are
    # served on pages of their own, not by the bin; what a fill took
    # beyond the 20000 stays cached (fewer since caches start at 8 KiB).
    assert b["nmalloc"] >= 20000 * 0.99, b
    assert b["curruns"] >= 1, b
    assert b["util"] < 0.25, b            # about one region per page in use
    assert b["inuse"] >= pages * 0.9, (pages, b)
    assert b["wasted_bytes"] > pages * 4096 // 2, b
EOF
ok "stats --json: schema, and the fragmented bins of 64 and 192 bytes"

# ---- stats PID: the text shows the same numbers.
"${J[@]}" stats "$FRAG" >stats.txt || fail "stats"
"${J[@]}" --json stats "$FRAG" >stats2.json
python3 - "$FRAG" <<EOF || { cat stats.txt; fail "stats table"; }
import json, sys
$PYFMT
text = open("stats.txt").read()
lines = text.splitlines()
assert lines[0].startswith("process %s (" % sys.argv[1]), lines[0]
assert "\x1b" not in text
ok = False
for f in ("stats.json", "stats2.json"):
    r = json.load(open(f))
    want = "allocated %s  active %s  mapped %s" % (fmt_bytes(r["allocated"]), fmt_bytes(r["active"]), fmt_bytes(r["mapped"]))
    if want in lines[1] and ("fragmentation " + fmt_pct(r["frag_ratio"])) in lines[2]:
        ok = True
        break
assert ok, (lines[1:3], want)
# The purging line: sums over the arenas, and the background purger.
A = r["arenas"]
pl = [l for l in lines if l.startswith("purged ")]
assert len(pl) == 1, lines[:6]
want = ("purged %s in %d madvise calls (%d forced by the cap)  retained %s  reused %d  unmapped %d  background purger %s"
        % (fmt_bytes(sum(a["purged"] for a in A)), sum(a["npurge"] for a in A), sum(a["npurge_cap"] for a in A),
           fmt_bytes(sum(a["retained"] for a in A)), sum(a["nreuse"] for a in A), sum(a["nunmap"] for a in A),
           "running" if r["bg_running"] else "off"))
assert pl[0].startswith(want), (pl[0], want)
hdr = [i for i, l in enumerate(lines) if l.split()[:2] == ["BIN", "SIZE"]][0]
assert lines[hdr].split() == ["BIN", "SIZE", "REGS/RUN", "CURREGS", "CACHED", "INUSE", "CURRUNS", "UTIL", "WASTED", "NMALLOC", "NDALLOC", "NREQUESTS", "MALLOC/S", "REQ/S"], lines[hdr]
rows = {int(l.split()[1]): l.split() for l in lines[hdr + 1:] if l.strip()}
for size in (64, 192):
    row = rows[size]
    b = [b for b in r["bins"] if b["size"] == size][0]
    assert row[0] == str(b["bin"]) and row[2] == str(b["regs_per_run"]), row
    assert row[3] == str(b["curregs"]) and row[4] == str(b["cached"]) and row[5] == str(b["inuse"]), (row, b)
    assert row[6] == str(b["curruns"]), (row, b)
    assert row[7] == fmt_pct(b["util"]), (row, b)
    assert " ".join(row[8:10]) == fmt_bytes(b["wasted_bytes"]), (row, b)
    assert row[10] == fmt_count(b["nmalloc"]) and row[11] == fmt_count(b["ndalloc"]), (row, b)
    assert row[12] == fmt_count(b["nrequests"]), (row, b)
# Idle bins are left out unless -a.
shown = len(rows)
assert shown < len(r["bins"]), "idle bins shown without -a"
assert ("bins: %d in use of %d (-a lists all)" % (shown, len(r["bins"]))) in text
EOF
"${J[@]}" stats "$FRAG" -a >stats_all.txt || fail "stats -a"
n_all=$(python3 -c "import json; print(len(json.load(open('stats.json'))['bins']))")
n_rows=$(awk '/^BIN  /{t=1; next} t && NF' stats_all.txt | wc -l)
[ "$n_rows" -eq "$n_all" ] || fail "stats -a shows $n_rows bins, not $n_all"
# (a bin holding no run has no utilisation, "-": sorted last, as 100%)
"${J[@]}" stats -s util "$FRAG" | awk '/^BIN  /{t=1; next} t && NF && $8 != "-" {print $8}' | tr -d % >util.txt
sort -g -c util.txt || fail "stats -s util is not in increasing utilisation"
ok "stats: totals and bin rows match the JSON; -a; -s util"

# ---- unknown pid: one line, exit 1; --json prints the reply too.
rc=0; "${J[@]}" stats 999999999 >out.txt 2>err.txt || rc=$?
[ $rc -eq 1 ] || fail "stats of an unknown pid exited $rc"
grep -q '^jmctl: no process 999999999 is running$' err.txt || { cat err.txt; fail "unknown pid message"; }
[ "$(wc -l <err.txt)" -eq 1 ] || fail "unknown pid: more than one line"
rc=0; "${J[@]}" --json stats 999999999 >out.txt 2>err.txt || rc=$?
[ $rc -eq 1 ] || fail "stats --json of an unknown pid exited $rc"
python3 -c "import json; r = json.load(open('out.txt')); assert r['ok'] is False and 'no such process' in r['error']" || fail "--json error reply"
rc=0; "${J[@]}" top -b -n 1 -p 999999999 >out.txt 2>err.txt || rc=$?
[ $rc -eq 1 ] && grep -qx 'jmctl: no process 999999999 is running' err.txt || { cat err.txt; fail "top -p unknown pid (exit $rc)"; }
ok "unknown pid: exit 1 and one line"

# ---- alerts: the table or "no alerts", and the JSON as it came.
"${J[@]}" --json alerts >alerts.json || fail "alerts --json"
"${J[@]}" alerts >alerts.txt || fail "alerts"
python3 - <<'EOF' || { cat alerts.txt; fail "alerts"; }
import json
r = json.load(open("alerts.json"))
assert r["ok"] is True and isinstance(r["alerts"], list)
text = open("alerts.txt").read()
if not r["alerts"]:
    assert text == "no alerts (pending, firing or recently resolved)\n", text
else:
    assert text.split("\n")[0].split()[:3] == ["ID", "STATE", "RULE"], text
    for a in r["alerts"]:
        assert a["state"] in ("pending", "firing", "resolved")
        assert a["message"] in text, a
EOF
ok "alerts"

# ---- permission denied on the real socket (its directory made 0700).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	chmod 0700 "$JM_TMP/run"
	rc=0; setpriv --reuid=65534 --regid=65534 --clear-groups "$JMCTL" --socket "$JMD_SOCK" ps >out.txt 2>err.txt || rc=$?
	[ $rc -eq 1 ] || fail "permission denied: exit $rc"
	grep -q "^jmctl: cannot connect to $JMD_SOCK: permission denied" err.txt || { cat err.txt; fail "permission message"; }
	ok "permission denied on jmstatd's socket"
fi
