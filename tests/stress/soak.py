#!/usr/bin/env python3
"""soak.py MODE DIR SECONDS: jmstatd and jmctl under a long churn (not run
by make check; docs/measurements.md, "jmstatd and jmctl over a soak").

MODE plain, asan (jmstatd and jmctl built with make SANITIZE=address,
undefined: ASan's reports go to DIR/asan.*) or valgrind (memcheck,
--leak-check=full, DIR/valgrind.log). As root (it mounts a 6 MiB tmpfs on
DIR/shm, lowers the daemon's RLIMIT_NOFILE with prlimit). The programs are
the tree's, or $JMSTATD, $JMCTL, $JMALLOC_LIB, $JM_HELPERS (copy them
elsewhere first to run a sanitized and a plain daemon side by side).
Writes DIR/monitor.csv (every 5 s: seconds, the daemon's CPU ticks, RSS
KiB, fds, live churn processes) and DIR/jmstatd.log; prints the counts of
what it did and jmctl's error messages, folded.
"""
import os, sys, time, socket, subprocess, threading, random, signal, json, re, http.client

MODE, DIR, SECS = sys.argv[1], os.path.abspath(sys.argv[2]), int(sys.argv[3])
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.environ.get("JMALLOC_LIB", os.path.join(ROOT, "liballoc/libjmalloc.so"))
HELP = os.environ.get("JM_HELPERS", os.path.join(ROOT, "build/tests/helpers"))
JMSTATD = os.environ.get("JMSTATD", os.path.join(ROOT, "jmstatd/jmstatd"))
JMCTL = os.environ.get("JMCTL", os.path.join(ROOT, "jmctl/jmctl"))
SHM = os.path.join(DIR, "shm")
SOCK = os.path.join(DIR, "run/jmstatd.sock")
LOG = os.path.join(DIR, "jmstatd.log")
CONF = os.path.join(DIR, "jmstatd.conf")
os.makedirs(os.path.join(DIR, "run"), exist_ok=True)
os.makedirs(SHM, exist_ok=True)
if not os.path.ismount(SHM):
    subprocess.check_call(["mount", "-t", "tmpfs", "-o", "size=6m,mode=1777", "tmpfs", SHM])
os.chmod(SHM, 0o1777)
stop = threading.Event()
stats = {}
lock = threading.Lock()


def count(k, n=1):
    with lock:
        stats[k] = stats.get(k, 0) + n


GOOD_CONF = """command = /bin/true
command_timeout = 5s
resolved_keep = 30s
notify = pending, firing, resolved
[rule frag]
kind = fragmentation
ratio = 0.5
min_wasted = 1MiB
for = 400ms
[rule grow]
kind = growth
metric = allocated
growth = 2MiB
window = 3s
[rule sparse]
kind = sparse_bin
util_below = 30%
min_held = 1MiB
"""
BAD_CONF = GOOD_CONF + "[rule bad]\nkind = nope\n"
open(CONF, "w").write(GOOD_CONF)

interval = "1000" if MODE == "valgrind" else "200"
argv = [JMSTATD, "--socket", SOCK, "--stats-dir", SHM, "--interval", interval, "--config", CONF,
        "--metrics", "127.0.0.1:0", "--pprof", "--client-idle", "5"]
env = dict(os.environ)
if MODE == "valgrind":
    argv = ["valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite,indirect,possible",
            "--error-exitcode=99", "--log-file=" + os.path.join(DIR, "valgrind.log")] + argv
if MODE == "asan":
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:exitcode=86:log_path=" + os.path.join(DIR, "asan")
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:log_path=" + os.path.join(DIR, "ubsan")
logf = open(LOG, "wb")
daemon = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, env=env)
DPID = daemon.pid
t0 = time.time()
while True:
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(SOCK); s.close(); break
    except OSError:
        time.sleep(0.2)
        if time.time() - t0 > 120: sys.exit("no socket")
m = None
while not m:
    m = re.search(rb"http://([0-9.]+):([0-9]+)", open(LOG, "rb").read()); time.sleep(0.2)
MHOST, MPORT = m.group(1).decode(), int(m.group(2))
print("daemon", DPID, "metrics", MPORT, flush=True)

PENV = dict(os.environ, LD_PRELOAD=LIB, JMALLOC_STATS_DIR=SHM)
PENV_SITES = dict(PENV, JMALLOC_CONF="prof_sample:4096")
live = []  # processes running
live_lock = threading.Lock()


def spawn(args, env=PENV):
    try:
        p = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        count("spawn_fail"); return None
    with live_lock:
        live.append(p)
    count("spawned")
    return p


def reap():
    with live_lock:
        for p in list(live):
            if p.poll() is not None:
                live.remove(p)


