#!/usr/bin/env bash
# timeout: 60
# Where root's `jmctl sites PID --pprof FILE` writes: into /tmp, say, where
# another user may have planted FILE first. A symlink of nobody's to a file
# of root's made jmctl overwrite that file with the profile (on a host
# whose kernel does not protect symlinks in sticky directories, as this
# one may not), and so did a hard link. Now jmctl creates FILE without
# following a symlink, follows only its own or root's, and overwrites only
# its own regular file with no other link; a refusal says why and what to
# do, exits 1, and leaves the file as it was.
. "$(dirname "$0")/../lib.sh"
need_segments
need_jmctl
[ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null || skip "needs root and setpriv (nobody's files)"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
jmd_start
JMALLOC_CONF=prof_sample:4096 start_preloaded sleep 600
PID=$LAST_PID
wait_seen "$PID"

T=$JM_TMP/sticky
mkdir -m 1777 "$T"
echo secret >"$JM_TMP/victim"
pprof_to() { "$JMCTL" --socket "$JMD_SOCK" sites "$PID" --pprof "$1" 2>"$JM_TMP/err"; }
unchanged() { [ "$(cat "$JM_TMP/victim")" = secret ] || fail "$1: root's file was overwritten"; }

"${NOBODY[@]}" ln -s "$JM_TMP/victim" "$T/link.pb.gz"
pprof_to "$T/link.pb.gz" && fail "jmctl wrote through nobody's symlink"
unchanged "nobody's symlink"
grep -q "symlink of uid 65534: refusing" "$JM_TMP/err" || fail "no reason given: $(cat "$JM_TMP/err")"
ok "nobody's symlink refused"

"${NOBODY[@]}" sh -c 'echo theirs >"$1"' sh "$T/theirs.pb.gz"
pprof_to "$T/theirs.pb.gz" && fail "jmctl overwrote nobody's file"
grep -q "uid 65534's file: refusing" "$JM_TMP/err" || fail "no reason given: $(cat "$JM_TMP/err")"
ok "nobody's file refused"

ln "$JM_TMP/victim" "$T/hard.pb.gz"
pprof_to "$T/hard.pb.gz" && fail "jmctl wrote through a hard link"
unchanged "a hard link"
grep -q "has 2 links: refusing" "$JM_TMP/err" || fail "no reason given: $(cat "$JM_TMP/err")"
ok "a hard link refused"

# Root's own paths: a new file, its own file again, its own symlink.
pprof_to "$T/new.pb.gz" || fail "a new file: $(cat "$JM_TMP/err")"
pprof_to "$T/new.pb.gz" || fail "root's own file again: $(cat "$JM_TMP/err")"
ln -s "$T/new.pb.gz" "$T/mine.pb.gz"
pprof_to "$T/mine.pb.gz" || fail "root's own symlink: $(cat "$JM_TMP/err")"
[ "$(head -c 2 "$T/new.pb.gz" | od -An -tx1 | tr -d ' ')" = 1f8b ] || fail "no gzip profile written"
ok "root's own paths written"
