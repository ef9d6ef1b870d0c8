#!/usr/bin/env bash
# make demo's script, run as the README's first command does: it must show
# the workloads in jmctl ps, three frames of top -b, the fragmenter's stats
# and the alerts, exit 0, and leave nothing behind (no process it started,
# no temporary directory).
# timeout: 240
. "$(dirname "$0")/../lib.sh"
need_segments
need_jmctl
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

# The sites the alert names hold at most what the fragmenter holds, plus
# the sampling error stated (units as printed: a little slack for rounding
# and the fragmenter's own churn between the stats and the alerts). Both
# are of its heap as it holds it: demo.sh shows them from a sample, and
# sites read, after the fragmenter's line saying it has fragmented it.
python3 - "$out" "$frag" <<'EOF' || fail "an alert's site holds more than its process"
import re, sys
text, frag = open(sys.argv[1]).read().split("\n"), sys.argv[2]
units = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
def num(v, u):
    return float(v) * units[u]
i = [k for k, l in enumerate(text) if l.startswith("process %s (demo_fragment)" % frag)][0]
m = re.match(r"allocated ([0-9.]+) (B|KiB|MiB|GiB) ", text[i + 1])
alloc = num(*m.groups())
row = [k for k, l in enumerate(text) if re.match(r"^[0-9]+ +firing +fragmentation +%s " % frag, l)][0]
for l in text[row + 1:]:
    if not l.startswith("  held by:"):
        break
    if l == "  held by: (no sampled allocation site yet)":
        continue        # on a loaded machine the alert may come first: nothing to compare
    m = re.search(r"  ([0-9.]+) (B|KiB|MiB|GiB)(?: \+- ([0-9.]+) (B|KiB|MiB|GiB))?( \(.*\))?$", l)
    assert m, l
    held = num(m.group(1), m.group(2))
    err = num(m.group(3), m.group(4)) if m.group(3) else 0
    print("site: %.0f +- %.0f, process allocated %.0f" % (held, err, alloc))
    assert held <= alloc * 1.01 + err + 65536, l
EOF
ok "the alert's sites hold at most the fragmenter's allocated plus their error"

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
