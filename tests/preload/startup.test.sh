#!/usr/bin/env bash
# What the allocator touches at start, which every short program pays in
# page faults and RSS (docs/allocator.md, "Start-up"): checked by layout
# and by the pages a small preloaded program has resident, never by time.
# - The library's small variables share a few pages: its large zeroed
#   arrays (the chunk bitmap, the radix tree's root) are in .lbss, after
#   them, and .bss is at most 3 pages; the chunk bitmap starts on .bss's
#   last page (free(NULL) reads its first word: on a page of its own, that
#   was a page fault of every program), and arena_threads, whose first
#   words are written at the first malloc, is in .bss.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd readelf nm awk

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
addr_of() {   # addr_of SECTION: its address
	local hex
	hex=$(echo "$sections" | awk -v s="$1" '{ for (i = 1; i < NF; i++) if ($i == s) { print $(i + 2); exit } }')
	echo $((16#$hex))
}
sym() {       # sym NAME: the address of a symbol of the library, or nothing
	local hex
	hex=$(nm "$JMALLOC_LIB" | awk -v n="$1" '$3 == n { print $1; exit }')
	[ -n "$hex" ] && echo $((16#$hex))
}
bss_at=$(addr_of .bss)
bits=$(sym jm__chunk_bits)
threads=$(sym arena_threads)
[ -n "$bits" ] && [ -n "$threads" ] || fail "no symbol table in $JMALLOC_LIB (stripped?)"
[ $((bits >> 12)) -eq $(((bss_at + bss - 1) >> 12)) ] ||
	fail "jm__chunk_bits starts on a page of its own (free(NULL) faults it in)"
[ "$threads" -ge "$bss_at" ] && [ "$threads" -lt $((bss_at + bss)) ] ||
	fail "arena_threads is not in .bss"
ok ".bss $bss bytes, .lbss $lbss bytes, the chunk bitmap from .bss's last page"
