#!/usr/bin/env bash
# timeout: 60
# The man pages: each renders without a warning (mandoc -T lint and groff
# -wall), `make install` puts each in share/man/manN (and the docs and the
# example config in share/doc/jmalloc), their cross-references name pages
# that exist, each documents what its program takes (jmstatd's options,
# jmctl's commands, their options and sort keys, top's keys, the functions
# libjmalloc exports and its JMALLOC_CONF keys, the config file's settings
# and an alert command's variables, the environment each reads, the
# defaults jmstatd --help and options.c state), docs/protocol.md has each
# of jmstatd's commands and the version reply's fields, and the shipped
# example config is accepted by jmstatd.
set -u
: "${JM_ROOT:?}" "${JM_TMP:?}" "${JMSTATD:?}" "${JMCTL:?}"
. "$(dirname "$0")/../lib.sh"
cd "$JM_ROOT"

command -v mandoc >/dev/null || fail "mandoc is missing (Debian package mandoc, installed by .ci/run)"
command -v groff >/dev/null || fail "groff is missing (Debian package groff-base)"

pages=$(find liballoc jmctl jmstatd -maxdepth 1 -name '*.[1-8]' | sort)
[ "$(echo "$pages" | wc -l)" -ge 4 ] || fail "expected at least 4 man pages, found: $pages"

# ---- each renders without a warning
for p in $pages; do
	out=$(mandoc -T lint -W warning "$p" 2>&1) || true
	[ -z "$out" ] || fail "mandoc -T lint $p: $out"
	out=$(groff -wall -z -man "$p" 2>&1) || true
	[ -z "$out" ] || fail "groff -wall -man $p: $out"
	out=$(MANWIDTH=80 man -l "$p" 2>&1 >/dev/null) || true
	[ -z "$out" ] || fail "man -l $p: $out"
done

# ---- make install installs every page, the docs and the example config
# (-o all: use what is built, never rebuild from a test)
make -s -o all install DESTDIR="$JM_TMP/root" PREFIX=/usr >"$JM_TMP/install.log" 2>&1 ||
	{ cat "$JM_TMP/install.log" >&2; fail "make install failed"; }
for p in $pages; do
	f=$(basename "$p")
	[ -f "$JM_TMP/root/usr/share/man/man${f##*.}/$f" ] ||
		fail "make install did not install $p as share/man/man${f##*.}/$f (add it to MAN_PAGES)"
done
for f in README.md jmstatd.conf.example docs/figures.md docs/protocol.md; do
	[ -f "$JM_TMP/root/usr/share/doc/jmalloc/$f" ] || fail "make install did not install $f in share/doc/jmalloc"
done

# ---- every reference to one of our pages names a page that exists
names=$(for p in $pages; do b=$(basename "$p"); echo "${b%.*}(${b##*.})"; done)
for p in $pages; do
	refs=$(grep -ho '^\.BR *\(jmalloc\|jmctl\|jmstatd[a-z.]*\) *([0-9])' "$p" |
		sed 's/^\.BR *//; s/ *(/(/')
	for r in $refs; do
		echo "$names" | grep -qxF "$r" || fail "$p refers to $r, which is not a man page of the tree"
	done
done

# ---- each documents what its program takes
doc_has() { # PAGE WORD WHAT
	grep -qF -- "$2" "$1" || fail "$1 does not document $3"
}
opts=$("$JMSTATD" --help | sed -n 's/^ *--\([a-z-]*\).*/\1/p')
[ -n "$opts" ] || fail "found no option in jmstatd --help"
for o in $opts; do
	doc_has jmstatd/jmstatd.8 "\\-\\-$(echo "$o" | sed 's/-/\\-/g')" "jmstatd's --$o"
done
cmds=$("$JMCTL" help | sed -n '/^commands:/,/^$/s/^  \([a-z]\+\) .*/\1/p')
[ -n "$cmds" ] || fail "found no command in jmctl help"
for c in $cmds; do
	grep -q "^\.B[IR]* *$c\b" jmctl/jmctl.1 || fail "jmctl/jmctl.1 does not document the command $c"
