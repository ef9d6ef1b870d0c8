#!/usr/bin/env bash
# jmstatd's config parser under libFuzzer: tests/fuzz/config_fuzz.c feeds
# each input, as a config file, to jmd_config_load_text() (config.c and the
# alert engine's checks in alerts.c) of a real daemon with live synthetic
# processes; an accepted file's rules are evaluated for a few ticks (alert
# commands are never run) and the alerts listed; a refused one must leave
# the rules in force. Seeds in tests/fuzz/seeds/config, dictionary
# tests/fuzz/config.dict, regression inputs in tests/fuzz/regress/config.
# make check: 3 s; make fuzz: longer.
# timeout: 180
FUZZ_DEFAULT_SECONDS=3
. "$(dirname "$0")/lib.sh"
fuzz_need_clang

fuzz_daemon_srcs
# shellcheck disable=SC2086
fuzz_build config "$root/tests/fuzz/config_fuzz.c" "${daemon_srcs[@]}" $daemon_libs -lm
fuzz_run config "$root/tests/fuzz/seeds/config" "$root/tests/fuzz/config.dict"
