#!/usr/bin/env bash
# timeout: 60
# A misuse of the allocator (a free inside a huge region, of a freed
# one, of a pointer it did not make) is reported on stderr with the
# pointer, then the process aborts. In a set-uid or set-gid program
# (AT_SECURE) stderr is the invoking user's: the report gave them an
# address in the program's heap (as glibc's malloc printed one before
# 2.26), which its parent and forked children share. Now a program with
# AT_SECURE reports the misuse without the address; any other program
# still shows it (misuse.test.sh). A static program with jmalloc, set-uid
# root, run as nobody: a free 16 bytes into a huge region of its own.
. "$(dirname "$0")/../lib.sh"
need_users "run a set-uid program as nobody"
need_static_lib
cat >"$JM_TMP/prog.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
	char *p = malloc(8 << 20);
	if (!p)
		return 1;
	p[0] = 1;
	fprintf(stderr, "block %p\n", (void *)p);
	free(p + 16);
	return 0;
}
C
jm_public
cc -static -O1 -o "$JM_TMP/pub/plain" "$JM_TMP/prog.c" "$lib" -lpthread || fail "cannot link the program"
nm "$JM_TMP/pub/plain" | grep -q ' T jm_malloc$' || fail "jmalloc is not in the static program"
cp "$JM_TMP/pub/plain" "$JM_TMP/pub/suid"
chown root:root "$JM_TMP/pub/suid" && chmod 4755 "$JM_TMP/pub/suid"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

# The plain program, run as nobody: the report names the pointer.
"${NOBODY[@]}" env JMALLOC_CONF=stats:0 "$JM_TMP/pub/plain" 2>"$JM_TMP/plain.err"
rc=$?
cat "$JM_TMP/plain.err"
[ $rc -eq 134 ] || fail "the plain program's misuse did not abort it (exit $rc)"
grep -q 'inside a huge region: 0x[0-9a-f]' "$JM_TMP/plain.err" ||
	fail "the plain program's report does not name the pointer"
ok "a plain program's misuse report names the pointer"

# The set-uid one: aborts, says what, shows no address of its heap (its
# own "block" line is the program's, on the same stderr: only the
# allocator's line is judged).
"${NOBODY[@]}" "$JM_TMP/pub/suid" 2>"$JM_TMP/suid.err"
rc=$?
cat "$JM_TMP/suid.err"
[ $rc -eq 134 ] || fail "the set-uid program's misuse did not abort it (exit $rc)"
line=$(grep '^jmalloc\[' "$JM_TMP/suid.err")
[ -n "$line" ] || fail "the set-uid program reported no misuse"
case $line in
*"inside a huge region"*) ;;
*) fail "the set-uid program's report does not say what the misuse was: $line" ;;
esac
if printf '%s\n' "$line" | grep -q '0x[0-9a-f]'; then
	fail "the set-uid program's report gives nobody an address of its heap: $line"
fi
ok "a set-uid program's misuse report shows no address"
