#!/usr/bin/env python3
"""A writer that lies about its segment's generation (layout 4's header.gen),
for tests/stress/genlie.test.sh: run as the segment's owner, it changes the
segment of its own live process under the daemon's reader, with no pause,
for SECONDS, then puts the file back as it found it (its rows' seqs and its
generation moved on, so that a reader reads them again).

    genlie.py PATH SECONDS SEED

Each change, chosen at random (a few microseconds to a few ms apart):
  lie      a counter of an arena or bin row rewritten, its seq and the
           generation left as they were (the rows the reader skips while
           the generation stands still are no longer what it summed)
  flip     a row's seq made odd, and later even again, the generation
           unchanged
  gen      the generation set back to a value it had, to a random one, or
           on by one
  count    a count or offset of the header (narenas, nbins, nthreads_hw,
           nsites_hw, thread_stride, the offsets, total_size, state)
           changed for a moment, then put back
  thread   a thread row claimed in use, its arena out of range or not,
           its cached counts garbage
  cut      the file truncated to a random length (within the header, the
           rows or the thread rows) for a moment, then grown back and
           rewritten as it was
  grow     the file grown past its size for a moment, then cut back
  site     a word of a site row rewritten (its frame count, frames, bytes),
           its seq made odd or moved on, or the module count changed
Prints the number of changes of each kind as JSON.
"""
import json
import mmap
import os
import random
import struct
import sys
import time

path, seconds, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
fd = os.open(path, os.O_RDWR)
orig = os.pread(fd, os.fstat(fd).st_size, 0)
size = len(orig)

# struct jmstat_header (liballoc/include/jmstat.h), layouts 4 and 5 (the same header).
OFF = dict(total_size=16, state=24, nbins=120, narenas=124, nthreads_max=128,
           thread_stride=148, class_off=152, arena_off=160, bin_off=168, thread_off=176,
           nthreads_hw=200, nsites_hw=224, site_off=208)
U32 = {"state", "nbins", "narenas", "nthreads_max", "thread_stride", "nthreads_hw", "nsites_hw"}


def hdr(m, name):
    fmt = "<I" if name in U32 else "<Q"
    return struct.unpack_from(fmt, m, OFF[name])[0]


def put(m, off, fmt, v):
    struct.pack_into(fmt, m, off, v)


m = mmap.mmap(fd, size)
version, header_size = struct.unpack_from("<II", m, 8)
assert version in (4, 5), version
GEN = header_size - 8                   # gen ends the header (jmstat.h)
narenas, nbins = hdr(m, "narenas"), hdr(m, "nbins")
arena_off, bin_off = hdr(m, "arena_off"), hdr(m, "bin_off")
arena_size, bin_size = struct.unpack_from("<II", m, 136)
thread_off, stride, nthreads_max = hdr(m, "thread_off"), hdr(m, "thread_stride"), hdr(m, "nthreads_max")
rows = [arena_off + a * arena_size for a in range(narenas)] + \
       [bin_off + b * bin_size for b in range(narenas * nbins)]
row_size = {r: (arena_size if r < bin_off else bin_size) for r in rows}
gens = [struct.unpack_from("<Q", m, GEN)[0]]
odd = []
done = {k: 0 for k in ("lie", "flip", "gen", "count", "thread", "cut", "grow", "site")}
site_off, site_stride = hdr(m, "site_off"), struct.unpack_from("<I", m, 220)[0]
nsites = struct.unpack_from("<I", m, 204)[0]
WORDS = [0, 1, 2**32 - 1, 2**63, 2**64 - 1]


def value():
    return rnd.choice(WORDS) if rnd.random() < 0.5 else rnd.getrandbits(64)


def nap():
    r = rnd.random()
    time.sleep(0 if r < 0.6 else rnd.uniform(0, 0.002) if r < 0.95 else rnd.uniform(0, 0.03))


end = time.monotonic() + seconds
while time.monotonic() < end:
    kind = rnd.choice(list(done))
    done[kind] += 1
    if kind == "lie":
        r = rnd.choice(rows)
        put(m, r + 8 + 8 * rnd.randrange((row_size[r] - 8) // 8), "<Q", value())
    elif kind == "flip":
        if odd and rnd.random() < 0.5:
            r = odd.pop(rnd.randrange(len(odd)))
        else:
            r = rnd.choice(rows)
            odd.append(r)
        put(m, r, "<I", (struct.unpack_from("<I", m, r)[0] + 1) & 0xffffffff)
    elif kind == "gen":
        g = rnd.choice([rnd.choice(gens), rnd.getrandbits(64), gens[-1] + 1])
        put(m, GEN, "<Q", g & (2**64 - 1))
        gens.append(g & (2**64 - 1))
    elif kind == "count":
        name = rnd.choice(list(OFF))
        fmt = "<I" if name in U32 else "<Q"
        was = hdr(m, name)
        v = rnd.choice([0, 1, was - 1, was + 1, was * 2, value()])
        put(m, OFF[name], fmt, v & (0xffffffff if name in U32 else 2**64 - 1))
        nap()
        put(m, OFF[name], fmt, was)
    elif kind == "thread":
        t = thread_off + rnd.randrange(nthreads_max) * stride
        put(m, t, "<I", 1)
        put(m, t + 8, "<I", rnd.choice([0, narenas - 1, narenas, 2**32 - 1]))
        for b in range(nbins):
            put(m, t + 32 + 24 * b + 8, "<I", rnd.getrandbits(32))
            put(m, t + 32 + 24 * b + 16, "<Q", value())
    elif kind == "cut":
        cut = rnd.choice([rnd.randrange(header_size), rnd.randrange(header_size, thread_off),
                          rnd.randrange(thread_off, size)])
        now = m[:]
        m.close()
        os.ftruncate(fd, cut)
        nap()
        os.ftruncate(fd, size)
        os.pwrite(fd, now, 0)
        m = mmap.mmap(fd, size)
    elif kind == "site":
        if nsites == 0 or rnd.random() < 0.2:
            put(m, 284, "<I", rnd.choice([0, 1, 2**32 - 1, rnd.getrandbits(32)]))
        else:
            r = site_off + rnd.randrange(nsites) * site_stride
            w = rnd.randrange(site_stride // 4)
            put(m, r + 4 * w, "<I", rnd.getrandbits(32) if w else
                (struct.unpack_from("<I", m, r)[0] + rnd.choice([1, 2])) & 0xffffffff)
    elif kind == "grow":
        os.ftruncate(fd, size + rnd.choice([1, 4096, 1 << 20, 16 << 20]))
        nap()
        os.ftruncate(fd, size)
    nap()

# As it was, every row and the generation moved on (read again).
m[:] = orig
for r in rows:
    put(m, r, "<I", (struct.unpack_from("<I", orig, r)[0] + 2) & 0xffffffff)
put(m, GEN, "<Q", (max(gens) + 1) & (2**64 - 1))
m.flush()
m.close()
os.close(fd)
print(json.dumps(done))
