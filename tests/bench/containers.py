#!/usr/bin/env python3
"""containers.py: jmstatd's cost with processes in containers, beside the
same number on the host, in one run (issue 13).

Phase host: N (default 1000) preloaded `sleep` processes in the host's
stats directory. Phase containers: C (default 200) containers made as
runtimes make them (unshare --pid --fork --mount-proc --mount --ipc), each
with a private tmpfs on the stats directory and N/C preloaded `sleep`
processes, which the daemon finds by itself (a walk of the mount
namespaces, one directory per container, host pids through the census).
Each phase starts its own jmstatd (1 s interval) once every process has
published, waits until ps lists them all, then measures over a window: the
daemon's CPU share, its peak RSS (VmHWM), and ps latency.

Needs root. Usage: containers.py [--procs N] [--containers C] [--window S]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

from daemonbench import LIB, JMSTATD, request, cpu_seconds, rss_kib


def count_files(top):
    return sum(1 for n in os.listdir(top) if n.startswith("jmalloc."))


def measure(tmp, stats, want, window, label):
    sock = os.path.join(tmp, "jmstatd-%s.sock" % label)
    log = open(os.path.join(tmp, "jmstatd-%s.log" % label), "w")
    d = subprocess.Popen([JMSTATD, "--socket", sock, "--stats-dir", stats, "--interval", "1000"],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        t0 = time.monotonic()
        while True:
            try:
                n = len(request(sock, {"cmd": "ps", "fields": ["pid"]}, 60)["processes"])
            except OSError:
                n = -1
            if n >= want:
                break
            if time.monotonic() - t0 > 180:
                sys.exit("%s: only %d of %d processes in ps after 180 s" % (label, n, want))
            time.sleep(0.5)
        seen = time.monotonic() - t0
        time.sleep(2)
        c0, w0 = cpu_seconds(d.pid), time.monotonic()
        lat = []
        while time.monotonic() - w0 < window:
            r0 = time.monotonic()
            request(sock, {"cmd": "ps"}, 60)
            lat.append(time.monotonic() - r0)
            time.sleep(0.5)
        cpu = (cpu_seconds(d.pid) - c0) / (time.monotonic() - w0)
        lat.sort()
        return {"label": label, "all_seen_s": seen, "cpu_pct": 100 * cpu, "hwm_mib": rss_kib(d.pid) / 1024,
                "ps_p50_ms": 1000 * lat[len(lat) // 2], "ps_max_ms": 1000 * lat[-1]}
    finally:
        d.terminate()
        d.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--procs", type=int, default=1000)
    ap.add_argument("--containers", type=int, default=200)
    ap.add_argument("--window", type=float, default=20)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root")
    per = a.procs // a.containers
    tmp = tempfile.mkdtemp(prefix="jmbench.")
    stats = os.path.join(tmp, "shm")
    os.mkdir(stats)
    os.chmod(stats, 0o1777)
    env = dict(os.environ, JMALLOC_STATS_DIR=stats)
    env.pop("LD_PRELOAD", None)
    results = []
    procs = []
    try:
        # host
        penv = dict(env, LD_PRELOAD=LIB)
        for i in range(a.procs):
            procs.append(subprocess.Popen(["sleep", "3600"], env=penv))
        while count_files(stats) < a.procs:
            time.sleep(0.2)
        results.append(measure(tmp, stats, a.procs, a.window, "host"))
        for p in procs:
            p.kill()
            p.wait()
        procs = []
        for n in os.listdir(stats):
            os.unlink(os.path.join(stats, n))
        # containers
        script = ('mount -t tmpfs -o mode=1777 bench "$JMALLOC_STATS_DIR" || exit 1; '
                  'i=0; while [ $i -lt %d ]; do LD_PRELOAD=%s sleep 3600 & i=$((i+1)); done; wait'
                  % (per, LIB))
        for i in range(a.containers):
            procs.append(subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "--mount", "--ipc",
                                           "--kill-child=KILL", "sh", "-c", script], env=env))
        time.sleep(5)
        results.append(measure(tmp, stats, per * a.containers, a.window, "containers"))
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
    h, c = results
    for r in results:
        print("%-10s all %d in ps after %5.1f s; jmstatd CPU %5.2f%% of a core, peak RSS %5.1f MiB; "
              "ps p50 %5.1f ms, max %5.1f ms" % (r["label"], a.procs, r["all_seen_s"], r["cpu_pct"],
                                                 r["hwm_mib"], r["ps_p50_ms"], r["ps_max_ms"]))
    print("containers / host: CPU %.2f, peak RSS %.2f, ps p50 %.2f (load average %s)"
          % (c["cpu_pct"] / max(h["cpu_pct"], 1e-9), c["hwm_mib"] / h["hwm_mib"],
             c["ps_p50_ms"] / h["ps_p50_ms"], open("/proc/loadavg").read().split()[0]))


if __name__ == "__main__":
    main()
