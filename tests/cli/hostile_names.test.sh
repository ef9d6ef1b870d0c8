#!/usr/bin/env bash
# timeout: 180
# What a user's process can put on root's terminal through jmctl, beyond
# the names tests/stress/users.test.sh checks in tables (its exe, the file
# named by its debug information): nobody's programs, preloaded with
# libjmalloc.so, against root's jmstatd.
#  1. A process's comm (prctl PR_SET_NAME or /proc/self/comm: 15 bytes of
#     anything) is an OSC 52, which writes the clipboard of the terminal
#     that prints it; the process runs with jmalloc but has no segment the
#     daemon reads, so root's `jmctl stats PID` (sites, history) explains
#     why and names it by its comm: escaped. It was printed as it was.
#  2. `jmctl --json sites PID` of a program whose debug information names
#     its source file with ESC, BEL, a C1 CSI (U+009B) and a bidi override
#     (U+202E): printable ASCII, the characters \u-escaped, and the JSON
#     still names the file as it is. jansson escapes only what JSON must
#     (below U+0020): the C1 CSI and the override went out raw.
#  3. A program whose functions are named with 50 CJK characters (100
#     columns) and with 40 x's each with a combining mark (40 columns, 80
#     characters): `jmctl sites` shows them as they are, and root's
#     `jmctl top` (tmux, 80 columns) opens the sites of its bin: the CJK
#     frame is cut at the right edge, no other row holds a piece of it,
#     and the other frame is shown whole with its file and line. Counted
#     one column per character, the CJK frame ran 50 columns past the
#     edge and curses wrapped it onto the next row, over the other frame,
#     which was itself cut after 37 of its 80 characters.
# Needs root (to be root and nobody), setpriv and cc; tmux for 3.
. "$(dirname "$0")/../lib.sh"
need_users "run as root and as nobody"
need_segments
need_cmd cc
nobody_pub
{
	printf '#line 1 "\033]0;OWNED\007\302\233\062J\342\200\256c.txt"\n'
	cat "$JM_ROOT/tests/stress/evil_names.c"
} >"$JM_TMP/evil.c"
cc -O2 -g -o "$P/evil" "$JM_TMP/evil.c" 2>"$JM_TMP/cc.err" || fail "cannot build evil.c"
chmod 755 "$P/evil"
mkdir -m 1777 "$JM_TMP/elsewhere"
jmd_start
"${NOBODY[@]}" env JMALLOC_STATS_DIR="$JM_TMP/elsewhere" LD_PRELOAD="$P/libjmalloc.so" \
	python3 -c '
import sys, time
open("/proc/self/comm", "wb").write(b"\x1b]52;c;aGk=\x07")
print("ready", flush=True)
time.sleep(600)' >"$JM_TMP/comm.out" 2>&1 &
PIDS+=("$!")
COMM_PID=$!
"${NOBODY[@]}" env JMALLOC_CONF=prof_sample:65536 JMALLOC_STATS_DIR="$JMD_STATS" \
	LD_PRELOAD="$P/libjmalloc.so" "$P/evil" >"$JM_TMP/evil.out" 2>&1 &
PIDS+=("$!")
EVIL_PID=$!
wait_line "$JM_TMP/comm.out" '^ready$'
wait_line "$JM_TMP/evil.out" '^ready'
COMM_PID=$COMM_PID EVIL_PID=$EVIL_PID JMD_SOCK=$JMD_SOCK JMCTL=$JMCTL python3 - <<'PY' || fail "terminal injection"
import json, os, subprocess, sys, time
SOCK, JMCTL = os.environ["JMD_SOCK"], os.environ["JMCTL"]
comm, evil = os.environ["COMM_PID"], os.environ["EVIL_PID"]
bad = []
def run(*args):
    r = subprocess.run([JMCTL, "--socket", SOCK] + list(args), capture_output=True, timeout=60)
    for name, out in (("stdout", r.stdout), ("stderr", r.stderr)):
        ctl = sorted({b for b in out if (b < 0x20 and b != 0x0a) or b == 0x7f})
        text = out.decode("utf-8", "replace")
        ctl += sorted({c for c in text if 0x80 <= ord(c) <= 0x9f or 0x202a <= ord(c) <= 0x202e})
        if ctl:
            bad.append("jmctl %s: %s holds %r: %r" % (" ".join(args), name, ctl[:8], out[:300]))
    return r
