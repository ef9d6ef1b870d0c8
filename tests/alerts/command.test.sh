#!/usr/bin/env bash
# timeout: 120
# Alert commands: run through /bin/sh -c on firing and resolved (by
# default), with the alert in JMALLOC_ALERT_* variables (and none of the
# daemon's own JMALLOC_ALERT_* values); `notify` chooses the states; a
# command that fails is logged with its status; one that runs too long is
# killed after command_timeout, and jmstatd answers requests while it runs
# (commands never block the loop). The variables: integer seconds, the
# host, the bytes, the value and threshold as text in the rule's units,
# the reason of a resolve.
. "$(dirname "$0")/../lib.sh"
need_segments

OUT=$JM_TMP/notified
alert_recorder "$OUT"
F=("ratio = 0.5" "min_wasted = 16MiB")
{
	printf 'command = %s\ncommand_timeout = 1500ms\n' "$JM_TMP/notify.sh"
	rule frag fragmentation "${F[@]}" "for = 400ms" "notify = pending, firing, resolved"
	rule failing fragmentation "${F[@]}" "command = echo failing >\"$OUT/failing.ran\"; exit 3"
	rule slow fragmentation "${F[@]}" "notify = firing" \
		"command = touch \"$OUT/slow.started\"; sleep 30.$$; touch \"$OUT/slow.finished\""
} >"$JM_TMP/rules.conf"
JMALLOC_ALERT_RULE=from-the-daemon JMALLOC_ALERT_BOGUS=1 jmd_start --config "$JM_TMP/rules.conf"

TEST_SHELL_PID=$$ jmd_py - "$JMD_LOG" "$OUT" <<'EOF' || fail "alert commands"
import os, re, sys, time
from alib import *

log_path, out = sys.argv[1], sys.argv[2]

def env_of(name):
    p = os.path.join(out, name)
    if not os.path.exists(p):
        return None
    return dict(l.rstrip("\n").split("=", 1) for l in open(p))

f = Fragmenter()
f.cmd("frag 192 300000")
a = wait_until(lambda: [x for x in request({"cmd": "alerts"})["alerts"]
                        if x["rule"] == "frag" and x["state"] == "firing"], "frag firing")[0]
aid = a["id"]
pend = wait_until(lambda: env_of("frag.%d.pending" % aid), "the command on pending")
fire = wait_until(lambda: env_of("frag.%d.firing" % aid), "the command on firing")
for k, v in (("RULE", "frag"), ("ID", str(aid)), ("STATE", "firing"), ("PREVIOUS_STATE", "pending"),
             ("KIND", "fragmentation"), ("PID", str(f.pid)), ("EXE", a["exe"]),
             ("THRESHOLD", "0.5"), ("UID", str(os.getuid())), ("BIN_SIZE", "0")):
    check(fire.get("JMALLOC_ALERT_" + k) == v, "JMALLOC_ALERT_%s=%r, not %r" %
          (k, fire.get("JMALLOC_ALERT_" + k), v))
check(float(fire["JMALLOC_ALERT_VALUE"]) > 0.5, "VALUE %r" % fire["JMALLOC_ALERT_VALUE"])
check(fire["JMALLOC_ALERT_MESSAGE"].startswith("fragmentation "), "MESSAGE %r" % fire["JMALLOC_ALERT_MESSAGE"])
# Integer seconds (shell arithmetic), the host, the bytes, human text.
import socket
check(re.fullmatch(r"\d+", fire["JMALLOC_ALERT_SINCE"]) and
      abs(int(fire["JMALLOC_ALERT_SINCE"]) - a["since"]) < 1.01, "SINCE %r" % fire["JMALLOC_ALERT_SINCE"])
check(re.fullmatch(r"\d+", fire["JMALLOC_ALERT_STARTED"]), "STARTED %r" % fire["JMALLOC_ALERT_STARTED"])
check(fire.get("JMALLOC_ALERT_HOST") == socket.gethostname(), "HOST %r" % fire.get("JMALLOC_ALERT_HOST"))
check(re.fullmatch(r"\d+", fire["JMALLOC_ALERT_BYTES"]) and int(fire["JMALLOC_ALERT_BYTES"]) > 16 << 20,
      "BYTES %r" % fire["JMALLOC_ALERT_BYTES"])
check(re.fullmatch(r"\d+\.\d%", fire["JMALLOC_ALERT_VALUE_TEXT"]) and
      fire["JMALLOC_ALERT_THRESHOLD_TEXT"] == "50.0%", "VALUE_TEXT %r THRESHOLD_TEXT %r" %
      (fire["JMALLOC_ALERT_VALUE_TEXT"], fire["JMALLOC_ALERT_THRESHOLD_TEXT"]))
check(fire.get("JMALLOC_ALERT_REASON") == "", "REASON on firing %r" % fire.get("JMALLOC_ALERT_REASON"))
check("JMALLOC_ALERT_BOGUS" not in fire, "the daemon's own JMALLOC_ALERT_* leaked into the command")
check(pend["JMALLOC_ALERT_STATE"] == "pending" and pend["JMALLOC_ALERT_PREVIOUS_STATE"] == "inactive", "%r" % pend)

# The failing command: its status is logged.
wait_until(lambda: os.path.exists(os.path.join(out, "failing.ran")), "the failing rule's command")
wait_until(lambda: re.search(r"alert \d+: its command \(pid \d+\) exited with status 3", open(log_path).read()),
           "the failing command's status in the log")

# The slow command runs; jmstatd answers meanwhile; it is killed at 1.5 s.
wait_until(lambda: os.path.exists(os.path.join(out, "slow.started")), "the slow command")
check(request({"cmd": "version"})["ok"], "jmstatd does not answer while a command runs")
check(not os.path.exists(os.path.join(out, "slow.finished")), "the slow command finished?")
wait_until(lambda: re.search(r"alert \d+: its command \(pid \d+\) still runs after 1.5s: killing it",
                             open(log_path).read()), "the slow command killed")
wait_until(lambda: re.search(r"alert \d+: its command \(pid \d+\) was killed by signal 9", open(log_path).read()),
           "the killed command reaped")
def sleeper_left():
    mark = "sleep\0" + "30.%s" % os.environ["TEST_SHELL_PID"]
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open("/proc/%s/cmdline" % p).read().startswith(mark):
                return True
        except OSError:
            pass
    return False
wait_until(lambda: not sleeper_left(), "the killed command's children gone too")

# Resolved: the process exits.
f.exit()
res = wait_until(lambda: env_of("frag.%d.resolved" % aid), "the command on resolved")
check(res["JMALLOC_ALERT_STATE"] == "resolved" and res["JMALLOC_ALERT_PREVIOUS_STATE"] == "firing", "%r" % res)
check(res["JMALLOC_ALERT_REASON"] == "the process is gone", "REASON %r" % res["JMALLOC_ALERT_REASON"])
check(not [n for n in os.listdir(out) if n.startswith("slow.") and n.endswith("resolved")],
      "notify = firing ran the command on resolved too")
print("ok")
EOF
jmd_stop
echo "ok"
