#!/usr/bin/env bash
# timeout: 60
# docs/metrics.md's table names every family a real /metrics page shows,
# and the page shows every family the table names: a daemon with an alert
# rule (the alert families) serves the page while a process with sampled
# allocations runs (the per-exe bin and site families). The table writes
# names in full (`jmalloc_up`), with braces (`jmalloc_host_{a,b}_bytes`,
# one family each), or as a prefix for the bare names after it in its
# cell (`jmalloc_process_<counter>` for each of `mapped_bytes`, ...);
# a family named in a row's last cell counts too.
. "$(dirname "$0")/../lib.sh"
need_segments
need_cmd curl

printf '[rule frag]\nkind = fragmentation\nratio = 0.5\nmin_wasted = 64MiB\n' >"$JM_TMP/rules.conf"
jmd_start --config "$JM_TMP/rules.conf" --metrics :0
JMALLOC_CONF=prof_sample:4096 start_preloaded "$JM_HELPERS/demo_fragment" -s 64 -c 40000 -r 10
wait_line "$LAST_OUT" 'kept'
for _ in $(seq 100); do
	[ "$(http_get /metrics "$JM_TMP/page.txt")" = 200 ] || fail "GET /metrics"
	grep -q '^jmalloc_site_live_bytes{' "$JM_TMP/page.txt" && break
	sleep 0.1
done
grep -q '^jmalloc_site_live_bytes{' "$JM_TMP/page.txt" || fail "no site series on the page within 10 s"

python3 - "$JM_ROOT/docs/metrics.md" "$JM_TMP/page.txt" <<'EOF' || fail "docs/metrics.md and the /metrics page differ"
import re, sys
doc = open(sys.argv[1]).read()
page = open(sys.argv[2]).read()
fams = set(re.findall(r"^# TYPE (\S+)", page, re.M))
if len(fams) < 40:
    sys.exit("only %d families on the page (update this test)" % len(fams))

def expand(name):
    m = re.search(r"\{([a-z_,]+)\}", name)
    if not m:
        return [name]
    return [x for alt in m.group(1).split(",")
            for x in expand(name[:m.start()] + alt + name[m.end():])]

table = re.search(r"^\| series \| labels \| what \|\n\|[-|]+\|\n((?:\|.*\n)+)", doc, re.M)
if not table:
    sys.exit("docs/metrics.md has no table | series | labels | what | (update this test)")
documented = set()
for row in table.group(1).splitlines():
    cells = row.strip("|").split(" | ")
    prefix = None
    for c in re.findall(r"`([^`]+)`", cells[0]):
        m = re.fullmatch(r"(jmalloc_[a-z]+_)<[a-z]+>", c)
        if m:
            prefix = m.group(1)
        elif c.startswith("jmalloc_"):
            documented.update(expand(re.sub(r"\{[a-z_]+=.*", "", c)))
        elif prefix and re.fullmatch(r"[a-z_]+", c):
            documented.add(prefix + c)
    for c in re.findall(r"`(jmalloc_[^`]+)`", cells[-1]):
        documented.update(expand(re.sub(r"\{[a-z_]+=.*", "", c)))
bad = ["the page's %s is not in docs/metrics.md's table" % f for f in sorted(fams - documented)]
bad += ["docs/metrics.md's table names %s, which the page does not show" % d
        for d in sorted(documented - fams)]
for b in bad:
    print("FAIL:", b)
print("ok: %d families on the page, all in docs/metrics.md's table and no other" % len(fams))
sys.exit(1 if bad else 0)
EOF
jmd_stop
