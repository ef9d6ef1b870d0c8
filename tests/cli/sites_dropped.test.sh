#!/usr/bin/env bash
# Root's jmctl sites (and --pprof) of a server that started as root and
# dropped its privileges (mosquitto, nginx's and postgres's workers... a
# process made not dumpable by its setuid) names its functions. jmctl
# symbolizes another user's process as that user, in a child, and that
# user may not read the maps of a process that is not dumpable: its frames
# were left as addresses ("cannot read /proc/PID/maps (Permission
# denied)"), found on mosquitto in session 38. Root now reads the maps and
# the child opens the files they name as the owner.
# timeout: 90
. "$(dirname "$0")/../lib.sh"
need_sites
need_users "run a process that drops root's privileges to nobody's"
cd "$JM_TMP"

cat >dropper.c <<'C'
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
static void *objs[4096];
__attribute__((noinline)) void hold_dropped(void)
{
	for (int i = 0; i < 4096; i++) {
		objs[i] = malloc(512);
		if (objs[i] == NULL)
			abort();
		memset(objs[i], 1, 64);
	}
}
int main(void)
{
	hold_dropped();
	if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
		return 1;
	printf("%s\n", prctl(PR_GET_DUMPABLE) == 0 ? "ready" : "dumpable");
	fflush(stdout);
	for (;;)
		pause();
}
C
jm_public
build_c "$JM_TMP/pub/dropper" dropper.c -fno-optimize-sibling-calls
chmod 755 "$JM_TMP/pub/dropper"
jmd_start
export JMALLOC_CONF=prof_sample:65536
JMALLOC_LIB=$JM_TMP/pub/libjmalloc.so start_preloaded "$JM_TMP/pub/dropper"
P=$LAST_PID
wait_line "$LAST_OUT" '^[a-z]'
grep -q '^ready$' "$LAST_OUT" || skip "the process stayed dumpable after its setuid (fs.suid_dumpable)"
[ "$(stat -c %u "/proc/$P/status")" = 0 ] || fail "process $P's /proc is not root's after its setuid"
wait_sampled "$P"

"$JMCTL" --socket "$JMD_SOCK" sites "$P" >text.out 2>text.err || fail "jmctl sites: $(cat text.err)"
cat text.out text.err
grep -q 'cannot read' text.err && fail "root's jmctl sites could not read the maps: $(cat text.err)"
grep -Eq '^ +hold_dropped( |$)' text.out || fail "hold_dropped is not named in the sites of process $P"
ok "root's jmctl sites of a process that dropped root's privileges: its functions named"

"$JMCTL" --socket "$JMD_SOCK" sites "$P" --pprof prof.pb.gz 2>pprof.err || fail "jmctl sites --pprof: $(cat pprof.err)"
cat pprof.err
grep -q 'not symbolized' pprof.err && fail "the profile is not symbolized: $(cat pprof.err)"
gzip -dc prof.pb.gz | grep -aq hold_dropped || fail "hold_dropped is not in the profile"
ok "its pprof export: symbolized"
