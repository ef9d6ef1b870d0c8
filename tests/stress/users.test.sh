#!/usr/bin/env bash
# timeout: 240
# serial: root's jmctl answers within bounds while nobody floods the daemon; alone, other tests' load is not in those bounds
# One unprivileged user (nobody) against root's jmstatd on a private
# socket, with real processes and real segments; root's jmctl must keep
# answering, the daemon's memory stay bounded and root's terminal clean:
#  1. lock-out: nobody opens 256 connections and sends nothing: at most
#     JMD_UID_CLIENTS are kept, the others are told "at its limit for your
#     user" (and nobody's jmctl says so); root's `jmctl ps` answers
#     throughout; once they go idle they are closed after --client-idle,
#     after which nobody is served again;
#  2. the same on HTTP: nobody holds 32 idle connections to /metrics:
#     30 scrapes in a row all get 200;
#  3. stall and bloat: 16 sparse 256 MiB segments with valid-looking
#     headers (65,536 thread rows), a live process's segment claiming
#     65,536 sites and one with the allocator's 1,024 (its `sites` asked
#     three times by clients that never read), 2,100 junk files: refused
#     or read within their owner's budget; root's ps answers, the daemon's
#     peak RSS stays under 256 MiB (judged without a sanitizer);
#  4. terminal injection: nobody's program named with escape bytes, whose
#     debug information names its source file with them (and a bidi
#     override, U+202E, that shows the rest of a line reversed), fragments its
#     heap: root's `jmctl ps`, `sites` and `alerts` print no control byte
#     (the names escaped, --json valid JSON), and root's jmctl reads that
#     program's files as nobody: a copy nobody cannot read stays
#     unsymbolized.
# Needs root (to be root and nobody) and setpriv.
. "$(dirname "$0")/../lib.sh"
need_users "run as root and as nobody"
need_segments
PY3=/usr/bin/python3
[ -x $PY3 ] || skip "no /usr/bin/python3 for nobody"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
# nobody reaches the socket (0666) through the test's directory.
chmod 755 "$JM_TMP"
cat >"$JM_TMP/rules.conf" <<EOF
[rule frag]
kind = fragmentation
ratio = 0.3
min_wasted = 8MiB
for = 400ms
EOF
jmd_start --client-idle 3 --metrics 127.0.0.1:0 --config "$JM_TMP/rules.conf"
for i in $(seq 1 100); do grep -q "metrics: serving" "$JMD_LOG" && break; sleep 0.05; done
METRICS_URL=$(sed -n 's/.*metrics: serving \(http:[^ ]*\).*/\1/p' "$JMD_LOG" | head -n 1)
[ -n "$METRICS_URL" ] || fail "no metrics address in the log"
export METRICS_URL
export JMD_DAEMON_PID=$JMD_PID

# Root's own processes, for root's jmctl to show.
JMALLOC_STATS_DIR=$JMD_STATS LD_PRELOAD=$JMALLOC_LIB sleep 600 &
ROOT_PROC=$!
export ROOT_PROC

# root_ps: root's jmctl ps answers, with root's process in it (bounded:
# the loaded 2-core machine of make check is slow, never stuck).
root_ps() {
	local out
	out=$(timeout 20 "$JMCTL" --socket "$JMD_SOCK" ps 2>&1) || fail "root's jmctl ps failed ($1): $out"
	grep -q "^ *$ROOT_PROC " <<<"$out" || fail "root's jmctl ps does not show root's process ($1): $out"
}
for i in $(seq 1 50); do
	timeout 20 "$JMCTL" --socket "$JMD_SOCK" ps 2>/dev/null | grep -q "^ *$ROOT_PROC " && break
	sleep 0.1
done
root_ps "at start"

# ---------------------------------------------------------------- 1. lock-out
# nobody's 256 idle connections, held by a python child running as nobody:
# it prints how many the daemon kept and how many it refused (with the
# reason line), then waits until they are closed.
mkfifo "$JM_TMP/held"
"${NOBODY[@]}" "$PY3" - "$JMD_SOCK" "$JM_TMP/go_idle" >"$JM_TMP/held" <<'PY' &
import json, os, socket, sys, time
path = sys.argv[1]
conns, refused, reasons = [], 0, set()
for i in range(256):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    conns.append(s)
# The refused ones are told why and closed; wait for them (a loaded
# machine may take a while), then the rest are the ones kept.
kept = list(conns)
for s in conns:
    s.setblocking(False)
