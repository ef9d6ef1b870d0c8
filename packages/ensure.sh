#!/usr/bin/env bash
# packages/ensure.sh: the one place that reads the package lists
# (packages/NAME.list: build, demo, test) and installs or names what is
# missing. demo.sh, .ci/run and `make check` call it.
#
#   packages/ensure.sh [--install | --list | --missing] [--for WHAT] NAME...
#
#   --list      print the packages of the lists, one line, and exit 0
#   --missing   print those not installed (dpkg-query), one line; exit 0
#               if none is missing, 1 otherwise
#   --install   (the default) as root with apt-get, install the missing
#               ones (apt-get update first when the install fails, as on a
#               machine whose package index is stale); as another user, or
#               with JM_INSTALL=0, or without apt-get, name them and the
#               one command that installs them. Exit 0 when nothing is
#               missing at the end, 1 otherwise.
#   --for WHAT  the name used in the messages (default: the lists' names)
set -u
here=$(cd "$(dirname "$0")" && pwd)
mode=install
what=
names=()
while [ $# -gt 0 ]; do
	case "$1" in
	--install) mode=install ;;
	--list) mode=list ;;
	--missing) mode=missing ;;
	--for) what=$2; shift ;;
	-h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "packages/ensure.sh: unknown option $1" >&2; exit 2 ;;
	*) names+=("$1") ;;
	esac
	shift
done
[ ${#names[@]} -gt 0 ] || { echo "usage: packages/ensure.sh [--install|--list|--missing] [--for WHAT] NAME..." >&2; exit 2; }
what=${what:-${names[*]}}

pkgs=()
for n in "${names[@]}"; do
	f=$here/$n.list
	[ -f "$f" ] || { echo "packages/ensure.sh: no list $f" >&2; exit 2; }
	while read -r p; do
		case " ${pkgs[*]-} " in *" $p "*) ;; *) pkgs+=("$p") ;; esac
	done < <(sed 's/#.*//' "$f" | awk 'NF { print $1 }')
done

missing_now() {
	local p
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			printf '%s\n' "$p"
	done
}

case $mode in
list) echo "${pkgs[*]}"; exit 0 ;;
missing)
	m=$(missing_now | tr '\n' ' ')
	echo "${m% }"
	[ -z "$m" ]
	exit ;;
esac

command -v dpkg-query >/dev/null || {
	echo "$what: not a Debian system (no dpkg-query): install the equivalents of ${pkgs[*]}" >&2
	exit 1
}
mapfile -t missing < <(missing_now)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && [ "${JM_INSTALL:-1}" != 0 ] && command -v apt-get >/dev/null; then
	echo "$what: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "${missing[@]}" ||
		{ apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } ||
		echo "$what: apt-get could not install them all" >&2
	mapfile -t missing < <(missing_now)
	[ ${#missing[@]} -eq 0 ] && exit 0
fi
echo "$what: not installed: ${missing[*]}" >&2
echo "$what: install them with: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
exit 1
