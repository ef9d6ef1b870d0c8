#!/usr/bin/env bash
# timeout: 900
# Clients that load or abuse jmstatd's socket, against a daemon limited to
# 1024 open files (a common default), each attack with a ps request from a
# well-behaved client answered while it lasts:
#  1. mute: clients pipeline requests and never read the replies, others
#     subscribe and never read: the daemon's memory stays bounded (its peak
#     RSS is checked) and the others are served;
#  2. flood: 1,000 clients connect at once and each asks ps: the first 256
#     are answered, the others told "too many clients" or closed, none hangs,
#     and the log gets a line per tick, not one per refused client;
#  3. waves: 1,000 clients, 200 at a time, one request each: all answered;
#  4. long lines: clients sending 100 MB lines are told "request too long"
#     and cut off after 64 KiB; one client sends 100 MB of 60 KB garbage
#     lines and reads: every line answered "invalid JSON".
# make check runs a short form; make stress (JM_STRESS_FULL=1) the full one.
# Figures (peak RSS, rates, times) are printed.
. "$(dirname "$0")/../lib.sh"
segments=yes
( need_segments ) >/dev/null 2>&1 || segments=no
export segments
printf '#!/bin/sh\nulimit -n 1024\nexec "%s" "$@"\n' "$JMSTATD" >"$JM_TMP/jmstatd-1024"
chmod +x "$JM_TMP/jmstatd-1024"
JMSTATD=$JM_TMP/jmstatd-1024 jmd_start
export JMD_DAEMON_PID=$JMD_PID

jmd_py - <<'PY' || fail "clients"
from jmd import *
import resource, selectors, threading

