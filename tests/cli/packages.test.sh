#!/usr/bin/env bash
# timeout: 300
# One package list (packages/*.list) for make demo, .ci/run and make check:
# - packages/build.list provides every system header the build includes:
#   the compiler's dependency output (cc -M) of every C file `make all
#   tests` compiles, each header outside the tree looked up with dpkg -S,
#   and its package found in the build list or in what the list's packages
#   depend on (apt-cache depends --recurse): what a fresh Debian 12 machine
#   with only those packages has. (The bug this catches: demo.sh's own list
#   lacked libdw-dev, so make demo stopped at elfutils/libdwfl.h on a fresh
#   machine while .ci/run, with a list of its own, stayed green.)
# - demo.sh, .ci/run and make check keep no list of their own: they call
#   packages/ensure.sh with the lists;
# - packages/ensure.sh, for a user (nobody) or with JM_INSTALL=0, names
#   the missing packages and the one command that installs them, exit 1;
#   --missing prints only those missing.
. "$(dirname "$0")/../lib.sh"
plain_only "cc -M, dpkg, apt-cache and packages/ensure.sh"
command -v dpkg >/dev/null && command -v apt-cache >/dev/null || skip "not a Debian system (dpkg, apt-cache)"
command -v cc >/dev/null || skip "no cc"
cd "$JM_ROOT"
E=packages/ensure.sh

# ---- the headers of the build, and their packages
srcs=$(ls liballoc/*.c jmstatd/*.c jmctl/*.c common/*.c tests/unit/*.c tests/api/*.c tests/helpers/*.c)
: >"$JM_TMP/headers"
for f in $srcs; do
	cc -M -D_GNU_SOURCE -DJM_TEST=1 -Iliballoc -Iliballoc/include -Icommon -Ijmstatd -Itests/api "$f" \
		>>"$JM_TMP/headers" 2>"$JM_TMP/cc.err" || { cat "$JM_TMP/cc.err"; fail "cc -M $f"; }
done
# The dependency lines, one path a line; those outside the tree.
tr ' \\' '\n\n' <"$JM_TMP/headers" | grep '^/' | grep -v "^$JM_ROOT/" | sort -u >"$JM_TMP/system"
n=$(wc -l <"$JM_TMP/system")
[ "$n" -gt 20 ] || fail "only $n system headers found"
# dpkg -S knows a file by the path its package installed it at: resolve
# links (usrmerge: /lib -> /usr/lib) and try both.
# One dpkg -S for all; then the ones it did not know, resolved.
owners() { dpkg -S "$@" 2>/dev/null | sed 's/: \/.*//; s/, /\n/g' | sed 's/:.*//'; }
owners $(cat "$JM_TMP/system") >"$JM_TMP/owners"
dpkg -S $(cat "$JM_TMP/system") 2>/dev/null | sed 's/^[^/]*//' | sort -u >"$JM_TMP/found"
while read -r h; do
	r=$(realpath "$h")
	o=$(owners "$r"; owners "${r#/usr}")
	[ -n "$o" ] || fail "no package owns $h (dpkg -S)"
	echo "$o" >>"$JM_TMP/owners"
done < <(comm -23 "$JM_TMP/system" "$JM_TMP/found")
sort -u "$JM_TMP/owners" -o "$JM_TMP/owners"
echo "headers of the build come from: $(tr '\n' ' ' <"$JM_TMP/owners")"

# What a machine with only the build list has: the list and its depends.
build=$($E --list build)
apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
	--no-replaces --no-enhances $build 2>/dev/null |
	sed -n 's/^ *\(Pre\)\{0,1\}Depends: //p; /^[a-z0-9]/p' | tr -d '<>' | sed 's/:.*//' |
	sort -u >"$JM_TMP/closure"
for p in $build; do echo "$p"; done >>"$JM_TMP/closure"
sort -u "$JM_TMP/closure" -o "$JM_TMP/closure"
[ "$(wc -l <"$JM_TMP/closure")" -gt 20 ] || fail "apt-cache depends gave only $(wc -l <"$JM_TMP/closure") packages"
lacking=$(comm -23 "$JM_TMP/owners" "$JM_TMP/closure" | tr '\n' ' ')
[ -z "$lacking" ] || fail "packages/build.list lacks what provides the build's headers: $lacking"
ok "packages/build.list provides every one of the build's $n system headers"

# ---- one list: nobody keeps its own
grep -q 'packages/ensure.sh .*build demo test' .ci/run || fail ".ci/run does not install the lists"
! grep 'apt-get install' .ci/run | grep -vq 'packages/ensure.sh --list build demo test' ||
	fail ".ci/run installs packages of its own (apt-get install of anything but the lists)"
grep -q 'packages/ensure.sh .*build' demo.sh && grep -q 'packages/ensure.sh .* demo' demo.sh ||
	fail "demo.sh does not take the build and demo lists"
! grep -q 'apt-get install' demo.sh || fail "demo.sh installs packages of its own"
make -s -n check T=unit | grep -q 'packages/ensure.sh .*test demo' || fail "make check does not take the test list"
apt-cache show $build $($E --list test demo) >/dev/null 2>"$JM_TMP/apt.err"
[ ! -s "$JM_TMP/apt.err" ] || { cat "$JM_TMP/apt.err"; fail "a package of the lists is not known to apt"; }
ok "demo.sh, .ci/run and make check take the lists; apt knows every package"

# ---- missing packages: named, with the command
mkdir -p "$JM_TMP/pk"
cp packages/ensure.sh "$JM_TMP/pk/"
printf 'coreutils   # there\njmalloc-no-such-package   # not there\n' >"$JM_TMP/pk/fake.list"
chmod -R a+rX "$JM_TMP/pk"
out=$("$JM_TMP/pk/ensure.sh" --missing fake) && fail "--missing with a package missing exited 0"
[ "$out" = "jmalloc-no-such-package" ] || fail "--missing printed '$out'"
rc=0
setpriv --reuid=65534 --regid=65534 --clear-groups "$JM_TMP/pk/ensure.sh" --for "make check" fake \
	>"$JM_TMP/out" 2>&1 || rc=$?
cat "$JM_TMP/out"
[ $rc -eq 1 ] || fail "as nobody, a missing package: exit $rc"
grep -qx 'make check: not installed: jmalloc-no-such-package' "$JM_TMP/out" || fail "the missing package is not named"
grep -qx 'make check: install them with: sudo apt-get install --no-install-recommends jmalloc-no-such-package' \
	"$JM_TMP/out" || fail "the command that installs it is not given"
rc=0; JM_INSTALL=0 "$JM_TMP/pk/ensure.sh" --for x fake >"$JM_TMP/out" 2>&1 || rc=$?
[ $rc -eq 1 ] && grep -q 'install them with' "$JM_TMP/out" || fail "JM_INSTALL=0 as root installs or is silent"
"$E" --for y build || fail "the build's packages are not all installed here"
ok "a missing package is named with the command that installs it"
