#!/usr/bin/env bash
# timeout: 60
# Where root's `jmctl sites PID --pprof FILE` writes: into /tmp, say, where
# another user may have planted FILE first. A symlink of nobody's to a file
# of root's made jmctl overwrite that file with the profile (on a host
# whose kernel does not protect symlinks in sticky directories, as this
# one may not), and so did a hard link. Now jmctl creates FILE without
# following a symlink, follows only its own or root's, and overwrites only
# its own regular file with no other link; a refusal says why and what to
# do, exits 1, and leaves the file as it was. A FIFO of nobody's at FILE
# (its reader waiting) was given root's profile, the heap of whatever
# process root asked about (and with no reader yet, jmctl waited for
# one): a file that is not regular is now written only when it is the
# caller's or root's (a FIFO of root's, /dev/null, a pipe of the shell's
# such as >(...)), opened without waiting for a reader to see whose it is.
# `--pprof -` on a terminal is refused (gzip is not for a terminal).
. "$(dirname "$0")/../lib.sh"
need_segments
need_jmctl
[ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null || skip "needs root and setpriv (nobody's files)"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
jmd_start
JMALLOC_CONF=prof_sample:4096 start_preloaded sleep 600
PID=$LAST_PID
wait_seen "$PID"

T=$JM_TMP/sticky
mkdir -m 1777 "$T"
echo secret >"$JM_TMP/victim"
pprof_to() { "$JMCTL" --socket "$JMD_SOCK" sites "$PID" --pprof "$1" 2>"$JM_TMP/err"; }
unchanged() { [ "$(cat "$JM_TMP/victim")" = secret ] || fail "$1: root's file was overwritten"; }

"${NOBODY[@]}" ln -s "$JM_TMP/victim" "$T/link.pb.gz"
pprof_to "$T/link.pb.gz" && fail "jmctl wrote through nobody's symlink"
unchanged "nobody's symlink"
grep -q "symlink of uid 65534: refusing" "$JM_TMP/err" || fail "no reason given: $(cat "$JM_TMP/err")"
ok "nobody's symlink refused"

"${NOBODY[@]}" sh -c 'echo theirs >"$1"' sh "$T/theirs.pb.gz"
pprof_to "$T/theirs.pb.gz" && fail "jmctl overwrote nobody's file"
grep -q "uid 65534's file: refusing" "$JM_TMP/err" || fail "no reason given: $(cat "$JM_TMP/err")"
ok "nobody's file refused"

ln "$JM_TMP/victim" "$T/hard.pb.gz"
pprof_to "$T/hard.pb.gz" && fail "jmctl wrote through a hard link"
unchanged "a hard link"
grep -q "has 2 links: refusing" "$JM_TMP/err" || fail "no reason given: $(cat "$JM_TMP/err")"
ok "a hard link refused"

# nobody's FIFO, its reader waiting (it reads until jmctl is done), and
# nobody's FIFO with no reader.
"${NOBODY[@]}" mkfifo "$T/fifo.pb.gz"
"${NOBODY[@]}" python3 - "$T/fifo.pb.gz" "$T/fifo.ready" "$T/fifo.done" \
	>"$JM_TMP/fifo.got" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
open(sys.argv[2], "w").close()
got, end = 0, time.time() + 40
while time.time() < end:
    try:
        n = len(os.read(fd, 65536))
    except BlockingIOError:
        n = -1
    got += max(n, 0)
    if n <= 0:
        if os.path.exists(sys.argv[3]):
            break
        time.sleep(0.02)
print(got)
PY
reader=$!
end=$((SECONDS + 30))
while [ ! -e "$T/fifo.ready" ] && [ $SECONDS -lt $end ]; do sleep 0.05; done
[ -e "$T/fifo.ready" ] || fail "nobody's reader did not open the FIFO"
rc=0
timeout 20 "$JMCTL" --socket "$JMD_SOCK" sites "$PID" --pprof "$T/fifo.pb.gz" 2>"$JM_TMP/err" || rc=$?
touch "$T/fifo.done"
wait "$reader"
[ "$(cat "$JM_TMP/fifo.got")" = 0 ] ||
	fail "nobody's FIFO was given $(cat "$JM_TMP/fifo.got") bytes of root's profile"
[ $rc -eq 1 ] || fail "jmctl exited $rc writing to nobody's FIFO: $(cat "$JM_TMP/err")"
grep -q "uid 65534's fifo: refusing" "$JM_TMP/err" || fail "no reason given: $(cat "$JM_TMP/err")"
rc=0
timeout 20 "$JMCTL" --socket "$JMD_SOCK" sites "$PID" --pprof "$T/fifo.pb.gz" 2>"$JM_TMP/err" || rc=$?
[ $rc -ne 124 ] || fail "jmctl waited for a reader of nobody's FIFO"
[ $rc -eq 1 ] || fail "jmctl exited $rc on nobody's FIFO without a reader: $(cat "$JM_TMP/err")"
grep -q "uid 65534's fifo: refusing" "$JM_TMP/err" || fail "no reason given: $(cat "$JM_TMP/err")"
ok "nobody's FIFO refused, with a reader and without"

# Root's own FIFO and /dev/null are written.
mkfifo "$T/rootfifo"
cat "$T/rootfifo" >"$JM_TMP/fromfifo" &
pprof_to "$T/rootfifo" || fail "root's own FIFO: $(cat "$JM_TMP/err")"
wait $!
[ "$(head -c 2 "$JM_TMP/fromfifo" | od -An -tx1 | tr -d ' ')" = 1f8b ] || fail "nothing through root's FIFO"
pprof_to /dev/null || fail "/dev/null: $(cat "$JM_TMP/err")"
ok "root's own FIFO and /dev/null written"

# Root's own paths: a new file, its own file again, its own symlink.
pprof_to "$T/new.pb.gz" || fail "a new file: $(cat "$JM_TMP/err")"
pprof_to "$T/new.pb.gz" || fail "root's own file again: $(cat "$JM_TMP/err")"
ln -s "$T/new.pb.gz" "$T/mine.pb.gz"
pprof_to "$T/mine.pb.gz" || fail "root's own symlink: $(cat "$JM_TMP/err")"
[ "$(head -c 2 "$T/new.pb.gz" | od -An -tx1 | tr -d ' ')" = 1f8b ] || fail "no gzip profile written"
ok "root's own paths written"

# `--pprof -` on a terminal: gzip is not for a terminal, so jmctl refuses,
# says how to redirect it, and writes nothing there; through a pipe it
# writes the profile. (script gives jmctl a terminal for its output.)
if command -v script >/dev/null; then
	script -qec "$JMCTL --socket $JMD_SOCK sites $PID --pprof -" /dev/null >"$JM_TMP/tty.out" 2>&1 </dev/null
	rc=$?
	[ $rc -eq 2 ] || fail "--pprof - on a terminal exited $rc: $(head -c 300 "$JM_TMP/tty.out" | cat -v)"
	grep -q "standard output, which is a terminal: redirect it" "$JM_TMP/tty.out" ||
		fail "no reason given: $(cat "$JM_TMP/tty.out")"
	! grep -qa $'\x1f\x8b' "$JM_TMP/tty.out" || fail "gzip written to the terminal"
	"$JMCTL" --socket "$JMD_SOCK" sites "$PID" --pprof - | head -c 2 | od -An -tx1 | tr -d ' ' >"$JM_TMP/pipe.magic"
	[ "$(cat "$JM_TMP/pipe.magic")" = 1f8b ] || fail "--pprof - through a pipe wrote no gzip profile"
	ok "--pprof - refused on a terminal, written to a pipe"
fi
