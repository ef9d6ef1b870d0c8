#!/usr/bin/env bash
# timeout: 30
# What docs/daemon.md says of the calls between jmstatd's files holds: they
# go one way, but for sample.c, discover.c and dirs.c (the tick drives the
# rescans). Read from the objects (nm: which file defines the symbols each
# file leaves undefined); jmctl's and common/'s files call each other in no
# circle at all. A new circle fails here by the files and the symbols.
. "$(dirname "$0")/../lib.sh"
need_cmd nm
: "${JM_BUILD:?}"
python3 - "$JM_BUILD/app" <<'EOF' || fail "a call cycle between source files"
import collections, glob, os, subprocess, sys
root = sys.argv[1]
allowed = {"jmstatd": [{"sample", "discover", "dirs"}], "jmctl": [], "common": []}
bad = []
for d, ok in allowed.items():
    objs = sorted(glob.glob(os.path.join(root, d, "*.o")))
    if len(objs) < 5:
        sys.exit("only %d objects in %s/%s: build first (make all)" % (len(objs), root, d))
    defs, undef = {}, {}
    for o in objs:
        name = os.path.basename(o)[:-2]
        undef[name] = set()
        for line in subprocess.run(["nm", o], capture_output=True, text=True, check=True).stdout.splitlines():
            f = line.split()
            if len(f) == 2 and f[0] == "U":
                undef[name].add(f[1])
            elif len(f) == 3 and f[1] in "TDBR":
                defs[f[2]] = name
    calls = collections.defaultdict(lambda: collections.defaultdict(set))
    for a, syms in undef.items():
        for s in syms:
            if defs.get(s, a) != a:
                calls[a][defs[s]].add(s)
    # Tarjan's strongly connected components: each is a circle of calls.
    index, low, stack, on, comps = {}, {}, [], set(), []
    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v); on.add(v)
        for w in calls[v]:
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop(); on.discard(w); comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)
    for v in sorted(undef):
        if v not in index:
            visit(v)
    for comp in comps:
        if comp in ok:
            continue
        edges = ["%s.c -> %s.c (%s)" % (a, b, ", ".join(sorted(s)[:4]))
                 for a in sorted(comp) for b, s in sorted(calls[a].items()) if b in comp]
        bad.append("%s/: %s call each other: %s" % (d, ", ".join(sorted(c + ".c" for c in comp)), "; ".join(edges)))
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
EOF
ok "no call cycle but sample.c, discover.c and dirs.c's"
