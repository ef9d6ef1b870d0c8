#!/usr/bin/env bash
# timeout: 120
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
# Needs root (to be root and nobody), setpriv and cc.
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
