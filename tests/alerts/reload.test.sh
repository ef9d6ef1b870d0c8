#!/usr/bin/env bash
# timeout: 120
# Rules and SIGHUP:
# - without --config the built-in rule set is in force (and listed); the
#   example file of docs/config.md is accepted;
# - a bad config file is refused at start with FILE:LINE: reason (exit 1),
#   then one line: FILE: N errors: not started; an unreadable one too;
# - on SIGHUP a bad file is refused with FILE:LINE: reason, and the rules
#   in force stay: the alert they raised keeps firing and the rule is still
#   exported; a good file replaces them: an alert whose rule is gone is
#   resolved, and a new rule fires.
. "$(dirname "$0")/../lib.sh"
need_segments

# ---- the built-in rules
jmd_start
grep -q "alert rules in force: fragmentation (fragmentation)" "$JMD_LOG" ||
	fail "no built-in rules without --config"
jmd_stop

# ---- bad files at start: each refused with its line and reason
bad() { # EXPECTED-MESSAGE-REGEX then the file's lines
	local want=$1; shift
	printf '%s\n' "$@" >"$JM_TMP/bad.conf"
	local rc=0
	"$JMSTATD" --socket "$JM_TMP/x.sock" --stats-dir "$JMD_STATS" --config "$JM_TMP/bad.conf" \
		>/dev/null 2>"$JM_TMP/err" || rc=$?
	[ $rc -eq 1 ] || fail "bad config ($*): exit $rc, not 1"
	grep -Eq "^([^ ]+ )?jmstatd: $JM_TMP/bad.conf:$want" "$JM_TMP/err" ||
		{ cat "$JM_TMP/err" >&2; fail "bad config ($*): not '$want'"; }
	[ ! -e "$JM_TMP/x.sock" ] || fail "a refused start left its socket"
	local n; n=$(grep -c "jmstatd: $JM_TMP/bad.conf:[0-9]" "$JM_TMP/err")
	tail -n 1 "$JM_TMP/err" | grep -Eq "^([^ ]+ )?jmstatd: $JM_TMP/bad.conf: $n errors?: not started \(fix the file; .jmstatd --check-config $JM_TMP/bad.conf. checks it without starting\)\$" ||
		{ cat "$JM_TMP/err" >&2; fail "bad config ($*): no last line saying it did not start"; }
}
bad "1: expected 'key = value'" "frag_ratio 0.5"
bad "2: rule 'a': kind 'frag' is not" "[rule a]" "kind = frag"
bad "1: rule 'a': kind fragmentation needs 'ratio'" "[rule a]" "kind = fragmentation"
bad "3: rule 'a': ratio: '1.5' is not a ratio" "[rule a]" "kind = fragmentation" "ratio = 1.5"
bad "3: rule 'a': unknown setting 'treshold'" "[rule a]" "kind = fragmentation" "treshold = 1"
bad "4: rule 'a': min_wasted: '12 parsecs'" "# c" "[rule a]" "kind = fragmentation" "min_wasted = 12 parsecs"
bad "2: rule 'a': 'util_below' does not apply to kind fragmentation" "" "[rule a]" "kind = fragmentation" "ratio = 0.5" "util_below = 0.2"
bad "1: rule 'g': window must be between" "[rule g]" "kind = growth" "growth = 1GiB" "window = 1h"
bad "5: rule 'a' defined twice" "[rule a]" "kind = fragmentation" "ratio = 0.5" "" "[rule a]"
bad "1: unknown section" "[rules]"
bad "2: 'command' set twice" "command = true" "command = false"
bad "2: notify: 'fired' is not" "[global]" "notify = fired"
# A file that cannot be read: the reason, then that jmstatd did not start.
for f in "$JM_TMP/no-such.conf" "$JM_TMP"; do
	rc=0
	"$JMSTATD" --socket "$JM_TMP/x.sock" --stats-dir "$JMD_STATS" --config "$f" >/dev/null 2>"$JM_TMP/err" || rc=$?
	[ $rc -eq 1 ] && grep -Eq "^([^ ]+ )?jmstatd: cannot read the config file $f: " "$JM_TMP/err" &&
		tail -n 1 "$JM_TMP/err" | grep -Eq "^([^ ]+ )?jmstatd: not started: --config names a file jmstatd cannot read\$" ||
		{ cat "$JM_TMP/err" >&2; fail "unreadable config $f: exit $rc"; }
done

