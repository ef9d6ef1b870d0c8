#!/usr/bin/env bash
# The segment reader's libFuzzer target (tests/fuzz/segread_fuzz.c), built
# with clang -fsanitize=fuzzer,address,undefined, run for JM_FUZZ_SECONDS
# (default 25) on the seed corpus of tests/fuzz/segcases.h: valid,
# truncated, oversized and hostile segments, each checked against the
# reader's expected result before it is used. A crash input is kept in
# $JM_BUILD/fuzz/. `make fuzz` runs this longer, with a corpus that
# persists in build/fuzz/corpus (JM_FUZZ_CORPUS).
# timeout: 240
set -euo pipefail

root=${JM_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
if [ -n "${JM_TMP:-}" ]; then
  tmp=$JM_TMP
else
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
fi
secs=${JM_FUZZ_SECONDS:-25}
corpus=${JM_FUZZ_CORPUS:-$tmp/corpus}
artifacts=${JM_BUILD:-$root/build}/fuzz
clang=${CLANG:-clang}
inc=(-I"$root/liballoc/include" -I"$root/common" -I"$root/tests/fuzz")

if ! command -v "$clang" >/dev/null 2>&1; then
  echo "clang is not installed: cannot build the fuzz target"
  exit 77
fi
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }' >"$tmp/probe.c"
if ! "$clang" -fsanitize=fuzzer "$tmp/probe.c" -o "$tmp/probe" >/dev/null 2>&1; then
  echo "clang cannot link libFuzzer (Debian: libclang-rt-14-dev): fuzz target not built"
  exit 77
fi

"$clang" -std=gnu11 -g -O1 -D_GNU_SOURCE -Wall -Wextra -Werror \
  -Wno-unused-parameter -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
  "${inc[@]}" "$root/tests/fuzz/segread_fuzz.c" "$root/common/segread.c" -o "$tmp/segread_fuzz"
"${CC:-cc}" -std=gnu11 -g -O1 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
  -fsanitize=address,undefined -fno-sanitize-recover=all \
  "${inc[@]}" "$root/tests/fuzz/segseeds.c" "$root/common/segread.c" -o "$tmp/segseeds"

mkdir -p "$tmp/seeds" "$corpus" "$artifacts"
"$tmp/segseeds" "$tmp/seeds"

echo "fuzzing jm_seg_parse for ${secs}s (corpus $corpus)"
set +e
"$tmp/segread_fuzz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$artifacts/segread-" \
  "$corpus" "$tmp/seeds" >"$tmp/fuzz.log" 2>&1
rc=$?
set -e
grep -v -e '^#[0-9].*\(NEW\|REDUCE\|pulse\)' -e '^"' -e 'dictionary' "$tmp/fuzz.log" | tail -n 80
if [ "$rc" -ne 0 ]; then
  echo "the fuzz target failed (exit $rc); crash inputs in $artifacts/"
  exit 1
fi
echo "fuzzing done: no crash"
