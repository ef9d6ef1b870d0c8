#!/usr/bin/env python3
"""Real servers under every allocator, side by side (a survey, not part of
`make bench`: it needs the servers and their load generators installed).

    tests/bench/servers.py [--runs N] [--idle S] [--servers a,b] [--allocators a,b] [--out DIR]

For each server (memcached, nginx, postgres, redis, node, pyhttp and
pyhttp-malloc; since session 22 also memcached-big, values of 100-1000
KiB through a 64 MiB cache that evicts; redis-big, big hashes and lists,
two thirds deleted, then the idle; postgres-sort, sorts, a hash join, a
hash aggregate and an index build at work_mem 256MB; since session 26
apache-prefork and apache-event, Debian's apache2 with each MPM, gzip by
mod_deflate; lighttpd; gunicorn, prefork Python WSGI workers replaced
every 500 requests; named, BIND 9 with 2 threads answering 30,000 UDP
queries of a 20,000-name zone, dnsload.py; since session 38 knot, Knot
DNS's knotd on the same zone, reloaded under load; mosquitto, an MQTT
fan-out and 20,000 retained messages stored and cleared, mqttload.py;
nghttpx, nghttp2's HTTP/2 proxy before an nginx, loaded by h2load;
pgbouncer, pgbench through it; slapd, OpenLDAP with 20,000 entries
added, searched and half deleted) and each run, the
server is started under every allocator in turn (LD_PRELOAD; glibc is the
empty preload), loaded by a client that runs without the preload, then left
idle, then stopped. Per run it records the server side only: CPU seconds
and minor faults of the whole process tree (user + system, from the
rusage of every process the server reaped, taken by jmtime), the peak of
the tree's summed PSS during the load, the PSS right after the load and
after --idle seconds, and the client's throughput. Prints a table of the
medians and jmalloc's ratio to the best anchor on each axis; the raw runs
go to OUT/servers.tsv.

The clients: memcslap (libmemcached-tools) and a Python client with many
connections each storing values of 100 B..64 KiB (memcached, 4 threads);
ab (apache2-utils; nginx, 4 worker processes, gzip, small and 256 KiB files;
node's http server; pyhttp, Python's ThreadingHTTPServer in pyserve.py,
a thread per connection, with pymalloc and with PYTHONMALLOC=malloc); pgbench (postgresql-client: a fork per connection,
one run with a fresh connection per transaction); redis-benchmark. Every
load is a fixed amount of work, so the CPU seconds compare; throughput is
that work over the client's wall time.

Needs (Debian): memcached, libmemcached-tools, nginx-light, apache2-utils,
redis-server, redis-tools, nodejs, postgresql-client, for the loads of
session 26 apache2, lighttpd, gunicorn and bind9, and postgres with
initdb in /usr/local/bin (PGBIN); for session 38's knot, mosquitto,
nghttp2-proxy, nghttp2-client, pgbouncer, slapd and ldap-utils; the jmtime of tests/bench/run.sh, built
into $JM_BUILD/bench.
"""
import argparse, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("JM_ROOT", os.path.dirname(os.path.dirname(HERE)))
BUILD = os.environ.get("JM_BUILD", os.path.join(ROOT, "build"))
LIB = "/usr/lib/x86_64-linux-gnu/"
ALLOCATORS = [("glibc", ""), ("jmalloc", os.environ.get("JMALLOC_LIB", os.path.join(ROOT, "liballoc/libjmalloc.so"))),
              ("jemalloc", LIB + "libjemalloc.so.2"), ("mimalloc", LIB + "libmimalloc.so.2"),
              ("tcmalloc", LIB + "libtcmalloc_minimal.so.4")]
