#!/usr/bin/env bash
# The thp option: the transparent-huge-page advice of the allocator's
# mappings, read from the mappings' VmFlags (tests/helpers/thp_flags.c;
# "nh" MADV_NOHUGEPAGE, "hg" MADV_HUGEPAGE), whatever the kernel's mode:
# - auto (the default): a chunk and the first huge regions "nh", the
#   huge regions mapped once 32 MiB of chunks and huge regions were
#   (the 4 MiB blocks from the sixth, by their room) left to the kernel;
# - never: every one "nh"; default: none advised; always: every one "hg".
# Before, no mapping was advised: under the kernel's `always` mode a
# program of a few allocations held two huge pages (docs/allocator.md,
# "Transparent huge pages").
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/thp_flags
[ -x "$helper" ] || fail "$helper is not built"
flags() {   # flags CONF: the helper's lines on one line
	JMALLOC_CONF=$1 JMALLOC_STATS_DIR=$JM_TMP LD_PRELOAD=$JMALLOC_LIB "$helper" >"$JM_TMP/out" 2>&1 ||
		{ cat "$JM_TMP/out"; fail "thp_flags under '$1' exited $?"; }
	tr '\n' ' ' <"$JM_TMP/out"
}

out=$(flags "")
echo "auto: $out"
[[ $out == "small nh huge 0 nh "* ]] || fail "auto: a chunk or the first huge region not advised nohugepage: $out"
n_nh=$(grep -o ' nh' <<<"$out" | wc -l)
[[ $out == *"huge 11 - " ]] || fail "auto: the last huge region (past 32 MiB) still advised: $out"
[ "$n_nh" -ge 3 ] && [ "$n_nh" -le 9 ] || fail "auto: $n_nh mappings advised nohugepage, expected those of the first 32 MiB: $out"

out=$(flags thp:never)
echo "never: $out"
[ "$(grep -o ' nh' <<<"$out" | wc -l)" = 13 ] || fail "never: not every mapping advised nohugepage: $out"
out=$(flags thp:default)
echo "default: $out"
[ "$(grep -o ' - ' <<<"$out" | wc -l)" = 13 ] || fail "default: a mapping advised: $out"
out=$(flags thp:always)
echo "always: $out"
[ "$(grep -o ' hg' <<<"$out" | wc -l)" = 13 ] || fail "always: not every mapping advised hugepage: $out"

JMALLOC_CONF=thp:sometimes LD_PRELOAD=$JMALLOC_LIB "$helper" >"$JM_TMP/out" 2>"$JM_TMP/err" ||
	fail "thp:sometimes: exit $?"
grep -q "bad value 'sometimes' for 'thp' (auto, never, default or always)" "$JM_TMP/err" ||
	fail "thp:sometimes: no warning: $(cat "$JM_TMP/err")"
head -n 1 "$JM_TMP/out" | grep -qx 'small nh' || fail "thp:sometimes: not the default after the warning: $(cat "$JM_TMP/out")"
ok "thp: auto, never, default and always advise as documented; a bad value warns"
