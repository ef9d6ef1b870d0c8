#!/usr/bin/env bash
# timeout: 180
# jmstatd out of file descriptors (its RLIMIT_NOFILE reached: lowered here
# with prlimit, as an operator's LimitNOFILE= or a leak elsewhere would):
#  - a new process's segment that cannot be opened was "skipping FILE:
#    cannot open, stat or read the segment file: Too many open files", a
#    line for each file, counted as a bad file; it is a line about the
#    limit, and the file is read once a descriptor is free;
#  - a client accepted but whose pid namespace could not be read for
#    want of a descriptor was closed without a word (jmctl: "jmstatd
#    closed the connection before answering 'version' (did it stop?"),
#    and logged as "cannot tell its pid namespace (it has exited?)", 50
#    lines for 200 connections; it is told that jmstatd is out of file
#    descriptors and what to do, and the log has one line in 10 s about
#    the limit, whatever failed;
#  - a client that cannot even be accepted (no descriptor free) was taken
#    by libuv with a spare descriptor of its own and closed, unanswered
#    and unlogged; the daemon's own spare takes it, and it is told.
# Deterministic: at --interval 1h the daemon opens nothing between ticks,
# so the limit leaves exactly the free descriptors chosen.
. "$(dirname "$0")/../lib.sh"
need_segments
need_jmctl
need_cmd prlimit
jmd_start --no-containers --interval 1h
export JMD_PID
jmd_py - <<'PY' || fail "out of file descriptors"
from jmd import *
import socket
pid = int(os.environ["JMD_PID"])
log = os.path.join(os.environ["JM_TMP"], "jmstatd.log")
jmctl = os.environ["JMCTL"]
soft = [l.split()[3] for l in open("/proc/%d/limits" % pid) if l.startswith("Max open files")][0]

def lines(*what):
    return [l for l in open(log) if any(w in l for w in what)]

def limit(free):
    fd_limit(pid, free)

def unlimit():
    subprocess.check_call(["prlimit", "--pid", str(pid), "--nofile=%s:" % soft])

holder = Holder()
wait_until(lambda: holder.pid in ps_pids(), "the holder listed")

# 1. No descriptor free: a new process's segment is not read.
limit(0)
p = Holder()
wait_until(lambda: lines("Too many open files", "out of file descriptors"),
           "a line about its segment")
bad = lines("skipping")
check(not bad, "the segment blamed for the daemon's limit: %r" % bad)
got = lines("out of file descriptors")
check(got and "RLIMIT_NOFILE" in got[0] and "LimitNOFILE=" in got[0],
      "the line names the limit and what to do: %r" % got)
unlimit()
wait_until(lambda: p.pid in ps_pids(), "the new process listed once descriptors are free")
p.exit()
wait_until(lambda: p.pid not in ps_pids(), "the new process gone")

# 2. One descriptor free: a client is accepted, its pid namespace cannot
# be read; it is told why.
limit(1)
r = subprocess.run([jmctl, "--socket", SOCK, "status"], capture_output=True, text=True, timeout=60)
print("jmctl at the limit: exit %d: %s" % (r.returncode, r.stderr.strip()))
check(r.returncode == 1, "jmctl's exit at the limit")
check("out of file descriptors" in r.stderr and "try again" in r.stderr,
      "jmctl says what went wrong: %r" % r.stderr)
check("did it stop" not in r.stderr, "jmctl blames a stopped daemon: %r" % r.stderr)

# 3. 200 connections at the limit: the log is not flooded (a line in
# 10 s at most: two, and one more for each 10 s the connections took, on a slow
# machine or under a sanitizer).
before = len(open(log).readlines())
t0 = time.monotonic()
told = 0
for _ in range(200):         # each told at once, before asking; then closed
    told += b"out of file descriptors" in read_to_close(connect_raw())
check(told == 200, "%d of 200 clients told why" % told)
took = time.monotonic() - t0
new = open(log).readlines()[before:]
print("200 clients at the limit in %.1f s: %d lines" % (took, len(new)))
check(len(new) <= 2 + int(took / 10), "%d lines for 200 clients at the limit in %.1f s: %r" %
      (len(new), took, new[:3]))

# 4. None free: the connection cannot be accepted. libuv's uv_listen took
# it with a spare descriptor of its own and closed it, unanswered and
# unlogged (jmctl: "jmstatd closed the connection before answering
# 'version' (did it stop? ..."); the daemon's own spare takes it, and it
# is told.
unlimit()
limit(0)
before = len(open(log).readlines())
t0 = time.monotonic()
r = subprocess.run([jmctl, "--socket", SOCK, "status"], capture_output=True, text=True, timeout=60)
print("jmctl with no descriptor free: exit %d: %s" % (r.returncode, r.stderr.strip()))
check(r.returncode == 1 and "out of file descriptors" in r.stderr and "did it stop" not in r.stderr,
      "jmctl with no descriptor free: %r" % r.stderr)
told = 0
for _ in range(100):         # each told at once, before asking (jmctl asked); then closed
    told += b"out of file descriptors" in read_to_close(connect_raw())
check(told == 100, "%d of 100 clients told why with no descriptor free" % told)
took = time.monotonic() - t0
new = open(log).readlines()[before:]
print("101 clients with no descriptor free in %.1f s: %d lines" % (took, len(new)))
check(len(new) <= 2 + int(took / 10) and all("RLIMIT_NOFILE" in l for l in new),
      "the log in %.1f s: %r" % (took, new[:3]))
unlimit()
r = subprocess.run([jmctl, "--socket", SOCK, "status"], capture_output=True, text=True, timeout=60)
check(r.returncode == 0, "jmctl once the limit is raised: %r" % r.stderr)
check(holder.pid in ps_pids(), "the holder still listed")
holder.exit()
PY
jmd_stop
ok "out of file descriptors: said once, to the operator and to the client"
