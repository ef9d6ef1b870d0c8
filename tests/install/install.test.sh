#!/usr/bin/env bash
# timeout: 90
# make install into a DESTDIR, with another PREFIX, and make uninstall:
# - the programs, the library, the headers, the man pages, the docs and
#   the fleet's examples (Prometheus rules, dashboards: DOCDIR/fleet)
#   where PREFIX puts them (README.md and docs/ in DOCDIR as in the
#   tree, so that their links to each other work there); the unit with
#   PREFIX and SYSCONFDIR written in ExecStart; SYSCONFDIR/jmstatd.conf from the example, which the
#   installed jmstatd --check-config finds good;
# - an install over an edited config keeps it;
# - uninstall removes every file install put (the config only while it is
#   the example unchanged), and a second uninstall is harmless.
. "$(dirname "$0")/../lib.sh"
cd "$JM_ROOT"
D=$JM_TMP/root
M=(make -s -o all PREFIX=/opt/jm SYSCONFDIR=/etc/jm DESTDIR="$D")

"${M[@]}" install >"$JM_TMP/install.log" 2>&1 || { cat "$JM_TMP/install.log"; fail "make install"; }
(cd "$D" && find . -type f | sort) >"$JM_TMP/files"
cat "$JM_TMP/files"
for f in opt/jm/bin/jmstatd opt/jm/bin/jmctl opt/jm/lib/libjmalloc.so opt/jm/lib/libjmalloc.a \
         opt/jm/include/jmalloc.h opt/jm/include/jmstat.h \
         opt/jm/lib/systemd/system/jmstatd.service opt/jm/lib/systemd/system/jmstatd.socket \
         opt/jm/lib/systemd/system/jmstatd-metrics.socket \
         opt/jm/share/man/man1/jmctl.1 opt/jm/share/man/man8/jmstatd.8 \
         opt/jm/share/man/man5/jmstatd.conf.5 opt/jm/share/man/man3/jmalloc.3 \
         opt/jm/share/doc/jmalloc/README.md opt/jm/share/doc/jmalloc/docs/metrics.md \
         opt/jm/share/doc/jmalloc/jmstatd.conf.example etc/jm/jmstatd.conf \
         opt/jm/share/doc/jmalloc/fleet/jmalloc-alerts.rules.yml \
         opt/jm/share/doc/jmalloc/fleet/prometheus.yml; do
	grep -qx "./$f" "$JM_TMP/files" || fail "make install did not install $f"
done
# The installed README's and docs' links to each other and to the fleet's
# examples lead to installed files (DOCDIR keeps the tree's layout).
doc=$D/opt/jm/share/doc/jmalloc
for md in "$doc"/README.md "$doc"/docs/*.md; do
	for l in $(grep -o '](\(docs/\|\.\./\)\?[A-Za-z0-9_.-]*\(\.md\|/[A-Za-z0-9_.-]*\.\(yml\|yaml\|json\|alloy\)\)' "$md" |
	           sed 's/^](//' | sort -u); do
		case $l in ../*.md|docs/*.md|*.md|fleet/*|../fleet/*) ;; *) continue ;; esac
		case $l in ../tests/*|../jmctl/*|../jmstatd/*|../liballoc/*) continue ;; esac
		[ -f "$(dirname "$md")/$l" ] || fail "installed $(basename "$md") links $l, which make install did not put beside it"
	done
done
unit=$D/opt/jm/lib/systemd/system/jmstatd.service
grep -qx 'ExecStart=/opt/jm/bin/jmstatd --config /etc/jm/jmstatd.conf' "$unit" ||
	{ grep ExecStart "$unit"; fail "the unit's ExecStart does not name PREFIX and SYSCONFDIR"; }
! grep -q /usr/local "$unit" || fail "the installed unit still says /usr/local"
[ "$(stat -c %a "$unit")" = 644 ] || fail "the unit is mode $(stat -c %a "$unit")"
cmp -s jmstatd/jmstatd.conf.example "$D/etc/jm/jmstatd.conf" || fail "the config is not the example"
"$D/opt/jm/bin/jmstatd" --check-config "$D/etc/jm/jmstatd.conf" >"$JM_TMP/check.out" 2>&1 ||
	{ cat "$JM_TMP/check.out"; fail "the installed config is not good"; }
"$D/opt/jm/bin/jmctl" --version | grep -q '^jmctl ' || fail "the installed jmctl does not run"
man -l "$D/opt/jm/share/man/man1/jmctl.1" >/dev/null 2>&1 || fail "man -l of the installed jmctl.1"

# An edited config survives another install and the uninstall.
echo "# edited" >>"$D/etc/jm/jmstatd.conf"
"${M[@]}" install >"$JM_TMP/install2.log" 2>&1 || { cat "$JM_TMP/install2.log"; fail "second install"; }
grep -q "jmstatd.conf exists: kept" "$JM_TMP/install2.log" || fail "the second install did not say it kept the config"
tail -n 1 "$D/etc/jm/jmstatd.conf" | grep -qx "# edited" || fail "install overwrote an edited config"
"${M[@]}" uninstall >"$JM_TMP/un.log" 2>&1 || { cat "$JM_TMP/un.log"; fail "make uninstall"; }
grep -q "jmstatd.conf differs from the example: kept" "$JM_TMP/un.log" || { cat "$JM_TMP/un.log"; fail "uninstall: no word on the kept config"; }
left=$(cd "$D" && find . -type f | sort)
[ "$left" = "./etc/jm/jmstatd.conf" ] || { echo "$left"; fail "uninstall left files behind"; }

# Unchanged: the config goes too; everything install put is gone.
rm "$D/etc/jm/jmstatd.conf"
"${M[@]}" install >/dev/null 2>&1 || fail "third install"
"${M[@]}" uninstall >/dev/null 2>&1 || fail "second uninstall"
left=$(cd "$D" && find . -type f | sort)
[ -z "$left" ] || { echo "$left"; fail "uninstall left files behind"; }
"${M[@]}" uninstall >/dev/null 2>&1 || fail "uninstall of nothing failed"
echo "ok"