deadline = time.monotonic() + 30
while len(kept) > 32 and time.monotonic() < deadline:
    time.sleep(0.1)
    for s in list(kept):
        try:
            data = s.recv(4096)
        except BlockingIOError:
            continue
        kept.remove(s)
        refused += 1
        if data:
            reasons.add(json.loads(data.split(b"\n")[0])["error"])
time.sleep(0.5)     # none more: the kept ones get nothing
for s in list(kept):
    try:
        s.recv(4096)
        kept.remove(s)
        refused += 1
    except BlockingIOError:
        pass
print("kept %d refused %d" % (len(kept), refused), flush=True)
for r in sorted(reasons):
    print("reason " + r, flush=True)
print("end", flush=True)
# Kept busy (a request every 0.3 s each) until the test has checked what
# it checks while they hold nobody's limit: idle, they were closed after
# 3 s, and at load 20 before that check was made (nobody's jmctl served).
while not os.path.exists(sys.argv[2]):
    for s in kept:
        try:
            s.send(b'{"cmd": "version"}\n')
        except OSError:
            pass
    time.sleep(0.3)
    for s in kept:
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass
# Now idle: the daemon closes them after --client-idle 3.
deadline = time.monotonic() + 60
closed = 0
for s in kept:
    s.setblocking(True)
    s.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        while s.recv(4096):
            pass
        closed += 1
    except OSError:
        pass
print("closed %d" % closed, flush=True)
PY
HOLDER=$!
exec 3<"$JM_TMP/held"
read -r line <&3
echo "nobody's 256 connections: $line"
set -- $line
[ "$1" = kept ] && [ "$2" -le 32 ] && [ "$2" -gt 0 ] && [ "$4" -ge $((256 - 32)) ] ||
	fail "nobody's connections: $line (at most 32 kept expected)"
while read -r line <&3 && [ "$line" != end ]; do
	echo "  $line"
	case $line in
	"reason jmstatd is at its limit for your user"*) ;;
	*) fail "unexpected refusal: $line" ;;
	esac
done
for i in 1 2 3 4 5; do root_ps "during nobody's idle connections"; done
rc=0
"${NOBODY[@]}" "$JMCTL" --socket "$JMD_SOCK" ps >"$JM_TMP/out" 2>"$JM_TMP/err" || rc=$?
[ $rc -eq 1 ] && grep -q "jmstatd is at its limit for your user" "$JM_TMP/err" ||
	fail "nobody's jmctl over the limit: exit $rc: $(cat "$JM_TMP/err")"
touch "$JM_TMP/go_idle"
echo "nobody's jmctl: $(cat "$JM_TMP/err")"
read -r line <&3
echo "after --client-idle: $line"
[ "$line" = "closed $2" ] || fail "the idle connections were not all closed: $line (kept $2)"
wait "$HOLDER"
"${NOBODY[@]}" "$JMCTL" --socket "$JMD_SOCK" ps >"$JM_TMP/out" 2>"$JM_TMP/err" ||
	fail "nobody is not served once its idle connections are closed: $(cat "$JM_TMP/err")"
grep -Eq "idle clients? closed" "$JMD_LOG" || fail "no log line about the idle clients"
# A watch longer than --client-idle still gets every table.
timeout 60 "$JMCTL" --socket "$JMD_SOCK" ps -d 4.5 -n 2 >"$JM_TMP/watch" 2>&1 ||
	fail "jmctl ps -d 4.5 against --client-idle 3: $(cat "$JM_TMP/watch")"
[ "$(grep -c "^ *$ROOT_PROC " "$JM_TMP/watch")" -eq 2 ] || fail "ps -d: $(cat "$JM_TMP/watch")"
echo "ok 1: lock-out"

# ---------------------------------------------------------------- 2. HTTP
"${NOBODY[@]}" "$PY3" - "$METRICS_URL" >"$JM_TMP/held2" <<'PY' &
import socket, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
conns = [socket.create_connection((u.hostname, u.port)) for i in range(32)]
print("held", flush=True)
time.sleep(30)
PY
HOLDER=$!
for i in $(seq 1 100); do grep -q held "$JM_TMP/held2" && break; sleep 0.05; done
jmd_py - <<'PY' || fail "scrapes during idle connections"
from jmd import *
import urllib.request, urllib.error
codes = []
for i in range(30):
    try:
        with urllib.request.urlopen(os.environ["METRICS_URL"], timeout=20) as r:
            codes.append(r.status)
            r.read()
    except urllib.error.HTTPError as e:
        codes.append(e.code)
