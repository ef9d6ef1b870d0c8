#!/usr/bin/env bash
# vfork() (liballoc/rawfork.c). Valgrind runs a vfork as a fork, and glibc
# runs no fork handler around vfork: the child, a copy of the process
# without its stats segment (mapped MADV_DONTFORK), took a SIGSEGV at its
# first allocation. Every command dash starts (it starts them with vfork)
# died so under valgrind with the allocator preloaded: `sh -c 'true;
# true'` printed "Process terminating with default action of signal 11"
# twice and exited 139. Under valgrind vfork is now fork, handlers run.
# Natively vfork stays glibc's, tail-called: a child that writes a
# variable and _exits before its parent goes on is seen by the parent (the
# memory shared, as vfork's), and one that execs runs its program.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_lib
cd "$JM_TMP"
export JMALLOC_STATS_DIR=$JM_TMP
cat >vf.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int shared;

int main(int argc, char **argv)
{
	char *p = malloc(100);   /* the thread's cache used, before the vfork */
	strcpy(p, "x");
	int st;
	pid_t c = vfork();
	if (c == 0) {
		shared = 1;
		_exit(3);
	}
	if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 3)
		return 10;
	printf("shared %d\n", shared);
	c = vfork();
	if (c == 0) {
		execl("/bin/sh", "sh", "-c", "exit 4", (char *)0);
		_exit(5);
	}
	if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 4)
		return 11;
	free(p);
	printf("ok\n");
	return 0;
}
C
build_c vf vf.c
out=$(LD_PRELOAD=$JMALLOC_LIB ./vf 2>&1) || fail "vf natively: exit $?: $out"
[ "$out" = "shared 1
ok" ] || fail "vf natively printed: $out (vfork's child did not share the memory?)"
ok "natively vfork is vfork: its child's write seen by the parent, its exec run"
out=$(LD_PRELOAD=$JMALLOC_LIB sh -c '/bin/true && echo a; /bin/true && echo b' 2>&1) ||
	fail "dash's commands natively: $out"
[ "$out" = "a
b" ] || fail "dash natively printed: $out"
ok "dash's commands natively"

need_cmd valgrind
rc=0
LD_PRELOAD=$JMALLOC_LIB valgrind -q --tool=none sh -c '/bin/true && echo a; /bin/true && echo b' \
	>vg.out 2>vg.err || rc=$?
grep -q "signal 11" vg.err && fail "a child of dash under valgrind died of SIGSEGV: $(grep -m2 -i 'signal\|at 0x' vg.err)"
[ $rc -eq 0 ] || fail "sh -c under valgrind exited $rc: $(tail -5 vg.err)"
[ "$(cat vg.out)" = "a
b" ] || fail "sh -c under valgrind printed: $(cat vg.out)"
ok "under valgrind, dash's vforked children allocate (vfork is fork there)"
rc=0
LD_PRELOAD=$JMALLOC_LIB valgrind -q --tool=none ./vf >vg.out 2>vg.err || rc=$?
grep -q "signal 11" vg.err && fail "vf under valgrind: SIGSEGV: $(grep -m2 -i 'signal' vg.err)"
[ $rc -eq 0 ] || fail "vf under valgrind exited $rc: $(tail -5 vg.err)"
grep -q "^ok$" vg.out || fail "vf under valgrind printed: $(cat vg.out)"
ok "vf under valgrind"
