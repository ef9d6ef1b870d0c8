#!/usr/bin/env bash
# timeout: 30
# Nothing in the tree cites a document its readers cannot open: the
# project's own docs (docs/, the man pages) say what the users need, so no
# file names a brief or contract kept outside the repository (the product
# document by name or by its section signs, or the directories such notes
# were shared in).
. "$(dirname "$0")/../lib.sh"
cd "$JM_ROOT" || exit 1
product=PRODUCT                              # spelt so that this file does not match
notes=$(printf '/%s/%s' work shared)
hits=$(grep -rIn --exclude-dir=.git --exclude-dir=build \
	-e "$product\.md" -e "$product §" -e "$product section" -e "$notes" . | head -n 20)
[ -z "$hits" ] || fail "files cite documents outside the repository:
$hits"
ok "no file cites a document outside the repository"
