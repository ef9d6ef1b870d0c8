#!/usr/bin/env python3
"""report.py: the tables of the benchmark suite, from what run.sh recorded.

    report.py DIR

DIR holds `meta` (settings, notes), `allocators` (column order),
`results.tsv` (workload, allocator, run, wall seconds, peak RSS KiB, exit
status, CPU seconds, minor page faults), `idle.tsv` if the idle-return
measurement ran (allocator, RSS KiB above start after the frees, at +2,
+12, +25 s), `failures`, and `callgrind.NAME.out` files of the fastpath program;
it writes the instruction counts to `fastpath.tsv` (pattern, allocator,
instructions per pair) as well.

Medians are over the successful runs, all of them: a workload and allocator
whose median was short ran more times than the others (run.sh's
JM_BENCH_SHORT and JM_BENCH_MAX_RUNS), and the header says how many runs
each had. The time table gives, beside each ratio to the best anchor, the
lowest and highest ratio of two runs of the same repetition (run next to
each other), and a table of every allocator's fastest and slowest run
shows the noise. glibc, jemalloc, mimalloc and tcmalloc
are the anchors; every other column (jmalloc, and variants such as
jmalloc-nostats) is compared with each of them and with the best of them on
each workload, by geometric means of per-workload ratios, over the workloads
on which every column succeeded. The targets checked at the end are those
of the performance issue.
"""
import math
import os
import re
import statistics
import sys
import textwrap

ANCHORS = ["glibc", "jemalloc", "mimalloc", "tcmalloc"]
SINGLE_THREADED = ["glibc-simple", "cfrac", "larson@1t", "rptest@1t", "mstress@1t", "glibc-thread@1t"]
PATTERNS = [
    ("m16", "malloc(16) then free, repeated"),
    ("m1024", "malloc(1024) then free, repeated"),
    ("rev64", "1000 x malloc(64), freed in reverse"),
    ("rand64", "1000 x malloc(64), freed in random order"),
    ("mixed", "1000 x mixed sizes <= 1024, random order"),
]


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    if not xs:
        return float("nan")
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def fmt(x, width=9, prec=3):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-".rjust(width)
    return f"{x:{width}.{prec}f}"


def callee_costs(path):
    """Per function of the callgrind output: the inclusive cost of the calls
    it makes (inclusive minus self)."""
    names, cost, cur, pending = {}, {}, None, False
    fn_re = re.compile(r"^(c?fn)=\((\d+)\)(?: (.*))?$")
    with open(path) as f:
        for line in f:
            m = fn_re.match(line.rstrip("\n"))
            if m:
                kind, ident, name = m.groups()
                if name:
                    names[ident] = name
                if kind == "fn":
                    cur = names.get(ident, ident)
                continue
            if line.startswith("calls="):
                pending = True
                continue
            if pending and line[:1] in "0123456789+-*":
                parts = line.split()
                if len(parts) >= 2:
                    cost[cur] = cost.get(cur, 0) + int(parts[1])
                pending = False
    return cost


