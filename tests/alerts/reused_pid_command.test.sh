#!/usr/bin/env bash
# timeout: 180
# An alert command queued for a process whose pid is then another's: a
# process of nobody's (preloaded python, fragmenting its heap) fires a
# rule while nobody's two commands hold their slots, so its command
# waits; it exits, and root's process is started under its pid
# (ns_last_pid). Once the slots free, the old daemon ran the command with
# JMALLOC_ALERT_PID naming root's process, which a command that acts on
# the process (a core dump, a restart, a signal) then acted on; the
# process a queued command is for is now looked at as it starts (its
# start in /proc/PID/stat), and a pending or firing alert's command whose
# pid names another process is not run (fourteenth pass,
# docs/security.md).
. "$(dirname "$0")/../lib.sh"
need_users "run processes as nobody"
need_segments
[ -w /proc/sys/kernel/ns_last_pid ] || skip "cannot write /proc/sys/kernel/ns_last_pid"
jm_public "$JM_HELPERS/demo_fragment" "$JM_ROOT/tests/alerts/fragmenter.py"
frag_rule_start "notify = firing"
nobody_frags 2

PUB=$JM_TMP/pub jmd_py - "$JMD_LOG" <<'EOF'
from alib import *
pub, log = os.environ["PUB"], sys.argv[1]
f, aid = queued_alert(pub)
pid = f.pid
f.exit()
child = 0
for attempt in range(200):
    with open("/proc/sys/kernel/ns_last_pid", "w") as fd:
        fd.write(str(pid - 1))
    child = os.fork()
    if child == 0:
        os.execve("/bin/sleep", ["sleep", "300"], {})
    if child == pid:
        break
    os.kill(child, 9)
    os.waitpid(child, 0)
if child != pid:
    # Another process took the pid after nobody's exited (other tests
    # fork meanwhile): nothing staged, nothing to judge.
    print("could not start root's process under pid %d (taken meanwhile)" % pid)
    sys.exit(77)
atexit.register(lambda: os.kill(child, 9))
print("alert %d of nobody's process %d queued; root's sleep now has its pid" % (aid, pid))
got = release_queued(aid, r"alert %d: its command not run: its pid %d now names another process" % (aid, pid),
                     log)
check(got == "skipped", "the command of alert %d ran with pid %d, now root's sleep" % (aid, pid))
print("its command not run")
EOF
rc=$?
[ $rc = 77 ] && skip "the pid of nobody's process taken by another before root's (pids taken meanwhile)"
[ $rc = 0 ] || fail "a queued command for a reused pid"
kill "${nobody_pids[@]}" 2>/dev/null
jmd_stop
ok "a queued alert command whose pid was reused: not run"
