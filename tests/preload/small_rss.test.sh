#!/usr/bin/env bash
# What a small process pays in resident memory (docs/allocator.md, "What
# a small process pays"), judged by pages, never by time: the helper
# reads its own /proc/self/smaps (the page tables, exact: ru_maxrss and
# VmHWM are the kernel's per-CPU counters, off by up to 31 pages each),
# the same program without the allocator (glibc's malloc) beside it.
# - small: a few objects of 12 sizes and a second thread: the allocator's
#   fixed cost, measured 128-136 KiB of anonymous pages above glibc's
#   (the chunk map's page, two chunk headers of 2 pages, a page or two per
#   size class where glibc packs them, two arenas and two caches of base
#   memory, the arenas' lock area's page, the library's data) and 16 KiB
#   of its segment (header, thread rows, two arenas' bin rows);
# - phases: glibc-simple's pattern, 1600 objects of 16, 64, 256 bytes,
#   then 1 KiB: the growth to the 1 KiB phase was 2508 KiB against
#   glibc's 1640 while the thread's lists of the three sizes before held
#   their 1600 regions each, 2044 since a heap that grows flushes the
#   lists that serve nothing (tcache.c, sweep_idle).
# The heap profile's sampled allocations (a page each, drawn at random)
# and the background purger are off: each process would differ. Under the
# kernel's `always` mode of transparent huge pages as under the others: a
# small heap's mappings are advised against them (thp:auto; the test
# skipped there before).
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/small_rss
[ -x "$helper" ] || fail "$helper is not built"
mkdir -p "$JM_TMP/shm"
run() {   # run MODE [PRELOAD]: "ANON SEGMENT" in KiB
	JMALLOC_CONF=prof_sample:0,background_thread:0 JMALLOC_STATS_DIR=$JM_TMP/shm \
		LD_PRELOAD=${2:-} "$helper" "$1" || fail "small_rss $1 ${2:+under $2 }exited $?"
}
read -r g_anon _ <<<"$(run small)"
read -r j_anon j_seg <<<"$(run small "$JMALLOC_LIB")"
echo "small: anonymous $j_anon KiB (glibc $g_anon), segment $j_seg KiB"
[ "$j_seg" -gt 0 ] || fail "no segment resident: the allocator was not preloaded"
read -r g_grow _ <<<"$(run phases)"
read -r j_grow _ <<<"$(run phases "$JMALLOC_LIB")"
echo "phases: grew by $j_grow KiB (glibc $g_grow)"
if [ -n "${JM_SANITIZED:-}" ]; then
	ok "not judged under a sanitizer (JM_SANITIZED=$JM_SANITIZED)"
	exit 0
fi
[ $((j_anon - g_anon)) -le 144 ] ||
	fail "small: $((j_anon - g_anon)) KiB of anonymous pages above glibc's, more than 144 (128-136 measured)"
[ "$j_seg" -le 16 ] || fail "small: $j_seg KiB of the segment resident, more than 16 (4 pages)"
[ $((j_grow - g_grow)) -le 512 ] ||
	fail "phases: grew by $((j_grow - g_grow)) KiB more than glibc, more than 512 (404 measured; 868 when idle lists kept their regions)"
ok "small: $((j_anon - g_anon)) KiB above glibc and $j_seg KiB of segment; phases: $((j_grow - g_grow)) KiB above glibc"