def main():
    d = sys.argv[1]
    meta = {}
    notes = []
    alloc_desc = []
    with open(os.path.join(d, "meta")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            if k == "note":
                notes.append(v)
            elif k == "allocator":
                alloc_desc.append(v)
            else:
                meta[k] = v
    with open(os.path.join(d, "allocators")) as f:
        allocs = [l.strip() for l in f if l.strip()]
    anchors = [a for a in ANCHORS if a in allocs]
    subjects = [a for a in allocs if a not in ANCHORS]

    times, rss, failed, workloads, single = {}, {}, set(), [], []
    faults = {}
    nruns = {}       # (workload, allocator) -> runs recorded, failed ones too
    by_rep = {}      # (workload, allocator) -> {repetition: wall time}, successful runs
    cpu_share = []   # CPU time / wall time of the single-threaded workloads
    with open(os.path.join(d, "results.tsv")) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            w, a, rep, wall, kib, status, cpu = parts[:7]
            nruns[(w, a)] = nruns.get((w, a), 0) + 1
            if len(parts) > 7:
                faults.setdefault((w, a), []).append(int(parts[7]) / 1000.0)
            if w.endswith("@1t"):
                if w not in single:
                    single.append(w)
            elif w not in workloads:
                workloads.append(w)
            if status != "0":
                failed.add((w, a))
                continue
            times.setdefault((w, a), []).append(float(wall))
            by_rep.setdefault((w, a), {})[rep] = float(wall)
            if w in SINGLE_THREADED and float(wall) > 0.2:
                cpu_share.append(float(cpu) / float(wall))
            rss.setdefault((w, a), []).append(int(kib) / 1024.0)

    def med(table, w, a):
        if (w, a) in failed or (w, a) not in table:
            return None
        return statistics.median(table[(w, a)])

    print(f"jmalloc benchmark suite: commit {meta.get('commit')}, {meta.get('date')}")
    runs = int(meta.get("runs", "1"))
    max_runs = int(meta.get("max_runs", runs))
    print(f"{meta.get('host')}; {meta.get('threads')} threads, {runs} run{'s' if runs != 1 else ''} each "
          f"(medians), scale {meta.get('scale')}, {meta.get('seconds')} s in all")
    if max_runs > runs:
        cut = meta.get("extra_cut")
        spent = (f"{meta.get('extra_seconds')} s; the budget of {meta.get('extra_budget')} s "
                 f"stopped them before {cut}" if cut else
                 f"{meta.get('extra_seconds')} s of a budget of {meta.get('extra_budget')} s")
        print(textwrap.fill(
            f"then up to {max_runs} runs of a workload under each allocator whose median of those "
            f"was under {meta.get('short')} s, interleaved likewise ({spent}); medians are over all "
            f"runs. Runs per workload:", width=100, initial_indent="  ", subsequent_indent="  "))
        groups = {}
        for w in workloads + single:
            counts = {a: nruns.get((w, a), 0) for a in allocs}
            top = max(counts.values())
            odd = ", ".join(f"{a} {n}" for a, n in counts.items() if n != top)
            groups.setdefault(top, []).append(w + (f" ({odd})" if odd else ""))
        for n in sorted(groups, reverse=True):
            print(textwrap.fill(", ".join(groups[n]), width=100,
                                initial_indent=f"    {n} run{'s' if n != 1 else ''}: ",
                                subsequent_indent=" " * 12))
    for desc in alloc_desc:
        print(f"  {desc}")
    for n in notes:
        print(f"  NOTE: {n}")
    print(f"  load average: {meta.get('load')}")
    if cpu_share:
        share = statistics.median(cpu_share)
        print(f"  single-threaded runs had {100 * share:.0f}% of a CPU (median)")
        if share < 0.9:
            print("  WARNING: the machine was busy with other work during this run: times are")
            print("  inflated and noisy, and thread scaling is not meaningful. Re-run on an idle machine.")
    print()

    complete = [w for w in workloads if all(med(times, w, a) is not None for a in allocs)]

    def best_anchor(tab, w):
        vs = [(med(tab, w, a), a) for a in anchors]
        vs = [v for v in vs if v[0]]
        return min(vs)[1] if vs else None

    def rep_range(w, s):
        """The lowest and highest ratio of s's wall time to the best
        anchor's (by median) over the repetitions in which both ran."""
        b = best_anchor(times, w)
        if b is None or (w, s) in failed or (w, b) in failed:
            return None
        sr, br = by_rep.get((w, s), {}), by_rep.get((w, b), {})
        rs = [sr[r] / br[r] for r in sr if r in br and br[r] > 0]
        return (min(rs), max(rs)) if rs else None

    def fmt_range(r, width):
        return (f"{r[0]:.2f}-{r[1]:.2f}" if r else "-").rjust(width)
    col = max(9, max(len(a) for a in allocs) + 1)

    def table(title, tab, prec, best_fn, ranges=False):
        print(title)
        head = f"{'workload':<14}" + "".join(a.rjust(col) for a in allocs)
        for s in subjects:
            head += "  |" + "".join(f"{s}/{x}".rjust(max(col, len(s) + len(x) + 2)) for x in anchors)
            head += f"{s}/best".rjust(max(col, len(s) + 6))
            if ranges:
                head += "per run".rjust(12)
        print(head)
        for w in workloads:
            row = f"{w:<14}"
            for a in allocs:
                v = med(tab, w, a)
                row += ("FAIL".rjust(col) if (w, a) in failed else fmt(v, col, prec))
            for s in subjects:
                sv = med(tab, w, s)
                row += "  |"
                for x in anchors:
                    xv = med(tab, w, x)
                    r = sv / xv if sv and xv else None
                    row += fmt(r, max(col, len(s) + len(x) + 2), 2)
                bv = best_fn(w)
                row += fmt(sv / bv if sv and bv else None, max(col, len(s) + 6), 2)
                if ranges:
                    row += fmt_range(rep_range(w, s), 12)
            print(row)
        print()

    def best(tab):
        def f(w):
            vs = [med(tab, w, a) for a in anchors]
            vs = [v for v in vs if v]
            return min(vs) if vs else None
        return f

    best_time, best_rss = best(times), best(rss)
    table("Median wall time (s); ratios of each non-anchor column to each anchor; per run: the lowest\n"
          "and highest ratio to the best anchor of two runs in the same repetition", times, 3, best_time,
          ranges=True)
    table("Peak RSS (MiB), median; ratios likewise", rss, 1, best_rss)
    best_faults = best(faults)
    if faults:
        table("Minor page faults (thousands, ru_minflt), median; ratios to the anchors and the fewest",
              faults, 1, best_faults)

    # Idle return: RSS above start after the frees and later, no allocator call.
    ipath = os.path.join(d, "idle.tsv")
    idle = {}
    if os.path.exists(ipath):
        for line in open(ipath):
            f = line.rstrip("\n").split("\t")
            if len(f) == 5 and all(x.lstrip("-").isdigit() for x in f[1:]):
                idle[f[0]] = [int(x) / 1024.0 for x in f[1:]]
        if idle:
            print("Idle return: 2 threads allocate 256 MiB of mixed sizes, free 95%, then make no")
            print("allocator call; RSS above the process's start (MiB)")
            print(f"{'':<14}" + "".join(h.rjust(10) for h in ("freed", "+2 s", "+12 s", "+25 s")))
            for a in allocs:
                if a in idle:
                    print(f"{a:<14}" + "".join(fmt(v, 10, 1) for v in idle[a]))
            print()

    # Geometric means: every column over every denominator.
    print(f"Geometric means over the {len(complete)} workloads on which every allocator succeeded "
          f"(column / row; < 1 means the column is faster or leaner)")
    print(f"{'':<34}" + "".join(a.rjust(col) for a in allocs))
    stats = {}
    for label, tab, bestf in (("time", times, best_time), ("peak RSS", rss, best_rss)):
        for den in allocs + ["best"]:
            vals = []
            for a in allocs:
                rs = []
                for w in complete:
                    av = med(tab, w, a)
                    dv = bestf(w) if den == "best" else med(tab, w, den)
                    if av and dv:
                        rs.append(av / dv)
                g = geomean(rs)
                stats[(label, a, den)] = g
                stats[(label, a, den, "max")] = max(rs) if rs else float("nan")
                vals.append(g)
            name = (f"{label} / best of the anchors" if den == "best" else f"{label} / {den}")
            print(f"{name:<34}" + "".join(fmt(v, col, 3) for v in vals))
        worst = [stats[(label, a, "best", "max")] for a in allocs]
        print(f"{label + ' worst / best of anchors':<34}" + "".join(fmt(v, col, 2) for v in worst))
    for label, tab in (("fastest on", times), ("leanest on", rss)):
        counts = {a: 0 for a in allocs}
        for w in complete:
            vs = {a: med(tab, w, a) for a in allocs}
            counts[min(vs, key=vs.get)] += 1
        print(f"{label + f' (of {len(complete)})':<34}" + "".join(str(counts[a]).rjust(col) for a in allocs))
    print()

    # Thread scaling: the work per thread is fixed, so the throughput of T
    # threads over that of one is T * time(1 thread) / time(T threads).
    scal = {}
    if single:
        nthreads = int(meta.get("threads", "1"))
        print(f"Thread scaling: throughput with {nthreads} threads / with 1 thread "
              f"(the work per thread is fixed; {nthreads:.1f} is perfect)")
        print(f"{'workload':<14}" + "".join(a.rjust(col) for a in allocs))
        per = {a: [] for a in allocs}
        for w1 in single:
            w = w1[:-3]
            row = f"{w:<14}"
            for a in allocs:
                t1, tn = med(times, w1, a), med(times, w, a)
                r = nthreads * t1 / tn if t1 and tn else None
                if r:
                    per[a].append(r)
                    scal[(w, a)] = r
                row += fmt(r, col, 2)
            print(row)
        print(f"{'geomean':<14}" + "".join(fmt(geomean(per[a]), col, 2) for a in allocs))
        print()

    # Fast path under callgrind.
    pairs_file = os.path.join(d, "callgrind.pairs")
    fast = {}
    if os.path.exists(pairs_file):
        pairs = int(open(pairs_file).read())
        for a in allocs:
            p = os.path.join(d, f"callgrind.{a}.out")
            if not os.path.exists(p):
                continue
            c = callee_costs(p)
            for key, _ in PATTERNS:
                if f"{key}_a" in c and f"{key}_b" in c:
                    fast[(key, a)] = (c[f"{key}_b"] - c[f"{key}_a"]) / pairs
        with open(os.path.join(d, "fastpath.tsv"), "w") as f:
            for (key, a), v in fast.items():
                f.write(f"{key}\t{a}\t{v:.1f}\n")
        print(f"Fast path: instructions per malloc+free pair (callgrind, allocator only: "
              f"calls from the pattern loop, {2 * pairs} minus {pairs} pairs)")
        head = f"{'pattern':<42}" + "".join(a.rjust(col) for a in allocs) + "best anchor".rjust(12)
        for s in subjects:
            head += f"{s}/best".rjust(max(col, len(s) + 6))
        print(head)
        for key, desc in PATTERNS:
            row = f"{desc:<42}"
            for a in allocs:
                row += fmt(fast.get((key, a)), col, 1)
            av = [fast[(key, a)] for a in anchors if (key, a) in fast]
            b = min(av) if av else None
            row += fmt(b, 12, 1)
            for s in subjects:
                sv = fast.get((key, s))
                row += fmt(sv / b if sv and b else None, max(col, len(s) + 6), 2)
            print(row)
        print()

    # The targets of the performance issue, for each non-anchor column.
    nthreads_cfg = int(meta.get("threads", "1"))
    if len(anchors) == 4:
        for s in subjects:
            print(f"Targets for {s} (issue 3)")
            checks = [
                ("time", "jemalloc", 1.00), ("time", "mimalloc", 1.00), ("time", "tcmalloc", 1.00),
                ("time", "glibc", 0.85), ("time", "best", 1.10),
                ("peak RSS", "jemalloc", 1.00), ("peak RSS", "best", 1.25),
            ]
            for label, den, limit in checks:
                g = stats.get((label, s, den), float("nan"))
                ok = "met " if g <= limit else "MISS"
                dn = "best of the anchors" if den == "best" else den
                print(f"  {ok} {label} geomean {s}/{dn} = {g:.3f} (target <= {limit:.2f})")
            for label, limit in (("time", 1.3), ("peak RSS", 1.5)):
                tab = times if label == "time" else rss
                bestf = best_time if label == "time" else best_rss
                over = [(w, med(tab, w, s) / bestf(w)) for w in complete
                        if med(tab, w, s) and bestf(w) and med(tab, w, s) / bestf(w) > limit]
                ok = "MISS" if over else "met "
                detail = ", ".join(f"{w} {r:.2f}" + (f" (per run {fmt_range(rep_range(w, s), 0)}, "
                                                     f"{nruns.get((w, s), 0)} runs)" if tab is times else "")
                                   for w, r in over) or "none"
                print(f"  {ok} {label}: no workload above {limit} x the best anchor (above: {detail})")
            if faults:
                over = [(w, med(faults, w, s) / best_faults(w)) for w in complete
                        if med(faults, w, s) and best_faults(w) and med(faults, w, s) / best_faults(w) > 1.5]
                ok = "MISS" if over else "met "
                detail = ", ".join(f"{w} {r:.2f}" for w, r in over) or "none"
                print(f"  {ok} minor faults: no workload above 1.5 x the fewest of the anchors (above: {detail})")
            if s in idle and "jemalloc" in idle:
                sv, jv = idle[s][3], idle["jemalloc"][3]
                ok = "met " if sv <= jv else "MISS"
                print(f"  {ok} idle return: {sv:.1f} MiB above start 25 s after the frees "
                      f"(jemalloc {jv:.1f} MiB)")
            if nthreads_cfg == 2:
                for (w, a), r in sorted(scal.items()):
                    if a == s:
                        ok = "met " if r >= 1.7 else "MISS"
                        print(f"  {ok} threads: {w}, 2 threads give {r:.2f} x the throughput of 1 (target >= 1.7)")
            if fast:
                for key, desc in PATTERNS:
                    sv = fast.get((key, s))
                    av = [fast[(key, a)] for a in anchors if (key, a) in fast]
                    if sv is None or not av:
                        continue
                    ok = "met " if sv <= min(av) + 0.5 else "MISS"
                    print(f"  {ok} fast path, {desc}: {sv:.1f} instructions (best anchor {min(av):.1f})")
            print()

    # Noise: every allocator's fastest and slowest run of each workload.
    print("Wall time of the fastest and slowest run (s), and the runs behind each median")
    wcol = max(16, col + 4)
    print(f"{'workload':<16}" + "".join(a.rjust(wcol) for a in allocs))
    for w in workloads + single:
        row = f"{w:<16}"
        for a in allocs:
            vs = times.get((w, a))
            cell = "FAIL" if (w, a) in failed or not vs else \
                f"{min(vs):.2f}-{max(vs):.2f} ({nruns.get((w, a), 0)})"
            row += cell.rjust(wcol)
        print(row)
    print()

    fpath = os.path.join(d, "failures")
    if os.path.exists(fpath) and os.path.getsize(fpath) > 0:
        print("FAILURES")
        print(open(fpath).read().rstrip())
    else:
        print("All runs succeeded and gave the same output under every allocator.")


if __name__ == "__main__":
    main()
