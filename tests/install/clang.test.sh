#!/usr/bin/env bash
# The allocator's sources compile with clang too (syntax and semantics,
# -Wall -Wextra -Werror): clang-tidy and clang's static analyser read
# them as clang does, and a distribution may build with it. clang refused
# C11's atomic_load on the radix tree root's plain pointers (rtree.c, a GCC
# leniency), which stopped the analysis of every file that includes
# internal.h. GCC's optimize attribute, which clang ignores, is allowed.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_cmd clang
cd "$JM_ROOT"
for f in liballoc/*.c; do
	clang -fsyntax-only -std=gnu11 -D_GNU_SOURCE -pthread -Iliballoc -Iliballoc/include \
	    -Wall -Wextra -Werror -Wno-unknown-attributes -Wno-unused-parameter "$f" 2>"$JM_TMP/err" ||
		fail "clang refuses $f: $(head -5 "$JM_TMP/err")"
done
ok "liballoc/*.c compile with clang"
