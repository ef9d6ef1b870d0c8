#!/usr/bin/env bash
# timeout: 120
# jmstatd with real preloaded processes: a new process shows up without
# waiting for a tick, its counters match what it allocated exactly, a
# killed process disappears and its segment file is removed, a segment
# whose pid now belongs to an unrelated process is not taken for it, and a
# process that exits normally leaves the live view but keeps its history.
. "$(dirname "$0")/../lib.sh"
need_segments

# A one-hour interval: after the first tick, only the directory watch can
# make a new process appear.
JMD_INTERVAL=3600000 jmd_start --verbose
JMD_INTERVAL=3600000 jmd_py - <<'EOF' || fail "discovery through the directory watch"
from jmd import *
h = Holder()
p = wait_until(lambda: ps_pids().get(h.pid), "pid %d in ps without a tick" % h.pid, timeout=20)
check(p["exe"] == "daemon_holder", "exe %r" % p["exe"])
check(p["uid"] == os.getuid(), "uid %r" % p["uid"])
h.exit()
EOF
jmd_stop

jmd_start
jmd_py - <<'EOF' || fail "counters, death, pid reuse"
from jmd import *
import shutil, struct

h = Holder()
wait_until(lambda: ps_pids().get(h.pid), "pid %d in ps" % h.pid)

def bin_of(st, size):
    for b in st["bins"]:
        if b["size"] == size:
            return b
    fail("no bin of size %d in %r" % (size, [b["size"] for b in st["bins"]]))

# The background purger first: the free that starts it (one that makes
# 4 MiB dirty in a young process, docs/purging.md) has glibc allocate its
# thread's TLS through malloc, a few hundred bytes live as long as it
# runs, which are in the baseline then, so that everything below is exact.
h.cmd("alloc %d 1" % (8 << 20))
t = h.cmd("free")
before = stats_after(h.pid, t)
check(before["ok"], "stats: %r" % before)
check(before["bg_running"], "premise: the purger runs after an 8 MiB free")

# Small: 1000 regions of a size that is a class of its own.
for k in ("pid", "uid", "user", "exe", "start_time", "age", "nthreads", "narenas", "allocated",
          "active", "mapped", "dirty", "small_wasted", "frag_ratio", "alloc_rate", "free_rate",
          "arenas", "bins"):
    check(k in before, "stats lacks %r" % k)
check(len(before["arenas"]) == before["narenas"], "one row per arena")
for k in ("bin", "size", "regs_per_run", "run_size", "nmalloc", "ndalloc", "nrequests", "curregs",
          "cached", "inuse", "curruns", "nruns", "nfills", "nflushes", "util", "wasted_bytes",
          "malloc_rate", "request_rate"):
    check(k in before["bins"][0], "bin lacks %r" % k)
b0 = bin_of(before, 64)
t = h.cmd("alloc 64 1000")
after = stats_after(h.pid, t)
b1 = bin_of(after, 64)
check(b1["inuse"] - b0["inuse"] == 1000, "inuse moved by %d, not 1000" % (b1["inuse"] - b0["inuse"]))
check(after["allocated"] - before["allocated"] == 64000,
      "allocated moved by %d, not 64000" % (after["allocated"] - before["allocated"]))
check(b1["nrequests"] - b0["nrequests"] >= 1000, "nrequests moved by %d" % (b1["nrequests"] - b0["nrequests"]))
check(b1["inuse"] == b1["curregs"] - b1["cached"], "inuse = curregs - cached")
cap = b1["curruns"] * b1["regs_per_run"]
check(b1["wasted_bytes"] == (cap - b1["inuse"]) * 64, "wasted_bytes = (capacity - inuse) * size")
check(abs(b1["util"] - b1["inuse"] / cap) < 1e-9, "util = inuse / capacity")
check(0 <= after["frag_ratio"] <= 1, "frag_ratio in [0,1]")
check(after["active"] >= after["allocated"], "active >= allocated")
check(after["mapped"] >= after["active"], "mapped >= active")

# Large and huge regions count whole.
t = h.cmd("alloc 65536 10")
after2 = stats_after(h.pid, t)
check(after2["allocated"] - after["allocated"] == 655360,
      "large: allocated moved by %d, not 655360" % (after2["allocated"] - after["allocated"]))
