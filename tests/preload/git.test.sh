#!/usr/bin/env bash
# git under the allocator, against the same run without it, on a repository
# the test generates: 85 commits over 60 files on two branches (with fixed
# dates and names, so that both runs make the same objects), a merge, log,
# diff, blame, grep, gc (repack, threads), fsck.
# timeout: 180
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd git

cat >"$JM_TMP/work.sh" <<'SH'
set -e
export HOME=$PWD GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=A GIT_AUTHOR_EMAIL=a@example.org
export GIT_COMMITTER_NAME=C GIT_COMMITTER_EMAIL=c@example.org
t=1600000000
stamp() { t=$((t + 60)); export GIT_AUTHOR_DATE="$t +0000" GIT_COMMITTER_DATE="$t +0000"; }
# File f of commit i, written by bash itself (few processes: the proof
# logs every process's symbol bindings).
gen() {
	local f=$1 i=$2 k
	{
		echo "file $f changed in commit $i"
		for ((k = f * i % 97; k < f * i % 97 + 40 + i % 13; k++)); do
			echo "line $f: $k"
		done
	} >"f$f.txt"
}
git init -q -b main repo
cd repo
git config gc.auto 0
git config pack.threads 2
for ((i = 1; i <= 80; i++)); do
	for ((f = i % 7; f < 60; f += 7)); do gen $f $i; done
	if ((i % 25 == 0)); then rm -f "f$((i % 60)).txt"; fi
	git add -A
	stamp
	msg="commit $i:"
	for ((k = 0; k < i; k++)); do msg+=" $k"; done
	git commit -q -m "commit $i" -m "$msg"
	if ((i == 50)); then
		git checkout -q -b side HEAD~30
		for j in 1 2 3 4 5; do
			echo "side $j" >>side.txt
			for ((k = j; k < 500; k++)); do echo "$k"; done >"big$j.txt"
			git add -A; stamp; git commit -q -m "side $j"
		done
		git checkout -q main
		stamp
		git merge -q --no-edit side
	fi
done
git log --oneline | head -n 5
git log --stat --format='%H %s' | md5sum
git log --graph --oneline --all | md5sum
git diff HEAD~40 HEAD | md5sum
git diff --stat HEAD~70 HEAD | tail -n 1
git blame f3.txt | md5sum
git grep -c 'line 1' HEAD~10 | md5sum
git rev-list --all --objects | sort | md5sum
git gc -q --aggressive
git count-objects -v | grep -E '^(count|in-pack|packs)'
git fsck --full --strict 2>&1
git verify-pack -v .git/objects/pack/*.idx | grep -c blob
git archive HEAD | md5sum
echo done
SH

jm_compare git bash "$JM_TMP/work.sh"
grep -qx done "$JM_TMP/git.jm.out" || fail "the git script did not finish"
jm_proof git git bash
echo "git: same output with and without jmalloc"