done
# each key top's live view takes (handle_key in jmctl/top.c) is in KEYS IN TOP
python3 - jmctl/top.c jmctl/jmctl.1 <<'EOF' || fail "jmctl/jmctl.1's KEYS IN TOP and jmctl/top.c differ"
import re, sys
src, page = open(sys.argv[1]).read(), open(sys.argv[2]).read()
fn = re.search(r"^static int handle_key\(.*?^}", src, re.M | re.S)
sec = re.search(r"^\.SH KEYS IN TOP\n(.*?)^\.SH", page, re.M | re.S)
if not fn or not sec:
    sys.exit("no handle_key in top.c or no KEYS IN TOP in jmctl.1 (update this test)")
keys = set(re.findall(r"case '([^'\\])'", fn.group(0)))
bold = set(re.findall(r"\\fB(.+?)\\fR", sec.group(1)))
for line in re.findall(r"^\.BR? (.*)$", sec.group(1), re.M):
    bold.update(w.strip('"') for w in line.split())
missing = sorted(keys - bold)
if len(keys) < 10:
    sys.exit("found only %d keys in handle_key (update this test)" % len(keys))
if missing:
    sys.exit("keys of top not in jmctl(1)'s KEYS IN TOP: %s" % " ".join(missing))
EOF
# each command's sort keys (as its error for an unknown key lists them;
# top: its bin keys) in jmctl.1's -s, in that command's sentence, and in
# jmctl help's "sort keys"
s_doc=$(sed -n '/^\.BI \\-s " KEY"/,/^\.TP/p' jmctl/jmctl.1 | tr '\n' ' ')
[ -n "$s_doc" ] || fail "jmctl/jmctl.1 has no -s KEY paragraph (update this test)"
for c in ps "stats 1" "top -b" alerts; do
	cmd=${c%% *}
	keys=$("$JMCTL" --socket "$JM_TMP/none" $c -s nokey 2>&1 |
		sed -n 's/.*unknown sort key.*(\(.*\))$/\1/p' | sed 's/;.*//; s/[a-z]*: //' | tr ',' ' ')
	[ -n "$keys" ] || fail "jmctl $c -s nokey names no keys (update this test)"
	sentence=$(echo "$s_doc" | sed -n "s/.*\\\\fB$cmd\\\\fR: \([^.]*\)\..*/\1/p")
	[ -n "$sentence" ] || fail "jmctl/jmctl.1's -s has no sentence \\fB$cmd\\fR: KEYS. (update this test)"
	line=$("$JMCTL" help | sed -n "/^sort keys/,/^\$/s/^  $cmd: //p")
	for k in $keys; do
		echo "$sentence" | grep -qw -- "$k" || fail "jmctl/jmctl.1's -s does not name the $cmd key $k"
		echo "$line" | grep -qw -- "$k" || fail "jmctl help's sort keys of $cmd lack $k"
	done
