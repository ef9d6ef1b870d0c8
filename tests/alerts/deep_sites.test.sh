#!/usr/bin/env bash
# timeout: 60
# `jmctl alerts` names the sites behind an alert with enough frames to
# tell them apart: tests/helpers/sites_deep fragments the 192-byte bin
# from two call stacks alike in their five innermost frames (deep_leaf <
# deep_4 < ... < deep_1) that differ only in the sixth (path_a, path_b); a
# sparse_bin alert fires for that bin, and its two "held by" lines go on
# to path_a and path_b (three frames, the usual count, would read alike).
. "$(dirname "$0")/../lib.sh"
need_segments
[ -x "$JM_HELPERS/sites_deep" ] || skip "build/tests/helpers/sites_deep is not built"

printf '[rule sparse]\nkind = sparse_bin\nutil_below = 50%%\nmin_held = 4MiB\nexe = sites_deep\n' \
	>"$JM_TMP/rules.conf"
jmd_start --config "$JM_TMP/rules.conf"
JMALLOC_CONF=prof_sample:65536 JMALLOC_STATS_DIR=$JMD_STATS LD_PRELOAD=$JMALLOC_LIB \
	"$JM_HELPERS/sites_deep" >"$JM_TMP/deep.out" 2>&1 &
DEEP=$!
for _ in $(seq 100); do grep -q '^ready' "$JM_TMP/deep.out" && break; sleep 0.1; done
grep -q '^ready' "$JM_TMP/deep.out" || fail "sites_deep did not start"
for _ in $(seq 100); do
	"$JMCTL" --socket "$JMD_SOCK" alerts >"$JM_TMP/alerts.txt" 2>"$JM_TMP/alerts.err"
	grep -q 'held by: .*path_a' "$JM_TMP/alerts.txt" && grep -q 'held by: .*path_b' "$JM_TMP/alerts.txt" && break
	sleep 0.1
done
cat "$JM_TMP/alerts.txt"
grep -q "^[0-9]* *firing  *sparse  *$DEEP " "$JM_TMP/alerts.txt" || fail "no sparse alert firing for sites_deep"
a=$(grep 'held by: .*path_a' "$JM_TMP/alerts.txt" | head -n 1)
b=$(grep 'held by: .*path_b' "$JM_TMP/alerts.txt" | head -n 1)
[ -n "$a" ] && [ -n "$b" ] || fail "the two sites are not told apart by their frames"
case "$a" in *"deep_leaf (sites_deep.c:"*"< deep_1 < path_a"*) ;; *) fail "path_a's line: $a" ;; esac
case "$b" in *"deep_leaf (sites_deep.c:"*"< deep_1 < path_b"*) ;; *) fail "path_b's line: $b" ;; esac
kill "$DEEP"
wait "$DEEP" 2>/dev/null
jmd_stop
echo "ok"