PGBIN = "/usr/local/bin"


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_port(port, limit=30.0):
    end = time.time() + limit
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close(); return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def tree(root):
    """The pids of root and all its descendants."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop(); out.append(p); todo += kids.get(p, [])
    return out


def preloaded(pid, lib):
    """Whether the process maps the file lib names: compared as files (device
    and inode), so that a relative path, a symlink or a copy named anything
    counts as what the loader mapped (/proc/PID/maps shows the real path)."""
    want = os.stat(lib)
    with open(f"/proc/{pid}/maps") as f:
        maps = f.read()
    for line in maps.splitlines():
        path = line.split(None, 5)[5].strip() if len(line.split(None, 5)) == 6 else ""
        if not path.startswith("/"):
            continue
        try:
            st = os.stat(path)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino):
            return True
    return False


def pss_kib(root):
    total = 0
    for p in tree(root):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def ab(port, path, n, c, extra=(), varying=False, keepalive=True, tolerate=0):
    """n requests over c keep-alive connections (a connection a request
    without keepalive) by ApacheBench; every one must succeed (varying: the
    bodies' lengths differ, which ab counts as failed), but up to tolerate
    (apache's event MPM cuts a few keep-alive replies under every allocator)."""
    ka = ["-k"] if keepalive else []
    out = run(["ab", "-q", *ka, "-n", str(n), "-c", str(c), *extra, f"http://127.0.0.1:{port}/{path}"])
    failed = int(out.split("Failed requests:", 1)[1].split()[0]) if "Failed requests:" in out else n
    ok = failed <= tolerate or \
        varying and "(Connect: 0, Receive: 0, Length: " in out and "Exceptions: 0)" in out
    if not ok or "Non-2xx" in out:
        raise RuntimeError(f"ab: requests failed:\n{out}")


class Server:
    """One server kind: start(env) returns the pid jmtime runs; load() the
    client's figure (operations or requests a second); stop() asks it to end."""
    name = ""
    def prepare(self, work): pass
    def argv(self): raise NotImplementedError
    def ready(self): wait_port(self.port)
    def load(self): raise NotImplementedError
    def stop(self, pid): os.kill(pid, signal.SIGTERM)
    def finish(self): pass  # after the last run: what prepare() started beside the server
    user = None
    out = None     # --out, for what a load writes down to compare
    alloc = ""     # the allocator of the run under way


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw).stdout


class Memcached(Server):
    name = "memcached"
    def prepare(self, work):
        self.port = free_port(); self.work = work
    def argv(self):
        return ["memcached", "-u", "nobody", "-t", "4", "-p", str(self.port), "-U", "0", "-l", "127.0.0.1",
                "-m", "512", "-c", "2048"]
    def load(self):
        t = time.time()
        run(["python3", os.path.join(HERE, "mcload.py"), str(self.port), "200", "60"])
        n = 200 * 60 * 3
        run(["memcslap", "-s", f"127.0.0.1:{self.port}", "-c", "16", "-t", "set", "-e", "20000", "-q"])
        run(["memcslap", "-s", f"127.0.0.1:{self.port}", "-c", "16", "-t", "get", "-e", "20000", "-q"])
        n += 2 * 16 * 20000
        return n / (time.time() - t)


class Nginx(Server):
    name = "nginx"
    def prepare(self, work):
        self.port = free_port(); self.work = work
        os.chmod(work, 0o755)  # the workers run as nobody
        os.makedirs(f"{work}/html", exist_ok=True); os.makedirs(f"{work}/logs", exist_ok=True)
        with open(f"{work}/html/big.txt", "w") as f:
            for i in range(256 * 1024 // 32):
                f.write("%031d\n" % (i * 7919))
        with open(f"{work}/html/small.html", "w") as f:
            f.write("<html>" + "x" * 600 + "</html>\n")
        with open(f"{work}/nginx.conf", "w") as f:
            f.write(f"""daemon off; master_process on; worker_processes 4; pid {work}/nginx.pid;
error_log {work}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{ access_log off; gzip on; gzip_min_length 100; gzip_types text/plain;
  client_body_temp_path {work}/t1; proxy_temp_path {work}/t2; fastcgi_temp_path {work}/t3;
  uwsgi_temp_path {work}/t4; scgi_temp_path {work}/t5;
  server {{ listen 127.0.0.1:{self.port} reuseport; root {work}/html; }} }}
""")
    def argv(self):
        return ["nginx", "-c", f"{self.work}/nginx.conf", "-p", self.work]
    def load(self):
        t = time.time()
        ab(self.port, "small.html", 60000, 200)
        ab(self.port, "big.txt", 6000, 50, ["-H", "Accept-Encoding: gzip"])
        return 66000 / (time.time() - t)
    def stop(self, pid): os.kill(pid, signal.SIGQUIT)


class Postgres(Server):
    name = "postgres"
    user = "nobody"
    def prepare(self, work):
        self.port = free_port(); self.work = work
        self.data = f"{work}/pg"
        if not os.path.exists(self.data):
            os.chmod(work, 0o777)
            subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            f"{PGBIN}/initdb", "-D", self.data, "-A", "trust", "-U", "pg"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.inited = False
    def argv(self):
        return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", f"{PGBIN}/postgres", "-D", self.data,
                "-p", str(self.port), "-k", self.work, "-c", "listen_addresses=127.0.0.1",
                "-c", "shared_buffers=128MB", "-c", "max_connections=100", "-c", "fsync=off"]
    def pgbench(self, *a):
        return run(["pgbench", "-h", "127.0.0.1", "-p", str(self.port), "-U", "pg", *a, "postgres"])
    def ready(self):
        wait_port(self.port)
        for _ in range(100):
            if subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "pg", "-c", "select 1", "postgres"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
                return
            time.sleep(0.1)
    def load(self):
        self.pgbench("-i", "-q", "-s", "5")
        t = time.time()
        for extra in (["-t", "1000"], ["-C", "-t", "150"], ["-S", "-t", "4000"]):
            self.pgbench("-c", "8", "-j", "2", *extra)
        return 8 * (1000 + 150 + 4000) / (time.time() - t)
    def stop(self, pid): os.kill(pid, signal.SIGINT)


class Redis(Server):
    name = "redis"
    def prepare(self, work):
        self.port = free_port(); self.work = work
    def argv(self):
        return ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", self.work]
    def load(self):
        out = run(["redis-benchmark", "-p", str(self.port), "-q", "-n", "60000", "-c", "50", "-r", "100000",
                   "-d", "400", "-t", "set,get,lpush,lpop,sadd,hset"])
        n = sum(float(l.split(":")[1].split()[0]) for l in out.replace("\r", "\n").splitlines()
                if "requests per second" in l and ":" in l and not l.strip().endswith("\x1b"))
        # FLUSHALL: what a server keeps after its data is gone.
        run(["redis-cli", "-p", str(self.port), "flushall"])
        return n


class Node(Server):
    name = "node"
    def prepare(self, work):
        self.port = free_port(); self.work = work
    def argv(self):
        return ["node", os.path.join(HERE, "nodeserve.js"), str(self.port)]
    def load(self):
        t = time.time()
        ab(self.port, "x", 30000, 100, varying=True)
        return 30000 / (time.time() - t)


class PyHttp(Server):
    name = "pyhttp"
    def prepare(self, work):
        self.port = free_port(); self.work = work
    def argv(self):
        return ["python3", os.path.join(HERE, "pyserve.py"), str(self.port)]
    def load(self):
        # Without -k: a connection, and so a thread of the server, per request.
        t = time.time()
        ab(self.port, "x", 6000, 16, varying=True, keepalive=False)
        return 6000 / (time.time() - t)


class PyHttpMalloc(PyHttp):
    name = "pyhttp-malloc"
    def argv(self):
        return ["env", "PYTHONMALLOC=malloc"] + super().argv()


class MemcachedBig(Memcached):
    """Values of 100 KiB..1000 KiB through a 64 MiB cache, 8 connections:
    about seven times the cache goes through it, so it evicts all along;
    the last values of each connection are read back and checked."""
    name = "memcached-big"
    def argv(self):
        return ["memcached", "-u", "nobody", "-t", "4", "-p", str(self.port), "-U", "0", "-l", "127.0.0.1",
                "-m", "64", "-I", "1m", "-c", "256"]
    @staticmethod
    def value(c, r):
        n = 100 * 1024 + (c * 7919 + r * 104729) % (900 * 1024)
        return (b"%d.%d:" % (c, r) * (n // 6 + 1))[:n]
    def load(self):
        t = time.time()
        socks = [socket.create_connection(("127.0.0.1", self.port)) for _ in range(8)]
        files = [s.makefile("rb") for s in socks]
        rounds, hits, full = 250, 0, 0
        for r in range(rounds):
            for c, s in enumerate(socks):
                v = self.value(c, r)
                s.sendall(b"set b%d.%d 0 0 %d\r\n%s\r\n" % (c, r, len(v), v))
            for c, f in enumerate(files):
                ans = f.readline()
                if ans == b"SERVER_ERROR out of memory storing object\r\n":
                    full += 1      # no page of that class to evict from: memcached's own limit
                elif ans != b"STORED\r\n":
                    raise RuntimeError(f"memcached-big: set b{c}.{r}: {ans!r}")
            if r % 10 == 9:   # the last two of each connection, if not evicted yet, must be right
                for c, (s, f) in enumerate(zip(socks, files)):
                    s.sendall(b"get b%d.%d b%d.%d\r\n" % (c, r - 1, c, r))
                    while True:
                        h = f.readline().split()
                        if h == [b"END"]:
                            break
                        q = int(h[1].split(b".")[1])
                        if h[0] != b"VALUE" or f.read(int(h[3]) + 2)[:-2] != self.value(c, q):
                            raise RuntimeError(f"memcached-big: b{c}.{q} wrong")
                        hits += 1
        for s in socks:
            s.close()
        if hits < 8 or full > 8 * rounds // 4:
            raise RuntimeError(f"memcached-big: {hits} values read back, {full} sets refused")
        return 8 * rounds / (time.time() - t)


class RedisBig(Redis):
    """Big hashes and lists (about 110 MB), then two thirds of the keys
    deleted and the rest of the lists trimmed by half: what the server
    keeps of a partial delete (the PSS after the idle). The digest of what
    is left is written to OUT/redis-big.digests, to compare between allocators."""
    name = "redis-big"
    def argv(self):
        return super().argv() + ["--enable-debug-command", "yes"]
    def load(self):
        def cmd(*a):
            return b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a)
        buf = []
        for k in range(60):
            for b0 in range(0, 5000, 500):
                buf.append(cmd(b"HSET", b"h%d" % k, *[x for f in range(b0, b0 + 500)
                                                       for x in (b"f%d" % f, b"v" * (50 + (k * 31 + f * 17) % 250))]))
                buf.append(cmd(b"RPUSH", b"l%d" % k, *[b"e%d-" % f + b"x" * (50 + (k * 13 + f * 29) % 250)
                                                         for f in range(b0, b0 + 500)]))
        for k in range(60):
            if k % 3:
                buf.append(cmd(b"DEL", b"h%d" % k, b"l%d" % k))
            else:
                buf.append(cmd(b"LTRIM", b"l%d" % k, b"0", b"2499"))
                buf.append(cmd(b"HDEL", b"h%d" % k, *[b"f%d" % f for f in range(0, 5000, 2)]))
        t = time.time()
        p = subprocess.run(["redis-cli", "-p", str(self.port), "--pipe"], input=b"".join(buf),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True)
        if b"errors: 0" not in p.stdout:
            raise RuntimeError(f"redis-big: {p.stdout[-300:]!r}")
        n = len(buf) / (time.time() - t)
        with open(os.path.join(self.out, "redis-big.digests"), "a") as f:
            f.write(self.alloc + " " + run(["redis-cli", "-p", str(self.port), "debug", "digest"]))
        return n


class PostgresSort(Postgres):
    """Big sorts, a hash join and a hash aggregate in memory (work_mem
    256MB), an index build (maintenance_work_mem 256MB), two sessions at a
    time; the answers are written to OUT/postgres-sort.answers to compare."""
    name = "postgres-sort"
    SQL = """
SET client_min_messages = warning; SET work_mem = '256MB'; SET maintenance_work_mem = '256MB'; SET max_parallel_workers_per_gather = 0;
DROP TABLE IF EXISTS a{i}, b{i};
CREATE UNLOGGED TABLE a{i} AS SELECT g AS id, md5(g::text) AS s, (g::bigint * 7919) % 200000 AS k FROM generate_series(1, 600000) g;
CREATE UNLOGGED TABLE b{i} AS SELECT g AS k, repeat(md5(g::text), 1 + g % 4) AS t FROM generate_series(1, 200000) g;
SELECT count(*), sum(length(s)), min(s), max(s) FROM (SELECT s FROM a{i} ORDER BY s) x;
SELECT count(*), sum(length(t)) FROM a{i} JOIN b{i} USING (k);
SELECT count(*), sum(c) FROM (SELECT k, count(*) AS c, string_agg(s, ',') AS l FROM a{i} GROUP BY k) x;
SELECT count(DISTINCT s) FROM a{i};
CREATE INDEX ON a{i} (s);
SELECT s FROM a{i} ORDER BY s DESC, id LIMIT 1 OFFSET 300000;
DROP TABLE a{i}, b{i};
"""
    def load(self):
        t = time.time()
        ps = []
        for i in range(2):
            ps.append(subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                                        "-p", str(self.port), "-U", "pg", "-c", self.SQL.format(i=i), "postgres"],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        outs = [p.communicate()[0] for p in ps]
        if any(p.returncode for p in ps):
            raise RuntimeError(f"postgres-sort: {outs!r}")
        with open(os.path.join(self.out, "postgres-sort.answers"), "a") as f:
            f.write(self.alloc + " " + " | ".join(o.replace("\n", " ") for o in outs) + "\n")
        return 2 / (time.time() - t)


class Apache(Server):
    """apache2 (Debian's httpd 2.4) with mpm_prefork: 4 processes kept
    spare, each ended after 400 connections and replaced by a fresh fork
    (MaxConnectionsPerChild), so the load without keep-alive cycles the
    workers; mod_deflate compresses the 256 KiB file (zlib's buffers per
    request). Since session 26."""
    name = "apache-prefork"
    mpm = "prefork"
    mpmconf = ("StartServers 4\nMinSpareServers 4\nMaxSpareServers 8\nMaxRequestWorkers 32\n"
               "MaxConnectionsPerChild 400\n")
    def prepare(self, work):
        self.port = free_port(); self.work = work
        os.chmod(work, 0o755)
        os.makedirs(f"{work}/html", exist_ok=True)
        with open(f"{work}/html/big.txt", "w") as f:
            for i in range(256 * 1024 // 32):
                f.write("%031d\n" % (i * 7919))
        with open(f"{work}/html/small.html", "w") as f:
            f.write("<html>" + "x" * 600 + "</html>\n")
        m = "/usr/lib/apache2/modules"
        mods = ["mpm_" + self.mpm, "authz_core", "mime", "filter", "deflate", "dir"]
        with open(f"{work}/httpd.conf", "w") as f:
            f.write("".join(f"LoadModule {x}_module {m}/mod_{x}.so\n" for x in mods))
            f.write(f"""ServerRoot {work}
ServerName localhost
Listen 127.0.0.1:{self.port}
PidFile {work}/httpd.pid
Mutex file:{work} default
DefaultRuntimeDir {work}
ErrorLog {work}/error.log
LogLevel warn
User nobody
Group nogroup
DocumentRoot {work}/html
<Directory {work}/html>
  Require all granted
</Directory>
TypesConfig /etc/mime.types
AddOutputFilterByType DEFLATE text/plain
KeepAlive On
MaxKeepAliveRequests 0
{self.mpmconf}""")
    def argv(self):
        return ["apache2", "-f", f"{self.work}/httpd.conf", "-DFOREGROUND"]
    def load(self):
        t = time.time()
        # Under every allocator, glibc's too, up to 3 in 1,000 keep-alive
        # replies come back cut when apache ends the connection (ab counts
        # them as of another length, now and then as an exception: glibc
        # 0, 39, 0 and 24 of 20,000 in 4 runs): up to 1% not counted.
        ab(self.port, "small.html", 20000, 50, tolerate=200)
        ab(self.port, "small.html", 6000, 16, keepalive=False)
        ab(self.port, "big.txt", 800, 16, ["-H", "Accept-Encoding: gzip"], tolerate=8)
        return 26800 / (time.time() - t)
    def stop(self, pid): os.kill(pid, signal.SIGTERM)


class ApacheEvent(Apache):
    """The same with mpm_event: 2 processes of 25 threads each (threads
    that go quiet between the loads: the idle PSS)."""
    name = "apache-event"
    mpm = "event"
    mpmconf = ("StartServers 2\nServerLimit 4\nThreadsPerChild 25\nMinSpareThreads 25\nMaxSpareThreads 75\n"
               "MaxRequestWorkers 100\nMaxConnectionsPerChild 0\n")


class Lighttpd(Apache):
    """lighttpd 1.4: one process, an event loop; the same files."""
    name = "lighttpd"
    def prepare(self, work):
        super().prepare(work)
        with open(f"{work}/lighttpd.conf", "w") as f:
            f.write(f"""server.document-root = "{work}/html"
server.bind = "127.0.0.1"
server.port = {self.port}
server.username = "nobody"
server.groupname = "nogroup"
server.max-keep-alive-requests = 100000
mimetype.assign = (".html" => "text/html", ".txt" => "text/plain")
""")
    def argv(self):
        return ["lighttpd", "-D", "-f", f"{self.work}/lighttpd.conf"]
    def load(self):
        t = time.time()
        ab(self.port, "small.html", 20000, 50)
        ab(self.port, "small.html", 6000, 16, keepalive=False)
        ab(self.port, "big.txt", 2000, 16)
        return 28000 / (time.time() - t)


class Gunicorn(Server):
    """gunicorn 20 (Python WSGI, prefork): 3 sync workers, each replaced
    after 700 requests (--max-requests); a request builds a JSON body of
    1-60 KB, as pyserve.py's do (gunicorn_app.py). Not 500, which divides
    the 6,000 requests: whether a worker had just been replaced at the end
    of the load (a fresh one is 19 MiB smaller) then decided the idle
    PSS, 36, 57 or 76 MiB under every allocator (session 26)."""
    name = "gunicorn"
    def prepare(self, work):
        self.port = free_port(); self.work = work
    def argv(self):
        return ["gunicorn", "-w", "3", "--max-requests", "700", "-b", f"127.0.0.1:{self.port}",
                "--chdir", HERE, "gunicorn_app:app"]
    def load(self):
        t = time.time()
        ab(self.port, "x", 6000, 8, varying=True, keepalive=False)
        return 6000 / (time.time() - t)


def write_zone(path):
    """The zone z of dnsload.py's answers: h0..h19999, an A and a TXT each."""
    with open(path, "w") as f:
        f.write("$TTL 300\n@ IN SOA ns.z. h.z. 1 60 60 600 60\n@ IN NS ns.z.\nns IN A 127.0.0.1\n")
        for i in range(20000):
            f.write(f"h{i} IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n"
                    f"h{i} IN TXT \"{'t' * (i % 200)}\"\n")


def dns_ready(port, who):
    end = time.time() + 30
    while time.time() < end:
        try:
            run(["python3", os.path.join(HERE, "dnsload.py"), str(port), "1", "1"]); return
        except subprocess.CalledProcessError:
            time.sleep(0.2)
    raise RuntimeError(f"{who} does not answer")


class Named(Server):
    """BIND 9.18's named (libuv, links jemalloc; the preload serves it),
    2 worker threads, an authoritative zone of 20,000 names, 30,000 UDP
    queries from 8 sockets (dnsload.py), every answer checked."""
    name = "named"
    def prepare(self, work):
        self.port = free_port(); self.work = work
        os.chmod(work, 0o777)  # named runs as bind
        write_zone(f"{work}/z.zone")
        with open(f"{work}/named.conf", "w") as f:
            f.write(f"""options {{ directory "{work}"; listen-on port {self.port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }}; pid-file none; recursion no; dnssec-validation no; }};
zone "z" {{ type primary; file "{work}/z.zone"; }};
""")
    def argv(self):
        return ["named", "-g", "-n", "2", "-u", "bind", "-c", f"{self.work}/named.conf"]
    def ready(self): dns_ready(self.port, "named")
    def load(self):
        t = time.time()
        run(["python3", os.path.join(HERE, "dnsload.py"), str(self.port), "30000", "8"])
        return 30000 / (time.time() - t)


class Knot(Server):
    """Knot DNS 3.2's knotd (authoritative; userspace RCU, a thread per
    UDP worker): 2 UDP workers, the zone of 20,000 names, 30,000 UDP
    queries (dnsload.py, every answer checked), a forced reload of the
    zone (the new copy built, the old one freed after an RCU grace
    period), 10,000 queries more (session 38)."""
    name = "knot"
    def prepare(self, work):
        self.port = free_port(); self.work = work
        write_zone(f"{work}/z.zone")
        with open(f"{work}/knot.conf", "w") as f:
            f.write(f"""server:
    rundir: "{work}"
    listen: 127.0.0.1@{self.port}
    udp-workers: 2
    tcp-workers: 1
    background-workers: 1
control:
    listen: "{work}/knot.sock"
database:
    storage: "{work}/kdb"
log:
  - target: stderr
    any: warning
zone:
  - domain: z
    storage: "{work}"
    file: z.zone
    journal-content: none
    zonefile-sync: -1
""")
    def argv(self):
        return ["knotd", "-c", f"{self.work}/knot.conf"]
    def ready(self): dns_ready(self.port, "knotd")
    def load(self):
        t = time.time()
        run(["python3", os.path.join(HERE, "dnsload.py"), str(self.port), "30000", "8"])
        run(["knotc", "-s", f"{self.work}/knot.sock", "-b", "-f", "zone-reload", "z"])
        run(["python3", os.path.join(HERE, "dnsload.py"), str(self.port), "10000", "8"])
        return 40000 / (time.time() - t)


class Mosquitto(Server):
    """Mosquitto 2.0 (MQTT broker, one thread, epoll): 8 subscribers of a
    fan-out of 6,000 messages of 100 B..16 KiB, then 20,000 retained
    messages of 100..4,000 B stored, read back and cleared (mqttload.py,
    every payload checked): what the retained ones took should go back in
    the idle (session 38)."""
    name = "mosquitto"
    def prepare(self, work):
        self.port = free_port(); self.work = work
        with open(f"{work}/mosquitto.conf", "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "log_dest stderr\nlog_type error\nlog_type warning\n"
                    # the retained messages sent at a subscription are queued past the default 1000
                    "max_queued_messages 0\n")
    def argv(self):
        return ["mosquitto", "-c", f"{self.work}/mosquitto.conf"]
    def load(self):
        t = time.time()
        run(["python3", os.path.join(HERE, "mqttload.py"), str(self.port), "6000", "8", "20000"])
        return (6000 * 9 + 60000) / (time.time() - t)


class Nghttpx(Server):
    """nghttpx 1.52 (nghttp2's HTTP/2 proxy, C++, a thread per worker): 2
    workers in front of an nginx without the preload (1 worker, gzip);
    h2load: 40,000 HTTP/2 requests of a small page on 32 connections, 10
    streams each, 3,000 of a 256 KiB text gzipped, 10,000 HTTP/1.1; the
    bodies checked through the proxy (session 38)."""
    name = "nghttpx"
    backend = None
    def prepare(self, work):
        self.port = free_port(); self.work = work
        if self.backend is None:
            ng = Nginx(); ng.prepare(work)
            conf = f"{work}/nginx.conf"
            with open(conf) as f:
                c = f.read().replace("worker_processes 4", "worker_processes 1")
            with open(conf, "w") as f:
                f.write(c)
            self.bport = ng.port
            self.backend = subprocess.Popen(ng.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_port(self.bport)
    def argv(self):
        return ["nghttpx", "--conf=/dev/null", f"--frontend=127.0.0.1,{self.port};no-tls",
                f"--backend=127.0.0.1,{self.bport}", "--workers=2", "--no-ocsp",
                f"--errorlog-file={self.work}/nghttpx.err"]
    def h2load(self, *a):
        out = run(["h2load", *a])
        line = [l for l in out.splitlines() if l.startswith("requests:")][0]
        f = line.split(",")
        if " 0 failed" not in f[4] or " 0 errored" not in f[5] or f[0].split()[1] != f[3].split()[0]:
            raise RuntimeError(f"h2load: requests failed:\n{out}")
    def load(self):
        import urllib.request
        u = f"http://127.0.0.1:{self.port}/"
        for name in ("small.html", "big.txt"):
            with open(f"{self.work}/html/{name}", "rb") as f, urllib.request.urlopen(u + name) as r:
                if r.read() != f.read():
                    raise RuntimeError(f"nghttpx: {name} came back changed")
        t = time.time()
        self.h2load("-n", "40000", "-c", "32", "-m", "10", "-t", "2", u + "small.html")
        self.h2load("-n", "3000", "-c", "8", "-m", "4", "-t", "2", "-H", "accept-encoding: gzip", u + "big.txt")
        self.h2load("--h1", "-n", "10000", "-c", "16", "-t", "2", u + "small.html")
        return 53000 / (time.time() - t)
    def stop(self, pid): os.kill(pid, signal.SIGQUIT)  # SIGTERM: its worker killed, not reaped
    def finish(self):
        if self.backend:
            self.backend.send_signal(signal.SIGQUIT); self.backend.wait(30); self.backend = None


class Pgbouncer(Server):
    """PgBouncer 1.18 (one thread, libevent; refuses root: run as nobody)
    in transaction pooling before a postgres without the preload; pgbench
    through it: 32 clients on a pool of 10, a fresh connection per
    transaction, then 32 clients of selects (session 38)."""
    name = "pgbouncer"
    user = "nobody"
    pg = None
    def prepare(self, work):
        self.port = free_port(); self.work = work
        if self.pg is None:
            self.pgs = Postgres(); self.pgs.prepare(work)
            self.pg = subprocess.Popen(self.pgs.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.pgs.ready()
            self.pgs.pgbench("-i", "-q", "-s", "5")
        with open(f"{work}/users.txt", "w") as f:
            f.write('"pg" ""\n')
        with open(f"{work}/pgbouncer.ini", "w") as f:
            f.write(f"""[databases]
postgres = host=127.0.0.1 port={self.pgs.port} user=pg
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
auth_type = trust
auth_file = {work}/users.txt
pool_mode = transaction
max_client_conn = 200
default_pool_size = 10
unix_socket_dir =
pidfile =
logfile =
""")
        os.chmod(f"{work}/pgbouncer.ini", 0o644); os.chmod(f"{work}/users.txt", 0o644)
    def argv(self):
        return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                "pgbouncer", "-q", f"{self.work}/pgbouncer.ini"]
    def pgbench(self, *a):
        out = run(["pgbench", "-h", "127.0.0.1", "-p", str(self.port), "-U", "pg", *a, "postgres"])
        if "number of failed transactions: 0" not in out:
            raise RuntimeError(f"pgbench through pgbouncer failed:\n{out}")
    def load(self):
        t = time.time()
        self.pgbench("-c", "32", "-j", "2", "-t", "300")
        self.pgbench("-C", "-c", "16", "-j", "2", "-t", "100")
        self.pgbench("-S", "-c", "32", "-j", "2", "-t", "1500")
        return (32 * 300 + 16 * 100 + 32 * 1500) / (time.time() - t)
    def stop(self, pid): os.kill(pid, signal.SIGINT)
    def finish(self):
        if self.pg:
            self.pg.send_signal(signal.SIGINT); self.pg.wait(60); self.pg = None


class Slapd(Server):
    """OpenLDAP 2.5's slapd (4 worker threads, back_mdb without sync):
    20,000 entries added by ldapadd, 4 clients at once each searching 1,000
    names one by one, 3 searches of the whole tree, half the entries
    deleted; every count checked (session 38)."""
    name = "slapd"
    N = 5000
    def prepare(self, work):
        self.port = free_port(); self.work = work
        shutil.rmtree(f"{work}/db", ignore_errors=True)
        os.makedirs(f"{work}/db")
        with open(f"{work}/slapd.conf", "w") as f:
            f.write(f"""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {work}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
threads 4
sizelimit unlimited
database mdb
suffix "dc=x"
rootdn "cn=admin,dc=x"
rootpw secret
directory {work}/db
maxsize 1073741824
dbnosync
index cn,sn eq
""")
        with open(f"{work}/data.ldif", "w") as f:
            f.write("dn: dc=x\nobjectClass: dcObject\nobjectClass: organization\no: x\ndc: x\n\n")
            for i in range(self.N):
                f.write(f"dn: cn=u{i},dc=x\nobjectClass: inetOrgPerson\ncn: u{i}\nsn: s{i % 100}\n"
                        f"description: {'d' * (i % 300 + 1)}\nmail: u{i}@x\n\n")
        for k in range(4):
            with open(f"{work}/names{k}", "w") as f:
                f.write("".join(f"u{(k * 4999 + j * 7) % self.N}\n" for j in range(1000)))
        with open(f"{work}/del", "w") as f:
            f.write("".join(f"cn=u{i},dc=x\n" for i in range(0, self.N, 2)))
    def argv(self):
        return ["slapd", "-d", "0", "-h", f"ldap://127.0.0.1:{self.port}/", "-f", f"{self.work}/slapd.conf"]
    def ldap(self, tool, *a):
        return run([tool, "-x", "-H", f"ldap://127.0.0.1:{self.port}", *a])
    def count(self):
        out = self.ldap("ldapsearch", "-b", "dc=x", "(objectClass=*)", "cn")
        return out.count("\ndn: ")
    def load(self):
        t = time.time()
        auth = ("-D", "cn=admin,dc=x", "-w", "secret")
        self.ldap("ldapadd", *auth, "-f", f"{self.work}/data.ldif")
        ps = [subprocess.Popen(["ldapsearch", "-x", "-H", f"ldap://127.0.0.1:{self.port}", "-b", "dc=x",
                                "-f", f"{self.work}/names{k}", "(cn=%s)", "cn", "description"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for k in range(4)]
        for p in ps:
            out = p.communicate()[0]
            if p.returncode != 0 or out.count("\ndn: ") != 1000:
                raise RuntimeError(f"slapd: {out.count(chr(10) + 'dn: ')} of 1000 names found")
        for _ in range(3):
            if self.count() != self.N + 1:
                raise RuntimeError("slapd: the whole tree's count is wrong")
        self.ldap("ldapdelete", *auth, "-f", f"{self.work}/del")
        if self.count() != self.N // 2 + 1:
            raise RuntimeError("slapd: the count after the deletes is wrong")
        return (self.N * 2 + 4000 + 4 * self.N) / (time.time() - t)
    def stop(self, pid): os.kill(pid, signal.SIGINT)


SERVERS = [Memcached, Nginx, Postgres, Redis, Node, PyHttp, PyHttpMalloc, MemcachedBig, RedisBig, PostgresSort,
           Apache, ApacheEvent, Lighttpd, Gunicorn, Named, Knot, Mosquitto, Nghttpx, Pgbouncer,
           Slapd]


def one(srv, alloc, lib, work, idle, rows):
    out = os.path.join(work, f"{srv.name}.{alloc}.jmtime")
    cmd = [os.path.join(BUILD, "bench", "jmtime"), "-o", out, "-t", "600"]
    if lib:
        cmd += ["-e", f"LD_PRELOAD={lib}"]
    log = open(os.path.join(work, f"{srv.name}.{alloc}.log"), "w")
    p = subprocess.Popen(cmd + ["--"] + srv.argv(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        srv.ready()
        time.sleep(0.3)
        kids = tree(p.pid)
        server_pid = kids[1] if len(kids) > 1 else p.pid
        if srv.name == "postgres":  # setpriv execs postgres in place
            server_pid = kids[1]
        if lib and not preloaded(server_pid, lib):
            raise RuntimeError(f"{srv.name}: pid {server_pid} does not map {lib}: not preloaded")
        peak = [0]
        import threading
        stop = threading.Event()
        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], pss_kib(server_pid)); time.sleep(0.25)
        th = threading.Thread(target=sample, daemon=True); th.start()
        t0 = time.time()
        tput = srv.load()
        stop.set(); th.join()
        after = pss_kib(server_pid)
        time.sleep(idle)
        idled = pss_kib(server_pid)
        srv.stop(server_pid)
        p.wait(120)
    except Exception:
        # jmtime puts its child in a process group of its own: the tree.
        for pid in reversed(tree(p.pid)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        p.wait(); raise
    with open(out) as f:
        wall, maxrss, status, cpu, minflt = f.read().split()
    # What an allocator says (jmalloc's misuse reports start "jmalloc["),
    # and the servers' own crash reports.
    log.close()
    logs = [os.path.join(work, f"{srv.name}.{alloc}.log"), os.path.join(work, "logs", "error.log")]
    for path in logs:
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                bad = [l.strip() for l in f if any(w in l for w in ("jmalloc[", "signal", "[alert]", "[emerg]", "PANIC",
                                                                    "was terminated", "Assertion"))]
            if bad:
                print(f"WARNING {srv.name} under {alloc}: {path}: " + " | ".join(bad[:5]), flush=True)
    if os.path.exists(logs[1]):
        os.unlink(logs[1])
    rows.append((srv.name, alloc, float(cpu), int(minflt), peak[0], after, idled, tput, int(status)))
    print("\t".join(str(x) for x in rows[-1]), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--idle", type=float, default=20)
    ap.add_argument("--servers", default="")
    ap.add_argument("--allocators", default="")
    ap.add_argument("--out", default=os.path.join(BUILD, "bench", "servers"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    allocs = [x for x in ALLOCATORS if not a.allocators or x[0] in a.allocators.split(",")]
    rows = []
    print("server\tallocator\tcpu_s\tminflt\tpeak_pss_kib\tpss_after_kib\tpss_idle_kib\tthroughput\tstatus")
    for cls in SERVERS:
        if a.servers and cls.name not in a.servers.split(","):
            continue
        work = tempfile.mkdtemp(prefix=f"jm-{cls.name}-", dir="/tmp")
        srv = cls()
        srv.out = a.out
        try:
            for r in range(a.runs):
                order = allocs[r % len(allocs):] + allocs[:r % len(allocs)]
                for name, lib in order:
                    srv.prepare(work)
                    srv.alloc = name
                    one(srv, name, lib, work, a.idle, rows)
        finally:
            srv.finish()
        shutil.rmtree(work, ignore_errors=True)
    with open(os.path.join(a.out, "servers.tsv"), "w") as f:
        for r in rows:
            f.write("\t".join(str(x) for x in r) + "\n")
    print("\nmedians; jm/best = jmalloc against the best anchor")
    for s in dict.fromkeys(r[0] for r in rows):
        med = {}
        for name, _ in allocs:
            rs = [r for r in rows if r[0] == s and r[1] == name]
            if rs:
                med[name] = [statistics.median(r[i] for r in rs) for i in range(2, 8)]
        for name, m in med.items():
            print(f"{s:10} {name:9} cpu {m[0]:7.2f}  flt {m[1]:8.0f}  peak {m[2]/1024:7.1f}M  after {m[3]/1024:7.1f}M"
                  f"  idle {m[4]/1024:7.1f}M  tput {m[5]:10.0f}")
        if "jmalloc" in med and len(med) > 1:
            anc = [m for n, m in med.items() if n != "jmalloc"]
            j = med["jmalloc"]
            r = [j[i] / max(1e-9, min(m[i] for m in anc)) for i in range(5)] + [max(m[5] for m in anc) / max(1e-9, j[5])]
            print(f"{s:10} jm/best   cpu {r[0]:.2f}  flt {r[1]:.2f}  peak {r[2]:.2f}  after {r[3]:.2f}  idle {r[4]:.2f}"
                  f"  tput(best/jm) {r[5]:.2f}")


if __name__ == "__main__":
    main()
