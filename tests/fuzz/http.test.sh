#!/usr/bin/env bash
# jmstatd's HTTP request parser (the --metrics endpoint) under libFuzzer:
# tests/fuzz/http_fuzz.c sends each input on a real connection (a
# socketpair opened as the endpoint's handle) read and answered by http.c
# itself, on a real daemon with live synthetic processes, and checks the
# reply (one, well-formed, the right length) and that the connection is
# closed and freed. Seeds in tests/fuzz/seeds/http, dictionary
# tests/fuzz/http.dict, regression inputs in tests/fuzz/regress/http.
# make check: 3 s; make fuzz: longer.
# timeout: 180
FUZZ_DEFAULT_SECONDS=3
. "$(dirname "$0")/lib.sh"
fuzz_need_clang
[ -f "$root/jmstatd/http.c" ] || { echo "jmstatd/http.c is not there yet"; exit 77; }

fuzz_daemon_srcs http.c
# shellcheck disable=SC2086
fuzz_build http "$root/tests/fuzz/http_fuzz.c" "${daemon_srcs[@]}" $daemon_libs -lm
fuzz_run http "$root/tests/fuzz/seeds/http" "$root/tests/fuzz/http.dict"
