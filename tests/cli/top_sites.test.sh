#!/usr/bin/env bash
# jmctl top, the all-process bins view: Enter on a bin lists the sites
# behind it ranked by the bytes they keep wasted in it, not by their live
# bytes there, with enough frames to tell two sites apart. Three programs
# share the 192-byte bin (sampling every 64 KiB, so that the sites are
# known): demo_fragment wastes the most in it; daemon_holder holds more
# live bytes there than sites_deep and wastes next to nothing; sites_deep
# has two sites whose five innermost frames are the same (path_a, path_b).
# Driven in tmux.
# timeout: 90
. "$(dirname "$0")/../lib.sh"
need_segments
need_jmctl
command -v tmux >/dev/null || skip "tmux is not installed: cannot drive the live view"
cd "$JM_TMP"

jmd_start
export JMALLOC_CONF=prof_sample:65536
start_preloaded "$JM_HELPERS/demo_fragment" -s 192 -c 200000 -r 0
FRAG=$LAST_PID
start_preloaded "$JM_HELPERS/sites_deep"
DEEP=$LAST_PID
mkfifo hold.fifo
exec 9<>hold.fifo
STDIN=hold.fifo start_preloaded "$JM_HELPERS/daemon_holder"
HOLD=$LAST_PID
echo "alloc 192 200000" >&9
unset JMALLOC_CONF
wait_seen "$HOLD" "p['allocated'] > 30 << 20"
wait_seen "$FRAG" "p['small_wasted'] > 20 << 20"
wait_seen "$DEEP" "p['small_wasted'] > 10 << 20"

tmux_start jmctl-sites 120 70 \
	"LANG=C.UTF-8 $JMCTL --socket $JMD_SOCK top -d 0.3 -s wasted 2>$JM_TMP/top.err; sleep 600"
wait_pane 'bins in use, sorted by wasted' 150
# The first row (selected) is the 192-byte bin, which wastes the most.
awk '/SIZE  *INUSE/{getline; print $1; exit}' pane.txt | grep -qx 192 || { cat pane.txt; fail "192 is not the first bin"; }
"${T[@]}" send-keys -t top Enter
wait_pane 'Sites behind the 192-byte bin' 150
wait_pane '^ *[0-9.]* [KMG]*i*B wasted, ' 150
sleep 0.5
"${T[@]}" capture-pane -p -t top >pane.txt
cat pane.txt
python3 - "$FRAG" "$DEEP" "$HOLD" <<'EOF' || fail "the sites panel"
import re, sys
frag, deep, hold = sys.argv[1:4]
lines = open("pane.txt", encoding="utf-8").read().splitlines()
start = [i for i, l in enumerate(lines) if l.startswith("Sites behind the 192-byte bin")][0]
units = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
sites = []      # (wasted, live, pid, [frames])
for l in lines[start + 1:]:
    m = re.match(r"^  ([\d.]+) (\w+) wasted, ([\d.]+) (\w+) live in this bin .* pid (\d+) \(", l)
    if m:
        sites.append([float(m.group(1)) * units[m.group(2)], float(m.group(3)) * units[m.group(4)],
                      m.group(5), []])
    elif l.startswith("      ") and sites:
        sites[-1][3].append(l.strip())
assert len(sites) >= 3, sites
wasted = [s[0] for s in sites]
assert wasted == sorted(wasted, reverse=True), ("not ranked by wasted bytes", wasted)
assert sites[0][2] == frag, ("the first site is not the fragmenter's", sites[0])
# sites_deep's two sites: their frames tell them apart (path_a, path_b).
deeps = [s for s in sites if s[2] == deep]
assert len(deeps) == 2, [s[:3] for s in sites]
# The holder holds more live bytes in the bin than either of them, and
# wastes next to nothing there: it comes after them (ranked by live
# bytes, it came before).
holder = [s for s in sites if s[2] == hold]
if holder:
    assert holder[0][1] > 30 << 20 and all(holder[0][1] > d[1] for d in deeps), (holder, deeps)
    assert sites.index(holder[0]) > max(sites.index(d) for d in deeps), [s[:3] for s in sites]
paths = sorted(next((f.split()[0] for f in s[3] if f.startswith("path_")), "?") for s in deeps)
assert paths == ["path_a", "path_b"], [s[3] for s in deeps]
assert deeps[0][3] != deeps[1][3]
EOF
ok "sites behind a bin: ranked by wasted bytes, the fragmenter first, two deep sites told apart"
