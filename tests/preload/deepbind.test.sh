#!/usr/bin/env bash
# A library opened with RTLD_DEEPBIND binds its own lookups to its
# dependencies first, libc among them: its free was glibc's, and a block
# of the program's freed there crashed (PHP loads every extension so:
# `php -r 'echo 1;'` took a SIGSEGV in glibc's free from pdo.so, under
# jmalloc as under jemalloc, mimalloc and tcmalloc preloaded). The
# library's dlopen drops the flag (liballoc/deepbind.c). Checked: a block
# of the program's freed in a deep-bound library, one of the library's
# (strdup) freed by the program, realloc across, and that dlopen still
# finds a file by its caller's RUNPATH (the wrapper jumps, so glibc sees
# the library's own return address, not the allocator's).
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd cc
export JMALLOC_STATS_DIR=$JM_TMP
mkdir -p "$JM_TMP/sub"
cat > "$JM_TMP/b.c" <<'EOC'
int b_value(void) { return 42; }
EOC
cat > "$JM_TMP/a.c" <<'EOC'
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
void a_free(void *p) { free(p); }
char *a_dup(const char *s) { return strdup(s); }
void *a_grow(void *p, size_t n) { return realloc(p, n); }
/* libb.so is in sub/, found by this library's RUNPATH only */
int a_load_b(void)
{
	void *h = dlopen("libb.so", RTLD_NOW | RTLD_DEEPBIND);
	if (h == NULL)
		return -1;
	int (*f)(void) = (int (*)(void))dlsym(h, "b_value");
	int v = f ? f() : -2;
	dlclose(h);
	return v;
}
EOC
cat > "$JM_TMP/main.c" <<'EOC'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv)
{
	/* argv[2] "m": dlmopen into the program's namespace; "n": into a
	 * new one, libb.so alone (the flag kept there, harmless) */
	if (argc > 2 && argv[2][0] == 'n') {
		void *n = dlmopen(LM_ID_NEWLM, argv[1], RTLD_NOW | RTLD_DEEPBIND);
		int (*bv)(void) = n ? (int (*)(void))dlsym(n, "b_value") : NULL;
		printf(bv && bv() == 42 ? "ok\n" : "dlmopen LM_ID_NEWLM: %s\n", dlerror());
		return 0;
	}
	void *h = argc > 2 ? dlmopen(LM_ID_BASE, argv[1], RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND)
	    : dlopen(argv[1], RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
	if (h == NULL) { printf("dlopen: %s\n", dlerror()); return 1; }
	void (*a_free)(void *) = (void (*)(void *))dlsym(h, "a_free");
	char *(*a_dup)(const char *) = (char *(*)(const char *))dlsym(h, "a_dup");
	void *(*a_grow)(void *, size_t) = (void *(*)(void *, size_t))dlsym(h, "a_grow");
	int (*a_load_b)(void) = (int (*)(void))dlsym(h, "a_load_b");
	for (int i = 0; i < 1000; i++) {
		char *p = malloc(16 + i * 40);      /* the program's, freed by the library */
		memset(p, 'x', 16);
		p = a_grow(p, 64 + i * 80);          /* grown there */
		a_free(p);
		char *q = a_dup("deep");             /* the library's, freed here */
		if (strcmp(q, "deep") != 0) { puts("bad copy"); return 1; }
		q = realloc(q, 4096 + i);
		free(q);
	}
	int b = a_load_b();
	if (b != 42) { printf("libb.so by the caller's RUNPATH: %d (%s)\n", b, dlerror()); return 1; }
	dlclose(h);
	puts("ok");
	return 0;
}
EOC
cc -shared -fPIC -o "$JM_TMP/sub/libb.so" "$JM_TMP/b.c" &&
	cc -shared -fPIC -Wl,--enable-new-dtags,-rpath,'$ORIGIN/sub' -o "$JM_TMP/liba.so" "$JM_TMP/a.c" -ldl &&
	cc -O1 -o "$JM_TMP/main" "$JM_TMP/main.c" -ldl || fail "cc could not build the test program"
out=$("$JM_TMP/main" "$JM_TMP/liba.so" 2>&1) || fail "without the allocator: $out"
[ "$out" = ok ] || fail "without the allocator: $out"
rc=0
out=$(env LD_PRELOAD="$JMALLOC_LIB" "$JM_TMP/main" "$JM_TMP/liba.so" 2>&1) || rc=$?
[ $rc -eq 0 ] && [ "$out" = ok ] ||
	fail "preloaded, blocks passed across a library opened with RTLD_DEEPBIND: exit $rc: $(printf '%s' "$out" | head -n 5)"
ok "blocks passed both ways across a library opened with RTLD_DEEPBIND; its dlopen found libb.so by its RUNPATH"
# The same through dlmopen into the program's namespace (LM_ID_BASE):
# "realloc(): invalid pointer", exit 134, before dlmopen was the
# allocator's too; into a new namespace the flag is kept (the allocator
# is not there) and the library loads as without it.
rc=0
out=$(env LD_PRELOAD="$JMALLOC_LIB" "$JM_TMP/main" "$JM_TMP/liba.so" m 2>&1) || rc=$?
[ $rc -eq 0 ] && [ "$out" = ok ] ||
	fail "preloaded, dlmopen(LM_ID_BASE, RTLD_DEEPBIND): exit $rc: $(printf '%s' "$out" | head -n 5)"
out=$(env LD_PRELOAD="$JMALLOC_LIB" "$JM_TMP/main" "$JM_TMP/sub/libb.so" n 2>&1)
[ "$out" = ok ] || fail "preloaded, dlmopen(LM_ID_NEWLM, RTLD_DEEPBIND): $out"
ok "dlmopen with RTLD_DEEPBIND: into LM_ID_BASE as dlopen, into a new namespace as without the allocator"
# Both begin with endbr64: the PLT reaches them by an indirect jump, and
# built with -fcf-protection (Ubuntu's and Fedora's default) the library
# is marked ready for indirect branch tracking.
if command -v objdump >/dev/null; then
	for f in dlopen dlmopen; do
		first=$(objdump -d --no-show-raw-insn -j jm_text "$JMALLOC_LIB" |
			awk -v f="<$f>:" '$2 == f { getline; print $2; exit }')
		[ "$first" = endbr64 ] || fail "$f begins with '$first', not endbr64"
	done
	ok "dlopen and dlmopen begin with endbr64"
fi
if command -v php >/dev/null; then
	out=$(env LD_PRELOAD="$JMALLOC_LIB" php -r 'echo strlen(str_repeat("ab", 100000)), "\n";' 2>&1) ||
		fail "php (its extensions opened with RTLD_DEEPBIND) preloaded: $(printf '%s' "$out" | head -n 5)"
	[ "$out" = 200000 ] || fail "php preloaded printed: $out"
	ok "php with its extensions ran preloaded"
fi
