#!/usr/bin/env bash
# jmstatd's request parser under libFuzzer: tests/fuzz/request_fuzz.c feeds
# each input, as one request line, to jmd_request() (commands.c) of a real
# daemon sampling synthetic segments of live processes, as root and as
# another uid, and checks that every reply is one well-formed protocol
# line. Seeds in tests/fuzz/seeds/request (every command, every error),
# dictionary tests/fuzz/request.dict, regression inputs in
# tests/fuzz/regress/request. make check: 3 s; make fuzz: longer.
# timeout: 180
FUZZ_DEFAULT_SECONDS=3
. "$(dirname "$0")/lib.sh"
fuzz_need_clang

fuzz_daemon_srcs
# shellcheck disable=SC2086
fuzz_build request "$root/tests/fuzz/request_fuzz.c" "${daemon_srcs[@]}" $daemon_libs -lm
fuzz_run request "$root/tests/fuzz/seeds/request" "$root/tests/fuzz/request.dict"
