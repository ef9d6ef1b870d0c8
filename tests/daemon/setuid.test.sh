#!/usr/bin/env bash
# timeout: 120
# A set-uid (or set-gid) program linked with jmalloc (statically: the loader ignores
# LD_PRELOAD in it) publishes no segment, wherever JMALLOC_STATS_DIR
# points: its file would be either the user's, to read (its sites' stack
# addresses are the layout of a privileged process) and to tamper with,
# or root's, made in a directory and under a name the user chose. So the
# daemon never shows it. What it must not do either:
#  - show a segment that the user who ran it forges for its pid (a user's
#    file naming a process whose effective or saved uid is another): it
#    did, as that user's process with the user's figures;
#  - lose a process that published as root and then dropped its
#    privileges (a server's worker forked as root, then setuid to its
#    service's user): it is still that process, shown as root's, to root
#    alone; it was dropped at its next check (60 s at most), or never
#    shown when it dropped them before the daemon first read it, as here.
# The same program not set-uid, run as nobody, is shown (the control).
. "$(dirname "$0")/../lib.sh"
need_users "run a set-uid program as nobody"
need_segments
need_static_lib
cat >"$JM_TMP/prog.c" <<'C'
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	for (int i = 0; i < 1000; i++) {
		void *block = malloc(100 + i);
		__asm__ volatile("" : : "r"(block) : "memory"); /* kept: not elided */
	}
	if (argc > 1 && strcmp(argv[1], "drop") == 0 &&
	    (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0))
		return 1;
	uid_t r, e, s;
	getresuid(&r, &e, &s);
	printf("ready %d %u %u %u\n", (int)getpid(), (unsigned)r, (unsigned)e, (unsigned)s);
	fflush(stdout);
	for (;;)
		pause();
}
C
jm_public "$JM_HELPERS/stress_segwriter"
cc -static -O1 -o "$JM_TMP/pub/plain" "$JM_TMP/prog.c" "$lib" -lpthread || fail "cannot link the program"
nm "$JM_TMP/pub/plain" | grep -q ' T jm_malloc$' || fail "jmalloc is not in the static program"
cp "$JM_TMP/pub/plain" "$JM_TMP/pub/suid"
chown root:root "$JM_TMP/pub/suid" && chmod 4755 "$JM_TMP/pub/suid"
cp "$JM_TMP/pub/plain" "$JM_TMP/pub/sgid"
chown root:root "$JM_TMP/pub/sgid" && chmod 2755 "$JM_TMP/pub/sgid"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

# Root's process that drops its privileges before the daemon first looks.
JMALLOC_STATS_DIR=$JMD_STATS "$JM_TMP/pub/plain" drop >"$JM_TMP/drop.out" &
for _ in $(seq 100); do grep -q ready "$JM_TMP/drop.out" && break; sleep 0.1; done
read -r _ DROP ruid euid _ <"$JM_TMP/drop.out"
[ "$ruid:$euid" = 65534:65534 ] || fail "the dropping process did not drop: $(cat "$JM_TMP/drop.out")"
ls "$JMD_STATS" | grep -q "^jmalloc\.$DROP\." || fail "the dropping process published nothing"
jmd_start
export DROP JMD_LOG

jmd_py - <<'PY' || fail "set-uid programs"
from jmd import *

pub = os.path.join(os.environ["JM_TMP"], "pub")
nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
env = dict(os.environ, JMALLOC_STATS_DIR=STATS_DIR, JMALLOC_CONF="stats:1")
procs = []

def run(prog, *args):
    p = subprocess.Popen(nobody + [os.path.join(pub, prog)] + list(args), stdout=subprocess.PIPE,
                         env=env)
    procs.append(p)
    line = p.stdout.readline().decode().split()
    check(len(line) == 5 and line[0] == "ready", "%s did not start: %r" % (prog, line))
    return int(line[1]), [int(x) for x in line[2:]]

def ps_of(uid):
    return as_uid(uid, lambda: sorted(ps_pids()))[1]

def owner(pid):
    return next((p["user"] for p in request({"cmd": "ps"})["processes"] if p["pid"] == pid), None)

try:
    drop = int(os.environ["DROP"])
    plain, ids = run("plain")
    check(ids == [65534] * 3, "plain: uids %r" % ids)
    suid, ids = run("suid")
    check(ids == [65534, 0, 0], "the set-uid program's uids: %r (a nosuid mount?)" % ids)
    wait_until(lambda: plain in ps_pids(), "the program, not set-uid, shown")
    check(plain in ps_of(65534), "nobody does not see its own program")

    sgid, ids = run("sgid")
    with open("/proc/%d/status" % sgid) as f:
        gids = next(l for l in f if l.startswith("Gid:")).split()[1:4]
    check(gids == ["65534", "0", "0"], "the set-gid program's gids: %r" % gids)

    # Published nowhere: not in the directory it was given, not in the default.
    for pid in (suid, sgid):
        for d in (STATS_DIR, "/dev/shm"):
            mine = [n for n in os.listdir(d) if n.startswith("jmalloc.%d." % pid)]
            check(not mine, "the set-id program %d published %r in %s" % (pid, mine, d))

    # Nobody forges the set-uid and the set-gid program's segments.
    def said(pid):
        with open(os.environ["JMD_LOG"]) as f:
            return [l for l in f if "jmalloc.%d.stats" % pid in l]
    for pid in (suid, sgid):
        seg = os.path.join(STATS_DIR, "jmalloc.%d.stats" % pid)
        subprocess.run(nobody + [os.path.join(pub, "stress_segwriter"), "write", seg, str(pid), "65534"],
                       check=True, capture_output=True)
        wait_until(lambda: said(pid), "a log line for nobody's forged segment of %d" % pid)
    t0 = request({"cmd": "version"})["time"]
    wait_until(lambda: request({"cmd": "version"})["time"] >= t0 + 5 * INTERVAL_MS / 1000.0, "five ticks")
    for pid in (suid, sgid):
        check(pid not in ps_pids(), "nobody's forged segment of set-id program %d shown" % pid)
        check(pid not in ps_of(65534), "nobody sees its forgery as set-id program %d" % pid)
    # Root's process that dropped its privileges: shown, as root's, to root only.
    wait_until(lambda: drop in ps_pids(), "root's process that dropped its privileges, shown",
               timeout=10)
    check(owner(drop) == "root", "it is shown as %r's" % owner(drop))
    check(drop not in ps_of(65534), "nobody sees root's process that became nobody's")

    print("set-uid program: no segment, forgery refused (%s); dropped root process shown as root's"
          % said(suid)[0].split(": ", 1)[-1].strip())
finally:
    for p in procs:
        p.kill()
PY
jmd_stop
ok "a set-uid program publishes nothing and cannot be forged; a process that dropped root is root's"
