"""daemonbench.py: what the benchmarks of jmstatd share (containers.py,
scale.py, pprof_serve.py): where the programs are (the environment `make
bench` gives, else the tree's own paths), a request on the daemon's socket,
and a process's CPU time and memory from /proc."""
import json
import os
import socket

ROOT = os.environ.get("JM_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.environ.get("JMALLOC_LIB", os.path.join(ROOT, "liballoc/libjmalloc.so"))
JMSTATD = os.environ.get("JMSTATD", os.path.join(ROOT, "jmstatd/jmstatd"))
JMCTL = os.environ.get("JMCTL", os.path.join(ROOT, "jmctl/jmctl"))
HELPERS = os.environ.get("JM_HELPERS", os.path.join(ROOT, "build/tests/helpers"))
TICK = os.sysconf("SC_CLK_TCK")


def request(sock, obj, timeout=30.0):
    """One request on jmstatd's socket: its reply, decoded."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock)
    s.sendall((json.dumps(obj) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)


def cpu_seconds(pid):
    """The CPU time (user + system) pid has used."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid, key="VmHWM"):
    """A field of /proc/PID/status in KiB (VmHWM: the peak RSS), 0 if absent."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0
