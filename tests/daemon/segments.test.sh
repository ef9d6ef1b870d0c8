#!/usr/bin/env bash
# timeout: 120
# jmstatd never trusts a segment: garbage, empty, symlinked, fifo and
# directory "segments", and (with real segments) truncated, out-of-bounds,
# newer-layout and misnamed copies, are each skipped with exactly one log
# line however many intervals pass, are not shown, are not removed, and the
# daemon goes on answering. A live process whose segment turns to garbage
# is dropped with one line.
. "$(dirname "$0")/../lib.sh"
segments=yes
( need_segments ) >/dev/null 2>&1 || segments=no
export segments
jmd_start
# Bad files are named after live processes: the allocator removes files
# named for dead pids when a preloaded process starts.
live=
for i in $(seq 1 16); do sleep 600 & live="$live $!"; done
export live

jmd_py - <<'EOF' || fail "bad segments"
from jmd import *
import struct

pids = [int(x) for x in os.environ["live"].split()]
live = pids.pop()
class Names(dict):
    """base + k -> the k-th live pid, so the cases below read as before."""
    def __missing__(self, k):
        self[k] = pids.pop(0)
        return self[k]
name_of = Names()
base = 0
file_of = {}            # pid -> the name of its file (the form its namespace gives)
def path(k):
    pid = name_of[k]
    if pid not in file_of:
        file_of[pid] = segment_name_of(pid)
    return os.path.join(STATS_DIR, file_of[pid])

bad = {}                # pid in the name -> (unused) note
def put(pid, data):
    with open(path(pid), "wb") as f:
        f.write(data)

put(base + 1, os.urandom(4096)); bad[base + 1] = "not a"
put(base + 2, b""); bad[base + 2] = ""
os.symlink("/etc/passwd", path(base + 3)); bad[base + 3] = ""
os.mkfifo(path(base + 4)); bad[base + 4] = ""
os.mkdir(path(base + 5)); bad[base + 5] = ""
put(base + 6, b"JMSTAT01" + b"\xff" * 4000); bad[base + 6] = ""
# names that are not segment names are never even read
for name in ("jmalloc.0123.stats", "jmalloc.abc.stats", "jmalloc..stats", "jmalloc.1.stats.tmp",
             "jmalloc.-5.stats", "other"):
    open(os.path.join(STATS_DIR, name), "w").write("junk")

have_real = os.environ["segments"] == "yes"
if have_real:
    h = Holder()
    wait_until(lambda: ps_pids().get(h.pid), "the holder in ps")
    real = open(h.segment(), "rb").read()
    put(base + 10, real[:len(real) // 2]); bad[base + 10] = ""            # truncated
    v = bytearray(real); struct.pack_into("<I", v, 8, 99)                 # version 99
    put(base + 11, bytes(v)); bad[base + 11] = ""
    v = bytearray(real); struct.pack_into("<I", v, 28, live)              # header pid != name
    put(base + 12, bytes(v)); bad[base + 12] = ""
    # nbins: at offset 8+4+4+8+4+4+8+4+4+8+64 = 120
    v = bytearray(real); struct.pack_into("<I", v, 120, 0x7fffffff)
    put(base + 13, bytes(v)); bad[base + 13] = ""
    v = bytearray(real); struct.pack_into("<Q", v, 16, 1 << 40)           # total_size
    put(base + 14, bytes(v)); bad[base + 14] = ""
    # A live process whose segment turns to garbage is dropped.
    with open(h.segment(), "r+b") as f:
        f.write(b"GARBAGE!")
    bad[h.pid] = ""
    wait_until(lambda: h.pid not in ps_pids(), "the corrupted process to be dropped")

log = os.path.join(os.environ["JM_TMP"], "jmstatd.log")
def lines_for(k):
    pid = name_of[k] if k in name_of else k
    name = file_of[pid] if pid in file_of else h.seg_name
    return [l for l in open(log) if (name + ":") in l]
wait_until(lambda: all(lines_for(p) for p in bad), "a log line for each bad file", timeout=30)

# Ten more ticks: still one line each.
t0 = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + 10 * INTERVAL_MS / 1000.0, "ten ticks")
for p in bad:
    n = len(lines_for(p))
    check(n == 1, "bad file %d logged %d times: %r" % (p, n, lines_for(p)))
for name in ("0123", "abc", "-5"):
    check(not any("jmalloc.%s.stats" % name in l for l in open(log)), "%s was looked at" % name)
p = ps_pids()
check(not any(pid in p for pid in name_of.values()), "bad segments shown: %r" % sorted(p))
for k in bad:
    if k in name_of:
        check(os.path.lexists(path(k)), "bad file %d was removed" % k)
v = request({"cmd": "version"})
check(v["ok"], "still answering")
if have_real:
    h.kill()
print("checked %d bad files%s" % (len(bad), "" if have_real else " (no real segments: garbage only)"))
EOF
grep "skipping" "$JMD_LOG" | head -n 20
kill $live
jmd_stop
echo "ok"