print("30 scrapes during 32 idle connections: %s" % sorted(set(codes)))
check(codes == [200] * 30, "scrapes refused: %r" % codes)
PY
kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null
echo "ok 2: HTTP"

# ---------------------------------------------------------------- 3. stall, bloat
cp "$JM_HELPERS/stress_segwriter" "$JM_TMP/segwriter"
chmod 755 "$JM_TMP/segwriter"
"${NOBODY[@]}" "$PY3" - "$JMD_SOCK" "$JMD_STATS" "$JM_TMP/segwriter" >"$JM_TMP/held3" 2>&1 <<'PY' &
import json, os, signal, socket, subprocess, sys, time
sock, stats, writer = sys.argv[1:4]
uid = os.getuid()
kids = [subprocess.Popen(["sleep", "120"]) for i in range(18)]
def bye(*a):
    for k in kids:
        k.kill()
    os._exit(0)
signal.signal(signal.SIGTERM, bye)
def name_of(pid):
    # the segment name of pid in this pid namespace (jmd.py's segment_name_of)
    ns = os.stat("/proc/self/ns/pid").st_ino
    if ns == 4026531836:
        return "jmalloc.%d.stats" % pid
    with open("/proc/%d/stat" % pid) as f:
        return "jmalloc.%d.%d.%s.stats" % (pid, ns, f.read().rsplit(")", 1)[1].split()[19])
def forge(p, *fields):
    path = os.path.join(stats, name_of(p.pid))
    subprocess.run([writer, "write", path, str(p.pid), str(uid)] + list(fields), check=True,
                   stdout=subprocess.DEVNULL)
    return path
for p in kids[:16]:
    path = forge(p, "nthreads_max=65536", "nthreads_hw=65536", "total_size=%d" % (256 << 20))
    os.truncate(path, 256 << 20)
forge(kids[16], "sites=1024")
forge(kids[17], "sites=65536")
for i in range(2100):
    open(os.path.join(stats, "jmalloc.%d.stats" % (4000000 + i)), "w").close()
print("pids %d %d" % (kids[16].pid, kids[17].pid), flush=True)
time.sleep(1.5)
mute = []
for pid in (kids[16].pid, kids[17].pid):
    for i in range(3):
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b'{"cmd":"version"}\n' + (b'{"cmd":"sites","pid":%d}\n' % pid) * 4)
        mute.append(s)
print("ready", flush=True)
time.sleep(100)
PY
HOLDER=$!
for i in $(seq 1 200); do grep -q ready "$JM_TMP/held3" && break; sleep 0.1; done
grep -q ready "$JM_TMP/held3" || fail "nobody's forger did not start: $(cat "$JM_TMP/held3")"
set -- $(grep pids "$JM_TMP/held3")
SITES_PID=$2 MANY_PID=$3
for i in 1 2 3 4 5; do root_ps "during nobody's forged segments"; sleep 0.3; done
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$JMD_PID/status")
echo "daemon peak RSS: $hwm KiB"
# Not under a sanitizer: ASan's quarantine alone holds up to 256 MiB of
# freed memory (296 MiB of peak RSS in a sanitized CI run, 11.9 MiB plain).
if [ -z "${JM_SANITIZED:-}" ]; then
	[ "$hwm" -lt $((256 * 1024)) ] || fail "the daemon's peak RSS is $hwm KiB"
fi
grep -q "uid 65534: .* its budget" "$JMD_LOG" || fail "nobody's 2100 files were not read within its budget"
SITES_PID=$SITES_PID MANY_PID=$MANY_PID jmd_py - <<'PY' || fail "root's sites of the 1,024-site process"
from jmd import *
wait_until(lambda: int(os.environ["SITES_PID"]) in ps_pids(), "the forged 1,024-site process in ps")
time.sleep(5 * INTERVAL_MS / 1000.0)     # its twin was written with it: read by now
check(int(os.environ["MANY_PID"]) not in ps_pids(), "the segment claiming 65,536 sites was accepted")
r = request({"cmd": "sites", "pid": int(os.environ["SITES_PID"])})
check(r["ok"] and r["nsites"] == 1024, "sites: %r" % {k: r[k] for k in r if k != "sites"})
print("root's sites of the forged process: %d sites, reply %d bytes" % (r["nsites"], len(json.dumps(r))))
PY
echo "ok 3: stall and bloat"
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null

