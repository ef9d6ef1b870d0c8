#!/usr/bin/env python3
"""Ordinary programs under every allocator, side by side (a survey, not part
of `make bench`: it needs the programs installed and takes minutes).

    tests/bench/programs.py [--runs N] [--programs a,b] [--allocators a,b] [--out DIR]

Each program is one behaviour class `make bench` does not run: compilers
(gcc -O2 on liballoc's sources, g++ -O2 on a big template unit, clang -O2),
Python with its own small-object allocator and with PYTHONMALLOC=malloc
(dicts, lists, strings of many sizes, json round trips, re) and its own
test suite, sqlite3 with a big transaction in a file and an index build,
git (log -p, repack), xz -T2, sort, perl and awk on text. Runs are
interleaved (run 1 of every program under every allocator, then run 2...),
each timed by /usr/bin/time: wall, user + system CPU, peak RSS of the
largest process, minor faults of the whole tree. Prints the medians and
jmalloc's ratio to the best anchor on each axis (glibc, jemalloc,
mimalloc, tcmalloc); the raw runs go to OUT/programs.tsv.

Since session 11 also gcc -O2 on one large generated C unit, pure-Python
CPU work, a dict of 1M keys built and deleted (pymalloc and
PYTHONMALLOC=malloc), bash arrays and strings, a configure-like sh script
of 600 short processes and 300 forks, node, javac, a perl hash of arrays
and sort, sqlite3 sorting 600k rows in memory.

Since session 13 also json dumps and loads of nested records, re over log
lines, `python3 -m compileall` of stdlib packages, 4 Python threads passing
JSON through queues, gcc -flto, git fsck, cppcheck and clang-format
(docs/programs.md, "Real programs, session 13").

Since session 27 (docs/programs.md, "Programs and servers, session 27"):
z3 on a generated random 3-SAT problem and on a bit-vector factoring one,
rocksdb's db_bench (fill, overwrite, reads, seeks, compaction) with the
store read back by ldb, ImageMagick on a 1600 x 1600 plasma (blur,
resize, rotate, charcoal; 2 OpenMP threads), a Lua 5.4 script of tables,
closures and strings, 24 Python threads each opening and closing sqlite
connections to one WAL file, and
thread_waves.c (waves of 1000 threads writing only the head of their
large buffers).

Since session 35 (docs/measurements.md, "Workloads no probe had run"):
py-pool32, a ThreadPoolExecutor of 32 threads taking turns under the GIL
(json of dicts of float lists).

Needs (Debian): gcc, g++, clang, clang-format, cppcheck, sqlite3, git, xz-utils, perl, mawk,
python3.11 and libpython3.11-testsuite (for `pytest`); nodejs and
openjdk-17-jdk-headless for node and javac; z3, rocksdb-tools,
imagemagick and lua5.4 for session 27's (a program not
installed is reported failed and left out).
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("JM_ROOT", os.path.dirname(os.path.dirname(HERE)))
LIB = "/usr/lib/x86_64-linux-gnu/"
ALLOCATORS = [("glibc", ""), ("jmalloc", os.environ.get("JMALLOC_LIB", os.path.join(ROOT, "liballoc/libjmalloc.so"))),
              ("jemalloc", LIB + "libjemalloc.so.2"), ("mimalloc", LIB + "libmimalloc.so.2"),
              ("tcmalloc", LIB + "libtcmalloc_minimal.so.4")]
PY = "/usr/bin/python3.11"

PYSCRIPT = r'''
import json, re, random, sys
random.seed(7)
n = int(sys.argv[1])
words = ["".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(random.randint(2, 40))) for _ in range(20000)]
docs = []
for i in range(n):
    d = {"id": i, "name": random.choice(words) * random.randint(1, 30),
         "tags": random.sample(words, random.randint(0, 20)),
         "vals": [random.random() for _ in range(random.randint(0, 200))],
         "sub": {w: len(w) for w in random.sample(words, random.randint(0, 30))}}
    docs.append(d)
    if len(docs) > 4000:                      # a live set that turns over
        del docs[:random.randint(500, 3000)]
    s = json.dumps(d)
    back = json.loads(s)
    assert back["id"] == i
    if i % 7 == 0:
        found = re.findall(r"[aeiou]{2,}[^aeiou ]+", " ".join(d["tags"]) + d["name"])
        d["found"] = found
    if i % 1000 == 0:
        big = "".join(json.dumps(x) for x in docs[-500:])   # a few MB string
        idx = {}
        for m in re.finditer(r'"name": "([a-z]+)"', big):
            idx.setdefault(m.group(1)[:3], []).append(m.start())
print(len(docs))
'''

SQL = r'''
PRAGMA cache_size=-65536;
PRAGMA journal_mode=WAL;
CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c BLOB);
BEGIN;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<{rows})
INSERT INTO t SELECT i, (i*7919)%100003, printf('k%09d-%s', (i*104729)%{rows}, hex(randomblob(1+i%24))),
  randomblob(i%300) FROM s;
COMMIT;
CREATE INDEX t_b ON t(b);
CREATE INDEX t_ab ON t(a, b);
SELECT count(*), count(DISTINCT a) FROM t;
BEGIN;
UPDATE t SET b = b || 'x' WHERE a % 3 = 0;
DELETE FROM t WHERE a % 7 = 0;
COMMIT;
VACUUM;
'''

PERL = r'''
my %h; my @keep; my $s = "";
while (<>) { for my $w (split /\W+/) { $h{$w}++; } push @keep, $_ if $. % 3 == 0;
  $s .= uc($_); if (length($s) > 1 << 22) { $s = substr($s, -1000); } }
my @top = (sort { $h{$b} <=> $h{$a} || $a cmp $b } keys %h)[0..9];
my %rev; for my $l (@keep) { my @f = split ' ', $l; push @{$rev{$f[0] // ""}}, scalar @f; }
print join(",", @top), " ", scalar(keys %rev), "\n";
'''

AWK = r'{ for (i = 1; i <= NF; i++) c[$i]++; l[NR % 50000] = $0 } END { n = 0; for (k in c) n++; print n }'

PYCPU = r"""
# pure-Python CPU work: a binary tree of __slots__ objects, method calls,
# tuples, small lists and dicts, strings
import sys
class Node:
    __slots__ = ("k", "v", "l", "r")
    def __init__(s, k, v): s.k = k; s.v = v; s.l = None; s.r = None
