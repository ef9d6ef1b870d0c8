#!/usr/bin/env bash
# timeout: 60
# /metrics' per-exe series (jmalloc_bin_*, jmalloc_site_*) are one exe's
# of one user: root runs daemon_holder, and nobody runs a program of the
# same name (anyone may name a program as another user's service). The
# per-bin series were keyed by the name alone: nobody's regions were
# added into root's {exe="daemon_holder"} (a fall of its counters a reset
# of root's series, its forged sites ranked among root's). Now each
# series carries uid: root's equal root's process's bins exactly, nobody's
# are their own, and each site series names a process of its uid.
# --pprof's /exe/NAME merges both users' processes into one profile (as
# jmctl ps lists an executable); /uid/UID/exe/NAME serves each user's
# alone (404 before), so a scrape can leave other users' programs out.
. "$(dirname "$0")/../lib.sh"
need_users "run a program as nobody"
need_segments
jm_public "$JM_HELPERS/daemon_holder"
jmd_start --metrics :0 --pprof
pub_py - "$JMD_LOG" <<'PY' || fail "per-exe series of two users"
from jmd import *
from alib import *
import sys

port = log_port(sys.argv[1])
conf = {"JMALLOC_CONF": "prof_sample:4096"}
def as_nobody():
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
mine = Holder(env_extra=conf)
theirs = Holder(env_extra=conf, preexec_fn=as_nobody)
mine.cmd("alloc 64 1000")
t = theirs.cmd("alloc 64 7000")
stats_after(mine.pid, t)
stats_after(theirs.pid, t)
def both():
    m = scrape(port)
    return m if value(m, "jmalloc_process_allocated_bytes", pid=theirs.pid, exe="daemon_holder") else None
m = wait_until(both, "both holders on the page")
s = stats(mine.pid)
b64 = [b for b in s["bins"] if b["size"] == 64][0]
root = value(m, "jmalloc_bin_allocations_total", exe="daemon_holder", uid=0, size=64)
check(root == b64["nmalloc"], "root's daemon_holder allocations in the 64-byte bin: %r, its process %r"
      " (nobody's 7000 added?): %r" % (root, b64["nmalloc"],
      [x for x in m.get("jmalloc_bin_allocations_total", []) if x[0].get("size") == "64"]))
other = value(m, "jmalloc_bin_allocations_total", exe="daemon_holder", uid=65534, size=64)
check(other is not None and other >= 5000, "nobody's daemon_holder: %r" % other)
pids = {"0": mine.pid, "65534": theirs.pid}
sites = [l for l, v in m.get("jmalloc_site_info", []) if l.get("exe") == "daemon_holder"]
check({l.get("uid") for l in sites} == {"0", "65534"}, "site series of daemon_holder: %r" % sites)
for l in sites:
    check(int(l["pid"]) == pids[l["uid"]], "a site of uid %s held by pid %s" % (l["uid"], l["pid"]))

import http.client
def status(path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body
st, body = status("/")
for uid in (0, 65534):
    check(b'href="uid/%d/exe/daemon_holder/debug/pprof/heap"' % uid in body,
          "/ links no uid/%d/exe/daemon_holder: %r" % (uid, body[-600:]))
st, body = status("/exe/daemon_holder/debug/pprof/heap")
check(st == 200 and body[:2] == b"\x1f\x8b", "/exe/ of two users' processes: %d %r" % (st, body[:200]))
for uid in (0, 65534):
    st, body = status("/uid/%d/exe/daemon_holder/debug/pprof/heap" % uid)
    check(st == 200 and body[:2] == b"\x1f\x8b", "/uid/%d/exe/: %d %r" % (uid, st, body[:200]))
for uid in (4242, 4294967294):
    st, body = status("/uid/%d/exe/daemon_holder/debug/pprof/heap" % uid)
    check(st == 404 and b"no live process" in body, "/uid/%d/exe/: %d %r" % (uid, st, body[:100]))
st, body = status("/uid/4294967296/exe/daemon_holder/debug/pprof/heap")
check(st == 404 and b"not found" in body, "/uid/2^32/exe/: %d %r" % (st, body[:100]))
theirs.exit()
wait_until(lambda: theirs.pid not in ps_pids(), "nobody's holder gone")
st, body = status("/exe/daemon_holder/debug/pprof/heap")
check(st == 200, "/exe/ of one user's processes: %d %r" % (st, body[:200]))
print("two users' daemon_holder: two per-bin and per-site series, root's equal its process's;"
      " /exe/NAME both merged, /uid/UID/exe/NAME each user's profile")
PY
jmd_stop
echo "ok"
