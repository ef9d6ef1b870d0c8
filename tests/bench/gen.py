#!/usr/bin/env python3
"""Generates the inputs of the real-program workloads.

    gen.py sqlite SCALE OUT   an SQL script: builds a table of 100000*SCALE
                              rows in an in-memory database, indexes it,
                              groups, joins, updates, deletes, sorts
    gen.py cxx SCALE OUT      a C++ translation unit of 2*SCALE template-heavy
                              classes (std::map, std::vector, std::string,
                              std::function, algorithms) for g++ to compile;
                              below SCALE 0.5, a tiny unit

The output depends on SCALE alone, so every allocator sees the same input.
"""
import sys


def sqlite(scale, out):
    rows = max(200, int(100000 * scale))
    out.write(f"""PRAGMA cache_size=-262144;
CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<{rows})
INSERT INTO t SELECT i, (i*7919)%1000,
  printf('name-%08d-%s', (i*104729)%{rows}, substr('abcdefghijklmnopqrstuvwxyz', 1+i%26)),
  i*0.25 FROM s;
CREATE INDEX t_a ON t(a);
CREATE INDEX t_b ON t(b);
SELECT count(*), sum(a), count(DISTINCT b) FROM t;
SELECT a, count(*), sum(c) FROM t GROUP BY a ORDER BY count(*) DESC, a LIMIT 5;
CREATE TABLE u AS SELECT a, group_concat(b, ',') AS names FROM t GROUP BY a;
SELECT count(*), sum(length(names)) FROM u;
UPDATE t SET b = b || '-x' WHERE a % 3 = 0;
DELETE FROM t WHERE a % 5 = 0;
SELECT count(*), sum(length(b)) FROM t;
SELECT count(*), sum(length(u.names)) FROM t AS x JOIN u ON u.a = x.a WHERE x.id % 97 = 0;
SELECT b FROM t ORDER BY b DESC LIMIT 3;
SELECT substr(b, 6, 3) AS k, count(*), min(id), max(id) FROM t GROUP BY k ORDER BY k LIMIT 4;
""")


def cxx(scale, out):
    if scale < 0.5:
        # The smoke run: a small unit, so that g++ starts, parses and emits.
        out.write("#include <string>\n#include <vector>\n"
                  "size_t total(const std::vector<std::string> &v) {\n"
                  "    size_t n = 0;\n    for (const auto &s : v) n += s.size();\n    return n;\n}\n")
        return
    classes = max(1, int(2 * scale))
    out.write("""#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

template <typename K, typename V>
struct Registry {
    std::map<K, std::vector<V>> items;
    std::unordered_map<std::string, std::function<V(const V &)>> hooks;
    void add(const K &k, const V &v) { items[k].push_back(v); }
    template <typename F> size_t count_if(F f) const {
        size_t n = 0;
        for (const auto &kv : items) n += std::count_if(kv.second.begin(), kv.second.end(), f);
        return n;
    }
};
""")
    for i in range(classes):
        out.write(f"""
struct Item{i} {{
    std::string name;
    std::vector<int> values;
    std::map<std::string, double> weights;
    bool operator<(const Item{i} &o) const {{ return name < o.name; }}
}};

std::string describe{i}(const std::vector<Item{i}> &items) {{
    Registry<std::string, Item{i}> reg;
    for (const auto &it : items) reg.add(it.name.substr(0, {1 + i % 5}), it);
    reg.hooks["twice"] = [](const Item{i} &x) {{ Item{i} y = x; y.values.insert(y.values.end(), x.values.begin(), x.values.end()); return y; }};
    std::vector<Item{i}> sorted(items);
    std::sort(sorted.begin(), sorted.end());
    std::ostringstream os;
    size_t big = reg.count_if([](const Item{i} &x) {{ return x.values.size() > {i % 7}; }});
    double total = 0;
    for (const auto &it : sorted)
        total += std::accumulate(it.values.begin(), it.values.end(), 0.0) +
                 std::accumulate(it.weights.begin(), it.weights.end(), 0.0,
                                 [](double a, const std::pair<const std::string, double> &p) {{ return a + p.second; }});
    os << "{i}:" << big << ":" << total << ":" << reg.hooks.size();
    auto shared = std::make_shared<std::vector<std::string>>();
    std::transform(sorted.begin(), sorted.end(), std::back_inserter(*shared), [](const Item{i} &x) {{ return x.name + "/{i}"; }});
    std::unique_ptr<std::map<std::string, size_t>> idx(new std::map<std::string, size_t>);
    for (size_t k = 0; k < shared->size(); k++) (*idx)[(*shared)[k]] = k;
    os << ":" << idx->size();
    return os.str();
}}
""")


def main():
    kind, scale, path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    with open(path, "w") as out:
        {"sqlite": sqlite, "cxx": cxx}[kind](scale, out)


if __name__ == "__main__":
    main()
