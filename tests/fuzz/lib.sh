# lib.sh: sourced by the fuzz targets' scripts (tests/fuzz/*.test.sh).
#
# Each script builds one libFuzzer target with clang
# -fsanitize=fuzzer,address,undefined (every report fatal), replays every
# input kept under tests/fuzz/regress/NAME/ (the crashes found so far, each
# kept once fixed), then fuzzes for a bounded time from its seed corpus.
#
#   fuzz_need_clang          exits 77 unless clang links libFuzzer
#   fuzz_build NAME SRC...   builds $tmp/NAME_fuzz (extra clang flags and
#                            libraries may follow the sources)
#   fuzz_daemon_srcs [FILE...]
#                            sets daemon_srcs: every jmstatd source but main.c,
#                            log.c (tests/fuzz/fuzzdaemon.h stands in for it)
#                            and the FILEs named (a target that includes
#                            one), common/*.c; and daemon_libs
#   fuzz_run NAME SEEDS [DICT]
#                            replays the regression inputs, then fuzzes for
#                            JM_FUZZ_SECONDS (the script's default: make
#                            check keeps every target short) on a corpus in
#                            JM_FUZZ_CORPUS/NAME (kept by `make fuzz` in
#                            build/fuzz/corpus) seeded from SEEDS; a crash
#                            input is written to $JM_BUILD/fuzz/NAME-*.
#
# The scripts set FUZZ_DEFAULT_SECONDS before sourcing this file.

set -euo pipefail

root=${JM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
if [ -n "${JM_TMP:-}" ]; then
  tmp=$JM_TMP
else
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
fi
secs=${JM_FUZZ_SECONDS:-${FUZZ_DEFAULT_SECONDS:-10}}
artifacts=${JM_BUILD:-$root/build}/fuzz
clang=${CLANG:-clang}
fuzz_cflags=(-std=gnu11 -g -O1 -D_GNU_SOURCE -fno-strict-aliasing -Wall -Wextra -Werror
  -Wno-unused-parameter -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
  -fno-omit-frame-pointer -I"$root/liballoc/include" -I"$root/common" -I"$root/jmstatd"
  -I"$root/tests/fuzz")

fuzz_need_clang() {
  if ! command -v "$clang" >/dev/null 2>&1; then
    echo "clang is not installed: cannot build the fuzz target"
    exit 77
  fi
  echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }' \
    >"$tmp/probe.c"
  if ! "$clang" -fsanitize=fuzzer "$tmp/probe.c" -o "$tmp/probe" >/dev/null 2>&1; then
    echo "clang cannot link libFuzzer (Debian: libclang-rt-14-dev): fuzz target not built"
    exit 77
  fi
}

# The daemon's sources are compiled once into $JM_BUILD/fuzz/obj and used
# by every target that needs them: an object is rebuilt when its source or
# any header is newer (written under a temporary name, then renamed, so
# that two runs at once never see half an object). The targets that need
# them run at once in make check (config, http, request): each compiled
# all 42 objects itself on a clean tree (25 s of CPU each, 75 s for the
# three), so the compiling is done under a lock on the directory and the
# others wait for it, then find every object up to date.
fuzz_daemon_srcs() {
  daemon_srcs=()
  local f o newest="" lockfd
  local objdir=$artifacts/obj
  mkdir -p "$objdir"
  exec {lockfd}>"$objdir/.lock"
  flock "$lockfd"
  for f in "$root"/jmstatd/*.h "$root"/common/*.h "$root"/liballoc/include/*.h; do
    [ -z "$newest" ] || [ "$f" -nt "$newest" ] && newest=$f
  done
  for f in "$root"/jmstatd/*.c "$root"/common/*.c; do
    case " main.c log.c $* " in *" $(basename "$f") "*) continue ;; esac
    o=$objdir/$(basename "$(dirname "$f")")-$(basename "$f" .c).o
    if [ ! -f "$o" ] || [ "$f" -nt "$o" ] || [ "$newest" -nt "$o" ]; then
      "$clang" "${fuzz_cflags[@]}" -c "$f" -o "$o.tmp$$"
      mv -f "$o.tmp$$" "$o"
    fi
    daemon_srcs+=("$o")
  done
  exec {lockfd}>&-
  daemon_libs=$(pkg-config --libs libuv jansson zlib 2>/dev/null || echo -luv -ljansson -lz)
}

fuzz_build() {
  local name=$1
  shift
  "$clang" "${fuzz_cflags[@]}" "$@" -o "$tmp/${name}_fuzz"
}

fuzz_run() {
  local name=$1 seeds=$2 dict=${3:-}
  local bin=$tmp/${name}_fuzz regress=$root/tests/fuzz/regress/$name
  local corpus=$tmp/corpus
  [ -n "${JM_FUZZ_CORPUS:-}" ] && corpus=$JM_FUZZ_CORPUS/$name
  mkdir -p "$corpus" "$artifacts"
  local opts=(-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts/$name-")
  [ -n "$dict" ] && opts+=(-dict="$dict")

  if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
    local n
    n=$(find "$regress" -type f | wc -l)
    echo "replaying $n regression inputs of tests/fuzz/regress/$name"
    if ! "$bin" "${opts[@]}" "$regress"/* >"$tmp/replay.log" 2>&1; then
      tail -n 60 "$tmp/replay.log"
      echo "a regression input of $name fails again"
      exit 1
    fi
  fi

  echo "fuzzing $name for ${secs}s (corpus $corpus)"
  local rc=0
  "$bin" "${opts[@]}" -max_total_time="$secs" -print_final_stats=1 \
    "$corpus" "$seeds" >"$tmp/fuzz.log" 2>&1 || rc=$?
  grep -v -e '^#[0-9].*\(NEW\|REDUCE\|pulse\)' -e '^"' -e 'dictionary' "$tmp/fuzz.log" |
    tail -n 80
  if [ "$rc" -ne 0 ]; then
    echo "the fuzz target $name failed (exit $rc); crash inputs in $artifacts/$name-*"
    echo "(once fixed, keep each under tests/fuzz/regress/$name/ so that make check replays it)"
    exit 1
  fi
  echo "fuzzing $name done: no crash"
}