def churn():
    r = random.Random(1)
    while not stop.is_set():
        k = r.randrange(10)
        if k == 0:
            spawn([HELP + "/stress_spawn", "run", "30", "6"])
        elif k == 1:
            spawn([HELP + "/stress_fork", "-f", "10", "-t", "2", "-p", "2"])
        elif k == 2:
            spawn([HELP + "/stress_mt", "-t", "4", "-w", "8", "-n", "2000"])
        elif k == 3:
            spawn([HELP + "/demo_fragment", "-c", "20000", "-t", str(r.randrange(1, 6))])
        elif k == 4:
            p = spawn([HELP + "/demo_fragment", "-c", "20000"], env=PENV_SITES)
            if p:
                threading.Timer(r.uniform(0.5, 5), lambda p=p: p.kill()).start()
        elif k == 5:
            # exec chain: sh -> python -> fork+exec
            spawn(["python3", "-c", "import os,threading\n"
                   "ts=[threading.Thread(target=lambda: [bytearray(5000) for _ in range(2000)]) for _ in range(4)]\n"
                   "[t.start() for t in ts]\n"
                   "pid=os.fork()\n"
                   "if pid==0: os.execvp('true',['true'])\n"
                   "os.waitpid(pid,0)\n[t.join() for t in ts]"],
                  env=dict(PENV, PYTHONMALLOC="malloc"))
        elif k == 6:
            # kill -9 mid-publish: at once after exec
            p = spawn([HELP + "/stress_mt", "-t", "2", "-w", "4", "-n", "100000"])
            if p:
                time.sleep(r.uniform(0, 0.02))
                p.kill(); count("killed9")
        elif k == 7:
            spawn([HELP + "/thread_teardown", "50"])
        elif k == 8:
            spawn([HELP + "/site_fill", "6"], env=PENV_SITES)
        else:
            spawn([HELP + "/stress_churn"]) if r.randrange(20) == 0 else None
        reap()
        with live_lock:
            n = len(live)
        # at most ~12 at once; kill the oldest long-lived
        if n > 8:
            with live_lock:
                old = live[0]
            old.kill()
        time.sleep(r.uniform(0.05, 0.4))
    with live_lock:
        for p in live:
            p.kill()


def conn():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(15)
    s.connect(SOCK)
    return s


def abuse():
    r = random.Random(2)
    held = []
    while not stop.is_set():
        k = r.randrange(8)
        try:
            if k == 0:  # subscribe, never read
                s = conn(); s.sendall(b'{"cmd":"subscribe"}\n'); held.append(s)
            elif k == 1:  # half a request
                s = conn(); s.sendall(b'{"cmd":"ps","ver'); held.append(s)
            elif k == 2:  # 1 MB line
                s = conn()
                try:
                    s.sendall(b"x" * (1 << 20) + b"\n")
                except OSError:
                    count("bigline_refused")
                try:
                    s.recv(4096)
                except OSError:
                    pass
                s.close()
            elif k == 3:  # disconnect mid-reply
                s = conn(); s.sendall(b'{"cmd":"bins"}\n{"cmd":"ps"}\n{"cmd":"history"}\n'); s.recv(50); s.close()
            elif k == 4:  # many requests, never read
                s = conn(); s.sendall(b'{"cmd":"history"}\n' * 200); held.append(s)
            elif k == 5:  # RST mid reply
                s = conn(); s.sendall(b'{"cmd":"history"}\n' * 20)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0"); s.close()
            elif k == 6:  # garbage
                s = conn(); s.sendall(bytes(r.randrange(256) for _ in range(3000)) + b"\n"); s.recv(100); s.close()
            else:  # sites of some pid
                pids = [int(n.split(".")[1]) for n in os.listdir(SHM) if n.startswith("jmalloc.")
                        and n.split(".")[1].isdigit()]
                if pids:
                    s = conn(); s.sendall(json.dumps({"cmd": "sites", "pid": r.choice(pids)}).encode() + b"\n")
                    s.recv(65536); s.close()
            count("abuse%d" % k)
        except OSError as e:
            count("abuse_err_" + type(e).__name__)
        if len(held) > 30:
            for s in held[:10]:
                s.close()
            del held[:10]
        time.sleep(r.uniform(0.01, 0.2))
    for s in held:
        s.close()


