#!/usr/bin/env bash
# The workers of a pre-forked server are seen where their parent is: a
# server that empties its environment before it forks its workers (nginx
# keeps only the variables its `env` directive names) still has its
# children publish in the parent's JMALLOC_STATS_DIR, which the allocator
# read at start (a child read it again at its first allocation: it found
# none and published in /dev/shm, where the daemon watching the parent's
# directory never looked). First a small program that clears its
# environment and forks three children, then, when installed, nginx with
# three worker processes under load (run as nobody, then as root with
# workers as nobody): jmstatd lists every child, `jmctl stats` and `jmctl
# sites` answer for one, no segment of theirs is in /dev/shm, and none is
# left once they have exited.
# timeout: 90
. "$(dirname "$0")/../lib.sh"
need_lib
need_jmctl
need_cmd python3

cat >"$JM_TMP/prefork.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void)
{
	char *volatile keep = malloc(1000); /* the parent publishes */
	clearenv();                        /* as nginx does before it forks */
	setenv("TZ", "UTC", 1);
	for (int i = 0; i < 3; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			/* A worker: buffers of its own, large and small. */
			for (int j = 0; j < 100; j++)
				free(malloc(j % 2 ? 100000 : 600));
			keep = malloc(200000);
			memset(keep, 1, 200000);
			printf("child %d\n", (int)getpid());
			fflush(stdout);
			pause();
			_exit(0);
		}
	}
	printf("ready\n");
	fflush(stdout);
	pause();
	return 0;
}
C
build_c "$JM_TMP/prefork" "$JM_TMP/prefork.c"
jmd_start

# Each child's segment is in the stats directory, none in /dev/shm, and the
# daemon lists it.
children_seen() {
	local what=$1 pid f
	shift
	for pid in "$@"; do
		wait_seen "$pid"
		# Made since the children started: a segment of an earlier process
		# of the same pid left in /dev/shm (2,400 of them there once, from
		# processes killed) is not theirs.
		f=$(jm_segment /dev/shm "$pid") && [ "$f" -nt "$JM_TMP/started" ] &&
			fail "$what: child $pid published $f, not in $JMD_STATS"
		jm_segment "$JMD_STATS" "$pid" >/dev/null || fail "$what: no segment of child $pid in $JMD_STATS"
	done
	"$JMCTL" --socket "$JMD_SOCK" stats "$1" >"$JM_TMP/stats.out" ||
		fail "$what: jmctl stats $1 failed: $(cat "$JM_TMP/stats.out")"
	"$JMCTL" --socket "$JMD_SOCK" sites "$1" >"$JM_TMP/sites.out" 2>&1 ||
		fail "$what: jmctl sites $1 failed: $(cat "$JM_TMP/sites.out")"
}

touch "$JM_TMP/started"
sleep 0.01   # a file made after it is newer, whatever the clock's grain
start_preloaded "$JM_TMP/prefork"
wait_line "$LAST_OUT" '^ready$'
for _ in $(seq 100); do
	[ "$(grep -c '^child' "$LAST_OUT")" = 3 ] && break
	sleep 0.1
done
kids=($(sed -n 's/^child //p' "$LAST_OUT"))
[ ${#kids[@]} = 3 ] || fail "the children did not start: $(cat "$LAST_OUT")"
children_seen "clearenv then fork" "${kids[@]}"
kill "${kids[@]}" "$LAST_PID"
ok "children forked after clearenv() publish in the parent's JMALLOC_STATS_DIR and jmstatd lists them"

# nginx, first as an unprivileged user (as in a container: its master
# keeps its uid for its workers), then as root, whose workers publish as
# root (initgroups allocates before setuid) and then run as nobody, nginx's
# default `user`: listed too, as root's processes. A worker cannot remove
# its root-owned file when it exits; jmstatd does, its process gone.
command -v nginx >/dev/null 2>&1 || skip "nginx is not installed (Debian: nginx-light): its part not run"
nobody_pub
JMALLOC_LIB=$P/$(basename "$JMALLOC_LIB")
chmod 755 "$JM_TMP"

run_nginx() {   # run_nginx DIR NAME [PREFIX...]
	local dir=$JM_TMP/$1 name=$2 port master workers w
	shift 2
	mkdir -p "$dir/html" "$dir/logs" "$dir/tmp"
	seq 1 20000 >"$dir/html/f.txt"
	chown -R 65534:65534 "$dir"
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >"$dir/nginx.conf" <<CONF
worker_processes 3; daemon off; error_log $dir/logs/error.log; pid $dir/nginx.pid;
events { worker_connections 256; }
http { access_log off; client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp;
  fastcgi_temp_path $dir/tmp; uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
  gzip on; gzip_min_length 100; gzip_types text/plain;
  server { listen 127.0.0.1:$port; root $dir/html; } }
CONF
	start_preloaded "$@" nginx -p "$dir" -c "$dir/nginx.conf"
	master=$LAST_PID
	for _ in $(seq 100); do
		workers=($(pgrep -P "$master")) || true
		[ ${#workers[@]} = 3 ] && break
		sleep 0.1
	done
	[ ${#workers[@]} = 3 ] || fail "$name: nginx did not start 3 workers: $(cat "$LAST_OUT" "$dir/logs/error.log")"
	python3 - "$port" <<'PY' || fail "$name: the clients failed"
import concurrent.futures, sys, urllib.request
def get(i):
    req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/f.txt")
    if i % 2: req.add_header("Accept-Encoding", "gzip")
    return len(urllib.request.urlopen(req).read())
with concurrent.futures.ThreadPoolExecutor(8) as ex:
    assert all(ex.map(get, range(200)))
PY
	for w in "${workers[@]}"; do
		[ "$(stat -c %u "/proc/$w")" = 65534 ] || fail "$name: worker $w does not run as nobody"
	done
	children_seen "$name" "${workers[@]}"
	kill -QUIT "$master"
	wait "$master" || fail "$name: nginx exited $?"
	for w in "${workers[@]}"; do
		for _ in $(seq 100); do
			jm_segment "$JMD_STATS" "$w" >/dev/null || break
			sleep 0.1
		done
		! jm_segment "$JMD_STATS" "$w" >/dev/null || fail "$name: worker $w's segment is still there 10 s after its exit"
	done
	ok "$name: its 3 workers publish in the master's JMALLOC_STATS_DIR, jmstatd lists them, their files go when they exit"
}

run_nginx nginx.nobody "nginx as nobody" "${NOBODY[@]}"
run_nginx nginx.root "nginx as root, workers as nobody"
