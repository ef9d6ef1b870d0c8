#!/usr/bin/env bash
# timeout: 60
# A process that ends through _exit or _Exit (dash does; a forked child
# of Python, a server's worker, a subshell) runs no destructor, and its
# segment stayed in the stats directory until jmstatd or a later process
# of its user (one start in 8) removed it: the allocator's _exit removes
# its own. Not a vfork child's (Python's subprocess when the exec fails:
# it shares its parent's memory, and the segment is its parent's), and a
# killed process still leaves its file (tests/preload/conf.test.sh).
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd python3
export JMALLOC_STATS_DIR=$JM_TMP/segs
mkdir -p "$JMALLOC_STATS_DIR"
LD_PRELOAD=$JMALLOC_LIB sh -c 'x=$(echo a b c); : "$x"'
left=$(ls "$JMALLOC_STATS_DIR")
[ -z "$left" ] || fail "dash's _exit left its segment: $left"
ok "dash (its _exit) leaves no segment"

LD_PRELOAD=$JMALLOC_LIB python3 - <<'PY' || fail "python forks: exit $?"
import ctypes, os, subprocess, sys
d = os.environ["JMALLOC_STATS_DIR"]
def files():
    return sorted(os.listdir(d))
mine = files()
if not any(f.startswith("jmalloc.%d." % os.getpid()) for f in mine):
    sys.exit("no segment of the parent: %r" % mine)
libc = ctypes.CDLL(None)
for how in ("_exit", "_Exit"):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        x = [bytearray(100 + i) for i in range(2000)]   # allocates: publishes
        os.write(w, b"1" if any(f.startswith("jmalloc.%d." % os.getpid()) for f in files()) else b"0")
        getattr(libc, how)(0)
    seen = os.read(r, 1)
    os.waitpid(pid, 0)
    if seen != b"1":
        sys.exit("the child %d had no segment before its %s (test premise)" % (pid, how))
    if files() != mine:
        sys.exit("a forked child's %s left %r" % (how, sorted(set(files()) - set(mine))))
# A vfork child whose exec fails ends with _exit: its parent's segment stays.
try:
    subprocess.run(["/nonexistent/jmalloc-test"])
except FileNotFoundError:
    pass
if files() != mine:
    sys.exit("after a failed spawn: %r, was %r" % (files(), mine))
print("forked children's _exit and _Exit removed their segments; the parent's kept")
PY
left=$(ls "$JMALLOC_STATS_DIR")
[ -z "$left" ] || fail "left: $left"
ok "python: forked children's _exit and _Exit remove their own segments, not their parent's"
