# A python3 script of many small objects (a dict of 100,000 strings and
# lists) and some large ones (3,000 byte strings of up to 10 KB, one of
# 8 MiB); prints their counts and sizes. tests/preload/rlimit_as.test.sh
# and rlimit_data.test.sh run it under a limit, with PYTHONMALLOC=malloc.
d = {}
for i in range(100000):
    d[str(i) * (i % 7 + 1)] = [i] * (i % 13)
big = [bytes(i % 251) * 40 for i in range(3000)] + [bytes(8 << 20)]
print(len(d), sum(map(len, d.values())), sum(map(len, big)))
