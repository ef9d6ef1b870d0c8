#!/usr/bin/env bash
# timeout: 120
# Root's `jmctl sites PID` looks at whose process PID is (/proc/PID/status)
# and then reads its maps (/proc/PID/maps) to symbolize: root's own process
# as root, another user's in a child that has become that user. It read the
# two by name: a root process that ended between them, its pid taken by a
# user's process, had root open that user's maps and the files they name,
# as root (files the user chooses: a FIFO at "PATH (deleted)" blocks root's
# jmctl for ever, their ELF parsed with root's privileges). Now /proc/PID is
# opened once, and both are read through it: a process gone answers ESRCH.
#
# Staged without timing: gdb stops root's jmctl where it opens the maps
# (jm_maps_read), after the owner's check; meanwhile root's process is
# killed and nobody's started under its pid (ns_last_pid), running a copy
# of the same program with the same layout (no ASLR for either); then jmctl
# goes on. Before: root's sites symbolized from nobody's copy (its module
# named in the frames). Now: "cannot read /proc/PID/maps", frames left as
# addresses.
. "$(dirname "$0")/../lib.sh"
need_users "run a process as nobody under a reused pid"
need_sites
need_cmd gdb setarch
[ -w /proc/sys/kernel/ns_last_pid ] || skip "cannot write /proc/sys/kernel/ns_last_pid"
cd "$JM_TMP"
build_holders holders
nobody_pub holders
cp "$P/holders" "$P/holders_nobody"
chmod 755 "$P/holders_nobody"
jmd_start

# A controller (root) starts root's process, then, when told, kills it
# and starts nobody's under its pid.
mkfifo ctl done
JMALLOC_STATS_DIR=$JMD_STATS JMALLOC_CONF=prof_sample:4096 python3 - "$JMALLOC_LIB" ./holders \
	"$P/holders_nobody" <<'PY' >ctl.out 2>&1 &
import ctypes, os, sys, time
lib, prog, nprog = sys.argv[1:4]
ctypes.CDLL(None).personality(0x0040000)   # ADDR_NO_RANDOMIZE, for both children
env = dict(os.environ, LD_PRELOAD=lib)
r = os.fork()
if r == 0:
    os.execve(prog, [prog, "2000", "512", "200", "8192"], env)
print("root", r, flush=True)
cmd = open("ctl").readline()
os.kill(r, 9)
os.waitpid(r, 0)
child = 0
for attempt in range(200):
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(r - 1))
    rd, wr = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(rd)
        os.dup2(wr, 1)
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
        os.execve(nprog, [nprog, "2000", "512", "200", "8192"], {"PATH": "/usr/bin:/bin"})
    os.close(wr)
    if child == r:
        break
    os.kill(child, 9)
    os.waitpid(child, 0)
    os.close(rd)
    child = 0
if child:
    ready = os.read(rd, 64)
    print("nobody", child, ready, flush=True)
else:
    print("nobody not started under pid %d" % r, flush=True)
open("done", "w").write("swapped %d\n" % child)
os.waitpid(child, 0) if child else None
PY
CTL=$!
PIDS+=("$CTL")
wait_line ctl.out '^root '
R=$(awk '$1 == "root" { print $2 }' ctl.out)
wait_sampled "$R"
"$JMCTL" --socket "$JMD_SOCK" --json sites "$R" >before.json || fail "jmctl sites before"
grep -q '"module": *"holders"' before.json || fail "root's sites not symbolized before the swap: $(head -c 600 before.json)"

gdb_watched -ex 'set breakpoint pending on' -ex 'break jm_maps_read' \
	-ex "run --socket $JMD_SOCK --json sites $R > $JM_TMP/after.json 2> $JM_TMP/after.err" \
	-ex "shell echo swap > $JM_TMP/ctl && cat $JM_TMP/done" -ex 'continue' \
	"$JMCTL"
cat ctl.out
grep -q "^nobody $R " ctl.out || skip "$(tail -1 ctl.out) (pids taken meanwhile)"
# nobody's process, under pid $R: the controller's child, left running
# when the clean-up kills the controller (it outlived every run before).
PIDS+=("$R")
grep -q "Breakpoint 1, jm_maps_read" gdb.out || fail "gdb did not stop jmctl at jm_maps_read: $(tail -5 gdb.out) $(cat after.err)"
cat after.err
if grep -q '"module": *"holders_nobody"' after.json; then
	fail "root's jmctl symbolized root's process $R from nobody's process that took its pid (as root)"
fi
grep -q "cannot read /proc/$R/maps" after.err after.json ||
	fail "no word of the maps not read: $(head -c 400 after.json)"
ok "root's jmctl read nothing of nobody's process that took pid $R"
jmd_stop
echo "ok"
