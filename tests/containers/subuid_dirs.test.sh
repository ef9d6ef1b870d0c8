#!/usr/bin/env bash
# timeout: 120
# Containers' directories per user (owned.test.sh: 64 of one uid's
# namespaces read at most) with subordinate uids: 70 rootless containers
# (unshare --user --map-root-user --mount, a tmpfs on the stats
# directory), each made by another uid of nobody's subordinate range
# (--subuid-file). Each uid had its own 64: all 70 were read (an fd and
# an inotify watch each; 65,536 uids, 4 million). Now they are nobody's:
# 64 read, and the log names nobody's limit.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_users "make containers as other uids"
setpriv --reuid=200000 --regid=200000 --clear-groups unshare --user --map-root-user --mount true \
	2>/dev/null || skip "unprivileged user namespaces are off here"
printf 'nobody:200000:65536\n' >"$JM_TMP/subuid"
jmd_start --verbose --subuid-file "$JM_TMP/subuid"
N=70
for i in $(seq 1 $N); do
	setpriv --reuid=$((200000 + i)) --regid=$((200000 + i)) --clear-groups \
		unshare --user --map-root-user --mount sh -c \
		'mount -t tmpfs -o mode=1777 sub "$1" && exec sleep 600' sh "$JMD_STATS" &
	PIDS+=($!)
done
for _ in $(seq 1 300); do
	[ "$(ps -eo uid=,comm= | awk '$1 > 200000 && $2 == "sleep"' | wc -l)" -ge $N ] && break
	sleep 0.1
done
jmd_py - <<'PY' || fail "two rescans"
from jmd import *
t = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t + 25 * INTERVAL_MS / 1000.0,
           "two rescans")
PY
n=$(dir_lines read)
echo "directories read: $n for $N containers of $N subordinate uids of nobody's"
[ "$n" -le 64 ] || fail "$n of the containers' directories read"
grep -q "uid 65534 owns 64 containers" "$JMD_LOG" || fail "no line about nobody's limit"
jmd_stop
echo "ok"
