#!/usr/bin/env bash
# timeout: 600
# Hostile segments, written by tests/helpers/stress_segwriter for live
# processes of this test, while jmstatd runs; a client asks ps all along:
#  - a file of another uid than its pid's owner (a user claiming root's
#    process, an owner that is not the header's uid): needs root and a
#    second user, else skipped; the last is not a segment, and its pid is
#    another user's: it is removed (a user cannot squat a name that a
#    process of another user will take). Root's file for a user's process
#    (a process that published as root, then dropped its uids) is shown,
#    as root's, and not to that user (tests/daemon/setuid.test.sh);
#  - a file read fine, then truncated, then emptied, then written again
#    in place: dropped with one line, and back once it reads again;
#  - counts and offsets pointing outside the file, each its own file, and
#    one whose rows all stay mid-update (odd seq) for ever;
#  - a symlink to a valid segment, and a FIFO held open by a writer;
#  - files changed under the reader with no pause (rewritten, bytes
#    flipped, seqs made odd, truncated and grown, replaced, deleted) by
#    writer processes, for 3 s (make stress: 4 writers for 30 s).
# The daemon skips each with a log line, never shows them, never faults,
# and answers throughout. Figures: changes made, log lines, tick times.
. "$(dirname "$0")/../lib.sh"
[ -x "$JM_HELPERS/stress_segwriter" ] || skip "stress_segwriter helper not built"
other=no
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	id jmtest >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin jmtest 2>/dev/null || true
	id jmtest >/dev/null 2>&1 && other=yes
fi
export other
[ $other = yes ] && { JMTEST_UID=$(id -u jmtest); JMTEST_GID=$(id -g jmtest); export JMTEST_UID JMTEST_GID; }
jmd_start

jmd_py - <<'PY' || fail "hostile segments"
from jmd import *
import atexit, re, subprocess, threading

full = bool(os.environ.get("JM_STRESS_FULL"))
W = os.path.join(os.environ["JM_HELPERS"], "stress_segwriter")
log = os.path.join(os.environ["JM_TMP"], "jmstatd.log")
procs = []
atexit.register(lambda: [p.kill() for p in procs])

def sleeper(uid=None, gid=None):
    def drop():
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    p = subprocess.Popen(["sleep", "600"], preexec_fn=drop if uid is not None else None)
    procs.append(p)
    return p.pid

def path(pid):
    return os.path.join(STATS_DIR, segment_name_of(pid))

def write(pid, uid, *fields):
    out = subprocess.run([W, "write", path(pid), str(pid), str(uid)] + list(fields),
                         check=True, capture_output=True, text=True).stdout
    return int(out)

def lines_for(pid):
    return [l for l in open(log) if re.search(r"jmalloc\.%d\.(\d+\.\d+\.)?stats" % pid, l) or ("process %d " % pid) in l]

class Prober:
    def __init__(self):
        self.n, self.err, self.stop = 0, None, False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()
    def run(self):
        try:
            c = Client(timeout=30)
            while not self.stop:
                r = c.req({"cmd": "ps"})
                if not r["ok"]:
                    self.err = r
                    return
                self.n += 1
                time.sleep(0.01)
        except Exception as e:
            self.err = repr(e)
    def done(self, what):
        self.stop = True
        self.t.join()
        check(self.err is None and self.n > 0, "%s: ps failed during the attack: %r" % (what, self.err))
        return self.n

probe = Prober()
bad = {}            # pid -> what
removed = set()     # of those, the pids whose file must go

# A valid synthetic segment is shown (the control case).
good = sleeper()
write(good, 0)
wait_until(lambda: good in ps_pids(), "a valid synthetic segment in ps")

# ---- another uid than the pid's owner
if os.environ["other"] == "yes":
    juid, jgid = int(os.environ["JMTEST_UID"]), int(os.environ["JMTEST_GID"])
    upid = sleeper(juid, jgid)
    write(upid, 0)                               # root's file for a user's process: root's
    rpid = sleeper()
    owner = "owner=%d:%d" % (juid, jgid)
    write(rpid, juid, owner)                     # a user's file claiming root's process
    bad[rpid] = "a user's file claiming a root process"
    opid = sleeper()
    write(opid, 0, owner)                        # owner is not the header's uid
    bad[opid] = "owner is not the header's uid"
    removed.add(opid)

# ---- counts and offsets outside the file
size = write(good, 0)
outside = [
    ["total_size=%d" % (1 << 40)], ["total_size=%d" % (size - 8)], ["class_off=%d" % size],
    ["arena_off=%d" % (2**64 - 8)], ["bin_off=%d" % (size - 8)], ["thread_off=%d" % (1 << 63)],
    ["nthreads_max=%d" % (2**32 - 1)], ["thread_stride=8"],
    ["header_size=%d" % (2**32 - 1)], ["nbins=0"], ["narenas=%d" % (2**32 - 1)],
    ["nbins=300"], ["site_off=%d" % size, "nsites_max=4", "nsites_hw=4"],
    ["nsites_max=%d" % (2**32 - 1), "nsites_hw=%d" % (2**32 - 1)], ["state=9"],
    ["odd"],                                     # every row mid-update, for ever
]
for fields in outside:
    pid = sleeper()
    write(pid, 0, *fields)
    bad[pid] = " ".join(fields)