# ---------------------------------------------------------------- 4. terminal injection
mkdir -p "$JM_TMP/pub"
cp "$JMALLOC_LIB" "$JM_TMP/pub/libjmalloc.so"
{
	printf '#line 1 "\033]0;OWNED\007\033[2J\033[31m\302\233evil\377\342\200\256c.txt"\n'
	cat "$JM_ROOT/tests/stress/evil_names.c"
} >"$JM_TMP/evil.c"
EVIL=$'ev\033[2Jil\x9b'
cc -O2 -g -o "$JM_TMP/pub/$EVIL" "$JM_TMP/evil.c" 2>"$JM_TMP/cc.err" || fail "cannot build evil.c"
cp "$JM_TMP/pub/$EVIL" "$JM_TMP/pub/hidden"
chmod 755 "$JM_TMP/pub" "$JM_TMP/pub/libjmalloc.so" "$JM_TMP/pub/$EVIL"
chmod 711 "$JM_TMP/pub/hidden"       # nobody may run it, not read it
start_nobody() {
	"${NOBODY[@]}" env JMALLOC_CONF=prof_sample:65536 JMALLOC_STATS_DIR="$JMD_STATS" \
		LD_PRELOAD="$JM_TMP/pub/libjmalloc.so" "$JM_TMP/pub/$1" >"$JM_TMP/$2.out" 2>&1 &
}
start_nobody "$EVIL" evil
PID_EVIL=$!
start_nobody hidden hidden
PID_HIDDEN=$!
export PID_EVIL PID_HIDDEN
jmd_py - <<'PY' || fail "terminal injection"
from jmd import *
import subprocess
JMCTL = os.environ["JMCTL"]
def run(*args):
    r = subprocess.run([JMCTL, "--socket", SOCK] + list(args), capture_output=True, timeout=30)
    check(r.returncode == 0, "jmctl %s: exit %d: %r" % (" ".join(args), r.returncode, r.stderr))
    return r.stdout, r.stderr
def clean(what, out):
    text = out.decode("utf-8")          # valid UTF-8, or this raises
    bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f or
           0x202a <= ord(c) <= 0x202e or 0x2066 <= ord(c) <= 0x2069]
    check(not bad, "%s printed control characters %r:\n%s" % (what, bad[:8], text[:2000]))
    return text
evil, hidden = int(os.environ["PID_EVIL"]), int(os.environ["PID_HIDDEN"])
wait_until(lambda: {evil, hidden} <= set(ps_pids()), "nobody's programs in ps")
def firing():
    return [a for a in request({"cmd": "alerts"})["alerts"]
            if a["pid"] == evil and a["state"] == "firing" and a.get("sites")]
wait_until(firing, "the fragmentation alert of nobody's program", timeout=60)
ps = clean("jmctl ps", run("ps")[0])
check("[2Jil" in ps, "nobody's program is not in root's ps:\n" + ps)
sites = clean("jmctl sites", run("sites", str(evil))[0])
check("fragment_here" in sites, "nobody's program not symbolized:\n" + sites)
check("\\x1b]0;OWNED\\x07\\x1b[2J\\x1b[31m\\u009bevil\\xff\\u202ec.txt" in sites,
      "the file name is not shown escaped:\n" + sites)
js = json.loads(run("--json", "sites", str(evil))[0])
files = {f["file"] for s in js["sites"] for f in s["frames"] if f.get("file")}
check(any("OWNED" in f for f in files), "--json: files %r" % files)
clean("jmctl top -b", run("top", "-b", "-n", "1", "-p", str(evil))[0])
clean("jmctl stats", run("stats", str(evil))[0])
alerts = clean("jmctl alerts", run("alerts")[0])
check("fragment_here" in alerts, "the alert does not name the site:\n" + alerts)
out, err = run("sites", str(hidden))
clean("jmctl sites (unreadable program)", out)
check("fragment_here" not in out.decode(),
      "root symbolized a program its owner cannot read:\n%s" % out.decode())
print("nobody's program: escaped in ps, sites and alerts; its unreadable copy: %s"
      % err.decode().strip())
PY
kill "$PID_EVIL" "$PID_HIDDEN"
echo "ok 4: terminal injection"

jmd_stop
