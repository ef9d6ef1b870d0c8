#!/usr/bin/env bash
# timeout: 60
# A stats directory the daemon cannot write (read-only for it: a
# --stats-dir outside its unit's ReadWritePaths=, a read-only volume): the
# files of killed processes cannot be removed. Each rescan found such a
# file again, read it, found its writer dead and failed to remove it: one
# "cannot remove" line per file and rescan, for ever. Now one line per
# file: five killed writers' files over two rescans and more, each named
# once; the dead are not listed, a live process is.
. "$(dirname "$0")/../lib.sh"
need_segments
unshare --mount true 2>/dev/null || skip "cannot make a mount namespace (unshare --mount)"
# The daemon in a mount namespace of its own where the stats directory is
# a read-only bind mount; the writers write it from outside.
cat >"$JM_TMP/rod" <<EOF
#!/bin/sh
exec unshare --mount sh -c 'mount --bind -o ro "\$0" "\$0" && exec "\$@"' "$JMD_STATS" "$JMSTATD" "\$@"
EOF
chmod +x "$JM_TMP/rod"
JMSTATD=$JM_TMP/rod jmd_start
pids=()
for i in 1 2 3 4 5; do
	start_preloaded "$(command -v sleep)" 600
	pids+=("$LAST_PID")
done
# The live one started before the kills: a preloaded program's start
# removes dead writers' files it comes across.
start_preloaded "$(command -v sleep)" 600
LIVE=$LAST_PID
for p in "${pids[@]}" "$LIVE"; do wait_seen "$p"; done
kill -KILL "${pids[@]}"
export LIVE PIDS_DEAD="${pids[*]}"
jmd_py - <<'PY' || fail "a read-only stats directory"
from jmd import *
dead = [int(p) for p in os.environ["PIDS_DEAD"].split()]
left = [f for f in os.listdir(STATS_DIR) if any(".%d." % p in f for p in dead)]
check(len(left) == 5, "the killed writers' files: %r" % os.listdir(STATS_DIR))
t0 = request({"cmd": "version"})["time"]
wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + 25 * INTERVAL_MS / 1000.0,
           "25 ticks (two rescans)")
ps = ps_pids()
check(int(os.environ["LIVE"]) in ps and not set(dead) & set(ps), "ps: %r" % sorted(ps))
log = open(os.path.join(os.environ["JM_TMP"], "jmstatd.log")).read().splitlines()
lines = [l for l in log if "cannot remove" in l]
named = [f for f in left if any(f in l for l in lines)]
check(len(named) == 5, "not every unremovable file named: %r" % lines)
check(len(lines) == 5, "%d lines for 5 files that cannot be removed:\n%s" % (len(lines), "\n".join(lines)))
print("5 unremovable files, 5 lines over %d ticks" % 25)
PY
jmd_stop
echo "ok"
