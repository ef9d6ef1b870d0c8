#!/usr/bin/env bash
# timeout: 120
# The ps reply, and the subscriber's update that holds it, are written as
# text and kept per viewer until what they show changes (commands.c): ps
# must be byte for byte what jansson dumps for the same object with the
# daemon's flags (compact, keys in order, reals as %.15g with ".0" added
# and the exponent bare, as jsonp_dtostr() prints them), the same in both
# replies, escape what a writer may put in its exe name, give only the
# process fields asked for, and follow processes that come and go between ticks (the interval here is an
# hour: after the first tick only the directory watch changes the view).
. "$(dirname "$0")/../lib.sh"
need_segments

JMD_INTERVAL=3600000 jmd_start
JMD_INTERVAL=3600000 jmd_py - <<'EOF2' || fail "ps as text"
from jmd import *
import struct

def raw(obj):
    c = Client()
    try:
        c.send_raw((json.dumps(obj) + "\n").encode())
        line = c.readline()
        check(line is not None, "no reply to %r" % obj)
        return line
    finally:
        c.close()

def jreal(v):
    s = "%.15g" % v
    if "." not in s and "e" not in s:
        s += ".0"
    if "e" in s:
        mant, exp = s.split("e")
        sign = "-" if exp.startswith("-") else ""
        s = mant + "e" + sign + (exp.lstrip("+-").lstrip("0") or "0")
    return s

def dump(x):
    """json_dumps(x, JSON_COMPACT | JSON_REAL_PRECISION(15)) of jansson."""
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return jreal(x)
    if isinstance(x, str):
        return json.dumps(x, ensure_ascii=False)
    if isinstance(x, list):
        return "[" + ",".join(dump(v) for v in x) + "]"
    check(isinstance(x, dict), "unexpected %r" % (x,))
    return "{" + ",".join(json.dumps(k) + ":" + dump(v) for k, v in x.items()) + "}"

check(jreal(1e20) == "1e20" and jreal(1.5e-7) == "1.5e-7" and jreal(3.0) == "3.0",
      "the test's own real format")

def same_as_subscribe():
    """ps as jansson would dump it, and as the subscribe reply has it."""
    a = raw({"cmd": "ps"})
    b = raw({"cmd": "subscribe"})
    r = json.loads(a)
    check(a.decode() == dump(r), "ps differs from what jansson dumps:\n%r\n%r" % (a, dump(r)))
    check(list(r) == ["ok", "time", "host", "processes"], "ps keys %r" % list(r))
    # jansson's reals always show a point or an exponent; its integers never.
    reals = ("time", "frag_ratio", "alloc_rate", "free_rate")
    for o in [r, r["host"]] + r["processes"]:
        for k, v in o.items():
            if k in reals:
                check(isinstance(v, float), "%s %r is not a real" % (k, v))
            elif k in ("cgroup", "container", "pod"):
                check(v is None or isinstance(v, str), "%s %r is not a string or null" % (k, v))
            elif k not in ("ok", "host", "processes", "user", "exe", "path"):
                check(isinstance(v, int) and not isinstance(v, bool), "%s %r is not an integer" % (k, v))
    cut = b.index(b',"bins":')
    check(a == b[:cut] + b"}", "ps differs from subscribe's:\n%r\n%r" % (a, b[:cut] + b"}"))
    u = json.loads(b)
    check(b.decode() == dump(u), "subscribe differs from what jansson dumps")
    return r

h = Holder()
wait_until(lambda: ps_pids().get(h.pid), "pid %d in ps without a tick" % h.pid, timeout=20)
h.cmd("alloc 100 1000")
r = same_as_subscribe()
check(raw({"cmd": "ps"}) == raw({"cmd": "ps"}), "two ps replies of one view differ")

# Exe names with quotes, backslashes, control and non-ASCII bytes, as a
# writer may publish them: copies of h's segment for plain sleeps.
seg = bytearray(open(h.segment(), "rb").read())
names = [b'we"ird\\na\x01me', b'caf\xc3\xa9', b'tab\there/slash', b'\\\\\\"']
kids = []
for name in names:
    k = subprocess.Popen(["sleep", "600"])
    kids.append(k)
    with open("/proc/%d/stat" % k.pid) as f:
        start = int(f.read().rsplit(")", 1)[1].split()[19])
    struct.pack_into("<I", seg, 28, k.pid)
    struct.pack_into("<Q", seg, 32, start)
    seg[56:56 + 64] = name + b"\0" * (64 - len(name))
    path = os.path.join(STATS_DIR, segment_name_of(k.pid, start))
    with open(path + ".tmp", "wb") as f:
        f.write(seg)
    os.rename(path + ".tmp", path)
wait_until(lambda: all(k.pid in ps_pids() for k in kids), "the forged segments in ps", timeout=20)
r = same_as_subscribe()
shown = {p["pid"]: p["exe"] for p in r["processes"]}
for k, name in zip(kids, names):
    want = "".join(chr(b) if 0x20 <= b < 0x7f else "?" for b in name)
    check(shown[k.pid] == want, "exe of %d: %r, expected %r" % (k.pid, shown[k.pid], want))

# Some fields only: those, in ps's order, the rest of the reply as it was.
full = json.loads(raw({"cmd": "ps"}))
want = ["pid", "user", "exe", "age", "frag_ratio"]
some = raw({"cmd": "ps", "fields": ["age", "exe", "frag_ratio", "pid", "user", "pid"]})
r = json.loads(some)
check(some.decode() == dump(r), "ps with fields differs from what jansson dumps")
check(r["host"] == full["host"] and r["time"] == full["time"], "ps with fields: host %r" % r["host"])
check([list(p) for p in r["processes"]] == [want] * len(full["processes"]),
      "fields asked %r, got %r" % (want, [list(p) for p in r["processes"]][:2]))
check([{k: p[k] for k in want} for p in full["processes"]] == r["processes"],
      "the fields asked differ from the full reply's")
check(json.loads(raw({"cmd": "ps", "fields": []}))["processes"] == [{}] * len(full["processes"]),
      "ps with no field")
check(raw({"cmd": "ps", "fields": None}) == raw({"cmd": "ps"}), "fields null is every field")
for bad in (["pid", "nope"], "pid", [1], {"pid": 1}):
    r = request({"cmd": "ps", "fields": bad})
    check(r["ok"] is False and "invalid 'fields'" in r["error"], "fields %r: %r" % (bad, r))

# Leaving between ticks: the kept reply must not outlive them.
for k in kids:
    k.kill()
    k.wait()
    os.unlink(segment_path(k.pid))
h.exit()
wait_until(lambda: not set(ps_pids()) & ({h.pid} | {k.pid for k in kids}),
           "the processes gone from ps without a tick", timeout=20)
same_as_subscribe()
EOF2
jmd_stop
echo "ok"
