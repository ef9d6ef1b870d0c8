#!/usr/bin/env bash
# timeout: 240
# A flood of heap-profile requests over HTTP (--pprof) cannot take the
# daemon's loop from root's requests on the Unix socket. HTTP tells no uid,
# so the per-user budget of the socket's `sites` (tests/sites/flood.test.sh)
# does not apply there: before, every /pid/PID/debug/pprof/heap read the
# segment and encoded the profile anew (about 1 ms of the loop for 1,024
# stacks; /exe/NAME profiles were kept, 8 of them), and a client asking
# for the profiles of 64 processes in a loop kept the daemon busy (all
# the CPU a loaded machine gave it) and root's requests waiting. Now a profile is built once per path and tick and shared, and
# every profile the HTTP listener builds in a tick comes out of one
# budget (1/10 of the interval's CPU): past it, a request waits for the
# next tick. Here, as nobody:
#  64 processes with 1,024 distinct stacks each (site_fill), and 4 x 6
#  connections at a time asking /pid/PID/debug/pprof/heap of each in
#  turn (and allocs, and /exe/site_fill) for JM_FLOOD_S seconds (10),
#  while root asks `version` on the Unix socket every 50 ms:
#  - every profile request is answered 200 (some after a tick);
#  - the daemon built no more profiles than its budget allows (version's
#    pprof_built), the rest shared (pprof_kept) or put off (pprof_deferred:
#    unless the daemon took less than its budget, 10% of a CPU, over the
#    flood: then there was nothing to put off; and if the flood asked no
#    path twice in a tick, a few requests a second under load, one asked
#    twice after it is served kept);
#  - the daemon's CPU over the flood stays under 35% of a CPU (it took
#    40-60% before, as much as a loaded machine gave it);
#  - what root's `version` waits for, counted as the daemon's own CPU time
#    between root's asking and its answer (the work the loop did before
#    it), has a median under 10 ms, or 3 times its 90th percentile before
#    the flood: 0.3 ms quiet, 0.4-2.3 ms at load 24-30 (the daemon at
#    nice -10, below); 30-42 ms before, at load 8-21. Root's wall-clock
#    waits are printed, not judged: they are the machine's (a median of
#    74 ms at load 24.5, against 41 allowed; 33 ms at load 30, 2.3 ms of
#    it the daemon's);
#  - no connection is reset: a newcomer was closed unread when the
#    connections closed after their replies in the same pass of the loop
#    were still counted against the 32 (one in 5 to 300 requests here).
# (Under a sanitizer, the CPU and what root waits for are not judged, and a request
# that waited 10 s for the budget may be told 503.)
. "$(dirname "$0")/../lib.sh"
need_users "flood the listener as nobody"
need_segments
[ -x "$JM_HELPERS/site_fill" ] || skip "site_fill helper not built"
JMD_INTERVAL=${JMD_INTERVAL_FLOOD:-1000}
jmd_start --metrics 127.0.0.1:0 --pprof
# The budget protects root only once the flood's builds would take more
# than it, 1/10 of a CPU: on a loaded machine the daemon, one task among
# 25-30 on 2 CPUs, got 3-4% of one, built every profile asked as it came
# (as before), and root's request waited behind a pass of them (31-38 ms
# of its CPU, 0.8-1 s of the wall at load 22-25): what is judged here is
# the daemon's policy, not the machine's share of it. Nice -10: the
# daemon gets the CPU a quiet machine would give it, the flooders do not.
renice -n -10 -p "$JMD_PID" >/dev/null || fail "renice -n -10 the daemon"
NPROC=${JM_FLOOD_PROCS:-64}
for i in $(seq "$NPROC"); do
	LD_PRELOAD=$JMALLOC_LIB JMALLOC_STATS_DIR=$JMD_STATS JMALLOC_CONF=prof_sample:4096 \
		"$JM_HELPERS/site_fill" 10 >"$JM_TMP/fill.$i" &
	PIDS+=("$!")
