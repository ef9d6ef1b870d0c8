"""jmd.py: what the daemon's end-to-end tests share (python3, stdlib only).

A test script (tests/daemon/*.test.sh) starts jmstatd with lib.sh, then runs
python with PYTHONPATH=tests/daemon and uses these helpers: a client for
the newline-delimited JSON protocol, a waiting loop with a deadline (tests
wait for a condition, they never assert on timing), and a driver for the
daemon_holder helper program.
"""
import atexit
import ctypes
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time

SOCK = os.environ.get("JMD_SOCK", "")
STATS_DIR = os.environ.get("JMD_STATS", "")
INTERVAL_MS = int(os.environ.get("JMD_INTERVAL", "200"))


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


class Client:
    def __init__(self, path=None, timeout=30.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # A blocking connect waits while the listen queue is full, as
        # jmctl's does; a timeout would make it fail at once with EAGAIN.
        self.s.connect(path or SOCK)
        self.s.settimeout(timeout)
        self.buf = b""

    def send_raw(self, data):
        self.s.sendall(data)

    def readline(self):
        """One reply line as bytes, or None at EOF."""
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def read(self):
        line = self.readline()
        if line is None:
            return None
        return json.loads(line)

    def req(self, obj):
        self.send_raw((json.dumps(obj) + "\n").encode())
        r = self.read()
        check(r is not None, "the daemon closed the connection after %r" % (obj,))
        return r

    def at_eof(self):
        """True once the daemon has closed the connection (after any lines)."""
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True

    def close(self):
        self.s.close()


def fd_limit(pid, free):
    """Lowers process pid's RLIMIT_NOFILE (soft) to leave it `free`
    descriptors (tests/daemon/fd_limit, tests/alerts/cmd_fd_limit)."""
    for _ in range(50):
        fds = set(int(f) for f in os.listdir("/proc/%d/fd" % pid))
        holes = [i for i in range(len(fds) + free + 1) if i not in fds]
        subprocess.check_call(["prlimit", "--pid", str(pid), "--nofile=%d:" % holes[free]])
        if set(int(f) for f in os.listdir("/proc/%d/fd" % pid)) == fds:
            return
    fail("the daemon's descriptors kept changing")


def connect_raw(timeout=30):
    """A bare connection to the daemon's socket, nothing sent (the
    descriptor-limit and idle-client tests)."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(SOCK)
    s.settimeout(timeout)
    return s


def read_to_close(s):
    """All the daemon sends on s until it closes it; closes s."""
    reply = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        reply += b
    s.close()
    return reply


def request(obj, path=None):
    c = Client(path)
    try:
        return c.req(obj)
    finally:
        c.close()


def segment_path(pid, stats_dir=None):
    """The path of pid's stats segment in stats_dir (STATS_DIR by default),
    whichever form its name has: jmalloc.<pid>.stats (a process of the
    host's pid namespace) or jmalloc.<pid>.<pidns>.<start>[.<tag>].stats
    (any other, as when the tests run in a container); None if there is
    none. Of several, the plain name, then the first in order."""
    d = STATS_DIR if stats_dir is None else stats_dir
    plain = os.path.join(d, "jmalloc.%d.stats" % pid)
    if os.path.lexists(plain):
        return plain
    found = sorted(glob.glob(os.path.join(glob.escape(d), "jmalloc.%d.*.stats" % pid)))
    return found[0] if found else None


def segment_name_of(pid, start=None):
    """The name the allocator gives the segment of pid, a process of the
    caller's pid namespace (a name segment_path finds): start, its start
    time (/proc/<pid>/stat), is read when not given."""
    ns = os.stat("/proc/self/ns/pid").st_ino
    if ns == 4026531836:
        return "jmalloc.%d.stats" % pid
    if start is None:
        with open("/proc/%d/stat" % pid) as f:
            start = int(f.read().rsplit(")", 1)[1].split()[19])
    return "jmalloc.%d.%d.%d.stats" % (pid, ns, start)


def wait_until(fn, what, timeout=30.0, step=0.05):
    """Calls fn until it returns something true; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            fail("timed out waiting for " + what)
        time.sleep(step)


def answers_throughout(ticks, hung_on, t0=None):
    """Asks version every 50 ms, each on a new connection, until the
    daemon's clock is `ticks` intervals past t0 (its first answer's time
    if None); fails if one takes 3 s ("hung on " + hung_on). Returns the
    slowest answer's time in seconds."""
    worst = 0.0
    while True:
        t = time.monotonic()
        try:
            c = Client(timeout=3)
            v = c.req({"cmd": "version"})
            c.close()
        except socket.timeout:
            fail("the daemon did not answer version within 3 s: hung on " + hung_on)
        worst = max(worst, time.monotonic() - t)
        t0 = v["time"] if t0 is None else t0
        if v["time"] >= t0 + ticks * INTERVAL_MS / 1000.0:
            return worst
        time.sleep(0.05)


def ps_pids(path=None):
    r = request({"cmd": "ps"}, path)
    check(r["ok"], "ps failed: %r" % r)
    return {p["pid"]: p for p in r["processes"]}


def stats(pid, path=None):
    return request({"cmd": "stats", "pid": pid}, path)


def stats_after(pid, t, path=None):
    """The first stats reply for pid whose sample was taken after unix time t."""
    def fresh():
        r = stats(pid, path)
        return r if r["ok"] and r["time"] > t + 0.002 else None
    return wait_until(fresh, "a sample of %d after %.3f" % (pid, t))


class Holder:
    """tests/helpers/daemon_holder under LD_PRELOAD, driven over pipes."""

    def __init__(self, env_extra=None, preexec_fn=None, uid=None):
        env = dict(os.environ)
        env["LD_PRELOAD"] = os.environ["JMALLOC_LIB"]
        env["JMALLOC_STATS_DIR"] = STATS_DIR
        # Exact counters: a sampled allocation of the heap profile is
        # served as a large region of its own, which moves it between
        # the small and large counts.
        env["JMALLOC_CONF"] = "prof_sample:0"
        if env_extra:
            env.update(env_extra)
        self.p = subprocess.Popen([os.path.join(os.environ["JM_HELPERS"], "daemon_holder")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                  preexec_fn=preexec_fn, **as_user(uid))
        line = self.p.stdout.readline().decode().split()
        check(len(line) == 2 and line[0] == "ready", "daemon_holder did not start: %r" % line)
        self.pid = int(line[1])
        # The name its segment has, known while it lives (in a non-initial
        # pid namespace the name holds its start time).
        self.seg_name = segment_name_of(self.pid)

    def cmd(self, line):
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()
        r = self.p.stdout.readline().decode().strip()
        check(r == "ok", "daemon_holder %r answered %r" % (line, r))
        return time.time()

    def exit(self):
        self.p.stdin.write(b"exit\n")
        self.p.stdin.flush()
        self.p.wait()

    def kill(self):
        self.p.kill()
        self.p.wait()

    def segment(self):
        return os.path.join(STATS_DIR, self.seg_name)


def holders(n, cmd, timeout=30.0):
    """n Holders, each told cmd ("alloc 64 1000"), once jmstatd lists all."""
    hs = []
    for i in range(n):
        h = Holder()
        h.cmd(cmd)
        hs.append(h)
    wait_until(lambda: all(h.pid in ps_pids() for h in hs), "the holders in ps", timeout)
    return hs


def daemon_status(key, pid=None):
    """A field of the daemon's /proc/PID/status (VmRSS, VmHWM: KiB), 0 when
    absent; pid defaults to $JMD_DAEMON_PID."""
    pid = pid or int(os.environ["JMD_DAEMON_PID"])
    for l in open("/proc/%d/status" % pid):
        if l.startswith(key + ":"):
            return int(l.split()[1])
    return 0


def reads_per_tick(ticks=20, timeout=120.0):
    """The daemon's ($JMD_DAEMON_PID) read() calls a tick (/proc/PID/io's
    syscr), over ticks ticks."""
    def syscr():
        with open("/proc/%s/io" % os.environ["JMD_DAEMON_PID"]) as f:
            return int(next(l for l in f if l.startswith("syscr:")).split()[1])
    t0, r0 = request({"cmd": "version"})["time"], syscr()
    t1 = wait_until(lambda: (lambda t: t >= t0 + ticks * INTERVAL_MS / 1000.0 and t)(
        request({"cmd": "version"})["time"]), "%d ticks" % ticks, timeout=timeout)
    n = (t1 - t0) * 1000.0 / INTERVAL_MS
    return (syscr() - r0) / n, n


def junk_reads_per_tick(n, ticks=20):
    """Once the daemon knows n bad files (60 s at most), reads_per_tick()."""
    bad = lambda: request({"cmd": "version"})["segments_bad"]
    deadline = time.monotonic() + 60
    while bad() < n and time.monotonic() < deadline:
        time.sleep(0.2)
    check(bad() >= n, "%d of the %d junk files read in 60 s" % (bad(), n))
    return reads_per_tick(ticks)


def pipelined(payloads, per_conn, judge, timeout):
    """Sends each of payloads (per_conn requests, one line each) on a
    connection of its own, all at once, and reads every reply as it
    comes: [replies, replies judged whole, the first 3 error texts].
    judge(line) is None for a whole reply, else what was wrong. A
    connection is closed once its per_conn replies are in."""
    import selectors
    sel = selectors.DefaultSelector()
    for payload in payloads:
        s = socket.socket(socket.AF_UNIX)
        s.connect(SOCK)
        s.sendall(payload)
        sel.register(s, selectors.EVENT_READ, [bytearray(), 0])
    n = whole = 0
    errors = []
    deadline = time.monotonic() + timeout
    while sel.get_map() and time.monotonic() < deadline:
        for key, _ in sel.select(1.0):
            data = key.data
            chunk = key.fileobj.recv(1 << 20)
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            data[0] += chunk
            while True:
                i = data[0].find(b"\n")
                if i < 0:
                    break
                line = bytes(data[0][:i])
                del data[0][:i + 1]
                n += 1
                data[1] += 1
                error = judge(line)
                if error is None:
                    whole += 1
                else:
                    errors.append(error)
                if data[1] == per_conn:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
    return [n, whole, errors[:3]]


def nobody_connections(n):
    """Opens n connections to the daemon as the host's nobody (uid 65534),
    asking each for its version, and returns how many were served; all n
    are held until the last is answered, then dropped."""
    def conns():
        held = []
        for i in range(n):
            c = Client()
            if c.req({"cmd": "version"}).get("ok"):
                held.append(c)
        return len(held), held
    pid, served = as_uid(65534, conns, keep=True)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return served


def as_uid(uid, fn, keep=False):
    """Runs fn() in a child that has become uid (no groups, gid = uid) and
    returns (the child's pid, what fn returned, through JSON on a pipe).
    With keep, fn returns (result, what to hold) and the child then waits
    until killed, holding the second (connections): the caller kills it;
    else it has exited."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            result, held = fn() if keep else (fn(), None)
            os.write(w, json.dumps(result).encode())
            os.close(w)
            while held is not None:
                time.sleep(3600)
        finally:
            os._exit(0)
    os.close(w)
    out, result = b"", None
    while result is None:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        out += chunk
        try:
            result = json.loads(out)
        except ValueError:
            continue
    os.close(r)
    if not keep:
        os.waitpid(pid, 0)
    check(result is not None, "child of uid %d said nothing" % uid)
    return pid, result


def uids(pid):
    """The real, effective and saved uids of pid (/proc/PID/status)."""
    with open("/proc/%d/status" % pid) as f:
        return [int(u) for u in next(l for l in f if l.startswith("Uid:")).split()[1:4]]


def wait_setuid_root(pid):
    """Waits until pid runs a set-uid root program: its real uid is not
    root's, its effective and saved uids are (where the exec found a
    nosuid mount, never)."""
    return wait_until(lambda: (lambda u: u[0] != 0 and u[1:] == [0, 0])(uids(pid)),
                      "the set-uid program running (a nosuid mount?)")


def as_user(uid):
    """Popen's arguments that start the child as uid (None: as we are): no
    groups, gid = uid. Not a preexec_fn that calls setgroups, setgid and
    setuid: with one, CPython's child runs python between fork and exec;
    with these, C alone: half the children's CPU (100 holders as nobody:
    1.15 s against 2.1-2.4), of which the churns of 1,100 processes
    (tests/stress/deadkeep*, alerts/resolved_quota) are made."""
    return {} if uid is None else {"user": uid, "group": uid, "extra_groups": []}


def nobody_junk(pid, n):
    """Makes n empty files of nobody's in STATS_DIR named as segments of
    its live process pid (jmalloc.PID.PIDNS.START.TAG.stats: any tag will
    do), as nobody; returns their names, in the order made."""
    with open("/proc/%d/stat" % pid) as f:
        start = int(f.read().rsplit(")", 1)[1].split()[19])
    pidns = os.stat("/proc/self/ns/pid").st_ino
    names = ["jmalloc.%d.%d.%d.%016x.stats" % (pid, pidns, start, (1 << 63) | i) for i in range(n)]
    make = "import os, sys\nfor n in sys.stdin.read().split():\n    open(os.path.join(%r, n), 'w').close()\n" % STATS_DIR
    subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3",
                    "-c", make], input="\n".join(names), text=True, check=True)
    return names


def own_junk(pid, n):
    """Makes n empty files in STATS_DIR named as segments of our live
    process pid (as nobody_junk, but ours): not removed while pid lives,
    each read again at every rescan (one tick in 10), a long tick when n
    is some thousands."""
    with open("/proc/%d/stat" % pid) as f:
        start = int(f.read().rsplit(")", 1)[1].split()[19])
    pidns = os.stat("/proc/self/ns/pid").st_ino
    for i in range(n):
        name = "jmalloc.%d.%d.%d.%016x.stats" % (pid, pidns, start, (1 << 62) | i)
        open(os.path.join(STATS_DIR, name), "w").close()


def junk_holder(n):
    """A Holder, listed, and n own_junk files named as segments of its pid,
    which the daemon has read: from then on each rescan (one tick in 10)
    reads them again, a tick that takes long (spans slices) when n is some
    hundreds or thousands."""
    h = Holder()
    wait_until(lambda: h.pid in ps_pids(), "the holder in ps")
    own_junk(h.pid, n)
    wait_until(lambda: request({"cmd": "version"})["segments_bad"] >= n, "the junk files read")
    return h

# sh -c JUNK_MAKER DIR N: makes N empty files in DIR named as segments of
# the shell's pid, prints "made", then sleeps (kill it to end). What runs
# before it (a cgroup joined, a tmpfs mounted) is put in front of it.
JUNK_MAKER = r'''
python3 - "$0" "$1" $$ <<EOF
import os, sys
d, n, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
st = int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[19])
ns = os.stat("/proc/%d/ns/pid" % pid).st_ino
for i in range(n):
    open(os.path.join(d, "jmalloc.%d.%d.%d.%016x.stats" % (pid, ns, st, (1 << 63) | i)), "w").close()
EOF
echo made
exec sleep 600
'''

# sh -c MNTNS_JUNK_MAKER DIR N: mounts a tmpfs over DIR in the mount
# namespace the shell is in (the caller makes it: unshare --mount
# --propagation private), then JUNK_MAKER there.
MNTNS_JUNK_MAKER = 'mount -t tmpfs -o mode=1777 jmns "$0" || exit 1\n' + JUNK_MAKER

# Staging a pid's reuse without timing: a process started under a chosen
# pid (start_at), then, once the daemon is stopped where it matters (gdb),
# killed and another started under the same pid. lib.sh's pid_ahead picks
# the pid and need_ns_last_pid skips where it cannot be chosen.
LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWUSER = 0x20000, 0x10000000
MS_REC, MS_PRIVATE = 16384, 1 << 18


def child_check(rc, what):
    """In a forked child: unless the libc call's rc is 0, says what failed
    (with errno) and ends the child (os._exit(1))."""
    if rc != 0:
        os.write(2, b"%s: %s\n" % (what.encode(), os.strerror(ctypes.get_errno()).encode()))
        os._exit(1)


def mount_own_stats(stats_dir=None):
    """In a forked child that has unshared its mount namespace: / made
    private, then a tmpfs (mode 1777) on stats_dir (STATS_DIR): the
    directory of its own that a container's /dev/shm is."""
    d = (stats_dir or STATS_DIR).encode()
    child_check(LIBC.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    child_check(LIBC.mount(b"jmtest", d, b"tmpfs", 0, b"mode=1777"), "mount tmpfs on %s" % d.decode())


def start_at(pid, setup=None, argv=("/bin/sleep", "300"), env=None, tries=200):
    """A child started under pid: it runs setup() (in the child, under pid
    only; it ends the child to fail, as child_check), then execs argv with
    env ({} if None). The pid is had by writing pid - 1 to
    /proc/sys/kernel/ns_last_pid before each fork: a child given another
    (a fork elsewhere on the machine came first) is killed and the fork
    tried again, tries times at most. Returns the child's pid, or 0 if
    others took the pid every time, or the child under it failed its
    setup (the caller skips: pids taken meanwhile) or said nothing."""
    for _ in range(tries):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        rd, wr = os.pipe()
        child = os.fork()
        if child == 0:
            try:
                os.close(rd)
                if os.getpid() != pid:
                    os._exit(0)
                if setup:
                    setup()
                os.write(wr, b"in\n")
                os.execve(argv[0], list(argv), env or {})
            except BaseException as e:
                os.write(2, b"start_at(%d): %s\n" % (pid, repr(e).encode()))
            os._exit(127)
        os.close(wr)
        got = os.read(rd, 8)
        os.close(rd)
        if child == pid and got == b"in\n":
            return child
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(child, 0)
        if child == pid:
            return 0
    return 0


def public_holders(pub):
    """Holders started from now on run the allocator and daemon_holder
    copied into pub (lib.sh's jm_public), where another uid can run them."""
    os.environ["JM_HELPERS"] = pub
    os.environ["JMALLOC_LIB"] = os.path.join(pub, "libjmalloc.so")


_forged = set()


def _kill_forged_at_exit():
    for pid in _forged:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def forge(uid, n, *fields):
    """n live processes of uid's (gid uid, no groups), each with a valid
    segment of its own forged by stress_segwriter forge (fields: its, such
    as "frag"), run from JM_HELPERS (public_holders' directory for another
    uid); returns their pids. Each is a paused child that the harness
    kills at exit: kill_forged() kills and reaps them (we become their
    subreaper, their parent having exited). The churns of 1,100 processes
    (tests/stress/deadkeep*, alerts/resolved_quota) are made so: a Holder
    is a fork of python and a process under the allocator, 20-35 s of CPU
    for 1,100; these take a fork of one small program."""
    if not _forged:
        check(ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0,  # PR_SET_CHILD_SUBREAPER
              "prctl(PR_SET_CHILD_SUBREAPER)")
        atexit.register(_kill_forged_at_exit)
    cmd = [os.path.join(os.environ["JM_HELPERS"], "stress_segwriter"), "forge", STATS_DIR, str(n)]
    if uid is not None:
        cmd = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups"] + cmd
    out = subprocess.run(cmd + list(fields), stdout=subprocess.PIPE, text=True, check=True).stdout
    pids = [int(x) for x in out.split()]
    _forged.update(pids)
    check(len(pids) == n, "stress_segwriter forge made %d processes, not %d" % (len(pids), n))
    return pids


def kill_forged(pids):
    """Kills forged processes (forge) and reaps them, as Holder.kill."""
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        _forged.discard(pid)


def host_child(pid, timeout=10.0):
    """The one child of pid (unshare --fork's child: a container's pid 1)."""
    def child():
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = f.read().split()
        except OSError:
            return None
        return int(kids[0]) if kids else None
    return wait_until(child, "the child of %d" % pid, timeout)


UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc", "--mount", "--ipc", "--kill-child=KILL"]


def can_unshare():
    """None if this machine can make the containers of tests/containers,
    else why not."""
    if os.geteuid() != 0:
        return "needs root (unshare --pid --mount)"
    try:
        r = subprocess.run(UNSHARE + ["true"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "unshare failed: %s" % e
    if r.returncode != 0:
        return "unshare --pid --fork --mount-proc --mount --ipc failed: %s" % r.stderr.decode().strip()
    return None


def private_service(tag, timeout):
    """daemon_holder as root's service in a private mount namespace of its
    own with a tmpfs (named tag) on the stats directory, as a unit's
    PrivateTmp/PrivateDevices makes one; killed at exit. Returns the
    process and whether `ps` showed it within timeout seconds."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env["JMALLOC_STATS_DIR"] = STATS_DIR
    env["JMALLOC_CONF"] = "prof_sample:0"
    script = 'mount -t tmpfs -o mode=1777 %s "$0" && LD_PRELOAD="$1" exec "$2"' % tag
    q = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                          STATS_DIR, os.environ["JMALLOC_LIB"],
                          os.path.join(os.environ["JM_HELPERS"], "daemon_holder")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    atexit.register(q.kill)
    line = q.stdout.readline().decode().split()
    check(len(line) == 2 and line[0] == "ready", "root's service did not start: %r" % line)
    try:
        wait_until(lambda: q.pid in ps_pids(), "root's service in ps", timeout=timeout)
        return q, True
    except SystemExit:
        return q, False


class HostPid:
    """daemon_holder in a container that shares our pid namespace
    (--pid=host, hostPID), made as a runtime makes one: a mount namespace
    of its own with a tmpfs on the stats directory (its own /dev/shm), in
    cgroup cg (a directory to move it into: docker-ID.scope). pid is its
    pid, the host's (host_pid too, as a Container's)."""

    def __init__(self, cg):
        self.cg = cg
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        env["JMALLOC_STATS_DIR"] = STATS_DIR
        env["JMALLOC_CONF"] = "prof_sample:0"
        script = ('echo $$ > "$0/cgroup.procs" && mount -t tmpfs -o mode=1777 jmhp "$1" && '
                  'LD_PRELOAD="$2" exec "$3"')
        self.p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                   script, cg, STATS_DIR, os.environ["JMALLOC_LIB"],
                                   os.path.join(os.environ["JM_HELPERS"], "daemon_holder")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        line = self.p.stdout.readline().decode().split()
        check(len(line) == 2 and line[0] == "ready", "a --pid=host container did not start: %r"
              % line)
        self.pid = int(line[1])
        self.host_pid = self.pid

    def inside(self, argv):
        """argv run in its mount namespace and cgroup, as docker exec runs it."""
        return ["nsenter", "-t", str(self.pid), "-m", "--", "sh", "-c",
                'echo $$ > "$0/cgroup.procs" && exec "$@"', self.cg] + [str(x) for x in argv]


class Container(Holder):
    """daemon_holder as pid 1 of a container made as runtimes make one
    (unshare --pid --fork --mount-proc --mount --ipc). private: a tmpfs of
    its own on the stats directory (as a container's own /dev/shm); else it
    writes into the host's (a shared hostPath directory). cgroup: a cgroup
    directory to move it into first. boottime: seconds of a time namespace
    of its own (unshare --time --boottime), as a container restored by
    CRIU has. uid: made by that user with a user namespace of its own,
    where it is root (unshare --user --map-root-user: a rootless
    container). Its pid in the container is 1; host_pid is its pid on the
    host; start its start time as it sees it (in its segment's name)."""

    def __init__(self, private=False, cgroup=None, env_extra=None, program=None, boottime=None,
                 uid=None):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        env["JM_CT_PRELOAD"] = os.environ["JMALLOC_LIB"]
        env["JMALLOC_STATS_DIR"] = STATS_DIR
        env["JMALLOC_CONF"] = "prof_sample:0"
        if env_extra:
            env.update(env_extra)
        self.private = private
        script = ""
        if cgroup:
            script += 'echo $$ > "%s/cgroup.procs" || exit 1; ' % cgroup
        if private:
            script += 'mount -t tmpfs -o mode=1777 jmtest "%s" || exit 1; ' % STATS_DIR
        # Only the program is preloaded, as in a container whose runtime
        # mounted /dev/shm before starting it.
        script += 'LD_PRELOAD="$JM_CT_PRELOAD" exec "$@"'
        program = program or [os.path.join(os.environ["JM_HELPERS"], "daemon_holder")]
        ns = ["--time", "--boottime", str(boottime)] if boottime else []
        user = []
        if uid is not None:
            user = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups"]
            ns += ["--user", "--map-root-user"]
        self.p = subprocess.Popen(user + UNSHARE + ns + ["sh", "-c", script, "sh"] + program,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        line = self.p.stdout.readline().decode().split()
        check(len(line) == 2 and line[0] == "ready", "%s in a container did not start: %r"
              % (program[-1], line))
        self.pid = int(line[1])
        check(self.pid == 1, "%s is pid %d in its container, not 1" % (program[-1], self.pid))
        self.host_pid = host_child(self.p.pid)
        with open("/proc/%d/stat" % self.host_pid) as f:
            self.start = int(f.read().rsplit(")", 1)[1].split()[19])
        self.pidns = os.stat("/proc/%d/ns/pid" % self.host_pid).st_ino
        if boottime:     # as it reads it, the kernel's rounding either way
            near = self.start + boottime * os.sysconf("SC_CLK_TCK")
            d = STATS_DIR if not private else "/proc/%d/root%s" % (self.host_pid, STATS_DIR)
            names = wait_until(lambda: glob.glob(os.path.join(d, "jmalloc.1.%d.*.stats" % self.pidns)),
                               "the segment of a container with boottime %d" % boottime)
            self.start = int(os.path.basename(names[0]).split(".")[3])
            check(abs(self.start - near) <= 1, "start %d, not about %d" % (self.start, near))

    def ask(self, line):
        """One command line; its answer."""
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()
        return self.p.stdout.readline().decode().strip()

    def segment(self):
        """Its file as the host reaches it (a private one: through its root)."""
        name = "jmalloc.1.%d.%d.stats" % (self.pidns, self.start)
        if self.private:
            return "/proc/%d/root%s/%s" % (self.host_pid, STATS_DIR, name)
        return os.path.join(STATS_DIR, name)

    def kill(self):
        """SIGKILL to the container's pid 1 (from the host): the container ends."""
        os.kill(self.host_pid, 9)
        self.p.wait()


class ScopeClients:
    """What the socket-scope tests (tests/containers/socket_scope,
    hostpid_socket) run: root's and nobody's holders on the host and two
    containers, a and b (each made by its function: a Container or a
    HostPid), all four listed by the daemon before it returns (everyone:
    their host pids), and the socket client run in a container
    (tests/containers/scope_client.py, which lib.sh's need_scope puts at
    $JM_TMP/pub/inner.py). pre, in view() and hold(), is the command that
    runs it there, as whom and with what capabilities. Every process is
    killed at exit."""
    NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

    def __init__(self, make_a, make_b):
        self.inner = os.path.join(os.environ["JM_TMP"], "pub", "inner.py")
        self.procs = []
        atexit.register(self._stop)
        self.root_h = Holder()
        self.procs.append(self.root_h.p)
        self.nobody_h = Holder(uid=65534)
        self.procs.append(self.nobody_h.p)
        self.a = make_a()
        self.procs.append(self.a.p)
        self.b = make_b()
        self.procs.append(self.b.p)
        self.everyone = {self.root_h.pid, self.nobody_h.pid, self.a.host_pid, self.b.host_pid}
        wait_until(lambda: self.everyone <= set(ps_pids()),
                   "the host's and the containers' processes listed")

    def _stop(self):
        for p in self.procs:
            p.kill()

    def client(self, pre, *args):
        """The client's command line, run by pre."""
        return list(pre) + ["python3", self.inner, SOCK] + [str(x) for x in args]

    def view(self, pre, pid=None):
        """What the client run by pre sees (scope_client.py's view), asking
        for the stats of pid (root's host holder's if None)."""
        pid = self.root_h.pid if pid is None else pid
        r = subprocess.run(self.client(pre, "view", pid), capture_output=True,
                           text=True, timeout=60)
        check(r.returncode == 0, "the client in the container: %s" % r.stderr[-500:])
        return json.loads(r.stdout)

    def hold(self, pre, n):
        """How many of n connections the client run by pre keeps
        (scope_client.py's hold), held until the test ends."""
        p = subprocess.Popen(self.client(pre, "hold", n), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        self.procs.append(p)
        line = p.stdout.readline()
        check(line, "a holding client in the container said nothing")
        return json.loads(line)