# ---- the example config of docs/config.md is accepted as it stands
python3 - "$JM_ROOT/docs/config.md" >"$JM_TMP/readme.conf" <<'EOF'
import sys
s = open(sys.argv[1]).read()
i = s.index("    # Comments are whole lines")
for line in s[i:].split("\n"):
    if not (line.startswith("    ") or line == ""):
        break
    print(line[4:])
EOF
jmd_start --config "$JM_TMP/readme.conf"
grep -q "alert rules in force: frag_high (fragmentation), leak (growth), sparse (sparse_bin)" "$JMD_LOG" ||
	fail "the example config of docs/config.md was not taken"
jmd_stop

# ---- a rule that fires, then reloads
cat >"$JM_TMP/rules.conf" <<'CONF'
[rule frag_a]
kind = fragmentation
ratio = 0.5
min_wasted = 16MiB
for = 0
CONF
jmd_start --config "$JM_TMP/rules.conf" --metrics 127.0.0.1:0

jmd_py - "$JMD_LOG" "$JMD_PID" "$JM_TMP/rules.conf" <<'EOF' || fail "reloads"
import os, re, signal, sys, time
from alib import *

log_path, daemon, conf = sys.argv[1], int(sys.argv[2]), sys.argv[3]
port = log_port(log_path)

def alerts(rule):
    r = request({"cmd": "alerts"})
    return [a for a in r["alerts"] if a["rule"] == rule]

def hup_and_wait(pattern):
    n = len(re.findall(pattern, open(log_path).read()))
    os.kill(daemon, signal.SIGHUP)
    wait_until(lambda: len(re.findall(pattern, open(log_path).read())) > n, "log: " + pattern)

f = Fragmenter()
f.cmd("frag 192 300000")
a = wait_until(lambda: [x for x in alerts("frag_a") if x["pid"] == f.pid and x["state"] == "firing"],
               "frag_a firing")[0]

# A bad file on SIGHUP: refused with FILE:LINE: reason, frag_a stays.
open(conf, "w").write("[rule frag_b]\nkind = fragmentation\nratio = 0.3\nmin_wasted = lots\n")
hup_and_wait(r"SIGHUP: \S+ refused; the previous config stays in force")
text = open(log_path).read()
check(re.search(r"jmstatd: %s:4: rule 'frag_b': min_wasted: 'lots' is not a size" % re.escape(conf), text),
      "the refusal does not name the line and the reason")
t = time.time()
stats_after(f.pid, t)      # a tick after the refused reload
stats_after(f.pid, time.time())
now = [x for x in alerts("frag_a") if x["id"] == a["id"]][0]
check(now["state"] == "firing", "frag_a after a refused reload: %r" % now)
m = scrape(port)
check(value(m, "jmalloc_alerts", rule="frag_a", state="firing") == 1,
      "the metrics do not show frag_a firing after a refused reload")
check(value(m, "jmalloc_alert_state", rule="frag_a", pid=f.pid, exe=now["exe"]) == 2,
      "no jmalloc_alert_state for the firing alert")
check(not [l for l, v in m.get("jmalloc_alerts", []) if l["rule"] == "frag_b"], "frag_b in force")

# A good file: frag_a is gone (its alert resolves), frag_b fires.
open(conf, "w").write("[rule frag_b]\nkind = fragmentation\nratio = 0.3\nmin_wasted = 8MiB\n")
hup_and_wait(r"SIGHUP: reloaded ")
check("alert rules in force: frag_b (fragmentation)" in open(log_path).read(), "new rules not logged")
gone = [x for x in alerts("frag_a") if x["id"] == a["id"]][0]
check(gone["state"] == "resolved", "frag_a's alert after its rule was removed: %r" % gone)
check(re.search(r"alert %d frag_a: .*firing -> resolved: .*its rule was removed by a reload" % a["id"],
                open(log_path).read()), "no log line for the removed rule's alert")
b = wait_until(lambda: [x for x in alerts("frag_b") if x["pid"] == f.pid and x["state"] == "firing"],
               "frag_b firing")[0]
m = scrape(port)
check(value(m, "jmalloc_alerts", rule="frag_b", state="firing") == 1, "frag_b not exported")
check(not [l for l, v in m.get("jmalloc_alerts", []) if l["rule"] == "frag_a"], "frag_a still exported")
f.exit()
print("ok")
EOF
kill -0 "$JMD_PID" || fail "jmstatd died"
jmd_stop
echo "ok"
