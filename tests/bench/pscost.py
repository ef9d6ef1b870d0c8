#!/usr/bin/env python3
#!/usr/bin/env python3
"""pscost.py: what a `ps` request and a tick of jmstatd cost, for several
builds side by side over the same processes (not part of `make bench`).

N preloaded `sleep`s, and up to M segments in all (copies of a real one
for plain `sleep`s, as scale.py makes them); then, for each build in turn
(R rounds, interleaved), a daemon at a 1 s interval over them: its CPU a
tick (over --window s), the tick's wall time (`tick_ms`), a raw `ps` on
the socket from request to the reply's last byte (the fields `jmctl ps`
asks for, and all of them: the daemon's own part, reading included), and
`jmctl ps` whole (wall, and its own CPU time). One JSON line per build
and round.

Usage: pscost.py [--procs N] [--segments M] --build NAME=DIR [--build ...]
                 [--rounds R] [--window S] [--requests K] [--jmctl J]
DIR holds a jmstatd and a jmctl (copy each build's there)."""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from daemonbench import LIB, request, cpu_seconds, rss_kib
from scale import segment_of, name_of, start_time, pct

def raw_ps(sock, obj):
    """wall ms from send to the last byte, and bytes."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    data = (json.dumps(obj) + "\n").encode()
    t0 = time.perf_counter()
    s.sendall(data)
    n = 0
    while True:
        c = s.recv(1 << 20)
        if not c:
            break
        n += len(c)
        if c.endswith(b"\n"):
            break
    t1 = time.perf_counter()
    s.close()
    return 1000 * (t1 - t0), n

# What `jmctl ps` asks for (jmctl/ps.c: ps_request, sorted by allocated).
FIELDS = ["pid", "uid", "user", "exe", "container", "allocated", "active", "mapped",
          "frag_ratio", "alloc_rate", "age", "allocated"]

def measure(name, bdir, stats, tmp, want, args):
    sock = os.path.join(tmp, name + ".sock")
    log = open(os.path.join(tmp, name + ".log"), "w")
    d = subprocess.Popen([os.path.join(bdir, "jmstatd"), "--socket", sock, "--stats-dir", stats,
                          "--interval", "1000"], stdout=subprocess.DEVNULL, stderr=log)
    try:
        while not os.path.exists(sock):
            time.sleep(0.05)
        t0 = time.time()
        while len(request(sock, {"cmd": "ps"}, timeout=60)["processes"]) < want:
            time.sleep(0.2)
        ready = time.time() - t0
        time.sleep(3)
        v0 = request(sock, {"cmd": "version"})
        c0, w0 = cpu_seconds(d.pid), time.time()
        tms = []
        end = w0 + args.window
        while time.time() < end:
            time.sleep(0.5)
            tms.append(request(sock, {"cmd": "version"})["tick_ms"])
        c1, w1 = cpu_seconds(d.pid), time.time()
        v1 = request(sock, {"cmd": "version"})
        ticks = v1["ticks"] - v0["ticks"]
        cpu_pct = 100 * (c1 - c0) / (w1 - w0)
        cpu_tick = 1000 * (c1 - c0) / max(1, ticks)
        # raw requests: the jmctl field set and all fields
        rawf, rawa, sizes = [], [], {}
        for i in range(args.requests):
            ms, n = raw_ps(sock, {"cmd": "ps", "fields": FIELDS})
            rawf.append(ms); sizes["fields"] = n
            ms, n = raw_ps(sock, {"cmd": "ps"})
            rawa.append(ms); sizes["all"] = n
            time.sleep(0.013)
        # jmctl ps: wall and its own CPU
        jw, jc = [], []
        for i in range(args.jmctl):
            s = time.perf_counter()
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([os.path.join(bdir, "jmctl"), "--socket", sock, "ps"], stdout=subprocess.DEVNULL, check=True)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            jw.append(1000 * (time.perf_counter() - s))
            jc.append(1000 * ((r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)))
            time.sleep(0.02)
        vz = request(sock, {"cmd": "version"})
        out = dict(name=name, ready_s=ready, cpu_pct=cpu_pct, cpu_ms_tick=cpu_tick,
                   tick_ms_p50=pct(tms, 50), tick_ms_max=max(tms), rss=rss_kib(d.pid) / 1024,
                   rawf_p50=pct(rawf, 50), rawf_p99=pct(rawf, 99), rawa_p50=pct(rawa, 50), rawa_p99=pct(rawa, 99),
                   size_f=sizes["fields"], size_a=sizes["all"],
                   jmctl_p50=pct(jw, 50), jmctl_p99=pct(jw, 99), jmctl_cpu_p50=pct(jc, 50),
                   ps_built=vz["ps_built"] - v1["ps_built"], load=os.getloadavg()[0])
        return out
    finally:
        d.terminate()
        d.wait()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--procs", type=int, default=1000)
    ap.add_argument("--segments", type=int, default=0)
    ap.add_argument("--build", action="append", required=True)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--window", type=float, default=15)
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--jmctl", type=int, default=50)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    tmp = tempfile.mkdtemp(prefix="pscost.")
    stats = os.path.join(tmp, "shm")
    os.mkdir(stats)
    procs = []
    try:
        env = dict(os.environ, LD_PRELOAD=LIB, JMALLOC_STATS_DIR=stats)
        for _ in range(args.procs):
            procs.append(subprocess.Popen(["sleep", "7200"], env=env))
        while len(os.listdir(stats)) < args.procs:
            time.sleep(0.2)
        if args.segments > args.procs:
            src = segment_of(stats, procs[0].pid)
            data = bytearray(open(src, "rb").read())
            for _ in range(args.segments - args.procs):
                p = subprocess.Popen(["sleep", "7200"])
                procs.append(p)
                st = start_time(p.pid)
                struct.pack_into("<I", data, 28, p.pid)
                struct.pack_into("<Q", data, 32, st)
                path = os.path.join(stats, name_of(p.pid, st))
                with open(path + ".tmp", "wb") as f:
                    f.write(data)
                os.rename(path + ".tmp", path)
        want = len(procs)
        print("setup: %d processes, %d segments" % (want, len(os.listdir(stats))), flush=True)
        for r in range(args.rounds):
            for b in args.build:
                name, bdir = b.split("=", 1)
                o = measure(name, bdir, stats, tmp, want, args)
                o["round"] = r
                print(json.dumps(o), flush=True)
        return 0
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    sys.exit(main())
