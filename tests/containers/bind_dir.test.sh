#!/usr/bin/env bash
# timeout: 120
# A user's container is a mount namespace of theirs, and what it holds at
# the stats directory's path is what they bind there: any directory they
# can look up, among them another user's or root's that they cannot
# write. The daemon reads it as their container's directory, and removed
# there (with its CAP_FOWNER) the files of dead writers and the files
# under segments' names that are no segment: nobody had root's files
# removed from a root-owned directory of mode 0755 (a dead process's
# 0600 segment, and bytes named as a dead pid's). Now files are removed
# only in a directory of the namespace's owner's own (theirs, or a
# subordinate uid's): all of whose files they may remove themselves, or
# in one that a namespace of root's reaches too (then its container's).
. "$(dirname "$0")/../lib.sh"
need_unshare
need_segments
command -v setpriv >/dev/null || skip "needs setpriv (nobody's containers)"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
"${NOBODY[@]}" unshare --user --map-root-user --mount true 2>/dev/null ||
	skip "unprivileged user namespaces are off here"
cd "$JM_TMP"
chmod 755 "$JM_TMP"
# dead_files DIR [AS...]: a dead writer's segment and bytes named as a
# dead pid's, written by AS (root without).
dead_files() {
	local dir=$1
	shift
	sh -c 'exit 0' &
	local d=$!
	wait "$d"
	"$@" sleep 300 &
	local q=$!
	"$@" sh -c '"$1"/stress_segwriter write "$2" "$3" "$(id -u)" frag >/dev/null' sh \
		"$JM_HELPERS" "$dir/jmalloc.$q.stats" "$q" ||
		fail "cannot write a segment for $q"
	kill "$q"
	wait "$q" 2>/dev/null
	"$@" sh -c 'echo junk >"$1"' sh "$dir/jmalloc.$d.stats"
}
ROOTS=$JM_TMP/roots         # root's, 0755: nobody may not write it
mkdir -m 755 "$ROOTS"
dead_files "$ROOTS"
MINE=$JM_TMP/mine           # nobody's own
mkdir -m 755 "$MINE"
chown 65534 "$MINE"
dead_files "$MINE" "${NOBODY[@]}"
jmd_start
for dir in "$ROOTS" "$MINE"; do
	"${NOBODY[@]}" unshare --user --map-root-user --mount sh -c \
		'mount --bind "$1" "$2" && exec sleep 600' sh "$dir" "$JMD_STATS" &
	PIDS+=("$!")
done
# nobody's own directory: its dead files go, as in a tmpfs of theirs.
for _ in $(seq 300); do [ -z "$(ls "$MINE")" ] && break; sleep 0.1; done
[ -z "$(ls "$MINE")" ] || fail "dead files left in nobody's own directory: $(ls -l "$MINE")"
# root's: the daemon judged them (a line either way), and they stay.
wait_line "$JMD_LOG" "not removing .*jmalloc.*its process is gone\|removed .*jmalloc.*its process is gone.*\|removed .*: not a segment"
n=$(ls "$ROOTS" | wc -l)
[ "$n" = 2 ] || fail "root's files removed through nobody's container: $n of 2 left; $(grep removed "$JMD_LOG")"
ok "root's files kept in root's directory bound into nobody's container; nobody's own removed"
# A namespace of root's reaching the same directory (a host directory
# root's containers share) makes it that container's: nobody's reaching
# it first does not keep root's dead files there for ever.
unshare --mount sh -c 'mount --bind "$1" "$2" && exec sleep 600' sh "$ROOTS" "$JMD_STATS" &
PIDS+=("$!")
for _ in $(seq 300); do [ -z "$(ls "$ROOTS")" ] && break; sleep 0.1; done
[ -z "$(ls "$ROOTS")" ] || fail "root's dead files kept in a directory of root's namespace: $(ls -l "$ROOTS")"
ok "root's dead files removed once a namespace of root's reaches the directory"
jmd_stop
echo "ok"
