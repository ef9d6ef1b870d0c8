"""alib.py: what the alert and metrics tests share (python3, stdlib only),
on top of tests/daemon/jmd.py: a driver for fragmenter.py, an HTTP client
for jmstatd's /metrics and a parser of the Prometheus text format.
"""
import atexit
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
    """tests/alerts/fragmenter.py under LD_PRELOAD, driven over pipes. As
    another uid (user): fragmenter.py and the allocator from pub, where
    lib.sh's jm_public copied them, and no samples (prof_sample:0)."""

    def __init__(self, user=None, pub=None):
        env = dict(os.environ)
        script = os.path.join(pub or HERE, "fragmenter.py")
        env["LD_PRELOAD"] = os.path.join(pub, "libjmalloc.so") if pub else os.environ["JMALLOC_LIB"]
        env["JMALLOC_STATS_DIR"] = jmd.STATS_DIR
        if user is not None:
            env["JMALLOC_CONF"] = "prof_sample:0"
        # Another user cannot run our python (pyenv's under /root, the
        # runner's link to it in its private directory): the system's.
        python = sys.executable if user is None else "/usr/bin/python3"
        self.p = subprocess.Popen([python, script], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, env=env, **as_user(user))
        line = self.p.stdout.readline().decode().split()
        check(len(line) == 2 and line[0] == "ready", "fragmenter did not start: %r" % line)
        self.pid = int(line[1])

    def send(self, line):
        """A command that is not answered (exec, exit)."""
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()

    def cmd(self, line):
        self.send(line)
        r = self.p.stdout.readline().decode().strip()
        check(r.startswith("ok"), "fragmenter %r answered %r" % (line, r))
        return time.time()

    def exit(self):
        self.send("exit")
        self.p.wait()


def rule_alert(rule, pid):
    """The alert of rule for process pid in an `alerts` reply (None if
    there is none), and the reply's time (tests/alerts/clock_step,
    clock_back)."""
    r = jmd.request({"cmd": "alerts"})
    jmd.check(r["ok"], "alerts: %r" % r)
    v = [a for a in r["alerts"] if a["rule"] == rule and a["pid"] == pid]
    return (v[0] if v else None), r["time"]


def command_lines():
    """lib.sh's blocking_command's log ($CMDLOG), each line split:
    ["start" or "end", the UID (or KEY's value), the alert's id]."""
    path = os.environ["CMDLOG"]
    return [l.split() for l in open(path)] if os.path.exists(path) else []


def queued_alert(pub):
    """After lib.sh's frag_rule_start and `nobody_frags 2`: waits until
    nobody's two alert commands run (holding nobody's two slots), then
    starts a third fragmenting process of nobody's (a Fragmenter from pub)
    whose alert fires while its command waits in the queue. Returns the
    Fragmenter (killed at exit) and its alert's id."""
    wait_until(lambda: sum(1 for l in command_lines() if l[0] == "start") == 2,
               "nobody's two commands running", timeout=90)
    f = Fragmenter(user=65534, pub=pub)
    atexit.register(f.p.kill)
    f.cmd("frag 64 40000")

    def firing():
        return [a for a in request({"cmd": "alerts"})["alerts"]
                if a["pid"] == f.pid and a["state"] == "firing"]
    aid = wait_until(firing, "the third process's alert firing", timeout=90)[0]["id"]
    check(sum(1 for l in command_lines() if l[0] == "start") == 2, "its command started: not queued")
    return f, aid


def release_queued(aid, skipped, log):
    """Lets nobody's running commands end (blocking_command's $RELEASE), so
    that the queued command of alert aid is taken; returns "ran" once it
    started, or "skipped" once jmstatd's log (the file log) has a line
    matching the regular expression skipped."""
    open(os.environ["RELEASE"], "w").close()

    def outcome():
        if any(l[0] == "start" and l[2] == str(aid) for l in command_lines()):
            return "ran"
        if re.search(skipped, open(log).read()):
            return "skipped"
        return None
    return wait_until(outcome, "the queued command to run or be skipped", timeout=60)


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
        data = jmd.read_to_close(s)
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
