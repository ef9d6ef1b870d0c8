#!/usr/bin/env bash
# The code a forked child runs in its fork handlers is the library's fork
# text (JM_FORK_TEXT: the .text section, apart from jm_text), so that a
# child touches few pages of the library's code: a new process faults in
# each page of text at its first use. Checked by layout: the fork text
# calls into jm_text only where it reports an error (jm__log, jm__fatal,
# errno_name, log_unpublished: a child that cannot publish its segment) or on paths few children take (the /proc read when the
# boot clock's tick was missed, reaping a stale segment, finishing a
# purge a fork interrupted), and to name its segment (jm__format). A call
# to another function of jm_text is a page fault in every child: the
# child's handler read the clock through util.c's jm__now_ns, alone on its
# page of jm_text (fork-churn, perf record -e page-faults: 400 faults in
# jm__now_ns in 400 children; none once it is fork text).
# timeout: 30
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd objdump readelf awk

readelf -SW "$JMALLOC_LIB" | grep -q ' jm_text ' || fail "no jm_text section in $JMALLOC_LIB"
objdump -d --no-show-raw-insn -j .text "$JMALLOC_LIB" >"$JM_TMP/fork.s" ||
	fail "objdump -d of $JMALLOC_LIB failed"
grep -q '<jm__bg_postfork_child>:' "$JM_TMP/fork.s" ||
	fail "jm__bg_postfork_child is not in the fork text (.text)"
# The fork text's own functions, then every target of a call or jump
# that is none of them, nor the PLT (libc), nor an allowed one.
awk '
	/^[0-9a-f]+ <[^>]+>:$/ { sub(/^[0-9a-f]+ </, ""); sub(/>:$/, ""); own[$0] = 1; next }
	/\t(call|jmp)/ && /</ {
		t = $0; sub(/^.*</, "", t); sub(/>.*$/, "", t); sub(/\+0x[0-9a-f]+$/, "", t)
		calls[t] = 1
	}
	END {
		split("jm__log jm__fatal errno_name log_unpublished jm__read_file reap_stale.constprop.0 " \
		    "purging_finish_locked jm__format", a, " ")
		for (i in a) allowed[a[i]] = 1
		for (t in calls)
			if (!(t in own) && !(t in allowed) && t !~ /@plt$/)
				print t
	}' "$JM_TMP/fork.s" >"$JM_TMP/outside"
[ ! -s "$JM_TMP/outside" ] ||
	fail "the fork text calls into jm_text (a page fault in every forked child): $(tr '\n' ' ' <"$JM_TMP/outside")"
ok "the fork handlers call nothing of jm_text but error reports, rare paths and jm__format"

# What a child that allocates nothing runs (its handlers and its _exit:
# the commonest fork, one that execs or _exits at once) makes its system
# calls in line: through syscall() (the library's own, on a page of its
# own), libc's mremap or the vDSO's clock_gettime, each was a page of text
# the child touched for nothing else, a page fault in every child (fork-exec,
# perf record -e page-faults -d: 17 faults a child, 20 before). The
# publication, at a first allocation, and the unlink of its file at
# _exit (jm__stats_exit, after a test of seg_published) are not among
# these.
objdump -d --no-show-raw-insn "$JMALLOC_LIB" >"$JM_TMP/all.s" || fail "objdump -d of $JMALLOC_LIB failed"
awk '
	BEGIN {
		split("postfork_child jm__stats_postfork_child jm__bg_postfork_child " \
		    "jm__arena_postfork_child jm__huge_postfork_child jm__base_postfork_child " \
		    "jm__tcache_postfork_child jm__prof_postfork_child jm__modules_postfork_child " \
		    "jm__rtree_child_reinit jm__arena_postfork_threads exit_now _exit _Exit " \
		    "boot_ns_child child_mremap jm__now_ns_child clear_dead_rows", r, " ")
		for (i in r) root[r[i]] = 1
		split("syscall@plt syscall jm__syscall6 mremap@plt clock_gettime@plt " \
		    "jm__now_ns boot_ns", b, " ")
		for (i in b) banned[b[i]] = 1
	}
	/^[0-9a-f]+ <[^>]+>:$/ { f = $0; sub(/^[0-9a-f]+ </, "", f); sub(/>:$/, "", f); sub(/\.(constprop|isra|part)\.[0-9]+$/, "", f); seen[f] = 1; next }
	f in root && /\t(call|jmp)/ && /</ {
		t = $0; sub(/^.*</, "", t); sub(/>.*$/, "", t); sub(/\+0x[0-9a-f]+$/, "", t)
		if (t in banned) print f " -> " t
	}
	END { if (!("postfork_child" in seen) || !("_exit" in seen)) print "postfork_child or _exit not found" }
' "$JM_TMP/all.s" >"$JM_TMP/child_calls"
[ ! -s "$JM_TMP/child_calls" ] ||
	fail "a child that allocates nothing calls out for a system call (a page of text, a fault): $(tr '\n' ' ' <"$JM_TMP/child_calls")"
ok "a child's handlers and _exit make their system calls in line"