for args in (["stats", comm], ["sites", comm], ["history", comm]):
    r = run(*args)
    if b"(\\x1b]52;c;aGk=\\x07) runs with jmalloc" not in r.stderr:
        bad.append("jmctl %s: %r" % (" ".join(args), r.stderr))
print("1. comm escaped: %s" % r.stderr.decode().strip())
for _ in range(300):
    r = run("--json", "sites", evil)
    files = {f.get("file") for s in json.loads(r.stdout)["sites"] for f in s["frames"]
             if "fragment_here" in (f.get("function") or "")} if r.returncode == 0 else set()
    if files:
        break
    time.sleep(0.1)
else:
    bad.append("no sampled site of fragment_here in 30 s: %r" % r.stdout[:300])
want = "\x1b]0;OWNED\x07\u009b2J\u202ec.txt"
if not any(f and f.endswith(want) for f in files):
    bad.append("--json sites: the file is not named as it is: %r" % files)
if b"\\u009b2j\\u202ec.txt" not in r.stdout.lower():
    bad.append("--json sites: the C1 CSI and the override are not \\u-escaped: %r" % r.stdout[:600])
print("2. --json sites: %d bytes, printable ASCII" % len(r.stdout))
if bad:
    sys.exit("\n".join(bad))
PY
ok "a process's comm and its debug information's names reach root's terminal escaped"

# 3. Names of wide characters and of combining marks in top's sites panel.
command -v tmux >/dev/null || skip "tmux is not installed: cannot drive the live view"
cd "$JM_TMP"
CJK=$(python3 -c 'print("".join(chr(0x4e00 + i) for i in range(50)))')
MARKS=$(python3 -c 'print("x\u0301" * 40)')
named_sites_c wide.c "$MARKS" "$CJK" fragment
cc -O2 -g -fno-optimize-sibling-calls -Wno-normalized -o "$P/wide" wide.c 2>cc.err ||
	{ cat cc.err; fail "cannot build wide.c (names of CJK characters and combining marks)"; }
chmod 755 "$P/wide"
"${NOBODY[@]}" env JMALLOC_CONF=prof_sample:65536 JMALLOC_STATS_DIR="$JMD_STATS" \
	LD_PRELOAD="$P/libjmalloc.so" "$P/wide" >wide.out 2>&1 &
PIDS+=("$!")
WIDE=$!
wait_line wide.out '^ready'
wait_seen "$WIDE" "p['small_wasted'] > 0"
for _ in $(seq 100); do
	LC_ALL=C.UTF-8 "$JMCTL" --socket "$JMD_SOCK" sites "$WIDE" >wide.sites 2>&1 && grep -q "^    $CJK  " wide.sites && break
	sleep 0.1
done
grep -q "^    $CJK  wide.c:[0-9]*  (wide)$" wide.sites && grep -q "^    $MARKS  wide.c:[0-9]*  (wide)$" wide.sites ||
	{ cat wide.sites; fail "jmctl sites: the names are not shown as they are"; }
LC_ALL=C.UTF-8 tmux_start jmctl-wide 80 40 "LC_ALL=C.UTF-8 $JMCTL --socket $JMD_SOCK top -p $WIDE -d 0.3 2>$JM_TMP/top.err; sleep 600"
wait_pane 'bins in use, sorted by wasted'
"${T[@]}" send-keys -t top Enter
wait_pane '^ *[0-9.]* [KMG]*i*B wasted, '
sleep 0.5
"${T[@]}" capture-pane -p -t top >pane.txt
CJK=$CJK MARKS=$MARKS python3 - <<'PY' || { cat pane.txt; fail "a wide name past the right edge of top's screen"; }
import os, re, sys, unicodedata
cjk, marks = os.environ["CJK"], os.environ["MARKS"]
def cols(s):
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF"
               else 1 for c in s)
lines = open("pane.txt", encoding="utf-8").read().splitlines()
bad = [l for l in lines if cols(l) > 80]
# The CJK frame: cut at 80 columns (37 characters after the indent);
# nothing of it on any other row.
want = "      " + cjk[:37]
bad += [l for l in lines if any(c in cjk for c in l) and l.rstrip() != want]
if sum(l.rstrip() == want for l in lines) != 1:
    bad.append("no row %r" % want)
# The combining marks' frame: whole, with its file and line.
if not any(re.fullmatch("      " + marks + r"  wide\.c:\d+  \(wide\)", l.rstrip()) for l in lines):
    bad.append("no whole row of the frame of combining marks")
if bad:
    sys.exit("\n".join(map(repr, bad)))
PY
ok "names of wide characters and combining marks: cut at the right edge of top's screen, never wrapped"
