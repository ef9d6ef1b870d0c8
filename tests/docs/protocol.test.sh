#!/usr/bin/env bash
# timeout: 60
# docs/protocol.md's skeleton of a reply names the fields a real reply
# has, at every level: the `sites` reply of a process with sampled
# allocations (the reply, each site, a site's bins, each module), the
# `bins` reply summed over the processes, `history` (the host's and a
# pid's, each sample), a `subscribe` update, and an alert with its sites
# (whose optional fields the paragraph names in prose). (The lists PROC, HOST, ARENA,
# BIN and history's samples are checked, in their order, by
# tests/daemon/xlists.test.sh; the version reply by tests/docs/man.)
. "$(dirname "$0")/../lib.sh"
need_segments

printf '[rule frag]\nkind = fragmentation\nratio = 0.5\nmin_wasted = 1MiB\n' >"$JM_TMP/rules.conf"
jmd_start --config "$JM_TMP/rules.conf"
JMALLOC_CONF=prof_sample:4096 start_preloaded "$JM_HELPERS/demo_fragment" -s 64 -c 40000 -r 10
wait_line "$LAST_OUT" 'kept'
wait_sampled "$LAST_PID"

jmd_py - "$JMD_SOCK" "$JM_ROOT/docs/protocol.md" "$LAST_PID" <<'EOF' || fail "docs/protocol.md and the replies differ"
import json, re, socket, sys, time
sock_path, doc_path, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
doc = open(doc_path).read()

s = socket.socket(socket.AF_UNIX)
s.connect(sock_path)
f = s.makefile("rwb")
def ask(req):
    f.write((json.dumps(req) + "\n").encode())
    f.flush()
    r = json.loads(f.readline())
    assert r.get("ok"), r
    return r

def skeleton(cmd):
    """The reply's skeleton after `**cmd**`: the first `{"ok",...}`."""
    m = re.search(r'^\*\*%s\*\* .*?`\{"ok"' % cmd, doc, re.M | re.S)
    if not m:
        sys.exit("docs/protocol.md: no reply skeleton for %s (update this test)" % cmd)
    start = end = m.end() - 5
    depth = 0
    while True:         # to the brace that closes it
        depth += doc[end] in "[{"
        depth -= doc[end] in "]}"
        end += 1
        if depth == 0:
            return doc[start:end].replace("\n", "")

def parse(text):
    """{"a","b":[{...}...],"c":X} -> {"a": None, "b": {...}, "c": None}."""
    pos = 0
    def obj():
        nonlocal pos
        assert text[pos] == "{", text[pos:]
        pos += 1
        out = {}
        while text[pos] != "}":
            m = re.compile(r'\s*"(\w+)"').match(text, pos)
            if not m:       # ...every PROC field... and the like: skip to the next key
                pos = text.index(",", pos) + 1
                continue
            name, pos = m.group(1), m.end()
            out[name] = None
            if text.startswith("(if ", pos):       # optional: name? in the schema
                pos = text.index(")", pos) + 1
                del out[name]
                name += "?"
                out[name] = None
            if text[pos] == ":":
                pos += 1
                depth = 0   # then skip the rest of the value
                if text[pos] == "[" and text[pos + 1] == "{":
                    pos += 1
                    out[name] = obj()
                    depth = 1
                while depth or text[pos] not in ",}":
                    depth += text[pos] in "[{"
                    depth -= text[pos] in "]}"
                    pos += 1
            if text[pos] == ",":
                pos += 1
        pos += 1
        return out
    return obj()

bad = []
def compare(where, schema, reply):
    got = set(reply)
    want = {k for k in schema if not k.endswith("?")}
    got -= {k[:-1] for k in schema if k.endswith("?")}
    if got - want:
        bad.append("%s: fields not in docs/protocol.md: %s" % (where, sorted(got - want)))
    if want - got:
        bad.append("%s: docs/protocol.md's fields not in the reply: %s" % (where, sorted(want - got)))
    for k, sub in schema.items():
        if sub is not None and isinstance(reply.get(k), list) and reply[k]:
            compare(where + "." + k + "[0]", sub, reply[k][0])

r = ask({"cmd": "sites", "pid": pid})
if not r["sites"] or not r["modules"] or not any(x["bins"] for x in r["sites"]):
    sys.exit("the sites reply has no site, module or bins to compare (update this test)")
r["sites"].sort(key=lambda x: -len(x["bins"]))
compare("sites", parse(skeleton("sites")), r)
bins = ask({"cmd": "bins"})
compare("bins", parse(skeleton("bins")), bins)
for req in ({"cmd": "history"}, {"cmd": "history", "pid": pid}):
    compare("history " + json.dumps(req), parse(skeleton("history")), ask(req))
sub = socket.socket(socket.AF_UNIX)     # a subscribed connection of its own
sub.connect(sock_path)
sf = sub.makefile("rwb")
for req in ({"cmd": "subscribe"}, {"cmd": "subscribe", "pid": pid}):
    sf.write((json.dumps(req) + "\n").encode())
    sf.flush()
    compare("subscribe " + json.dumps(req), parse(skeleton("subscribe")), json.loads(sf.readline()))
    sub.close()
    sub = socket.socket(socket.AF_UNIX)
    sub.connect(sock_path)
    sf = sub.makefile("rwb")
sub.close()

# An alert: its skeleton's fields are all in it, and each of its fields
# (a site's too) is named in the paragraph, where the optional ones are
# told in prose.
for _ in range(100):
    alerts = ask({"cmd": "alerts"})["alerts"]
    if alerts and "sites" in alerts[0]:
        break
    time.sleep(0.1)
else:
    sys.exit("no alert with sites within 10 s: %r" % alerts)
para = doc[doc.index("**alerts**"):doc.index("**sites**")]
named = set(re.findall(r'"(\w+)"', para))
a = alerts[0]
want = {k for k in parse(skeleton("alerts"))["alerts"] if not k.endswith("?")}
if want - set(a):
    bad.append("an alert lacks docs/protocol.md's fields %s" % sorted(want - set(a)))
site = a["sites"][0]
for where, keys in (("an alert", a), ("an alert's site", site), ("a site's bin", site["bins"][0] if site["bins"] else {})):
    if set(keys) - named:
        bad.append("%s has fields docs/protocol.md's alerts does not name: %s" % (where, sorted(set(keys) - named)))
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
EOF
echo "ok: the sites and bins replies have docs/protocol.md's fields"
jmd_stop
