#!/usr/bin/env bash
# redis_flush.sh [LIB...]: what redis-server keeps after FLUSHALL, over time,
# under each allocator (LD_PRELOAD=LIB; "-" is none: Debian's redis is
# linked with jemalloc, which then serves it). redis-benchmark (6 commands
# x 200000, 400 B values), DEBUG POPULATE 300000 keys of 1000 B, then a
# synchronous FLUSHALL; the server's RSS (MiB) before it, and 0, 2, 5, 10,
# 15, 20, 25 and 30 s after. Without LIB: jemalloc (none), mimalloc,
# tcmalloc and liballoc/libjmalloc.so. Needs redis-server and redis-tools.
# A survey (docs/programs.md, "Servers, session 10"), not a test.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
lib_dir=/usr/lib/x86_64-linux-gnu
[ $# -gt 0 ] || set -- - "$lib_dir/libmimalloc.so.2" "$lib_dir/libtcmalloc_minimal.so.4" \
	"${JMALLOC_LIB:-$root/liballoc/libjmalloc.so}"
for lib in "$@"; do
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	dir=$(mktemp -d)
	pre=()
	[ "$lib" = - ] || pre=("LD_PRELOAD=$lib")
	env "${pre[@]}" redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
		--enable-debug-command yes --dir "$dir" >"$dir/log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
	rss() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }
	redis-benchmark -p "$port" -q -n 200000 -c 20 -r 100000 -d 400 \
		-t set,get,lpush,lpop,sadd,hset >/dev/null 2>&1
	redis-cli -p "$port" debug populate 300000 key 1000 >/dev/null
	line="$(basename -- "$lib"): loaded $(rss); after FLUSHALL"
	redis-cli -p "$port" flushall >/dev/null
	t0=$(date +%s%N)
	for s in 0 2 5 10 15 20 25 30; do
		while [ $(( $(date +%s%N) - t0 )) -lt $((s * 1000000000)) ]; do sleep 0.05; done
		line="$line +${s}s $(rss)"
	done
	echo "$line"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	rm -rf "$dir"
done
