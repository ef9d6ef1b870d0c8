#!/usr/bin/env bash
# timeout: 120
# jmctl top whose terminal goes away without a SIGHUP reaching it (blocked
# here; a terminal not its session's) exits, and at once: its stdin hung
# up woke every poll, getch read nothing, and it spun at 100% of a CPU for
# ever. Driven by python's pty: the terminal's master is closed once the
# view is drawn; the test waits for jmctl's exit (a bound of $JM_WAIT s on
# a hang) and then for its status: 0, as on SIGHUP.
. "$(dirname "$0")/../lib.sh"
need_segments
need_jmctl
jmd_start
python3 - "$JMCTL" "$JMD_SOCK" "$JM_WAIT" <<'PY' || fail "jmctl top after its terminal hung up"
import os, pty, select, signal, sys, time
jmctl, sock, wait = sys.argv[1], sys.argv[2], int(sys.argv[3])
pid, fd = pty.fork()
if pid == 0:
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGHUP])
    os.environ.update(LANG="C.UTF-8", TERM="xterm")
    os.execv(jmctl, [jmctl, "--socket", sock, "top", "-d", "0.3"])
buf, deadline = b"", time.monotonic() + wait
while b"jmctl top - " not in buf:
    if time.monotonic() > deadline:
        os.kill(pid, 9)
        sys.exit("jmctl top drew nothing in %d s: %r" % (wait, buf[-300:]))
    if select.select([fd], [], [], 1)[0]:
        try:
            buf += os.read(fd, 65536)
        except OSError:
            os.kill(pid, 9)
            sys.exit("jmctl top's terminal closed before it drew: %r" % buf[-300:])
print("jmctl top (pid %d) drew its view; its terminal hangs up" % pid)
os.close(fd)
deadline = time.monotonic() + wait
while time.monotonic() < deadline:
    got, status = os.waitpid(pid, os.WNOHANG)
    if got:
        break
    time.sleep(0.1)
else:
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    sys.exit("jmctl top still running %d s after its terminal hung up (state %s, %.1f s of CPU)"
             % (wait, v[0], (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")))
if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
    sys.exit("jmctl top ended with status %#x after its terminal hung up" % status)
print("it exited 0")
PY
jmd_stop
ok "jmctl top exits 0 when its terminal hangs up without a SIGHUP"
