#!/usr/bin/env bash
# `jmctl sites` on a terminal cuts each frame line at the terminal's width,
# counted as the terminal counts columns (a CJK character two), and marks
# the cut; elsewhere it prints every frame whole: into a pipe, with -w
# (--wide) on a terminal, with --json. A program whose functions are named
# with 50 CJK characters (100 columns) and with 1,500 ASCII letters (a C++
# name of templates runs that long), run as a terminal of 80 columns gives
# (python's pty):
#  1. UTF-8 locale: no line of a frame wider than 80 columns; the CJK
#     frame cut after 37 characters (74 columns) and an ellipsis, the long
#     one after 75 letters; the other lines (header, bins) as before;
#  2. the C locale: the CJK characters escaped (\u4e00, 6 columns each),
#     cut the same way, the cut marked "...";
#  3. -w on the terminal, and a pipe: both names whole, with file:line and
#     module (the pipe's lines were cut at 1,023 bytes before);
#  4. --json on the terminal: the names whole.
# Before, a terminal showed the frames whole and wrapped them over rows.
# timeout: 90
. "$(dirname "$0")/../lib.sh"
need_sites
cd "$JM_TMP"

CJK=$(python3 -c 'print("".join(chr(0x4e00 + i) for i in range(50)))')
LONG=$(python3 -c 'print("long_" + "x" * 1495)')
named_sites_c width.c "$LONG" "$CJK"
build_c width width.c -fno-optimize-sibling-calls -Wno-normalized
jmd_start
JMALLOC_CONF=prof_sample:65536 start_ready ./width
PROG=$LAST_PID
for _ in $(seq 100); do
	"$JMCTL" --socket "$JMD_SOCK" sites "$PROG" >pipe.txt 2>&1 && grep -q "^    long_x" pipe.txt && break
	sleep 0.1
done

CJK=$CJK LONG=$LONG PROG=$PROG python3 - <<'PY' || fail "jmctl sites and the terminal's width"
import fcntl, json, os, pty, re, struct, subprocess, sys, termios, unicodedata
cjk, long_, pid = os.environ["CJK"], os.environ["LONG"], os.environ["PROG"]
base = [os.environ["JMCTL"], "--socket", os.environ["JMD_SOCK"]]
bad = []

def cols(s):
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF"
               else 1 for c in s)

def on_tty(args, lang, width=80):
    """jmctl's output on a terminal of `width` columns."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, width, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_") and k != "LANG"}
    if lang:
        env["LC_ALL"] = lang
    p = subprocess.Popen(base + args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                         env=env)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    p.wait(60)
    if p.returncode != 0:
        bad.append("jmctl %s on a terminal exited %d: %r" % (args, p.returncode, out[-300:]))
    return out.decode("utf-8").replace("\r\n", "\n").splitlines()

def whole(lines, how):
    if not any(re.fullmatch("    " + cjk + r"  width\.c:\d+  \(width\)", l) for l in lines):
        bad.append("%s: no whole line of the CJK frame" % how)
    if not any(re.fullmatch("    " + long_ + r"  width\.c:\d+  \(width\)", l) for l in lines):
        bad.append("%s: no whole line of the 1,500-letter frame: %r" % (how,
                   [l[:60] + "..." + l[-40:] for l in lines if "long_x" in l]))

# 1. A UTF-8 locale: frames cut at 80 columns, the cut marked.
lines = on_tty(["sites", pid], "C.UTF-8")
frames = [l for l in lines if l.startswith("    ") and not l.startswith(("    bins:", "    ("))]
wide = [l for l in frames if cols(l) > 80]
if wide:
    bad.append("1. frame lines wider than 80 columns: %r" % [l[:100] for l in wide])
if "    " + cjk[:37] + "\u2026" not in lines:
    bad.append("1. no line %r: %r" % ("    " + cjk[:37] + "\u2026", [l for l in lines if cjk[:3] in l]))
if "    " + long_[:75] + "\u2026" not in lines:
    bad.append("1. no line of the long name cut after 75 letters")
if not any(l.startswith("pid %s (width): " % pid) for l in lines):
    bad.append("1. no header line: %r" % lines[:3])
print("1. UTF-8, 80 columns:\n" + "\n".join(lines[:14]))

# 2. The C locale: escapes count their columns; the cut marked "...".
lines = on_tty(["sites", pid], None)
esc = "".join("\\u%04x" % ord(c) for c in cjk)
frames = [l for l in lines if l.startswith("    ") and not l.startswith(("    bins:", "    ("))]
if any(len(l) > 80 or not l.isascii() for l in frames):
    bad.append("2. C locale: frame lines past 80 columns, or not ASCII")
if "    " + esc[:72] + "..." not in lines:
    bad.append("2. no line %r: %r" % ("    " + esc[:72] + "...", [l for l in lines if "\\u4e00" in l]))
print("2. C locale: " + next((l for l in lines if "\\u4e00" in l), "?"))

# 3. -w on the terminal, and a pipe: whole.
whole(on_tty(["sites", "-w", pid], "C.UTF-8"), "3. -w on a terminal")
whole(on_tty(["sites", "--wide", pid], "C.UTF-8"), "3. --wide on a terminal")
r = subprocess.run(base + ["sites", pid], capture_output=True, env=dict(os.environ, LC_ALL="C.UTF-8"))
whole(r.stdout.decode().splitlines(), "3. a pipe")

# 4. --json on the terminal: whole.
r = json.loads("".join(on_tty(["--json", "sites", pid], "C.UTF-8")))
names = {f["function"] for s in r["sites"] for f in s["frames"]}
if cjk not in names or long_ not in names:
    bad.append("4. --json: the names are not whole: %r" % [n[:40] for n in names if n])
if bad:
    sys.exit("\n".join(bad))
PY
ok "jmctl sites: frames cut at a terminal's width (UTF-8 and C locales), whole with -w, in a pipe and in --json"
