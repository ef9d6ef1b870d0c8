#!/usr/bin/env bash
# A heap profile's strings come from the processes: the module paths of
# their segments (and, in jmctl's, the function and file names of the
# files they mapped), any bytes but NUL. `go tool pprof` prints them as
# they are on the terminal of whoever reads the profile (root's, for the
# merged /exe/NAME that a user's process named as root's service joins),
# and a proto3 reader refuses a string that is not UTF-8. Here a process
# of nobody's, its segment forged, names every module with escape
# sequences (ESC, BEL, a C1 CSI), a right-to-left override, a byte that is
# not UTF-8 and an e-acute: in /pid/PID, /exe/NAME and (another such
# process's, without the byte that is not UTF-8) `jmctl sites PID --pprof
# FILE`, every string is UTF-8 with no control and no bidi override, each
# refused byte a '?', the e-acute kept. Before, the path went out as it
# was.
# timeout: 90
. "$(dirname "$0")/../lib.sh"
need_users "run a process as nobody"
need_cmd curl
need_jmctl
[ -x "$JM_HELPERS/stress_segwriter" ] || skip "stress_segwriter helper not built"
export PYTHONPATH=$JM_ROOT/tests/pprof
cd "$JM_TMP"
jmd_start --metrics 127.0.0.1:0 --pprof
forge() {   # forge NAME MODULE_PATH_AS_PYTHON_BYTES: a process of nobody's, PID set
	setpriv --reuid=65534 --regid=65534 --clear-groups sleep 600 &
	PID=$!
	PIDS+=("$PID")
	python3 - "$JM_HELPERS/stress_segwriter" "$JMD_STATS/$(jm_segment_name "$PID")" "$PID" "$1" "$2" <<'PY' ||
import ast, os, subprocess, sys
w, path, pid, exe, mod = sys.argv[1:]
def drop():
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
subprocess.run([w.encode(), b"write", path.encode(), pid.encode(), b"65534", b"exe=" + exe.encode(),
                b"sites=8", b"modules=2", b"modpath=" + ast.literal_eval(mod)], preexec_fn=drop,
               check=True, capture_output=True)
PY
		fail "forging the segment of $PID"
}
# ESC [2J, ESC ]0;x BEL, U+009B (C1 CSI), U+202E (right-to-left
# override), then e-acute (kept); the first with a byte that is not
# UTF-8 too (0xff), which the daemon's JSON leaves out (jmctl's profile
# has no path for it then: the second is jmctl's).
forge evil 'b"/synth/\x1b[2J\x1b]0;x\x07\xc2\x9b\xe2\x80\xae\xff-lib\xc3\xa9.so"'
P1=$PID
forge evil2 'b"/synth/\x1b[2J\x1b]0;x\x07\xc2\x9b\xe2\x80\xae-lib\xc3\xa9.so"'
P2=$PID
wait_sampled "$P1"
wait_sampled "$P2"
sleep 0.5
for f in "pid/$P1" exe/evil "pid/$P2"; do
	code=$(http_get "/$f/debug/pprof/heap" "$(echo "$f" | tr / _).pb.gz")
	[ "$code" = 200 ] || fail "GET /$f/debug/pprof/heap: $code"
done
"$JMCTL" --socket "$JMD_SOCK" sites "$P2" --pprof "$JM_TMP/jmctl.pb.gz" >/dev/null ||
	fail "jmctl sites $P2 --pprof"
python3 - "pid_$P1.pb.gz" exe_evil.pb.gz "pid_$P2.pb.gz" jmctl.pb.gz <<'PY' || fail "a profile's strings as the process wrote them"
import sys, unicodedata, profile
bidi = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
for i, path in enumerate(sys.argv[1:]):
    want = "/synth/?[2J?]0;x%s-lib\u00e9.so" % ("?" * (7 if i < 2 else 6))
    p = profile.load(path)      # each string decoded as UTF-8: a byte that is not fails
    st = p["string_table"]
    for s in st:
        assert not any(unicodedata.category(ch) == "Cc" or ch in bidi for ch in s), (path, s)
    names = {st[m["filename"]] for m in p["mapping"]}
    assert want in names, (path, names)
    print("%s: mappings %s" % (path, sorted(names)))
PY
kill -0 "$JMD_PID" || fail "jmstatd died"
ok "a profile's strings: printable UTF-8, each refused byte a '?'"
