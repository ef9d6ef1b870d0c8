#!/usr/bin/env bash
# timeout: 240
# Connections that ask for the page and never read it must not shut the
# port to the scrapes. Anyone who reaches the port (a local user: the
# loopback is no boundary) can open the 32 connections the listener
# serves, send each a request for a page larger than the kernel buffers
# (the /metrics page of a few hundred processes, which a user can run or
# forge, or an /exe profile), and read nothing: each reply then waits in
# the daemon until its 30 s write deadline, and every scrape meanwhile was
# answered 503 (too many connections, none to close), again as soon as the
# user opened the next 32. Now a newcomer closes the connection whose reply
# has waited longest, as it closes one that sent no request.
#  1. 300 processes with forged segments (distinct names): a page larger
#     than the kernel's largest TCP send buffer (tcp_wmem) and 1 MiB more;
#  2. 32 connections (a receive buffer of 1 byte asked: the smallest) ask
#     for /metrics, each sees its reply begin, and reads no more;
#  3. 3 scrapes, one after the other: each 200 with the whole page (503
#     before), a slow reader closed for each; the daemon's peak RSS under
#     200 MB (the 32 copies of a 9.4 MB page took 300 MB before; the
#     replies not yet taken are bounded, 64 MiB).
. "$(dirname "$0")/../lib.sh"
need_segments
need_cmd curl
JMD_INTERVAL=1000 jmd_start --metrics 127.0.0.1:0
forge_procs 300 exe=svcIDX modules=1 sites=4
JMD_URL=$JMD_URL JMD_DAEMON_PID=$JMD_PID jmd_py - <<'PY'
from jmd import *
import re, select, socket, sys, urllib.error, urllib.request

url = os.environ["JMD_URL"]
host, port = url[len("http://"):].rsplit(":", 1)
wait_until(lambda: len(ps_pids()) >= 300, "the 300 forged processes live", timeout=120)

def scrape():
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

status, page = scrape()
check(status == 200, "the first scrape: %d" % status)
with open("/proc/sys/net/ipv4/tcp_wmem") as f:
    wmem = int(f.read().split()[2])
if len(page) < wmem + (1 << 20):
    print("the page is %d bytes, not more than what the kernel buffers (%d): nothing to test"
          % (len(page), wmem + (1 << 20)))
    sys.exit(77)
print("the page: %d bytes; the kernel's largest send buffer: %d" % (len(page), wmem))

# 2. 32 slow readers: each sees its reply begin (the status line) and
# reads no more.
slow = []
for i in range(32):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
    s.connect((host, int(port)))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    slow.append(s)
# Past the 64 MiB of replies not taken (each counts its page's unwritten
# bytes), the oldest are closed at once, with a reset: those are let be.
early = 0
for i, s in enumerate(slow):
    r, _, _ = select.select([s], [], [], 120)
    check(r, "slow reader %d: no reply begun within 120 s" % i)
    try:
        head = s.recv(12, socket.MSG_PEEK)
    except ConnectionResetError:
        early += 1
        continue
    check(head == b"HTTP/1.1 200", "slow reader %d: %r" % (i, head))
print("32 connections asked, their replies unread (%d reset at once by the bound)" % early)
check(early < 32, "every slow reader was reset before its reply began")

# 3. Scrapes: each gets the whole page.
for k in range(3):
    status, body = scrape()
    check(status == 200, "scrape %d with 32 slow readers: %d %r" % (k + 1, status, body[:80]))
    check(body.endswith(b"\n") and b"jmalloc_http_responses_total" in body,
          "scrape %d: a page cut short (%d bytes)" % (k + 1, len(body)))
# Slow readers were closed to make room, one a scrape (their side sees
# the end of the stream, or a reset, once it drains what the kernel had).
closed = 0
for s in slow:
    s.setblocking(False)
    try:
        while True:
            b = s.recv(1 << 20)
            if not b:
                closed += 1
                break
    except BlockingIOError:
        pass
    except ConnectionResetError:
        closed += 1
print("3 scrapes answered 200 in full; %d of the 32 slow readers closed" % closed)
check(closed >= 3, "only %d slow readers closed for 3 scrapes" % closed)
# Each reply was a copy of the page: 32 of them took 300 MB before; the
# replies not yet taken are bounded (64 MiB), the slow readers past it
# closed.
with open("/proc/%s/status" % os.environ["JMD_DAEMON_PID"]) as f:
    hwm = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) // 1024
print("the daemon's peak RSS: %d MB" % hwm)
if not os.environ.get("JM_SANITIZED"):
    check(hwm < 200, "the daemon's peak RSS %d MB, over 200" % hwm)
PY
rc=$?
[ $rc -eq 77 ] && skip "the /metrics page of 300 processes fits the kernel's send buffer here"
[ $rc -eq 0 ] || fail "scrapes with slow readers holding every connection"
ok "scrapes answered while 32 connections leave their replies unread"
jmd_stop