done
# each command's options (its usage line) in its line of the SYNOPSIS
for c in $cmds; do
	[ "$c" = help ] && continue
	usage=$("$JMCTL" "$c" --help 2>&1 | grep "^usage: .* $c\b") ||
		fail "found no usage line in jmctl $c --help"
	usage=${usage#* $c}
	syn=$(sed -n "/^\.SH SYNOPSIS/,/^\.SH/{/^\.B jmctl $c\$/,/^\.br\|^\.SH/p}" jmctl/jmctl.1)
	[ -n "$syn" ] || fail "jmctl/jmctl.1's SYNOPSIS has no line for jmctl $c"
	for o in $(echo "$usage" | grep -o '\[--\?[a-z][a-z-]*' | tr -d '['); do
		echo "$syn" | grep -qF -- "$(echo "$o" | sed 's/-/\\-/g')" ||
			fail "jmctl/jmctl.1's SYNOPSIS of jmctl $c lacks $o (its usage: $usage)"
	done
done
opts=$("$JMCTL" help | sed -n '/^options:/,/^$/s/^ *\(-[a-zA-Z], \)\?--\([a-z-]*\).*/\2/p')
[ -n "$opts" ] || fail "found no option in jmctl help"
for o in $opts; do
	doc_has jmctl/jmctl.1 "\\-\\-$(echo "$o" | sed 's/-/\\-/g')" "jmctl's --$o"
done
funcs=$(nm -D --defined-only "${JMALLOC_LIB:-liballoc/libjmalloc.so}" | awk '$2 ~ /^[TWi]$/ && $3 !~ /^_/ {print $3}')
[ "$(echo $funcs | wc -w)" -ge 10 ] || fail "found too few functions exported by libjmalloc.so (update this test): $funcs"
for f in $funcs; do
	grep -qw -- "$f" liballoc/jmalloc.3 || fail "liballoc/jmalloc.3 does not document $f, which libjmalloc.so exports"
done
keys=$(grep -o 'key_is(k, klen, "[a-z_]*")' liballoc/options.c | sed 's/.*"\(.*\)")/\1/')
[ -n "$keys" ] || fail "found no JMALLOC_CONF key in liballoc/options.c (has the parser changed? update this test)"
for k in $keys; do
	grep -q "^\.B[IR]* $k:" liballoc/jmalloc.3 || fail "liballoc/jmalloc.3 does not document JMALLOC_CONF key $k"
done
# the defaults: each JMALLOC_CONF default (jm__opt's initializer) is the one
# jmalloc(3) and docs/allocator.md's table state; each default jmstatd --help
# states is in jmstatd(8)'s paragraph of that option
help=$("$JMSTATD" --help)
python3 - liballoc/options.c liballoc/jmalloc.3 docs/allocator.md jmstatd/jmstatd.8 "$help" <<'EOF' || fail "the defaults differ"
import re, sys
src, page, md, page8 = (open(f).read() for f in sys.argv[1:5])
help_text = sys.argv[5]
init = re.search(r"struct jm_options jm__opt = \{(.*?)\};", src, re.S)
if not init:
    sys.exit("no jm__opt initializer in options.c (update this test)")
bad, n_conf, n_help = [], 0, 0
for key, expr in re.findall(r"\.(\w+) = ([^,\n]+),", init.group(1)):
    value = {"true": 1, "false": 0}.get(expr.strip())
    enum = re.match(r"JM_[A-Z]+_([A-Z]+)$", expr.strip())
    if enum:
        value = enum.group(1).lower()   # JM_THP_AUTO: auto
    elif value is None:
        value = eval(expr, {})          # 10000, 512 * 1024
    if key == "narenas" and value == 0:
        continue                        # computed at start: 4 x the CPUs
    m = re.search(r"^\.B[IR]* %s:.*?\n(.*?)(?=^\.TP|^\.RE)" % key, page, re.M | re.S)
    if not m:
        bad.append("%s: no paragraph in jmalloc(3)" % key)
        continue
    n_conf += 1
    d = re.search(r"\(default ([-0-9a-z]+)", m.group(1).replace("\n", " "))
    if not d or d.group(1) != str(value):
        bad.append("%s: options.c's default %s, jmalloc(3) says %r" % (key, value, d and d.group(1)))
    row = re.search(r"^\| `%s:[^`]*` \| ([^|]*) \|" % key, md, re.M)
    if not row or row.group(1).strip() != str(value):
        bad.append("%s: options.c's default %s, docs/allocator.md's table says %r" % (key, value, row and row.group(1)))
blocks = re.split(r"\n(?=  -)", help_text.split("\n\n")[1])
for block in blocks:
    opt = block.split()[0].rstrip(",")
    d = re.search(r"default (\d+\w*)", " ".join(block.split()))
    if not opt.startswith("--") or not d:
        continue
    n_help += 1
    name = opt[2:].replace("-", r"\\-")
    m = re.search(r"^\.BI? \\-\\-%s\b.*?(?=^\.TP)" % name, page8, re.M | re.S)
    if not m:
        bad.append("%s: no paragraph in jmstatd(8)" % opt)
    elif not re.search(r"default %s\b" % re.escape(d.group(1)), m.group(0)):
        bad.append("%s: --help says default %s, jmstatd(8) does not" % (opt, d.group(1)))
for b in bad:
    print("FAIL:", b)
if n_conf < 5 or n_help < 3:
    sys.exit("checked only %d JMALLOC_CONF and %d jmstatd defaults (update this test)" % (n_conf, n_help))
sys.exit(1 if bad else 0)
EOF
keys=$(cat jmstatd/*.c | sed -n 's/^\s*\[K_[A-Z_]*\] = { "\([a-z_]*\)".*/\1/p;
	s/.*keys\[\] = {\(.*\)};/\1/p' | tr -d '",' )
[ "$(echo $keys | wc -w)" -ge 10 ] || fail "found too few config settings in jmstatd/*.c (update this test): $keys"
for k in $keys; do
	grep -q "^\.B[IR]* $k\b" jmstatd/jmstatd.conf.5 ||
		grep -q "^\.BR .*\b$k\b" jmstatd/jmstatd.conf.5 ||
		fail "jmstatd/jmstatd.conf.5 does not document the setting $k"
	grep -q "^#\? *$k = \|^#   $k " jmstatd/jmstatd.conf.example ||
		fail "jmstatd/jmstatd.conf.example does not show the setting $k"
done

# The variables an alert's command gets (alerts_notify.c) are in jmstatd.conf(5)
vars=$(sed -n 's/^\s*VAR("\([A-Z_]*\)".*/\1/p' jmstatd/alerts_notify.c | sort -u)
[ "$(echo $vars | wc -w)" -ge 10 ] || fail "found too few VAR() in jmstatd/alerts_notify.c (update this test): $vars"
for v in $vars; do
	grep -q "^\.B[IR]* .*\bJMALLOC_ALERT_$v\b" jmstatd/jmstatd.conf.5 ||
		fail "jmstatd/jmstatd.conf.5 does not document JMALLOC_ALERT_$v, which an alert's command gets"
done

# The environment variables a program reads are in its page (common/ is
# in both programs).
for pair in "liballoc:liballoc/jmalloc.3" "jmstatd common:jmstatd/jmstatd.8" "jmctl common:jmctl/jmctl.1"; do
	vars=$(for d in ${pair%%:*}; do grep -ho 'getenv("[A-Z_]*")' "$d"/*.c; done |
		sed 's/getenv("\(.*\)")/\1/' | sort -u)
	[ -n "$vars" ] || fail "found no getenv() in ${pair%%:*} (update this test)"
	for v in $vars; do
		grep -q "^\.B[IR]* .*\b$v\b" "${pair#*:}" || fail "${pair#*:} does not document the environment variable $v"
	done
done

# ---- the protocol: each command of jmstatd's table (jmstatd/commands.c)
# has its paragraph in docs/protocol.md
cmds=$(sed -n '/^} commands\[\] = {/,/^};/s/^\s*{ "\([a-z_]*\)", .*/\1/p' jmstatd/commands.c)
[ "$(echo $cmds | wc -w)" -ge 6 ] || fail "found too few commands in jmstatd/commands.c (update this test): $cmds"
for c in $cmds; do
	grep -qF "**$c** \`{\"cmd\":\"$c\"" docs/protocol.md ||
		fail "docs/protocol.md has no paragraph **$c** \`{\"cmd\":\"$c\"...\` for jmstatd's command $c"
done

# ---- the example config is taken as it stands
jmd_start --config "$JM_ROOT/jmstatd/jmstatd.conf.example"
grep -q "alert rules in force: fragmentation (fragmentation), leak (growth), sparse (sparse_bin)" "$JMD_LOG" ||
	fail "jmstatd did not take jmstatd/jmstatd.conf.example"
# and the version reply has the fields docs/protocol.md lists (as a root
# caller sees them: scope host)
python3 - "$JMD_SOCK" docs/protocol.md <<'EOF2' || fail "the version reply and docs/protocol.md differ"
import json, re, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"cmd":"version"}\n')
buf = b""
while not buf.endswith(b"\n"):
    buf += s.recv(65536)
reply = list(json.loads(buf))
doc = open(sys.argv[2]).read()
m = re.search(r'^\*\*version\*\* `\{"cmd":"version"\}` →\n`\{([^}]*)\}`', doc, re.M)
if not m:
    sys.exit("docs/protocol.md: no version reply {...} found (update this test)")
want = [re.match(r'"(\w+)"', f).group(1) for f in m.group(1).split(",")]
if sorted(reply) != sorted(want):
    sys.exit("version reply %r, docs/protocol.md %r: not in the docs %r, not in the reply %r"
             % (reply, want, sorted(set(reply) - set(want)), sorted(set(want) - set(reply))))
EOF2
jmd_stop
echo "ok: $(echo $pages)"
