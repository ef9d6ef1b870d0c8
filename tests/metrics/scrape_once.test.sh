#!/usr/bin/env bash
# timeout: 360
# The /metrics page is written once per tick, whatever the scrapes: past
# its health series it changes only at a tick, and with a thousand
# processes it took 0.1-0.7 s of the loop to write (11 MB), at every
# request of whoever reaches the port (the HTTP listener has no user to
# budget). Here 300 processes with forged segments (distinct names), a
# 30 s interval, and 6 scrapes in a row within one tick: the body past
# the health series is the same bytes each time, and
# jmalloc_metrics_render_seconds (the latest render's time) does not
# change, where before each scrape rendered the page anew.
. "$(dirname "$0")/../lib.sh"
need_segments
need_cmd curl
JMD_INTERVAL=30000 jmd_start --metrics 127.0.0.1:0
forge_procs 300 exe=svcIDX modules=1 sites=4
JMD_URL=$JMD_URL JMD_DAEMON_PID=$JMD_PID jmd_py - <<'PY' || fail "the page written once per tick"
from jmd import *
import re, urllib.request

wait_until(lambda: len(ps_pids()) >= 300, "the 300 forged processes live", timeout=60)
def cpu():
    with open("/proc/%s/stat" % os.environ["JMD_DAEMON_PID"]) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")
def scrape():
    return urllib.request.urlopen(os.environ["JMD_URL"] + "/metrics", timeout=60).read().decode()
def body(page):
    """The page from its first per-tick family (jmalloc_host_*) on, less
    the endpoint's own series at its end."""
    start = page.index("# HELP jmalloc_host_")
    end = page.index("# HELP jmalloc_http_responses_total")
    return page[start:end]
# The seven scrapes within one tick: again if a tick passed during them
# (the next attempt then starts just after one, with the whole 30 s; a
# sanitized daemon at load 20 took longer than that for the seven). They
# waited for a tick before the first attempt too: 15 s on average, for a
# chance of a tick among the scrapes of a few in a hundred.
for attempt in range(4):
    tick = request({"cmd": "version"})["ticks"]
    first = scrape()
    c0 = cpu()
    pages = [scrape() for _ in range(6)]
    c1 = cpu()
    if request({"cmd": "version"})["ticks"] == tick:
        break
    print("attempt %d: a tick passed during the scrapes" % (attempt + 1))
else:
    fail("a tick passed during the scrapes, four times")
rs = [re.search(r"^jmalloc_metrics_render_seconds (\S+)$", p, re.M).group(1) for p in [first] + pages]
print("page %d bytes; render %s s; 6 scrapes after the first: %.0f ms of the daemon's CPU each"
      % (len(first), rs[1], 1000 * (c1 - c0) / 6))
# The first scrape shows the render before it (the health series come
# first); the next ones the first one's.
check(len(set(rs[1:])) == 1, "the page was rendered again within a tick: render seconds %r" % rs)
check(all(body(p) == body(first) for p in pages), "the page's body differs within a tick")
PY
jmd_stop
ok "/metrics written once per tick"
