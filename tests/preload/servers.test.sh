#!/usr/bin/env bash
# Multi-threaded servers under the allocator, each against the same run
# without it: memcached (4 worker threads; 8 clients at once set 3000
# values of 4 bytes to 7 KB, read every 7th back, delete some, ask stats)
# and nginx (2 worker processes, a thread pool for aio, gzip; 16 clients at
# once fetch a 1.2 MB file whole, gzipped and in ranges; a reload by
# SIGHUP, a graceful stop by SIGQUIT). The digests of what the clients got
# must be equal, every server must exit 0 and its log hold no alert. Each
# server is skipped when not installed (Debian: memcached, nginx-light).
# And redis-server (Debian's links libjemalloc; the preload serves it
# instead): 4 clients pipeline SET, GET, APPEND, LPUSH, LRANGE, HSET, HGET,
# INCRBY, SADD, SISMEMBER, DEL and EXPIRE over 4000 keys of 1 B..16 KiB,
# then redis-benchmark (-P 16, 4 commands, bounded by timeout), FLUSHALL,
# a second round of the clients, SHUTDOWN NOSAVE (Debian: redis-server).
# timeout: 180
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd python3
ran=0

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
	python3 - "$1" <<'PY' || fail "nothing listens on port $1"
import socket, sys, time
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}

cat >"$JM_TMP/mc.py" <<'PY'
import concurrent.futures, hashlib, socket, sys
port = int(sys.argv[1])
def client(k):
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rwb")
    h = hashlib.md5()
    for i in range(k, 3000, 8):
        v = (b"v%d-" % i) * (i % 700 + 1)
        f.write(b"set k%d 0 0 %d\r\n%s\r\n" % (i, len(v), v))
    f.flush()
    for i in range(k, 3000, 8):
        assert f.readline() == b"STORED\r\n"
    for i in range(k, 3000, 56):
        f.write(b"get k%d\r\n" % i); f.flush()
        n = int(f.readline().split()[3]); h.update(f.read(n + 2)); assert f.readline() == b"END\r\n"
    for i in range(k, 3000, 24):
        f.write(b"delete k%d\r\n" % i); f.flush(); assert f.readline() == b"DELETED\r\n"
    return h.hexdigest()
with concurrent.futures.ThreadPoolExecutor(8) as ex:
    print(" ".join(ex.map(client, range(8))))
s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rwb")
f.write(b"stats\r\n"); f.flush()
while (l := f.readline()) != b"END\r\n":
    if l.split()[1] in (b"curr_items", b"total_items"): print(l.decode().strip())
PY

cat >"$JM_TMP/ngx.py" <<'PY'
import concurrent.futures, hashlib, sys, urllib.request
port = sys.argv[1]
def get(i):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/big.txt")
    if i % 2: req.add_header("Accept-Encoding", "gzip")
    if i % 3 == 0: req.add_header("Range", f"bytes={i * 1000}-{i * 3000 + 100}")
    with urllib.request.urlopen(req) as r:
        return hashlib.md5(r.read()).hexdigest()
with concurrent.futures.ThreadPoolExecutor(16) as ex:
    print(hashlib.md5("".join(ex.map(get, range(300))).encode()).hexdigest())
PY

cat >"$JM_TMP/redis.py" <<'PY'
# A RESP client: each of 4 threads pipelines commands on keys of its own,
# 64 at a time, and hashes the replies.
import concurrent.futures, hashlib, socket, sys
port = int(sys.argv[1])
def cmd(*a):
    a = [x if isinstance(x, bytes) else str(x).encode() for x in a]
    return b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a)
def reply(f):
    l = f.readline()
    t, rest = l[:1], l[1:-2]
    if t in (b"+", b":"): return rest
    if t == b"-": raise RuntimeError(rest.decode())
    if t == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [reply(f) for _ in range(n)]
    raise RuntimeError("bad reply %r" % l)
def client(k):
    s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rwb")
    h = hashlib.md5(); q = []
    K = lambda t, n: "%s%d.%d" % (t, k, n)   # keys of this client only
    def go(*a):
        q.append(cmd(*a))
        if len(q) == 64: flush()
    def flush():
        f.write(b"".join(q)); f.flush()
        for _ in range(len(q)): h.update(repr(reply(f)).encode())
        q.clear()
    for i in range(k, 4000, 4):
        v = (b"v%d-" % i) * (1 + (i * 7919) % 3000)
        go("SET", K("k", i), v[:16384])
        if i % 3 == 0: go("APPEND", K("k", i), b"+" * (i % 500))
        go("LPUSH", K("l", i % 50), v[:i % 300 + 1])
        go("HSET", K("h", i % 20), "f%d" % i, v[:i % 90 + 1])
        go("INCRBY", K("n", i % 10), i)
        go("SADD", K("s", i % 30), "m%d" % i)
        if i % 5 == 0: go("EXPIRE", K("k", i), 3600)
    for i in range(k, 4000, 4):
        if i % 7 == 0: go("GET", K("k", i))
        if i % 11 == 0: go("LRANGE", K("l", i % 50), 0, 20)
        if i % 13 == 0: go("HGET", K("h", i % 20), "f%d" % i)
        if i % 17 == 0: go("SISMEMBER", K("s", i % 30), "m%d" % (i - 120))
        if i % 9 == 0: go("DEL", K("k", i))
    flush()
    return h.hexdigest()