def jmctls():
    r = random.Random(3)
    errs = {}
    while not stop.is_set():
        pids = [n.split(".")[1] for n in os.listdir(SHM) if n.startswith("jmalloc.")]
        pid = r.choice(pids) if pids else "1"
        cmds = [["top", "-b", "-n", "3", "-d", "0.5"], ["stats", pid], ["sites", pid], ["ps"], ["alerts"],
                ["status"], ["--json", "ps"], ["history"] if False else ["ps", "-s", "frag"]]
        procs = []
        for c in r.sample(cmds, 4):
            procs.append((c, subprocess.Popen([JMCTL, "--socket", SOCK] + c, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.PIPE)))
        for c, p in procs:
            try:
                _, err = p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill(); err = b"TIMEOUT"; p.wait()
            count("jmctl")
            if p.returncode != 0:
                line = re.sub(rb"\d+", b"N", err.strip()).decode(errors="replace")[:300]
                with lock:
                    errs[line] = errs.get(line, 0) + 1
        time.sleep(r.uniform(0, 0.3))
    with lock:
        stats["jmctl_errors"] = errs


def scrape():
    r = random.Random(4)
    while not stop.is_set():
        try:
            c = http.client.HTTPConnection(MHOST, MPORT, timeout=20)
            path = r.choice(["/metrics", "/metrics", "/", "/nope"])
            if r.randrange(5) == 0:
                pids = [n.split(".")[1] for n in os.listdir(SHM) if n.startswith("jmalloc.")]
                if pids: path = "/pid/%s/debug/pprof/heap" % r.choice(pids)
            c.request("GET", path)
            resp = c.getresponse(); resp.read(); c.close()
            count("http%d" % resp.status)
        except Exception as e:
            count("http_err_" + type(e).__name__)
        time.sleep(0.1)


def fill():
    # the tmpfs full for 20 s out of 60
    r = random.Random(5)
    n = 0
    while not stop.wait(40):
        path = os.path.join(SHM, "filler")
        try:
            with open(path, "wb") as f:
                while True:
                    f.write(b"\0" * 65536)
        except OSError:
            count("filled")
        stop.wait(20)
        try: os.unlink(path)
        except OSError: pass


def signals():
    n = 0
    while not stop.wait(15):
        n += 1
        open(CONF, "w").write(BAD_CONF if n % 3 == 0 else GOOD_CONF)
        os.kill(DPID, signal.SIGHUP); count("sighup")


def fdlimit():
    # at a third and at two thirds of the run: 60 s with RLIMIT_NOFILE 48
    for at in (SECS / 3, 2 * SECS / 3):
        if stop.wait(max(0, t0 + at - time.time())): return
        subprocess.call(["prlimit", "--pid", str(DPID), "--nofile=48:"]); count("fdlow")
        if stop.wait(60): break
        subprocess.call(["prlimit", "--pid", str(DPID), "--nofile=1024:"])
    subprocess.call(["prlimit", "--pid", str(DPID), "--nofile=1024:"])


def proc_figs():
    st = open("/proc/%d/stat" % DPID).read().rsplit(")", 1)[1].split()
    ticks = int(st[11]) + int(st[12])
    rss = 0
    for l in open("/proc/%d/status" % DPID):
        if l.startswith("VmRSS:"): rss = int(l.split()[1])
    fds = len(os.listdir("/proc/%d/fd" % DPID))
    return ticks, rss, fds


mon = open(os.path.join(DIR, "monitor.csv"), "w")
mon.write("t,ticks,rss_kib,fds,live\n")
threads = [threading.Thread(target=f, daemon=True) for f in (churn, abuse, jmctls, jmctls, scrape, fill, signals, fdlimit)]
for t in threads: t.start()
start = time.time()
while time.time() - start < SECS:
    try:
        ticks, rss, fds = proc_figs()
    except OSError:
        print("daemon gone!", flush=True); break
    with live_lock:
        n = len(live)
    mon.write("%d,%d,%d,%d,%d\n" % (time.time() - start, ticks, rss, fds, n)); mon.flush()
    if daemon.poll() is not None:
        print("daemon exited", daemon.returncode, flush=True); break
    time.sleep(5)
stop.set()
for t in threads: t.join(timeout=90)
# quiet for a few intervals, then figures again
time.sleep(10 if MODE != "valgrind" else 30)
try:
    ticks, rss, fds = proc_figs()
    mon.write("%d,%d,%d,%d,%d\n" % (time.time() - start, ticks, rss, fds, 0)); mon.flush()
except OSError:
    pass
# SIGTERM with a client connected and another mid-request
try:
    a = conn(); a.sendall(b'{"cmd":"subscribe"}\n')
    b = conn(); b.sendall(b'{"cmd":"hist')
except OSError:
    pass
daemon.send_signal(signal.SIGTERM)
try:
    rc = daemon.wait(timeout=120)
except subprocess.TimeoutExpired:
    rc = "TIMEOUT"; daemon.kill()
print("rc", rc)
print(json.dumps(stats, indent=1, sort_keys=True))
subprocess.call(["umount", "-l", SHM])
