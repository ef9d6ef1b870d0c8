#!/usr/bin/env bash
# What the allocator touches at start, which every short program pays in
# page faults and RSS (docs/allocator.md, "Start-up"): checked by layout
# and by the pages a small preloaded program has resident, never by time.
# - The library's small variables share two pages: its large zeroed
#   arrays (the radix tree's root), and those most processes never touch,
#   are in .lbss, after them; .data and .bss span at most 2 pages, and
#   .bss starts on the page where .data ends, which the loader writes (it
#   zeroes the start of .bss there), so that it costs no fault (.data,
#   with the size-class tables written at initialisation, may start a
#   page before: the locks a fork takes then share one page), and
#   jm__initialized, read at every
#   allocator call before it is first written (a read of a fresh page maps
#   the zero page, a fault, and the write faults again), is on it. The
#   chunk map's pointer and length, which every free() reads (free(NULL)
#   before the first allocation too), are among the small variables, not
#   in .lbss; the map itself is mapped with the first chunk (rtree.c).
# - Starting, publishing its segment and exiting, the allocator calls none
#   of libc's formatting, number parsing or getpid (each a page of libc's
#   text the program itself may never fault in): a library preloaded ahead
#   of it defines them, and a call ends the program with status 3.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd readelf nm awk cc

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
data_at=$(addr_of .data)
map_len=$(sym jm__chunk_map_len)
map=$(sym jm__chunk_map)
initialized=$(sym jm__initialized)
[ -n "$map_len" ] && [ -n "$map" ] && [ -n "$initialized" ] || fail "no symbol table in $JMALLOC_LIB (stripped?)"
for v in "$map_len" "$map"; do
	[ "$v" -ge "$bss_at" ] && [ "$v" -lt $((bss_at + bss)) ] ||
		fail "the chunk map's pointer or length is not in .bss (every free reads them)"
done
pages=$(( ((bss_at + bss - 1) >> 12) - (data_at >> 12) + 1 ))
[ "$pages" -le 2 ] || fail ".data and .bss span $pages pages: more than 2 of small variables"
data=$(size_of .data)
[ $((bss_at >> 12)) -eq $(((data_at + data - 1) >> 12)) ] ||
	fail ".bss does not start on the page where .data ends (the page the loader writes)"
[ $((initialized >> 12)) -eq $((bss_at >> 12)) ] ||
	fail "jm__initialized is not on the page the loader writes"
ok ".data and .bss on $pages pages, .lbss $lbss bytes, the chunk map's pointer and length in .bss"

cd "$JM_TMP"
cat >shim.c <<'C'
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>
static void called(const char *what)
{
	write(2, what, __builtin_strlen(what));
	write(2, " called\n", 8);
	_exit(3);
}
int vsnprintf(char *s, size_t n, const char *f, va_list ap) { (void)s; (void)n; (void)f; (void)ap; called("vsnprintf"); return 0; }
int snprintf(char *s, size_t n, const char *f, ...) { (void)s; (void)n; (void)f; called("snprintf"); return 0; }
int sprintf(char *s, const char *f, ...) { (void)s; (void)f; called("sprintf"); return 0; }
unsigned long long strtoull(const char *s, char **e, int b) { (void)s; (void)e; (void)b; called("strtoull"); return 0; }
unsigned long strtoul(const char *s, char **e, int b) { (void)s; (void)e; (void)b; called("strtoul"); return 0; }
pid_t getpid(void) { called("getpid"); return 0; }
C
cat >small.c <<'C'
#include <stdlib.h>
#include <unistd.h>
int main(void)
{
	char *volatile p = malloc(100);   /* volatile: not elided */
	p[0] = 1;
	free(p);
	write(1, "ok\n", 3);
	return 0;
}
C
# Defined with glibc's version, which the allocator's references name.
printf 'GLIBC_2.2.5 { global: getpid; strtoull; strtoul; vsnprintf; snprintf; sprintf; local: *; };\n' >shim.map
build_c shim.so shim.c -shared -fPIC -Wl,--version-script=shim.map
build_c small small.c
mkdir -p shm
for conf in "" "prof_sample:1"; do
	JMALLOC_CONF=$conf JMALLOC_STATS_DIR=$JM_TMP/shm LD_PRELOAD="$JM_TMP/shim.so $JMALLOC_LIB" ./small >out 2>err ||
		fail "JMALLOC_CONF=$conf: exit $?: $(cat err)"
	grep -qx ok out || fail "JMALLOC_CONF=$conf: no output"
done
ok "no libc formatting, parsing or getpid at start and exit"
