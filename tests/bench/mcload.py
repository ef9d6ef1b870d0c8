#!/usr/bin/env python3
"""Load for memcached from many connections, each with its own buffers:
   mcload.py PORT CONNECTIONS ROUNDS
Opens CONNECTIONS sockets; in each of ROUNDS rounds every connection sets
one value of 100 B..16 KiB (the size from its key, so every run stores the
same bytes), then every connection reads back its last eight values in one
multi-get, then a third of the connections are closed and opened again
(a server's per-connection buffers are freed and made anew). Exits 1 if a
value read back differs from the one stored."""
import socket, sys

port, nconn, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])


def value(c, r):
    n = 100 + (c * 7919 + r * 104729) % (16 * 1024 - 100)
    return (b"%d.%d:" % (c, r) * (n // 6 + 1))[:n]


def conn():
    s = socket.create_connection(("127.0.0.1", port))
    return s, s.makefile("rb")


socks = [conn() for _ in range(nconn)]
for r in range(rounds):
    for c, (s, f) in enumerate(socks):
        v = value(c, r)
        s.sendall(b"set k%d.%d 0 0 %d\r\n%s\r\n" % (c, r, len(v), v))
    for c, (s, f) in enumerate(socks):
        if f.readline() != b"STORED\r\n":
            sys.exit(f"set k{c}.{r} failed")
    if r % 8 == 7:
        for c, (s, f) in enumerate(socks):
            s.sendall(b"get " + b" ".join(b"k%d.%d" % (c, q) for q in range(r - 7, r + 1)) + b"\r\n")
        for c, (s, f) in enumerate(socks):
            for q in range(r - 7, r + 1):
                h = f.readline().split()
                if h[0] != b"VALUE" or h[1] != b"k%d.%d" % (c, q):
                    sys.exit(f"get k{c}.{q}: {h!r}")
                if f.read(int(h[3]) + 2)[:-2] != value(c, q):
                    sys.exit(f"k{c}.{q}: wrong value")
            if f.readline() != b"END\r\n":
                sys.exit("no END")
        for c in range(r % 3, nconn, 3):
            socks[c][1].close(); socks[c][0].close()
            socks[c] = conn()
