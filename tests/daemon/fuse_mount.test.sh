#!/usr/bin/env bash
# timeout: 120
# A FUSE file system mounted on a file named as a segment in the stats
# directory, whose server never answers: a user can do that in the sticky
# /dev/shm with fusermount (a file of theirs as the mount point), and root
# may look into it where /etc/fuse.conf has user_allow_other (allow_other
# here). The daemon's fstat of the name asked the server and hung in D
# state for as long as it held the mount, answering nobody (113 s here,
# until the server went). Now a name is opened without crossing a mount
# (RESOLVE_NO_XDEV): it is skipped, and the daemon answers throughout.
# The mount is made (as root, with a raw /dev/fuse, no fusermount needed)
# in the daemon's own mount namespace, which goes with it.
. "$(dirname "$0")/../lib.sh"
need_segments
[ "$(id -u)" -eq 0 ] || skip "needs root to mount a FUSE file system"
[ -c /dev/fuse ] && grep -qw fuse /proc/filesystems || skip "no FUSE (/dev/fuse, fuse in /proc/filesystems)"
command -v nsenter >/dev/null || skip "nsenter (util-linux) not installed"
unshare --mount true 2>/dev/null || skip "cannot make a mount namespace (unshare --mount)"
printf '#!/bin/sh\nexec unshare --mount --propagation private "%s" "$@"\n' "$JMSTATD" >"$JM_TMP/mntns"
chmod +x "$JM_TMP/mntns"
JMSTATD=$JM_TMP/mntns jmd_start
sleep 600 &
VICTIM=$!
PIDS+=("$VICTIM")
name=$(jm_segment_name "$VICTIM")
: >"$JMD_STATS/$name"
fuse_hold "$JMD_STATS/$name" 100000 nsenter --mount="/proc/$JMD_PID/ns/mnt"
export NAME=$name
jmd_py - <<'PY' || fail "a FUSE mount under a segment's name"
from jmd import *
# Three rescans (every 10 ticks) and the inotify events of the mount.
worst = answers_throughout(35, "the FUSE mount", request({"cmd": "version"})["time"])
check(os.environ["NAME"] not in str(request({"cmd": "ps"})), "the mount point shown in ps")
print("a FUSE mount under %s for 35 ticks (3 rescans): the daemon answered throughout, "
      "worst version %.1f ms" % (os.environ["NAME"], worst * 1000))
PY
kill $FUSE_HOLDER $VICTIM 2>/dev/null
wait $FUSE_HOLDER 2>/dev/null
jmd_stop
echo "ok"
