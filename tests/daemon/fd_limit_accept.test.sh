#!/usr/bin/env bash
# timeout: 60
# jmstatd at its descriptor limit with one free: a client is accepted with
# it (and told the daemon is out of descriptors: its pid namespace cannot
# be read). The accept loop's next accept4 then fails with EMFILE, which
# the kernel says before it looks at the queue, with no connection
# waiting: that was taken for a client not accepted, the spare
# descriptor's accept found none (EAGAIN), "clients not accepted (no
# spare descriptor)" logged (with --verbose: every time) and listening
# paused 100 ms, after every client at the limit (200 connections took
# 20 s in tests/daemon/fd_limit). Deterministic: each client connects
# after the one before was closed, so none waits at that accept.
. "$(dirname "$0")/../lib.sh"
need_cmd prlimit
jmd_start --no-containers --interval 1h --verbose
export JMD_PID
jmd_py - "$JMD_LOG" <<'PY' || fail "a client accepted at the limit"
import socket, sys
from jmd import *
log = sys.argv[1]
pid = int(os.environ["JMD_PID"])
fd_limit(pid, 1)
told = 0
for _ in range(5):
    told += b"out of file descriptors" in read_to_close(connect_raw())
check(told == 5, "%d of 5 clients told why" % told)
wrong = [l for l in open(log) if "no spare descriptor" in l]
print("5 clients accepted with the one free descriptor: %d lines of clients not accepted" % len(wrong))
check(not wrong, "clients said not accepted with none waiting: %r" % wrong[:2])
PY
jmd_stop
ok "a client accepted at the limit: no client said refused after it, no pause"