done
for i in $(seq "$NPROC"); do wait_line "$JM_TMP/fill.$i" '^ready$'; done
JMD_URL=$JMD_URL NPROC=$NPROC PIDS="${PIDS[*]}" FLOOD_S=${JM_FLOOD_S:-10} \
JMD_DAEMON_PID=$JMD_PID jmd_py - <<'PY' || fail "a flood of profile requests"
from jmd import *
import subprocess

NOBODY = 65534
pids = [int(p) for p in os.environ["PIDS"].split()]
host, port = os.environ["JMD_URL"][len("http://"):].rsplit(":", 1)
port = int(port)
flood_s = float(os.environ["FLOOD_S"])
wait_until(lambda: set(pids) <= set(ps_pids()), "the %d processes listed" % len(pids), timeout=60)

def cpu():
    with open("/proc/%s/stat" % os.environ["JMD_DAEMON_PID"]) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")

FLOOD = r"""
import json, selectors, socket, sys, time
host, port, flood_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
paths = sys.argv[4:]
def flood():
    # 6 connections at a time, each one GET of a profile, the paths in
    # turn: {status: count}, and the slowest answer.
    sel = selectors.DefaultSelector()
    k, codes, slowest = 0, {}, 0.0
    end = time.monotonic() + flood_s
    def start():
        nonlocal k
        s = socket.socket()
        s.connect((host, port))
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % paths[k % len(paths)].encode())
        k += 1
        sel.register(s, selectors.EVENT_READ, [bytearray(), time.monotonic()])
    for _ in range(6):
        start()
    while sel.get_map():
        for key, _ in sel.select(1.0):
            try:
                chunk = key.fileobj.recv(1 << 20)
            except ConnectionResetError:
                chunk = b""
                key.data.append("reset")
            if chunk:
                key.data[0] += chunk
                continue
            sel.unregister(key.fileobj)
            key.fileobj.close()
            head = bytes(key.data[0][:12])
            code = head[9:12].decode() if head.startswith(b"HTTP/1.1 ") else "none:%d:%s" % (len(key.data[0]), key.data[2:])
            codes[code] = codes.get(code, 0) + 1
            slowest = max(slowest, time.monotonic() - key.data[1])
            if time.monotonic() < end:
                start()
    return [codes, slowest]
print(json.dumps(flood()))
"""
paths = []
for p in pids:
    paths += ["/pid/%d/debug/pprof/heap" % p, "/pid/%d/debug/pprof/allocs" % p]
paths.append("/exe/site_fill/debug/pprof/heap")

# The daemon's CPU time (all its threads, in ns: the kernel's clock of
# another process, CPUCLOCK_SCHED), read as root.
DAEMON_CPU = ((~int(os.environ["JMD_DAEMON_PID"])) << 3) | 2

