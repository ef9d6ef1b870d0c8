#!/usr/bin/env bash
# The segment reader's libFuzzer target (tests/fuzz/segread_fuzz.c), built
# with clang -fsanitize=fuzzer,address,undefined, run for JM_FUZZ_SECONDS
# (make check: 3) on the seed corpus of tests/fuzz/segcases.h: valid,
# truncated, oversized and hostile segments, each checked against the
# reader's expected result before it is used. Regression inputs in
# tests/fuzz/regress/segread are replayed first (lib.sh). `make fuzz` runs
# this longer, with a corpus that persists in build/fuzz/corpus/segread.
# timeout: 180
FUZZ_DEFAULT_SECONDS=3
. "$(dirname "$0")/lib.sh"
fuzz_need_clang

fuzz_build segread "$root/tests/fuzz/segread_fuzz.c" "$root/common/segread.c"
"${CC:-cc}" -std=gnu11 -g -O1 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
  -fsanitize=address,undefined -fno-sanitize-recover=all \
  -I"$root/liballoc/include" -I"$root/common" -I"$root/tests/fuzz" \
  "$root/tests/fuzz/segseeds.c" "$root/common/segread.c" -o "$tmp/segseeds"
mkdir -p "$tmp/seeds"
"$tmp/segseeds" "$tmp/seeds"
fuzz_run segread "$tmp/seeds"
