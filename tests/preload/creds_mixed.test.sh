#!/usr/bin/env bash
# timeout: 60
# A process that holds more than the owner of the file it would publish
# publishes no segment. Its file is made by its file-system uid, mode 0600,
# and whoever may write a segment may write into its process's memory (the
# allocator finds its rows by the offsets in the header: nobody rewriting
# a nobody process's thread_off made it write at an address of nobody's
# choosing). The kernel keeps a user from a process of theirs that has
# capabilities, or a root uid kept as its saved one (ptrace wants its uids,
# gids and capabilities), and set-uid programs do not publish (AT_SECURE);
# but these did, as files nobody may write:
#  - nobody's process started with an ambient capability (systemd's User=
#    with AmbientCapabilities=; ambient capabilities do not set AT_SECURE);
#  - a root process's child that made nobody its effective uid only
#    (seteuid: it may become root again) before its first allocation;
#  - the same with only the file-system uid (setfsuid, as NFS servers do).
# Controls, published as before: nobody's process without capabilities,
# and a child that dropped every uid and gid (a server's worker).
. "$(dirname "$0")/../lib.sh"
need_users "run processes as nobody with capabilities"
need_segments
need_cmd cc
cat >"$JM_TMP/creds.c" <<'C'
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
/* creds MODE: MODE "plain" allocates; "euid", "fsuid" and "drop" fork a
 * child that changes its credentials so, then allocates (its first slow
 * path publishes). Prints "ready PID" for the process that allocated,
 * then waits. The child dies with its parent (the test kills the parent;
 * the child's pause() outlived it as an orphan). */
static void work(void)
{
	for (int i = 0; i < 2000; i++) {
		void *p = malloc(100 + i * 7);
		__asm__ volatile("" : : "r"(p) : "memory");
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	pause();
}
int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "plain";
	if (strcmp(mode, "plain") == 0)
		work();
	void *p = malloc(64);   /* the parent publishes, as root */
	__asm__ volatile("" : : "r"(p) : "memory");
	fflush(stdout);
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		int rc = 0;
		if (strcmp(mode, "euid") == 0)
			rc = seteuid(65534);
		else if (strcmp(mode, "fsuid") == 0)
			setfsuid(65534);
		else if (strcmp(mode, "drop") == 0)
			rc = setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534);
		if (rc != 0)
			return 3;
		/* After the change: a change of credentials clears it. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			return 4;
		work();
	}
	printf("parent %d\n", (int)getpid());
	fflush(stdout);
	waitpid(c, NULL, 0);
	return 0;
}
C
nobody_pub
cc -O1 -o "$P/creds" "$JM_TMP/creds.c" || fail "cannot build the program"
chmod 755 "$P/creds"
lib=$P/$(basename "$JMALLOC_LIB")

# run NAME EXPECT SETPRIV-ARGS... -- MODE: the process that printed
# "ready PID" has a segment (EXPECT yes) or none (no).
run() {
	local name=$1 expect=$2 out=$JM_TMP/$1.out pid seg
	shift 2
	local pre=()
	while [ "$1" != -- ]; do pre+=("$1"); shift; done
	shift
	"${pre[@]}" env JMALLOC_STATS_DIR="$JMD_STATS" LD_PRELOAD="$lib" "$P/creds" "$@" >"$out" 2>&1 &
	PIDS+=("$!")
	wait_line "$out" '^ready '
	pid=$(awk '$1 == "ready" { print $2 }' "$out")
	PIDS+=("$pid")   # the forked child, which printed it: killed on exit too
	seg=$(jm_segment "$JMD_STATS" "$pid") || seg=
	if [ "$expect" = yes ]; then
		[ -n "$seg" ] || fail "$name: pid $pid published no segment"
		[ "$(stat -c %u "$seg")" = 65534 ] || fail "$name: $seg is not nobody's"
	else
		[ -z "$seg" ] || fail "$name: pid $pid published $seg, owned by $(stat -c %U "$seg")"
	fi
	if [ "$expect" = yes ]; then ok "$name: a segment, nobody's"; else ok "$name: no segment"; fi
}
NOB=(setpriv --reuid=65534 --regid=65534 --clear-groups)
run "nobody" yes "${NOB[@]}" -- plain
if setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+net_bind_service \
	--ambient-caps=+net_bind_service true 2>/dev/null; then
	run "nobody with CAP_NET_BIND_SERVICE (ambient)" no "${NOB[@]}" --inh-caps=+net_bind_service \
		--ambient-caps=+net_bind_service -- plain
else
	echo "ambient capabilities not available here: that case not tried"
fi
run "root's child with nobody's euid" no env -- euid
run "root's child with nobody's fsuid" no env -- fsuid
run "root's child that dropped every uid and gid" yes env -- drop
echo "ok"
