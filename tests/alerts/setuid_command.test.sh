#!/usr/bin/env bash
# timeout: 180
# An alert command for a process that exec'd a set-uid program: a
# process of nobody's that published (preloaded python, fragmenting its
# heap) fires a rule, then execs a set-uid copy of sleep, keeping its
# pid, its start and its file, which nobody may write. The daemon sees
# the change at its next look at /proc/PID (once a second), but a command
# already due ran with the pid of the privileged process, under the name
# and figures nobody chose: evaluated in the tick before that look, or,
# as staged here without timing, queued behind nobody's two commands
# (their slots per user) while the exec happens. The command is now not
# run when the process it names runs with other credentials than the
# daemon last checked (fourteenth pass, docs/security.md).
. "$(dirname "$0")/../lib.sh"
need_users "run processes as nobody"
need_segments
jm_public "$JM_HELPERS/demo_fragment" "$JM_ROOT/tests/alerts/fragmenter.py"
cp "$(command -v sleep)" "$JM_TMP/pub/suid_sleep"
chown root:root "$JM_TMP/pub/suid_sleep" && chmod 4755 "$JM_TMP/pub/suid_sleep"
frag_rule_start "notify = firing"
nobody_frags 2

PUB=$JM_TMP/pub jmd_py - "$JMD_LOG" <<'EOF' || fail "a command for a process gone set-uid"
from alib import *
pub, log = os.environ["PUB"], sys.argv[1]
f, aid = queued_alert(pub)
f.send("exec %s 600" % os.path.join(pub, "suid_sleep"))
wait_setuid_root(f.pid)
print("alert %d of process %d queued; the process now runs set-uid root" % (aid, f.pid))
got = release_queued(aid, r"alert %d: its command not run: process %d now runs with other credentials"
                     % (aid, f.pid), log)
check(got == "skipped", "the command of alert %d ran for process %d, now set-uid root" % (aid, f.pid))
print("its command not run")
EOF
kill "${nobody_pids[@]}" 2>/dev/null
jmd_stop
ok "an alert command for a process gone set-uid: not run"
