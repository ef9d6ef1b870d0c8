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

Needs (Debian): gcc, g++, clang, sqlite3, git, xz-utils, perl, mawk,
python3.11 and libpython3.11-testsuite (for `pytest`).
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
    for name, text in (("py.py", PYSCRIPT), ("big.sql", SQL.format(rows=300000)), ("w.pl", PERL)):
        open(os.path.join(work, name), "w").write(text)
    subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), "cxx", "6", os.path.join(work, "big.cpp")], check=True)
    # git: a clone of this repository whose objects are all loose, to repack.
    subprocess.run(["git", "clone", "-q", "--no-local", ROOT, os.path.join(work, "repo")], check=True)


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
