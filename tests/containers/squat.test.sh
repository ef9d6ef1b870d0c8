#!/usr/bin/env bash
# timeout: 120
# Squatting: a user creates empty files under the names that processes of
# other users will take (jmalloc.<pid>.stats for the next pids). A root
# process whose name is taken by such a file still publishes, under a name
# with its pid namespace, start time and a random tag, and the daemon shows
# it; a name taken by a bad file of the process's own uid is reclaimed.
# The daemon removes the squatter's files once their pid is dead or is
# another user's process (it used to keep them for ever, and the process
# ran without stats: "file exists").
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (a second user, ns_last_pid)"
id jmtest >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin jmtest 2>/dev/null || true
id jmtest >/dev/null 2>&1 || skip "cannot make the user jmtest"
[ -w /proc/sys/kernel/ns_last_pid ] || skip "cannot set ns_last_pid"
# Outside the host's pid namespace a name holds the writer's start time as
# well (jmalloc.<pid>.<pidns>.<start>.stats): there is no name of a future
# pid alone to squat.
[ "$(stat -L -c %i /proc/self/ns/pid)" = 4026531836 ] ||
	skip "not in the host's pid namespace: names there are not the pid alone"
export JMTEST_UID=$(id -u jmtest) JMTEST_GID=$(id -g jmtest)

jmd_py - <<'PY' || fail "squatting"
from jmd import *
import glob, atexit

juid, jgid = int(os.environ["JMTEST_UID"]), int(os.environ["JMTEST_GID"])
SPAN = 400
hs = []
atexit.register(lambda: [h.p.kill() for h in hs])

def squat_then_start(uid, gid, after=0):
    """Files of uid for the next SPAN pids (after pid `after`), then a root
    holder among them."""
    for attempt in range(5):
        with open("/proc/sys/kernel/ns_last_pid") as f:
            base = int(f.read())
        with open("/proc/sys/kernel/pid_max") as f:
            pid_max = int(f.read())
        if base < after or base + SPAN >= pid_max:
            # (near pid_max the pids wrap: start low)
            base = after if after + SPAN < pid_max else 1000
            with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                f.write(str(base))
        squats = [os.path.join(STATS_DIR, "jmalloc.%d.stats" % p) for p in range(base + 1, base + SPAN)]
        squats = [s for s in squats if not os.path.lexists(s)]
        for s in squats:
            fd = os.open(s, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.fchown(fd, uid, gid)
            os.close(fd)
        # Whoever forks meanwhile takes the pids the files name (other
        # tests, builds: more than SPAN while the files were made, at a
        # load of 37): the holder's fork starts from the span's start.
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(base))
        h = Holder()
        hs.append(h)
        if base < h.pid < base + SPAN:
            return h, squats
        h.exit()
        for s in squats:
            if os.path.lexists(s):
                os.unlink(s)
    fail("pids moved too fast to predict")

def files_of(pid):
    return glob.glob(os.path.join(STATS_DIR, "jmalloc.%d.*stats" % pid))

# Another user's file at the name: published under a tagged name, the
# squatter's file left alone by the process.
h1, squats1 = squat_then_start(juid, jgid)
mine = [f for f in files_of(h1.pid) if os.stat(f).st_uid == 0]
check(len(mine) == 1 and os.path.getsize(mine[0]) > 0, "no segment of %d besides the squat: %r"
      % (h1.pid, files_of(h1.pid)))
name = os.path.basename(mine[0]).split(".")
check(len(name) == 6 and name[1] == str(h1.pid) and len(name[4]) == 16,
      "not a tagged name: %s" % mine[0])
check(os.path.getsize(h1.segment()) == 0 and os.stat(h1.segment()).st_uid == juid,
      "the squatter's file changed")

# Root's own bad file at the name: replaced by the segment.
h2, squats2 = squat_then_start(0, 0, h1.pid + SPAN)
check(os.path.getsize(h2.segment()) > 0, "root's own empty file not replaced by the segment")
check(files_of(h2.pid) == [h2.segment()], "more files than one for %d: %r" % (h2.pid, files_of(h2.pid)))
# (root's other empty files may now have the pids of root's processes:
# those the daemon leaves, as a user's own files for its own processes.)
for s in squats2:
    if s != h2.segment() and os.path.lexists(s):
        os.unlink(s)


# The daemon: both processes shown; every squat file goes (dead pids, and
# the live root process's pid claimed by jmtest's file), root's own
# segments stay.
def squats():
    """The empty files left (the daemon removes them meanwhile)."""
    out = []
    for f in glob.glob(os.path.join(STATS_DIR, "jmalloc.*stats")):
        try:
            if os.path.getsize(f) == 0:
                out.append(f)
        except FileNotFoundError:
            pass
    return out
# Counted before the daemon starts: its first scan may remove them all
# before this process, on a loaded machine, runs again ("only 0 squat
# files" once in 2 runs at load 45, the log showing their removal).
n = len(squats())
check(n > 100, "only %d squat files" % n)
log = os.path.join(os.environ["JM_TMP"], "jmstatd.log")
jmd = subprocess.Popen([os.environ["JMSTATD"], "--socket", SOCK, "--stats-dir", STATS_DIR,
                        "--interval", str(INTERVAL_MS)], stdout=open(log, "a"), stderr=subprocess.STDOUT)
atexit.register(jmd.kill)
def up():
    try:
        return request({"cmd": "version"})["ok"]
    except OSError:
        return False
wait_until(up, "jmstatd to answer")
wait_until(lambda: not squats(), "the squat files to be removed (%d left)" % len(squats()))
ps = ps_pids()
live = [f for f in glob.glob(os.path.join(STATS_DIR, "jmalloc.*stats"))]
check(len(live) == 2, "root's two segments are not all that is left: %r" % live)
pids = {int(os.path.basename(f).split(".")[1]) for f in live}
check(pids <= set(ps), "the squatted processes %r are not all in ps %r" % (pids, sorted(ps)))
check(not os.path.exists(h1.segment()), "jmtest's file claiming root's live %d stays" % h1.pid)
print("%d squat files removed; both squatted processes published and shown" % n)
jmd.terminate()
check(jmd.wait() == 0, "jmstatd did not exit cleanly")
PY
echo "ok"