def root_asks(until):
    lat, ahead = [], []
    while until():
        c = time.clock_gettime_ns(DAEMON_CPU)
        a = time.monotonic()
        check(request({"cmd": "version"})["ok"], "root's version")
        lat.append(time.monotonic() - a)
        ahead.append((time.clock_gettime_ns(DAEMON_CPU) - c) / 1e9)
        time.sleep(0.05)
    lat.sort()
    ahead.sort()
    return (lat[len(lat) // 2], lat[int(len(lat) * 0.9)], lat[-1], len(lat),
            ahead[len(ahead) // 2], ahead[int(len(ahead) * 0.9)])

b_end = time.monotonic() + 3
base = root_asks(lambda: time.monotonic() < b_end)
v0 = request({"cmd": "version"})
c0 = cpu()
t0 = time.monotonic()
result = {}
FLOODERS = 4
# As nobody, each with its own rotation of the paths.
fl = [subprocess.Popen(["/usr/bin/python3", "-c", FLOOD, host, str(port), str(flood_s)] +
                       paths[i * 17:] + paths[:i * 17], stdout=subprocess.PIPE,
                       **as_user(NOBODY)) for i in range(FLOODERS)]
med, p90, worst, asked, cmed, c90 = root_asks(lambda: any(f.poll() is None for f in fl))
for i, f in enumerate(fl):
    out = f.communicate()[0]
    check(f.returncode == 0 and out, "flooder %d: exit %d" % (i, f.returncode))
    result[i] = json.loads(out)
wall = time.monotonic() - t0
c1 = cpu()
v1 = request({"cmd": "version"})
codes, slowest = {}, 0.0
for i in range(FLOODERS):
    for c, k in result[i][0].items():
        codes[c] = codes.get(c, 0) + k
    slowest = max(slowest, result[i][1])
n = sum(codes.values())
ticks = v1["ticks"] - v0["ticks"]
share = (c1 - c0) / wall
get = lambda k: v1.get(k, 0) - v0.get(k, 0)
line = ("%d profile requests in %.1f s (%s, slowest %.2f s), %d ticks; daemon CPU %.0f%%; "
      "built %d, kept %d, deferred %d; root's version x%d: median %.1f ms, 90th %.1f ms, worst %.1f ms "
      "(before the flood: %.1f, %.1f, %.1f ms); the daemon's CPU while root waited: median %.2f ms, "
      "90th %.2f ms (before the flood: %.2f, %.2f ms); load %.1f"
      % (n, wall, codes, slowest, ticks, 100 * share, get("pprof_built"), get("pprof_kept"),
         get("pprof_deferred"), asked, 1000 * med, 1000 * p90, 1000 * worst, 1000 * base[0],
         1000 * base[1], 1000 * base[2], 1000 * cmed, 1000 * c90, 1000 * base[4], 1000 * base[5],
         os.getloadavg()[0]))
print(line)
if os.environ.get("JM_FLOOD_OUT"):      # the figures, for whoever measures
    with open(os.environ["JM_FLOOD_OUT"], "a") as f:
        f.write(line + "\n")
# Under ASan a profile takes several times the CPU, the budget builds a few
# a tick, and a request that waited 10 s for it is told 503 + Retry-After
# (as designed: 9 of 36 at load 20); everywhere else every one is a 200.
allowed = {"200", "503"} if os.environ.get("JM_SANITIZED") else {"200"}
check(set(codes) <= allowed and codes.get("200", 0) > 0,
      "profile requests not answered %s: %r" % (" or ".join(sorted(allowed)), codes))
check("pprof_built" in v1, "version does not count pprof_built")
check(get("pprof_built") > 0, "no profile built")
# The budget is 1/10 of the interval's CPU: a daemon that the machine's
# load gave less than that over the flood had nothing to put off.
check(get("pprof_deferred") > 0 or share < 0.10,
      "none put off, with the daemon at %.0f%% of a CPU" % (100 * share))
if not os.environ.get("JM_SANITIZED"):
    if get("pprof_kept") == 0:
        # Under load the flood may have asked no path twice in a tick (a
        # few requests a second): one path asked twice in a row, the
        # second is the first one's, kept (a tick between them: again).
        import urllib.request
        url = "http://%s:%d%s" % (host, port, paths[0])
        for _ in range(20):
            for _ in range(2):
                urllib.request.urlopen(url, timeout=60).read()
            v1 = request({"cmd": "version"})
            if get("pprof_kept") > 0:
                break
    check(get("pprof_kept") > 0, "no profile served again as kept")
    # Under ASan the tick itself (64 segments of 1,024 sites) takes more
    # than the interval: times and CPU say nothing there.
    check(share < 0.35, "the daemon took %.0f%% of a CPU over the flood" % (100 * share))
    # The machine is shared, and its load makes root wait whatever the
    # daemon does: what root waits for is the daemon's work before its
    # answer, its CPU time, judged against that before the flood (3 times
    # its 90th percentile).
    check(cmed < max(0.010, 3 * base[5]),
          "root's version waited for %.2f ms of the daemon's CPU (median; %.2f ms before the flood)"
          % (1000 * cmed, 1000 * base[4]))
PY
jmd_stop
ok "a flood of profile requests over HTTP: within its budget, root's requests answered throughout"
