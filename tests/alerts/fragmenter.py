"""fragmenter.py: a process that fragments its heap on purpose, and frees
it on command, for the alert tests. Run it with LD_PRELOAD=libjmalloc.so
(python3 fragmenter.py): malloc and free are called through ctypes, so
they are the allocator's.

Commands, one per line on stdin, each answered on stdout:
  frag SIZE COUNT   malloc(SIZE) COUNT times, then free all but the first
                    object of each 4 KiB page: runs stay mostly empty and
                    cannot be given back                    -> "ok KEPT"
  alloc SIZE COUNT  malloc(SIZE) COUNT times and keep them (they fill the
                    holes of the runs first)                 -> "ok COUNT"
  release           free every object kept                   -> "ok"
  exec PROG ARG...  execv(PROG, [PROG, ARG...]): the same process (pid,
                    start) runs PROG                         (no answer)
  exit              exit(0)
It prints "ready PID" first.
"""
import ctypes
import os
import sys

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

kept = []
print("ready %d" % os.getpid(), flush=True)
for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    if words[0] == "frag":
        size, count = int(words[1]), int(words[2])
        objs = [libc.malloc(size) for _ in range(count)]
        last_page = None
        n = 0
        for p in objs:
            page = p >> 12
            if page != last_page:
                last_page = page
                kept.append(p)
                n += 1
            else:
                libc.free(p)
        del objs
        print("ok %d" % n, flush=True)
    elif words[0] == "alloc":
        size, count = int(words[1]), int(words[2])
        kept.extend(libc.malloc(size) for _ in range(count))
        print("ok %d" % count, flush=True)
    elif words[0] == "release":
        for p in kept:
            libc.free(p)
        kept.clear()
        print("ok", flush=True)
    elif words[0] == "exec":
        os.execv(words[1], words[1:])
    elif words[0] == "exit":
        break
