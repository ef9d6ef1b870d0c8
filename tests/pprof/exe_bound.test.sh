#!/usr/bin/env bash
# timeout: 180
# What one /exe/NAME profile may cost the daemon. Anyone can run processes
# named as a service (or forge their segments, each with 1,024 stacks no
# other process has): the profile merged every one, each request anew
# (400 forged processes: 0.2 s of the daemon's loop a request with the
# same stacks, 0.9 s and +100 MB with distinct ones). Now it merges the
# oldest first, 256 processes at most and no more once it holds 65,536
# stacks, says so (X-Jmstatd-Processes: MERGED of MATCHING), and serves a
# profile again while younger than ten times what it took to build:
#  1. 300 live processes with forged segments named "victim" (4 stacks
#     each, all the same): 256 of 300 merged;
#  2. 70 more named "salted", 1,024 stacks each, none shared: at most
#     64 merged, at most 65,536 samples in the profile;
#  3. asked again at once, the same bytes (its time included) come back.
. "$(dirname "$0")/../lib.sh"
need_segments
need_cmd curl
jmd_start --metrics 127.0.0.1:0 --pprof
forge_procs 300 exe=victim modules=1 sites=4
forge_procs 70 exe=salted modules=1 sites=1024 salt=IDX
JMD_URL=$JMD_URL jmd_py - <<'PY' || fail "an /exe/NAME profile's bounds"
from jmd import *
import re, subprocess, sys
sys.path.insert(0, os.path.join(os.environ["JM_ROOT"], "tests/pprof"))
import profile

wait_until(lambda: len(ps_pids()) >= 370, "the 370 forged processes live", timeout=60)

def get(name):
    out = subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/stdout",
                          os.environ["JMD_URL"] + "/exe/%s/debug/pprof/heap" % name],
                         capture_output=True, timeout=120).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    m = re.search(rb"X-Jmstatd-Processes: (\d+) of (\d+)", head)
    check(head.startswith(b"HTTP/1.1 200") and m, "GET /exe/%s: %r" % (name, head[:300]))
    return int(m.group(1)), int(m.group(2)), body

merged, of, _ = get("victim")
check((merged, of) == (256, 300), "victim: %d of %d merged, not 256 of 300" % (merged, of))
merged, of, body = get("salted")
p = profile.load(body)
check(of == 70 and merged <= 64, "salted: %d of %d merged, not 64 at most of 70" % (merged, of))
check(len(p["sample"]) <= 65536, "salted: %d samples, over 65,536" % len(p["sample"]))
# Asked again at once: the profile kept (built in tens of ms at least,
# kept ten times that); a few tries, so that a stall of this test
# between two requests does not fail it.
bodies = [get("salted")[2] for _ in range(4)]
check(any(a == b for a, b in zip(bodies, bodies[1:])), "the profile was built anew for each request")
print("victim 256 of 300, salted %d of 70 (%d samples); kept" % (merged, len(p["sample"])))
PY
jmd_stop
echo "ok"
