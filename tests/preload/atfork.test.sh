#!/usr/bin/env bash
# Fork handlers that allocate, registered before the program's first malloc
# (a constructor's pthread_atfork, as libraries do) and by a library
# loaded with dlopen and later closed (tests/helpers/atfork_alloc.c), with
# another thread allocating: every fork's handlers, parent and child, run
# and allocate, and no fork deadlocks (prepare handlers run in the reverse
# order of registration: an allocator whose handlers were registered at its
# first use took its locks before such a handler allocated); the closed
# library's handlers are not called. Also with one arena and no thread
# cache (every allocation takes a lock).
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd cc
helper=$JM_HELPERS/atfork_alloc
[ -x "$helper" ] || fail "$helper is not built"
export JMALLOC_STATS_DIR=$JM_TMP
cat >"$JM_TMP/lib.c" <<'C'
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
static char *state;
static void prepare(void) { free(state); state = malloc(3000); strcpy(state, "lib prepare"); }
static void parent(void) { free(state); state = strdup("lib parent"); }
static void child(void) { free(state); state = strdup("lib child"); }
__attribute__((constructor)) static void init(void) { pthread_atfork(prepare, parent, child); }
__attribute__((destructor)) static void fini(void) { free(state); }
const char *atfork_lib_state(void) { return state; }
C
cc -O2 -fPIC -shared -o "$JM_TMP/libatfork.so" "$JM_TMP/lib.c" -pthread || fail "cannot build the library"
"$helper" "$JM_TMP/libatfork.so" >"$JM_TMP/out" 2>&1 || fail "without the allocator: exit $?: $(cat "$JM_TMP/out")"
for conf in "" "narenas:1,tcache:0"; do
	JMALLOC_CONF=$conf LD_PRELOAD=$JMALLOC_LIB "$helper" "$JM_TMP/libatfork.so" >"$JM_TMP/out" 2>&1
	rc=$?
	[ $rc -eq 142 ] && fail "JMALLOC_CONF='$conf': deadlocked in a fork (killed by its alarm)"
	[ $rc -eq 0 ] || fail "JMALLOC_CONF='$conf': exit $rc: $(cat "$JM_TMP/out")"
	[ "$(cat "$JM_TMP/out")" = ok ] || fail "JMALLOC_CONF='$conf': printed $(cat "$JM_TMP/out")"
	ok "JMALLOC_CONF='$conf': 45 forks with allocating handlers"
done
