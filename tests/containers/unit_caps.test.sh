#!/usr/bin/env bash
# timeout: 90
# jmstatd with the capabilities its systemd unit leaves it, and no others:
# the unit's CapabilityBoundingSet= (systemd/jmstatd.service) is the
# bounding set of a root daemon (setpriv, as systemd's execve makes it:
# permitted = bounding set), and it must still see the containers. It
# kept CAP_DAC_READ_SEARCH and CAP_FOWNER only: the links of other
# processes' /proc/PID/ns/* and their /proc/PID/root need ptrace access
# (CAP_SYS_PTRACE for a process of another uid or with capabilities the
# daemon lacks), so under its own unit the daemon listed no container
# with a /dev/shm of its own, root's (a runtime's) or a user's (rootless).
# The unit's system call filter keeps ptrace(2) itself out.
. "$(dirname "$0")/../lib.sh"
need_unshare
need_cmd setpriv
unit=$JM_ROOT/systemd/jmstatd.service
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
[ -n "$caps" ] || fail "the unit has no CapabilityBoundingSet="
bset=-all
for c in $caps; do
	c=${c#CAP_}
	bset="$bset,+${c,,}"
done
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
rootless=0
"${NOBODY[@]}" unshare --user --map-root-user --pid --fork --mount true 2>/dev/null && rootless=1

# The daemon as the unit runs it: root, with that bounding set.
cat >"$JM_TMP/unitd" <<EOF
#!/bin/sh
exec setpriv --bounding-set=$bset --inh-caps=-all "$JMSTATD" "\$@"
EOF
chmod +x "$JM_TMP/unitd"
JMSTATD=$JM_TMP/unitd jmd_start
grep -q '^CapEff:[[:space:]]*000001ffffffffff' "/proc/$JMD_PID/status" &&
	fail "setpriv left the daemon every capability"
export ROOTLESS=$rootless

jmd_py - <<'PY' || fail "containers under the unit's capabilities"
from jmd import *
import atexit

cs = [Container(private=True), Container()]
if os.environ["ROOTLESS"] == "1":
    cs.append(Container(private=True, uid=65534))
atexit.register(lambda: [c.p.kill() for c in cs])
for c in cs:
    c.cmd("alloc 4096 256")
def listed():
    ps = ps_pids()
    return all(c.host_pid in ps and ps[c.host_pid]["ns_pid"] == 1 for c in cs) and ps
wait_until(listed, "%d containers (root's with a private /dev/shm, root's in the host's"
           " directory%s) listed by a daemon with the unit's capabilities"
           % (len(cs), ", nobody's rootless one" if len(cs) > 2 else ""), timeout=15)
print("%d containers listed under the unit's capabilities" % len(cs))
PY
jmd_stop

# What CAP_SYS_PTRACE would open besides /proc's checks stays out of the
# unit's system call filter: ptrace(2), reading or writing another
# process's memory (process_vm_readv, in @system-service's @ipc), taking
# its fds (pidfd_getfd), comparing its kernel objects (kcmp).
if command -v systemd-analyze >/dev/null && systemd-analyze syscall-filter @ipc >/dev/null 2>&1; then
	expand() {
		local s
		systemd-analyze syscall-filter "$1" | sed 1d | grep -v '^ *#' |
			while read -r s; do
				case $s in @*) expand "$s" ;; "") ;; *) echo "$s" ;; esac
			done
	}
	allowed=$JM_TMP/allowed
	: >"$allowed"
	first=1
	while read -r line; do
		deny=0
		case $line in "~"*) deny=1; line=${line#\~} ;; esac
		for s in $line; do
			case $s in @*) expand "$s" ;; *) echo "$s" ;; esac
		done >"$JM_TMP/names"
		if [ $deny = 1 ]; then
			grep -vxF -f "$JM_TMP/names" "$allowed" >"$allowed.new" || true
			mv "$allowed.new" "$allowed"
		else
			[ $first = 1 ] || fail "an allow list after the first SystemCallFilter="
			cat "$JM_TMP/names" >>"$allowed"
		fi
		first=0
	done < <(sed -n 's/^SystemCallFilter=//p' "$unit")
	grep -qx openat "$allowed" || fail "the unit's filter allows no openat: not parsed"
	for s in ptrace process_vm_readv process_vm_writev pidfd_getfd kcmp; do
		! grep -qx "$s" "$allowed" || fail "the unit's SystemCallFilter allows $s"
	done
else
	echo "systemd-analyze not installed: the unit's system call filter not checked"
fi
echo "ok"
