#!/usr/bin/env bash
# timeout: 30
# docs/segment.md's tables of counters are jmstat.h's X-lists: each
# counter of JMSTAT_ARENA_COUNTERS and JMSTAT_BIN_COUNTERS is a row of its
# table, with its kind and unit, and the tables name no other. (They were
# written from the lists' help texts; a counter added to a list fails here
# until it has its row.)
. "$(dirname "$0")/../lib.sh"
cd "$JM_ROOT" || exit 1
python3 - liballoc/include/jmstat.h docs/segment.md <<'EOF' || fail "docs/segment.md's counters and jmstat.h's X-lists differ"
import re, sys
hdr, doc = open(sys.argv[1]).read(), open(sys.argv[2]).read()
tables = re.findall(r"^\| counter \| kind \| unit \| what \|\n\|[-|]+\|\n((?:\|.*\n)+)", doc, re.M)
bad = []
for i, name in enumerate(("JMSTAT_ARENA_COUNTERS", "JMSTAT_BIN_COUNTERS")):
    body = hdr[hdr.index("#define " + name):]
    body = body[:body.index("\n\n")]
    want = [(n, k, u) for n, k, u in re.findall(r"X\((\w+),\s*(\w+),\s*(\w+),", body)]
    if len(want) < 8 or len(tables) != 2:
        sys.exit("found %d counters of %s, %d tables in docs/segment.md (update this test)"
                 % (len(want), name, len(tables)))
    got = [tuple(c.strip(" `") for c in row.strip("|").split("|")[:3]) for row in tables[i].splitlines()]
    for w in want:
        if w not in got:
            bad.append("%s's %s (%s, %s) is not a row of docs/segment.md's table" % ((name,) + w))
    for g in got:
        if g not in want:
            bad.append("docs/segment.md's row %s is not a counter of %s" % (g, name))
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
EOF
ok "docs/segment.md lists jmstat.h's counters"