t = h.cmd("alloc 8388608 2")
after3 = stats_after(h.pid, t)
check(after3["allocated"] - after2["allocated"] == 16 << 20,
      "huge: allocated moved by %d, not %d" % (after3["allocated"] - after2["allocated"], 16 << 20))
check(after3["active"] >= after3["allocated"], "active >= allocated with huge regions")

# Freeing brings the small bin back.
t = h.cmd("free")
after4 = stats_after(h.pid, t)
check(bin_of(after4, 64)["inuse"] == b0["inuse"], "inuse back to %d after free" % b0["inuse"])
check(after4["allocated"] == before["allocated"],
      "allocated back to %d after free, is %d" % (before["allocated"], after4["allocated"]))

# The host line and the aggregated bins include it.
r = request({"cmd": "ps"})
check(r["host"]["processes"] == len(r["processes"]) >= 1, "host.processes")
check(r["host"]["allocated"] == sum(p["allocated"] for p in r["processes"]), "host.allocated is the sum")
r = request({"cmd": "bins", "pid": h.pid})
check(r["ok"] and r["pid"] == h.pid and len(r["bins"]) == len(after4["bins"]), "bins of one pid")
r = request({"cmd": "bins"})
check(r["ok"] and any(b["size"] == 64 for b in r["bins"]), "aggregated bins")

# History: oldest first, one sample per tick, within the window asked for.
r = request({"cmd": "history", "pid": h.pid, "seconds": 600})
check(r["ok"] and r["alive"] and r["interval_ms"] == INTERVAL_MS, "history: %r" % r)
times = [s["time"] for s in r["samples"]]
check(len(times) >= 3 and times == sorted(times), "history samples oldest first")
check(any(s["allocated"] == after3["allocated"] for s in r["samples"]), "history holds the huge peak")
r = request({"cmd": "history"})
check(r["ok"] and len(r["samples"]) >= 3, "host history")

# A process killed with SIGKILL leaves its segment: the daemon drops the
# process and removes the file.
seg = h.segment()
check(os.path.exists(seg), "segment %s exists" % seg)
keep = os.path.join(os.environ["JM_TMP"], "copy.stats")
shutil.copyfile(seg, keep)
h.kill()
wait_until(lambda: h.pid not in ps_pids(), "killed pid %d to leave ps" % h.pid)
wait_until(lambda: not os.path.exists(seg), "the dead process's segment to be removed")
r = request({"cmd": "stats", "pid": h.pid})
check(not r["ok"] and r["error"] == "no such process: %d" % h.pid, "stats of a dead pid: %r" % r)
r = request({"cmd": "history", "pid": h.pid})
check(r["ok"] and r["alive"] is False and len(r["samples"]) >= 3, "a dead process keeps its history")

# Pid reuse: the old segment, renamed for a live unrelated process (same
# uid, another start time), must not be shown as that process.
other = subprocess.Popen(["sleep", "60"])
data = bytearray(open(keep, "rb").read())
struct.pack_into("<I", data, 28, other.pid)      # header.pid
old_start = struct.unpack_from("<Q", data, 32)[0]      # header.start_time: the old process's
fake = os.path.join(STATS_DIR, segment_name_of(other.pid, old_start))
fd = os.open(fake, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, bytes(data))
os.close(fd)
wait_until(lambda: not os.path.exists(fake), "the segment with a reused pid to be removed")
check(other.pid not in ps_pids(), "a reused pid is not shown")
check(other.poll() is None, "the unrelated process is untouched")
other.kill()
other.wait()

# Normal exit: the allocator removes its file; the process leaves ps.
h2 = Holder()
wait_until(lambda: ps_pids().get(h2.pid), "pid %d in ps" % h2.pid)
h2.exit()
wait_until(lambda: h2.pid not in ps_pids(), "exited pid %d to leave ps" % h2.pid)
check(not os.path.exists(h2.segment()), "normal exit removes the segment")
print("ok")
EOF
grep -Eq "removed $JMD_STATS/$JM_SEG_RE: its process is gone" "$JMD_LOG" ||
	fail "no log line for the dead process's segment"
grep -Eq "removed $JMD_STATS/$JM_SEG_RE: its pid now belongs to another process" "$JMD_LOG" ||
	fail "no log line for the reused pid's segment"
jmd_stop
echo "ok"