with concurrent.futures.ThreadPoolExecutor(4) as ex:
    print(" ".join(ex.map(client, range(4))))
s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rwb")
for c in (cmd("DBSIZE"), cmd("LLEN", "l1.7"), cmd("HLEN", "h2.6"), cmd("SCARD", "s3.5"), cmd("STRLEN", "k3.3999")):
    f.write(c); f.flush(); print(reply(f).decode())
PY

# The server $1 has the allocator mapped under mode jm ($2).
preloaded() {
	[ "$2" = jm ] || return 0
	grep -q libjmalloc "/proc/$1/maps" || fail "pid $1 does not run with libjmalloc.so"
}

# Runs server $1 in mode $2 (plain or jm); prints the clients' digest.
run_server() {
	local name=$1 mode=$2 dir=$JM_TMP/$1.$2 port pid rc pre=()
	mkdir -p "$dir"
	[ "$mode" = jm ] && pre=(env LD_PRELOAD="$JMALLOC_LIB" JMALLOC_STATS_DIR="$JM_TMP")
	port=$(free_port)
	case $name in
	memcached)
		"${pre[@]}" memcached -p "$port" -U 0 -l 127.0.0.1 -t 4 -m 64 -u root >"$dir/log" 2>&1 &
		pid=$!
		wait_port "$port"
		python3 "$JM_TMP/mc.py" "$port" >"$dir/out" || fail "$name ($mode): the clients failed"
		preloaded "$pid" "$mode"
		kill -TERM "$pid" ;;
	nginx)
		mkdir -p "$dir/html" "$dir/logs" "$dir/tmp"
		seq 1 200000 >"$dir/html/big.txt"
		cat >"$dir/nginx.conf" <<CONF
worker_processes 2; daemon off; error_log $dir/logs/error.log; pid $dir/nginx.pid;
thread_pool default threads=4 max_queue=1000;
events { worker_connections 256; }
http { access_log off; client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp;
  fastcgi_temp_path $dir/tmp; uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
  gzip on; gzip_min_length 100; gzip_types text/plain; aio threads; sendfile off;
  server { listen 127.0.0.1:$port; root $dir/html; } }
CONF
		"${pre[@]}" nginx -p "$dir" -c "$dir/nginx.conf" >"$dir/log" 2>&1 &
		pid=$!
		wait_port "$port"
		python3 "$JM_TMP/ngx.py" "$port" >"$dir/out" || fail "$name ($mode): the clients failed"
		preloaded "$pid" "$mode"
		kill -HUP "$pid"; sleep 0.5
		python3 "$JM_TMP/ngx.py" "$port" >>"$dir/out" || fail "$name ($mode): the clients failed after the reload"
		kill -QUIT "$pid"
		cat "$dir/logs/error.log" >>"$dir/log" ;;
	redis-server)
		"${pre[@]}" redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
			--dir "$dir" >"$dir/log" 2>&1 &
		pid=$!
		wait_port "$port"
		python3 "$JM_TMP/redis.py" "$port" >"$dir/out" || fail "$name ($mode): the clients failed"
		preloaded "$pid" "$mode"
		# Its replies are not compared (redis-benchmark runs them at once);
		# the server must answer all of them in time and stay up.
		timeout -k 5 60 redis-benchmark -p "$port" -q -n 20000 -c 8 -P 16 -r 10000 -d 200 \
			-t set,get,lpush,lrange_100 >"$dir/bench" 2>&1 ||
			fail "$name ($mode): redis-benchmark failed: $(tail -c 300 "$dir/bench")"
		[ "$(redis-cli -p "$port" flushall)" = OK ] || fail "$name ($mode): FLUSHALL failed"
		python3 "$JM_TMP/redis.py" "$port" >>"$dir/out" || fail "$name ($mode): the clients failed after FLUSHALL"
		redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 ;;
	esac
	wait "$pid"; rc=$?
	[ $rc -eq 0 ] || fail "$name ($mode) exited $rc: $(tail -n 5 "$dir/log")"
	! grep -E 'jmalloc\[|\[(alert|emerg|crit)\]|exited on signal' "$dir/log" || fail "$name ($mode): its log says so"
	echo "$name $mode: $(head -c 100 "$dir/out")"
}

for name in memcached nginx redis-server; do
	command -v "$name" >/dev/null 2>&1 || { echo "$name is not installed: not run"; continue; }
	run_server "$name" plain
	run_server "$name" jm
	cmp -s "$JM_TMP/$name.plain/out" "$JM_TMP/$name.jm/out" ||
		fail "$name: the clients got other data under the allocator: $(diff "$JM_TMP/$name.plain/out" "$JM_TMP/$name.jm/out" | head -n 6)"
	ok "$name: the same data with and without jmalloc"
	ran=$((ran + 1))
done
[ $ran -gt 0 ] || skip "none of memcached, nginx and redis-server is installed (Debian: memcached, nginx-light, redis-server)"
