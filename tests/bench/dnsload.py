#!/usr/bin/env python3
"""UDP DNS queries for tests/bench/servers.py's named load (session 26).

    dnsload.py PORT N SOCKETS

N queries over SOCKETS sockets at once (each keeps one query in flight),
for the A or TXT record of h0..h19999 in the zone z; every answer is
checked: the id, the name, the rcode, and the A record's address or the
TXT record's length (the zone servers.py writes). Exits 1 on a wrong or
missing answer."""
import random, select, socket, struct, sys


def query(qid, name, qtype):
    q = b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack(">HH", qtype, 1)


def check(ans, qid, i, qtype):
    rid, flags, qd, an = struct.unpack(">HHHH", ans[:8])
    if rid != qid or flags & 0xF or an < 1:
        return False
    want = bytes([len("h%d" % i)]) + b"h%d" % i
    if want not in ans[12:40]:
        return False
    if qtype == 1:
        return ans.endswith(bytes([10, i >> 16 & 255, i >> 8 & 255, i & 255]))
    return ans.endswith(bytes([i % 200]) + b"t" * (i % 200))


def main():
    port, n, k = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rnd = random.Random(7)
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(k)]
    for s in socks:
        s.connect(("127.0.0.1", port))
    pending, sent, done, seq = {}, 0, 0, 0

    def send(s):
        nonlocal sent, seq
        i, qtype = rnd.randrange(20000), rnd.choice((1, 16))
        seq = (seq + 1) & 0xFFFF
        s.send(query(seq, "h%d.z" % i, qtype))
        pending[s] = (seq, i, qtype, 0)
        sent += 1

    for s in socks[:n]:
        send(s)
    while done < n:
        r, _, _ = select.select(list(pending), [], [], 2.0)
        if not r:
            sys.exit("dnsload: no answer in 2 s")
        for s in r:
            qid, i, qtype, _ = pending.pop(s)
            if not check(s.recv(4096), qid, i, qtype):
                sys.exit("dnsload: wrong answer for h%d type %d" % (i, qtype))
            done += 1
            if sent < n:
                send(s)


main()
