#!/usr/bin/env python3
"""pprof_serve.py: what serving a heap profile costs jmstatd's loop, part of
`make bench` (docs/pprof.md).

A real process (tests/helpers/site_fill, preloaded, prof_sample 4096) fills
its site table (1024 stacks of 24 frames, the allocator's limit); jmstatd
runs with --metrics 127.0.0.1:0 --pprof. Then /pid/PID/debug/pprof/heap is
fetched N times (default 50), one request at a time, and also
/exe/site_fill/debug/pprof/heap with COPIES (default 4) processes of it.
Measured: the daemon's CPU time per profile (its /proc stat utime + stime
over the requests, divided by their number: the daemon is one thread, so
this is the time its loop spent, reading the segment, building, encoding
and compressing), and the wall time per request seen by the client (p50,
p99), and the profile's size.

Target: under 10 ms of the daemon's loop for the profile of one process
with a full site table. The machine is shared: the load average is printed.

Usage: pprof_serve.py [--requests N] [--copies K]
"""
import argparse
import http.client
import os
import subprocess
import tempfile
import time

from daemonbench import LIB, JMSTATD, HELPERS, request, cpu_seconds


def fetch(host, port, path):
    c = http.client.HTTPConnection(host, port, timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status != 200:
        raise SystemExit("GET %s: %d %s" % (path, r.status, body[:200]))
    return body


def measure(daemon, host, port, path, n):
    walls = []
    size = 0
    cpu0 = cpu_seconds(daemon)
    for _ in range(n):
        t = time.perf_counter()
        size = len(fetch(host, port, path))
        walls.append(time.perf_counter() - t)
    cpu = (cpu_seconds(daemon) - cpu0) / n
    walls.sort()
    return cpu, walls[len(walls) // 2], walls[min(len(walls) - 1, int(len(walls) * 0.99))], size


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=int(os.environ.get("JM_PPROF_REQUESTS", 50)))
    ap.add_argument("--copies", type=int, default=4)
    args = ap.parse_args()
    helper = os.path.join(HELPERS, "site_fill")
    if not os.path.exists(helper):
        raise SystemExit("build the helpers first: make tests (%s)" % helper)
    tmp = tempfile.mkdtemp(prefix="jm-pprof-bench.")
    stats, sock = os.path.join(tmp, "stats"), os.path.join(tmp, "jmstatd.sock")
    os.mkdir(stats)
    log = open(os.path.join(tmp, "jmstatd.log"), "w+")
    daemon = subprocess.Popen([JMSTATD, "--socket", sock, "--stats-dir", stats, "--interval", "1s",
                               "--metrics", "127.0.0.1:0", "--pprof"], stdout=log, stderr=log)
    procs = []
    try:
        env = dict(os.environ, LD_PRELOAD=LIB, JMALLOC_STATS_DIR=stats, JMALLOC_CONF="prof_sample:4096")
        for _ in range(args.copies):
            procs.append(subprocess.Popen([helper, "10"], env=env, stdout=subprocess.PIPE))
        for p in procs:
            if p.stdout.readline().strip() != b"ready":
                raise SystemExit("site_fill did not start")
        addr = None
        for _ in range(100):
            log.seek(0)
            for line in log:
                if "serving http://" in line and "/metrics" in line:
                    addr = line.split("http://", 1)[1].split("/", 1)[0]
            if addr:
                break
            time.sleep(0.1)
        host, port = addr.rsplit(":", 1)
        pid = procs[0].pid
        for _ in range(100):
            try:
                r = request(sock, {"cmd": "sites", "pid": pid, "n": 1})
                if r.get("ok") and all(request(sock, {"cmd": "sites", "pid": p.pid, "n": 1}).get("ok")
                                       for p in procs):
                    break
            except OSError:
                pass
            time.sleep(0.2)
        nsites = r.get("nsites", 0)
        print("pprof_serve: process %d has %d sites (of 1024); %d processes of site_fill; load %s"
              % (pid, nsites, len(procs), " ".join("%.2f" % x for x in os.getloadavg())))
        rows = [("/pid/%d/debug/pprof/heap" % pid, "one process, full site table")]
        rows.append(("/exe/site_fill/debug/pprof/heap", "exe merge of %d processes" % len(procs)))
        for path, what in rows:
            fetch(host, port, path)     # warm
            cpu, p50, p99, size = measure(daemon.pid, host, port, path, args.requests)
            print("pprof_serve: %-34s daemon CPU %.2f ms/profile, wall p50 %.2f ms, p99 %.2f ms, "
                  "%d bytes (%s)" % (path.replace(str(pid), "PID"), cpu * 1e3, p50 * 1e3, p99 * 1e3,
                                     size, what))
            if path.startswith("/pid/"):
                verdict = "met" if cpu < 0.010 else "MISSED"
                print("pprof_serve: target < 10 ms of the daemon's loop per profile: %s" % verdict)
    finally:
        for p in procs:
            p.kill()
        daemon.terminate()
        daemon.wait()
        for p in procs:
            p.wait()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
