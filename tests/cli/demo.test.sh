#!/usr/bin/env bash
# make demo's script, run as the README's first command does: it must show
# the workloads in jmctl ps, three frames of top -b, the fragmenter's stats
# and the alerts, exit 0, and leave nothing behind (no process it started,
# no temporary directory).
# timeout: 240
. "$(dirname "$0")/lib.sh"
need_daemon
command -v python3 >/dev/null && command -v sqlite3 >/dev/null || skip "python3 or sqlite3 missing: the demo would not show all its workloads"
cd "$JM_ROOT"
"$JM_ROOT/demo.sh" --help | grep -q '^usage: ./demo.sh' || fail "demo.sh --help"
rc=0; "$JM_ROOT/demo.sh" bogus >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "demo.sh with a bad argument exited $rc, not 2"

rc=0; "$JM_ROOT/demo.sh" >"$JM_TMP/demo.out" 2>&1 || rc=$?
cat "$JM_TMP/demo.out"
[ $rc -eq 0 ] || fail "demo.sh exited $rc"
out=$JM_TMP/demo.out
frag=$(sed -n 's/^  demo_fragment: pid \([0-9]*\)$/\1/p' "$out")
py=$(sed -n 's/^  python3: pid \([0-9]*\)$/\1/p' "$out")
sql=$(sed -n 's/^  sqlite3: pid \([0-9]*\)$/\1/p' "$out")
daemon=$(sed -n 's/^jmstatd is up (pid \([0-9]*\)): socket \(.*\)\/run\/jmstatd.sock, .*/\1/p' "$out")
dir=$(sed -n 's/^jmstatd is up (pid [0-9]*): socket \(.*\)\/run\/jmstatd.sock, .*/\1/p' "$out")
[ -n "$frag" ] && [ -n "$py" ] && [ -n "$sql" ] && [ -n "$daemon" ] && [ -n "$dir" ] || fail "demo did not name its processes"
for p in "$frag" "$py" "$sql"; do
	grep -q "^ *$p  " "$out" || fail "jmctl ps in the demo does not list pid $p"
done
grep -q "^ *$frag  .*demo_fragment .* 9[0-9]\.[0-9]%" "$out" || fail "the fragmenter is not shown above 90% fragmentation"
[ "$(grep -c '^jmctl top - ' "$out")" -eq 3 ] || fail "not three frames of top -b"
grep -q "^process $frag (demo_fragment)" "$out" || fail "no stats of the fragmenter"
grep -q '^\$ jmctl alerts$' "$out" || fail "no jmctl alerts"
grep -Eq "^[0-9]+ +firing +fragmentation +$frag +demo_fragment " "$out" || fail "the fragmentation alert does not fire for the fragmenter"
ok "demo shows ps, three top frames, stats, alerts"

for p in "$frag" "$py" "$sql" "$daemon"; do
	for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$p" 2>/dev/null || fail "pid $p still runs after the demo"
done
[ ! -e "$dir" ] || fail "the demo left $dir"
# Nothing at all that names the demo's directory may still run.
python3 - "$dir" <<'EOF' || fail "processes of the demo still run"
import os, sys
left = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        cmd = open("/proc/%s/cmdline" % pid, "rb").read().replace(b"\0", b" ").decode()
    except OSError:
        continue
    if sys.argv[1] in cmd and int(pid) != os.getpid():
        left.append("%s %s" % (pid, cmd))
print("\n".join(left))
sys.exit(1 if left else 0)
EOF
ok "demo stopped everything it started and removed $dir"
