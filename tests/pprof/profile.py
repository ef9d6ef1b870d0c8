"""profile.py: reads a gzip-compressed profile.proto with nothing but the
protobuf wire format, for the pprof tests: `load(path)` gives a dict with
the string table, sample types, period, default sample type and the
mappings, locations, functions and samples as lists of dicts, and
`check(p)` asserts what every consumer of the format relies on
(string_table[0] is "", ids nonzero and unique, references that resolve,
Go's heap profile sample types)."""
import gzip


def _varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def fields(b):
    """(field, value) pairs of one message; value an int or bytes."""
    i, out = 0, []
    while i < len(b):
        key, i = _varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = int.from_bytes(b[i:i + 8], "little"), i + 8
        elif wt == 5:
            v, i = int.from_bytes(b[i:i + 4], "little"), i + 4
        else:
            raise ValueError("wire type %d" % wt)
        out.append((f, v))
    return out


def _packed(v):
    if isinstance(v, int):
        return [v]
    out, i = [], 0
    while i < len(v):
        x, i = _varint(v, i)
        out.append(x)
    return out


def _msg(b, names, repeated=()):
    d = {n: ([] if n in repeated else 0) for n in names.values()}
    for f, v in fields(b):
        n = names.get(f)
        if n is None:
            continue
        if n in repeated:
            d[n].extend(_packed(v) if not isinstance(v, bytes) or n not in ("label", "line") else [v])
        else:
            d[n] = v
    return d


def load(path):
    raw = gzip.open(path).read() if isinstance(path, str) else gzip.decompress(path)
    p = {"sample_type": [], "sample": [], "mapping": [], "location": [], "function": [],
         "string_table": [], "period_type": None, "period": 0, "default_sample_type": 0,
         "time_nanos": 0}
    for f, v in fields(raw):
        if f == 1:
            p["sample_type"].append(_msg(v, {1: "type", 2: "unit"}))
        elif f == 2:
            s = _msg(v, {1: "location_id", 2: "value", 3: "label"}, ("location_id", "value", "label"))
            s["label"] = [_msg(l, {1: "key", 2: "str", 3: "num"}) for l in s["label"]]
            p["sample"].append(s)
        elif f == 3:
            p["mapping"].append(_msg(v, {1: "id", 2: "memory_start", 3: "memory_limit",
                                         4: "file_offset", 5: "filename", 6: "build_id",
                                         7: "has_functions"}))
        elif f == 4:
            l = _msg(v, {1: "id", 2: "mapping_id", 3: "address", 4: "line"}, ("line",))
            l["line"] = [_msg(x, {1: "function_id", 2: "line"}) for x in l["line"]]
            p["location"].append(l)
        elif f == 5:
            p["function"].append(_msg(v, {1: "id", 2: "name", 3: "system_name", 4: "filename"}))
        elif f == 6:
            p["string_table"].append(v.decode())
        elif f == 9:
            p["time_nanos"] = v
        elif f == 11:
            p["period_type"] = _msg(v, {1: "type", 2: "unit"})
        elif f == 12:
            p["period"] = v
        elif f == 14:
            p["default_sample_type"] = v
    return p


def s(p, i):
    return p["string_table"][i]


def check(p, default):
    st = p["string_table"]
    assert st and st[0] == "", st[:3]
    types = [(s(p, t["type"]), s(p, t["unit"])) for t in p["sample_type"]]
    assert types == [("alloc_objects", "count"), ("alloc_space", "bytes"),
                     ("inuse_objects", "count"), ("inuse_space", "bytes")], types
    assert (s(p, p["period_type"]["type"]), s(p, p["period_type"]["unit"])) == ("space", "bytes")
    assert p["period"] > 0
    assert s(p, p["default_sample_type"]) == default, s(p, p["default_sample_type"])
    for kind in ("mapping", "location", "function"):
        ids = [x["id"] for x in p[kind]]
        assert all(i > 0 for i in ids) and len(set(ids)) == len(ids), (kind, ids)
    maps = {m["id"] for m in p["mapping"]}
    locs = {l["id"] for l in p["location"]}
    funcs = {f["id"] for f in p["function"]}
    assert all(l["mapping_id"] == 0 or l["mapping_id"] in maps for l in p["location"])
    assert all(x["function_id"] in funcs for l in p["location"] for x in l["line"])
    for smp in p["sample"]:
        assert smp["location_id"] and all(i in locs for i in smp["location_id"]), smp
        assert len(smp["value"]) == 4, smp
        assert [s(p, l["key"]) for l in smp["label"]] == ["bytes"], smp["label"]
    for m in p["mapping"]:
        assert s(p, m["filename"]) and len(s(p, m["build_id"])) in (0, 40), m
