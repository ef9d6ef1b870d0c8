#!/usr/bin/env bash
# Each misuse of the allocator is reported on stderr with its address, then
# the process aborts (SIGABRT), for small, large and huge regions, in the
# thread cache and after the region went back to its run, from another
# thread (also the second free on a cached thread of a region a new
# thread's first free sent to its run), twice in the cache (a write after free cleared its free mark: the
# flush finds it), also of 8 B regions (their free mark is a tag in the
# link word; one freed into another thread's cache, then here: reported by
# that thread's flush, its list left whole), and for pointers that were never the allocator's; also right after
# the free that starts the background purger, whose pthread_create
# allocates on the freeing thread (it once took the region just freed, and
# once carved a run on the pages of large regions freed just before).
# malloc_usable_size of a freed small region or of a pointer inside a
# region, and realloc of a pointer inside a small region to a size of its
# class, are reported too: each answered as if the region started there
# (realloc handed the pointer back), and a program that trusted it wrote
# past the region's end. realloc of a freed region to a size of its own
# class (the no-op, whose class test takes no jm__size2bin) is reported as
# one to another class is. A write into a freed region of 17 to 64 pages in
# the thread cache's class lists (over its page count in word 2) is
# reported at the next request of its class, not believed (a 20-page
# region was handed out for 23 pages). So is one over a cached large
# region's link (word 0), of any cached size, at the request that reaches
# the address written there: a 10-page list's handed it out as a region.
# Three that went unreported, the
# region then handed out twice (exit 0 on the library before session 35):
# an 8 B region freed by two threads, taken by the first one's malloc
# before its list's flush (double-free-tiny-two-caches; by its malloc(0),
# double-free-tiny-two-caches-zero, and by its first malloc, which went by
# the heap profile's budget to an unchecked pop,
# double-free-tiny-first-malloc, until session 36; and by a forked
# child, where the thread whose list held it is gone and that list went
# to its runs unchecked, double-free-tiny-forked-gone, until session 37:
# exit 0 there, the region handed out twice in the child); a forked child's
# second free of its parent's region, freed unwritten to its run while the
# child's cache was set aside, made once that cache is the fast paths'
# again (double-free-forked-refree, double-free-tiny-forked-refree). And
# pointers into a chunk's header, on the stack, inside memalign's regions
# of each kind, inside a cached region of 17 to 64 pages, and realloc of
# one inside a huge region or of a freed huge one to a small size.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/misuse
[ -x "$helper" ] || fail "$helper is not built"
export JMALLOC_STATS_DIR=$JM_TMP
# What the message must say where the radix tree does not name the pointer
# (it holds a huge region's first chunk only, and forgets a freed one): a
# freed huge region and one's second chunk were reported as "not allocated
# by jmalloc".
want_words() {
	case $1 in
	double-free-huge) echo "free of a pointer to a freed huge region" ;;
	realloc-freed-huge) echo "realloc of a pointer to a freed huge region" ;;
	interior-memalign-huge) echo "free of a pointer inside a huge region" ;;
	realloc-interior-huge) echo "realloc of a pointer inside a huge region" ;;
	interior-huge-chunk) echo "free of a pointer inside a huge region" ;;
	interior-large-last) echo "free of a pointer inside a large region" ;;
	foreign-*) echo "not allocated by jmalloc" ;;
	*) echo "jmalloc" ;;
	esac
}
fails=0
for mode in double-free-small double-free-small-later double-free-small-flushed \
            double-free-small-clobbered double-free-tiny double-free-tiny-later \
            double-free-tiny-flushed double-free-tiny-clobbered usable-size-freed-tiny interior-tiny \
            double-free-cross-thread double-free-new-thread-first double-free-tiny-new-thread-first \
            double-free-tiny-other-cache double-free-tiny-two-caches double-free-tiny-two-caches-zero \
            double-free-tiny-first-malloc double-free-tiny-forked-gone \
            double-free-forked-refree double-free-tiny-forked-refree \
            free-chunk-header foreign-stack interior-large-class interior-memalign-small \
            interior-memalign-large interior-memalign-huge realloc-interior-huge realloc-freed-huge-small \
            double-free-small-purger double-free-run-purger double-free-large double-free-large-cached \
            double-free-huge interior-small interior-large interior-large-last interior-large-cached interior-huge foreign-static foreign-mmap \
            realloc-freed realloc-freed-same realloc-foreign free-sized-wrong usable-size-freed \
            usable-size-freed-small usable-size-interior-small usable-size-interior-large \
            usable-size-interior-huge realloc-interior-small realloc-freed-huge interior-huge-chunk \
            write-after-free write-after-free-large-class write-after-free-large-link \
            write-after-free-large-class-link write-after-free-arena-cache-link; do
	conf=
	[ "$mode" = write-after-free ] && conf=junk:1
	# The write after free is found when the next request of the size
	# reads the thread's cache; a request the heap profile samples is
	# served outside the cache (jm__alloc_sampled) and never meets the
	# region, so the case ran clean 2 times in 300 at the default
	# sampling (58 in 100 at prof_sample:4096). Sampling off, every time.
	case $mode in write-after-free-large-*) conf=prof_sample:0 ;; esac
	# The arena's cache of 9 to 64 pages holds regions only in an
	# arena threads share: one arena for the helper's two threads.
	case $mode in *-arena-cache-*) conf=narenas:1,prof_sample:0 ;; esac
	JMALLOC_CONF=$conf LD_PRELOAD=$JMALLOC_LIB "$helper" "$mode" >"$JM_TMP/out" 2>"$JM_TMP/err"
	rc=$?
	addr=$(head -n 1 "$JM_TMP/out")
	msg=$(grep 'jmalloc\[' "$JM_TMP/err" | head -n 1)
	if [ $rc -ne 134 ]; then
		echo "FAIL $mode: exit $rc, expected 134 (SIGABRT); stderr: $(cat "$JM_TMP/err")"
		fails=$((fails+1))
	elif [ -z "$addr" ] || ! grep -q -- "$addr" <<<"$msg"; then
		echo "FAIL $mode: the message does not name $addr: $msg"
		fails=$((fails+1))
	elif ! grep -q -- "$(want_words "$mode")" <<<"$msg"; then
		echo "FAIL $mode: the message does not say \"$(want_words "$mode")\": $msg"
		fails=$((fails+1))
	else
		echo "ok   $mode: $msg"
	fi
done
# Without the allocator, the helper's misuse of glibc is not our concern;
# but a correct run of a real program must not trip any of these checks.
LD_PRELOAD=$JMALLOC_LIB sh -c 'seq 20000 | sort -R | sort -n >/dev/null' || { echo "FAIL: sort pipeline"; fails=$((fails+1)); }
[ $fails -eq 0 ]
