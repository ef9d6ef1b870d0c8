#!/usr/bin/env bash
# A buffer grown by realloc far above the large sizes, every allocation
# sampled (prof_sample:1; tests/helpers/realloc_sampled.c: 96 MiB grown
# 1 MiB at a time): a sampled huge region grows as any other does, its
# pages moved by mremap, not copied into a new region at each move, which
# held two copies at once (peak RSS grew by about 1.8 x the buffer, now
# by the buffer); and its sample follows it: the site that grew it is
# credited with about its size (sampled again at each new mapping), and
# with nothing once it is freed. perl's strings, Python's bytearrays and
# stress-ng --bigheap grow this way, and nearly every such buffer above a
# few MiB is sampled with the default prof_sample, which is run too.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/realloc_sampled
[ -x "$helper" ] || fail "$helper is not built"
limit=$((96 * 1024 * 5 / 4))       # KiB: the buffer and a quarter
for conf in prof_sample:1 ""; do
	out=$(JMALLOC_STATS_DIR=$JM_TMP JMALLOC_CONF=$conf LD_PRELOAD=$JMALLOC_LIB "$helper" 2>"$JM_TMP/err") ||
		fail "JMALLOC_CONF='$conf': exit $?: $out $(cat "$JM_TMP/err")"
	grown=$(echo "$out" | awk '$1 == "peak_growth_kib" { print $2 }')
	[ -n "$grown" ] || fail "JMALLOC_CONF='$conf': printed $out"
	[ "$grown" -le "$limit" ] ||
		fail "JMALLOC_CONF='$conf': peak RSS grew by $grown KiB for a 96 MiB buffer (limit $limit)"
	! grep -q 'jmalloc\[' "$JM_TMP/err" || fail "a report: $(cat "$JM_TMP/err")"
	ok "JMALLOC_CONF='$conf': a 96 MiB buffer grown by realloc: peak RSS +$grown KiB"
done

# The site: one buffer freed, one held, both grown by grow_buffer.
need_segments
need_jmctl
jmd_start
mkfifo "$JM_TMP/hold.fifo"
exec 9<>"$JM_TMP/hold.fifo"
JMALLOC_CONF=prof_sample:1 STDIN=$JM_TMP/hold.fifo start_preloaded "$helper" hold
pid=$LAST_PID
for _ in $(seq 200); do
	grep -q '^ready$' "$LAST_OUT" && break
	sleep 0.05
done
grep -q '^ready$' "$LAST_OUT" || fail "the helper did not get ready: $(cat "$LAST_OUT")"
wait_sampled "$pid"
"$JMCTL" --socket "$JMD_SOCK" --json sites "$pid" -n 50 >"$JM_TMP/sites.json" ||
	fail "jmctl sites: $(cat "$JM_TMP/sites.json")"
python3 - "$JM_TMP/sites.json" <<'PY' || fail "the site of the grown buffer: $(head -c 2000 "$JM_TMP/sites.json")"
import json, sys
d = json.load(open(sys.argv[1]))
mib = 1 << 20
grow = [s for s in d["sites"] if any(f.get("function") == "grow_buffer" for f in s["frames"])]
live = sum(s["live_bytes"] for s in grow)
# The held 96 MiB buffer, sampled last at 77..96 MiB (the room of a move
# is a quarter), the freed one taken back: about 96 MiB, not 1 or 192.
assert 70 * mib <= live <= 100 * mib, ("live bytes of grow_buffer's sites", live / mib)
PY
exec 9>&-
ok "the site that grew a 96 MiB buffer (and freed another) holds $(python3 -c "
import json; d = json.load(open('$JM_TMP/sites.json'))
print(round(sum(s['live_bytes'] for s in d['sites'] if any(f.get('function') == 'grow_buffer' for f in s['frames'])) / 2**20, 1))") MiB"