# ---- a symlink to a valid segment, a FIFO held open
lpid = sleeper()
real = os.path.join(os.environ["JM_TMP"], "real.%d" % lpid)
subprocess.run([W, "write", real, str(lpid), "0"], check=True, capture_output=True)
os.symlink(real, path(lpid))
bad[lpid] = "symlink to a valid segment"
fpid = sleeper()
os.mkfifo(path(fpid))
fifo_w = os.open(path(fpid), os.O_RDWR | os.O_NONBLOCK)
os.write(fifo_w, b"JMSTAT01")
bad[fpid] = "fifo held open"

deadline = time.monotonic() + 30
while True:
    missing = [w for p, w in bad.items()
               if not lines_for(p) or (p in removed and os.path.lexists(path(p)))]
    if not missing:
        break
    check(time.monotonic() < deadline, "no log line for: %r (ps: %r)" % (missing, sorted(ps_pids())))
    time.sleep(0.05)
t0 = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + 5 * INTERVAL_MS / 1000.0, "five ticks")
shown = ps_pids()
for p, what in bad.items():
    check(p not in shown, "bad file shown in ps: %s" % what)
    if p in removed:
        check(lines_for(p)[-1].startswith("jmstatd: removed ") and "another user's" in lines_for(p)[-1],
              "%s: not removed as another user's: %r" % (what, lines_for(p)))
        continue
    n = len(lines_for(p))
    check(n == 1, "%s: %d log lines, not 1: %r" % (what, n, lines_for(p)))
    check(os.path.lexists(path(p)), "%s: the file was removed" % what)
check(good in shown, "the valid segment is still shown")
if os.environ["other"] == "yes":
    check(upid in shown and shown[upid]["user"] == "root",
          "root's file for a process of another uid: %r" % shown.get(upid))
    check(upid not in as_uid(juid, lambda: sorted(ps_pids()))[1],
          "root's file for a process of jmtest's shown to jmtest")
print("%d bad files, each skipped with one line:" % len(bad))
for p in bad:
    print("   %-50s %s" % (bad[p][:50], lines_for(p)[0].split(": ", 2)[-1].strip()))

# ---- read fine, then truncated, emptied, and written again in place
tpid = sleeper()
tsize = write(tpid, 0)
wait_until(lambda: tpid in ps_pids(), "the segment to truncate, in ps")
os.truncate(path(tpid), tsize // 2)
wait_until(lambda: tpid not in ps_pids(), "the truncated segment to be dropped")
wait_until(lambda: any("skipping" in l for l in lines_for(tpid)), "a log line for the truncated file")
os.truncate(path(tpid), 0)
t0 = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + 3 * INTERVAL_MS / 1000.0, "three ticks")
check(sum("skipping" in l for l in lines_for(tpid)) == 1, "emptied: another log line: %r" % lines_for(tpid))
# The same file (same inode) whole again.
subprocess.run([W, "write", path(tpid) + ".new", str(tpid), "0"], check=True, capture_output=True)
with open(path(tpid) + ".new", "rb") as f:
    whole = f.read()
os.unlink(path(tpid) + ".new")
with open(path(tpid), "r+b") as f:
    f.write(whole)
wait_until(lambda: tpid in ps_pids(), "the segment written again to be back")
print("truncated after it was read: dropped with %d lines, back once whole again"
      % len(lines_for(tpid)))

# ---- changed under the reader, with no pause
nwriters, secs = (4, 30) if full else (1, 3)
churned = [sleeper() for i in range(nwriters)]
before_ticks = request({"cmd": "version"})
ws = [subprocess.Popen([W, "churn", path(p), str(p), "0", str(secs)], stdout=subprocess.PIPE, text=True)
      for p in churned]
worst_tick = 0.0
t0 = time.monotonic()
while any(w.poll() is None for w in ws):
    v = request({"cmd": "version"})
    check(v["ok"], "version during the churn")
    worst_tick = max(worst_tick, v["tick_ms"])
    ps_pids()
    time.sleep(0.05)
changes = sum(int(w.stdout.read()) for w in ws)
churn_lines = [l for p in churned for l in lines_for(p)]
nlines = len(churn_lines)
# A byte flipped in the start time makes the file the segment of a reused
# pid, which the daemon removes, with a line that is not (yet) budgeted.
nremoved = sum(l.startswith("jmstatd: removed ") for l in churn_lines)
print("churn: %d writers changed their files %d times in %.1f s (%.0f/s, one every %.1f us);"
      " %d log lines about them (%d of them: removed as a reused pid's); worst tick %.1f ms;"
      " %d ps answered meanwhile"
      % (nwriters, changes, time.monotonic() - t0, changes / secs, secs * 1e6 / changes, nlines,
         nremoved, worst_tick, probe.n))
check(request({"cmd": "version"})["ok"], "still answering after the churn")
# Lines about bad segments have a budget (sample.c): a burst of 50, then one
# every 10 s.
check(nlines - nremoved <= 50 + secs // 10 + 2, "the churned files flooded the log: %d lines"
      % (nlines - nremoved))

probe.done("hostile segments")
os.close(fifo_w)
for p in procs:
    p.kill()
PY
jmd_stop
echo "ok"
