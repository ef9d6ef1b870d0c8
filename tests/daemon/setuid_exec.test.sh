#!/usr/bin/env bash
# timeout: 120
# A user's file stands only for a process whose uids and gids are all
# that user's (setuid.test.sh): a set-uid program publishes nothing, and
# a segment the user forges for its pid is refused. But a process of the
# user's that published and then exec'd a set-uid program (a shell
# running su, passwd, sudo) keeps its pid and start, and its file stays:
# the daemon checked a known writer's uids once a minute only, and until
# then showed the set-uid process as the user's, with the figures and
# name the user may write into the file (root's alert command given its
# pid, acting on a privileged process whose name and start it checks
# against what the user chose). The owner of /proc/PID (the effective
# uid and gid) is now looked at every second, and the full check made at
# once when it changes (thirteenth pass, docs/security.md): here nobody's
# preloaded shell execs a set-uid copy of sleep, and is gone from ps
# within 2 s (shown for up to a minute before).
. "$(dirname "$0")/../lib.sh"
need_users "run a set-uid program as nobody"
need_segments
jm_public "$JM_HELPERS/daemon_holder"
cp "$(command -v sleep)" "$JM_TMP/pub/suid_sleep"
chown root:root "$JM_TMP/pub/suid_sleep" && chmod 4755 "$JM_TMP/pub/suid_sleep"
jmd_start
PUB=$JM_TMP/pub jmd_py - <<'PY' || fail "a set-uid program exec'd after publishing"
from jmd import *
import atexit
pub = os.environ["PUB"]
env = dict(os.environ, LD_PRELOAD=os.path.join(pub, "libjmalloc.so"), JMALLOC_STATS_DIR=STATS_DIR,
           JMALLOC_CONF="prof_sample:0")
# The shell publishes (preloaded), says its pid, waits for a line, then
# execs the set-uid program, which the loader runs without the preload.
p = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                      "sh", "-c", 'echo $$; read x; exec "$0" 600', os.path.join(pub, "suid_sleep")],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
atexit.register(p.kill)
pid = int(p.stdout.readline())
wait_until(lambda: pid in ps_pids(), "nobody's shell in ps", timeout=30)
t0 = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + 2 * INTERVAL_MS / 1000.0, "two ticks")
check(pid in ps_pids(), "nobody's shell left ps before its exec")
p.stdin.write(b"go\n")
p.stdin.flush()
wait_setuid_root(pid)
print("process %d runs the set-uid program: uids %s" % (pid, uids(pid)))
t0 = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + max(2.0, 2 * INTERVAL_MS / 1000.0),
           "2 s of ticks")
check(pid not in ps_pids(), "the set-uid process %d still shown as nobody's after 2 s" % pid)
check(pid not in as_uid(65534, lambda: sorted(ps_pids()))[1], "nobody still sees its set-uid process")
print("gone from ps within 2 s")
PY
jmd_stop
ok "a set-uid program exec'd after publishing: not shown"
