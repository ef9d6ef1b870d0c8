#!/usr/bin/env bash
# timeout: 60
# A set-uid program ignores JMALLOC_CONF and JMALLOC_STATS_DIR (AT_SECURE),
# but kept them in its environment, which the programs it runs as root
# inherit: su without -l keeps the caller's environment (glibc takes out
# LD_PRELOAD and its own MALLOC_* there, not jmalloc's), so that root's
# shell and every command run from it took nobody's JMALLOC_STATS_DIR and
# JMALLOC_CONF: root's processes published, as root, in a directory of
# nobody's choosing (out of the daemon's sight; a FUSE mount of theirs
# there would hold each of root's programs at its start) and ran with
# nobody's options (stats:0, junk). Now a set-uid or set-gid program
# takes both out of its environment, as glibc does with its own
# (twenty-first pass, docs/security.md). Here a set-uid root program
# linked with jmalloc becomes root as su does and runs another jmalloc
# program, as nobody with both variables set.
. "$(dirname "$0")/../lib.sh"
need_users "run a set-uid program as nobody"
need_static_lib
cat >"$JM_TMP/su.c" <<'C'
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	void *block = malloc(100);
	__asm__ volatile("" : : "r"(block) : "memory"); /* kept: not elided */
	free(block);
	if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0)
		return 2;
	execv(argv[1], argv + 1);
	return 3;
}
C
cat >"$JM_TMP/shell.c" <<'C'
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
/* Says who it is, what it inherited, and the files in argv[1] while it
 * runs (its segment, where it published there). */
int main(int argc, char **argv)
{
	void *block = malloc(100);
	__asm__ volatile("" : : "r"(block) : "memory"); /* kept: not elided */
	free(block);
	const char *dir = getenv("JMALLOC_STATS_DIR"), *conf = getenv("JMALLOC_CONF");
	int files = 0;
	DIR *d = argc > 1 ? opendir(argv[1]) : NULL;
	for (struct dirent *de; d && (de = readdir(d));)
		files += de->d_name[0] != '.';
	printf("uid %u dir %s conf %s files %d\n", (unsigned)getuid(), dir ? dir : "-",
	       conf ? conf : "-", files);
	return 0;
}
C
mkdir -p "$JM_TMP/pub"
chmod 755 "$JM_TMP" "$JM_TMP/pub"
cc -static -O1 -o "$JM_TMP/pub/su" "$JM_TMP/su.c" "$lib" -lpthread || fail "cannot link su"
cc -static -O1 -o "$JM_TMP/pub/shell" "$JM_TMP/shell.c" "$lib" -lpthread || fail "cannot link shell"
chown root:root "$JM_TMP/pub/su" && chmod 4755 "$JM_TMP/pub/su"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
THEIRS=$JM_TMP/theirs       # nobody's directory
mkdir -p "$THEIRS"
chown 65534:65534 "$THEIRS"
out=$("${NOBODY[@]}" env JMALLOC_STATS_DIR="$THEIRS" JMALLOC_CONF=junk:1 \
	"$JM_TMP/pub/su" "$JM_TMP/pub/shell" "$THEIRS" 2>&1) || fail "su did not run the shell: $out"
echo "root's shell run through a set-uid program by nobody: $out"
case $out in
*"uid 0 "*) ;;
*) fail "the shell did not run as root: $out" ;;
esac
case $out in
*"files 0"*) ;;
*) fail "root's shell published in nobody's directory: $out" ;;
esac
case $out in
*"dir - conf -"*) ;;
*) fail "root's shell inherited nobody's JMALLOC_* through the set-uid program: $out" ;;
esac
# The control: the same two run by root keep them (no set-uid step).
out=$(env JMALLOC_STATS_DIR="$THEIRS" JMALLOC_CONF=junk:1 "$JM_TMP/pub/su" "$JM_TMP/pub/shell" \
	"$THEIRS" 2>&1)
echo "the same run by root: $out"
case $out in
*"dir $THEIRS conf junk:1 files 1"*) ;;
*) fail "without a set-uid step the variables were lost: $out" ;;
esac
ok "a set-uid program's children do not inherit JMALLOC_CONF and JMALLOC_STATS_DIR"
