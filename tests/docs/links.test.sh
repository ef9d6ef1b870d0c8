#!/usr/bin/env bash
# timeout: 30
# The docs hold together: every relative link of README.md, docs/*.md and
# the tests' READMEs names a file of the tree, and every #anchor a heading
# of the file it points to (as GitHub makes anchors of headings); docs/
# has each file the README's map names, and the map names each file of
# docs/.
. "$(dirname "$0")/../lib.sh"
cd "$JM_ROOT" || exit 1
python3 - <<'PY'
import glob, os, re, sys
files = ["README.md"] + sorted(glob.glob("docs/*.md")) + sorted(glob.glob("tests/*/README.md"))
def anchors(path):
    out = set()
    for h in re.findall(r"^#+ (.*)$", open(path).read(), re.M):
        a = re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
        out.add(a)
    return out
bad = []
for f in files:
    text = open(f).read()
    # Links outside code spans and blocks.
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    for m in re.finditer(r"\]\(([^)\s]+)\)", text):
        link = m.group(1)
        if re.match(r"[a-z]+:", link):
            continue
        path, _, anchor = link.partition("#")
        target = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
        if not os.path.exists(target):
            bad.append(f"{f}: link to {link}: no such file {target}")
        elif anchor and target.endswith(".md") and anchor not in anchors(target):
            bad.append(f"{f}: link to {link}: no heading makes the anchor #{anchor}")
readme = open("README.md").read()
for d in sorted(glob.glob("docs/*.md")):
    if f"]({d})" not in readme:
        bad.append(f"README.md: the map of the docs does not name {d}")
for line in bad:
    print("FAIL:", line)
sys.exit(1 if bad else 0)
PY
