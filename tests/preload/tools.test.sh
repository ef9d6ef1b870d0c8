#!/usr/bin/env bash
# Everyday tools under the allocator, each against the same run without it:
# sort (external merge with a tiny buffer, and multi-threaded), seq | sort
# -R, xz -T2 (multi-threaded compression and decompression), and a
# multi-threaded, object-heavy python3 script (json, re, collections,
# sorting, with PYTHONMALLOC=malloc).
# timeout: 240
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd sort seq xz awk python3 md5sum

data=$JM_TMP/data.txt
awk 'BEGIN { srand(7); for (i = 0; i < 300000; i++)
	printf "%d %s-%x %.3f\n", int(rand() * 1000000), substr("abcdefghijklmnopqrstuvwxyz", int(rand() * 26) + 1, int(rand() * 20) + 1), i * 7919, rand() * 1000 }' >"$data"
head -c 48 /dev/zero | tr '\0' 'x' >"$JM_TMP/random-source"
seq 1 100000 | md5sum >"$JM_TMP/random-source.more"
cat "$JM_TMP/random-source.more" "$data" >>"$JM_TMP/random-source"

jm_compare sort bash -c "
	sort -S 64K -T . '$data' | md5sum
	sort -n -k1,1 -k3,3gr --parallel=2 -S 32M '$data' | md5sum
	sort -u -k2,2 '$data' | wc -l
	sort -t- -k2,2 -s '$data' | tail -n 3"
jm_proof sort sort

jm_compare shuffle bash -c "seq 1 150000 | sort -R --random-source='$JM_TMP/random-source' | tee shuffled | md5sum
	sort -n shuffled | md5sum"
jm_proof shuffle seq sort

jm_compare xz bash -c "xz -T2 --block-size=1MiB -1 -c '$data' >out.xz && md5sum <out.xz &&
	xz -T2 -dc out.xz | md5sum && md5sum <'$data' && xz -l out.xz | tail -n 1 | awk '{print \$1, \$2, \$5}'"
jm_proof xz xz

cat >"$JM_TMP/threads.py" <<'PY'
import collections, json, re, threading

def work(n, out):
    rnd = n * 2654435761 % 2**32
    objs = []
    for i in range(4000):
        rnd = (rnd * 1103515245 + 12345) % 2**31
        objs.append({"id": i, "n": n, "key": "k%d" % (rnd % 997), "tags": ["t%d" % (rnd % (j + 3)) for j in range(rnd % 8)],
                     "text": "word%d " % (rnd % 50) * (rnd % 20)})
    text = json.dumps(objs)
    back = json.loads(text)
    counts = collections.Counter(o["key"] for o in back)
    words = collections.Counter(re.findall(r"word(\d+)", text))
    back.sort(key=lambda o: (o["key"], -o["id"]))
    chunks = [bytearray(o["text"].encode()) * 3 for o in back[:3000]]
    out[n] = (len(text), counts.most_common(3), sorted(words.items())[:3], back[0]["id"], sum(map(len, chunks)))

out = {}
for rnd in range(2):
    threads = [threading.Thread(target=work, args=(n, out)) for n in range(8 * rnd, 8 * rnd + 8)]
    for t in threads: t.start()
    for t in threads: t.join()
for n in sorted(out):
    print(n, out[n])
PY
jm_compare pythreads env PYTHONMALLOC=malloc python3 "$JM_TMP/threads.py"
jm_proof pythreads python3
echo "tools: sort, sort -R, xz -T2 and threaded python3: same output with and without jmalloc"
