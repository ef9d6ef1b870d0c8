#!/usr/bin/env bash
# A program with many call stacks (site_fill 8: 256 of them, each sampled
# about ten times) has one site per stack: the allocator's private index of
# its sites, which grows with them (64 slots at first, doubled and filled
# again by the rows' hashes as rows are taken), finds every stack's row
# again after each growth instead of taking a second row for it.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_sites
cd "$JM_TMP"
helper=$JM_HELPERS/site_fill
[ -x "$helper" ] || fail "$helper is not built"
jmd_start
JMALLOC_CONF=prof_sample:4096 start_ready "$helper" 8
PROG=$LAST_PID
sites_json "$PROG" >sites.json || fail "jmctl --json sites"
python3 - <<'PY' || fail "sites"
import json, collections
r = json.load(open("sites.json"))
stacks = collections.Counter()
for s in r["sites"]:
    names = [f.get("function") for f in s["frames"]]
    if "descend" not in names:
        continue
    stacks[tuple((f.get("function"), f.get("line"), f.get("address")) for f in s["frames"])] += 1
rows = sum(stacks.values())
dups = [k for k, n in stacks.items() if n > 1]
print("site_fill's sites: %d rows, %d distinct stacks" % (rows, len(stacks)))
assert not dups, "a stack with two rows: %s" % (dups[0],)
assert len(stacks) >= 200, len(stacks)
PY
ok "256 stacks: one row each, found again across the index's growth"
