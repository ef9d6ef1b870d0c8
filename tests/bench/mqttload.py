#!/usr/bin/env python3
"""An MQTT 3.1.1 load for tests/bench/servers.py's mosquitto (session 38).

    mqttload.py PORT MESSAGES SUBSCRIBERS RETAINED

MESSAGES messages of 100 B..16 KiB published at QoS 0 to f/0..f/63, each
received by SUBSCRIBERS subscribers of f/# (the publisher waits for them
every 256 messages, so none is dropped); then RETAINED retained messages
of 100..4000 B to r/0.., read back whole by a fresh subscriber of r/#,
then cleared (an empty retained message each) and a fresh subscriber
gets none. Every payload is checked (its sequence number and its bytes).
Exits 1 on a missing, extra or wrong message."""
import socket, struct, sys, threading, time


def enc_len(n):
    out = b""
    while True:
        b = n % 128; n //= 128
        out += bytes([b | (128 if n else 0)])
        if not n:
            return out


def packet(kind, body):
    return bytes([kind]) + enc_len(len(body)) + body


def mstr(s):
    s = s.encode() if isinstance(s, str) else s
    return struct.pack(">H", len(s)) + s


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        c = sock.recv(n - len(buf))
        if not c:
            raise EOFError("connection closed")
        buf += c
    return buf


def read_packet(sock):
    kind = recv_exact(sock, 1)[0]
    n, mul = 0, 1
    while True:
        b = recv_exact(sock, 1)[0]
        n += (b & 127) * mul; mul *= 128
        if not b & 128:
            break
    return kind, recv_exact(sock, n)


def connect(port, cid):
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(packet(0x10, mstr("MQTT") + bytes([4, 2]) + struct.pack(">H", 600) + mstr(cid)))
    kind, body = read_packet(s)
    if kind != 0x20 or body[1] != 0:
        raise RuntimeError(f"CONNACK {kind:#x} {body!r}")
    return s


def subscribe(s, topic):
    s.sendall(packet(0x82, struct.pack(">H", 1) + mstr(topic) + b"\0"))
    kind, _ = read_packet(s)
    if kind != 0x90:
        raise RuntimeError(f"SUBACK {kind:#x}")


def publish(s, topic, payload, retain=False):
    s.sendall(packet(0x30 | (1 if retain else 0), mstr(topic) + payload))


def payload(seq, lo, hi):
    n = lo + (seq * 7919) % (hi - lo)
    return struct.pack(">I", seq) + bytes([seq & 255]) * (n - 4)


def parse_publish(kind, body):
    if kind & 0xF0 != 0x30:
        raise RuntimeError(f"not a PUBLISH: {kind:#x}")
    tl = struct.unpack(">H", body[:2])[0]
    return body[2:2 + tl].decode(), body[2 + tl:]


def main():
    port, msgs, nsub, nret = (int(x) for x in sys.argv[1:5])
    bad = []
    got = [0] * nsub
    cond = threading.Condition()

    def sub(k):
        s = connect(port, f"sub{k}")
        subscribe(s, "f/#")
        ready.release()
        for seq in range(msgs):
            topic, p = parse_publish(*read_packet(s))
            if topic != f"f/{seq % 64}" or p != payload(seq, 100, 16384):
                bad.append(f"subscriber {k}: message {seq} wrong ({topic}, {len(p)} B)")
                break
            with cond:
                got[k] = seq + 1; cond.notify_all()
        s.close()

    ready = threading.Semaphore(0)
    ths = [threading.Thread(target=sub, args=(k,), daemon=True) for k in range(nsub)]
    for t in ths:
        t.start()
    for _ in ths:
        if not ready.acquire(timeout=30):
            sys.exit("a subscriber did not start")
    pub = connect(port, "pub")
    for seq in range(msgs):
        publish(pub, f"f/{seq % 64}", payload(seq, 100, 16384))
        if seq % 256 == 255 or seq == msgs - 1:
            with cond:
                if not cond.wait_for(lambda: min(got) > seq or bad, 60):
                    sys.exit(f"fan-out stalled at {seq}: {got}")
            if bad:
                break
    for t in ths:
        t.join(30)
    if bad:
        sys.exit(bad[0])

    for i in range(nret):
        publish(pub, f"r/{i}", payload(i, 100, 4000), retain=True)
    # A PINGREQ answered after the publishes: the broker has read them all.
    pub.sendall(b"\xc0\0")
    if read_packet(pub)[0] != 0xD0:
        sys.exit("no PINGRESP")
    s = connect(port, "reader")
    subscribe(s, "r/#")
    seen = set()
    for _ in range(nret):
        topic, p = parse_publish(*read_packet(s))
        i = int(topic[2:])
        if p != payload(i, 100, 4000) or i in seen:
            sys.exit(f"retained r/{i} wrong or twice")
        seen.add(i)
    s.close()
    for i in range(nret):
        publish(pub, f"r/{i}", b"", retain=True)
    pub.sendall(b"\xc0\0")
    if read_packet(pub)[0] != 0xD0:
        sys.exit("no PINGRESP")
    s = connect(port, "reader2")
    subscribe(s, "r/#")
    s.settimeout(1.0)
    try:
        kind, body = read_packet(s)
        sys.exit(f"a retained message left after clearing: {parse_publish(kind, body)[0]}")
    except socket.timeout:
        pass
    s.close()
    pub.sendall(b"\xe0\0")
    pub.close()


if __name__ == "__main__":
    main()
