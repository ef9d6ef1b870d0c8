#!/usr/bin/env bash
# timeout: 150
# A container's stats directory on an overlay whose lower layer is a FUSE
# file system whose server stops answering. A user with /dev/fuse (mode
# 0666 on most distributions) needs nothing else: in a user and mount
# namespace of their own they mount FUSE (FS_USERNS_MOUNT) and an overlay
# over it on the stats directory's path. The daemon's thread asks the
# directory's file system (statfs) and refuses FUSE and network file
# systems (tests/containers/fuse_dir.test.sh), but this one says overlay;
# the overlay reaches its layers with its mounter's credentials, which
# the FUSE mount lets in (the daemon itself it keeps out: EACCES), so the
# loop's readdir of the directory asked the user's server, and the
# whole daemon hung in it, deaf to every client and to SIGTERM, for as
# long as the server held it. Now an overlay in a mount namespace of a
# user namespace other than the daemon's (one mounted there) is refused
# as FUSE is: not read, one line.
#
# Here nobody opens a node of /dev/fuse made for the test (this host's is
# root's only), as it would /dev/fuse where that is 0666.
. "$(dirname "$0")/../lib.sh"
need_segments
[ "$(id -u)" -eq 0 ] || skip "needs root to make a node of /dev/fuse"
[ -c /dev/fuse ] && grep -qw fuse /proc/filesystems || skip "no FUSE (/dev/fuse, fuse in /proc/filesystems)"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
grep -qw overlay /proc/filesystems || skip "no overlay file system"
command -v setpriv >/dev/null || skip "needs setpriv (nobody's container)"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
"${NOBODY[@]}" unshare --user --map-root-user --mount true 2>/dev/null ||
	skip "unprivileged user namespaces are off here"
chmod 755 "$JM_TMP"
mknod -m 666 "$JM_TMP/fuse" c 10 229 || skip "cannot make a node of /dev/fuse here"
"${NOBODY[@]}" sh -c ': <>"$1"' sh "$JM_TMP/fuse" 2>/dev/null || skip "nobody cannot open a node of /dev/fuse here"
mkdir -m 755 "$JM_TMP/work"
chown 65534 "$JM_TMP/work"
jmd_start
"${NOBODY[@]}" unshare --user --map-root-user --mount \
	python3 "$JM_ROOT/tests/containers/ovlfuse.py" "$JM_TMP/fuse" "$JMD_STATS" "$JM_TMP/work" \
	>"$JM_TMP/fuse.out" 2>&1 &
FUSE_HOLDER=$!
PIDS+=("$FUSE_HOLDER")
fuse_wait "cannot mount FUSE and an overlay as nobody here"
jmd_py - <<'PY' || { kill "$FUSE_HOLDER"; fail "a container's overlay over FUSE"; }
from jmd import *
# Three rescans (every 10 ticks), each a walk of the mount namespaces.
worst = answers_throughout(35, "a container's overlay over a FUSE server that does not answer")
print("a container's stats directory on an overlay over FUSE, for 35 ticks: the daemon "
      "answered throughout, worst version %.1f ms" % (worst * 1000))
PY
grep -q "not read: .*overlay" "$JMD_LOG" || fail "no log line for the container's overlay"
fuse_stop_daemon
ok "a container's overlay over FUSE: not read, the daemon answered throughout and stopped"
