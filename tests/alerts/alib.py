"""alib.py: what the alert and metrics tests share (python3, stdlib only),
on top of tests/daemon/jmd.py: a driver for fragmenter.py, an HTTP client
for jmstatd's /metrics and a parser of the Prometheus text format.
"""
import http.client
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from jmd import *  # noqa: E402,F401,F403
import jmd  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class Fragmenter:
    """tests/alerts/fragmenter.py under LD_PRELOAD, driven over pipes."""

    def __init__(self):
        env = dict(os.environ)
        env["LD_PRELOAD"] = os.environ["JMALLOC_LIB"]
        env["JMALLOC_STATS_DIR"] = jmd.STATS_DIR
        self.p = subprocess.Popen([sys.executable, os.path.join(HERE, "fragmenter.py")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        line = self.p.stdout.readline().decode().split()
        check(len(line) == 2 and line[0] == "ready", "fragmenter did not start: %r" % line)
        self.pid = int(line[1])

    def cmd(self, line):
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()
        r = self.p.stdout.readline().decode().strip()
        check(r.startswith("ok"), "fragmenter %r answered %r" % (line, r))
        return time.time()

    def exit(self):
        self.p.stdin.write(b"exit\n")
        self.p.stdin.flush()
        self.p.wait()


def log_port(log_path, timeout=20.0):
    """The port jmstatd's log says it serves metrics on."""
    def port():
        try:
            m = re.search(r"metrics: serving http://[^ ]*:(\d+)/metrics", open(log_path).read())
        except OSError:
            return None
        return int(m.group(1)) if m else None
    return wait_until(port, "the metrics line in " + log_path, timeout)


def http_get(port, path="/metrics", method="GET", raw=None, timeout=30.0):
    """(status, headers dict lower-cased, body str); raw sends bytes as they are."""
    if raw is not None:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.sendall(raw)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        return status, headers, body.decode()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path)
    r = c.getresponse()
    body = r.read().decode()
    headers = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, headers, body


LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{name: [(labels dict, value float)]}, and the TYPE of each family."""
    series, types = {}, {}
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
            continue
        if line.startswith("#"):
            continue
        m = LINE.match(line)
        check(m is not None, "not an exposition line: %r" % line)
        labels = dict(LABEL.findall(m.group(3) or ""))
        series.setdefault(m.group(1), []).append((labels, float(m.group(4))))
    return series, types


def value(series, name, **labels):
    """The one value of name with exactly these labels (None if absent)."""
    want = {k: str(v) for k, v in labels.items()}
    for l, v in series.get(name, []):
        if l == want:
            return v
    return None


def scrape(port):
    status, headers, body = http_get(port)
    check(status == 200, "GET /metrics: %d" % status)
    return parse(body)[0]
