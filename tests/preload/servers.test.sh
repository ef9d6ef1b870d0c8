#!/usr/bin/env bash
# Multi-threaded servers under the allocator, each against the same run
# without it: memcached (4 worker threads; 8 clients at once set 3000
# values of 4 bytes to 7 KB, read every 7th back, delete some, ask stats)
# and nginx (2 worker processes, a thread pool for aio, gzip; 16 clients at
# once fetch a 1.2 MB file whole, gzipped and in ranges; a reload by
# SIGHUP, a graceful stop by SIGQUIT). The digests of what the clients got
# must be equal, every server must exit 0 and its log hold no alert. Each
# server is skipped when not installed (Debian: memcached, nginx-light).
# timeout: 120
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
	esac
	wait "$pid"; rc=$?
	[ $rc -eq 0 ] || fail "$name ($mode) exited $rc: $(tail -n 5 "$dir/log")"
	! grep -E 'jmalloc\[|\[(alert|emerg|crit)\]|exited on signal' "$dir/log" || fail "$name ($mode): its log says so"
	echo "$name $mode: $(head -c 100 "$dir/out")"
}

for name in memcached nginx; do
	command -v "$name" >/dev/null 2>&1 || { echo "$name is not installed: not run"; continue; }
	run_server "$name" plain
	run_server "$name" jm
	cmp -s "$JM_TMP/$name.plain/out" "$JM_TMP/$name.jm/out" ||
		fail "$name: the clients got other data under the allocator: $(diff "$JM_TMP/$name.plain/out" "$JM_TMP/$name.jm/out" | head -n 6)"
	ok "$name: the same data with and without jmalloc"
	ran=$((ran + 1))
done
[ $ran -gt 0 ] || skip "neither memcached nor nginx is installed (Debian: memcached, nginx-light)"
