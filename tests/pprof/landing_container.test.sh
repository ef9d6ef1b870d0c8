#!/usr/bin/env bash
# timeout: 120
# GET / links each user's /uid/UID/exe/NAME where a name is run by
# several users. Root in a container without a user namespace is uid 0 on
# the host, and /uid/0/exe/NAME leaves out root's processes read from a
# container's own directory (eleventh pass): a name run by a container's
# root and by another user (nobody) was linked as uid/0/exe/NAME, which
# answered 404 (twelfth pass). Now the container's line links
# /exe/NAME, which merges it, and says whose it is; every link on the
# page answers 200.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_users "run a process as nobody"
need_segments
cp "$JM_HELPERS/demo_fragment" "$JM_TMP/hostprog"
nobody_pub "$JM_TMP/hostprog"
jmd_start --metrics 127.0.0.1:0 --pprof
"${NOBODY[@]}" env LD_PRELOAD="$P/libjmalloc.so" JMALLOC_STATS_DIR="$JMD_STATS" \
	JMALLOC_CONF=prof_sample:4096 "$P/hostprog" -s 64 -c 20000 -r 1 >/dev/null 2>&1 &
PIDS+=("$!")
export BASE_URL=$JMD_URL PROG=$P/hostprog
jmd_py - <<'PY' || fail "GET / and a container's root"
from jmd import *
import atexit, re, urllib.error, urllib.request
base, prog = os.environ["BASE_URL"], os.environ["PROG"]
holder = os.path.join(os.environ["JM_HELPERS"], "daemon_holder")
script = ('"%s" -s 2048 -c 20000 -r 1 >/dev/null 2>&1 & exec "%s"' % (prog, holder))
ct = Container(private=True, program=["sh", "-c", script], env_extra={"JMALLOC_CONF": "prof_sample:4096"})
atexit.register(ct.p.kill)
def hostprogs():
    return sorted(p.get("uid") for p in ps_pids().values() if p.get("exe") == "hostprog")
wait_until(lambda: hostprogs() == [0, 65534], "nobody's hostprog and a container's root's", timeout=60)
def status(path):
    try:
        r = urllib.request.urlopen(base + "/" + path, timeout=30)
        r.read()
        return r.status
    except urllib.error.HTTPError as e:
        return e.code
page = ""
def both_lines():
    global page
    page = urllib.request.urlopen(base + "/", timeout=30).read().decode()
    return page.count("<li>hostprog") == 2
wait_until(both_lines, "two lines of hostprog on /", timeout=30)
links = re.findall(r'href="([^"]*hostprog/debug/pprof/heap)"', page)
print("\n".join(l for l in page.splitlines() if "hostprog" in l))
bad = ["%s: %d" % (l, s) for l in links for s in [status(l)] if s != 200]
check(len(links) == 2 and not bad, "links of / that do not answer: %r (of %r)" % (bad, links))
check('href="uid/65534/exe/hostprog/debug/pprof/heap"' in page, "no link of nobody's own")
PY
jmd_stop
echo "ok"
