#!/usr/bin/env bash
# timeout: 120
# A container whose stats directory is a FUSE file system whose server
# never answers. An unprivileged user can make one: where /etc/fuse.conf
# has user_allow_other, fusermount mounts their server with allow_other
# (so root may look in), and in a user and mount namespace of their own
# they bind that mount on /dev/shm; the daemon reaches it through
# /proc/PID/root when it walks the mount namespaces. Its open of the
# directory asked the server and hung, the whole daemon with it, for as
# long as the server held it. Now the directory is opened off the loop,
# by a thread (dirs.c) that then refuses a FUSE or network file system
# (statfs), and the daemon answers throughout: the directory is not read,
# with one log line. Here the mount is made as root with a raw /dev/fuse
# (no fusermount needed), allow_other, in a mount namespace of its own;
# the daemon is stopped (SIGTERM) while the server still holds it (but
# for a sanitized daemon: fuse_stop_daemon in tests/lib.sh).
. "$(dirname "$0")/../lib.sh"
need_segments
[ "$(id -u)" -eq 0 ] || skip "needs root to mount a FUSE file system"
[ -c /dev/fuse ] && grep -qw fuse /proc/filesystems || skip "no FUSE (/dev/fuse, fuse in /proc/filesystems)"
unshare --mount true 2>/dev/null || skip "cannot make a mount namespace (unshare --mount)"
jmd_start
fuse_hold "$JMD_STATS" 40000 unshare --mount --propagation private
jmd_py - <<'PY' || fail "a container's FUSE stats directory"
from jmd import *
# Three rescans (every 10 ticks), each a walk of the mount namespaces.
worst = answers_throughout(35, "the container's FUSE directory")
print("a container's stats directory on a FUSE mount that never answers, for 35 ticks: "
      "the daemon answered throughout, worst version %.1f ms" % (worst * 1000))
PY
grep -q "not read: .*fuse\|has not opened" "$JMD_LOG" || fail "no log line for the container's FUSE directory"
grep "mnt:\[" "$JMD_LOG" | head -3
fuse_stop_daemon
ok "a container's FUSE stats directory: not read, the daemon answered throughout and stopped"
