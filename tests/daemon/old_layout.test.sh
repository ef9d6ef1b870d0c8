#!/usr/bin/env bash
# timeout: 60
# A host's jmstatd outlives the processes it watches, and a container
# brings its own libjmalloc: a process whose library writes layout 2 (35
# size classes from 16 B; this build writes layout 5, 41 from 8 B, with
# the header's generation), layout 3 (40 classes from 16 B, no
# generation) or layout 4 (40 classes from 16 B) is read, shown and
# exported, not refused until it restarts. A layout older than any the
# reader reads (1) and one newer than its own are refused, each with the
# message that says which side to upgrade.
#  1. a live process with a segment of layout 2: in ps, its stats with
#     35 bins whose counters are the segment's, in the host's bins and in
#     /metrics; one of layout 3: its bins those of layout 4; one of
#     layout 5: 41 bins, the first 8 B, the others layout 4's sizes;
#  2. layout 2 that claims layout 3's 40 classes: refused as corrupt;
#  3. layout 1 and layout 6: not shown, the log says "older" and "newer".
. "$(dirname "$0")/../lib.sh"
need_segments
need_cmd curl
jmd_start --metrics 127.0.0.1:0
SEGW=$JM_HELPERS/stress_segwriter
layout=$(sed -n 's/^#define JMSTAT_VERSION *\([0-9]*\)u*$/\1/p' "$JM_ROOT/liballoc/include/jmstat.h")
[ "$layout" = 5 ] || fail "this test writes layouts 2, 3 and 4 against layout 5; the build writes layout $layout: read what changed and extend the reader and this test"
# forge VERSION BINS: a sleeping process with a forged segment of that
# layout; its pid in FORGED
forge() {
	sleep 600 &
	PIDS+=("$!")
	FORGED=$!
	"$SEGW" write "$JMD_STATS/$(jm_segment_name "$!")" "$!" 0 exe="layout$1" \
		version="$1" bins="$2" >/dev/null || fail "stress_segwriter write for $!"
}
forge 2 35; V2=$FORGED
forge 2 40; V2BAD=$FORGED
forge 1 35; V1=$FORGED
forge 6 41; V6=$FORGED
forge 3 40; V3=$FORGED
forge 4 40; V4=$FORGED
forge 5 41; CUR=$FORGED
V2=$V2 V2BAD=$V2BAD V1=$V1 V6=$V6 V3=$V3 V4=$V4 CUR=$CUR JMD_URL=$JMD_URL JMD_LOG=$JMD_LOG jmd_py - <<'PY' || fail "layout 2 read"
from jmd import *
import urllib.request
sys.path.insert(0, os.path.join(os.environ["JM_ROOT"], "tests/fuzz"))
v2, v2bad, v1, v6, v3, v4, cur = (int(os.environ[k]) for k in ("V2", "V2BAD", "V1", "V6", "V3", "V4", "CUR"))

wait_until(lambda: {v2, v3, v4, cur} <= set(ps_pids()), "the layout 2, 3, 4 and 5 processes in ps")
shown = set(ps_pids())
for pid, what in ((v2bad, "layout 2 with 40 classes"), (v1, "layout 1"), (v6, "layout 6")):
    check(pid not in shown, "%s (pid %d) shown by ps" % (what, pid))

s2, s4, s5 = stats(v2), stats(v4), stats(cur)
check(len(s2["bins"]) == 35, "layout 2: %d bins, not 35" % len(s2["bins"]))
check(len(s4["bins"]) == 40, "layout 4: %d bins, not 40" % len(s4["bins"]))
check(len(s5["bins"]) == 41, "layout 5: %d bins, not 41" % len(s5["bins"]))
check(stats(v3)["bins"] == s4["bins"], "layout 3's bins differ from layout 4's")
# Layout 5's class i + 1 is layout 4's class i; its class 0 is 8 B.
check(s5["bins"][0]["size"] == 8, "layout 5's first class: %r" % s5["bins"][0])
check([b["size"] for b in s5["bins"][1:]] == [b["size"] for b in s4["bins"]],
      "layout 5's classes from 16 B differ from layout 4's")
# The same synthetic counters (tests/fuzz/segsynth.h) land in the same
# classes: the first 35 classes of both layouts are the same sizes.
for a, b in zip(s2["bins"], s4["bins"]):
    check(a == b, "layout 2's bin %r differs from layout 4's %r" % (a, b))
# An arena's own counters too; what it derives from its bins (small
# allocated bytes) counts 35 classes against 40.
for a, b in zip(s2["arenas"], s4["arenas"]):
    for k in ("mapped", "active", "dirty", "purged", "nthreads", "retained"):
        check(a[k] == b[k], "arena %s: layout 2 %r, layout 4 %r" % (k, a[k], b[k]))

host = request({"cmd": "bins"})["bins"]
sizes = [b["size"] for b in host]
check(sizes == sorted(sizes) and len(sizes) == 41 and sizes[0] == 8, "host bins: %r" % sizes)

text = urllib.request.urlopen(os.environ["JMD_URL"] + "/metrics", timeout=30).read().decode()
check('exe="layout2"' in text, "layout 2's process not in /metrics")

log = open(os.environ["JMD_LOG"]).read()
def logged(pid, words):
    return any(("pid %d" % pid in l or ".%d." % pid in l or "jmalloc.%d" % pid in l) and words in l
               for l in log.splitlines())
wait_until(lambda: logged(v1, "older segment layout"), "the log line of layout 1", timeout=10)
log = open(os.environ["JMD_LOG"]).read()
check(logged(v6, "newer jmalloc"), "layout 6's log line")
check(logged(v2bad, "corrupt segment"), "the log line of layout 2 with 40 classes")
print("layout 2: 35 bins read, in ps, stats, bins and /metrics; layouts 3 and 4 read; 1, 6 and 2-with-40 refused")
PY
jmd_stop
echo "ok"
