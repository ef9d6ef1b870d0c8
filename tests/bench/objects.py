"""python: an object-heavy Python program for the benchmark suite, run as
`python3 objects.py SCALE` with PYTHONMALLOC=malloc, so that every Python
object (dicts, lists, strings, instances, tuples) is allocated by the
allocator under test. It builds records, indexes, a tree of instances and
JSON text, churns dictionaries, sorts strings and prints a summary that
does not depend on the allocator."""
import json
import sys

scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
n = max(500, int(40000 * scale))


class Node:
    def __init__(self, key, parent):
        self.key = key
        self.parent = parent
        self.children = []
        self.attrs = {"depth": 0 if parent is None else parent.attrs["depth"] + 1}


records = [{"id": i, "name": "item%d" % i, "tags": ["t%d" % (i % 13), "u%d" % (i % 7)],
            "value": i * 1.5} for i in range(n)]
index = {}
for r in records:
    index.setdefault(r["tags"][0], []).append(r)
    index.setdefault(r["tags"][1], []).append(r)

root = Node(0, None)
nodes = [root]
for i in range(1, n):
    parent = nodes[(i - 1) // 3]
    node = Node(i, parent)
    parent.children.append(node)
    nodes.append(node)
max_depth = max(nd.attrs["depth"] for nd in nodes)

text = json.dumps(records[: n // 3])
back = json.loads(text)

churn = 0
for rnd in range(6):
    d = {(i, rnd): ("v%d" % (i * rnd), [i] * (i % 4)) for i in range(n // 3)}
    churn += sum(len(v[0]) + len(v[1]) for v in d.values())
    del d

words = sorted("w%07d" % ((i * 7919) % n) for i in range(n))
del records, nodes, root

print("python: ok", len(index), max_depth, len(text), len(back), churn, words[n // 2])
