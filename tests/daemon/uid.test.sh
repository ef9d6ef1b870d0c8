#!/usr/bin/env bash
# timeout: 120
# Visibility by uid (SO_PEERCRED): a client that is not root sees only the
# processes of its own uid, and another uid's pid answers as if unknown;
# root sees all. And jmstatd run by hand by a normal user, with no option
# but the stats dir, picks its private default socket and reads only that
# user's segments, silently passing over the others'.
# Needs root (to create and become a second user) and real segments.
. "$(dirname "$0")/../lib.sh"
need_users "run processes as a second user"
need_segments
# (Two runs at once may both find no jmtest: the one whose useradd fails
# takes the other's.)
id jmtest >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin jmtest 2>/dev/null
id jmtest >/dev/null 2>&1 || skip "cannot create user jmtest"
JMTEST_UID=$(id -u jmtest)
JMTEST_GID=$(id -g jmtest)
export JMTEST_UID JMTEST_GID

# The second user runs copies it can reach, whatever the checkout's modes.
jm_public "$JM_HELPERS/daemon_holder"
export JMALLOC_LIB=$JM_TMP/pub/libjmalloc.so JM_HELPERS=$JM_TMP/pub

jmd_start
jmd_py - <<'EOF' || fail "visibility"
from jmd import *

def drop(uid, gid):
    def f():
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return f

def request_as(uid, gid, obj):
    """One request from a client running as uid:gid (a forked child)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            drop(uid, gid)()
            reply = json.dumps(request(obj)).encode()
        except BaseException as e:
            reply = json.dumps({"child_error": repr(e)}).encode()
        os.write(w, reply)
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 1 << 20)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    out = json.loads(data)
    check("child_error" not in out, "client as uid %d: %r" % (uid, out))
    return out

uid, gid = int(os.environ["JMTEST_UID"]), int(os.environ["JMTEST_GID"])
mine = Holder()                                  # root's
theirs = Holder(preexec_fn=drop(uid, gid))       # jmtest's
check(os.stat(theirs.segment()).st_uid == uid, "jmtest's segment is jmtest's")
wait_until(lambda: mine.pid in ps_pids() and theirs.pid in ps_pids(), "both processes in ps")
# Sampled before anything is compared: the bins compared below, asked
# for one after the other, must not straddle the sample of this.
stats_after(theirs.pid, theirs.cmd("alloc 64 100"))

# root sees both, with their uids and user names
p = ps_pids()
check(p[mine.pid]["uid"] == 0 and p[mine.pid]["user"] == "root", "root's process: %r" % p[mine.pid])
check(p[theirs.pid]["uid"] == uid and p[theirs.pid]["user"] == "jmtest", "jmtest's: %r" % p[theirs.pid])

# jmtest sees its own process only
r = request_as(uid, gid, {"cmd": "ps"})
pids = [x["pid"] for x in r["processes"]]
check(pids == [theirs.pid], "jmtest sees %r, expected only %d" % (pids, theirs.pid))
check(r["host"]["processes"] == 1 and r["host"]["allocated"] == r["processes"][0]["allocated"],
      "jmtest's host line counts only its processes: %r" % r["host"])
r = request_as(uid, gid, {"cmd": "stats", "pid": mine.pid})
check(r["ok"] is False and r["error"] == "no such process: %d" % mine.pid, "root's pid to jmtest: %r" % r)
for cmd in ("bins", "history", "subscribe"):
    r = request_as(uid, gid, {"cmd": cmd, "pid": mine.pid})
    check(r["ok"] is False and r["error"] == "no such process: %d" % mine.pid, "%s: %r" % (cmd, r))
r = request_as(uid, gid, {"cmd": "stats", "pid": theirs.pid})
check(r["ok"] and r["pid"] == theirs.pid, "jmtest's own stats: %r" % r)
r = request_as(uid, gid, {"cmd": "subscribe"})
check([x["pid"] for x in r["processes"]] == [theirs.pid], "jmtest's subscription: %r" % r["processes"])
# Aggregated bins: jmtest's are its process's alone.
own = request_as(uid, gid, {"cmd": "bins", "pid": theirs.pid})["bins"]
agg = request_as(uid, gid, {"cmd": "bins"})["bins"]
check([(b["size"], b["curregs"]) for b in agg] == [(b["size"], b["curregs"]) for b in own],
      "jmtest's aggregated bins are its own process's")
# Host history is per uid: jmtest's holds its own allocated bytes only.
def uid_history_matches():
    h = request_as(uid, gid, {"cmd": "history", "seconds": 5})["samples"]
    a = request_as(uid, gid, {"cmd": "ps"})["host"]["allocated"]
    return h and h[-1]["allocated"] == a
wait_until(uid_history_matches, "jmtest's host history to be its own")

# A third uid sees nothing at all.
r = request_as(65534, 65534, {"cmd": "ps"})
check(r["processes"] == [] and r["host"]["processes"] == 0, "nobody sees %r" % r["processes"])
r = request_as(65534, 65534, {"cmd": "bins"})
check(r["bins"] == [], "nobody's bins")
mine.exit()
theirs.exit()
EOF
jmd_stop

# ---- jmstatd by hand as a user of its own: the private default socket,
# /tmp/jmstatd-UID. A uid no other test running now uses (claim_uid), so
# that two runs at once never share that path.
claim_uid
U=$CLAIMED_UID
JMTEST_UID=$U JMTEST_GID=$U
env -i PATH=/usr/bin:/bin setpriv --reuid="$U" --regid="$U" --clear-groups \
	"$JMSTATD" --stats-dir "$JMD_STATS" >>"$JMD_LOG" 2>&1 &
JMD_PID=$!
JMD_SOCK=/tmp/jmstatd-$U/jmstatd.sock
jmd_wait_socket
[ "$(stat -c '%a %u' "/tmp/jmstatd-$U")" = "700 $U" ] ||
	fail "the private socket directory is $(stat -c '%a %u' "/tmp/jmstatd-$U")"
JMD_SOCK=$JMD_SOCK jmd_py - <<'EOF' || fail "a user's own jmstatd"
from jmd import *
uid, gid = int(os.environ["JMTEST_UID"]), int(os.environ["JMTEST_GID"])
def drop():
    os.setgroups([]); os.setgid(gid); os.setuid(uid)
mine = Holder()
theirs = Holder(preexec_fn=drop)
wait_until(lambda: theirs.pid in ps_pids(), "the user's process in its daemon")
time.sleep(0.5)     # a few ticks, in which root's segment must stay unseen
check(mine.pid not in ps_pids(), "root's process in the user's daemon")
mine.exit()
theirs.exit()
EOF
jmd_stop
if grep -q "skipping" "$JMD_LOG"; then
	fail "a user's daemon complained about segments it cannot read"
fi
echo "ok"
