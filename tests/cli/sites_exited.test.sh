#!/usr/bin/env bash
# jmctl sites of a process that exited between the daemon's reply and
# jmctl's reading of /proc/PID/maps (an export racing the process's exit)
# names each frame by module and file offset from the module table the
# reply carries (as the pprof export and the daemon's log do), and says on
# stderr why the functions are not named. It printed bare runtime
# addresses and said nothing: jmctl, as root, found no owner for the pid
# and left the frames raw.
# Deterministic: the real daemon's reply for a real program is recorded,
# the program is stopped and reaped, and a stand-in daemon on a socket of
# ours answers `sites` with that reply.
# timeout: 90
. "$(dirname "$0")/../lib.sh"
need_sites
cd "$JM_TMP"

build_holders holders
jmd_start
export JMALLOC_CONF=prof_sample:65536
start_ready ./holders 4096 512 256 8192
P=$LAST_PID
jmd_py - "$P" >reply.json <<'PY' || fail "the sites reply"
import json, sys
from jmd import request
r = request({"cmd": "sites", "pid": int(sys.argv[1])})
assert r.get("ok") and r.get("sites") and r.get("modules"), r
print(json.dumps(r))
PY
LAYOUT=$("$JMCTL" --socket "$JMD_SOCK" --json status |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["layout_version"])')
kill -9 "$P"
wait "$P" 2>/dev/null
[ -e "/proc/$P" ] && fail "process $P is still there"

cat >fake.py <<'PY'
import json, os, socket, sys
path, layout, reply = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "rb").read().strip() + b"\n"
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(4)
while True:
    c, _ = s.accept()
    f = c.makefile("rb")
    f.readline()
    c.sendall(json.dumps({"ok": True, "version": "0.1.0", "layout_version": layout,
                          "interval_ms": 200}).encode() + b"\n")
    while f.readline():
        c.sendall(reply)
    c.close()
PY
python3 fake.py "$JM_TMP/fake.sock" "$LAYOUT" reply.json 2>fake.err &
FAKE=$!
at_exit 'kill $FAKE 2>/dev/null'
for _ in $(seq 100); do [ -S fake.sock ] && break; sleep 0.1; done
[ -S fake.sock ] || fail "the stand-in daemon did not start: $(cat fake.err)"

"$JMCTL" --socket "$JM_TMP/fake.sock" sites "$P" >text.out 2>text.err || fail "jmctl sites: $(cat text.err)"
cat text.out text.err
grep -Eq "^ +holders\+0x[0-9a-f]+ *$" text.out ||
	fail "no frame of the exited process named by its module and offset"
grep -Eq "^ +0x[0-9a-f]{6,}" text.out && fail "a frame of the exited process left as a bare address"
grep -q "has exited" text.err || fail "stderr does not say why the functions are not named"
ok "jmctl sites of an exited process: frames as module+offset, and why"

"$JMCTL" --socket "$JM_TMP/fake.sock" --json sites "$P" >json.out 2>/dev/null || fail "jmctl --json sites"
python3 - <<'PY' || fail "--json frames of the exited process"
import json
sites = json.load(open("json.out"))["sites"]
mods = [f["module"] for s in sites for f in s["frames"]]
assert "holders" in mods and all(f.get("offset") for s in sites for f in s["frames"] if f["module"]), mods
PY
ok "--json: module and offset of each frame of the exited process"
