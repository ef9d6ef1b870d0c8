#!/usr/bin/env bash
# The sites reply is in the order of the live bytes it gives (bounded,
# docs/sites.md), so that "n":K gives the K sites that hold the most: a
# site whose estimate the bound brought down comes after one that holds
# more. Until session 35 the reply was sorted by the raw estimates: here
# keep_first (200,000 objects of 64 B, the first of each page kept, so
# every sampled one: raw some 12 MB, bounded to what the class holds,
# about 0.2 MB) came before hold_big (one 4 MiB buffer), and "n":1 gave
# keep_first's 0.2 MB.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_sites
cd "$JM_TMP"

cat >order.c <<'C'
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *objs[200000];
static void *big;

__attribute__((noinline)) static void keep_first(void)
{
	uintptr_t last = 0;
	for (int i = 0; i < 200000; i++)
		if (!(objs[i] = malloc(64)))
			abort();
	for (int i = 0; i < 200000; i++) {
		uintptr_t page = (uintptr_t)objs[i] >> 12;
		if (page != last)
			last = page;
		else
			free(objs[i]);
	}
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void hold_big(void)
{
	if (!(big = malloc(4 << 20)))
		abort();
	memset(big, 1, 4 << 20);
	__asm__ volatile("" ::: "memory");
}

int main(void)
{
	keep_first();
	hold_big();
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
C
build_c order order.c -fno-optimize-sibling-calls
# keep_first's raw estimate must stay above hold_big's 4 MiB (the premise
# that the old order differed): at the default rate some 25 samples of its
# 12.8 MB carry it (7.3 MB in one clean-clone CI run, under the 8 MiB this
# checks); at 64 KiB some 200 (within 10% or so).
export JMALLOC_CONF=prof_sample:65536
jmd_start
start_ready ./order
P=$LAST_PID
wait_sampled "$P"

python3 - "$JMD_SOCK" "$P" <<'PY' || fail "the sites reply is not in the order of its live bytes"
import json, socket, sys
def ask(req):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall((json.dumps(req) + "\n").encode())
    s.shutdown(socket.SHUT_WR)
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    return json.loads(data)
pid = int(sys.argv[2])
full = ask({"cmd": "sites", "pid": pid})
one = ask({"cmd": "sites", "pid": pid, "n": 1})
assert full["ok"] and one["ok"], (full.get("error"), one.get("error"))
live = [s["live_bytes"] for s in full["sites"]]
raw = [s.get("estimated_bytes", s["live_bytes"]) for s in full["sites"]]
print("live bytes in reply order: %s; raw: %s" % (live[:4], raw[:4]))
assert any(s["bounded"] for s in full["sites"]), "no site brought down: the test shows nothing"
assert max(raw) > 8 << 20 and max(live) >= 4 << 20, (max(raw), max(live))
assert live == sorted(live, reverse=True), live
assert one["sites"][0]["live_bytes"] == max(live), (one["sites"][0]["live_bytes"], max(live))
PY
ok "the sites reply sorted by its bounded live bytes; n:1 gives the site holding the most"
