#!/usr/bin/env bash
# timeout: 90
# Alert commands per user (quota.test.sh) with subordinate uids: four
# fragmenting processes run as four uids of nobody's subordinate range
# (--subuid-file), each firing an alert whose command blocks. Each uid had
# its own 2 slots: 4 x 2 commands ran at once, and 8 uids took every
# slot of the users other than root. Now they are nobody's: 2 at once,
# the others wait, and each runs once let go. Needs root and setpriv.
. "$(dirname "$0")/../lib.sh"
need_users "run processes as other uids"
need_segments
jm_public "$JM_HELPERS/demo_fragment"
blocking_command
printf 'nobody:200000:65536\n' >"$JM_TMP/subuid"
{
	printf 'command = %s\ncommand_timeout = 80s\n' "$JM_TMP/cmd.sh"
	rule frag fragmentation "ratio = 0.5" "min_wasted = 1MiB" "for = 200ms"
} >"$JM_TMP/rules.conf"
jmd_start --config "$JM_TMP/rules.conf" --subuid-file "$JM_TMP/subuid"
pids=()
for k in 0 1 2 3; do
	setpriv --reuid=$((200000 + k)) --regid=$((200000 + k)) --clear-groups \
		env JMALLOC_STATS_DIR="$JMD_STATS" LD_PRELOAD="$JM_TMP/pub/libjmalloc.so" \
		JMALLOC_CONF=prof_sample:0 "$JM_TMP/pub/demo_fragment" -s 64 -c 40000 -r 10 >/dev/null 2>&1 &
	pids+=($!)
	PIDS+=($!)
done

jmd_py - <<'EOF' || fail "alert commands of subordinate uids"
from jmd import *
log = os.environ["CMDLOG"]
subs = {str(200000 + k) for k in range(4)}
def lines():
    return [l.split() for l in open(log)]
def running():
    n = 0
    for l in lines():
        if l[1] in subs:
            n += 1 if l[0] == "start" else -1
    return n
def firing():
    return [a for a in request({"cmd": "alerts"})["alerts"]
            if str(a["uid"]) in subs and a["state"] == "firing"]
wait_until(lambda: len(firing()) == 4, "the four alerts firing", timeout=60)
wait_until(lambda: running() >= 2, "two commands running", timeout=30)
time.sleep(1.0)     # a few ticks: no third one starts
check(running() == 2, "commands of nobody's subordinate uids running at once: %d" % running())
open(os.environ["RELEASE"], "w").close()
wait_until(lambda: sum(1 for l in lines() if l[0] == "end") == 4, "the four commands to run", timeout=60)
print("four alerts of four subordinate uids of nobody: 2 commands at once, 4 run")
EOF
jmd_stop
echo "ok"
