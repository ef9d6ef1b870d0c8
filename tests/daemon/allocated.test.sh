#!/usr/bin/env bash
# timeout: 180
# `allocated` is what the program holds, to the byte, and a small bin's
# in-use count is the number of its objects the program holds, with the
# default settings (sampling on: a sampled small object sits on a page of
# its own, outside the bin's runs):
# - tests/helpers/cache_holder's idle worker allocates 10,000 small blocks,
#   then 40 large ones, then 4 huge ones, then frees them all; once two
#   samples after each step agree, `jmctl --json stats` shows allocated moved by exactly the sum
#   of their malloc_usable_size, the small bin's inuse by exactly 10,000
#   (cursampled of them sampled), and after the frees both back to where
#   they were; the arenas' allocated add up to the process's;
# - the same with 8 more threads whose caches hold small and large regions
#   all along (their bytes are not allocated: allocated grows by less than
#   a few hundred bytes a thread, their thread stacks' bookkeeping, while
#   each caches tens of KiB);
# - once more with sampling every 16 KiB, so that sampled small objects
#   are certain (cursampled > 0) and still counted in their bin.
# (The bugs this catches: the large regions a thread caches counted as
# allocated; sampled small objects missing from their bin's in-use count.)
. "$(dirname "$0")/../lib.sh"
need_segments
[ -x "$JM_HELPERS/cache_holder" ] || skip "cache_holder helper not built"
need_jmctl
jmd_start

jmd_py - "$JMCTL" <<'EOF' || fail "allocated"
import json, os, subprocess, sys, time
from jmd import *

jmctl = sys.argv[1]
SMALL, NSMALL = 200, 10000
LARGE, NLARGE = 20000, 40
HUGE, NHUGE = 5 << 20, 4

def jstats(pid):
    out = subprocess.run([jmctl, "--socket", SOCK, "--json", "stats", str(pid)],
                         capture_output=True, text=True)
    check(out.returncode == 0, "jmctl --json stats: %s" % out.stderr)
    return json.loads(out.stdout)

def settled(pid):
    """The figures once the process is idle after a step: two samples in a
    row, both taken after it, agree on allocated and on every bin's in-use
    count (no fixed pause: on a loaded machine none is long enough)."""
    t = time.time()
    seen = []
    def figures(r):
        return r["allocated"], [(b["size"], b["inuse"]) for b in r["bins"]]
    def idle():
        r = jstats(pid)
        if r["time"] <= t + 0.002 or (seen and r["time"] == seen[-1]["time"]):
            return False
        seen.append(r)
        return len(seen) >= 2 and figures(seen[-2]) == figures(r)
    wait_until(idle, "two samples in a row that agree after the step")
    return seen[-1]

def small_bin(r):
    return [b for b in r["bins"] if b["size"] >= SMALL][0]

def run(nthreads, conf=None, what=""):
    env = dict(os.environ, LD_PRELOAD=os.environ["JMALLOC_LIB"], JMALLOC_STATS_DIR=STATS_DIR)
    env.pop("JMALLOC_CONF", None)
    if conf:
        env["JMALLOC_CONF"] = conf
    p = subprocess.Popen([os.path.join(os.environ["JM_HELPERS"], "cache_holder"), str(nthreads)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    line = p.stdout.readline().decode().split()
    check(len(line) == 2 and line[0] == "ready", "cache_holder did not start: %r" % line)
    pid = int(line[1])
    def cmd(c):
        p.stdin.write((c + "\n").encode())
        p.stdin.flush()
        r = p.stdout.readline().decode().split()
        check(r[:1] == ["ok"], "cache_holder %r answered %r" % (c, r))
        return int(r[1]) if len(r) > 1 else 0
    wait_until(lambda: pid in ps_pids(), "cache_holder in ps")
    base = settled(pid)
    check(base["nthreads"] >= nthreads + 1, "%s: %d threads" % (what, base["nthreads"]))
    b0 = small_bin(base)
    held = 0
    sampled = 0
    for size, n in ((SMALL, NSMALL), (LARGE, NLARGE), (HUGE, NHUGE)):
        held += cmd("alloc %d %d" % (size, n))
        r = settled(pid)
        b = small_bin(r)
        print("%s: after %d x %d: allocated %+d (usable %d), bin %d inuse %+d (%d sampled)" %
              (what, n, size, r["allocated"] - base["allocated"], held, b["size"],
               b["inuse"] - b0["inuse"], b["cursampled"]))
        check(r["allocated"] - base["allocated"] == held,
              "%s: after %d x %d B, allocated moved by %d, the blocks' usable size is %d" %
              (what, n, size, r["allocated"] - base["allocated"], held))
        check(b["inuse"] - b0["inuse"] == NSMALL,
              "%s: bin %d in use moved by %d, not %d (%d sampled)" %
              (what, b["size"], b["inuse"] - b0["inuse"], NSMALL, b["cursampled"]))
        check(b["inuse"] == b["inuse_runs"] + b["cursampled"], "bin %r" % b)
        check(sum(a["allocated"] for a in r["arenas"]) == r["allocated"],
              "%s: the arenas' allocated %d, the process's %d" %
              (what, sum(a["allocated"] for a in r["arenas"]), r["allocated"]))
        sampled = max(sampled, b["cursampled"])
    cmd("free")
    r = settled(pid)
    check(r["allocated"] == base["allocated"],
          "%s: after the frees allocated is %d, %+d from before" %
          (what, r["allocated"], r["allocated"] - base["allocated"]))
    check(small_bin(r)["inuse"] == b0["inuse"], "%s: bin in use %d, before %d" %
          (what, small_bin(r)["inuse"], b0["inuse"]))
    check(sum(a["allocated"] for a in r["arenas"]) == r["allocated"], "%s: arenas after the frees" % what)
    p.stdin.write(b"exit\n")
    p.stdin.flush()
    p.wait()
    return base, sampled

alone, _ = run(0, what="one thread")
many, _ = run(8, what="8 caching threads")
# Each caching thread holds tens of KiB in its caches (16-28 KiB large
# regions, small ones): none of it is allocated.
grown = many["allocated"] - alone["allocated"]
check(grown < 8 * 1024, "8 threads with full caches add %d bytes to allocated" % grown)
cached = sum(b["cached"] * b["size"] for b in many["bins"])
check(cached > 8 * 1024, "the caching threads cache only %d bytes of small regions" % cached)
_, sampled = run(2, conf="prof_sample:16384", what="sampling every 16 KiB")
check(sampled > 0, "no sampled small object with prof_sample:16384")
print("ok")
EOF
jmd_stop
echo ok
