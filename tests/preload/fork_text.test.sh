#!/usr/bin/env bash
# The code a forked child runs in its fork handlers is the library's fork
# text (JM_FORK_TEXT: the .text section, apart from jm_text), so that a
# child touches few pages of the library's code: a new process faults in
# each page of text at its first use. Checked by layout: the fork text
# calls into jm_text only where it reports an error (jm__log, jm__fatal,
# errno_name) or on paths few children take (the /proc read when the
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
		split("jm__log jm__fatal errno_name jm__read_file reap_stale.constprop.0 " \
		    "purging_finish_locked jm__format", a, " ")
		for (i in a) allowed[a[i]] = 1
		for (t in calls)
			if (!(t in own) && !(t in allowed) && t !~ /@plt$/)
				print t
	}' "$JM_TMP/fork.s" >"$JM_TMP/outside"
[ ! -s "$JM_TMP/outside" ] ||
	fail "the fork text calls into jm_text (a page fault in every forked child): $(tr '\n' ' ' <"$JM_TMP/outside")"
ok "the fork handlers call nothing of jm_text but error reports, rare paths and jm__format"