def insert(root, k, v):
    if root is None: return Node(k, v)
    n = root
    while True:
        if k < n.k:
            if n.l is None: n.l = Node(k, v); return root
            n = n.l
        elif k > n.k:
            if n.r is None: n.r = Node(k, v); return root
            n = n.r
        else: n.v = v; return root
def walk(n, out):
    st = []
    while st or n:
        while n: st.append(n); n = n.l
        n = st.pop(); out.append((n.k, n.v)); n = n.r
seed = 12345
def rnd():
    global seed
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed
tot = 0
for rnd_i in range(int(sys.argv[1])):
    root = None
    for i in range(20000):
        x = rnd()
        root = insert(root, x % 100000, ("v%d" % x, [x, x >> 3], {"a": x & 255}))
    out = []; walk(root, out)
    words = {}
    for k, v in out:
        s = v[0] + str(k)
        words.setdefault(s[:3], []).append(s)
    tot += len(out) + sum(len(l) for l in words.values())
    text = " ".join(v[0] for k, v in out[:5000])
    tot += len(text.split("1")) + len(text.upper().replace("V", "w"))
print(tot)
"""

PYDICT = r"""
# a dict of 1M keys built, then deleted; a list of floats and a set built
# in the memory it held; then 50k bytes objects of 200 B..3 KB
import sys
n = int(sys.argv[1])
d = {}
for i in range(n):
    d["key-%d" % i] = [i, str(i) * 3]
