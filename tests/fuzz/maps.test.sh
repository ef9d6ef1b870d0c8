#!/usr/bin/env bash
# The libFuzzer target of jmctl's symbolizer input path (tests/fuzz/
# maps_fuzz.c): /proc/PID/maps text through jmctl/symbolize.c's parser,
# its modules reported to libdwfl and looked up, and the daemon's frame
# strings; run for JM_FUZZ_SECONDS (make check: 3) on seeds: real maps of
# this machine's processes and the hand-written ones of
# tests/fuzz/seeds/maps (odd paths, deleted files, overlaps, huge numbers,
# no final newline, CRLF, NULs). `make fuzz` runs it longer.
# timeout: 180
FUZZ_DEFAULT_SECONDS=3
. "$(dirname "$0")/lib.sh"
fuzz_need_clang
[ -f /usr/include/elfutils/libdwfl.h ] ||
	{ echo "elfutils' libdw-dev is not installed: cannot build the symbolizer"; exit 77; }

dw_libs=$(pkg-config --libs libdw 2>/dev/null || echo -ldw -lelf)
# shellcheck disable=SC2086
fuzz_build maps "$root/tests/fuzz/maps_fuzz.c" "$root/jmctl/symbolize.c" -I"$root/jmctl" $dw_libs
mkdir -p "$tmp/seeds"
cp "$root"/tests/fuzz/seeds/maps/* "$tmp/seeds/"
cat /proc/self/maps >"$tmp/seeds/self"
for p in 1 $$ $PPID; do
	cat "/proc/$p/maps" >"$tmp/seeds/proc-$p" 2>/dev/null || rm -f "$tmp/seeds/proc-$p"
done
fuzz_run maps "$tmp/seeds"
