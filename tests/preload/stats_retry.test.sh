#!/usr/bin/env bash
# timeout: 150
# A process started while its stats directory is full (any user may fill
# it: a tmpfs with no block left, ENOSPC) publishes its segment once the
# space comes back, and so does a child it forked meanwhile: each tries
# again at its thread cache's GC, 1, 2, 4 ... 64 s apart, 32 times at
# most (liballoc/stats.c, jm__stats_retry), with the counts it kept
# privately (tests/helpers/stats_retry.c holds 5,000 regions before and
# finds them in its published bin rows), in one line more each ("published
# the stats segment ... at try N"). Before, neither ever published. A
# directory that stays full costs no line more than the first. A process
# of one thread only (background_thread:0 here: the purger is a thread).
# Needs a mount namespace.
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/stats_retry
[ -x "$helper" ] || fail "$helper is not built"
unshare --mount true 2>/dev/null || skip "cannot make a mount namespace (unshare --mount)"
dir=$JM_TMP/full
mkdir -p "$dir"
run() {   # FILL-argument: the helper on a full 1 MiB tmpfs
	unshare --mount sh -c 'mount -t tmpfs -o size=1m none "$1" &&
		{ dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null; true; } && shift && exec "$@"' sh \
		"$dir" env JMALLOC_STATS_DIR="$dir" JMALLOC_CONF=background_thread:0 \
		LD_PRELOAD="$JMALLOC_LIB" "$helper" "$dir" "$1" >"$JM_TMP/out" 2>"$JM_TMP/err"
}
run "$dir/fill" || { cat "$JM_TMP/out" "$JM_TMP/err"; fail "stats_retry failed"; }
cat "$JM_TMP/out" "$JM_TMP/err"
grep -q '^ok parent [0-9]' "$JM_TMP/out" || fail "the parent did not publish"
grep -q '^child [0-9]' "$JM_TMP/out" || fail "the child did not publish"
n=$(grep -c 'cannot create the stats segment .* is full (no space left' "$JM_TMP/err" || true)
[ "$n" -eq 1 ] || fail "$n lines of the full directory, for one start"
n=$(grep -c 'stats_retry: published the stats segment .* at try [0-9]*: the stats directory has room again$' "$JM_TMP/err" || true)
[ "$n" -eq 2 ] || fail "$n lines of a publication, for a parent and its child"
[ "$(grep -c . "$JM_TMP/err")" -eq 3 ] || fail "lines more than expected"
ok "a process started on a full stats directory, and its child, publish once it has room: $(tr '\n' ' ' <"$JM_TMP/out")"

run - || { cat "$JM_TMP/out" "$JM_TMP/err"; fail "stats_retry on a directory that stays full failed"; }
cat "$JM_TMP/out" "$JM_TMP/err"
grep -q '^ok unpublished$' "$JM_TMP/out" || fail "published on a full directory?"
[ "$(grep -c . "$JM_TMP/err")" -eq 1 ] || fail "more than the one line on a directory that stays full"
ok "a directory that stays full: its one line, retries silent"