t = sum(len(v[1]) for v in d.values())
del d
l = [float(i) * 0.5 for i in range(n)]
s = set("%x" % i for i in range(n // 2))
t += len(l) + len(s)
del l, s
b = [bytes(200 + i % 3000) for i in range(n // 20)]
t += sum(map(len, b))
print(t)
"""

BASH = r"""
# bash: arrays, associative arrays, string building, substitutions
declare -A h; a=(); s=""
for ((i = 0; i < 60000; i++)); do
  k="k$((i * 7919 % 20011))"; h[$k]+="$i,"; a+=("item-$i-${k}")
  s+="${k:1:3}"; if (( ${#s} > 20000 )); then s="${s//1/x}"; s="${s:10000}"; fi
done
for ((i = 0; i < 60000; i += 3)); do unset 'a[i]'; done
n=0; for k in "${!h[@]}"; do v=${h[$k]}; n=$((n + ${#v})); done
echo "${#h[@]} ${#a[@]} $n ${#s}"
"""

EXECS = r"""
# a configure-like script: 150 command substitutions of a pipeline and an
# expr, some 750 forks of dash and 450 execs of sed, tr and expr
n=0
for i in $(seq 150); do
  v=$(echo "x$i" | sed -e 's/x/y/' | tr y z); n=$((n + ${#v})); expr $i + 1 >/dev/null
done
echo $n
"""

NODE = r"""
// node: objects, maps, strings, arrays, JSON, Buffers (V8's heap and malloc'd backing stores)
let tot = 0; const m = new Map();
for (let r = 0; r < 2; r++) {
  const arr = [];
  for (let i = 0; i < 200000; i++) {
    const o = { id: i, name: "n" + (i * 7919 % 100003), tags: [i % 7, i % 11], s: "x".repeat(i % 50) };
    arr.push(o); m.set(o.name, o);
  }
  const j = JSON.stringify(arr.slice(0, 50000)); tot += JSON.parse(j).length + j.length;
  const bufs = []; for (let i = 0; i < 3000; i++) bufs.push(Buffer.alloc(1024 + (i % 64) * 1024, i & 255));
  tot += bufs.reduce((a, b) => a + b[3], 0);
  arr.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)); tot += arr[7].id;
  m.clear();
}
console.log(tot);
"""

PERLHASH = r"""
# perl: a hash of arrays of 150k lines built and dropped, 400k strings sorted
my %h; my $n = 0;
while (<>) { last if $. > 150000; my @f = split; push @{$h{$f[0]}}, [@f[1..$#f]]; $n += @f; }
my $k = scalar keys %h; undef %h;
my @a = map { "r" . ($_ * 7919 % 1000003) x (1 + $_ % 20) } 1..400000;
my @s = sort @a; undef @a;
print "$n $k ", scalar(@s), " $s[77]\n";
"""

SQLSORT = r"""
PRAGMA temp_store=MEMORY;
PRAGMA cache_size=-200000;
CREATE TABLE t(a INTEGER, b TEXT);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<600000)
INSERT INTO t SELECT (i*7919)%1000003, printf('%x-%s', i*104729, substr(hex(randomblob(16)),1,1+i%30)) FROM s;
SELECT count(*), sum(length(b)) FROM (SELECT b FROM t ORDER BY b);
SELECT count(*) FROM (SELECT a, group_concat(b) FROM t GROUP BY a % 5000);
SELECT count(DISTINCT b) FROM t;
"""


PYJSON = r"""
# json.dumps and loads of nested records, 3 rounds, the last indented and sorted
import json, random, sys
random.seed(5)
data = [{"id": i, "name": "user%d" % i, "email": "u%d@example.org" % i, "score": random.random(),
         "tags": ["t%d" % (i % 17), "g%d" % (i % 5)], "addr": {"city": "c%d" % (i % 1000), "zip": "%05d" % i},
         "hist": [random.randint(0, 1000) for _ in range(i % 20)]} for i in range(int(sys.argv[1]))]
tot = 0
for r in range(3):
    s = json.dumps(data); back = json.loads(s)
    tot += len(s) + len(back) + len(json.dumps(back, indent=2, sort_keys=True))
print(tot)
"""

PYRE = r"""
# re over 100000 log lines: finditer with groups, sub with a callable, split, findall
import re, random, sys
random.seed(9)
text = "\n".join("%d.%d.%d.%d - - [04/Dec/2026:%02d:%02d:%02d] \"GET /p/%x?q=%d HTTP/1.1\" %d %d \"ua-%d\"" % (
    random.randint(1, 255), random.randint(0, 255), random.randint(0, 255), random.randint(0, 255), i % 24, i % 60,
    i % 60, random.getrandbits(40), i, random.choice((200, 301, 404, 500)), random.randint(0, 100000), i % 97)
    for i in range(int(sys.argv[1])))
by = {}
for m in re.finditer(r'^(\d+\.\d+\.\d+\.\d+) .*?"(\w+) (\S+) [^"]*" (\d{3}) (\d+)', text, re.M):
    by.setdefault(m.group(4), []).append(m.group(3))
t2 = re.sub(r"q=(\d+)", lambda m: "q=" + m.group(1)[::-1], text)
print(sum(map(len, by.values())), len(re.split(r'[\s\[\]"]+', t2)), len(re.findall(r"\b[0-9a-f]{6,}\b", t2)))
"""

PYTHREADS = r"""
# 4 threads in a ring: each dumps a record to the next one's queue and loads the one it is given
import json, queue, sys, threading
n = int(sys.argv[1]); qs = [queue.Queue(64) for _ in range(4)]
def work(k):
    for i in range(n):
        rec = {"k": k, "i": i, "v": [str(j) * (j % 7) for j in range(i % 40)], "d": {"a%d" % j: j for j in range(i % 25)}}
        qs[(k + 1) % 4].put(json.dumps(rec))
        json.loads(qs[k].get())
ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print("ok")
"""


PYPOOL = r"""
# 32 threads of a ThreadPoolExecutor taking turns under the GIL: each task
# builds a dict of 400 lists of 0..60 floats, json-dumps and loads it
import json, random, sys
from concurrent.futures import ThreadPoolExecutor
def task(i):
    r = random.Random(i)
    d = {"k%d" % j: [r.random() for _ in range(r.randint(0, 60))] for j in range(400)}
    s = json.dumps(d)
    return len(s) + len(json.loads(s))
with ThreadPoolExecutor(int(sys.argv[1])) as ex:
    print(sum(ex.map(task, range(int(sys.argv[2])))))
"""

def big_c(n):
    """One C translation unit of n functions (loops, switches, snprintf,
    small inline helpers) for gcc -O2: cc1's heap on one large unit."""
    import random
    r = random.Random(3)
    out = ["#include <stdio.h>\n#include <string.h>\nstruct s { int a[16]; double d; char n[32]; };"]
    for i in range(n):
        out.append(f"static inline int h{i}(int x) {{ return (x * {r.randint(3, 999)}) ^ (x >> {r.randint(1, 7)}); }}")
        out.append(f"int f{i}(struct s *p, int k) {{\n  int acc = {i};")
        for j in range(r.randint(5, 25)):
            c = r.randint(0, 3)
            if c == 0:
                out.append(f"  for (int i = 0; i < 16; i++) acc += h{i}(p->a[i] + k * {j});")
            elif c == 1:
                out.append("  switch ((acc + k) & 7) {")
                for cs in range(8):
                    out.append(f"    case {cs}: acc = acc * {r.randint(2, 50)} + p->a[{cs}]; p->d += acc * 0.{j + 1}; break;")
                out.append("  }")
            elif c == 2:
                out.append(f"  if (acc > {r.randint(0, 10000)}) {{ snprintf(p->n, sizeof p->n, \"%d-{j}\", acc); acc ^= (int)strlen(p->n); }}")
            else:
                out.append(f"  while (k-- > {j}) {{ acc += p->a[k & 15] * h{max(0, i - 1)}(k); if (acc & 1) break; }}")
        out.append("  return acc;\n}")
    out.append("int main(void) { struct s x = {0}; long t = 0;")
    out += [f"  t += f{i}(&x, {i});" for i in range(0, n, 7)]
    out.append('  printf("%ld\\n", t); return 0; }')
    return "\n".join(out) + "\n"


def big_java(n):
    """A Java source of n nested classes with maps, lists, lambdas and
    streams, for javac (a JVM: its compiler and GC threads)."""
    import random
    r = random.Random(5)
    out = ["import java.util.*;\npublic class Big {"]
    for i in range(n):
        out.append(f"  static class C{i} {{ Map<String, List<Integer>> m = new HashMap<>(); int v{i};")
        out.append(f"    int run(int k) {{ int acc = {i}; for (int j = 0; j < k; j++) {{ acc += (j * {r.randint(3, 99)}) ^ v{i}; "
                   "m.computeIfAbsent(\"k\" + (j % 7), x -> new ArrayList<>()).add(acc); }")
        out.append("      switch (acc & 3) { case 0: acc += m.size(); break; case 1: acc -= m.toString().length(); break; default: acc ^= 5; }")
        out.append("      return acc + (int) m.values().stream().mapToInt(List::size).sum(); } }")
    out.append("  public static void main(String[] a) { long t = 0;")
    out += [f"    t += new C{i}().run({i % 20});" for i in range(n)]
    out.append("    System.out.println(t); } }")
    return "\n".join(out) + "\n"


def z3_problem(kind):
    """SMT-LIB text for z3: "sat", a random 3-SAT of 245 variables at the
    ratio 4.26 (its SAT solver's clause database); "bv", the factoring of
    32749 x 32719 over 32-bit vectors (bit-blasting, a big CNF)."""
    import random
    r = random.Random(11)
    if kind == "sat":
        n = 245
        out = ["(set-logic QF_UF)"] + [f"(declare-const b{i} Bool)" for i in range(n)]
        for _ in range(int(n * 4.26)):
            lits = [(r.randrange(n), r.random() < .5) for _ in range(3)]
            out.append("(assert (or " + " ".join(f"b{v}" if pos else f"(not b{v})" for v, pos in lits) + "))")
        return "\n".join(out + ["(check-sat)"]) + "\n"
    w, pq, lim = 32, 32749 * 32719, 2 ** 17
    return (f"(set-logic QF_BV)(declare-const x (_ BitVec {w}))(declare-const y (_ BitVec {w}))\n"
            f"(assert (= (bvmul x y) (_ bv{pq} {w})))(assert (bvult x (_ bv{lim} {w})))(assert (bvult y (_ bv{lim} {w})))\n"
            f"(assert (bvugt x (_ bv1 {w})))(assert (bvugt y (_ bv1 {w})))(assert (bvule x y))\n(check-sat)(get-value (x y))\n")


LUA = r"""
-- tables of 0..63 slots, closures, strings of 0..300 bytes; a live set of 5000 per round, 7 rounds kept
local keep, acc = {}, 0
for round = 1, 12 do
  local live = {}
  for i = 1, 40000 do
    local n = (i * 7919 + round) % 64
    local r = {}
    for j = 1, n do r[j] = j * i end
    r.name = string.rep("x", (i % 300)) .. tostring(i)
    r.f = function() return n + round end
    live[(i % 5000) + 1] = r
    acc = acc + #r + r.f()
  end
  local parts = {}
  for i = 1, 20000 do parts[#parts + 1] = string.format("%d:%s", i, string.rep("y", i % 50)) end
  acc = acc + #table.concat(parts, ",")
  keep[round % 7] = live
  collectgarbage("step", 200)
end
print(acc)
"""

SQLCONNS = r"""
# 24 threads, each 5 times: a new connection to one WAL file, 400 inserts, 41 range queries, close
import os, random, sqlite3, sys, threading
db = sys.argv[1]
for f in (db, db + "-wal", db + "-shm"):
    if os.path.exists(f): os.remove(f)
c = sqlite3.connect(db); c.execute("PRAGMA journal_mode=WAL")
c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB)"); c.execute("CREATE INDEX tk ON t(k)"); c.commit()
N = 24; out = [0] * N
def w(n):
    rnd = random.Random(n)
    for r in range(5):
        cn = sqlite3.connect(db, timeout=60, check_same_thread=False)
        cn.execute("PRAGMA cache_size=-4000")
        with cn:
            cn.executemany("INSERT INTO t(k, v) VALUES (?, ?)",
                           [("k%d-%d" % (n, rnd.randrange(10**6)), bytes(rnd.randrange(1, 900))) for _ in range(400)])
        s = 0
        for q in range(40):
            s += cn.execute("SELECT count(*), sum(length(v)) FROM t WHERE k BETWEEN ? AND ?",
                            ("k%d-%d" % (n, q * 1000), "k%d-%d" % (n, q * 1000 + 50000))).fetchone()[0]
        s += len(cn.execute("SELECT k, v FROM t WHERE k LIKE ? ORDER BY v LIMIT 500", ("k%d-%%" % n,)).fetchall())
        out[n] += s
        cn.close()
ts = [threading.Thread(target=w, args=(i,)) for i in range(N)]
[t.start() for t in ts]; [t.join() for t in ts]
print(c.execute("SELECT count(*), sum(length(v)) FROM t").fetchone(), sum(out))
"""


def prepare(work):
    """Writes the inputs; they depend on nothing but this script."""
    import random
    rnd = random.Random(1)
    words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(1, 12))) for _ in range(50000)]
    with open(os.path.join(work, "text.txt"), "w") as f:
        for i in range(400000):
            f.write(" ".join(rnd.choice(words) for _ in range(rnd.randint(1, 14))) + f" {i}\n")
    with open(os.path.join(work, "xz.in"), "wb") as f:   # 16 MiB, half compressible
        f.write(open(os.path.join(work, "text.txt"), "rb").read()[:12 << 20])
        f.write(os.urandom(4 << 20))
    for name, text in (("py.py", PYSCRIPT), ("big.sql", SQL.format(rows=300000)), ("w.pl", PERL),
                       ("pycpu.py", PYCPU), ("pydict.py", PYDICT), ("b.sh", BASH), ("exec.sh", EXECS),
                       ("n.js", NODE), ("hash.pl", PERLHASH), ("sort.sql", SQLSORT),
                       ("big.c", big_c(80)), ("Big.java", big_java(300)),
                       ("pyjson.py", PYJSON), ("pyre.py", PYRE), ("pythreads.py", PYTHREADS), ("pypool.py", PYPOOL),
                       ("sat.smt2", z3_problem("sat")), ("bv.smt2", z3_problem("bv")), ("alloc.lua", LUA),
                       ("sqlconns.py", SQLCONNS)):
        open(os.path.join(work, name), "w").write(text)
    subprocess.run(["cc", "-O2", "-pthread", "-o", os.path.join(work, "thread_waves"), os.path.join(HERE, "thread_waves.c")],
                   check=True)
    subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), "cxx", "6", os.path.join(work, "big.cpp")], check=True)
    # git: a clone of this repository whose objects are all loose, to repack.
    subprocess.run(["git", "clone", "-q", "--no-local", ROOT, os.path.join(work, "repo")], check=True)
    # compileall: four stdlib packages; a C file of the project's sources for clang-format.
    pylib = subprocess.run([PY, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
                           capture_output=True, text=True, check=True).stdout.strip()
    for d in ("email", "json", "asyncio", "http"):
        shutil.copytree(os.path.join(pylib, d), os.path.join(work, "pylib", d))
    with open(os.path.join(work, "all.c"), "w") as f:
        for d in ("liballoc", "jmstatd"):
            for n in sorted(os.listdir(os.path.join(ROOT, d))):
                if n.endswith(".c"):
                    f.write(open(os.path.join(ROOT, d, n)).read())


def programs(work):
    w = lambda p: os.path.join(work, p)
    lib = sorted(os.path.join(ROOT, "liballoc", f) for f in os.listdir(os.path.join(ROOT, "liballoc")) if f.endswith(".c"))
    inc = ["-I" + os.path.join(ROOT, "liballoc"), "-I" + os.path.join(ROOT, "liballoc/include"), "-pthread", "-D_GNU_SOURCE"]
    return {
        "gcc-O2": (["gcc", "-O2", "-g", "-c"] + inc + lib, {}, None, work),
        "g++-O2": (["g++", "-O2", "-c", w("big.cpp"), "-o", w("big.o")], {}, None, work),
        "clang-O2": (["clang", "-O2", "-c", w("big.cpp"), "-o", w("bigc.o")], {}, None, work),
        "python": ([PY, w("py.py"), "20000"], {"PYTHONHASHSEED": "0"}, None, work),
        "python-malloc": ([PY, w("py.py"), "20000"], {"PYTHONHASHSEED": "0", "PYTHONMALLOC": "malloc"}, None, work),
        "pytest": ([PY, "-m", "test", "-q", "test_json", "test_re", "test_dict", "test_set", "test_unicode", "test_bigmem"],
                   {"PYTHONHASHSEED": "0"}, None, work),
        "sqlite-file": (["sh", "-c", f"rm -f {w('t.db')}*; sqlite3 -batch {w('t.db')} < {w('big.sql')}"], {}, None, work),
        "git-log-p": (["git", "-C", w("repo"), "log", "-p", "--stat"], {}, None, work),
        "git-repack": (["git", "-C", w("repo"), "repack", "-adfq", "--window=50"], {}, None, work),
        "xz-T2": (["xz", "-T2", "-6", "-c", w("xz.in")], {}, None, work),
        "sort": (["sort", "-S", "256M", "--parallel=2", w("text.txt")], {"LC_ALL": "C"}, None, work),
        "perl": (["perl", w("w.pl"), w("text.txt")], {}, None, work),
        "awk": (["mawk", AWK, w("text.txt")], {}, None, work),
        # session 11 (docs/programs.md, "More programs")
        "gcc-bigc": (["gcc", "-O2", "-c", w("big.c"), "-o", w("bigc.o")], {}, None, work),
        "pycpu": ([PY, w("pycpu.py"), "8"], {"PYTHONHASHSEED": "0"}, None, work),
        "pycpu-malloc": ([PY, w("pycpu.py"), "8"], {"PYTHONHASHSEED": "0", "PYTHONMALLOC": "malloc"}, None, work),
        "pydict": ([PY, w("pydict.py"), "1000000"], {"PYTHONHASHSEED": "0"}, None, work),
        "pydict-malloc": ([PY, w("pydict.py"), "1000000"], {"PYTHONHASHSEED": "0", "PYTHONMALLOC": "malloc"}, None, work),
        "bash": (["bash", w("b.sh")], {}, None, work),
        "execs": (["sh", w("exec.sh")], {}, None, work),
        "node": (["node", w("n.js")], {}, None, work),
        "javac": (["javac", "-d", w("jc"), w("Big.java")], {}, None, work),
        "perl-hash": (["perl", w("hash.pl"), w("text.txt")], {}, None, work),
        "sqlite-sort": (["sh", "-c", f"sqlite3 :memory: < {w('sort.sql')}"], {}, None, work),
        # session 13 (docs/programs.md, "Real programs, session 13")
        "py-json": ([PY, w("pyjson.py"), "15000"], {"PYTHONHASHSEED": "0"}, None, work),
        "py-re": ([PY, w("pyre.py"), "100000"], {"PYTHONHASHSEED": "0"}, None, work),
        "py-compileall": (["sh", "-c", f"rm -rf {w('pyc')}; exec {PY} -m compileall -q -f {w('pylib')}"],
                          {"PYTHONPYCACHEPREFIX": w("pyc")}, None, work),
        "py-threads": ([PY, w("pythreads.py"), "20000"], {"PYTHONHASHSEED": "0"}, None, work),
        "py-pool32": ([PY, w("pypool.py"), "32", "150"], {"PYTHONHASHSEED": "0"}, None, work),
        "gcc-lto": (["gcc", "-O2", "-flto=2", "-fPIC", "-shared", "-o", w("lto.so")] + inc + lib, {}, None, work),
        "git-fsck": (["git", "-C", w("repo"), "fsck", "--full", "--no-progress"], {}, None, work),
        "cppcheck": (["cppcheck", "-q", "--enable=warning"] + [os.path.join(ROOT, "liballoc", f) for f in ("arena.c", "tcache.c", "huge.c")],
                     {}, None, work),
        "clang-format": (["clang-format", w("all.c")], {}, None, work),
        # session 27 (docs/programs.md, "Programs and servers, session 27")
        "z3-sat": (["z3", "-smt2", w("sat.smt2")], {}, None, work),
        "z3-bv": (["z3", "-smt2", w("bv.smt2")], {}, None, work),
        "rocksdb": (["sh", "-c", f"rm -rf {w('rdb')}; db_bench --benchmarks=fillrandom,overwrite,readrandom,seekrandom,compact "
                     f"--num=150000 --reads=60000 --value_size=300 --seed=1 --threads=1 --db={w('rdb')} --cache_size=8388608 "
                     f"--compression_type=snappy >/dev/null 2>&1 && ldb --db={w('rdb')} scan"], {}, None, work),
        "imagemagick": (["convert-im6.q16", "-seed", "3", "-size", "1600x1600", "plasma:fractal", "-blur", "0x4", "-resize", "140%",
                         "-rotate", "17", "-charcoal", "2", "-strip", "ppm:-"], {}, None, work),
        "lua-alloc": (["lua5.4", w("alloc.lua")], {}, None, work),
        "sqlite-conns": ([PY, w("sqlconns.py"), w("conns.db")], {}, None, work),
        "thread-waves": ([w("thread_waves"), "4"], {}, None, work),
    }


def run_one(cmd, env, cwd, preload, out):
    e = dict(os.environ)
    e.update(env)
    e.pop("LD_PRELOAD", None)
    if preload:
        e["LD_PRELOAD"] = preload
    tf = out + ".time"
    with open(os.devnull, "w") as dn:
        r = subprocess.run(["/usr/bin/time", "-o", tf, "-f", "%e %U %S %M %R"] + cmd, env=e, cwd=cwd,
                           stdout=dn, stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.stderr.write(f"{cmd[0]} failed ({r.returncode}) under {preload or 'glibc'}: {r.stderr[-500:]!r}\n")
        return None
    wall, u, s, rss, flt = open(tf).read().split()[-5:]
    return float(wall), float(u) + float(s), int(rss), int(flt)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--programs", default="")
    ap.add_argument("--allocators", default="")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    allocs = [x for x in ALLOCATORS if not a.allocators or x[0] in a.allocators.split(",")]
    out = a.out or tempfile.mkdtemp(prefix="jm-programs.")
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="jm-programs-work.")
    try:
        prepare(work)
        progs = programs(work)
        names = [n for n in progs if not a.programs or n in a.programs.split(",")]
        res = {}
        with open(os.path.join(out, "programs.tsv"), "w") as tsv:
            tsv.write("program\tallocator\trun\twall_s\tcpu_s\tmaxrss_kib\tminflt\n")
            for run in range(a.runs):
                for n in names:
                    cmd, env, _, cwd = progs[n]
                    for al, pre in allocs:
                        if n == "git-repack":   # every run repacks the same loose objects
                            subprocess.run(["git", "-C", os.path.join(work, "repo"), "repack", "-adq", "--depth=1", "--window=0"], check=True)
                        m = run_one(cmd, env, cwd, pre, os.path.join(work, "t"))
                        if m is None:
                            continue
                        res.setdefault((n, al), []).append(m)
                        tsv.write(f"{n}\t{al}\t{run}\t{m[0]:.2f}\t{m[1]:.2f}\t{m[2]}\t{m[3]}\n")
                        tsv.flush()
                        print(f"run {run} {n:14} {al:9} wall {m[0]:6.2f} cpu {m[1]:6.2f} rss {m[2] / 1024:7.1f}M flt {m[3]}",
                              file=sys.stderr)
        med = {k: [statistics.median(x[i] for x in v) for i in range(4)] for k, v in res.items()}
        print(f"{'program':14} {'axis':5} " + " ".join(f"{al:>9}" for al, _ in allocs) + "  jm/best")
        for n in names:
            for i, axis in enumerate(("wall", "cpu", "rss", "flt")):
                row = [med.get((n, al)) for al, _ in allocs]
                cells = " ".join(f"{'-':>9}" if r is None else (f"{r[i]:9.2f}" if i < 2 else f"{r[i]:9d}" if False else f"{r[i]:9.0f}") for r in row)
                anchors = [med[(n, al)][i] for al, _ in allocs if al != "jmalloc" and (n, al) in med]
                jm = med.get((n, "jmalloc"))
                ratio = f"{jm[i] / max(min(anchors), 1e-9):7.2f}" if jm and anchors else "      -"
                print(f"{n:14} {axis:5} {cells}  {ratio}")
        print(f"raw runs: {os.path.join(out, 'programs.tsv')}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
