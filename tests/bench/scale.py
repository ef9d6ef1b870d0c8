#!/usr/bin/env python3
"""scale.py: jmstatd at scale (issue 5), part of `make bench`.

Phase 1: N (default 1000) real preloaded processes (`sleep`, under
LD_PRELOAD=libjmalloc.so) publish their segments; jmstatd samples them at a
1 s interval. Measured: the daemon's CPU share over a window, its peak
RSS, `jmctl ps` latency (p50, p99 over many requests), and how long a new
process takes to appear in `ps`.

Phase 2: M (default 10000) segments: the N real ones plus copies of a real
segment rewritten for the pids of plain (unpreloaded) `sleep` processes, so
that every one is a valid, live segment. Measured: whether the daemon still
answers, its sampling pass, and whether it says it stretched its interval.

Targets (issue 5): under 2% of one core and 64 MiB RSS at 1000 processes,
ps p99 under 50 ms, a new process visible within one interval. The machine
is shared: read the load average printed with the figures.

Usage: scale.py [--procs N] [--segments M] [--window S] [--out DIR]
"""
import argparse
import glob
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

from daemonbench import ROOT, LIB, JMSTATD, JMCTL, request, cpu_seconds, rss_kib


def segment_of(stats, pid):
    """pid's segment in stats, whichever form its name has (jmalloc.<pid>.stats
    in the host's pid namespace, jmalloc.<pid>.<pidns>.<start>[.<tag>].stats
    in any other)."""
    plain = os.path.join(stats, "jmalloc.%d.stats" % pid)
    if os.path.exists(plain):
        return plain
    return sorted(glob.glob(os.path.join(glob.escape(stats), "jmalloc.%d.*.stats" % pid)))[0]


def name_of(pid, start):
    """The name the allocator gives a process of our pid namespace."""
    ns = os.stat("/proc/self/ns/pid").st_ino
    if ns == 4026531836:
        return "jmalloc.%d.stats" % pid
    return "jmalloc.%d.%d.%d.stats" % (pid, ns, start)


def start_time(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--procs", type=int, default=int(os.environ.get("JM_SCALE_PROCS", 1000)))
    ap.add_argument("--segments", type=int, default=int(os.environ.get("JM_SCALE_SEGMENTS", 10000)))
    ap.add_argument("--window", type=float, default=float(os.environ.get("JM_SCALE_WINDOW", 30)))
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="jmscale.")
    stats = os.path.join(tmp, "shm")
    os.mkdir(stats)
    sock = os.path.join(tmp, "s.sock")
    procs = []
    daemon = None
    try:
        env = dict(os.environ, LD_PRELOAD=LIB, JMALLOC_STATS_DIR=stats)
        for _ in range(args.procs):
            procs.append(subprocess.Popen(["sleep", "3600"], env=env))
        deadline = time.time() + 120
        while len(os.listdir(stats)) < args.procs and time.time() < deadline:
            time.sleep(0.2)
        print("scale: %d preloaded processes, %d segments" % (args.procs, len(os.listdir(stats))))

        daemon = subprocess.Popen([JMSTATD, "--socket", sock, "--stats-dir", stats, "--interval", "1000"],
                                  stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "log"), "w"))
        while not os.path.exists(sock):
            time.sleep(0.05)
        while len(request(sock, {"cmd": "ps"})["processes"]) < args.procs:
            time.sleep(0.2)
        time.sleep(2)
        c0, t0 = cpu_seconds(daemon.pid), time.time()
        time.sleep(args.window)
        c1, t1 = cpu_seconds(daemon.pid), time.time()
        cpu = 100.0 * (c1 - c0) / (t1 - t0)

        lat = []
        for _ in range(args.requests):
            s = time.time()
            subprocess.run([JMCTL, "--socket", sock, "ps"], stdout=subprocess.DEVNULL, check=True)
            lat.append(1000.0 * (time.time() - s))
            time.sleep(0.02)

        appear = []
        for _ in range(5):
            s = time.time()
            p = subprocess.Popen(["sleep", "3600"], env=env)
            procs.append(p)
            while not any(x["pid"] == p.pid for x in request(sock, {"cmd": "ps"})["processes"]):
                time.sleep(0.01)
            appear.append(1000.0 * (time.time() - s))
        load = os.getloadavg()
        ver = request(sock, {"cmd": "version"})
        print("scale: %d processes, interval 1000 ms: jmstatd CPU %.2f%% of a core over %.0f s (target < 2%%), "
              "peak RSS %.1f MiB (target < 64), jmctl ps p50 %.1f ms p99 %.1f ms over %d (target p99 < 50), "
              "new process in ps after %.0f ms at worst (target < 1000); tick %s ms; load average %.1f %.1f %.1f"
              % (args.procs, cpu, t1 - t0, rss_kib(daemon.pid) / 1024.0, pct(lat, 50), pct(lat, 99),
                 len(lat), max(appear), ver.get("tick_ms", "?"), *load))

        # Phase 2: more segments, copies of a real one for plain sleeps.
        if args.segments > len(procs):
            src = segment_of(stats, procs[0].pid)
            data = bytearray(open(src, "rb").read())
            extra = []
            for _ in range(args.segments - len(procs)):
                p = subprocess.Popen(["sleep", "3600"])
                extra.append(p)
                struct.pack_into("<I", data, 28, p.pid)          # pid
                struct.pack_into("<Q", data, 32, start_time(p.pid))  # start time
                path = os.path.join(stats, name_of(p.pid, start_time(p.pid)))
                with open(path + ".tmp", "wb") as f:
                    f.write(data)
                os.rename(path + ".tmp", path)
            procs.extend(extra)
            want = len(procs)
            deadline = time.time() + 300
            n = 0
            while time.time() < deadline:
                n = len(request(sock, {"cmd": "ps"}, timeout=60)["processes"])
                if n >= want:
                    break
                time.sleep(1)
            time.sleep(5)
            lat = []
            for _ in range(20):
                s = time.time()
                request(sock, {"cmd": "ps"}, timeout=60)
                lat.append(1000.0 * (time.time() - s))
            ver = request(sock, {"cmd": "version"})
            stretched = [l for l in open(os.path.join(tmp, "log")) if "interval" in l and ("stretch" in l or "behind" in l)]
            print("scale: %d segments: %d in ps; ps p50 %.0f ms p99 %.0f ms; tick %s ms; peak RSS %.1f MiB; "
                  "the daemon says: %s" % (want, n, pct(lat, 50), pct(lat, 99), ver.get("tick_ms", "?"),
                                           rss_kib(daemon.pid) / 1024.0,
                                           stretched[-1].strip() if stretched else "(nothing about its interval)"))
        return 0
    finally:
        if daemon:
            daemon.terminate()
            daemon.wait()
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
