#!/usr/bin/env bash
# What the allocator touches at start, which every short program pays in
# page faults and RSS (docs/allocator.md, "Start-up"): checked by layout
# and by the pages a small preloaded program has resident, never by time.
# - The library's small variables share a few pages: its large zeroed
#   arrays (the chunk bitmap, the radix tree's root, the unwinder's cache)
#   are in .lbss, after them, and .bss is at most 3 pages.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd readelf awk

sections=$(readelf -SW "$JMALLOC_LIB")
size_of() {   # size_of SECTION: its size in bytes, or nothing
	local hex
	hex=$(echo "$sections" | awk -v s="$1" '{ for (i = 1; i < NF; i++) if ($i == s) { print $(i + 4); exit } }')
	[ -n "$hex" ] && echo $((16#$hex))
}
bss=$(size_of .bss)
lbss=$(size_of .lbss)
[ -n "$bss" ] || fail "no .bss in $JMALLOC_LIB"
[ -n "$lbss" ] || fail "no .lbss in $JMALLOC_LIB: the large arrays are among the small variables"
[ "$bss" -le $((3 * 4096)) ] || fail ".bss is $bss bytes: more than 3 pages of small variables"
[ "$lbss" -ge $((8 << 20)) ] || fail ".lbss is $lbss bytes: the chunk bitmap (8 MiB) is not there"
ok ".bss $bss bytes, .lbss $lbss bytes"
