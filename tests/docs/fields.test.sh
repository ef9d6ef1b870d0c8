#!/usr/bin/env bash
# timeout: 30
# Every figure of jmstatd/fields.h's X-lists (a JSON key of stats, bins,
# ps, subscribe or history) is explained in docs/: named in backquotes
# somewhere but in the bare key lists of docs/protocol.md (`{"a","b"}`),
# which say that it exists, not what it is (most are in docs/figures.md).
. "$(dirname "$0")/../lib.sh"
cd "$JM_ROOT" || exit 1
python3 - jmstatd/fields.h docs/*.md <<'EOF' || fail "figures of jmstatd/fields.h unexplained in docs/"
import re, sys
hdr = open(sys.argv[1]).read()
text = re.sub(r"`\{[^`]*\}`", "", "".join(open(f).read() for f in sys.argv[2:]))
bad, n = [], 0
for name in re.findall(r"#define (JMD_\w+_FIELDS)\(X\)", hdr):
    body = hdr[hdr.index("#define " + name):]
    body = body[:body.index("\n\n")]
    for field in re.findall(r"X\((\w+),", body):
        n += 1
        if "`%s`" % field not in text:
            bad.append("%s's %s is explained nowhere in docs/" % (name, field))
if n < 40:
    sys.exit("found only %d figures in fields.h (update this test)" % n)
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
EOF
ok "every figure of fields.h is explained in docs/"
