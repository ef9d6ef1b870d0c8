#!/usr/bin/env bash
# timeout: 120
# A process is known by the name it was started as (the last component of
# the path given to execve, what `ps -o comm` shows), not by the file a
# symlink points to; the resolved file is a field of its own, `path`:
# - daemon_holder started through a symlink named my-link-name is listed
#   by ps (and jmctl ps) as my-link-name, with path the real file; jmctl
#   stats shows both; /metrics labels it exe="my-link-name" and
#   jmalloc_process_info gives its path;
# - an alert rule with `exe = my-link-name` fires for it, one with
#   `path = */daemon_holder` too, one with `exe = daemon_holder` does not;
# - a python script started as ./my-script.py is listed under that name,
#   as ps shows it, with the interpreter as its path.
# (The bug this catches: the name came from readlink /proc/self/exe, so
# Debian's redis-server, a link to redis-check-rdb, was listed, alerted and
# exported as redis-check-rdb.)
. "$(dirname "$0")/../lib.sh"
need_segments

{
	rule by_name growth "metric = allocated" "growth = 1MiB" "window = 2s" "exe = my-link-name"
	rule by_path growth "metric = allocated" "growth = 1MiB" "window = 2s" "path = */daemon_holder"
	rule by_target growth "metric = allocated" "growth = 1MiB" "window = 2s" "exe = daemon_holder"
} >"$JM_TMP/rules.conf"
mkdir -p "$JM_TMP/bin"
ln -s "$JM_HELPERS/daemon_holder" "$JM_TMP/bin/my-link-name"
cat >"$JM_TMP/bin/my-script.py" <<'PY'
#!/usr/bin/python3
import os, sys
held = [bytearray(1000) for _ in range(2000)]
print("ready", os.getpid(), flush=True)
sys.stdin.readline()
PY
chmod +x "$JM_TMP/bin/my-script.py"
jmd_start --config "$JM_TMP/rules.conf" --metrics :0

jmd_py - "$JM_TMP" "$JMD_LOG" "$JMCTL" <<'EOF' || fail "started name"
import os, subprocess, sys, time
from alib import *

tmp, log_path, jmctl = sys.argv[1], sys.argv[2], sys.argv[3]
target = os.path.realpath(os.path.join(os.environ["JM_HELPERS"], "daemon_holder"))
env = dict(os.environ, LD_PRELOAD=os.environ["JMALLOC_LIB"], JMALLOC_STATS_DIR=STATS_DIR)

h = subprocess.Popen([os.path.join(tmp, "bin", "my-link-name")], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, env=env)
line = h.stdout.readline().decode().split()
check(line[:1] == ["ready"], "daemon_holder through the link: %r" % line)
pid = int(line[1])
comm = subprocess.run(["ps", "-o", "comm=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
check(comm == "my-link-name", "ps -o comm says %r" % comm)

p = wait_until(lambda: ps_pids().get(pid), "the linked process in ps")
check(p["exe"] == "my-link-name" and p["path"] == target,
      "ps: exe %r path %r, want my-link-name and %s" % (p["exe"], p["path"], target))
out = subprocess.run([jmctl, "--socket", SOCK, "ps"], capture_output=True, text=True).stdout
check(any(l.split()[:1] == [str(pid)] and "my-link-name" in l.split() for l in out.splitlines()),
      "jmctl ps:\n" + out)
out = subprocess.run([jmctl, "--socket", SOCK, "stats", str(pid)], capture_output=True, text=True).stdout
check(out.startswith("process %d (my-link-name)" % pid) and ("\npath %s\n" % target) in out,
      "jmctl stats:\n" + out[:400])

# Growth: the rules naming the link and the path fire, the target's name does not.
# (A growth is measured from a history sample taken before it.)
wait_until(lambda: len(request({"cmd": "history", "pid": pid})["samples"]) >= 2, "history samples")
h.stdin.write(b"alloc 1048576 4\n")
h.stdin.flush()
check(h.stdout.readline().strip() == b"ok", "alloc")
def fired():
    r = request({"cmd": "alerts"})
    return {a["rule"] for a in r["alerts"] if a["pid"] == pid and a["state"] == "firing"} >= {"by_name", "by_path"} and r
r = wait_until(fired, "the by_name and by_path alerts firing")
a = [a for a in r["alerts"] if a["pid"] == pid]
check(all(x["exe"] == "my-link-name" and x["path"] == target for x in a), "alerts: %r" % a)
check(not any(x["rule"] == "by_target" for x in a), "exe = daemon_holder matched: %r" % a)

port = log_port(log_path)
s = scrape(port)
# Its info series; a process in a cgroup also has container, pod, cgroup.
info = [x for x in s.get("jmalloc_process_info", []) if x[0].get("pid") == str(pid)]
check(len(info) == 1 and info[0][1] == 1 and info[0][0]["exe"] == "my-link-name" and
      info[0][0]["path"] == target and
      set(info[0][0]) <= {"pid", "exe", "path", "container", "pod", "cgroup"},
      "jmalloc_process_info: %r" % info)
check(value(s, "jmalloc_process_allocated_bytes", pid=pid, exe="my-link-name") is not None,
      "allocated bytes not exported under exe=my-link-name")
h.stdin.write(b"exit\n")
h.stdin.flush()
h.wait()

# A script: its own name, the interpreter as its path.
sp = subprocess.Popen([os.path.join(tmp, "bin", "my-script.py")], stdin=subprocess.PIPE,
                      stdout=subprocess.PIPE, env=env, cwd=tmp)
line = sp.stdout.readline().decode().split()
check(line[:1] == ["ready"], "my-script.py: %r" % line)
spid = int(line[1])
comm = subprocess.run(["ps", "-o", "comm=", "-p", str(spid)], capture_output=True, text=True).stdout.strip()
p = wait_until(lambda: ps_pids().get(spid), "the script in ps")
check(p["exe"] == "my-script.py" == comm, "script: exe %r, ps -o comm %r" % (p["exe"], comm))
check(os.path.basename(p["path"]).startswith("python3"), "script: path %r" % p["path"])
sp.stdin.write(b"\n")
sp.stdin.flush()
sp.wait()
print("ok")
EOF
jmd_stop
echo ok
