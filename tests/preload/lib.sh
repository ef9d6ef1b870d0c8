# lib.sh: sourced by tests/preload/*.test.sh (not a test itself).
#
# jm_require_lib             exit 77 unless $JMALLOC_LIB exists and exports jm_malloc
# jm_require_cmd CMD...      exit 77 unless every CMD is installed
# jm_compare NAME CMD...     run CMD without the allocator, then with it
#                            (LD_PRELOAD), each in its own empty directory
#                            ($JM_TMP/NAME.plain, $JM_TMP/NAME.jm) as cwd;
#                            fail unless both exit 0 with the same stdout (the
#                            run's directory is replaced by DIR first)
# jm_proof NAME PROG...      fail unless, in the preloaded run of NAME, the
#                            dynamic linker bound malloc & co of every PROG to
#                            libjmalloc.so and bound them nowhere else
#
# The proof comes from the dynamic linker itself: the preloaded run has
# LD_DEBUG=bindings, which logs, per process, each symbol lookup and the
# object that satisfied it.

set -u

# jm_segment DIR PID: prints the path of PID's stats segment in DIR, whichever
# form its name has: jmalloc.PID.stats (a process of the host's pid namespace)
# or jmalloc.PID.<pidns>.<start>[.<tag>].stats (any other, as when the tests
# run in a container); fails, printing nothing, if there is none.
jm_segment() {
	local f
	for f in "$1/jmalloc.$2.stats" "$1/jmalloc.$2".*.stats; do
		[ -e "$f" ] && { printf '%s\n' "$f"; return 0; }
	done
	return 1
}

# JM_SEG_RE: an extended regular expression (grep -E) matching a segment's
# name in either form (jm_segment).
JM_SEG_RE='jmalloc\.[0-9]+(\.[0-9]+\.[0-9]+(\.[0-9a-f]+)?)?\.stats'

# jm_segment_name PID: prints the name the allocator gives the segment of
# PID, a live process of our pid namespace (a name jm_segment finds).
jm_segment_name() {
	local ns start
	ns=$(stat -L -c %i /proc/self/ns/pid) || return 1
	if [ "$ns" = 4026531836 ]; then
		printf 'jmalloc.%s.stats\n' "$1"
		return 0
	fi
	start=$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20) || return 1
	printf 'jmalloc.%s.%s.%s.stats\n' "$1" "$ns" "$start"
}

jm_require_lib() {
	if [ -z "${JMALLOC_LIB:-}" ] || [ ! -f "$JMALLOC_LIB" ]; then
		echo "SKIP: liballoc/libjmalloc.so is not built"
		exit 77
	fi
	if ! nm -D --defined-only "$JMALLOC_LIB" 2>/dev/null | grep -q ' jm_malloc$'; then
		echo "SKIP: $JMALLOC_LIB does not define jm_malloc yet"
		exit 77
	fi
}

jm_require_cmd() {
	local c
	for c in "$@"; do
		if ! command -v "$c" >/dev/null 2>&1; then
			echo "SKIP: $c is not installed"
			exit 77
		fi
	done
}

jm_fail() {
	echo "FAIL: $*"
	exit 1
}

jm_compare() {
	local name=$1 mode dir rc s e
	shift
	for mode in plain jm; do
		dir=$JM_TMP/$name.$mode
		mkdir -p "$dir"
		s=$(date +%s.%N)
		if [ "$mode" = jm ]; then
			(cd "$dir" && env LD_PRELOAD="$JMALLOC_LIB" LD_DEBUG=bindings \
				LD_DEBUG_OUTPUT="$JM_TMP/$name.ld" "$@") \
				>"$JM_TMP/$name.$mode.out" 2>"$JM_TMP/$name.$mode.err"
		else
			(cd "$dir" && "$@") >"$JM_TMP/$name.$mode.out" 2>"$JM_TMP/$name.$mode.err"
		fi
		rc=$?
		e=$(date +%s.%N)
		sed -i "s#$dir#DIR#g" "$JM_TMP/$name.$mode.out"
		printf '%s: %-5s exit %d, %s lines of output, %.1fs\n' "$name" "$mode" "$rc" \
			"$(wc -l <"$JM_TMP/$name.$mode.out")" "$(echo "$e - $s" | bc)"
		if [ "$rc" -ne 0 ]; then
			echo "--- $name ($mode) stderr:"
			tail -n 40 "$JM_TMP/$name.$mode.err"
			echo "--- $name ($mode) stdout:"
			tail -n 20 "$JM_TMP/$name.$mode.out"
			jm_fail "$name exited $rc ($mode)"
		fi
	done
	if ! cmp -s "$JM_TMP/$name.plain.out" "$JM_TMP/$name.jm.out"; then
		echo "--- $name: output differs (plain vs jmalloc):"
		diff "$JM_TMP/$name.plain.out" "$JM_TMP/$name.jm.out" | head -n 40
		echo "--- $name (jm) stderr:"
		tail -n 20 "$JM_TMP/$name.jm.err"
		jm_fail "$name: output under jmalloc differs"
	fi
}

jm_proof() {
	local name=$1 prog n lib
	shift
	lib=$(readlink -f "$JMALLOC_LIB")
	ls "$JM_TMP/$name.ld."* >/dev/null 2>&1 || jm_fail "$name: no LD_DEBUG output"
	# Every binding of the malloc family, in every process of the run.
	cat "$JM_TMP/$name.ld."* |
		grep -E "normal symbol \`(malloc|calloc|realloc|free|posix_memalign|aligned_alloc|memalign)'" \
		>"$JM_TMP/$name.bindings" || true
	n=$(grep -c -F -e "to $JMALLOC_LIB [0]" -e "to $lib [0]" "$JM_TMP/$name.bindings")
	# Bindings elsewhere are allowed only to an object that does not
	# define the function: a non-PIE program that takes the address of
	# free has a PLT stub for it, which jumps on to libjmalloc.so.
	local target sym
	grep -v -F -e "to $JMALLOC_LIB [0]" -e "to $lib [0]" "$JM_TMP/$name.bindings" |
		sed -E "s/.* to ([^ ]*) \[0\]: normal symbol .([a-z_]*)'.*/\1 \2/" | sort -u |
		while read -r target sym; do
			if nm -D --defined-only "$target" 2>/dev/null | grep -q -E " [TtWiI] $sym(@|\$)"; then
				grep -E "to $target \[0\]: normal symbol .$sym'" "$JM_TMP/$name.bindings" | head -n 3
				echo "$target"
			fi
		done >"$JM_TMP/$name.elsewhere"
	if [ -s "$JM_TMP/$name.elsewhere" ]; then
		cat "$JM_TMP/$name.elsewhere"
		jm_fail "$name: malloc functions bound to another allocator than libjmalloc.so"
	fi
	local prog_re
	for prog in "$@"; do
		prog_re=$(printf '%s' "$prog" | sed 's/[]\/$*.^+?(){}|[]/\\&/g')
		grep -q -E "binding file ([^ ]*/)?$prog_re \[0\] to ($JMALLOC_LIB|$lib) \[0\]: normal symbol \`(malloc|calloc|realloc|free)'" \
			"$JM_TMP/$name.bindings" ||
			jm_fail "$name: $prog's malloc was not bound to libjmalloc.so"
	done
	echo "$name: $n malloc-family bindings to libjmalloc.so in $(ls "$JM_TMP/$name.ld."* | wc -l) processes, none to another allocator"
}
