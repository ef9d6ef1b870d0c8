#!/usr/bin/env bash
# timeout: 90
# A site's id is a keyed hash of its frames (site_id.test.sh), and the
# daemon computed it under one key for every process: a user who writes
# root's service's frames into a site row of their own process's segment
# (theirs to write) was shown, in `sites`, the very id /metrics labels
# root's site with: an oracle for the load address that the key was to
# hide, a segment of 1,024 sites a read. The id is now keyed by the
# process's uid too: the same stack in processes of two users has two
# ids. Here the stacks are made the same without forging: sites_deep run
# by root and by nobody without address randomisation (setarch -R).
. "$(dirname "$0")/../lib.sh"
need_segments
need_jmctl
need_users "run a process as nobody"
need_cmd setarch
[ -x "$JM_HELPERS/sites_deep" ] || skip "build/tests/helpers/sites_deep is not built"
cd "$JM_TMP"
nobody_pub "$JM_HELPERS/sites_deep"
jmd_start
chmod 1777 "$JMD_STATS"
run_deep() {   # WHO OUT: sites_deep without ASLR, sampled
	local who=$1 out=$2
	if [ "$who" = root ]; then
		JMALLOC_CONF=prof_sample:65536 JMALLOC_STATS_DIR=$JMD_STATS LD_PRELOAD=$P/libjmalloc.so \
			setarch "$(uname -m)" -R "$P/sites_deep" >"$out" 2>&1 &
	else
		"${NOBODY[@]}" env JMALLOC_CONF=prof_sample:65536 JMALLOC_STATS_DIR="$JMD_STATS" \
			LD_PRELOAD="$P/libjmalloc.so" setarch "$(uname -m)" -R "$P/sites_deep" >"$out" 2>&1 &
	fi
	DEEP=$!
	PIDS+=("$DEEP")
	wait_line "$out" '^ready'
	wait_sampled "$DEEP"
}
run_deep root root.out
ROOT=$DEEP
run_deep nobody nobody.out
NOB=$DEEP
"$JMCTL" --socket "$JMD_SOCK" --json sites "$ROOT" -n 100 >root.json || fail "jmctl sites $ROOT"
"$JMCTL" --socket "$JMD_SOCK" --json sites "$NOB" -n 100 >nobody.json || fail "jmctl sites $NOB"
python3 - <<'PY'
import json, sys
def load(f):
    r = json.load(open(f))
    return r["sites"] if isinstance(r, dict) else r
def key(s):
    return tuple(f if isinstance(f, (str, int)) else f.get("address", f.get("addr")) for f in s["frames"])
root = {key(s): s["id"] for s in load("root.json")}
nob = {key(s): s["id"] for s in load("nobody.json")}
same = set(root) & set(nob)
print("stacks", len(root), len(nob), "the same frames in both:", len(same))
if not same:
    print("no stack with the same addresses in both processes (ASLR still on?)")
    sys.exit(77)
shared = [k for k in same if root[k] == nob[k]]
print("ids shared across the users:", [root[k] for k in shared])
sys.exit(1 if shared else 0)
PY
case $? in
0) ok "the same stack in root's and nobody's processes has two ids" ;;
77) skip "setarch -R did not give both processes the same addresses" ;;
*) fail "nobody's process is shown the id of root's site for the same frames" ;;
esac
jmd_stop
