#!/usr/bin/env bash
# timeout: 90
# Root's jmctl symbolizes another user's process in a child that has
# become that user, killed after 10 s (symbolize_hang.test.sh): a FIFO at
# a deleted mapping's "PATH (deleted)" blocks it. nobody runs three such
# processes, each with an alert firing: root's `jmctl alerts` waited 10 s
# for each (a user with a hundred made it wait a quarter of an hour; top's
# sites panel the same, per process shown). Now a uid whose child was
# killed is not tried again by that jmctl, and all the children of one
# command share 20 s: the first alert says it took more than 10 s, the
# two others that it was not tried, and every alert is listed with its
# frames as addresses (exit 0). tests/helpers/sites_deep, as nobody,
# holds a sparse bin with its sites sampled.
. "$(dirname "$0")/../lib.sh"
need_users "run programs as nobody"
need_segments
need_jmctl
nobody_pub
[ -x "$JM_HELPERS/sites_deep" ] || skip "build/tests/helpers/sites_deep is not built"
printf '[rule sparse]\nkind = sparse_bin\nutil_below = 50%%\nmin_held = 4MiB\n' >"$JM_TMP/rules.conf"
jmd_start --config "$JM_TMP/rules.conf"
pids=()
for i in 1 2 3; do
	cp "$JM_HELPERS/sites_deep" "$P/prog$i"
	chown 65534 "$P/prog$i"
	"${NOBODY[@]}" env JMALLOC_CONF=prof_sample:65536 JMALLOC_STATS_DIR="$JMD_STATS" \
		LD_PRELOAD="$P/libjmalloc.so" "$P/prog$i" >/dev/null &
	pids+=($!)
	PIDS+=($!)
done
for pid in "${pids[@]}"; do wait_seen "$pid"; done
for i in 1 2 3; do
	"${NOBODY[@]}" sh -c 'rm "$1" && mkfifo "$1 (deleted)"' sh "$P/prog$i"
done
grep -q "prog1 (deleted)" "/proc/${pids[0]}/maps" ||
	skip "the kernel does not show a deleted mapping as PATH (deleted)"
# Each process's alert firing, with its sites.
for _ in $(seq 100); do
	"$JMCTL" --socket "$JMD_SOCK" --json alerts >"$JM_TMP/alerts.json" 2>/dev/null
	n=$(python3 -c 'import json,sys
a=json.load(open(sys.argv[1]))["alerts"]
print(sum(1 for x in a if x["state"] == "firing" and x.get("sites") and x["pid"] in map(int, sys.argv[2:])))' \
		"$JM_TMP/alerts.json" "${pids[@]}")
	[ "$n" = 3 ] && break
	sleep 0.1
done
[ "$n" = 3 ] || fail "not three firing alerts with sites: $(cat "$JM_TMP/alerts.json")"

rc=0
timeout 60 "$JMCTL" --socket "$JMD_SOCK" alerts >"$JM_TMP/out" 2>"$JM_TMP/err" || rc=$?
[ $rc -ne 124 ] || fail "root's jmctl alerts hung on nobody's FIFOs"
[ $rc -eq 0 ] || fail "jmctl alerts exited $rc: $(cat "$JM_TMP/err")"
cat "$JM_TMP/err"
[ "$(grep -c "took more than 10 s (one of" "$JM_TMP/err")" = 1 ] ||
	fail "not one child waited for 10 s (one per process: 10 s each): $(cat "$JM_TMP/err")"
[ "$(grep -c "uid 65534.*not tried: it took more than 10 s before" "$JM_TMP/err")" = 2 ] ||
	fail "the two other alerts of uid 65534 were not skipped: $(cat "$JM_TMP/err")"
for pid in "${pids[@]}"; do
	grep -q "firing  *sparse  *$pid " "$JM_TMP/out" || fail "alert of $pid not listed: $(cat "$JM_TMP/out")"
done
[ "$(grep -c "held by: 0x" "$JM_TMP/out")" -ge 3 ] || fail "frames not left as addresses: $(cat "$JM_TMP/out")"
ok "three alerts of nobody's processes with FIFOs at their deleted mappings: root's jmctl alerts waits once"