full = bool(os.environ.get("JM_STRESS_FULL"))
resource.setrlimit(resource.RLIMIT_NOFILE, (8192, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
dpid = int(os.environ["JMD_DAEMON_PID"])
log = os.path.join(os.environ["JM_TMP"], "jmstatd.log")
status = daemon_status

def nfds():
    return len(os.listdir("/proc/%d/fd" % dpid))

holders = holders(3, "alloc 64 1000") if os.environ["segments"] == "yes" else []
ps_size = len(json.dumps(request({"cmd": "ps"})))
base_rss = status("VmRSS")
print("daemon: RSS %d KiB at start, %d fds; a ps reply is %d bytes" % (base_rss, nfds(), ps_size))

class Prober:
    """A well-behaved client asking ps in a loop while an attack runs."""
    def __init__(self):
        self.n = 0
        self.err = None
        self.stop = False
        self.c = Client(timeout=30)
        self.t = threading.Thread(target=self.run)
        self.t.start()
    def run(self):
        try:
            while not self.stop:
                r = self.c.req({"cmd": "ps"})
                if not r["ok"]:
                    self.err = r
                    return
                self.n += 1
                time.sleep(0.02)
        except Exception as e:
            self.err = repr(e)
    def done(self, what):
        self.stop = True
        self.t.join()
        self.c.close()
        check(self.err is None, "%s: a ps request failed during the attack: %r" % (what, self.err))
        check(self.n > 0, "%s: no ps answered during the attack" % what)
        return self.n

# ---------------------------------------------------------------- 1. mute
nmute, nsub, secs = (240, 10, 20.0) if full else (100, 10, 3.0)
probe = Prober()
mutes = []
for i in range(nmute):
    s = socket.socket(socket.AF_UNIX)
    s.connect(SOCK)
    s.setblocking(False)
    mutes.append(s)
subs = []
for i in range(nsub):
    c = Client()
    c.send_raw(b'{"cmd":"subscribe"}\n')
    subs.append(c)
batch = b'{"cmd":"ps"}\n' * 2000
sent = 0
t0 = time.monotonic()
peak = 0
while time.monotonic() - t0 < secs:
    for s in mutes:
        try:
            sent += s.send(batch)
        except (BlockingIOError, BrokenPipeError, ConnectionResetError):
            pass
    peak = max(peak, status("VmRSS"))
    time.sleep(0.01)
answered = probe.done("mute clients")
hwm = status("VmHWM")
dropped = sum("replies unread" in l for l in open(log))
print("mute: %d clients pipelining ps without reading (%d MiB sent) and %d silent subscribers, %.0f s:"
      " daemon peak RSS %d KiB (%d KiB above start), %d clients dropped, %d ps answered meanwhile"
      % (nmute, sent >> 20, nsub, secs, hwm, hwm - base_rss, dropped, answered))
# (Under AddressSanitizer, whose quarantine keeps freed memory, the figure
# says nothing: tests/stress/sanitizers sets JM_SANITIZED.)
check(os.environ.get("JM_SANITIZED") or hwm - base_rss < 128 * 1024,
      "silent clients grew the daemon by %d KiB (peak RSS %d KiB)" % (hwm - base_rss, hwm))
for s in mutes:
    s.close()
for c in subs:
    c.close()
wait_until(lambda: request({"cmd": "version"})["clients"] == 1, "the mute clients to be gone")

# ---------------------------------------------------------------- 2. flood
nflood = 1000
probe = Prober()
t0 = time.monotonic()
socks = []
for i in range(nflood):
    s = socket.socket(socket.AF_UNIX)
    s.connect(SOCK)
    socks.append(s)
for s in socks:
    try:
        s.sendall(b'{"cmd":"ps"}\n')
    except OSError:
        pass
outcome = {}
for s in socks:
    s.settimeout(30)
    buf = b""
    try:
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        k = "closed unanswered" if not buf else None
        if k is None:
            r = json.loads(buf.split(b"\n")[0])
            k = "answered" if r["ok"] else r["error"]
    except socket.timeout:
        k = "hung"
    except (ConnectionResetError, BrokenPipeError):
        k = "closed unanswered"
    outcome[k] = outcome.get(k, 0) + 1
    s.close()
dt = time.monotonic() - t0
answered = probe.done("flood")
print("flood: %d clients at once, done in %.2f s: %s; daemon %d fds after, %d ps answered meanwhile"
      % (nflood, dt, ", ".join("%d %s" % (v, k) for k, v in sorted(outcome.items())), nfds(), answered))
check("hung" not in outcome, "clients left hanging: %r" % outcome)
check(set(outcome) <= {"answered", "too many clients (limit 256)", "closed unanswered"},
      "unexpected outcomes: %r" % outcome)
check(outcome.get("answered", 0) >= 200, "too few answered: %r" % outcome)
refusal_lines = sum("refused: too many clients" in l for l in open(log))
print("flood: %d log lines about the refused clients" % refusal_lines)
# One line per tick, and a count of the others at the next (server.c).
check(refusal_lines <= 2 * (dt * 1000 / INTERVAL_MS + 2), "the flood flooded the log: %d lines"
      % refusal_lines)
wait_until(lambda: request({"cmd": "version"})["clients"] == 1, "the flood to be gone")

# ---------------------------------------------------------------- 3. waves
nwave, width = 1000, 200
t0 = time.monotonic()
ok = 0
for w in range(nwave // width):
    cs = [Client() for i in range(width)]
    for c in cs:
        c.send_raw(b'{"cmd":"ps"}\n')
    for c in cs:
        r = c.read()
        ok += bool(r and r["ok"])
        c.close()
    # The daemon sees a client leave only when it reads its EOF.
    wait_until(lambda: request({"cmd": "version"})["clients"] == 1, "wave %d to be gone" % w)
dt = time.monotonic() - t0
print("waves: %d clients, %d at a time: %d answered in %.2f s (%.0f connections+requests/s)"
      % (nwave, width, ok, dt, nwave / dt))
check(ok == nwave, "only %d of %d answered" % (ok, nwave))

# ---------------------------------------------------------------- 4. long lines
nlong = 16 if full else 4
line_mb = 100
probe = Prober()
res = []
def long_line(i):
    c = Client(timeout=60)
    chunk = memoryview(b"x" * (1 << 20))
    sent = 0
    try:
        while sent < line_mb << 20:
            sent += c.s.send(chunk[: min(len(chunk), (line_mb << 20) - sent)])
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = None
    try:
        r = c.read()
    except (ConnectionResetError, BrokenPipeError):
        pass
    eof = r is None or c.at_eof()
    res.append((sent, r, eof))
    c.close()
t0 = time.monotonic()
ts = [threading.Thread(target=long_line, args=(i,)) for i in range(nlong)]
for t in ts:
    t.start()
for t in ts:
    t.join()
dt = time.monotonic() - t0
told = sum(1 for s, r, e in res if r and r.get("error") == "request too long (limit 65536 bytes)")
check(all(e for s, r, e in res), "a client sending a 100 MB line was not disconnected")
check(all(s < line_mb << 20 for s, r, e in res), "a 100 MB line was read whole")
print("long lines: %d clients sending %d MB lines: cut off after at most %d KiB each (%d read the"
      " reason, the others were reset before) in %.2f s"
      % (nlong, line_mb, max(s for s, r, e in res) >> 10, told, dt))

# 100 MB of garbage lines just under the limit, replies read as they come.
total = (100 << 20) if full else (20 << 20)
c = Client(timeout=60)
line = b"[" + b"1," * 30000 + b"x\n"
nlines = total // len(line)
answers = []
def reader():
    for i in range(nlines):
        answers.append(c.read())
rt = threading.Thread(target=reader)
rt.start()
t0 = time.monotonic()
for i in range(nlines):
    c.send_raw(line)
rt.join()
dt = time.monotonic() - t0
bad = [a for a in answers if not a or a["ok"] or not a["error"].startswith("invalid JSON")]
check(not bad, "garbage lines: %d odd answers, first %r" % (len(bad), bad[:1]))
print("garbage: %d lines of %d KiB (%d MiB) answered 'invalid JSON' in %.2f s (%.0f MiB/s)"
      % (nlines, len(line) >> 10, (nlines * len(line)) >> 20, dt, (nlines * len(line)) / dt / (1 << 20)))
c.close()
answered = probe.done("long lines")

for h in holders:
    h.exit()
v = request({"cmd": "version"})
check(v["ok"], "still answering")
print("after all: daemon RSS %d KiB (peak %d KiB), %d fds" % (status("VmRSS"), status("VmHWM"), nfds()))
PY
jmd_stop
echo "ok"
